"""Spark MLlib ALS (local[2]) against the local Numba ALS on one machine (run by hand; needs
the spark extra and Java 17+).

    python benchmarks/bench_spark.py [--data hetrec,360k] [--scale 0.1] [--iterations 3]
                                     [--factors 64] [--pairs 3]
    python benchmarks/bench_spark.py --quick

Data: hetrec (../shared/data/lastfm-hetrec2011-2k) and the demo data in the Last.fm 360K shape
scaled by --scale (0.1: the 36K shape; 1: the full 360K shape). Each data set runs in a fresh
process that starts Spark once (local[2], with the settings tui-recs gives a local master:
tui_recs.spark.context.local_conf), then fits both engines on the same seeded 80/20
holdout split, with the same hyperparameters, in alternating rounds (Spark, local; local,
Spark; ...), 2 threads each, after one untimed warm-up fit of each.

Printed separately: Spark's start-up (the JVM and the session), the input overhead (the
matrix handed to Spark as Parquet, weighted and cached: the shuffles before ALS), the fixed cost of one ALS
job (a 1-iteration fit minus one iteration), the shuffle of a 1-iteration fit and of each
further iteration (MiB written and read, seconds the tasks spent writing it or waiting for it:
Spark's REST API), seconds per iteration of each engine (median of the rounds, with the
spread: a fit's time over its iterations, fixed costs included, as a user waits them) and
their ratio; peak memory of the driver JVM (in local mode also the executor:
one JVM) and of the Python process (which also ran the local fits).

Verdicts: precision@10 of Spark's model over the local one's >= 0.9 (both trained on the
split, the correctness of the mapping of the model), and the Spark / local time per iteration
<= 1000, a sanity bound only: Spark is expected to be much slower on one machine (JVM,
serialization and shuffles for work that fits in one process); the ratio is what is reported.
``--quick``: the demo data at a tiny scale, 8 factors, 2 iterations, no warm-up fits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _measure import QUICK_SCALE, alternating, median_spread, peak_rss_mib, verdict

HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"
QUALITY_TARGET, RATIO_SANITY = 0.9, 1000.0


def _dataset(name: str, scale: str):
    from tui_recs.data.synthetic import scale_options
    from tui_recs.data.store import open_dataset

    if name == "hetrec":
        return open_dataset(HETREC)
    return open_dataset(None, **scale_options("360k" if float(scale) == 1 else scale))


def _jvm_peak_mib(spark) -> float:
    """The driver JVM's peak resident set (VmHWM), MiB."""
    pid = spark.sparkContext._gateway.proc.pid
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _shuffle_totals(spark) -> tuple[float, float]:
    """(MiB, seconds) of shuffle so far in the session, over its completed stages: bytes
    written plus read; seconds writing plus waiting for fetches. From Spark's REST API (the
    status tracker of pyspark has no shuffle metrics)."""
    import urllib.request

    context = spark.sparkContext
    url = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/stages?status=complete"
    with urllib.request.urlopen(url, timeout=60) as answer:
        stages = json.load(answer)
    moved = sum(stage["shuffleReadBytes"] + stage["shuffleWriteBytes"] for stage in stages)
    waited = sum(stage["shuffleWriteTime"] / 1e9 + stage["shuffleFetchWaitTime"] / 1e3
                 for stage in stages)
    return moved / 2**20, waited


