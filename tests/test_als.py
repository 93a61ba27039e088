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


def half_step(model: ALS, plays: sp.csr_matrix, solved: np.ndarray, fixed: np.ndarray) -> None:
    """One of the model's own half-steps: re-solve the rows of ``plays`` into ``solved``."""
    from tui_recs.models.als import _Side

    model._half_step(_Side(model._confidence(plays), 2, model.factors), solved, fixed)


def test_cholesky_item_step_equals_dense_solve(plays):
    model = fitted(plays, solver="cholesky", iterations=1)
    expected = dense_solve(plays.T.toarray(), model.user_factors.astype(float), ALPHA, REG)
    np.testing.assert_allclose(model.item_factors, expected, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("low_rank_share", [0.0, 100.0], ids=["direct", "woodbury"])
@pytest.mark.parametrize("side", ["users", "items"])
def test_cholesky_half_step_equals_dense_solve_on_either_path(plays, side, low_rank_share,
                                                               monkeypatch):
    """Each exact path alone (matrix + Cholesky for long rows, Woodbury for short ones), on
    both sides, with an empty row, against the dense normal equations."""
    import tui_recs.models.als as als_module

    monkeypatch.setattr(als_module, "LOW_RANK_SHARE", low_rank_share)
    matrix = plays if side == "users" else plays.T.tocsr()
    matrix = sp.vstack([matrix, sp.csr_matrix((1, matrix.shape[1]), dtype=np.float32)]).tocsr()
    fixed = (np.random.default_rng(3).standard_normal((matrix.shape[1], 8)) * 0.3).astype(np.float32)
    solved = np.ones((matrix.shape[0], 8), dtype=np.float32)
    model = ALS(factors=8, regularization=REG, alpha=ALPHA, weighting="none", solver="cholesky")
    half_step(model, matrix, solved, fixed)
    expected = dense_solve(matrix.toarray(), fixed.astype(float), ALPHA, REG)
    np.testing.assert_allclose(solved, expected, rtol=2e-4, atol=2e-5)
    assert not solved[-1].any()  # no plays: the zero vector


def test_fold_in_equals_dense_user_solve(plays):
    model = fitted(plays, solver="cholesky")
    expected = dense_solve(plays.toarray(), model.item_factors.astype(float), ALPHA, REG)
    for user in (0, 17, 59):
        row = plays[user]
        from_row = model.recalculate_user(row)
        from_pairs = model.recalculate_user(list(zip(row.indices.tolist(), row.data.tolist())))
        np.testing.assert_allclose(from_row, expected[user], rtol=2e-4, atol=2e-5)
        np.testing.assert_array_equal(from_row, from_pairs)


def test_fold_in_equals_a_final_user_step(plays):
    """recalculate_user for a training listener is what one more exact user step gives."""
    model = fitted(plays, solver="cholesky")
    user_factors = model.user_factors.copy()
    half_step(model, plays, user_factors, model.item_factors)
    for user in (0, 17, 59):
        np.testing.assert_allclose(model.recalculate_user(plays[user]), user_factors[user],
                                   rtol=2e-4, atol=2e-5)


def cg_reference(plays: np.ndarray, fixed: np.ndarray, start: np.ndarray, alpha: float,
                 reg: float, steps: int) -> np.ndarray:
    """Hu et al.'s system for each row solved by ``steps`` plain conjugate-gradient steps
    from ``start`` (float64): A = YᵀY + λI + Yᵀ(C - I)Y, b = YᵀCp, as in Takács et al. 2011."""
    solved = []
    for row, x in zip(plays, start.astype(float)):
        confidence = 1.0 + alpha * row
        A = fixed.T @ (confidence[:, None] * fixed) + reg * np.eye(fixed.shape[1])
        b = fixed.T @ (confidence * (row > 0))
        r = b - A @ x
        p, rs_old = r.copy(), r @ r
        for _ in range(steps):
            if rs_old < 1e-20:
                break
            Ap = A @ p
            step = rs_old / (p @ Ap)
            x, r = x + step * p, r - step * Ap
            rs_new = r @ r
            p, rs_old = r + (rs_new / rs_old) * p, rs_new
        solved.append(x)
    return np.array(solved)


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("side", ["users", "items"])
def test_cg_half_step_equals_plain_numpy_cg(plays, side, steps):
    """One CG half-step of the kernels (rows in groups, float32) against plain NumPy CG in
    float64, warm-started from the same factors, with an empty row."""
    matrix = plays if side == "users" else plays.T.tocsr()
    matrix = sp.vstack([matrix, sp.csr_matrix((1, matrix.shape[1]), dtype=np.float32)]).tocsr()
    rng = np.random.default_rng(5)
    fixed = (rng.standard_normal((matrix.shape[1], 8)) * 0.3).astype(np.float32)
    start = (rng.standard_normal((matrix.shape[0], 8)) * 0.1).astype(np.float32)
    solved = start.copy()
    model = ALS(factors=8, regularization=REG, alpha=ALPHA, weighting="none", solver="cg",
                cg_steps=steps)
    half_step(model, matrix, solved, fixed)
    expected = cg_reference(matrix.toarray(), fixed.astype(float), start, ALPHA, REG, steps)
    np.testing.assert_allclose(solved, expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(solved, start, atol=1e-3)  # the step moved the factors


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
        ALS(factors=4, alpha=1e6, iterations=1, weighting="none").fit(plays * np.float32(1e34))


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_divergence_names_the_hyperparameter(plays, monkeypatch, bad):
    model = ALS(factors=4, iterations=2)
    real_half_step = ALS._half_step

    def poisoned(self, side, solved, fixed):
        real_half_step(self, side, solved, fixed)
        solved[0, 0] = bad  # what an unstable solve would leave behind
    monkeypatch.setattr(ALS, "_half_step", poisoned)
    with pytest.raises(ModelError, match=r"diverged at iteration 1.*lower alpha \(now 0.01\)"):
        model.fit(plays)


def test_divergence_without_regularization_names_it(plays, monkeypatch):
    model = ALS(factors=4, iterations=2, regularization=0)
    real_half_step = ALS._half_step

    def poisoned(self, side, solved, fixed):
        real_half_step(self, side, solved, fixed)
        solved[0, 0] = np.nan
    monkeypatch.setattr(ALS, "_half_step", poisoned)
    with pytest.raises(ModelError, match="regularization is 0: raise it"):
        model.fit(plays)


@pytest.mark.parametrize("params, message", [
    ({"solver": "magic"}, "solver must be one of cg, cholesky"),
    ({"factors": 0}, "factors must be an integer from 1"),
    ({"alpha": 0}, "alpha must be a finite number > 0"),
    ({"regularization": -1}, "regularization must be a finite number >= 0"),
    ({"regularization": np.nan}, "regularization must be a finite number"),
    ({"random_state": -1}, "random_state must be an integer from 0"),
    ({"weighting": "log"}, "weighting must be one of bm25, tfidf, none"),
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


@pytest.mark.parametrize("weighting", ["none", "bm25", "tfidf"])
def test_fit_leaves_the_plays_untouched(plays, weighting):
    before = plays.copy()
    ALS(factors=4, iterations=1, weighting=weighting, random_state=0).fit(plays)
    assert (plays != before).nnz == 0 and plays.dtype == before.dtype


def test_fit_reads_read_only_and_unsorted_plays_without_changing_them(plays):
    """A memory-mapped dataset's arrays are read-only; the confidences share its index
    arrays, so an unsorted input is sorted into a copy, never in place."""
    expected = fitted(plays)
    read_only = plays.copy()
    for array in (read_only.data, read_only.indices, read_only.indptr):
        array.flags.writeable = False
    unsorted = plays.copy()
    for row in range(unsorted.shape[0]):
        span = slice(unsorted.indptr[row], unsorted.indptr[row + 1])
        unsorted.indices[span], unsorted.data[span] = (unsorted.indices[span][::-1].copy(),
                                                       unsorted.data[span][::-1].copy())
    unsorted.has_sorted_indices = False
    before = unsorted.indices.copy()
    for matrix in (read_only, unsorted):
        model = fitted(matrix)
        np.testing.assert_array_equal(model.user_factors, expected.user_factors)
        np.testing.assert_array_equal(model.item_factors, expected.item_factors)
    np.testing.assert_array_equal(unsorted.indices, before)


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


def test_schedule_covers_every_row_once_in_thread_independent_groups():
    from tui_recs.models._als_kernels import GROUP_SIZE, schedule

    lengths = np.random.default_rng(1).integers(0, 120, 203)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    layouts = []
    for n_buckets in (1, 2, 3, 8):
        bucket_ptr, group_ptr, rows = schedule(indptr, n_buckets, group_below=64)
        assert sorted(rows.tolist()) == list(range(len(lengths)))
        assert bucket_ptr[-1] == len(group_ptr) - 1 and group_ptr[-1] == len(rows)
        groups = [rows[start:stop] for start, stop in zip(group_ptr[:-1], group_ptr[1:])]
        assert all(len(g) == 1 or (len(g) <= GROUP_SIZE and lengths[g].max() < 64) for g in groups)
        layouts.append(sorted(tuple(sorted(g.tolist())) for g in groups))
        items = [lengths[rows[group_ptr[bucket_ptr[b]]:group_ptr[bucket_ptr[b + 1]]]].sum()
                 for b in range(n_buckets)]
        assert max(items) - min(items) <= 2 * lengths.max()  # within about one group
    assert all(layout == layouts[0] for layout in layouts)


def run_python(code: str, **env: str) -> str:
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, check=True)
    return result.stdout.strip()


def test_models_import_without_numba():
    code = ("import sys, tui_recs.models, tui_recs.models.base, tui_recs.models.als;"
            "print('numba' in sys.modules)")
    assert run_python(code) == "False"


@pytest.mark.parametrize("numba_first", [False, True])
def test_jit_cache_goes_to_the_user_cache_dir(tmp_path, numba_first):
    """Kernels cache under platformdirs' user cache dir (site-packages may be read-only),
    even when the caller imported numba before us."""
    code = ("import numba;" if numba_first else "") + (
        "import tui_recs.models._numba as setup; print(setup.numba.config.CACHE_DIR)")
    assert run_python(code, XDG_CACHE_HOME=str(tmp_path)) == str(tmp_path / "tui-recs" / "numba")
