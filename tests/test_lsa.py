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


def test_factors_match_a_dense_svd_of_the_bm25_matrix(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    weighted = bm25(plays, model.bm25_k1, model.bm25_b).toarray().T.astype(np.float64)  # artist × listener
    U, S, _ = np.linalg.svd(weighted, full_matrices=False)
    np.testing.assert_allclose(model.singular_values, S[:3], rtol=1e-4)
    # Same item factors up to the sign of each dimension.
    expected = U[:, :3] * S[:3]
    signs = np.sign((expected * model.item_factors).sum(axis=0))
    np.testing.assert_allclose(model.item_factors, expected * signs, rtol=1e-3, atol=1e-4)


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


def test_new_listener_is_projected_and_recommended(plays):
    model = LSA(factors=3, random_state=0).fit(plays)
    newcomer = sp.csr_matrix(([20.0, 15.0], ([0, 0], [21, 22])), shape=(1, 30))
    ids, _ = model.recommend(0, newcomer, n=5)
    assert all(20 <= i < 30 for i in ids) and not {21, 22} & set(ids.tolist())


def test_deterministic_and_round_trips(plays):
    first, second = LSA(factors=3, random_state=4).fit(plays), LSA(factors=3, random_state=4).fit(plays)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    restored = LSA.from_arrays(first.get_params(), first.to_arrays())
    assert restored.similar_items(2, 4)[0].tolist() == first.similar_items(2, 4)[0].tolist()


def test_bad_parameters():
    with pytest.raises(ModelError, match="unknown LSA solver"):
        LSA(solver="lanczos")
    with pytest.raises(ModelError, match="at least 2 listeners"):
        LSA(factors=2).fit(sp.csr_matrix(np.ones((1, 3), dtype=np.float32)))
