"""Exact top-k selection over score matrices, without a full sort."""

from __future__ import annotations

import numpy as np

#: Score rows are materialised in blocks of at most this many cells (float32: 128 MiB).
BLOCK_CELLS = 32 * 1024 * 1024
#: From this many cells on, selection runs in the Numba kernel (about 4x faster per core than
#: argpartition, and parallel over rows when there are many); smaller inputs stay in NumPy so
#: that a quick query does not pay for importing Numba.
KERNEL_MIN_CELLS = 1 << 18


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of ``scores`` (q × m), best first.

    Returns (indices int64, values), both q × min(k, m). Order: higher score first, ties by
    the lower column index, NaN below everything, so results are deterministic. Cells equal
    to ``-inf`` are never returned before a finite cell; callers that must not return them
    slice on ``np.isfinite(values)``.
    """
    scores = np.atleast_2d(scores)
    n_rows, n_cols = scores.shape
    k = max(0, min(k, n_cols))
    if k == 0 or n_rows == 0:
        return np.empty((n_rows, k), dtype=np.int64), np.empty((n_rows, k), dtype=scores.dtype)
    # A single row (an interactive query) uses the kernel only once it is loaded: loading it
    # (importing Numba) costs ~0.7 s, against ~2 ms for NumPy on 290K scores.
    if scores.size >= KERNEL_MIN_CELLS and (n_rows > 1 or _kernel["loaded"]):
        return _kernel_top_k(scores, k)
    return _top_k_numpy(scores, k)


#: Whether this process has loaded the Numba kernel (by a batch). An app that only answers
#: single queries never does: loading it held the GIL for up to 0.4 s, even in a thread.
_kernel = {"loaded": False}


def _kernel_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from tui_recs.models._score_kernels import top_k_rows  # numba: ~0.3 s, batches only (above)

    result = top_k_rows(scores, k)
    _kernel["loaded"] = True
    return result


def _top_k_numpy(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n_rows, n_cols = scores.shape
    if k < n_cols:
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrary columns among cells tied with the k-th best; rows where
        # such a tie reaches outside the candidates are re-ranked with a stable sort.
        boundary = np.take_along_axis(scores, candidates[:, k - 1:], axis=1)
        tied_in_row = np.count_nonzero(scores == boundary, axis=1)
        tied_in_candidates = np.count_nonzero(
            np.take_along_axis(scores, candidates, axis=1) == boundary, axis=1)
        ambiguous = np.flatnonzero((tied_in_row > tied_in_candidates) | np.isnan(boundary[:, 0]))
        if len(ambiguous):
            candidates[ambiguous] = np.argsort(-scores[ambiguous], axis=1, kind="stable")[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    # lexsort: last key is primary -> sort by score desc (NaN last), then by column asc.
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    indices = np.take_along_axis(candidates, order, axis=1).astype(np.int64, copy=False)
    return indices, np.take_along_axis(candidate_scores, order, axis=1)


def rows_per_block(n_cols: int) -> int:
    """How many query rows to score at once so that a block stays under BLOCK_CELLS."""
    return max(1, BLOCK_CELLS // max(1, n_cols))
