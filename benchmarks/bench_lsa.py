"""LSA's truncated SVD against plain scipy ``svds(solver="arpack")`` (run by hand).

    python benchmarks/bench_lsa.py [--scale 360k] [--factors 64]

Both factor the same BM25-weighted artist × listener matrix of the demo data at the given
scale; prints each time and the ratio (target: LSA <= 0.5x arpack) and how closely their
top singular values agree.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from scipy.sparse.linalg import svds

    from tui_recs.data.store import open_dataset
    from tui_recs.data.synthetic import scale_options
    from tui_recs.models.lsa import LSA
    from tui_recs.models.weighting import bm25

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k")
    parser.add_argument("--factors", type=int, default=64)
    args = parser.parse_args()
    plays = open_dataset(None, **scale_options(args.scale)).user_items
    print(f"data: {plays.shape[0]:,} x {plays.shape[1]:,}, {plays.nnz:,} plays, k={args.factors}")
    started = time.perf_counter()
    model = LSA(factors=args.factors, random_state=0).fit(plays)
    ours = time.perf_counter() - started
    artist_listener = bm25(plays, model.bm25_k1, model.bm25_b).T.tocsr().astype(np.float64)
    v0 = np.random.default_rng(0).standard_normal(min(artist_listener.shape))
    started = time.perf_counter()
    _, reference, _ = svds(artist_listener, k=args.factors, solver="arpack", v0=v0)
    arpack = time.perf_counter() - started
    reference = np.sort(reference)[::-1]
    agreement = np.max(np.abs(model.singular_values - reference) / reference)
    print(f"LSA fit (BM25 + svds {model.solver}): {ours:.1f} s; plain arpack: {arpack:.1f} s; "
          f"ratio {ours / arpack:.2f} (target <= 0.5); singular values agree to {agreement:.1e}")


if __name__ == "__main__":
    main()