def child(name: str, scale: str, factors: int, iterations: int, pairs: int,
          warm_up: bool = True) -> dict:
    """One data set in this process: the measurements as a dict (printed as JSON)."""
    import tempfile

    from tui_recs.evaluation import evaluate, split_plays
    from tui_recs.models.als import ALS
    from tui_recs.spark.context import (local_conf, log_path, quiet_conf,
                                        quiet_pyspark_warnings, quiet_python_loggers, stderr_to)
    from tui_recs.spark.engine import SparkEngine, plays_frame
    from tui_recs.spark.weighting import als_ratings, weighted

    dataset = _dataset(name, scale)
    split = split_plays(dataset.user_items, "holdout", 0.2, 1, seed=0)
    params = dict(factors=factors, iterations=iterations, num_threads=2)
    quiet_pyspark_warnings()
    from pyspark.sql import SparkSession  # the extra, only here

    log = log_path(Path(tempfile.mkdtemp(prefix="bench-spark-")))
    quiet_python_loggers(log)
    started = time.perf_counter()
    builder = SparkSession.builder.master("local[2]").appName("bench-spark")
    # The settings tui-recs gives a local master; the UI on for its REST API (shuffle metrics).
    for key, value in {"spark.ui.showConsoleProgress": "false", "spark.ui.port": "0",
                       "spark.ui.retainedStages": "100000", "spark.ui.retainedJobs": "100000",
                       **local_conf("local[2]"), **quiet_conf(log)}.items():
        builder = builder.config(key, value)
    with stderr_to(log):
        spark = builder.getOrCreate()
    startup = time.perf_counter() - started

    started = time.perf_counter()
    with plays_frame(spark, split.train.tocoo()) as plays:
        frame = als_ratings(weighted(plays, split.train.shape[1]))
        frame.cache().count()
        input_seconds = time.perf_counter() - started
        frame.unpersist()

    engine = SparkEngine()
    models = {}

    shuffles: dict[int, list[tuple[float, float]]] = {}  # iterations -> each fit's shuffle

    def fit_spark(model_params: dict) -> float:
        before = _shuffle_totals(spark)
        begun = time.perf_counter()
        models["spark"] = ALS.from_arrays(ALS(**model_params).get_params(),
                                          engine.train(ALS(**model_params), split.train))
        seconds = time.perf_counter() - begun
        after = _shuffle_totals(spark)
        shuffles.setdefault(model_params["iterations"], []).append(
            (after[0] - before[0], after[1] - before[1]))
        return seconds

    def fit_local(model_params: dict) -> float:
        begun = time.perf_counter()
        models["local"] = ALS(**model_params).fit(split.train)
        return time.perf_counter() - begun

    if warm_up:  # JIT compiling, Spark's code paths
        fit_spark(params), fit_local(params)
    one_iteration = fit_spark({**params, "iterations": 1})
    rounds = alternating({"spark": lambda: fit_spark(params),
                          "local": lambda: fit_local(params)}, pairs)
    quality = {engine_name: evaluate(model, split, 10, fit=False)["precision"]
               for engine_name, model in models.items()}
    per_iteration = {key: [seconds / iterations for seconds in values]
                     for key, values in rounds.items()}
    result = {"data": name if name == "hetrec" else f"360k×{scale}",
              "shape": list(split.train.shape), "plays": int(split.train.nnz),
              "startup": startup, "input": input_seconds,
              "als_job_fixed": one_iteration - statistics.median(per_iteration["spark"]),
              "shuffle_fit_1": shuffles[1][-1],
              # The median fit of `iterations` minus the 1-iteration fit: the other iterations.
              "shuffle_per_iteration": [
                  (statistics.median(fit[k] for fit in shuffles[iterations]) - shuffles[1][-1][k])
                  / max(1, iterations - 1) for k in (0, 1)],
              "per_iteration": per_iteration, "precision": quality,
              "jvm_peak_mib": _jvm_peak_mib(spark), "python_peak_mib": peak_rss_mib()}
    spark.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", default="hetrec", help="comma-separated: hetrec, 360k")
    parser.add_argument("--scale", default="0.1", help="of the 360K shape for --data 360k")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=6,
                        metavar=("DATA", "SCALE", "F", "ITER", "PAIRS", "WARM_UP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, scale, factors, iterations, pairs, warm_up = args.child
        print(json.dumps(child(name, scale, int(factors), int(iterations), int(pairs),
                               warm_up == "1")))
        return 0
    if args.quick:
        args.data, args.scale, args.factors, args.iterations = "360k", QUICK_SCALE, 8, 2
    results = []
    for name in args.data.split(","):
        command = [sys.executable, __file__, "--child", name, args.scale,
                   str(args.factors), str(args.iterations), str(args.pairs),
                   str(int(not args.quick))]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench_spark: {name} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for result in results:
        spark_runs, local_runs = (result["per_iteration"][key] for key in ("spark", "local"))
        print(f"{result['data']}: {result['shape'][0]:,} × {result['shape'][1]:,}, "
              f"{result['plays']:,} training plays, f={args.factors}, {args.iterations} "
              f"iterations, local[2] vs 2 Numba threads")
        print(f"  Spark start-up {result['startup']:.2f} s; input (to Spark, weighted, "
              f"cached) {result['input']:.2f} s; fixed cost of an ALS job "
              f"{result['als_job_fixed']:.2f} s")
        fit_1, per_iteration = result["shuffle_fit_1"], result["shuffle_per_iteration"]
        print(f"  shuffle: a 1-iteration fit {fit_1[0]:,.1f} MiB, {fit_1[1]:.2f} s writing or "
              f"waiting; each further iteration {per_iteration[0]:,.1f} MiB, "
              f"{per_iteration[1]:.2f} s (of the tasks' time, over both cores)")
        print(f"  s/iteration: spark {median_spread(spark_runs, ' s')}, "
              f"local {median_spread(local_runs, ' s')}")
        print(f"  peak memory: driver+executor JVM {result['jvm_peak_mib']:,.0f} MiB, "
              f"Python {result['python_peak_mib']:,.0f} MiB; precision@10 spark "
              f"{result['precision']['spark']:.4f}, local {result['precision']['local']:.4f}")
    for result in results:
        verdict(f"{result['data']} precision@10 spark / local",
                result["precision"]["spark"] / result["precision"]["local"], QUALITY_TARGET,
                at_least=True)
        verdict(f"{result['data']} s/iteration spark / local, medians",
                statistics.median(result["per_iteration"]["spark"])
                / statistics.median(result["per_iteration"]["local"]), RATIO_SANITY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
