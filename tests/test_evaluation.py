"""Evaluation: metrics against hand-computed values, split properties, the baseline."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recs.evaluation import (Split, auc, evaluate, evaluate_models, holdout_split,
                                 leave_k_out_split, ranking_metrics)
from tui_recs.models.base import FactorModel
from tui_recs.models.popularity import Popularity


class FixedScores(FactorModel):
    """Listener u scores artist i as SCORES[u, i] (identity item factors)."""

    name = "fixed"

    def __init__(self, scores):
        self.user_factors = np.asarray(scores, dtype=np.float32)
        self.item_factors = np.eye(self.user_factors.shape[1], dtype=np.float32)

    def fit(self, user_items, callback=None):
        return self

    def get_params(self):
        return {}


def csr(rows):
    """3 × 6 binary CSR from one list of columns per row."""
    data = [(r, c) for r, columns in enumerate(rows) for c in columns]
    r, c = zip(*data)
    return sp.csr_matrix((np.ones(len(data), dtype=np.float32), (r, c)), shape=(3, 6))


# Three listeners, six artists. Unheard artists ranked by score, ties by lower id, at K = 3:
#   listener 0: heard {0}, held out {1, 3}; ranking 1 2 3 | 4 5 -> hits at ranks 1 and 3.
#   listener 1: heard {4, 5}, held out {0}; ranking 3 2 1 | 0    -> no hit, 0 is ranked last.
#   listener 2: heard {2}, held out {0, 1, 3, 4}; scores 5 5 _ 1 5 5 -> ranking 0 1 4 | 5 3.
TRAIN = csr([[0], [4, 5], [2]])
TEST = csr([[1, 3], [0], [0, 1, 3, 4]])
SCORES = [[9, 8, 7, 6, 5, 4],
          [1, 2, 3, 4, 5, 6],
          [5, 5, 5, 1, 5, 5]]
NDCG_0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
EXPECTED = {
    "precision": [2 / 3, 0, 1],              # hits / K
    "recall": [2 / 2, 0, 3 / 3],             # hits / min(K, |held out|)
    "map": [(1 / 1 + 2 / 3) / 2, 0, 1],      # Σ precision@hit rank / min(K, |held out|)
    "ndcg": [NDCG_0, 0, 1],
    # pairs (held out, other unheard) ordered correctly, ties one half:
    #   0: 1 beats 2, 4, 5; 3 beats 4, 5 but not 2 -> 5/6.  1: 0 beats none of 1, 2, 3 -> 0.
    #   2: only other candidate 5 (score 5): 0, 1, 4 tie (3 x 1/2), 3 loses -> 1.5/4.
    "auc": [5 / 6, 0, 1.5 / 4],
}


def test_ranking_metrics_by_hand():
    recommended = np.array([[1, 2, 3], [3, 2, 1], [0, 1, 4]])
    for name, values in ranking_metrics(recommended, TEST, k=3).items():
        np.testing.assert_allclose(values, EXPECTED[name], err_msg=name)


def test_auc_by_hand():
    np.testing.assert_allclose(auc(np.array(SCORES, dtype=np.float32), TRAIN, TEST),
                               EXPECTED["auc"])


def test_evaluate_by_hand():
    split = Split(TRAIN, TEST, np.arange(3), "by hand")
    row = evaluate(FixedScores(SCORES), split, k=3)
    for name, values in EXPECTED.items():
        assert row[name] == pytest.approx(np.mean(values)), name
    assert row["coverage"] == pytest.approx(5 / 6)  # artists 0-4 are shown to someone
    # Shown: 1 2 3 / 3 2 1 / 0 1 4; training listeners per artist: 1 0 1 0 1 1 (of 3).
    assert row["popularity"] == pytest.approx(4 / 9 / 3)
    subset = evaluate(FixedScores(SCORES), split, k=3, users=[2], batch=1)
    assert subset["precision"] == 1 and subset["auc"] == pytest.approx(0.375)
    with pytest.raises(ValueError, match="listener 1 has no held-out"):
        evaluate(FixedScores(SCORES), Split(TRAIN, csr([[1], [], [0]]), np.array([0, 2]), ""),
                 k=3, users=[1])


def test_padding_is_never_a_hit():
    held_out = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 3))
    assert ranking_metrics(np.array([[-1, -1]]), held_out, k=2)["precision"][0] == 0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_auc_matches_counting_pairs(data):
    n_items = data.draw(st.integers(2, 12))
    scores = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n_items, max_size=n_items)),
                      dtype=np.float32)
    roles = data.draw(st.lists(st.sampled_from("hto"), min_size=n_items, max_size=n_items))
    heard = [i for i, role in enumerate(roles) if role == "h"]
    held = [i for i, role in enumerate(roles) if role == "t"]
    others = [i for i, role in enumerate(roles) if role == "o"]
    one_row = lambda columns: sp.csr_matrix(  # noqa: E731
        (np.ones(len(columns)), (np.zeros(len(columns), dtype=int), columns)), shape=(1, n_items))
    result = auc(scores[None, :], one_row(heard), one_row(held))[0]
    if not held or not others:
        assert math.isnan(result)
        return
    pairs = [(scores[t] > scores[o]) + 0.5 * (scores[t] == scores[o]) for t in held for o in others]
    assert result == pytest.approx(np.mean(pairs))


@pytest.fixture(scope="module")
def plays():
    rng = np.random.default_rng(3)
    dense = (rng.random((200, 80)) < 0.2) * rng.integers(1, 50, (200, 80))
    dense[:5] = 0
    dense[:5, :3] = 1  # five listeners with only three artists
    return sp.csr_matrix(dense.astype(np.float32))


def test_holdout_split_properties(plays):
    split = holdout_split(plays, test_fraction=0.25, seed=1, min_items=5)
    assert split.train.shape == split.test.shape == plays.shape
    assert (split.train.multiply(split.test)).nnz == 0  # disjoint
    assert ((split.train + split.test) != plays).nnz == 0  # together, the original plays
    assert not set(range(5)) & set(split.users.tolist())  # too few artists: train only
    assert np.diff(split.test.indptr)[:5].sum() == 0
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
    assert ((split.train + split.test) != plays).nnz == 0


def test_evaluate_models_always_includes_the_baseline(plays):
    from tui_recs.models.lsa import LSA

    split = holdout_split(plays, seed=0)
    rows = evaluate_models({"lsa": LSA(factors=8, random_state=0)}, split, k=5)
    assert [row["model"] for row in rows] == ["lsa", "popularity"]
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
    top = int(np.argmax(model.scores))
    ranked = np.argsort(-model.scores, kind="stable")
    assert model.similar_items(top, n=3)[0].tolist() == ranked[1:4].tolist()
    assert model.similar_items(int(ranked[5]), n=3)[0].tolist() == ranked[:3].tolist()
    ids, _ = model.similar_items_batch([top, int(ranked[1])], n=plays.shape[1])
    assert (ids[:, -1] == -1).all() and top not in ids[0] and ranked[1] not in ids[1]
    restored = Popularity.from_arrays({}, model.to_arrays())
    assert restored.recommend(10, plays, 5)[0].tolist() == model.recommend(10, plays, 5)[0].tolist()
    assert evaluate(model, holdout_split(plays, seed=0), k=5, fit=False)["model"] == "popularity"
