"""Related-artist lookups through each kind of index against exact search (run by hand).

    python benchmarks/bench_index.py [--scale 360k] [--factors 64] [--kinds cells,annoy]

On the demo data at the given scale (default: Last.fm 360K shape, ~290K artists) with ALS
(trained or loaded from the cache), builds each kind of related-artists index (k-means cells,
which the app uses where they beat exact search, and a Euclidean Annoy index, its fallback),
tuned on the same 500 sample artists as in the app (timed), then times single queries through
the index and exactly, on the same fresh random artists (interleaved, so that a busy machine
slows both alike). Prints the build time, the size on disk, the load time, recall@10, p50/p95
latency, the speed-up and the load average. Targets: build <= 30 s, recall@10 >= 0.95, p50 <=
0.5 ms, >= 5x faster than exact.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from tui_recs.cache import ArtifactStore
    from tui_recs.index.cells import CellIndex
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options
    from tui_recs.index import (TARGET_RECALL, TUNING_MARGIN, FactorIndex, load_similar_index,
                                save_similar_index)
    from tui_recs.pipeline import get_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--kinds", default="cells,annoy")
    args = parser.parse_args()
    dataset = open_dataset(None, **scale_options(args.scale))
    started = time.perf_counter()
    ready = get_model(dataset, "als", {"factors": args.factors}, store=ArtifactStore(),
                      build_index=False)
    print(f"data: {dataset.n_users:,} x {dataset.n_items:,}, {dataset.nnz:,} plays; ALS ready in "
          f"{time.perf_counter() - started:.1f} s")
    normalized = ready.model.normalized_item_factors
    # The tuning sample of build_similar_index: 500 random artists, each left out of its answer.
    tuning = np.random.default_rng(0).choice(dataset.n_items, 500, replace=False)
    tuning_queries, tuning_exclude = normalized[tuning], [[item] for item in tuning.tolist()]
    target = TARGET_RECALL + TUNING_MARGIN
    builders = {
        "cells": lambda: CellIndex.build(normalized, tuning_queries, tuning_exclude, target),
        "annoy": lambda: FactorIndex.build(normalized, "euclidean", tuning_queries,
                                           tuning_exclude, target),
    }
    queries = np.random.default_rng(1).choice(dataset.n_items, args.queries, replace=False)
    for kind in args.kinds.split(","):
        started = time.perf_counter()
        index = builders[kind]()
        build = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as directory:
            stats = save_similar_index(index, Path(directory))
            size_mb = sum(path.stat().st_size for path in Path(directory).iterdir()) / 2**20
            started = time.perf_counter()
            index = load_similar_index(Path(directory), normalized, stats)
            load_ms = (time.perf_counter() - started) * 1000
            index_ms, exact_ms, hits = [], [], 0
            for item in queries.tolist():
                t0 = time.perf_counter()
                found, _ = index.search(normalized[item], 10, (item,))
                t1 = time.perf_counter()
                exact, _ = ready.model.similar_items(item, 10)
                t2 = time.perf_counter()
                index_ms.append((t1 - t0) * 1000)
                exact_ms.append((t2 - t1) * 1000)
                hits += len(np.intersect1d(found, exact))
        p50, p95 = np.percentile(index_ms, [50, 95])
        exact_p50 = np.percentile(exact_ms, 50)
        print(f"{kind}: {index.stats.describe()}")
        print(f"  built and tuned in {build:.1f} s (target <= 30 s), {size_mb:.0f} MiB on disk, "
              f"loaded in {load_ms:.0f} ms")
        print(f"  recall@10 on {args.queries} fresh queries: {hits / (10 * args.queries):.3f} "
              f"(tuning sample: {index.stats.recall_at_10:.3f}; target >= 0.95)")
        print(f"  latency: index p50 {p50:.3f} ms, p95 {p95:.3f} ms (target p50 <= 0.5 ms); "
              f"exact p50 {exact_p50:.3f} ms; speed-up {exact_p50 / p50:.1f}x (target >= 5x)")
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.2f}" for load in os.getloadavg())
          + f" on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
