"""Evaluation: metrics against hand-computed values, split properties, the baseline."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.evaluation import (auc, evaluate, evaluate_models, holdout_split, leave_k_out_split,
                                 ranking_metrics)
from tui_recs.models.popularity import Popularity


def test_ranking_metrics_by_hand():
    test = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [2, 9, 1])), shape=(2, 10))
    recommended = np.array([[5, 2, 7], [1, 3, 4]])
    metrics = ranking_metrics(recommended, test, np.array([0, 1]), k=3)
    # user 0: hit at rank 2 of 2 held out; user 1: hit at rank 1 of 1 held out.
    assert metrics["precision"] == pytest.approx(1 / 3)
    assert metrics["recall"] == pytest.approx((1 / 2 + 1) / 2)
    assert metrics["map"] == pytest.approx(((1 / 2) / 2 + 1) / 2)
    ndcg_user0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metrics["ndcg"] == pytest.approx((ndcg_user0 + 1) / 2)


def test_padding_is_never_a_hit():
    test = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 3))
    metrics = ranking_metrics(np.array([[-1, -1]]), test, np.array([0]), k=2)
    assert metrics["precision"] == 0


def test_auc_by_hand():
    assert auc(np.array([10, 11, 12, 13]), np.array([11]), 4) == pytest.approx(2 / 3)
    assert auc(np.array([10, 11, 12, 13]), np.array([10, 13]), 4) == pytest.approx(0.5)
    assert auc(np.array([10, 11, 12, 13]), np.array([10, 11]), 4) == 1.0
    assert math.isnan(auc(np.array([10]), np.array([]), 1))


@pytest.fixture(scope="module")
def plays():
    rng = np.random.default_rng(3)
    dense = (rng.random((200, 80)) < 0.2) * rng.integers(1, 50, (200, 80))
    dense[:5] = 0
    dense[:5, :3] = 1  # five listeners with only three artists
    return sp.csr_matrix(dense.astype(np.float32))


def test_holdout_split_properties(plays):
    split = holdout_split(plays, test_fraction=0.25, seed=1, min_items=5)
    assert (split.train.multiply(split.test)).nnz == 0
    assert ((split.train + split.test) != plays).nnz == 0
    assert not set(range(5)) & set(split.users.tolist())  # too few artists: train only
    lengths = np.diff(plays.indptr)[split.users]
    held = np.diff(split.test.indptr)[split.users]
    np.testing.assert_array_equal(held, np.maximum(1, np.round(lengths * 0.25)))
    again = holdout_split(plays, test_fraction=0.25, seed=1, min_items=5)
    assert (again.test != split.test).nnz == 0
    assert (holdout_split(plays, 0.25, seed=2).test != split.test).nnz > 0


def test_leave_k_out(plays):
    split = leave_k_out_split(plays, k=2, seed=0)
    assert set(np.diff(split.test.indptr)[split.users].tolist()) == {2}
    assert np.diff(split.test.indptr)[:5].sum() == 0


def test_evaluate_models_always_includes_the_baseline(plays):
    from tui_recs.models.als import ALS

    split = holdout_split(plays, seed=0)
    rows = evaluate_models({"als": ALS(factors=8, iterations=3, random_state=0)}, split, k=5)
    assert [row["model"] for row in rows] == ["als", "popularity"]
    for row in rows:
        assert 0 <= row["precision"] <= 1 and 0 <= row["ndcg"] <= 1 and 0 <= row["auc"] <= 1
        assert 0 < row["coverage"] <= 1 and row["fit_seconds"] >= 0 and row["query_ms"] >= 0
    assert rows[1]["coverage"] < rows[0]["coverage"]  # popularity shows the same few artists


def test_popularity_model(plays):
    model = Popularity().fit(plays)
    listeners = np.bincount(plays.indices, minlength=plays.shape[1])
    ids, _ = model.recommend(10, plays, n=5)
    heard = set(plays[10].indices.tolist())
    assert not set(ids.tolist()) & heard
    unheard = [i for i in np.argsort(-listeners, kind="stable") if i not in heard]
    assert listeners[ids].tolist() == listeners[unheard[:5]].tolist()
    ids, _ = model.similar_items(int(np.argmax(listeners)), n=3)
    assert int(np.argmax(listeners)) not in ids
    restored = Popularity.from_arrays({}, model.to_arrays())
    assert restored.recommend(10, plays, 5)[0].tolist() == model.recommend(10, plays, 5)[0].tolist()
    assert evaluate(model, holdout_split(plays, seed=0), k=5, fit=False)["model"] == "popularity"
