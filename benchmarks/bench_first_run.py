"""The first run on the Last.fm 360K shape, step by step, against anchors measured in the same run.

    python benchmarks/bench_first_run.py [--work DIR] [--pairs 3] [--quick]

Writes the demo data at the 360K shape as ``usersha1-artmbid-artname-plays.tsv`` once (kept in
--work, default /tmp/tui-recs-first-run, never in the repository), then times each step in a
fresh process, with its peak RSS:

- parse + cache (``load_cached`` into an empty cache) against the anchor, pandas' C-engine
  ``read_csv`` of the same file plus category codes of listeners and artists: alternating
  pairs, medians and spread;
- ALS + indexes and LSA + indexes on the cached dataset (once each: they are heavy), the ALS
  one against the anchor implicit's 15-iteration fit (CG, f=64, same confidences);
- ``tui-recs related`` from nothing (no cache), and whether its answer equals the trained
  default model's exact answer (read back from the cache with ``--exact``);
- the app's start-up sequence headless (the session, popularity in process, the heavy models
  in child processes, in the app's order and at once, as the app runs them): the first
  related-artists answer, every start-up model ready, the indexes adopted. The UI itself
  (paints, stalls) is bench_ui's.

Prints each figure, its ratio to the anchor, and verdicts: parse + cache <= 0.35x the pandas
read, peak RSS <= 2 GiB; ALS + indexes <= 0.5x implicit's fit and the index build <= 20% of
it; CLI related <= 35 s with the exact answer; app first answer <= 30 s, all models <= 50 s.
``--quick``: tiny data (no indexes at that size) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import QUICK_SCALE, alternating, median_spread, verdict

BENCHMARKS = Path(__file__).resolve().parent
PRELUDE = "import json, sys, time\nsys.path.insert(0, sys.argv[1])\nfrom _measure import peak_rss_mib\n"

ANCHOR = PRELUDE + r"""
started = time.perf_counter()
import pandas as pd
frame = pd.read_csv(sys.argv[2], sep="\t", header=None, names=["user", "mbid", "artist", "plays"],
                    engine="c")
codes = [frame[column].astype("category").cat.codes for column in ("user", "artist")]
print(json.dumps({"seconds": time.perf_counter() - started, "peak_gib": peak_rss_mib() / 1024}))
"""
PARSE = PRELUDE + r"""
started = time.perf_counter()
from tui_recs.data.store import load_cached
dataset = load_cached(sys.argv[2], cache_dir=sys.argv[3])
seconds = time.perf_counter() - started
top = int(dataset.top_items(1)[0])
print(json.dumps({"seconds": seconds, "peak_gib": peak_rss_mib() / 1024,
                  "top_artist": str(dataset.item_names[top]), "shape": [dataset.n_users,
                  dataset.n_items, dataset.nnz]}))
"""
MODEL = PRELUDE + r"""
from tui_recs.cache import ArtifactStore
from tui_recs.data.store import load_cached
from tui_recs.pipeline import get_model
dataset = load_cached(sys.argv[2], cache_dir=sys.argv[3])
started = time.perf_counter()
ready = get_model(dataset, sys.argv[4], store=ArtifactStore(sys.argv[3]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "fit_seconds": ready.info.get("fit_seconds"),
                  "similar": ready.similar_mode, "peak_gib": peak_rss_mib() / 1024}))
"""
IMPLICIT = PRELUDE + r"""
from threadpoolctl import threadpool_limits
from implicit.cpu.als import AlternatingLeastSquares
from bench_als import implicit_input
from tui_recs.data.store import load_cached
from tui_recs.models.als import ALS
from tui_recs.models.weighting import bm25
defaults = {param.name: param.default for param in ALS.PARAMS}
dataset = load_cached(sys.argv[2], cache_dir=sys.argv[3])
confidence = implicit_input(bm25(dataset.user_items), defaults["alpha"])
with threadpool_limits(1):
    model = AlternatingLeastSquares(factors=defaults["factors"], iterations=15, use_cg=True,
                                    regularization=defaults["regularization"], alpha=1.0,
                                    random_state=0)
    started = time.perf_counter()
    model.fit(confidence, show_progress=False)
print(json.dumps({"seconds": time.perf_counter() - started, "peak_gib": peak_rss_mib() / 1024}))
"""
APP = PRELUDE + r"""
import threading
from tui_recs.app.state import startup_models
from tui_recs.models import registry
from tui_recs.session import Session
started = time.perf_counter()
session = Session(sys.argv[2], cache_dir=sys.argv[3])
dataset = session.dataset
top = int(dataset.top_items(1)[0])
figures = {"data_s": time.perf_counter() - started}
ready = {}
def train(name):
    ready[name] = session.model(name, isolated=True)
    answer = ready[name].similar(top, 10)  # what the Artists view shows first
    figures.setdefault("first_related_s", time.perf_counter() - started)
    figures[name + "_s"] = time.perf_counter() - started
threads = [threading.Thread(target=train, args=(name,)) for name in startup_models()
           if registry.model_class(name).trains_in_child]
for name in startup_models():
    if not registry.model_class(name).trains_in_child:
        session.model(name)
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
figures["all_models_s"] = time.perf_counter() - started
from tui_recs.pipeline import needs_index
deadline = time.perf_counter() + 600
while any(needs_index(model) for model in ready.values()) and time.perf_counter() < deadline:
    time.sleep(0.2)
