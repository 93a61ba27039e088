"""LSA against a dense reference: BM25 then the top singular subspace; its block Lanczos
SVD and sparse-product kernel against numpy's SVD and SciPy's products."""

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.errors import ModelError
from tui_recs.models import _svd_kernels as kernels
from tui_recs.models._numba import threads
from tui_recs.models.lsa import LSA, truncated_svd
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


@pytest.mark.parametrize("solver", ["lanczos", "propack"])
def test_related_artists_match_the_dense_reference_with_more_artists_than_listeners(plays, solver):
    """Artists outnumber listeners (as in hetrec): the solver must run, not fall back."""
    wide = sp.csr_matrix(plays.toarray().T[:, :60])  # 30 listeners × 60 artists
    wide = wide[:, np.flatnonzero(wide.getnnz(axis=0))]
    model = LSA(factors=3, random_state=0, solver=solver).fit(wide)
    assert model.solver_used == solver
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
    model = LSA(factors=3, random_state=0, solver="propack").fit(plays)
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
    with pytest.raises(ModelError, match="lsa solver must be one of lanczos, propack, arpack"):
        LSA(solver="magic")
    with pytest.raises(ModelError, match="at least 2 listeners"):
        LSA(factors=2).fit(sp.csr_matrix(np.ones((1, 3), dtype=np.float32)))


