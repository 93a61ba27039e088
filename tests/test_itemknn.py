"""Item-kNN (bm25, tfidf, cosine) against a dense reference: the neighbour lists equal a
brute-force top-K of the dense artists × artists similarities, listener scores equal the
weighted history times the neighbour matrix, fits are deterministic, and the cache's arrays
round-trip (and are checked)."""

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.models import registry
from tui_recs.models.base import history_row
from tui_recs.models.weighting import bm25, tfidf

NAMES = ("bm25", "tfidf", "cosine")


@pytest.fixture(scope="module")
def plays():
    """60 listeners × 40 artists, random real-valued plays (no tied similarities)."""
    rng = np.random.default_rng(3)
    dense = (rng.random((60, 40)) < 0.2) * rng.uniform(1, 50, (60, 40))
    return sp.csr_matrix(dense.astype(np.float32))


def dense_weighted(name, plays):
    """The users × artists matrix whose column dot products are the similarities."""
    if name == "bm25":
        return bm25(plays, 100.0, 0.8).toarray().astype(np.float64)
    weighted = (tfidf(plays) if name == "tfidf" else plays).toarray().astype(np.float64)
    norms = np.linalg.norm(weighted, axis=0)
    return np.divide(weighted, norms, out=np.zeros_like(weighted), where=norms > 0)


