"""Numba kernels over the rows of a score matrix (listeners or query artists × artists):
exact top-k selection, and the rank sums behind AUC. Rows are independent, so large inputs
are spread over threads.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba

_JIT = dict(cache=True, nogil=True, boundscheck=False)


@numba.njit(inline="always", **_JIT)
def _ranks_below(value, column, other_value, other_column):  # pragma: no cover - jitted
    """Whether (value, column) comes after (other_value, other_column) in the output order."""
    if value != value:
        return other_value == other_value or column > other_column
    if other_value != other_value:
        return False
    return value < other_value or (value == other_value and column > other_column)


@numba.njit(inline="always", **_JIT)
def _sift_down(values, columns, start, size):  # pragma: no cover - jitted
    """Restore the heap (root = the entry ranking lowest) below ``start``."""
    parent = start
    while True:
        child = 2 * parent + 1
        if child >= size:
            return
        if child + 1 < size and _ranks_below(values[child + 1], columns[child + 1],
                                             values[child], columns[child]):
            child += 1
        if not _ranks_below(values[child], columns[child], values[parent], columns[parent]):
            return
        values[parent], values[child] = values[child], values[parent]
        columns[parent], columns[child] = columns[child], columns[parent]
        parent = child


#: The pre-pass samples about this many cells per wanted result, and at most 1 cell in
#: MIN_STRIDE (so that it costs little next to the full pass).
SAMPLE_PER_RESULT = 64
MIN_STRIDE = 8


@numba.njit(**_JIT)
def _sampled_floor(row_scores, k, stride):  # pragma: no cover - jitted
    """The k-th largest number among every ``stride``-th cell (NaN if there are fewer than k):
    at least k cells of the row are >= it, so no cell below it can be in the top k."""
    sample = np.empty((len(row_scores) + stride - 1) // stride, dtype=row_scores.dtype)
    count = 0
    for j in range(0, len(row_scores), stride):
        if row_scores[j] == row_scores[j]:
            sample[count] = row_scores[j]
            count += 1
    if count < k:
        return np.nan
    return np.partition(sample[:count], count - k)[count - k]


@numba.njit(**_JIT)
def _top_k_row(row_scores, k, stride, columns, values):  # pragma: no cover - jitted
    """The best k cells of one row into ``columns``/``values``, best first."""
    # Rows that rise along the columns would push every cell through the heap; a floor
    # from a sample skips almost all of them (and costs little on any row).
    floor = _sampled_floor(row_scores, k, stride)
    for j in range(k):  # the first k columns, heapified
        values[j] = row_scores[j]
        columns[j] = j
    for j in range(k // 2 - 1, -1, -1):
        _sift_down(values, columns, j, k)
    lowest = values[0]
    for j in range(k, len(row_scores)):
        value = row_scores[j]
        # Columns arrive in increasing order, so a tie with the root never displaces it;
        # a NaN root gives way to any number.
        if (value > lowest or (lowest != lowest and value == value)) and not value < floor:
            values[0] = value
            columns[0] = j
            _sift_down(values, columns, 0, k)
            lowest = values[0]
    for end in range(k - 1, 0, -1):  # heap sort: the lowest-ranking entry goes last
        values[0], values[end] = values[end], values[0]
        columns[0], columns[end] = columns[end], columns[0]
        _sift_down(values, columns, 0, end)


# Waking worker threads costs more than a few rows of work (much more on a busy machine), so
# small inputs run on the calling thread.
@numba.njit(parallel=True, **_JIT)
def _top_k_rows_parallel(scores, k, stride, out_columns, out_values):  # pragma: no cover
    for row in numba.prange(scores.shape[0]):
        _top_k_row(scores[row], k, stride, out_columns[row], out_values[row])


@numba.njit(**_JIT)
def _top_k_rows_serial(scores, k, stride, out_columns, out_values):  # pragma: no cover
    for row in range(scores.shape[0]):
        _top_k_row(scores[row], k, stride, out_columns[row], out_values[row])


#: Fewest rows for which the selection is spread over threads.
PARALLEL_MIN_ROWS = 16


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns int64, values) of the best ``k`` cells of each row of ``scores`` (q × m,
    1 <= k <= m), best first. ``scores`` is read only.

    One pass over each row with a k-entry heap. Same order as the NumPy path of
    :func:`tui_recs.models.topk.top_k`: higher score first, ties by the lower column, NaN
    below everything (NaNs among themselves by column).
    """
    scores = np.ascontiguousarray(scores)
    out_columns = np.empty((scores.shape[0], k), dtype=np.int64)
    out_values = np.empty((scores.shape[0], k), dtype=scores.dtype)
    kernel = _top_k_rows_parallel if scores.shape[0] >= PARALLEL_MIN_ROWS else _top_k_rows_serial
    stride = max(MIN_STRIDE, scores.shape[1] // (SAMPLE_PER_RESULT * k))
    kernel(scores, k, stride, out_columns, out_values)
    return out_columns, out_values


@numba.njit(parallel=True, **_JIT)
def _held_out_rank_sums(scores, held_indptr, held_indices, out):  # pragma: no cover - jitted
    n_cols = scores.shape[1]
    for row in numba.prange(scores.shape[0]):
        total = 0.0
        for i in range(held_indptr[row], held_indptr[row + 1]):
            held = scores[row, held_indices[i]]
            # Branch-free counts over the row, so the loop runs on SIMD lanes; NaN cells
            # (the caller's non-candidates) compare false both ways and count nowhere.
            below = 0
            tied = 0
            for column in range(n_cols):
                below += scores[row, column] < held
                tied += scores[row, column] == held
            total += below + 0.5 * (tied + 1)
        out[row] = total


def held_out_rank_sums(scores: np.ndarray, held_out_indptr: np.ndarray,
                       held_out_indices: np.ndarray) -> np.ndarray:
    """Σ over each row's held-out columns t of t's 1-based rank among the row's non-NaN cells,
    ranked from the lowest score up, ties sharing the average rank (the Mann-Whitney rank
    sum). ``scores``: q × m, NaN = not a candidate; held-out columns as CSR (indptr, indices)
    of the q rows. Returns (q,) float64."""
    out = np.empty(scores.shape[0], dtype=np.float64)
    _held_out_rank_sums(np.ascontiguousarray(scores), held_out_indptr, held_out_indices, out)
    return out
