"""ALS against a slow, obviously correct dense reference, plus its contracts."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from tui_recs.errors import ModelError
from tui_recs.models.als import ALS

ALPHA, REG = 2.0, 0.1


@pytest.fixture(scope="module")
def plays() -> sp.csr_matrix:
    rng = np.random.default_rng(7)
    dense = (rng.random((60, 40)) < 0.15) * rng.integers(1, 30, (60, 40))
    dense[np.arange(60), rng.integers(0, 40, 60)] = 5  # every listener has a play
    dense[rng.integers(0, 60, 40), np.arange(40)] = 3  # every artist has a listener
    return sp.csr_matrix(dense.astype(np.float32))


def dense_solve(plays: np.ndarray, fixed: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Rows of the solved side, one normal-equation solve each (Hu et al. eq. 4)."""
    solved = []
    for row in plays:
        confidence = 1.0 + alpha * row
        preference = (row > 0).astype(float)
        A = fixed.T @ (confidence[:, None] * fixed) + reg * np.eye(fixed.shape[1])
        solved.append(np.linalg.solve(A, fixed.T @ (confidence * preference)))
    return np.array(solved)


def dense_loss(plays: np.ndarray, X: np.ndarray, Y: np.ndarray, alpha: float, reg: float) -> float:
    confidence = 1.0 + alpha * plays
    error = (plays > 0) - X @ Y.T
    total = (confidence * error ** 2).sum() + reg * ((X ** 2).sum() + (Y ** 2).sum())
    return total / confidence.sum()


def fitted(plays, **params) -> ALS:
    base = dict(factors=8, regularization=REG, alpha=ALPHA, iterations=3, random_state=0,
                weighting="none")
    return ALS(**{**base, **params}).fit(plays)


def test_cholesky_item_step_equals_dense_solve(plays):
    model = fitted(plays, solver="cholesky", iterations=1)
    expected = dense_solve(plays.T.toarray(), model.user_factors.astype(float), ALPHA, REG)
    np.testing.assert_allclose(model.item_factors, expected, rtol=2e-4, atol=2e-5)


def test_fold_in_equals_dense_user_solve(plays):
    model = fitted(plays, solver="cholesky")
    expected = dense_solve(plays.toarray(), model.item_factors.astype(float), ALPHA, REG)
    for user in (0, 17, 59):
        row = plays[user]
        from_row = model.recalculate_user(row)
        from_pairs = model.recalculate_user(list(zip(row.indices.tolist(), row.data.tolist())))
        np.testing.assert_allclose(from_row, expected[user], rtol=2e-4, atol=2e-5)
        np.testing.assert_array_equal(from_row, from_pairs)