def brute_force(name, plays, k):
    """(ids, scores) of each artist's k best others among those sharing a listener."""
    weighted = dense_weighted(name, plays)
    similarity = weighted.T @ weighted
    shared = (plays.toarray() > 0).astype(int)
    similarity[(shared.T @ shared) == 0] = -np.inf
    np.fill_diagonal(similarity, -np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(similarity.shape[1]), similarity.shape),
                        -similarity), axis=1)[:, :k]
    return order, np.take_along_axis(similarity, order, axis=1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("k", [1, 5, 39])
def test_neighbours_equal_a_brute_force_top_k(name, k, plays):
    model = registry.create(name, neighbours=k, num_threads=2).fit(plays)
    ids, scores = model.similar_items_batch(range(plays.shape[1]), k)
    expected_ids, expected_scores = brute_force(name, plays, k)
    found = np.isfinite(expected_scores)
    assert ((ids >= 0) == found).all()
    assert (ids[found] == expected_ids[found]).all()
    np.testing.assert_allclose(scores[found], expected_scores[found], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_the_weighted_history_times_the_neighbour_matrix(name, plays):
    model = registry.create(name, neighbours=7).fit(plays)
    similarity = np.zeros((40, 40))
    ids, scores = model.similar_items_batch(range(40), 7)
    for item in range(40):
        keep = ids[item] >= 0
        similarity[item, ids[item][keep]] = scores[item][keep]
    history = dense_weighted(name, plays)
    if name == "bm25":  # BM25 similarities are dot products of unnormalised weights
        history = bm25(plays, 100.0, 0.8).toarray()
    np.testing.assert_allclose(model.score_batch(range(60), plays), history @ similarity,
                               rtol=1e-4, atol=1e-4)
    # A new listener is weighted with the training data's statistics: the same row back.
    row = history_row(plays[[4]], 40)
    np.testing.assert_allclose(model.score_history(row), (history @ similarity)[4],
                               rtol=1e-4, atol=1e-4)
    ids, _ = model.recommend(4, plays, n=10)
    assert not set(ids.tolist()) & set(plays[4].indices.tolist())


@pytest.mark.parametrize("name", NAMES)
def test_fits_are_deterministic_whatever_the_threads(name, plays):
    first = registry.create(name, neighbours=5, num_threads=1).fit(plays).similar_items_batch(
        range(40), 5)
    second = registry.create(name, neighbours=5, num_threads=3).fit(plays).similar_items_batch(
        range(40), 5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_the_cache_arrays_round_trip_and_are_checked(plays):
    model = registry.create("bm25", neighbours=5).fit(plays)
    arrays = model.to_arrays()
    loaded = registry.model_class("bm25").from_arrays(model.get_params(), arrays)
    np.testing.assert_array_equal(loaded.similar_items_batch(range(40), 5)[0],
                                  model.similar_items_batch(range(40), 5)[0])
    bad_indices = dict(arrays, indices=arrays["indices"] + 40)
    with pytest.raises(ValueError, match="out of range"):
        registry.model_class("bm25").from_arrays(model.get_params(), bad_indices)
    bad_data = dict(arrays, data=np.full_like(arrays["data"], np.nan))
    with pytest.raises(ValueError, match="not finite"):
        registry.model_class("bm25").from_arrays(model.get_params(), bad_data)
    bad_rows = dict(arrays, indptr=arrays["indptr"][::-1].copy())
    with pytest.raises(ValueError, match="row pointers"):
        registry.model_class("bm25").from_arrays(model.get_params(), bad_rows)


def test_an_artist_without_shared_listeners_has_no_neighbours():
    plays = sp.csr_matrix(np.array([[1, 0, 0], [1, 2, 0], [0, 0, 5]], dtype=np.float32))
    model = registry.create("cosine").fit(plays)
    ids, _ = model.similar_items(2, 5)
    assert ids.size == 0
    assert model.similar_items(0, 5)[0].tolist() == [1]


def _assert_kernel_equals_brute_force(weights: np.ndarray, k: int) -> None:
    """The kernel's top k of each artist (column) of ``weights`` equals a brute-force sort by
    (similarity descending, id ascending) over the artists sharing a listener with it."""
    from tui_recs.models._knn_kernels import top_k_neighbours

    matrix = sp.csr_matrix(weights.astype(np.float32))
    transpose = matrix.T.tocsr()
    neighbours, similarities, counts = top_k_neighbours(
        matrix.indptr, matrix.indices, matrix.data, transpose.indptr, transpose.indices,
        transpose.data, k, 2)
    shared = (weights != 0).astype(int)
    similarity = weights.T @ weights
    n_items = weights.shape[1]
    for item in range(n_items):
        candidates = [other for other in range(n_items)
                      if other != item and (shared[:, item] @ shared[:, other]) > 0]
        expected = sorted(candidates, key=lambda other: (-similarity[item, other], other))[:k]
        assert counts[item] == len(expected)
        found = neighbours[item, :counts[item]]
        order = np.lexsort((found, -similarities[item, :counts[item]]))
        assert found[order].tolist() == expected
        np.testing.assert_array_equal(similarities[item, :counts[item]][order],
                                      similarity[item, expected].astype(np.float32))


@pytest.mark.parametrize("k", [1, 3, 12])
def test_the_kernel_breaks_ties_by_the_lower_id_and_orders_negative_similarities(k):
    """Small-integer weights of both signs make exact float32 dot products, many of them
    tied, negative or zero."""
    rng = np.random.default_rng(11)
    weights = (rng.random((50, 30)) < 0.3) * rng.choice([-2.0, -1.0, 1.0, 2.0], (50, 30))
    _assert_kernel_equals_brute_force(weights, k)


@pytest.mark.parametrize("k", [1, 4])
def test_the_kernel_keeps_sums_that_return_to_zero_once(k):
    """Artist 0's products with the others alternate +1, -1 listener after listener, so
    their running sums keep returning to exactly 0 (the kernel's sign of an untouched
    artist): each must still be one candidate, scored by its final sum, also when the
    repeats outgrow the kernel's room for them."""
    signs = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    weights = np.ones((40, 6))
    weights[:, 1:4] *= signs[:, None]
    weights[-1, 4] = 0.0  # artists 4 and 5: plain sums beside them, one listener apart
    _assert_kernel_equals_brute_force(weights, k)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("normalise", [True, False])
def test_the_kernel_inputs_equal_scipy_normalise_and_transpose(threads, normalise, plays):
    """Empty listeners and artists included, any number of stripes: the kernel's X and Xᵀ
    equal scipy's, value for value, with each Xᵀ row in listener order."""
    from tui_recs.models._knn_kernels import normalised_with_transpose

    matrix = sp.vstack([sp.csr_matrix((2, 42)), sp.hstack([plays, sp.csr_matrix((60, 2))]),
                        sp.csr_matrix((1, 42))], format="csr", dtype=np.float32)
    norms, data, t_indptr, t_indices, t_data = normalised_with_transpose(
        matrix.indptr, matrix.indices, matrix.data, 42, normalise, threads)
    expected_norms = np.sqrt(np.asarray(matrix.astype(np.float64).power(2).sum(axis=0)).ravel())
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-12)
    scale = np.divide(1.0, expected_norms, out=np.zeros(42), where=expected_norms > 0)
    expected = matrix.astype(np.float64).multiply(scale[None, :] if normalise else 1.0)
    expected = expected.astype(np.float32).tocsr()
    np.testing.assert_array_equal(data, expected.data)
    transpose = expected.T.tocsr()
    transpose.sort_indices()
    np.testing.assert_array_equal(t_indptr, transpose.indptr)
    np.testing.assert_array_equal(t_indices, transpose.indices)
    np.testing.assert_array_equal(t_data, transpose.data)