# ------------------------------------------------------------------ the SVD behind LSA
def sparse_with_spectrum(m, n, seed, density=0.05, empty_rows=True):
    """An m × n float32 CSR matrix of skewed row lengths (some rows empty unless not
    ``empty_rows``) whose top singular values are well separated: a few strong rank-1 taste
    patterns on a random sparsity."""
    rng = np.random.default_rng(seed)
    row_density = density * (0.2 + rng.pareto(1.5, m)[:, None])
    mask = rng.random((m, n)) < np.minimum(row_density, 1)
    if empty_rows:
        mask[rng.choice(m, max(1, m // 20), replace=False)] = False
    patterns = sum(weight * np.outer(rng.random(m), rng.random(n))
                   for weight in (8.0, 5.0, 3.5, 2.5, 1.8, 1.3))
    return sp.csr_matrix((mask * (patterns + rng.random((m, n)))).astype(np.float32))


def reference_svd(matrix):
    U, S, Vt = np.linalg.svd(matrix.toarray().astype(np.float64), full_matrices=False)
    return U, S, Vt


def check_triplets(matrix, k, U, S, Vt, rtol=2e-5):
    """S against numpy's singular values; U, V orthonormal; each (uᵢ, sᵢ, vᵢ) against
    numpy's where sᵢ is well separated from its neighbours, the top-k subspace otherwise."""
    U_ref, S_ref, Vt_ref = reference_svd(matrix)
    m, n = matrix.shape
    assert U.shape == (m, k) and S.shape == (k,) and Vt.shape == (k, n)
    assert np.all(np.diff(S) <= 0)
    np.testing.assert_allclose(S, S_ref[:k], rtol=rtol, atol=rtol * S_ref[0])
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-5)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(k), atol=1e-5)
    gaps = np.minimum(np.abs(np.diff(S_ref[:k + 1], prepend=np.inf)),
                      np.abs(np.diff(S_ref[:k + 1], append=-np.inf)))[:k]
    separated = gaps[:k] > 0.01 * S_ref[0]
    overlaps = np.abs(np.sum(U * U_ref[:, :k], axis=0))
    np.testing.assert_allclose(overlaps[separated], 1, atol=1e-4)
    if S_ref[k - 1] - S_ref[k] > 0.01 * S_ref[0]:  # the subspace is well determined
        projector = U @ U.T
        np.testing.assert_allclose(projector, U_ref[:, :k] @ U_ref[:, :k].T, atol=1e-4)
    # The sign convention: each U column's largest-magnitude entry is positive.
    assert np.all(U[np.abs(U).argmax(axis=0), np.arange(k)] > 0)


@pytest.mark.parametrize("shape", [(120, 300), (300, 120)])
def test_lanczos_matches_numpy_svd_on_either_side(shape):
    """m <= n runs on A·Aᵀ, m > n on Aᵀ·A; both return the triplets of A itself."""
    matrix = sparse_with_spectrum(*shape, seed=1)
    U, S, Vt, used = truncated_svd(matrix, 10, random_state=0)
    assert used == "lanczos" and U.dtype == Vt.dtype == np.float32
    check_triplets(matrix, 10, U, S, Vt)


def test_lanczos_residuals_meet_the_tolerance():
    """The stopping rule holds for the triplets returned: ‖A vᵢ − sᵢ uᵢ‖ <= tol · s₁, and
    Aᵀ uᵢ = sᵢ vᵢ by construction; a looser tol stops no later and misses by no more."""
    matrix = sparse_with_spectrum(400, 500, seed=2, density=0.02)
    dense = matrix.toarray().astype(np.float64)
    for tol in (1e-3, 1e-6):
        U, S, Vt, used = truncated_svd(matrix, 12, random_state=0, tol=tol)
        assert used == "lanczos"
        residuals = np.linalg.norm(dense @ Vt.T - U * S, axis=0)
        assert np.all(residuals <= tol * S[0] * 1.01 + 1e-5 * S[0])
        np.testing.assert_allclose(dense.T @ U, Vt.T * S, atol=1e-5 * S[0])


def test_lanczos_is_deterministic_for_a_seed():
    matrix = sparse_with_spectrum(200, 150, seed=3)
    first = truncated_svd(matrix, 8, random_state=5)
    second = truncated_svd(matrix, 8, random_state=5)
    for a, b in zip(first[:3], second[:3]):
        np.testing.assert_array_equal(a, b)
    other = truncated_svd(matrix, 8, random_state=6)
    assert not np.array_equal(first[0], other[0])  # another start, the same answer
    np.testing.assert_allclose(other[1], first[1], rtol=1e-5)


def test_falls_back_to_svds_when_lanczos_does_not_converge():
    matrix = sparse_with_spectrum(200, 150, seed=4)
    U, S, Vt, used = truncated_svd(matrix, 8, random_state=0, max_iterations=1)
    assert used == "propack"
    check_triplets(matrix, 8, U, S, Vt)


@pytest.mark.parametrize("shape, k", [((40, 90), 39), ((90, 10), 9), ((33, 20), 17)])
def test_k_close_to_the_smaller_dimension(shape, k):
    """The basis fills the whole short side (a last block narrower than BLOCK, or the start
    block alone): the Ritz values are then exact."""
    matrix = sparse_with_spectrum(*shape, seed=5, density=0.3, empty_rows=False)
    U, S, Vt, used = truncated_svd(matrix, k, random_state=0)
    assert used == "lanczos"
    check_triplets(matrix, k, U, S, Vt, rtol=1e-4)


def test_rank_deficient_matrix():
    """Rank 6 < BLOCK: the second block has directions of nothing but rounding, which are
    replaced by random ones; the 4 kept triplets are still exact. Asking for more triplets
    than the rank hands over to svds (vᵢ = Aᵀ uᵢ / sᵢ is undefined for sᵢ = 0)."""
    rng = np.random.default_rng(6)
    low_rank = rng.random((80, 6)) @ np.diag([9, 7, 5, 3, 2, 1]) @ rng.random((6, 120))
    matrix = sp.csr_matrix(low_rank.astype(np.float32))
    U, S, Vt, used = truncated_svd(matrix, 4, random_state=0)
    assert used == "lanczos"
    check_triplets(matrix, 4, U, S, Vt)
    U, S, Vt, used = truncated_svd(matrix, 8, random_state=0)
    assert used != "lanczos" and np.isfinite(U).all() and np.isfinite(Vt).all()
    np.testing.assert_allclose(S[:6], reference_svd(matrix)[1][:6], rtol=1e-4)


@pytest.mark.parametrize("columns", [16, 5])
def test_sparse_product_kernel_matches_scipy(columns):
    """Every row is summed in a fixed order by one thread: equal results on 1 and 2 threads,
    within float32 rounding of SciPy's CSR product (empty rows and skewed lengths included)."""
    matrix = sparse_with_spectrum(500, 300, seed=7)
    block = np.random.default_rng(8).standard_normal((300, columns)).astype(np.float32)
    product = kernels.SparseProduct(matrix)
    outputs = []
    for count in (1, 2):
        out = kernels.aligned_empty(500, columns)
        with threads(count):
            kernels._spmm(product.indptr, product.indices, product.data, block, out,
                          kernels.chunk_bounds(product.indptr, 7), kernels.PREFETCH_AHEAD)
        outputs.append(out)
    np.testing.assert_array_equal(outputs[0], outputs[1])
    expected = matrix.astype(np.float64) @ block.astype(np.float64)
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(product.into(block, kernels.aligned_empty(500, columns)),
                                  outputs[0])


def test_chunks_and_alignment():
    indptr = np.array([0, 0, 50, 51, 52, 200, 200, 260], dtype=np.int64)
    bounds = kernels.chunk_bounds(indptr, 4)
    assert bounds[0] == 0 and bounds[-1] == 7 and np.all(np.diff(bounds) > 0)
    assert len(bounds) - 1 <= 4
    for rows, columns in ((3, 16), (1000, 64), (7, 5)):
        array = kernels.aligned_empty(rows, columns)
        assert array.shape == (rows, columns) and array.dtype == np.float32
        assert array.flags.c_contiguous and array.ctypes.data % kernels.LINE == 0