def test_cg_with_enough_steps_converges_to_cholesky(plays):
    exact = fitted(plays, solver="cholesky", iterations=2)
    cg = fitted(plays, solver="cg", cg_steps=24, iterations=2)
    np.testing.assert_allclose(cg.item_factors, exact.item_factors, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(cg.user_factors, exact.user_factors, rtol=1e-3, atol=1e-4)


def test_loss_matches_dense_and_never_increases_with_cholesky(plays):
    model = fitted(plays, solver="cholesky", iterations=10, calculate_loss_every=1)
    losses = [loss for _, loss in model.loss_history]
    assert len(losses) == 10
    assert all(later <= earlier + 1e-9 for earlier, later in zip(losses, losses[1:]))
    expected = dense_loss(plays.toarray(), model.user_factors.astype(float),
                          model.item_factors.astype(float), ALPHA, REG)
    assert losses[-1] == pytest.approx(expected, rel=1e-4)


def test_cg_loss_decreases_overall(plays):
    model = fitted(plays, solver="cg", iterations=8, calculate_loss_every=1)
    losses = [loss for _, loss in model.loss_history]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_deterministic_for_seed_and_threads(plays, solver):
    first = fitted(plays, solver=solver, num_threads=2)
    second = fitted(plays, solver=solver, num_threads=2)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    one_thread = fitted(plays, solver=solver, num_threads=1)
    np.testing.assert_array_equal(first.item_factors, one_thread.item_factors)
    assert not np.array_equal(fitted(plays, solver=solver, random_state=1).item_factors,
                              first.item_factors)


def test_callback_reports_and_can_stop(plays):
    seen = []

    def callback(iteration, seconds, loss):
        seen.append((iteration, seconds >= 0, loss is not None))
        return iteration < 2

    ALS(factors=4, iterations=6, calculate_loss_every=2, random_state=0).fit(plays, callback=callback)
    assert seen == [(1, True, False), (2, True, True)]


def test_cancel_event_stops_between_iterations(plays):
    cancel = threading.Event()
    calls = []

    def callback(iteration, seconds, loss):
        calls.append(iteration)
        cancel.set()

    ALS(factors=4, iterations=6, random_state=0).fit(plays, callback=callback, cancel=cancel)
    assert calls == [1]


def test_num_threads_is_applied(plays):
    from tui_recs.models._numba import numba

    before = numba.get_num_threads()
    seen = []
    ALS(factors=4, iterations=1, num_threads=1).fit(
        plays, callback=lambda *args: seen.append(numba.get_num_threads()))
    assert seen == [1] and numba.get_num_threads() == before


def test_overflowing_confidence_names_the_hyperparameter(plays):
    with pytest.raises(ModelError, match="lower --alpha"):
        ALS(factors=4, alpha=1e38, iterations=1, weighting="none").fit(plays)


def test_divergence_names_the_hyperparameter(plays, monkeypatch):
    model = ALS(factors=4, iterations=2)
    real_half_step = ALS._half_step

    def poisoned(self, kernels, matrix, solved, fixed, *rest):
        real_half_step(self, kernels, matrix, solved, fixed, *rest)
        solved[0, 0] = np.nan  # what an unstable solve would leave behind
    monkeypatch.setattr(ALS, "_half_step", poisoned)
    with pytest.raises(ModelError, match="diverged at iteration 1.*lower --alpha or raise "
                                         "--regularization"):
        model.fit(plays)


@pytest.mark.parametrize("params, message", [
    ({"solver": "magic"}, "unknown ALS solver"), ({"factors": 0}, "factors must be at least 1"),
    ({"alpha": 0}, "alpha > 0"), ({"regularization": -1}, "regularization >= 0"),
    ({"weighting": "log"}, "unknown ALS weighting"),
])
def test_bad_hyperparameters(params, message):
    with pytest.raises(ModelError, match=message):
        ALS(**params)


def test_explain_contributions_sum_to_the_refolded_score(plays):
    model = fitted(plays, solver="cholesky")
    user = 5
    ids, _ = model.recommend(user, plays, n=3)
    for item in ids.tolist():
        top, contributions, total = model.explain(user, item, plays, n=50)
        refolded = model.recalculate_user(plays[user]) @ model.item_factors[item]
        assert total == pytest.approx(float(refolded), rel=1e-4, abs=1e-6)
        assert contributions.sum() == pytest.approx(total, rel=1e-6)  # n covers the history
        assert set(top.tolist()) == set(plays[user].indices.tolist())
        assert np.all(np.diff(contributions) <= 0)


def test_queries_leave_out_the_query_and_heard_artists(plays):
    model = fitted(plays)
    ids, scores = model.similar_items(3, n=10)
    assert 3 not in ids and len(ids) == 10 and np.all(np.diff(scores) <= 1e-6)
    assert np.all(scores <= 1.0 + 1e-5)
    ids, _ = model.recommend(4, plays, n=10)
    assert not set(ids.tolist()) & set(plays[4].indices.tolist())
    ids, _ = model.recommend(4, plays, n=10, filter_already_listened=False)
    assert len(ids) == 10


def test_arrays_round_trip(plays):
    model = fitted(plays)
    restored = ALS.from_arrays(model.get_params(), model.to_arrays())
    np.testing.assert_array_equal(restored.similar_items(1, 5)[0], model.similar_items(1, 5)[0])


def test_bm25_weighting_is_applied_consistently_to_new_listeners(plays):
    from tui_recs.models.weighting import bm25

    model = ALS(factors=8, regularization=REG, alpha=ALPHA, iterations=3, random_state=0,
                solver="cholesky").fit(plays)
    weighted = bm25(plays).toarray()
    weighted = np.maximum(weighted, 0)
    expected = dense_solve(weighted, model.item_factors.astype(float), ALPHA, REG)
    np.testing.assert_allclose(model.recalculate_user(plays[3]), expected[3], rtol=2e-4, atol=2e-5)
    top, contributions, total = model.explain(3, 0, plays, n=100)
    assert total == pytest.approx(float(expected[3] @ model.item_factors[0]), rel=1e-3, abs=1e-6)
