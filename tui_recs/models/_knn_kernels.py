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

The product finds the artists it touches from the accumulator itself (a sum of ±0 is an
artist not yet listed) instead of a second "seen" array, and prefetches the artist row of
a listener four ahead (rows of X lie at random places, and at the 360K shape X is 140 MB):
together 30% off the product at the 360K shape × 0.1, and the whole-row prefetch another
20% at the full shape. The inputs X and Xᵀ come from one pass pair over the weighted matrix
(:func:`normalised_with_transpose`), which replaced scipy's column scaling and transpose.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba
from tui_recs.models._prefetch import prefetch

_JIT = dict(cache=True, nogil=True, boundscheck=False)


_SIGN = np.uint32(0x80000000)
#: The float32 bits a sum is set to once read: a NaN that arithmetic on finite weights never
#: makes (its payload is not the default NaN's).
_READ = np.uint32(0x7FC0DEAD)
#: How many listeners ahead of the current one the product prefetches the artist row of.
_PREFETCH_AHEAD = 4
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


@numba.njit(**_JIT)
def _distinct(ids, size):  # pragma: no cover - jitted
    """Sort ``ids[:size]`` and drop repeats in place; returns how many are left."""
    ids[:size].sort()
    kept = min(size, 1)
    for position in range(1, size):
        ids[kept] = ids[position]
        kept += ids[position] != ids[kept - 1]
    return kept


