"""tui-recs ALS against implicit 0.7.3 on the same work (run by hand; needs the bench extra).

    python benchmarks/bench_als.py [--data hetrec,default,360k] [--scale 0.1]
                                   [--factors 64,128] [--solvers cg,cholesky]
                                   [--iterations 3] [--pairs 3] [--quality-data hetrec]
    python benchmarks/bench_als.py --quick
    python benchmarks/bench_als.py --balance 8 [--data ...] [--factors ...]

Data: hetrec (../shared/data/lastfm-hetrec2011-2k), the demo data at its default size, and the
demo data in the Last.fm 360K shape scaled by --scale (1 for the full 360K shape).

Same data, same confidences (c = 1 + alpha * plays: implicit gets that matrix with its own
alpha at 1), same factors, iterations, cg_steps=3 and regularization, 2 threads each, BLAS at
1 thread. Each measurement runs in a fresh process (so peak RSS is each library's own), in
pairs with the order reversed every round (A B, B A, A B, ...), after a warm-up fit that is
not timed. Both libraries build their input from the memory-mapped play counts in their
process, each as frugally as it allows: tui-recs weighs new values onto the mapped index
arrays, implicit needs writable ones and gets copies (see implicit_input). One unmeasured
tui-recs run per data set and solver first fills the JIT cache: compiling happens once per
machine, and LLVM's memory while it compiles is no part of a fit.

Prints the seconds per iteration (median of the pairs, with the spread), the ratio
tui-recs / implicit of the medians of wall time and of CPU time (the CPU ratio is the
steadier one on a busy machine), peak RSS, and on --quality-data the quality of both
(precision@10, NDCG@10) on the same seeded split, then one verdict per target: wall ratio
<= 0.6 with CG and <= 0.7 with Cholesky, peak RSS ratio <= 1.2, quality at most 2%
(relative) below implicit's. ``--quick``: the demo data at a tiny scale, CG only, 16
factors, 1 iteration.

--balance THREADS measures instead how evenly a CG half-step's work splits over threads,
with tui-recs' schedule and with the equal row counts a plain prange would give.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _measure import QUICK_SCALE, alternating, median_spread, trained_elsewhere, verdict

HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"
ALPHA, REGULARIZATION, THREADS = 1.0, 0.1, 2
#: Targets: tui-recs / implicit wall time per solver, peak RSS, quality (relative shortfall).
RATIO_TARGETS = {"cg": 0.6, "cholesky": 0.7}
RSS_TARGET, QUALITY_SHORTFALL = 1.2, 0.02


def load_data(name: str, scale: str):
    """"hetrec", "default" (the demo data) or "360k" (the demo data in the 360K shape × scale)."""
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options

    if name == "hetrec":
        return open_dataset(HETREC)
    if name == "360k":
        return open_dataset(None, **scale_options("360k" if float(scale) == 1 else scale))
    return open_dataset(None, **scale_options(name))


def implicit_input(plays, alpha: float):
    """c = 1 + alpha * plays (users × items CSR float32) as implicit takes it, with no
    temporaries; index arrays are shared with ``plays`` where writable (implicit's Cython
    rejects read-only buffers, such as a memory-mapped dataset's) and copied otherwise."""
    import numpy as np
    import scipy.sparse as sp

    data = plays.data * np.float32(alpha)
    data += np.float32(1.0)
    indices, indptr = (array if array.flags.writeable else array.copy()
                       for array in (plays.indices, plays.indptr))
    return sp.csr_matrix((data, indices, indptr), shape=plays.shape, copy=False)


def worker(library: str, data: str, scale: str, factors: int, solver: str,
           iterations: int) -> None:
    """Child process: fit once untimed (compile), then time ``iterations``; print JSON."""
    import time

    from _measure import peak_rss_mib

    from threadpoolctl import threadpool_limits

    plays = load_data(data, scale).user_items
    with threadpool_limits(1):
        if library == "implicit":
            from implicit.cpu.als import AlternatingLeastSquares

            confidence = implicit_input(plays, ALPHA)

            def fit(n: int):
                model = AlternatingLeastSquares(factors=factors, regularization=REGULARIZATION,
                                                alpha=1.0, iterations=n, use_cg=solver == "cg",
                                                num_threads=THREADS, random_state=0)
                model.cg_steps = 3
                model.fit(confidence, show_progress=False)
                return model.user_factors, model.item_factors
        else:
            from tui_recs.models.als import ALS

            def fit(n: int):
                model = ALS(factors=factors, regularization=REGULARIZATION, alpha=ALPHA,
                            iterations=n, solver=solver, cg_steps=3, weighting="none",
                            num_threads=THREADS, random_state=0)
                model.fit(plays)
                return model.user_factors, model.item_factors

        fit(1)
        started, cpu_started = time.perf_counter(), time.process_time()
        fit(iterations)
        seconds = (time.perf_counter() - started) / iterations
        cpu_seconds = (time.process_time() - cpu_started) / iterations
    print(json.dumps({"seconds_per_iteration": seconds, "cpu_seconds_per_iteration": cpu_seconds,
                      "peak_rss_mib": peak_rss_mib()}))


def measure(library: str, data: str, scale: str, factors: int, solver: str,
            iterations: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--worker", library, data, scale,
                             str(factors), solver, str(iterations)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{library} on {data} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def quality(data: str, scale: str, factors: int) -> None:
    """Precision@10 and NDCG@10 of both libraries on the same split of ``data``, with a
    verdict each."""
    import numpy as np
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from tui_recs.evaluation import evaluate, holdout_split
    from tui_recs.models.als import ALS

    split = holdout_split(load_data(data, scale).user_items, test_fraction=0.2, seed=0)
    alpha = 0.01  # the tuned confidence scale for raw plays (docs/defaults.md)
    with threadpool_limits(1):
        ours = evaluate(ALS(factors=factors, regularization=REGULARIZATION, alpha=alpha,
                            weighting="none", num_threads=THREADS, random_state=0), split)
        confidence = implicit_input(split.train, alpha)
        reference = AlternatingLeastSquares(factors=factors, regularization=REGULARIZATION,
                                            alpha=1.0, num_threads=THREADS, random_state=0)
        reference.fit(confidence, show_progress=False)
        theirs = evaluate(trained_elsewhere(np.asarray(reference.user_factors),
                                            np.asarray(reference.item_factors)), split, fit=False)
    for metric in ("precision", "ndcg"):
        print(f"  {data} f={factors} {metric}@10: tui-recs {ours[metric]:.4f}  implicit "
              f"{theirs[metric]:.4f}  relative difference {ours[metric] / theirs[metric] - 1:+.1%}")
        verdict(f"{data} f={factors} {metric}@10, tui-recs / implicit",
                ours[metric] / theirs[metric], 1 - QUALITY_SHORTFALL, at_least=True)


def balance(data: str, scale: str, factors: int, n_threads: int, repeats: int = 9) -> None:
    """Per-thread work of CG half-steps: each thread's share timed alone on one thread (CPU
    seconds, best of ``repeats``); a static parallel loop lasts as long as its largest share.

    Compares tui-recs' schedule with an equal count of consecutive rows per thread, which is
    what a prange over the rows would do (with every row solved alone).
    """
    import time

    import numpy as np

    from tui_recs.models import _als_kernels as kernels
    from tui_recs.models._numba import threads
    from tui_recs.models.als import ALS, _Side

    plays = load_data(data, scale).user_items
    model = ALS(factors=factors, regularization=REGULARIZATION, alpha=ALPHA, iterations=1,
                weighting="none", num_threads=1, random_state=0).fit(plays)
    user_confidence = model._confidence(plays)
    sides = (("users", user_confidence, model.user_factors, model.item_factors),
             ("items", user_confidence.T.tocsr(), model.item_factors, model.user_factors))
    with threads(1):
        for name, confidence, solved, fixed in sides:
            side, gram = _Side(confidence, n_threads, factors), model._gram(fixed)
            n_rows = len(side.indptr) - 1
            plain = (np.linspace(0, n_rows, n_threads + 1).astype(np.int64),
                     np.arange(n_rows + 1, dtype=np.int64), np.arange(n_rows, dtype=np.int64))
            for label, (bucket_ptr, group_ptr, rows) in (("tui-recs", side.buckets),
                                                          ("prange", plain)):
                shares = np.full(n_threads, np.inf)
                for _ in range(repeats):  # interleaved, so that a busy spell hits all shares
                    for bucket in range(n_threads):
                        work, started = solved.copy(), time.process_time()
                        kernels.cg_update(side.indptr, side.indices, side.confidence_minus_one,
                                          work, fixed, gram, 3, bucket_ptr[bucket:bucket + 2],
                                          group_ptr, rows)
                        shares[bucket] = min(shares[bucket], time.process_time() - started)
                print(f"  {data} f={factors} {name} {n_threads} threads, {label:8} split: "
                      f"largest share / mean {shares.max() / shares.mean():.2f}, "
                      f"largest {shares.max() * 1000:.1f} ms", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        library, data, scale, factors, solver, iterations = sys.argv[2:8]
        worker(library, data, scale, int(factors), solver, int(iterations))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="hetrec,default,360k")
    parser.add_argument("--scale", default="0.1",
                        help="fraction of the 360K shape for the '360k' data (1: full size)")
    parser.add_argument("--factors", default="64,128")
    parser.add_argument("--solvers", default="cg,cholesky")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3,
                        help="implicit / tui-recs pairs per setting (at least 3)")
    parser.add_argument("--quality-data", default="hetrec",
                        help="the data the quality of both is compared on")
    parser.add_argument("--balance", type=int, metavar="THREADS",
                        help="instead: how evenly CG work splits over THREADS threads")
    parser.add_argument("--quick", action="store_true",
                        help=f"the demo data at scale {QUICK_SCALE}, CG, 16 factors, 1 iteration")
    args = parser.parse_args()
    if args.quick:
        args.data = args.quality_data = "360k"
        args.scale, args.factors, args.solvers, args.iterations = QUICK_SCALE, "16", "cg", 1
    if args.balance:
        for data in args.data.split(","):
            for factors in (int(f) for f in args.factors.split(",")):
                balance(data, args.scale, factors, args.balance)
        return
    print(f"{'data':10} {'f':>4} {'solver':9} {'implicit s/it':>13} {'tui-recs s/it':>13} "
          f"{'ratio':>6} {'CPU ratio':>9} {'RSS implicit':>12} {'RSS ours':>9} {'RSS ratio':>9}")
    verdicts = []
    for data in args.data.split(","):
        load_data(data, args.scale)  # fills the dataset cache outside the timed runs
        for solver in args.solvers.split(","):  # fills the JIT cache (see the docstring)
            measure("tui-recs", data, args.scale, int(args.factors.split(",")[0]), solver, 1)
        for factors in (int(f) for f in args.factors.split(",")):
            for solver in args.solvers.split(","):
                runs = alternating({library: lambda library=library: measure(
                    library, data, args.scale, factors, solver, args.iterations)
                    for library in ("implicit", "tui-recs")}, args.pairs)
                wall = {lib: [r["seconds_per_iteration"] for r in rs] for lib, rs in runs.items()}
                median = {lib: statistics.median(values) for lib, values in wall.items()}
                cpu = {lib: statistics.median(r["cpu_seconds_per_iteration"] for r in rs)
                       for lib, rs in runs.items()}
                rss = {lib: max(r["peak_rss_mib"] for r in rs) for lib, rs in runs.items()}
                label = f"360k×{args.scale}" if data == "360k" else data
                print(f"{label:10} {factors:>4} {solver:9} {median['implicit']:>13.3f} "
                      f"{median['tui-recs']:>13.3f} {median['tui-recs'] / median['implicit']:>6.2f} "
                      f"{cpu['tui-recs'] / cpu['implicit']:>9.2f} "
                      f"{rss['implicit']:>10.0f}MB {rss['tui-recs']:>7.0f}MB "
                      f"{rss['tui-recs'] / rss['implicit']:>9.2f}", flush=True)
                for library, values in wall.items():
                    print(f"  {library} s/iteration: {median_spread(values, ' s')}")
                verdicts.append((f"{label} f={factors} {solver}",
                                 median["tui-recs"] / median["implicit"],
                                 rss["tui-recs"] / rss["implicit"], RATIO_TARGETS[solver]))
    for label, ratio, rss_ratio, target in verdicts:
        verdict(f"{label}: wall time tui-recs / implicit, medians", ratio, target, "x")
        verdict(f"{label}: peak RSS tui-recs / implicit", rss_ratio, RSS_TARGET, "x")
    if args.quality_data:
        print(f"quality on {args.quality_data} (same split, same confidences):")
        for factors in (int(f) for f in args.factors.split(",")):
            quality(args.quality_data, args.scale, factors)


if __name__ == "__main__":
    main()
