"""Warm start: a fresh process loads dataset + ALS + LSA + index from the cache and answers
one related-artists query (run by hand).

    python benchmarks/bench_warm.py [--scale 360k]

First fills the cache in a child process (untimed: parse/generate, train, index), then
starts fresh processes that must answer from the cache alone, and prints their wall time
(interpreter start and imports included) next to the 1.5 s target. A warm run that trains,
compiles or builds anything is reported as a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

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
    args = parser.parse_args()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", WARM, args.scale], check=True, capture_output=True)
    print(f"cache filled in {time.perf_counter() - started:.0f} s")
    for run in range(args.runs):
        wall_started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", WARM, args.scale], check=True,
                             capture_output=True, text=True).stdout
        wall = time.perf_counter() - wall_started
        facts = json.loads(out.strip().splitlines()[-1])
        verdict = "FAIL: rebuilt something" if facts["trained"] or facts["indexed"] else "ok"
        print(f"run {run + 1}: wall {wall:.2f} s (target <= 1.5 s) = dataset "
              f"{facts['dataset_s']:.2f} s + ALS, LSA and index {facts['models_s']:.2f} s + "
              f"query {facts['query_ms']:.2f} ms ({facts['mode']}); {verdict}")


if __name__ == "__main__":
    main()
