"""Numba kernel of LSA's block Lanczos SVD: a CSR matrix times a dense block of columns.

``SparseProduct(M).into(X, out)`` computes out = M · X for a CSR matrix M (rows × cols,
float32) and a block X (cols × b float32, C order). Each stored entry's index is read once
for all b columns, and rows are gathered in parallel. At the 360K shape (17.7M stored
entries) and b = 16 this runs at 2.6-4 ms per column, against 11-15 ms for one SciPy CSR
mat-vec (``benchmarks/bench_lsa.py --products``): a Lanczos block pays for itself even before
it converges in fewer steps.

The rows of X that a row of M reads are scattered over ~25-100 MB, so the gather waits on
memory; prefetching the X row of the entry PREFETCH_AHEAD entries ahead made it 1.8-3x
faster. With b = 16 a 64-byte-aligned row of X is one cache line (see ``aligned_empty``).

Rows are split into chunks of equal stored entries (row lengths are very skewed); every output
row is summed by one thread in a fixed order, so the result does not depend on the thread
count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tui_recs.models._numba import numba, threads
from tui_recs.models._prefetch import prefetch_row

if TYPE_CHECKING:
    import scipy.sparse as sp

_JIT = dict(cache=True, nogil=True, fastmath=True, boundscheck=False, error_model="numpy")
#: How many stored entries ahead of the current one the gather prefetches a row of X.
PREFETCH_AHEAD = 32
#: Products with fewer stored entries run on one thread: they take under ~10 ms, and
#: Numba's worker threads spin after each parallel region, which starved the BLAS calls
#: between products (on hetrec, 2 cores with other load: 3.7 s for the SVD, against 0.12 s).
PARALLEL_FROM = 1 << 20
#: Chunks of rows per product: enough for threads that finish early to take more.
CHUNKS = 256
#: Bytes of a cache line, the alignment of ``aligned_empty``'s rows.
LINE = 64


@numba.njit(parallel=True, **_JIT)
def _spmm(indptr, indices, data, X, out, bounds, ahead):  # pragma: no cover - jitted
    """out[r] = Σ_j data[j] · X[indices[j]] over the stored entries j of each row r."""
    b = X.shape[1]
    nnz = indptr[-1]
    for chunk in numba.prange(len(bounds) - 1):
        for row in range(bounds[chunk], bounds[chunk + 1]):
            total = out[row]
            total[:] = 0
            for j in range(indptr[row], indptr[row + 1]):
                if j + ahead < nnz:
                    prefetch_row(X[np.int64(indices[j + ahead])])
                weight, x = data[j], X[indices[j]]
                for t in range(b):
                    total[t] += weight * x[t]


def aligned_empty(rows: int, columns: int) -> np.ndarray:
    """An uninitialised (rows, columns) float32 C-order array whose first byte is 64-byte
    aligned: with columns a multiple of 16 each row then starts a cache line, and a gather
    of a 16-column row touches one line instead of two."""
    raw = np.empty(rows * columns + LINE // 4, dtype=np.float32)
    offset = (-raw.ctypes.data % LINE) // 4
    return raw[offset:offset + rows * columns].reshape(rows, columns)


def chunk_bounds(indptr: np.ndarray, chunks: int = CHUNKS) -> np.ndarray:
    """Row boundaries (int64, increasing, first 0, last the row count) cutting a CSR matrix
    into at most ``chunks`` runs of rows with about equal stored entries."""
    rows = len(indptr) - 1
    bounds = np.searchsorted(indptr, np.linspace(0, indptr[-1], chunks + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, rows
    return np.unique(np.clip(bounds, 0, rows))


class SparseProduct:
    """Products M · X with a fixed CSR matrix M (rows × cols) and dense float32 blocks X."""

    def __init__(self, matrix: "sp.csr_matrix") -> None:
        self.shape = matrix.shape
        self.indptr = matrix.indptr.astype(np.int64)
        # Read-only views: one compiled specialization serves memory-mapped and owned indices.
        self.indices = matrix.indices.view()
        self.indices.flags.writeable = False
        self.data = matrix.data.astype(np.float32, copy=False).view()
        self.data.flags.writeable = False
        self.bounds = chunk_bounds(self.indptr)
        self.threads = None if matrix.nnz >= PARALLEL_FROM else 1

    def into(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (rows × b float32) = M · X (cols × b float32, C order); returns ``out``."""
        with threads(self.threads):
            _spmm(self.indptr, self.indices, self.data, X, out, self.bounds, PREFETCH_AHEAD)
        return out
