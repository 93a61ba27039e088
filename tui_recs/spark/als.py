"""MLlib's implicit ALS with the project's hyperparameters; Spark's progress and cancel.

The model is the local ALS's (Hu, Koren & Volinsky; see :mod:`tui_recs.models.als`): the same
weighting, confidence 1 + alpha·w, factors, iterations and seed. Two differences:

- Regularization. MLlib scales ``regParam`` by each row's number of ratings (ALS-WR: λ_u =
  regParam·n_u), the local ALS uses one λ for every row. No single regParam reproduces that;
  :func:`reg_param` picks the one whose total penalty weight over both sides equals the local
  one's: regParam·2·nnz = λ·(n_users + n_items). Rows with many plays get more, rows with few
  less than locally. The value used is recorded (bundle manifest, ``spark.regParam``).
- Solves. MLlib solves each row exactly (Cholesky), like the local ``solver="cholesky"``;
  ``solver`` and ``cg_steps`` do not apply. Its random start differs from the local one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.pipeline import Cancelled

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame, SparkSession

#: The local ALS's hyperparameters that MLlib takes (others: see the module docstring).
USED_PARAMS = ("factors", "iterations", "regularization", "alpha", "weighting", "bm25_k1",
               "bm25_b", "random_state")
#: How often the status tracker is read (seconds).
POLL_SECONDS = 0.5
#: Iterations between two checkpoints of the factors (when a checkpoint folder is set).
CHECKPOINT_INTERVAL = 10


class SparkCancelled(Cancelled):
    """The Spark jobs were cancelled (Esc, ctrl+c or a progress callback); nothing was kept."""


def reg_param(regularization: float, n_users: int, n_items: int, nnz: int) -> float:
    """MLlib's regParam for the local ALS's λ (see the module docstring): λ(U + I) / (2 nnz)."""
    return regularization * (n_users + n_items) / (2.0 * nnz) if nnz else regularization


@dataclass(frozen=True)
class SparkProgress:
    """What the status tracker says about a running group of jobs.

    ``fraction``: tasks done over tasks known in the group's stages so far (Spark plans a
    job's stages when it starts it; stages it skips because their output is cached count as
    done once a later stage of the job runs).
    """

    fraction: float
    message: str


Reporter = Callable[[SparkProgress], "bool | None"]


class JobGroup:
    """Spark jobs started in the block run as one job group: a thread reports their progress
    from the status tracker to ``report`` (returning False cancels them), ``cancel()`` and
    ctrl+c cancel them, and the block then raises SparkCancelled."""

    def __init__(self, spark: "SparkSession", description: str,
                 report: Reporter | None = None, cancelled: Callable[[], bool] | None = None):
        self.context = spark.sparkContext
        self.group = f"tui-recs-{uuid.uuid4().hex[:12]}"
        self.description = description
        self.report = report
        self.cancelled = cancelled or (lambda: False)
        self._stop = threading.Event()
        self._cancel_asked = threading.Event()

    def __enter__(self) -> "JobGroup":
        self.context.setJobGroup(self.group, self.description, interruptOnCancel=True)
        self._watcher = threading.Thread(target=self._watch, name="spark-progress", daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, kind, error, trace) -> bool:
        self._stop.set()
        self._watcher.join()
        self.context.setLocalProperty("spark.jobGroup.id", None)
        if kind is KeyboardInterrupt:
            self.cancel()
            return False
        if error is not None and self._cancel_asked.is_set():
            raise SparkCancelled("Spark training cancelled") from None
        return False

    def cancel(self) -> None:
        """Cancel every job of the group (running and not yet started)."""
        self._cancel_asked.set()
        self.context.cancelJobGroup(self.group)

    def check(self) -> None:
        """SparkCancelled when the group was cancelled: between jobs, nothing raised it."""
        if self._cancel_asked.is_set() or self.cancelled():
            self._cancel_asked.set()
            raise SparkCancelled("Spark training cancelled")

    def _watch(self) -> None:
        tracker = self.context.statusTracker()
        last, furthest = None, 0.0
        while not self._stop.wait(POLL_SECONDS):
            # Again at every poll once asked: cancelJobGroup cancels only the jobs running
            # now, and a cancel between two jobs (MLlib's fit runs dozens) would let the
            # next one run.
            if self._cancel_asked.is_set() or self.cancelled():
                self.cancel()
            if self.report is None:
                continue
            try:
                state = self._progress(tracker)
            except Exception:  # the gateway closing under a cancelled job: nothing to report
                continue
            if state is not None and state != last:
                # Stages appear as Spark plans new jobs: the share done never goes back.
                furthest = max(furthest, state.fraction)
                state = last = SparkProgress(furthest, state.message)
                if self.report(state) is False and not self._cancel_asked.is_set():
                    self.cancel()

    def _progress(self, tracker: Any) -> SparkProgress | None:
        done = total = finished_stages = 0
        active = None
        job_ids = sorted(tracker.getJobIdsForGroup(self.group))
        for job_id in job_ids:
            job = tracker.getJobInfo(job_id)
            if job is None:
                continue
            for stage_id in sorted(job.stageIds):
                stage = tracker.getStageInfo(stage_id)
                if stage is None or stage.numTasks == 0:
                    continue
                total += stage.numTasks
                done += stage.numCompletedTasks
                if stage.numCompletedTasks >= stage.numTasks:
                    finished_stages += 1
                elif stage.numActiveTasks and active is None:
                    active = stage
        if not job_ids or total == 0:
            return None
        running = (f", stage {active.stageId} {active.name.split(' at ')[0]}: tasks "
                   f"{active.numCompletedTasks}/{active.numTasks}" if active is not None else "")
        return SparkProgress(done / total, f"Spark job {job_ids[-1]}: {finished_stages} "
                                           f"stages done{running}")


@contextlib.contextmanager
def checkpoints(spark: "SparkSession", directory: str | None) -> Iterator[None]:
    """MLlib checkpoints the factors every :data:`CHECKPOINT_INTERVAL` iterations into a new
    folder under ``directory`` (a path or URI; None: no checkpoints) meanwhile; the folder is
    removed after, and the session's checkpoint setting restored. Keep the block open until
    the factors are written: a checkpointed RDD may be read back from there."""
    if not directory:
        yield
        return
    context = spark.sparkContext
    previous = context.getCheckpointDir()
    context.setCheckpointDir(directory)
    folder = context.getCheckpointDir()  # <directory>/<a new UUID>, made by Spark
    try:
        yield
    finally:
        jvm = context._jvm
        path = jvm.org.apache.hadoop.fs.Path(folder)
        path.getFileSystem(context._jsc.hadoopConfiguration()).delete(path, True)
        # pyspark can set the setting but not unset it: the JVM field, as setCheckpointDir
        # would make another folder under ``previous``.
        getattr(context._jsc.sc(), "checkpointDir_$eq")(jvm.scala.Option.apply(previous))


def train(spark: "SparkSession", ratings: "DataFrame", *, n_users: int, n_items: int,
          nnz: int, params: dict[str, Any]) -> tuple["ALSModel", dict[str, Any]]:
    """MLlib ALS on ``ratings`` (user int, item int, rating float: the clipped weights of
    :func:`tui_recs.spark.weighting.als_ratings`), run inside a :class:`JobGroup`.

    Returns the model (its factors still in Spark) and the engine's facts (regParam used,
    Spark version). Checkpoints are written every :data:`CHECKPOINT_INTERVAL` iterations
    within :func:`checkpoints` (many iterations; see docs/spark.md).
    """
    from pyspark.ml.recommendation import ALS  # pyspark only in tui_recs.spark

    regularization = reg_param(params["regularization"], n_users, n_items, nnz)
    # One block per core: MLlib's default of 10 makes 10 tasks of every stage, mostly
    # overhead on a small data set or a laptop. The blocks partition the random start too,
    # so they are recorded with the result.
    blocks = max(1, spark.sparkContext.defaultParallelism)
    als = ALS(rank=params["factors"], maxIter=params["iterations"], regParam=regularization,
              alpha=params["alpha"], implicitPrefs=True, seed=params["random_state"],
              userCol="user", itemCol="item", ratingCol="rating", nonnegative=False,
              checkpointInterval=CHECKPOINT_INTERVAL, numUserBlocks=blocks, numItemBlocks=blocks)
    started = time.perf_counter()
    model = als.fit(ratings)
    info = {"regParam": regularization, "blocks": blocks,
            "regParam_mapping": "regParam = regularization * (users + items) / (2 * plays)",
            "spark_version": spark.version, "master": spark.sparkContext.master,
            "fit_seconds": time.perf_counter() - started}
    return model, info


def factors_array(factors: "DataFrame", rows: int, rank: int) -> np.ndarray:
    """(rows, rank) float32 from MLlib's (id, features) factors, collected to the driver; rows
    MLlib has no factors for (an artist without training plays) are zero, as the local
    solve gives them."""
    result = np.zeros((rows, rank), dtype=np.float32)
    for row in factors.toLocalIterator():
        result[row["id"]] = np.asarray(row["features"], dtype=np.float32)
    if not np.isfinite(result).all():
        raise ModelError("Spark ALS diverged (factors became NaN or infinite): lower alpha")
    return result