figures["indexed_s"] = time.perf_counter() - started
figures["peak_gib"] = peak_rss_mib() / 1024
print(json.dumps(figures))
"""


def measure(script: str, *args: str) -> dict:
    """Run ``script`` in a fresh interpreter (imports included); its JSON figures."""
    result = subprocess.run([sys.executable, "-P", "-c", script, str(BENCHMARKS), *args],
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"step failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cli_related(tsv: Path, cache: Path, artist: str, *flags: str) -> tuple[float, dict]:
    """(wall seconds, JSON answer) of ``tui-recs related ARTIST`` on ``tsv``."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-P", "-m", "tui_recs", "related", artist,
                             "--data", str(tsv), "--cache-dir", str(cache), "--json", *flags],
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"tui-recs related failed: {result.stderr.strip()[-300:]}")
    return time.perf_counter() - started, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tui-recs-first-run",
                        help="where the 360K-shape TSV is written once and reused")
    parser.add_argument("--pairs", type=int, default=3,
                        help="parse / pandas pairs (at least 3); the heavy steps run once")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny data (scale {QUICK_SCALE}) in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-first-run-") as temporary:
        work, scale = (Path(temporary), QUICK_SCALE) if args.quick else (args.work, "360k")
        try:
            run(work, scale, args.pairs)
        finally:  # ~1 GB of cache a step at 360K: the TSV alone is kept for the next run
            shutil.rmtree(work / "caches", ignore_errors=True)


def run(work: Path, scale: str, pairs: int) -> None:
    from tui_recs.data.synthetic import scale_options, write_lastfm360k

    tsv = work / f"demo-{scale}" / "usersha1-artmbid-artname-plays.tsv"
    if not tsv.exists():
        started = time.perf_counter()
        write_lastfm360k(tsv.parent, **scale_options(scale))
        print(f"wrote {tsv} ({tsv.stat().st_size / 2**20:,.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
    caches = work / "caches"
    caches.mkdir(parents=True, exist_ok=True)

    def fresh_cache() -> Path:
        return Path(tempfile.mkdtemp(prefix="cache-", dir=caches))

    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
    runs = alternating({"pandas": lambda: measure(ANCHOR, str(tsv)),
                        "parse": lambda: measure(PARSE, str(tsv), str(fresh_cache()))}, pairs)
    seconds = {kind: [r["seconds"] for r in results] for kind, results in runs.items()}
    parse_peak = max(r["peak_gib"] for r in runs["parse"])
    first = runs["parse"][0]
    print(f"data: {first['shape'][0]:,} listeners x {first['shape'][1]:,} artists, "
          f"{first['shape'][2]:,} plays")
    print(f"pandas C read + codes: {median_spread(seconds['pandas'], ' s')}, peak RSS "
          f"{max(r['peak_gib'] for r in runs['pandas']):.2f} GiB")
    print(f"parse + cache:         {median_spread(seconds['parse'], ' s')}, peak RSS "
          f"{parse_peak:.2f} GiB", flush=True)
    parse_ratio = statistics.median(seconds["parse"]) / statistics.median(seconds["pandas"])

    cache = fresh_cache()
    measure(PARSE, str(tsv), str(cache))  # the dataset the model steps start from
    implicit = measure(IMPLICIT, str(tsv), str(cache))
    print(f"implicit ALS, 15 iterations: {implicit['seconds']:.1f} s", flush=True)
    models = {name: measure(MODEL, str(tsv), str(cache), name) for name in ("als", "lsa")}
    for name, figures in models.items():
        index_s = figures["seconds"] - figures["fit_seconds"]
        print(f"{name} + indexes: {figures['seconds']:.1f} s (fit {figures['fit_seconds']:.1f} s, "
              f"indexes and the rest {index_s:.1f} s, related by {figures['similar']}), "
              f"peak RSS {figures['peak_gib']:.2f} GiB", flush=True)
    als = models["als"]

    cli_cache = fresh_cache()
    cli_s, first_answer = cli_related(tsv, cli_cache, first["top_artist"])
    # The trained default model's exact answer, from the cache the first run filled.
    _, exact_answer = cli_related(tsv, cli_cache, first["top_artist"], "--exact")
    print(f"CLI related from nothing: {cli_s:.1f} s ({first_answer['model']}, "
          f"{first_answer['mode']})", flush=True)

    app = measure(APP, str(tsv), str(fresh_cache()))
    print(f"app start-up, headless: data {app['data_s']:.1f} s, first related "
          f"{app['first_related_s']:.1f} s, all models {app['all_models_s']:.1f} s, indexes "
          f"adopted {app['indexed_s']:.1f} s, peak RSS {app['peak_gib']:.2f} GiB", flush=True)
    verdicts(parse_ratio, parse_peak, als, implicit, cli_s, first_answer, exact_answer, app)


def verdicts(parse_ratio: float, parse_peak: float, als: dict, implicit: dict, cli_s: float,
             first_answer: dict, exact_answer: dict, app: dict) -> None:
    """The verdict lines, last."""
    def ranked(answer: dict) -> list:
        return [(row["artist"], row["score"]) for row in answer["results"]]

    verdict("parse + cache / pandas C read + codes, medians", parse_ratio, 0.35)
    verdict("parse + cache, peak RSS", parse_peak, 2.0, " GiB")
    verdict("ALS + indexes / implicit 15-iteration fit", als["seconds"] / implicit["seconds"], 0.5)
    verdict("ALS index build / ALS + indexes",
            (als["seconds"] - als["fit_seconds"]) / als["seconds"], 0.2)
    verdict("CLI related from nothing", cli_s, 35, " s")
    verdict("CLI related equals the trained model's exact answer",
            float(ranked(first_answer) == ranked(exact_answer)), 1, at_least=True)
    verdict("app first related answer", app["first_related_s"], 30, " s")
    verdict("app all start-up models", app["all_models_s"], 50, " s")


if __name__ == "__main__":
    main()
