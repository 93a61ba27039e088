"""LSA against a dense reference: BM25 then the top singular subspace."""

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.errors import ModelError
from tui_recs.models.lsa import LSA
from tui_recs.models.weighting import bm25


@pytest.fixture(scope="module")
def plays():
    """Three clear taste groups of listeners over three groups of artists, plus noise."""
    rng = np.random.default_rng(5)
    dense = np.zeros((90, 30))
    for group in range(3):
        block = dense[group * 30:(group + 1) * 30, group * 10:(group + 1) * 10]
        block[:] = (rng.random(block.shape) < 0.6) * rng.integers(1, 40, block.shape)
    dense += (rng.random(dense.shape) < 0.03) * rng.integers(1, 5, dense.shape)
    return sp.csr_matrix(dense.astype(np.float32))


def dense_reference_factors(plays, model):
    """Item factors U·S from BM25 on a dense copy and numpy's full SVD, rank model.factors."""
    weighted = bm25(plays, model.bm25_k1, model.bm25_b).toarray().T.astype(np.float64)
    U, S, _ = np.linalg.svd(weighted, full_matrices=False)
    return U[:, :model.factors] * S[:model.factors]


def cosines(factors, item):
    normalized = factors / np.linalg.norm(factors, axis=1, keepdims=True)
    scores = normalized @ normalized[item]
    scores[item] = -np.inf
    return scores


def test_factors_match_a_dense_svd_of_the_bm25_matrix(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    expected = dense_reference_factors(plays, model)
    np.testing.assert_allclose(model.singular_values, np.linalg.norm(expected, axis=0), rtol=1e-4)
    # Same item factors up to the sign of each dimension.
    signs = np.sign((expected * model.item_factors).sum(axis=0))
    np.testing.assert_allclose(model.item_factors, expected * signs, rtol=1e-3, atol=1e-4)
    assert model.item_factors.shape == (30, 3) and model.item_factors.dtype == np.float32


def test_related_artists_match_the_dense_reference_with_more_artists_than_listeners(plays):
    """Artists outnumber listeners (as in hetrec): PROPACK must run, not fall back."""
    wide = sp.csr_matrix(plays.toarray().T[:, :60])  # 30 listeners × 60 artists
    wide = wide[:, np.flatnonzero(wide.getnnz(axis=0))]
    model = LSA(factors=3, random_state=0).fit(wide)
    assert model.solver_used == "propack"
    assert model.item_factors.shape == (wide.shape[1], 3)
    assert model.user_factors.shape == (wide.shape[0], 3)
    reference = dense_reference_factors(wide, model)
    for item in range(wide.shape[1]):
        # The same ranking as the reference, up to near-ties (float32 vs float64 solve).
        expected = cosines(reference, item)
        ids = model.similar_items(item, 5)[0]
        np.testing.assert_allclose(expected[ids], np.sort(expected)[::-1][:5], atol=1e-4)


def test_falls_back_to_arpack_when_propack_fails(plays, monkeypatch):
    import scipy.sparse.linalg

    real_svds = scipy.sparse.linalg.svds

    def failing_propack(*args, solver, **kwargs):
        if solver == "propack":
            raise np.linalg.LinAlgError("did not converge")
        return real_svds(*args, solver=solver, **kwargs)

    monkeypatch.setattr(scipy.sparse.linalg, "svds", failing_propack)
    model = LSA(factors=3, random_state=0).fit(plays)
    assert model.solver_used == "arpack" and model.item_factors.dtype == np.float32
    expected = LSA(factors=3, random_state=0, solver="arpack")
    monkeypatch.undo()
    np.testing.assert_allclose(model.item_factors, expected.fit(plays).item_factors,
                               rtol=1e-3, atol=1e-3)


def test_related_artists_stay_in_their_group(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    for artist in (0, 12, 25):
        ids, scores = model.similar_items(artist, n=5)
        assert artist not in ids and all(i // 10 == artist // 10 for i in ids)
        assert np.all(np.diff(scores) <= 1e-6)


def test_projection_of_training_listeners_is_their_stored_factor(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    np.testing.assert_allclose(model.user_vectors(np.arange(90), plays), model.user_factors,
                               rtol=1e-4, atol=1e-5)
    ids, scores = model.recommend(7, plays, n=5)  # exact dot products with the stored factor
    np.testing.assert_allclose(scores, model.item_factors[ids] @ model.user_factors[7],
                               rtol=1e-4, atol=1e-5)
    assert not set(ids.tolist()) & set(plays[7].indices.tolist())


def test_new_listener_is_projected_and_recommended(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    newcomer = sp.csr_matrix(([20.0, 15.0], ([0, 0], [21, 22])), shape=(1, 30))
    ids, _ = model.recommend(0, newcomer, n=5)
    assert all(20 <= i < 30 for i in ids) and not {21, 22} & set(ids.tolist())


def test_deterministic_and_round_trips(plays):
    first = LSA(factors=3, random_state=4).fit(plays)
    second = LSA(factors=3, random_state=4).fit(plays)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    restored = LSA.from_arrays(first.get_params(), first.to_arrays())
    assert restored.similar_items(2, 4)[0].tolist() == first.similar_items(2, 4)[0].tolist()


def test_bad_parameters():
    with pytest.raises(ModelError, match="unknown LSA solver"):
        LSA(solver="lanczos")
    with pytest.raises(ModelError, match="at least 2 listeners"):
        LSA(factors=2).fit(sp.csr_matrix(np.ones((1, 3), dtype=np.float32)))
