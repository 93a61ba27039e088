"""tui-recs BPR and logistic MF against implicit 0.7.3, and SGD-MF beside a plain NumPy loop
(run by hand; needs the bench extra).

    python benchmarks/bench_factor_models.py [--data 360k] [--scale 0.1] [--factors 64]
                                             [--epochs 3] [--pairs 3] [--quality-data hetrec]
    python benchmarks/bench_factor_models.py --quick

Same data and hyperparameters for both libraries, 2 threads each, BLAS at 1 thread. BPR gets
the play matrix (both read only which pairs are played); LMF gets, on implicit's side, the
confidences tui-recs' LMF computes itself (alpha · log(1 + plays / epsilon)). Each
measurement runs in a fresh process (peak RSS is each library's own), in pairs with the order
reversed every round (A B, B A, A B), after an untimed one-epoch fit (JIT compilation, warm
caches). SGD-MF's epoch is printed beside the same update written as a plain Python loop over
the pairs with NumPy rows (the tutorial's code), timed on one epoch.

Prints seconds per epoch (median, spread), the ratios tui-recs / implicit of wall and CPU
time, peak RSS, and on --quality-data precision@10 and NDCG@10 of both libraries on the
same seeded 80/20 split with the models' default hyperparameters; then verdicts: seconds per
epoch <= 0.6× implicit's, quality at most 2% (relative) below implicit's.

implicit's LMF draws at most f + 2 negatives per listener (per artist: listeners) and step:
its kernel caps the count at ``item_vectors.shape[1]``, the factor width, where the number of
artists was meant. For the same hyperparameters, tui-recs' LMF runs here with
``max_negatives`` = f + 2 in place of its default.
``--quick``: the demo data at a tiny scale, 16 factors, 1 epoch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from _measure import (QUICK_SCALE, alternating, median_spread, peak_rss_mib, trained_elsewhere,
                      verdict)
from bench_als import load_data

THREADS = 2
RATIO_TARGET, QUALITY_SHORTFALL = 0.6, 0.02
LIBRARIES = {"bpr": ("implicit", "tui-recs"), "lmf": ("implicit", "tui-recs"),
             "sgd-mf": ("numpy-loop", "tui-recs")}


def implicit_matrix(matrix):
    """``matrix`` with writable index arrays (implicit's Cython rejects read-only buffers,
    such as a memory-mapped dataset's)."""
    import scipy.sparse as sp

    return sp.csr_matrix((matrix.data.copy(), matrix.indices.copy(), matrix.indptr.copy()),
                         shape=matrix.shape)


def ours(model: str, factors: int, epochs: int | None):
    """tui-recs' ``model`` with its default hyperparameters (and epochs, unless given); LMF
    with implicit's cap on the negatives (f + 2)."""
    from tui_recs.models import registry

    cap = {"max_negatives": factors + 2} if model == "lmf" else {}
    return registry.create(model, factors=factors, num_threads=THREADS, random_state=0,
                           **({"iterations": epochs} if epochs else {}), **cap)


def theirs(model: str, factors: int, epochs: int | None):
    """implicit's model with tui-recs' default hyperparameters for ``model``."""
    defaults = ours(model, factors, epochs).get_params()
    epochs = defaults["iterations"]
    if model == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=factors, learning_rate=defaults["learning_rate"],
            regularization=defaults["regularization"], iterations=epochs,
            num_threads=THREADS, random_state=0)
    from implicit.cpu.lmf import LogisticMatrixFactorization

    return LogisticMatrixFactorization(
        factors=factors, learning_rate=defaults["learning_rate"],
        regularization=defaults["regularization"], iterations=epochs,
        neg_prop=defaults["neg_prop"], num_threads=THREADS, random_state=0)


def implicit_input(model: str, plays):
    """What implicit's ``model`` is given for ``plays``: the plays (BPR), or tui-recs' LMF
    confidences (LMF)."""
    if model == "lmf":
        return implicit_matrix(ours("lmf", 2, 1).confidence(plays))
    return implicit_matrix(plays)


def numpy_sgd_epoch(plays, factors: int, learning_rate: float = 0.01,
                    regularization: float = 0.02) -> None:
    """The tutorial's SGD-MF epoch: a Python loop over the (min-max scaled) observed pairs
    in a random order, NumPy rows for the factors."""
    import numpy as np

    rng = np.random.default_rng(0)
    coo = plays.tocoo()
    values = (coo.data - coo.data.min()) / (coo.data.max() - coo.data.min())
    P = rng.normal(0, 0.1, (plays.shape[0], factors))
    Q = rng.normal(0, 0.1, (plays.shape[1], factors))
    for pair in rng.permutation(coo.nnz):
        u, i = coo.row[pair], coo.col[pair]
        error = values[pair] - P[u] @ Q[i]
        P[u], Q[i] = (P[u] + learning_rate * (error * Q[i] - regularization * P[u]),
                      Q[i] + learning_rate * (error * P[u] - regularization * Q[i]))


