"""The factor index: exact re-scoring of Annoy candidates, tuning, storage, mode choice."""

import numpy as np
import pytest

from tui_recs.index import (TARGET_RECALL, FactorIndex, build_similar_index, choose_recommend_mode,
                            exact_search)


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(60, 16))
    vectors = centres[rng.integers(0, 60, 3000)] + 0.4 * rng.normal(size=(3000, 16))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_by_brute_force(clustered):
    ids, scores = exact_search(clustered, clustered[[5, 9]], 4, [[5], [9, 1]])
    for row, (query, excluded) in enumerate([(5, {5}), (9, {9, 1})]):
        brute = [i for i in np.argsort(-(clustered @ clustered[query]), kind="stable")
                 if i not in excluded][:4]
        assert ids[row].tolist() == brute
        np.testing.assert_allclose(scores[row], clustered[brute] @ clustered[query], rtol=1e-6)


def test_similar_index_reaches_the_target_and_scores_exactly(clustered):
    index = build_similar_index(clustered, sample=200)
    assert index.stats.recall_at_10 >= TARGET_RECALL and index.stats.metric == "angular"
    fresh = np.random.default_rng(9).choice(3000, 100, replace=False)
    truth, _ = exact_search(clustered, clustered[fresh], 10, [[q] for q in fresh])
    assert index.recall(clustered[fresh], truth, [[q] for q in fresh], index.stats.search_k) >= 0.9
    ids, scores = index.search(clustered[7], 10, (7, 3))
    assert 7 not in ids and 3 not in ids and len(ids) == 10
    np.testing.assert_allclose(scores, clustered[ids] @ clustered[7], rtol=1e-5)
    assert np.all(np.diff(scores) <= 1e-6)


def test_too_few_candidates_fall_back_to_exact():
    vectors = np.eye(4, dtype=np.float32)
    index = FactorIndex.build(vectors, "angular", vectors[:2], [[0], [1]])
    ids, _ = index.search(vectors[0], 10, (0,))
    assert sorted(ids.tolist()) == [1, 2, 3]


def test_save_and_load(clustered, tmp_path):
    index = build_similar_index(clustered, sample=100)
    stats = index.save(tmp_path / "similar.ann")
    loaded = FactorIndex.load(tmp_path / "similar.ann", clustered, stats)
    assert loaded.search(clustered[3], 5, (3,))[0].tolist() == index.search(clustered[3], 5, (3,))[0].tolist()
    with pytest.raises(ValueError, match="items, the factors have"):
        FactorIndex.load(tmp_path / "similar.ann", clustered[:10], stats)


def test_small_catalogues_recommend_exactly(clustered):
    mode, index = choose_recommend_mode(clustered, clustered[:20] * 2)
    assert mode.mode == "exact" and index is None and "exact search is fast enough" in mode.reason
