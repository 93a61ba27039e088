"""Numba kernel of item-kNN: every artist's K nearest neighbours by a sparse product that keeps
only each row's top K (the dense artists × artists matrix is never formed).

For artist i, the similarities to every other artist are row i of Xᵀ X, X the weighted users ×
artists matrix: a dense accumulator gathers Σ_u X[u, i] · X[u, j] over i's listeners u and
their artists j, the best K are selected, and only the touched cells are reset. Threads take
artists round-robin (artist i on thread i mod T), which spreads popular artists, the expensive
rows, evenly without any scheduling.

Selection ranks candidates by one uint64 key (the similarity's float32 bits made monotone,
then the inverted artist id, so ties go to the lower id) and keeps a buffer of 2K keys and a
threshold: a candidate is written to the buffer unconditionally and kept by advancing the
buffer's end when its key beats the threshold (no branch to mispredict); when the buffer
fills, a quickselect with branch-free partitions keeps the best K and the K-th becomes the
threshold. At the 360K shape × 0.1 selection was 60% of the kernel with (score, id) pairs
and branchy partitions; one key and branch-free partitions made the kernel 25% faster.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba

_JIT = dict(cache=True, nogil=True, boundscheck=False)


_SIGN = np.uint32(0x80000000)
_LOW_32 = np.uint32(0xFFFFFFFF)


@numba.njit(inline="always", **_JIT)
def _order_key(bits, column):  # pragma: no cover - jitted
    """The uint64 that orders candidates best first when larger: a float32's ``bits`` mapped
    so that unsigned order is numeric order (positives get the sign bit set, negatives all
    bits flipped), above the inverted ``column`` (the lower artist id wins a tie)."""
    flip = _SIGN | (np.uint32(0) - (bits >> np.uint32(31)))
    return (np.uint64(bits ^ flip) << np.uint64(32)) | np.uint64(_LOW_32 - np.uint32(column))


@numba.njit(inline="always", **_JIT)
def _key_column(key):  # pragma: no cover - jitted
    """The artist id of an :func:`_order_key`."""
    return np.int32(_LOW_32 - np.uint32(key & np.uint64(_LOW_32)))


@numba.njit(inline="always", **_JIT)
def _key_bits(key):  # pragma: no cover - jitted
    """The float32 bits of an :func:`_order_key`'s similarity (the inverse of its mapping)."""
    high = np.uint32(key >> np.uint64(32))
    return high ^ (_SIGN | (np.uint32(0) - (np.uint32(1) - (high >> np.uint32(31)))))


@numba.njit(**_JIT)
def _keep_largest(keys, scratch, size, k):  # pragma: no cover - jitted
    """Reorder ``keys[:size]`` (distinct, size > k) so that the ``k`` largest come first:
    quickselect, median-of-three pivots, each partition written branch-free through
    ``scratch`` (every key goes to both the front and the back end; the comparison decides
    which end advances)."""
    low, high = 0, size  # keys[:low] > keys[low:high] > keys[high:size]
    while low < k < high:
        first, middle, last = keys[low], keys[(low + high) // 2], keys[high - 1]
        pivot = max(min(first, middle), min(max(first, middle), last))
        front, back = low, high - 1
        for position in range(low, high):
            key = keys[position]
            scratch[front] = key
            scratch[back] = key
            larger = np.int64(key > pivot)
            front += larger
            back -= 1 - larger
        keys[low:high] = scratch[low:high]
        if front >= k:
            high = front
        else:
            # The pivot is the largest of keys[front:high]: it takes place ``front``.
            for position in range(front, high):
                if keys[position] == pivot:
                    keys[position], keys[front] = keys[front], pivot
                    break
            low = front + 1


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
    similarity_bits = np.zeros((n_items, k), dtype=np.uint32)  # float32 bits
    counts = np.zeros(n_items, dtype=np.int32)
    n_threads = min(n_threads, max(1, n_items))
    for thread in numba.prange(n_threads):
        sums = np.zeros(n_items, dtype=np.float32)
        sum_bits = sums.view(np.uint32)
        seen = np.zeros(n_items, dtype=np.int32)
        touched = np.empty(n_items + 1, dtype=np.int32)  # +1: the branch-free write
        keys = np.empty(2 * k, dtype=np.uint64)
        scratch = np.empty(2 * k, dtype=np.uint64)
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
            floor = np.uint64(0)  # the K-th best key once the buffer first filled
            for t in range(n_touched):
                other = touched[t]
                key = _order_key(sum_bits[other], other)
                sums[other] = 0.0
                seen[other] = 0
                keys[size] = key
                size += (key > floor) & (other != item)
                if size == 2 * k:
                    _keep_largest(keys, scratch, size, k)
                    size = k
                    floor = keys[0]
                    for position in range(1, k):
                        floor = min(floor, keys[position])
            if size > k:
                _keep_largest(keys, scratch, size, k)
                size = k
            counts[item] = size
            for position in range(size):
                neighbours[item, position] = _key_column(keys[position])
                similarity_bits[item, position] = _key_bits(keys[position])
    return neighbours, similarity_bits.view(np.float32), counts