def worker(library: str, model: str, data: str, scale: str, factors: int, epochs: int) -> None:
    """Child process: one untimed epoch, then ``epochs`` timed; prints JSON."""
    from threadpoolctl import threadpool_limits

    plays = load_data(data, scale).user_items
    with threadpool_limits(1):
        if library == "numpy-loop":
            epochs = 1  # seconds per epoch of a Python loop: one is plenty

            def fit(n: int) -> None:
                numpy_sgd_epoch(plays, factors)
        elif library == "implicit":
            matrix = implicit_input(model, plays)

            def fit(n: int) -> None:
                theirs(model, factors, n).fit(matrix, show_progress=False)
        else:
            def fit(n: int) -> None:
                ours(model, factors, n).fit(plays)

        if library != "numpy-loop":
            fit(1)
        started, cpu_started = time.perf_counter(), time.process_time()
        fit(epochs)
        seconds = (time.perf_counter() - started) / epochs
        cpu_seconds = (time.process_time() - cpu_started) / epochs
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                      "peak_rss_mib": peak_rss_mib()}))


def measure(library: str, model: str, data: str, scale: str, factors: int, epochs: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--worker", library, model, data, scale,
                             str(factors), str(epochs)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{library} {model} on {data} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def quality(data: str, scale: str, factors: int, epochs: int | None) -> list[tuple]:
    """(label, tui-recs / implicit) of precision@10 and NDCG@10 for BPR and LMF on one
    seeded split of ``data``, the default epochs unless ``epochs``."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from tui_recs.evaluation import evaluate, holdout_split

    split = holdout_split(load_data(data, scale).user_items, test_fraction=0.2, seed=0)
    ratios = []
    with threadpool_limits(1):
        for model in ("bpr", "lmf"):
            mine = evaluate(ours(model, factors, epochs), split)
            reference = theirs(model, factors, epochs)
            n = reference.iterations
            reference.fit(implicit_input(model, split.train), show_progress=False)
            other = evaluate(trained_elsewhere(np.asarray(reference.user_factors),
                                               np.asarray(reference.item_factors)),
                             split, fit=False)
            for metric in ("precision", "ndcg"):
                print(f"  {data} {model} f={factors} {n} epochs {metric}@10: tui-recs "
                      f"{mine[metric]:.4f}  implicit {other[metric]:.4f}  relative difference "
                      f"{mine[metric] / other[metric] - 1:+.1%}", flush=True)
                ratios.append((f"{data} {model} f={factors} {metric}@10, tui-recs / implicit",
                               mine[metric] / other[metric]))
    return ratios


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        library, model, data, scale, factors, epochs = sys.argv[2:8]
        worker(library, model, data, scale, int(factors), int(epochs))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="360k")
    parser.add_argument("--scale", default="0.1",
                        help="fraction of the 360K shape for the '360k' data (1: full size)")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per fit")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per model (at least 3)")
    parser.add_argument("--quality-data", default="hetrec")
    parser.add_argument("--quick", action="store_true",
                        help=f"the demo data at scale {QUICK_SCALE}, 16 factors, 1 epoch")
    args = parser.parse_args()
    quality_epochs = None
    if args.quick:
        args.data = args.quality_data = "360k"
        args.scale, args.factors, args.epochs, quality_epochs = QUICK_SCALE, 16, 1, 2
    print(f"{'data':12} {'model':7} {'reference':10} {'ref s/epoch':>11} {'ours s/epoch':>12} "
          f"{'ratio':>6} {'CPU ratio':>9} {'RSS ref':>8} {'RSS ours':>8}")
    ratios = []
    for data in args.data.split(","):
        load_data(data, args.scale)  # fills the dataset cache outside the timed runs
        label = f"360k×{args.scale}" if data == "360k" else data
        for model, (reference, _) in LIBRARIES.items():
            measure("tui-recs", model, data, args.scale, args.factors, 1)  # the JIT cache
            runs = alternating({library: lambda library=library: measure(
                library, model, data, args.scale, args.factors, args.epochs)
                for library in LIBRARIES[model]}, args.pairs)
            wall = {lib: [r["seconds"] for r in rs] for lib, rs in runs.items()}
            median = {lib: statistics.median(values) for lib, values in wall.items()}
            cpu = {lib: statistics.median(r["cpu_seconds"] for r in rs) for lib, rs in runs.items()}
            rss = {lib: max(r["peak_rss_mib"] for r in rs) for lib, rs in runs.items()}
            print(f"{label:12} {model:7} {reference:10} {median[reference]:>11.3f} "
                  f"{median['tui-recs']:>12.3f} {median['tui-recs'] / median[reference]:>6.2f} "
                  f"{cpu['tui-recs'] / cpu[reference]:>9.2f} {rss[reference]:>6.0f}MB "
                  f"{rss['tui-recs']:>6.0f}MB", flush=True)
            for library, values in wall.items():
                print(f"  {library} s/epoch: {median_spread(values, ' s')}")
            if reference == "implicit":
                ratios.append((f"{label} f={args.factors} {model}: seconds per epoch "
                               "tui-recs / implicit, medians",
                               median["tui-recs"] / median[reference]))
    quality_ratios = []
    if args.quality_data:
        print(f"quality on {args.quality_data} (same split, same hyperparameters):")
        quality_ratios = quality(args.quality_data, args.scale, args.factors, quality_epochs)
    for what, ratio in ratios:
        verdict(what, ratio, RATIO_TARGET, "x")
    for what, ratio in quality_ratios:
        verdict(what, ratio, 1 - QUALITY_SHORTFALL, at_least=True)


if __name__ == "__main__":
    main()