@numba.njit(parallel=True, **_JIT)
def normalised_with_transpose(indptr, indices, data, n_items, normalise, n_threads
                              ):  # pragma: no cover - jitted
    """The kernel's two inputs from one weighted matrix, in two parallel passes over it.

    Args:
        indptr, indices, data: the weighted users × artists matrix, CSR (float32 data).
        n_items: its number of artists (columns).
        normalise: whether to divide each artist column by its Euclidean norm (cosines).
        n_threads: stripes of listeners, contiguous and of about equal entries.

    Returns (norms, x_data, t_indptr, t_indices, t_data): the columns' norms, (n_items,)
    float64; the values X on ``indptr``/``indices`` (normalised or a copy), float32; and Xᵀ
    (artists × users) as CSR with each row's listeners in ascending order. A zero column
    stays zero. Value for value this equals scipy's ``X.multiply(1 / norms).T.tocsr()``.
    """
    n_users = len(indptr) - 1
    nnz = indptr[n_users]
    n_threads = max(1, min(n_threads, n_users))
    first_row = np.empty(n_threads + 1, dtype=np.int64)
    for thread in range(n_threads + 1):
        first_row[thread] = np.searchsorted(indptr[:n_users], nnz * thread // n_threads)
    first_row[n_threads] = n_users
    counts = np.zeros((n_threads, n_items), dtype=np.int64)
    squares = np.zeros((n_threads, n_items), dtype=np.float64)
    for thread in numba.prange(n_threads):
        for user in range(first_row[thread], first_row[thread + 1]):
            for q in range(indptr[user], indptr[user + 1]):
                column = indices[q]
                counts[thread, column] += 1
                squares[thread, column] += np.float64(data[q]) ** 2
    norms = np.empty(n_items, dtype=np.float64)
    scale = np.ones(n_items, dtype=np.float64)
    for column in range(n_items):
        total = 0.0
        for thread in range(n_threads):
            total += squares[thread, column]
        norms[column] = np.sqrt(total)
        if normalise:
            scale[column] = 1.0 / norms[column] if norms[column] > 0 else 0.0
    # counts becomes each stripe's next write position in every row of Xᵀ: stripe by stripe,
    # so each row's listeners stay in ascending order.
    t_indptr = np.zeros(n_items + 1, dtype=np.int64)
    for column in range(n_items):
        position = t_indptr[column]
        for thread in range(n_threads):
            count = counts[thread, column]
            counts[thread, column] = position
            position += count
        t_indptr[column + 1] = position
    x_data = np.empty(nnz, dtype=np.float32)
    t_indices = np.empty(nnz, dtype=np.int32)
    t_data = np.empty(nnz, dtype=np.float32)
    for thread in numba.prange(n_threads):
        for user in range(first_row[thread], first_row[thread + 1]):
            for q in range(indptr[user], indptr[user + 1]):
                column = indices[q]
                value = np.float32(data[q] * scale[column])
                x_data[q] = value
                position = counts[thread, column]
                t_indices[position] = user
                t_data[position] = value
                counts[thread, column] = position + 1
    return norms, x_data, t_indptr, t_indices, t_data


@numba.njit(**_JIT)
def compacted(neighbours, similarities, counts):  # pragma: no cover - jitted
    """:func:`top_k_neighbours`' padded rows as CSR arrays in scipy's order (data float32,
    indices int32, indptr int64): row i holds its ``counts[i]`` neighbours in the kernel's
    order. The rows are moved up in place, so data and indices are views of the inputs'
    memory (no second copy of the largest arrays)."""
    n_rows, width = neighbours.shape
    flat_neighbours = neighbours.reshape(n_rows * width)
    flat_similarities = similarities.reshape(n_rows * width)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for row in range(n_rows):
        start = indptr[row]
        indptr[row + 1] = start + counts[row]
        if start != row * width:
            for position in range(counts[row]):
                flat_neighbours[start + position] = neighbours[row, position]
                flat_similarities[start + position] = similarities[row, position]
    return flat_similarities[:indptr[n_rows]], flat_neighbours[:indptr[n_rows]], indptr


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
    row i's ``counts[i]`` neighbours first (the places after them are undefined), in no
    particular order (sorting them cost as much as selecting them; a query sorts the few it
    reads). Ties at the K-th place go to the lower artist id. Only artists sharing a listener with i are candidates, so
    ``counts[i]`` may be below k; a similarity of exactly 0 is kept like any other (as in
    implicit's all_pairs_knn).
    """
    n_items = len(t_indptr) - 1
    # Only each row's first counts[i] places are written and read.
    neighbours = np.empty((n_items, k), dtype=np.int32)
    similarity_bits = np.empty((n_items, k), dtype=np.uint32)  # float32 bits
    counts = np.zeros(n_items, dtype=np.int32)
    n_threads = min(n_threads, max(1, n_items))
    longest_row = 0
    for user in range(len(indptr) - 1):
        longest_row = max(longest_row, indptr[user + 1] - indptr[user])
    for thread in numba.prange(n_threads):
        sums = np.zeros(n_items, dtype=np.float32)
        sum_bits = sums.view(np.uint32)
        # Room for every artist, then for a whole row of repeats before they are removed;
        # +1: the branch-free write.
        touched = np.empty(n_items + longest_row + 1, dtype=np.int32)
        keys = np.empty(2 * k, dtype=np.uint64)
        scratch = np.empty(2 * k, dtype=np.uint64)
        for item in range(thread, n_items, n_threads):
            n_touched = 0
            zeros = 0  # how often a sum was exactly ±0 after an addition
            last = t_indptr[item + 1]
            for p in range(t_indptr[item], last):
                if p + _PREFETCH_AHEAD < last:
                    ahead = t_indices[p + _PREFETCH_AHEAD]
                    for q in range(indptr[ahead], indptr[ahead + 1], 16):  # 64-byte lines
                        prefetch(indices, q)
                        prefetch(data, q)
                user = t_indices[p]
                weight = t_data[p]
                if n_touched + indptr[user + 1] - indptr[user] >= len(touched):
                    n_touched = _distinct(touched, n_touched)
                for q in range(indptr[user], indptr[user + 1]):
                    other = indices[q]
                    # A sum of ±0 marks an artist not yet touched (branch-free: the branch
                    # was mispredicted about half the time, and this loop is most of the
                    # work). A sum back at ±0 lists its artist again; ``zeros`` says so.
                    touched[n_touched] = other
                    n_touched += (sum_bits[other] << np.uint32(1)) == 0
                    total = sums[other] + weight * data[q]
                    sums[other] = total
                    zeros += total == 0
            # Repeats are possible only after a zero: then each artist's sum is replaced by
            # a marker when read, which voids its later copies, and reset afterwards.
            read_mark = _READ if zeros else np.uint32(0)
            size = 0
            floor = np.uint64(0)  # the K-th best key once the buffer first filled
            for t in range(n_touched):
                other = touched[t]
                bits = sum_bits[other]
                key = _order_key(bits, other)
                sum_bits[other] = read_mark
                keys[size] = key
                size += (key > floor) & (other != item) & (bits != _READ)
                if size == 2 * k:
                    _keep_largest(keys, scratch, size, k)
                    size = k
                    floor = keys[0]
                    for position in range(1, k):
                        floor = min(floor, keys[position])
            if zeros:
                for t in range(n_touched):
                    sums[touched[t]] = 0.0
            if size > k:
                _keep_largest(keys, scratch, size, k)
                size = k
            counts[item] = size
            for position in range(size):
                neighbours[item, position] = _key_column(keys[position])
                similarity_bits[item, position] = _key_bits(keys[position])
    return neighbours, similarity_bits.view(np.float32), counts
