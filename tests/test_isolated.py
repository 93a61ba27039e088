"""Training and evaluation in a child process: results, progress, errors, cancelling."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tui_recs import isolated
from tui_recs.cache import ArtifactStore
from tui_recs.errors import TuiRecsError
from tui_recs.pipeline import Cancelled, Stage, get_model, is_cached


@pytest.fixture(autouse=True)
def importable_targets(monkeypatch):
    """The child imports the targets below from this module by name."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))


# Targets: module-level, so that the child can import them.
def count_to(n: int, progress, cancel) -> list[int]:
    for step in range(n):
        progress(Stage("fit", (step + 1) / n, f"step {step + 1}"))
    return list(range(n))


def fail(progress, cancel) -> None:
    raise ValueError("bad value\nsecond line")


def crash(progress, cancel) -> None:
    print("printed by the job")  # stray output must not break the frames
    sys.stderr.write("something fatal happened\n")
    sys.stderr.flush()
    os._exit(3)


def wait_for_cancel(progress, cancel) -> None:
    progress(Stage("fit", 0.0, "started"))
    while not cancel.is_set():
        time.sleep(0.01)
    raise Cancelled("stopped between steps")


def ignore_cancel(progress, cancel) -> None:
    progress(Stage("fit", 0.0, "started"))
    time.sleep(60)


def cancel_after_first_stage(cancel: threading.Event, at: list[float] | None = None):
    def on_stage(stage) -> None:
        if at is not None:
            at.append(time.monotonic())
        cancel.set()
    return on_stage


# ---------------------------------------------------------------------------------- tests
def test_result_and_stages_come_back_in_order():
    stages = []
    assert isolated.run_isolated(count_to, 3, progress=stages.append) == [0, 1, 2]
    assert [stage.message for stage in stages] == ["step 1", "step 2", "step 3"]


def test_an_error_in_the_child_is_one_line_here():
    with pytest.raises(TuiRecsError, match=r"^ValueError: bad value\nsecond line$"):
        isolated.run_isolated(fail)


def test_a_crashed_child_is_reported_with_its_exit_code_and_last_words():
    with pytest.raises(TuiRecsError, match="exit code 3.*something fatal happened"):
        isolated.run_isolated(crash)


def test_the_child_imports_nothing_from_the_working_directory(tmp_path, monkeypatch):
    """A ``queue.py`` planted where the app is started (the child imports ``queue``) is not
    run: the working directory is not on the child's path."""
    marker = tmp_path / "imported"
    (tmp_path / "queue.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                       "from _queue import *\n")
    monkeypatch.chdir(tmp_path)
    assert isolated.run_isolated(count_to, 2) == [0, 1]
    assert not marker.exists()


def test_cancel_stops_a_cooperative_child():
    cancel, cancelled_at = threading.Event(), []
    with pytest.raises(Cancelled, match="stopped between steps"):
        isolated.run_isolated(wait_for_cancel, progress=cancel_after_first_stage(cancel, cancelled_at),
                              cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < isolated.GRACE  # stopped, not killed


def test_cancel_kills_a_child_that_does_not_stop(monkeypatch):
    monkeypatch.setattr(isolated, "GRACE", 0.5)
    cancel, cancelled_at = threading.Event(), []
    with pytest.raises(Cancelled):
        isolated.run_isolated(ignore_cancel, progress=cancel_after_first_stage(cancel, cancelled_at),
                              cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < 5  # the child sleeps 60 s unless killed


@pytest.fixture(scope="module")
def saved_demo(tmp_path_factory):
    from tui_recs.data.store import open_dataset

    return open_dataset(None, cache_dir=tmp_path_factory.mktemp("cache"),
                        n_users=1500, n_items=400)


@pytest.mark.parametrize("saved", [True, False], ids=["saved", "inline"])
def test_a_model_trained_in_the_child_equals_one_trained_here(saved_demo, tmp_path, saved):
    from dataclasses import replace

    dataset = saved_demo if saved else replace(saved_demo, saved_at=None)
    params = {"factors": 8, "iterations": 2, "num_threads": 1}
    store = ArtifactStore(tmp_path / "child")
    stages = []
    ready = isolated.get_model_isolated(dataset, "als", params, store=store,
                                        progress=stages.append)
    assert is_cached(dataset, "als", params, store)
    assert any("iteration 2/2" in stage.message for stage in stages)
    here = get_model(dataset, "als", params, store=ArtifactStore(tmp_path / "here"))
    # Equal up to float32 rounding: the two processes may run BLAS (the f × f grams) on
    # different thread counts (an app caps them in the environment that children inherit).
    np.testing.assert_allclose(ready.model.item_factors, here.model.item_factors, atol=1e-3)
    np.testing.assert_allclose(ready.model.user_factors, here.model.user_factors, atol=1e-3)


def test_evaluation_in_the_child_matches_evaluation_here(saved_demo):
    from tui_recs.evaluation import evaluate_models, holdout_split
    from tui_recs.models.registry import create

    params = {"als": {"factors": 8, "iterations": 2, "num_threads": 1, "random_state": 0}}
    rows, description = isolated.evaluate_isolated(saved_demo, params, k=10)
    split = holdout_split(saved_demo.user_items, test_fraction=0.2, seed=0)
    assert description == split.description
    here = evaluate_models({"als": create("als", **params["als"])}, split, k=10)
    assert [row["model"] for row in rows] == [row["model"] for row in here]
    for row, expected in zip(rows, here):  # up to rounding, as above
        for metric in ("precision", "recall", "map", "ndcg", "auc", "coverage", "popularity"):
            assert row[metric] == pytest.approx(expected[metric], rel=1e-3), metric


def test_the_model_answers_first_and_adopts_its_indexes_when_built(saved_demo, tmp_path,
                                                                    monkeypatch):
    """Trained in a child without indexes and returned at once (exact answers); the indexes
    are built by another child and adopted by the returned model."""
    from tui_recs import pipeline

    monkeypatch.setattr(pipeline, "MIN_ITEMS_FOR_INDEX", 100)  # index this small catalogue
    params = {"factors": 8, "iterations": 2, "num_threads": 1}
    store = ArtifactStore(tmp_path)
    ready = isolated.get_model_isolated(saved_demo, "als", params, store=store)
    exact = ready.similar(3, 10, exact=True)[0]
    deadline = time.monotonic() + 60
    while ready.similar_index is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ready.similar_mode in ("cells", "annoy") and ready.info["index"]["similar"]
    assert len(set(ready.similar(3, 10)[0].tolist()) & set(exact.tolist())) >= 8
    assert sorted(entry.kind for entry in store.entries()) == ["index", "model"]
