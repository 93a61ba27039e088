"""Numba kernel of item-kNN: every artist's K nearest neighbours by a sparse product that keeps
only each row's top K (the dense artists × artists matrix is never formed).

For artist i, the similarities to every other artist are row i of Xᵀ X, X the weighted users ×
artists matrix: a dense accumulator gathers Σ_u X[u, i] · X[u, j] over i's listeners u and
their artists j, the best K are selected, and only the touched cells are reset. Threads take
artists round-robin (artist i on thread i mod T), which spreads popular artists, the expensive
rows, evenly without any scheduling.

Selection keeps a buffer of 2K candidates and a threshold: a candidate that does not beat the
threshold costs one comparison; when the buffer fills, a quickselect keeps its best K and the
K-th of them becomes the threshold. That is O(1) amortised per accepted candidate, where a
heap of K paid a sift of log K levels for each (at the 360K shape × 0.1 the heap's
replacements took 40% of the fit).
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba

_JIT = dict(cache=True, nogil=True, boundscheck=False)


@numba.njit(inline="always", **_JIT)
def _better(score, column, other_score, other_column):  # pragma: no cover - jitted
    """Whether (score, column) ranks before (other_score, other_column): a higher score, or
    the same score and a lower column (ties go to the lower artist id, deterministically;
    columns are distinct, so no two candidates are equal)."""
    return score > other_score or (score == other_score and column < other_column)


@numba.njit(**_JIT)
def _keep_best(scores, columns, size, k):  # pragma: no cover - jitted
    """Reorder the first ``size`` candidates so that the best ``k`` come first (quickselect,
    median-of-three pivots, Lomuto partitions: keys are distinct)."""
    low, high = 0, size - 1
    while low < high:
        middle = (low + high) // 2
        # Median of three to position ``high``, the pivot.
        if _better(scores[middle], columns[middle], scores[low], columns[low]):
            scores[middle], scores[low] = scores[low], scores[middle]
            columns[middle], columns[low] = columns[low], columns[middle]
        if _better(scores[high], columns[high], scores[low], columns[low]):
            scores[high], scores[low] = scores[low], scores[high]
            columns[high], columns[low] = columns[low], columns[high]
        if _better(scores[middle], columns[middle], scores[high], columns[high]):
            scores[middle], scores[high] = scores[high], scores[middle]
            columns[middle], columns[high] = columns[high], columns[middle]
        pivot_score, pivot_column = scores[high], columns[high]
        store = low
        for position in range(low, high):
            if _better(scores[position], columns[position], pivot_score, pivot_column):
                scores[store], scores[position] = scores[position], scores[store]
                columns[store], columns[position] = columns[position], columns[store]
                store += 1
        scores[store], scores[high] = scores[high], scores[store]
        columns[store], columns[high] = columns[high], columns[store]
        if store == k - 1 or store == k:
            return
        if store < k:
            low = store + 1
        else:
            high = store - 1


@numba.njit(parallel=True, **_JIT)
def top_k_neighbours(indptr, indices, data, t_indptr, t_indices, t_data, k, n_threads
                     ):  # pragma: no cover - jitted
    """Each artist's k best other artists by dot product of their weighted listener columns.

    Args:
        indptr, indices, data: the weighted users × artists matrix X, CSR (float32 data).
        t_indptr, t_indices, t_data: its transpose Xᵀ (artists × users), CSR.
        k: neighbours kept per artist (>= 1).
        n_threads: how many stripes of artists to run in parallel (the numba thread count:
            passed in, as reading it here keeps the kernel out of numba's on-disk cache).

    Returns (neighbours int32, similarities float32, counts int32): artists × k arrays with
    row i's ``counts[i]`` neighbours first, in no particular order (sorting them cost as
    much as selecting them; a query sorts the few it reads). Ties at the K-th place go to
    the lower artist id. Only artists sharing a listener with i are candidates, so
    ``counts[i]`` may be below k; a similarity of exactly 0 is kept like any other (as in
    implicit's all_pairs_knn).
    """
    n_items = len(t_indptr) - 1
    neighbours = np.full((n_items, k), -1, dtype=np.int32)
    similarities = np.zeros((n_items, k), dtype=np.float32)
    counts = np.zeros(n_items, dtype=np.int32)
    n_threads = min(n_threads, max(1, n_items))
    for thread in numba.prange(n_threads):
        sums = np.zeros(n_items, dtype=np.float32)
        seen = np.zeros(n_items, dtype=np.int32)
        touched = np.empty(n_items + 1, dtype=np.int32)  # +1: the branch-free write
        buffer_scores = np.empty(2 * k, dtype=np.float32)
        buffer_columns = np.empty(2 * k, dtype=np.int32)
        for item in range(thread, n_items, n_threads):
            n_touched = 0
            for p in range(t_indptr[item], t_indptr[item + 1]):
                user = t_indices[p]
                weight = t_data[p]
                for q in range(indptr[user], indptr[user + 1]):
                    other = indices[q]
                    # Branch-free: the branch on ``seen`` was mispredicted about half the
                    # time, and this loop is most of the work.
                    touched[n_touched] = other
                    n_touched += 1 - seen[other]
                    seen[other] = 1
                    sums[other] += weight * data[q]
            size = 0
            full = False  # whether the threshold below is set
            floor_score, floor_column = np.float32(0.0), 0
            for t in range(n_touched):
                other = touched[t]
                score = sums[other]
                sums[other] = 0.0
                seen[other] = 0
                if other == item or (full and not _better(score, other, floor_score,
                                                          floor_column)):
                    continue
                buffer_scores[size] = score
                buffer_columns[size] = other
                size += 1
                if size == 2 * k:
                    _keep_best(buffer_scores, buffer_columns, size, k)
                    size = k
                    # The k-th best so far: only a better candidate can enter the top k.
                    full = True
                    floor_score, floor_column = buffer_scores[0], buffer_columns[0]
                    for position in range(1, k):
                        if _better(floor_score, floor_column, buffer_scores[position],
                                   buffer_columns[position]):
                            floor_score = buffer_scores[position]
                            floor_column = buffer_columns[position]
            if size > k:
                _keep_best(buffer_scores, buffer_columns, size, k)
                size = k
            counts[item] = size
            neighbours[item, :size] = buffer_columns[:size]
            similarities[item, :size] = buffer_scores[:size]
    return neighbours, similarities, counts
