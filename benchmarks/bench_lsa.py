"""LSA's fit against plain scipy ``svds(solver="arpack")`` on the same BM25 matrix (by hand).

    python benchmarks/bench_lsa.py [--scale 360k | --data PATH] [--factors 64] [--pairs 3]
                                   [--products] [--quick]

Data: the demo generator at the given scale ("360k": ~290K artists × 360K listeners, 17.7M
plays; or a fraction of that shape, e.g. 0.25) via the dataset cache, or the dataset at
``--data``. Runs, ``--pairs`` times each with the order reversed every round (A B C D,
D C B A, ...), and prints the median and spread of

- LSA.fit (BM25 weighting + transpose + SVD in float32) with the default solver, block
  Lanczos, and with PROPACK (the solver actually used shown: each may fall back),
- plain ``svds(A, k, solver="arpack")`` on the BM25 artist × listener matrix as weighting
  returns it (float32), and the same in float64,

the ratios of the medians of the fits to plain ARPACK, with the verdict on the target (the
default solver <= 0.5x arpack float32), and each fit's
agreement with the float64 ARPACK solve: the largest relative error of a singular value, and
how many of the top-10 cosine neighbours on U·S of PROBES artists (the most listened half,
a random half) are the same, exactly and up to ties (a neighbour whose float64 cosine equals
the 10th best's within 1e-6 counts: on hetrec ~10% of lists end in such ties, e.g. artists
with the same single listener).

``--products`` also times the sparse products the solvers spend their time in: one SciPy
CSR mat-vec, SciPy's CSR × 16-column block, and the Numba block product of the Lanczos solver
on 1 and 2 threads. Timings depend on BLAS threads (OPENBLAS_NUM_THREADS) and on other
load, printed with the load average: run on a quiet box, and compare ratios within a run.
``--quick``: tiny data, k = 8.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
from _measure import QUICK_SCALE, alternating, median_spread, timed, verdict

#: Artists whose related-artist lists are compared.
PROBES = 1000
#: Cosines within this of the reference's 10th best count as ties.
TIE = 1e-6


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float, object]:
    """(fastest wall seconds, fastest CPU seconds of this process, result of the last run)
    over ``repeat`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    return min(walls), min(cpus), result


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def probe_artists(plays) -> np.ndarray:
    """PROBES artist ids: the PROBES / 2 with most listeners, then a seeded random sample."""
    listeners = np.bincount(plays.indices, minlength=plays.shape[1])
    top = np.argsort(-listeners, kind="stable")[:PROBES // 2]
    rest = np.setdiff1d(np.arange(plays.shape[1]), top)
    sample = np.random.default_rng(0).choice(rest, min(len(rest), PROBES - len(top)),
                                             replace=False)
    return np.concatenate([top, sample])


def unit_rows(factors: np.ndarray) -> np.ndarray:
    """``factors`` (items × k) in float64 with each row scaled to length 1 (zero rows stay 0)."""
    factors = factors.astype(np.float64)
    return factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-300)


def probe_cosines(unit: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """len(probes) × items cosines of the probes with every artist, a probe's own cell -inf."""
    scores = unit[probes] @ unit.T
    scores[np.arange(len(probes)), probes] = -np.inf
    return scores


def neighbour_agreement(factors: np.ndarray, reference: np.ndarray, probes: np.ndarray,
                        n: int = 10) -> tuple[float, float]:
    """(share of the same top-n neighbours, the same share counting reference ties) of the
    probes on ``factors`` against ``reference`` (items × k each)."""
    from tui_recs.models.topk import top_k

    found, expected = unit_rows(factors), unit_rows(reference)
    same = tied = 0
    for start in range(0, len(probes), 100):
        block = probes[start:start + 100]
        ids = top_k(probe_cosines(found, block), n)[0]
        scores = probe_cosines(expected, block)
        best_ids, best = top_k(scores, n)
        same += sum(len(set(a) & set(b)) for a, b in zip(ids.tolist(), best_ids.tolist()))
        tied += int((np.take_along_axis(scores, ids, axis=1) >= best[:, -1:] - TIE).sum())
    return same / (n * len(probes)), tied / (n * len(probes))


def compare_fits(plays, factors: int, pairs: int) -> None:
    from scipy.sparse.linalg import svds

    from tui_recs.models.lsa import LSA
    from tui_recs.models.weighting import bm25

    LSA(factors=4, random_state=0).fit(plays[:2000])  # JIT compile or cache load: untimed
    defaults = LSA()
    artist_listener = bm25(plays, defaults.bm25_k1, defaults.bm25_b).T.tocsr()
    start = np.random.default_rng(0).standard_normal(min(artist_listener.shape))
    matrices = {dtype: artist_listener.astype(dtype) for dtype in ("float32", "float64")}

    def fit(solver: str):
        return timed(lambda: LSA(factors=factors, random_state=0, solver=solver).fit(plays))

    def plain(dtype: str):
        return timed(lambda: svds(matrices[dtype], k=factors, solver="arpack",
                                  v0=start.astype(dtype)))

    runs = alternating({"lanczos": fit("lanczos"), "propack": fit("propack"),
                        "arpack float32": plain("float32"), "arpack float64": plain("float64")},
                       pairs)
    walls = {name: [wall for wall, _, _ in results] for name, results in runs.items()}
    for name, results in runs.items():
        used = f" (used {results[-1][2].solver_used})" if name in ("lanczos", "propack") else ""
        print(f"{name}{used}: wall {median_spread(walls[name], ' s')}; CPU "
              f"{median_spread([cpu for _, cpu, _ in results], ' s')}", flush=True)
    print(load_average())
    U, S, _ = runs["arpack float64"][-1][2]
    order = np.argsort(-S)
    reference_values, reference = S[order], U[:, order] * S[order]
    probes = probe_artists(plays)
    median = {name: float(np.median(values)) for name, values in walls.items()}
    print(f"against arpack float64 (k={factors}; top-10 neighbours of {len(probes):,} artists):")
    for solver in ("lanczos", "propack"):
        model = runs[solver][-1][2]
        error = np.max(np.abs(model.singular_values - reference_values) / reference_values)
        same, tied = neighbour_agreement(model.item_factors, reference, probes)
        print(f"  {solver}: / arpack float32 = {median[solver] / median['arpack float32']:.2f} "
              f"wall, / float64 = {median[solver] / median['arpack float64']:.2f} (medians); "
              f"singular values to {error:.1e}; neighbours {same:.3%} the same, {tied:.3%} up "
              "to ties")
    verdict("LSA fit (lanczos) / plain arpack float32, medians",
            median["lanczos"] / median["arpack float32"], 0.5, "x")


def compare_products(plays, repeat: int, columns: int = 16) -> None:
    """Per-column milliseconds of A·X and Aᵀ·Y: SciPy against the Numba block product."""
    from tui_recs.models._numba import threads
    from tui_recs.models._svd_kernels import SparseProduct, aligned_empty
    from tui_recs.models.weighting import bm25

    listener_artist = bm25(plays, 3.0, 0.8)
    repeats = max(repeat, 5)
    for name, matrix in (("A·X  (artist × listener)", listener_artist.T.tocsr()),
                         ("Aᵀ·Y (listener × artist)", listener_artist)):
        block = aligned_empty(matrix.shape[1], columns)
        block[:] = np.random.default_rng(0).standard_normal(block.shape)
        vector = np.ascontiguousarray(block[:, 0])
        line = (f"{name}, ms per column: scipy mat-vec "
                f"{best_of(repeats, lambda: matrix @ vector)[0] * 1000:.1f}, scipy × "
                f"{columns} columns {best_of(repeats, lambda: matrix @ block)[0] * 1000 / columns:.1f}")
        product, out = SparseProduct(matrix), aligned_empty(matrix.shape[0], columns)
        for count in (1, 2):
            with threads(count) as used:
                product.into(block, out)  # JIT compile or cache load
                ms = best_of(repeats, lambda: product.into(block, out))[0] * 1000 / columns
            line += f"; numba {used} thread(s) {ms:.1f}"
        np.testing.assert_allclose(out, matrix @ block, rtol=1e-3, atol=1e-3)
        print(line, flush=True)


def main() -> None:
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k", help='"360k" or a fraction of it, e.g. 0.25')
    parser.add_argument("--data", type=Path, help="a dataset to use instead of the demo data")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=3,
                        help="alternating rounds of the fits (at least 3)")
    parser.add_argument("--products", action="store_true",
                        help="also time SciPy vs Numba-parallel sparse products")
    parser.add_argument("--quick", action="store_true", help=f"tiny data (scale {QUICK_SCALE}), k=8")
    args = parser.parse_args()
    if args.quick:
        args.scale, args.factors = QUICK_SCALE, 8
    if args.data is not None:
        plays = open_dataset(args.data).user_items
    else:
        plays = open_dataset(None, **scale_options(args.scale)).user_items
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"data: {plays.shape[0]:,} listeners × {plays.shape[1]:,} artists, {plays.nnz:,} "
          f"plays; k={args.factors}; OPENBLAS_NUM_THREADS={blas_threads}; {load_average()}")
    compare_fits(plays, args.factors, args.pairs)
    if args.products:
        compare_products(plays, args.pairs)


if __name__ == "__main__":
    main()
