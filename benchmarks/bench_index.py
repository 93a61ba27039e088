"""Related-artist lookups through the Annoy index against exact search (run by hand).

    python benchmarks/bench_index.py [--scale 360k] [--factors 64]

On the demo data at the given scale (default: Last.fm 360K shape, ~290K artists) with ALS
(trained or loaded from the cache), builds the related-artists index (timed), then times
single queries through the index and exactly, on the same random artists. Prints the build
time, recall@10, p50/p95 latency and the speed-up. Targets: build <= 30 s, recall@10 >= 0.95,
p50 <= 0.5 ms, >= 5x faster than exact.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from tui_recs.cache import ArtifactStore
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options
    from tui_recs.index import build_similar_index
    from tui_recs.pipeline import get_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    dataset = open_dataset(None, **scale_options(args.scale))
    started = time.perf_counter()
    ready = get_model(dataset, "als", {"factors": args.factors}, store=ArtifactStore(),
                      build_index=False)
    print(f"data: {dataset.n_users:,} x {dataset.n_items:,}, {dataset.nnz:,} plays; ALS ready in "
          f"{time.perf_counter() - started:.1f} s")
    normalized = ready.model.normalized_item_factors
    started = time.perf_counter()
    index = build_similar_index(normalized)
    build = time.perf_counter() - started
    queries = np.random.default_rng(1).choice(dataset.n_items, args.queries, replace=False)
    annoy_ms, exact_ms, hits = [], [], 0
    for item in queries.tolist():
        t0 = time.perf_counter()
        found, _ = index.search(normalized[item], 10, (item,))
        t1 = time.perf_counter()
        exact, _ = ready.model.similar_items(item, 10)
        t2 = time.perf_counter()
        annoy_ms.append((t1 - t0) * 1000)
        exact_ms.append((t2 - t1) * 1000)
        hits += len(np.intersect1d(found, exact))
    stats = index.stats
    p50, p95 = np.percentile(annoy_ms, [50, 95])
    exact_p50 = np.percentile(exact_ms, 50)
    print(f"index: {stats.n_trees} trees, search_k {stats.search_k}, built and tuned in {build:.1f} s "
          f"(target <= 30 s)")
    print(f"recall@10 on {args.queries} fresh queries: {hits / (10 * args.queries):.3f} "
          f"(tuning sample: {stats.recall_at_10:.3f}; target >= 0.95)")
    print(f"latency: index p50 {p50:.3f} ms, p95 {p95:.3f} ms (target p50 <= 0.5 ms); "
          f"exact p50 {exact_p50:.3f} ms; speed-up {exact_p50 / p50:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
