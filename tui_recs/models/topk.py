"""Exact top-k selection over score matrices, without a full sort."""

from __future__ import annotations

import numpy as np

#: Score rows are materialised in blocks of at most this many cells (float32: 128 MiB).
BLOCK_CELLS = 32 * 1024 * 1024


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of ``scores`` (q × m), best first.

    Returns (indices, values), both q × min(k, m). Cells equal to ``-inf`` are never returned
    before a finite cell; callers that must not return them slice on ``np.isfinite(values)``.
    Ties are broken by the lower column index, so results are deterministic.
    """
    scores = np.atleast_2d(scores)
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0:
        return np.empty((n_rows, 0), dtype=np.int64), np.empty((n_rows, 0), dtype=scores.dtype)
    if k < n_cols:
        candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    # lexsort: last key is primary -> sort by score desc, then by column asc.
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    indices = np.take_along_axis(candidates, order, axis=1).astype(np.int64, copy=False)
    return indices, np.take_along_axis(candidate_scores, order, axis=1)


def rows_per_block(n_cols: int) -> int:
    """How many query rows to score at once so that a block stays under BLOCK_CELLS."""
    return max(1, BLOCK_CELLS // max(1, n_cols))
