"""tui-recs' models against implicit 0.7.3 on the same work (run by hand; needs the bench
extra), one section per model family.

    python benchmarks/bench_models.py [--scale 0.1,1] [--families knn] [--pairs 3]
    python benchmarks/bench_models.py --quick

Data: the demo data in the Last.fm 360K shape scaled by --scale (1 for the full shape).

Item-kNN (``knn``): tui-recs' bm25 / cosine / tfidf models (K = 100 neighbours) against
implicit's BM25Recommender(K=100, K1=100, B=0.8) / CosineRecommender / TFIDFRecommender, 2
threads each. Each fit runs in a fresh process (so peak RSS is each library's own), in pairs
with the order reversed every round (A B, B A, ...), after a warm-up fit on tiny data in the
same process (tui-recs' JIT cache is filled by one unmeasured run first). Prints fit seconds
(median and spread), the wall and CPU ratios tui-recs / implicit of the medians, peak RSS,
and the mean share of each artist's top 10 that implicit's top 10 (itself left out) holds;
verdicts: wall ratio <= 0.5, overlap >= 0.99. ``--quick``: scale 0.002, K = 10.

A family is one function taking (scale, pairs, quick) and printing its table and verdicts;
another family (BPR, logistic MF, SGD-MF) is one more function in FAMILIES.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import QUICK_SCALE, alternating, median_spread, verdict

THREADS = 2
KNN_TARGET, OVERLAP_TARGET = 0.5, 0.99
#: tui-recs name -> implicit's class in implicit.nearest_neighbours, and its arguments.
KNN = {"bm25": ("BM25Recommender", {"K1": 100.0, "B": 0.8}),
       "cosine": ("CosineRecommender", {}), "tfidf": ("TFIDFRecommender", {})}


def load_plays(scale: str):
    """The play counts (users × items CSR float32) of the 360K-shape demo data × ``scale``."""
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options

    return open_dataset(None, **scale_options("360k" if float(scale) == 1 else scale)).user_items


def knn_worker(library: str, name: str, scale: str, k: int, out: str) -> None:
    """Child process: a warm-up fit on tiny data, then one timed fit; saves each artist's top
    10 (itself left out, -1 padded) to ``out`` and prints the timings as JSON. Each library
    runs as its users run it: tui-recs with its start-up settings (NumPy's huge pages off,
    set by importing it before NumPy), implicit with NumPy's defaults."""
    import time

    if library == "tui-recs":
        import tui_recs  # noqa: F401  (before NumPy: see above)
    import numpy as np
    import scipy.sparse as sp

    from _measure import peak_rss_mib

    plays = load_plays(scale)
    if library == "implicit":
        from implicit import nearest_neighbours

        cls_name, options = KNN[name]
        # implicit's Cython takes writable buffers only (the dataset's arrays are mapped).
        plays = sp.csr_matrix((plays.data.copy(), plays.indices.copy(), plays.indptr.copy()),
                              shape=plays.shape)

        def fit(matrix):
            model = getattr(nearest_neighbours, cls_name)(K=k, num_threads=THREADS, **options)
            model.fit(matrix, show_progress=False)
            return model

        def top10(model):
            similarity = model.similarity.tocsr()
            best = np.full((plays.shape[1], 10), -1, dtype=np.int64)
            for item in range(plays.shape[1]):
                row = similarity[item]
                order = row.indices[np.lexsort((row.indices, -row.data))]
                order = order[order != item][:10]
                best[item, :len(order)] = order
            return best
    else:
        from tui_recs.models import registry

        def fit(matrix):
            return registry.create(name, neighbours=k, num_threads=THREADS).fit(matrix)

        def top10(model):
            return model.similar_items_batch(range(plays.shape[1]), 10)[0]

    fit(plays[:50].tocsr())
    started, cpu_started = time.perf_counter(), time.process_time()
    model = fit(plays)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    np.save(out, top10(model))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                      "peak_rss_mib": peak_rss_mib()}))


def run_worker(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def overlap(ours, theirs) -> float:
    """Mean over artists with neighbours in ``theirs`` of |ours ∩ theirs| / len(theirs)."""
    shares = []
    for mine, reference in zip(ours.tolist(), theirs.tolist()):
        reference = {item for item in reference if item >= 0}
        if reference:
            shares.append(len(reference & set(mine)) / len(reference))
    return statistics.fmean(shares) if shares else float("nan")


def knn_family(scale: str, pairs: int, quick: bool) -> None:
    """Item-kNN fit time and neighbour lists against implicit's, per similarity."""
    import numpy as np

    k = 10 if quick else 100
    with tempfile.TemporaryDirectory() as scratch:
        for name in KNN:
            files = {library: str(Path(scratch) / f"{library}-{name}.npy")
                     for library in ("tui-recs", "implicit")}
            run_worker("tui-recs", name, scale, str(k), files["tui-recs"])  # fills the JIT cache
            results = alternating({library: lambda library=library: run_worker(
                library, name, scale, str(k), files[library]) for library in files}, pairs)
            label = f"item-kNN {name} 360k×{scale} K={k}"
            for library, runs in results.items():
                print(f"  {label} {library}: fit "
                      f"{median_spread([run['seconds'] for run in runs], ' s')}, CPU "
                      f"{median_spread([run['cpu_seconds'] for run in runs], ' s')}, peak RSS "
                      f"{max(run['peak_rss_mib'] for run in runs):.0f} MiB")
            medians = {library: {key: statistics.median(run[key] for run in runs)
                                 for key in ("seconds", "cpu_seconds")}
                       for library, runs in results.items()}
            cpu_ratio = medians["tui-recs"]["cpu_seconds"] / medians["implicit"]["cpu_seconds"]
            print(f"  {label}: CPU time tui-recs / implicit {cpu_ratio:.3f}")
            agreement = overlap(np.load(files["tui-recs"]), np.load(files["implicit"]))
            verdict(f"{label}: fit wall time tui-recs / implicit, medians",
                    medians["tui-recs"]["seconds"] / medians["implicit"]["seconds"], KNN_TARGET)
            verdict(f"{label}: top-10 overlap with implicit", agreement, OVERLAP_TARGET,
                    at_least=True)


FAMILIES = {"knn": knn_family}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="0.1", help="comma-separated scales of the 360K shape")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated of {', '.join(FAMILIES)}")
    parser.add_argument("--pairs", type=int, default=3, help="A/B rounds (at least 3)")
    parser.add_argument("--quick", action="store_true", help="tiny data, seconds")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        library, name, scale, k, out = args.worker
        knn_worker(library, name, scale, int(k), out)
        return
    scales = [QUICK_SCALE] if args.quick else args.scale.split(",")
    for family in args.families.split(","):
        for scale in scales:
            FAMILIES[family](scale, args.pairs, args.quick)


if __name__ == "__main__":
    main()
