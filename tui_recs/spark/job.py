"""``tui-recs train --engine spark``: Spark reads the data, weights it, trains MLlib ALS and
writes a model bundle (``--output DIR``, by default ``<cache>/bundles/<key>/``).

Runs on a laptop (``local[*]``) or, through spark-submit, on a cluster (docs/spark.md):
nothing here goes through the driver's memory but the keys' labels (StringIndexer) and the
checksums.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from tui_recs.models.params import key_params
from tui_recs.pipeline import Stage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from tui_recs.pipeline import CancelEvent, Progress
    from tui_recs.spark.read import Plays

MODEL = "als"


@dataclass(frozen=True)
class Trained:
    """Where the bundle is, its manifest, whether it was there already, Spark's log file."""

    directory: str
    manifest: dict[str, Any]
    reused: bool
    log: Path | None


def default_output(cache_root: Path, source: str, format: str, params: Mapping[str, Any]) -> Path:
    """``<cache_root>/bundles/<key>``: the key hashes the source (with its size and time of
    change when it is local), the format and the model-changing hyperparameters."""
    from tui_recs.models.als import ALS

    stamp: list[Any] = []
    local = Path(source.removeprefix("file:")) if "://" not in source else None
    if local is not None and local.exists():
        source = str(local.resolve())
        paths = sorted(local.rglob("*")) if local.is_dir() else [local]
        stamp = [(str(path), path.stat().st_size, path.stat().st_mtime_ns)
                 for path in paths if path.is_file()]
    text = json.dumps({"source": source, "stamp": stamp, "format": format, "engine": "spark",
                       "params": key_params(ALS.PARAMS, dict(params)), "bundle": 1},
                      sort_keys=True, default=str)
    return cache_root / "bundles" / hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def train_bundle(source: str, params: Mapping[str, Any], *, cache_root: Path,
                 output: str | None = None, format: str = "auto", master: str | None = None,
                 conf: Mapping[str, str] | None = None, progress: "Progress | None" = None,
                 cancel: "CancelEvent | None" = None, checkpoint_dir: str | None = None
                 ) -> Trained:
    """Train ALS (``params``: its resolved hyperparameters) on ``source`` with Spark and write
    the bundle. A default output that holds a complete bundle is reused. ``checkpoint_dir``:
    where MLlib checkpoints the factors every 10 iterations (:func:`tui_recs.spark.als.
    checkpoints`; many iterations, see docs/spark.md).

    Raises DataError for the input, BundleExists for an ``output`` that exists, SparkCancelled
    when ``cancel`` is set (or a KeyboardInterrupt arrives); nothing is left half-written.
    """
    from tui_recs.bundle.format import MANIFEST
    from tui_recs.spark.context import spark_session

    report = progress or (lambda stage: None)
    if "://" not in source and not source.startswith("file:"):
        source = os.path.abspath(os.path.expanduser(source))  # the manifest says where from
    default = output is None
    directory = str(default_output(cache_root, source, format, params)) if default else output
    if default and Path(directory, MANIFEST).is_file():
        manifest = json.loads(Path(directory, MANIFEST).read_text(encoding="utf-8"))
        return Trained(directory, manifest, True, None)
    report(Stage("spark", 0.0, f"starting Spark ({master or 'local[*]'})"))
    with spark_session(cache_root, master, conf) as (spark, log):
        manifest = _run(spark, source, dict(params), directory, format, report, cancel, log,
                        checkpoint_dir)
    return Trained(directory, manifest, False, log)


def _run(spark: "SparkSession", source: str, params: dict[str, Any], directory: str,
         format: str, report: "Progress", cancel: "CancelEvent | None", log: Path | None,
         checkpoint_dir: str | None) -> dict[str, Any]:
    from tui_recs.spark import als
    from tui_recs.spark.bundle import BundleExists, output_problem, write_bundle
    from tui_recs.spark.context import spark_errors
    from tui_recs.spark.read import read_plays

    cancelled = (lambda: cancel.is_set()) if cancel is not None else None

    def phase(name: str, text: str) -> als.JobGroup:
        def forward(state: als.SparkProgress) -> None:
            report(Stage(name, state.fraction, f"{text}: {state.message}"))
        report(Stage(name, 0.0, text))
        return als.JobGroup(spark, f"tui-recs: {text}", forward, cancelled)

    with spark_errors(log, source):
        problem = output_problem(spark, directory)
        if problem:
            raise BundleExists(problem)
        with phase("read", f"reading {source}") as group:
            plays = read_plays(spark, source, format)
            group.check()
        try:
            with als.checkpoints(spark, checkpoint_dir):
                model, info = _fit(spark, plays, params, phase)
                with phase("write", f"writing the bundle to {directory}"):
                    manifest = write_bundle(spark, directory, plays, model, {
                        "model": MODEL, "engine": "spark", "params": params,
                        "spark": {**info, "dropped": plays.dropped},
                        "source": f"{plays.source} ({plays.format})"})
        finally:
            plays.release()
    report(Stage("write", 1.0, f"bundle written to {directory}"))
    return manifest


def _fit(spark: "SparkSession", plays: "Plays", params: dict[str, Any],
         phase: Callable[[str, str], Any]) -> tuple[Any, dict[str, Any]]:
    """MLlib ALS on the weighted plays, as the "fit" phase: (the model, the engine's facts)."""
    from tui_recs.spark import als
    from tui_recs.spark.weighting import als_ratings, weighted

    with phase("fit", f"training ALS on {plays.n_users:,} listeners × {plays.n_items:,} "
                      f"artists ({plays.nnz:,} plays)") as group:
        ratings = als_ratings(weighted(plays.history, plays.n_items, params["weighting"],
                                       params["bm25_k1"], params["bm25_b"]))
        model, info = als.train(spark, ratings, n_users=plays.n_users, n_items=plays.n_items,
                                nnz=plays.nnz, params=params)
        group.check()
    return model, info
