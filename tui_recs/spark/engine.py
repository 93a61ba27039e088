"""The "spark" engine: the ALS model's arrays trained by MLlib on a Spark session.

The play counts arrive as the users × items matrix already in memory (the engine seam of
:mod:`tui_recs.models.engine`): they go to Spark as one DataFrame of (user, item, plays), so
this suits data that fits the driver. With a local master the DataFrame is read from a
temporary Parquet file rather than built from the data in memory: Spark keeps a DataFrame
made from local data inside its plans in the JVM heap, and at the 36K shape the heap grew by
hundreds of MiB with every fit until it ran out (a long session, or a benchmark's rounds). Data that does not is trained by ``tui-recs train
--engine spark`` (:mod:`tui_recs.spark.job`), where Spark reads the files itself.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.engine import Engine
from tui_recs.models.weighting import artist_lengths

if TYPE_CHECKING:
    import scipy.sparse as sp

    from tui_recs.models.base import FitCallback, Recommender
    from tui_recs.spark.als import SparkProgress

class SparkEngine(Engine):
    """MLlib ALS (implicit) on the active SparkSession, else a new ``local[*]`` one whose
    log goes to the cache. Trains the "als" model only."""

    name: ClassVar[str] = "spark"
    title: ClassVar[str] = "Spark MLlib"

    def __init__(self, master: str | None = None, conf: dict[str, str] | None = None) -> None:
        self.master, self.conf = master, dict(conf or {})
        #: The engine's facts of the last training (regParam used, Spark version, master).
        self.last_info: dict[str, Any] = {}

    def train(self, model: "Recommender", user_items: "sp.csr_matrix",
              callback: "FitCallback | None" = None) -> dict[str, np.ndarray]:
        from tui_recs.cache.location import resolve_cache_dir
        from tui_recs.spark.context import spark_session

        if model.name != "als":
            raise ModelError(f"the spark engine trains ALS only, not {model.name!r}: use "
                             "--engine local")
        params = model.get_params()
        with spark_session(resolve_cache_dir(), self.master, self.conf) as (spark, log):
            return self._train(spark, params, user_items.tocoo(), callback, log)

    def _train(self, spark: Any, params: dict[str, Any], plays: "sp.coo_matrix",
               callback: "FitCallback | None", log: Any) -> dict[str, np.ndarray]:
        from tui_recs.spark import als
        from tui_recs.spark.context import spark_errors
        from tui_recs.spark.weighting import als_ratings, weighted

        n_users, n_items = plays.shape
        started = time.perf_counter()
        total = params["iterations"]
        done = [0.0]  # Spark's share of tasks done, as the status tracker last said

        def report(state: "SparkProgress") -> None:
            done[0] = state.fraction

        def stop_asked() -> bool:
            # Asked at every poll of the status tracker, not only when a task ends (one ALS
            # task lasts minutes on large data): the callback's False is the seam's "stop",
            # as the app's Esc and ctrl+c set it. The pipeline shows fit progress as
            # iterations: the share of tasks done, in iterations (MLlib runs all its
            # iterations as one job).
            return callback is not None and callback(
                min(total, int(done[0] * total)), time.perf_counter() - started, None) is False

        with spark_errors(log), plays_frame(spark, plays) as frame:
            with als.JobGroup(spark, "tui-recs: ALS", report, stop_asked) as group:
                ratings = als_ratings(weighted(frame, n_items, params["weighting"],
                                               params["bm25_k1"], params["bm25_b"]))
                model, info = als.train(spark, ratings, n_users=n_users, n_items=n_items,
                                        nnz=plays.nnz, params=params)
                group.check()
                arrays = {"user_factors": als.factors_array(model.userFactors, n_users,
                                                            params["factors"]),
                          "item_factors": als.factors_array(model.itemFactors, n_items,
                                                            params["factors"]),
                          # The local ALS keeps the artists' total plays for fold-in.
                          "lengths": artist_lengths(plays.tocsr())}
        self.last_info = info
        return arrays


@contextmanager
def plays_frame(spark: Any, plays: "sp.coo_matrix") -> Iterator[Any]:
    """The (user int, item int, plays float) DataFrame of a users × items COO matrix, valid
    within the block: read from a temporary Parquet file with a local master (removed after),
    sent with the tasks to a cluster, whose executors cannot read the driver's files."""
    from tui_recs.spark.context import local_cores

    table = _plays_table(plays)
    if local_cores(spark.sparkContext.master) is None:
        yield _sent_frame(spark, table)
        return
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="tui-recs-plays-") as folder:
        path = Path(folder) / "plays.parquet"
        pq.write_table(table, path)
        yield spark.read.parquet(str(path))


def _plays_table(plays: "sp.coo_matrix") -> Any:
    """The COO matrix as a pyarrow table (user int32, item int32, plays float32)."""
    import pyarrow as pa

    return pa.table({"user": pa.array(plays.row.astype(np.int32)),
                     "item": pa.array(plays.col.astype(np.int32)),
                     "plays": pa.array(plays.data.astype(np.float32))})


def _sent_frame(spark: Any, table: Any) -> Any:
    """A DataFrame of ``table`` sent as Arrow (pyspark 4 takes a pyarrow table; 3.5 a pandas
    frame, with Arrow transfer on)."""
    if int(spark.version.split(".")[0]) >= 4:
        return spark.createDataFrame(table)
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return spark.createDataFrame(table.to_pandas())
