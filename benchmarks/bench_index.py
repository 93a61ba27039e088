"""Related-artist lookups through each kind of index against exact search (run by hand).

    python benchmarks/bench_index.py [--scale 360k] [--factors 64] [--kinds cells,annoy]
                                     [--queries 2000] [--quick]

On the demo data at the given scale (default: Last.fm 360K shape, ~290K artists) with ALS
(trained or loaded from the cache), builds each kind of related-artists index (k-means cells,
which the app uses where they beat exact search, and a Euclidean Annoy index, its fallback),
tuned on the same 500 sample artists as in the app (timed), then times single queries through
the index and exactly, on the same random artists outside the tuning sample (in pairs, the
order alternated from one query to the next, so that a busy machine or a warm cache favours
neither). Prints the build time, the size on disk, the load time, recall@10, latency (p50 with
the p5-p95 spread), the speed-up of the medians and the load average, and a verdict per target:
build <= 30 s, recall@10 >= 0.95, p50 <= 0.5 ms, >= 5x faster than exact. ``--quick``: tiny
data, 8 factors, 50 queries.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import QUICK_SCALE, verdict


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
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny data (scale {QUICK_SCALE}), 8 factors, 50 queries")
    args = parser.parse_args()
    if args.quick:
        args.scale, args.factors, args.queries = QUICK_SCALE, 8, 50
    dataset = open_dataset(None, **scale_options(args.scale))
    started = time.perf_counter()
    ready = get_model(dataset, "als", {"factors": args.factors}, store=ArtifactStore(),
                      build_index=False)
    print(f"data: {dataset.n_users:,} x {dataset.n_items:,}, {dataset.nnz:,} plays; ALS ready in "
          f"{time.perf_counter() - started:.1f} s")
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.2f}" for load in os.getloadavg())
          + f" on {os.cpu_count()} cores")
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
    fresh = np.setdiff1d(np.arange(dataset.n_items), tuning)
    queries = np.random.default_rng(1).choice(fresh, min(args.queries, len(fresh)), replace=False)
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
            for position, item in enumerate(queries.tolist()):
                def through_index():
                    started = time.perf_counter()
                    found, _ = index.search(normalized[item], 10, (item,))
                    index_ms.append((time.perf_counter() - started) * 1000)
                    return found

                def exactly():
                    started = time.perf_counter()
                    exact, _ = ready.model.similar_items(item, 10)
                    exact_ms.append((time.perf_counter() - started) * 1000)
                    return exact

                if position % 2:
                    exact = exactly()
                    found = through_index()
                else:
                    found = through_index()
                    exact = exactly()
                hits += len(np.intersect1d(found, exact))
        p5, p50, p95 = np.percentile(index_ms, [5, 50, 95])
        exact_p50 = np.percentile(exact_ms, 50)
        recall = hits / (10 * len(queries))
        print(f"{kind}: {index.stats.describe()}")
        print(f"  built and tuned in {build:.1f} s, {size_mb:.0f} MiB on disk, loaded in "
              f"{load_ms:.0f} ms")
        print(f"  recall@10 on {len(queries)} fresh queries: {recall:.3f} (tuning sample: "
              f"{index.stats.recall_at_10:.3f})")
        print(f"  latency: index p50 {p50:.3f} ms (p5-p95 {p5:.3f}-{p95:.3f} ms); exact p50 "
              f"{exact_p50:.3f} ms")
        verdict(f"{kind}: build and tune", build, 30, " s")
        verdict(f"{kind}: recall@10 on fresh queries", recall, 0.95, at_least=True)
        verdict(f"{kind}: p50 latency", p50, 0.5, " ms")
        verdict(f"{kind}: speed-up over exact, p50", exact_p50 / p50, 5, "x", at_least=True)


if __name__ == "__main__":
    main()
