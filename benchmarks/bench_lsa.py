"""LSA's fit against plain scipy ``svds(solver="arpack")`` on the same BM25 matrix (by hand).

    python benchmarks/bench_lsa.py [--scale 360k] [--factors 64] [--repeat 2] [--products]

Data: the demo generator at the given scale ("360k": ~290K artists × 360K listeners, 17.8M
plays; or a fraction of that shape, e.g. 0.25), via the dataset cache. Prints the best of
``--repeat`` runs of

- LSA.fit (BM25 weighting + transpose + PROPACK in float32, the solver actually used shown),
- plain ``svds(A, k, solver="arpack")`` on the BM25 artist × listener matrix as weighting
  returns it (float32), and the same in float64,

each ratio (target: LSA <= 0.5x arpack) and how closely the singular values agree.

``--products`` also times the sparse products the solvers spend most of their time in,
SciPy's single-threaded CSR products against Numba row-parallel CSR gathers on 1 and 2
threads; this is the measurement behind LSA *not* using a Numba LinearOperator.
Timings depend on BLAS threads (OPENBLAS_NUM_THREADS) and on other load; run on a quiet box.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import numpy as np


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, float, object]:
    """(fastest wall seconds, fastest CPU seconds of this process, result of the last run)
    over ``repeat`` runs. CPU time is the steadier figure on a busy machine for
    single-threaded runs (OPENBLAS_NUM_THREADS=1)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    return min(walls), min(cpus), result


def compare_fits(plays, factors: int, repeat: int) -> None:
    from scipy.sparse.linalg import svds

    from tui_recs.models.lsa import LSA
    from tui_recs.models.weighting import bm25

    wall, cpu, model = best_of(repeat, lambda: LSA(factors=factors, random_state=0).fit(plays))
    artist_listener = bm25(plays, model.bm25_k1, model.bm25_b).T.tocsr()
    start = np.random.default_rng(0).standard_normal(min(artist_listener.shape))
    print(f"LSA fit (BM25 + svds {model.solver_used}, float32): {wall:.2f} s wall, {cpu:.2f} s CPU")
    for dtype in (np.float32, np.float64):
        matrix = artist_listener.astype(dtype)
        plain_wall, plain_cpu, (_, reference, _) = best_of(repeat, lambda: svds(
            matrix, k=factors, solver="arpack", v0=start.astype(dtype)))
        reference = np.sort(reference)[::-1]
        agreement = np.max(np.abs(model.singular_values - reference) / reference)
        print(f"plain svds arpack {np.dtype(dtype).name}: {plain_wall:.2f} s wall, "
              f"{plain_cpu:.2f} s CPU; LSA / arpack = {wall / plain_wall:.2f} wall, "
              f"{cpu / plain_cpu:.2f} CPU (target <= 0.5); singular values agree to "
              f"{agreement:.1e}")


def compare_products(plays, repeat: int) -> None:
    """Per-product milliseconds of A·x and Aᵀ·y: SciPy vs Numba row-parallel gathers."""
    from tui_recs.models._numba import numba
    from tui_recs.models.weighting import bm25

    @numba.njit(parallel=True, boundscheck=False)
    def gather_product(indptr, indices, data, x, out, chunk_bounds):
        # Rows in chunks of equal stored entries; four partial sums per row hide the add
        # latency (the variant that measured fastest of those tried).
        for chunk in numba.prange(len(chunk_bounds) - 1):
            for row in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
                sum0 = sum1 = sum2 = sum3 = 0.0
                j, end = indptr[row], indptr[row + 1]
                while j + 3 < end:
                    sum0 += data[j] * x[np.uintp(indices[j])]
                    sum1 += data[j + 1] * x[np.uintp(indices[j + 1])]
                    sum2 += data[j + 2] * x[np.uintp(indices[j + 2])]
                    sum3 += data[j + 3] * x[np.uintp(indices[j + 3])]
                    j += 4
                while j < end:
                    sum0 += data[j] * x[np.uintp(indices[j])]
                    j += 1
                out[row] = (sum0 + sum1) + (sum2 + sum3)

    listener_artist = bm25(plays, 3.0, 0.8)
    for name, matrix in (("A·x  (artist × listener)", listener_artist.T.tocsr()),
                         ("Aᵀ·y (listener × artist)", listener_artist)):
        x = np.random.default_rng(0).standard_normal(matrix.shape[1]).astype(matrix.dtype)
        out = np.empty(matrix.shape[0], dtype=matrix.dtype)
        bounds = np.unique(np.searchsorted(matrix.indptr, np.linspace(0, matrix.nnz, 257)))
        bounds[0], bounds[-1] = 0, matrix.shape[0]
        repeats = max(repeat, 10)
        scipy_ms = best_of(repeats, lambda: matrix @ x)[0] * 1000
        line = f"{name}: scipy {scipy_ms:.1f} ms"
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            gather_product(matrix.indptr, matrix.indices, matrix.data, x, out, bounds)  # compile
            ms = best_of(repeats, lambda: gather_product(matrix.indptr, matrix.indices,
                                                         matrix.data, x, out, bounds))[0] * 1000
            line += f"; numba {threads} thread(s) {ms:.1f} ms"
        np.testing.assert_allclose(out, matrix @ x, rtol=1e-3, atol=1e-3)
        print(line)


def main() -> None:
    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k", help='"360k" or a fraction of it, e.g. 0.25')
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best kept)")
    parser.add_argument("--products", action="store_true",
                        help="also time SciPy vs Numba-parallel sparse products")
    args = parser.parse_args()
    plays = open_dataset(None, **scale_options(args.scale)).user_items
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"data: {plays.shape[0]:,} listeners × {plays.shape[1]:,} artists, {plays.nnz:,} "
          f"plays; k={args.factors}; OPENBLAS_NUM_THREADS={blas_threads}")
    compare_fits(plays, args.factors, args.repeat)
    if args.products:
        compare_products(plays, args.repeat)


if __name__ == "__main__":
    main()
