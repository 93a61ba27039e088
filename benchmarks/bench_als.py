"""tui-recs ALS against implicit 0.7.3 on the same work (run by hand; needs the bench extra).

    python benchmarks/bench_als.py [--data hetrec,default,0.1,360k] [--factors 64,128]
                                   [--solvers cg,cholesky] [--iterations 3] [--repeats 2]

Same data, same confidences (c = 1 + alpha * plays: implicit gets that matrix with its own
alpha at 1), same factors, iterations, cg_steps=3 and regularization, 2 threads each, BLAS at
1 thread. Each measurement runs in a fresh process (so peak RSS is each library's own), in
the order A B A B, after a warm-up fit (JIT compile) that is not timed. Prints seconds per
iteration, the ratio tui-recs / implicit, peak RSS, and on hetrec the quality of both
(precision@10, NDCG@10) on the same seeded split. Targets: CG ratio <= 0.6, Cholesky <= 0.7,
RSS within 1.2x, quality within 2% (relative).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"
ALPHA, REGULARIZATION, THREADS = 1.0, 0.1, 2


def load_data(name: str):
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options

    if name == "hetrec":
        return open_dataset(HETREC)
    return open_dataset(None, **scale_options(name))


def worker(library: str, data: str, factors: int, solver: str, iterations: int) -> None:
    """Child process: fit once untimed (compile), then time ``iterations``; print JSON."""
    import time

    from _measure import peak_rss_mib

    from threadpoolctl import threadpool_limits

    plays = load_data(data).user_items
    with threadpool_limits(1):
        if library == "implicit":
            from implicit.cpu.als import AlternatingLeastSquares

            confidence = plays.copy()
            confidence.data = 1.0 + ALPHA * confidence.data

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
        started = time.perf_counter()
        fit(iterations)
        seconds = (time.perf_counter() - started) / iterations
    print(json.dumps({"seconds_per_iteration": seconds, "peak_rss_mib": peak_rss_mib()}))


def measure(library: str, data: str, factors: int, solver: str, iterations: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--worker", library, data, str(factors),
                             solver, str(iterations)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{library} on {data} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def quality(factors: int) -> None:
    """Precision@10 and NDCG@10 of both libraries on the same hetrec split."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from tui_recs.evaluation import evaluate, holdout_split
    from tui_recs.models.als import ALS
    from tui_recs.models.base import FactorModel

    class Fitted(FactorModel):
        """Factors trained elsewhere, queried through tui-recs' exact top-k."""

        name = "implicit"

        def __init__(self, user_factors, item_factors):
            self.user_factors, self.item_factors = user_factors, item_factors

        def fit(self, user_items, callback=None):
            return self

        def get_params(self):
            return {}

    from implicit.cpu.als import AlternatingLeastSquares

    split = holdout_split(load_data("hetrec").user_items, test_fraction=0.2, seed=0)
    alpha = 0.01  # the tuned confidence scale for raw plays (docs/defaults.md)
    with threadpool_limits(1):
        ours = evaluate(ALS(factors=factors, regularization=REGULARIZATION, alpha=alpha,
                            weighting="none", num_threads=THREADS, random_state=0), split)
        confidence = split.train.copy()
        confidence.data = 1.0 + alpha * confidence.data
        reference = AlternatingLeastSquares(factors=factors, regularization=REGULARIZATION,
                                            alpha=1.0, num_threads=THREADS, random_state=0)
        reference.fit(confidence, show_progress=False)
        theirs = evaluate(Fitted(np.asarray(reference.user_factors), np.asarray(reference.item_factors)),
                          split, fit=False)
    for metric in ("precision", "ndcg"):
        print(f"  hetrec f={factors} {metric}@10: tui-recs {ours[metric]:.4f}  implicit "
              f"{theirs[metric]:.4f}  relative difference {ours[metric] / theirs[metric] - 1:+.1%}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        library, data, factors, solver, iterations = sys.argv[2:7]
        worker(library, data, int(factors), solver, int(iterations))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="hetrec,default,0.1")
    parser.add_argument("--factors", default="64,128")
    parser.add_argument("--solvers", default="cg,cholesky")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="A B pairs per setting")
    args = parser.parse_args()
    print(f"{'data':8} {'f':>4} {'solver':9} {'implicit s/it':>13} {'tui-recs s/it':>13} "
          f"{'ratio':>6} {'RSS implicit':>12} {'RSS ours':>9} {'RSS ratio':>9}")
    for data in args.data.split(","):
        load_data(data)  # fills the dataset cache outside the timed runs
        for factors in (int(f) for f in args.factors.split(",")):
            for solver in args.solvers.split(","):
                runs = {"implicit": [], "tui-recs": []}
                for _ in range(args.repeats):  # A B A B
                    for library in ("implicit", "tui-recs"):
                        runs[library].append(measure(library, data, factors, solver, args.iterations))
                best = {lib: min(r["seconds_per_iteration"] for r in rs) for lib, rs in runs.items()}
                rss = {lib: max(r["peak_rss_mib"] for r in rs) for lib, rs in runs.items()}
                print(f"{data:8} {factors:>4} {solver:9} {best['implicit']:>13.3f} "
                      f"{best['tui-recs']:>13.3f} {best['tui-recs'] / best['implicit']:>6.2f} "
                      f"{rss['implicit']:>10.0f}MB {rss['tui-recs']:>7.0f}MB "
                      f"{rss['tui-recs'] / rss['implicit']:>9.2f}", flush=True)
    if "hetrec" in args.data.split(","):
        print("quality (same split, same confidences):")
        for factors in (int(f) for f in args.factors.split(",")):
            quality(factors)


if __name__ == "__main__":
    main()
