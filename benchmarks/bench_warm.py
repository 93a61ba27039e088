"""Warm start: a fresh process loads dataset + ALS + LSA + index from the cache and answers
one related-artists query (run by hand).

    python benchmarks/bench_warm.py [--scale 360k] [--runs 3] [--quick]

First fills the cache in a child process (untimed: parse/generate, train, index), then
starts fresh processes that must answer from the cache alone, and prints each one's wall time
(interpreter start and imports included). Verdicts: the median wall time against the 1.5 s
target, and no warm run trained or built an index. ``--quick``: the same on tiny data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from _measure import QUICK_SCALE, median_spread, verdict

TARGET_S = 1.5

WARM = r"""
import json, sys, time
started = time.perf_counter()
from tui_recs.cache import ArtifactStore
from tui_recs.data.store import open_dataset
from tui_recs.data.synthetic import scale_options
from tui_recs.pipeline import get_model
stages = []
dataset = open_dataset(None, **scale_options(sys.argv[1]))
loaded = time.perf_counter()
store = ArtifactStore()
models = {name: get_model(dataset, name, store=store, progress=stages.append)
          for name in ("als", "lsa")}
ready = time.perf_counter()
ids, scores = models["als"].similar(int(dataset.top_items(1)[0]), 10)
answered = time.perf_counter()
print(json.dumps({"dataset_s": loaded - started, "models_s": ready - loaded,
                  "query_ms": (answered - ready) * 1000, "total_s": answered - started,
                  "trained": any(s.name == "fit" and s.fraction > 0 for s in stages),
                  "indexed": any(s.name == "index" for s in stages),
                  "mode": models["als"].similar_mode, "answer": len(ids)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"tiny data (scale {QUICK_SCALE})")
    args = parser.parse_args()
    scale = QUICK_SCALE if args.quick else args.scale
    started = time.perf_counter()
    subprocess.run([sys.executable, "-P", "-c", WARM, scale], check=True, capture_output=True)
    print(f"cache filled in {time.perf_counter() - started:.0f} s")
    walls, rebuilt = [], 0
    for run in range(args.runs):
        wall_started = time.perf_counter()
        out = subprocess.run([sys.executable, "-P", "-c", WARM, scale], check=True,
                             capture_output=True, text=True).stdout
        walls.append(time.perf_counter() - wall_started)
        facts = json.loads(out.strip().splitlines()[-1])
        rebuilt += facts["trained"] or facts["indexed"]
        print(f"run {run + 1}: wall {walls[-1]:.2f} s = dataset {facts['dataset_s']:.2f} s + "
              f"ALS, LSA and index {facts['models_s']:.2f} s + query {facts['query_ms']:.2f} ms "
              f"({facts['mode']}){'; REBUILT something' if facts['trained'] or facts['indexed'] else ''}")
    print(f"warm start wall: {median_spread(walls, ' s')}")
    verdict("warm start, median wall", statistics.median(walls), TARGET_S, " s")
    verdict("warm runs that trained or indexed", rebuilt, 0)


if __name__ == "__main__":
    main()
