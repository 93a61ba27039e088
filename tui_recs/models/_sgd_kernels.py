"""Numba kernels of the stochastic-gradient factor models: BPR, logistic MF and SGD-MF.

Random numbers come from SplitMix64 streams (one 64-bit state per stream, seeded from the
model's seed, the epoch and the stream number), so a run is reproducible without numpy's
generators inside the kernels. Negative artists are drawn as implicit draws them: the artist
of a uniformly chosen observed (listener, artist) pair, i.e. in proportion to its listeners.

BPR and SGD-MF update shared factor rows from several threads without locks ("Hogwild",
Recht et al. 2011): with more than one thread, which update of a row lands first depends on
timing, so only a 1-thread run is bit-for-bit reproducible. Logistic MF updates one side's
rows, each from its own stream, against the other side's fixed factors: reproducible for any
thread count. All factors are float32, indices int32 and row pointers int64.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba
from tui_recs.models._prefetch import prefetch, prefetch_row

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)

#: BPR (logistic MF) draws a triple's pair indices (a negative's pick) this many triples
#: (negatives) before it uses them, and fetches the factor rows half as many before: the rows
#: sit at random places of the factor arrays, and without the hints each triple (negative)
#: waits for its cache misses before the next one starts.
_AHEAD = 8


@numba.njit(inline="always", **_JIT)
def _mix(z):  # pragma: no cover - jitted
    """SplitMix64's output function of a state."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always", **_JIT)
def _stream(seed, epoch, number):  # pragma: no cover - jitted
    """The starting state of stream ``number`` of ``epoch`` for ``seed`` (uint64)."""
    return _mix(_mix(np.uint64(seed) * _GAMMA + np.uint64(epoch)) + np.uint64(number) * _GAMMA)


@numba.njit(inline="always", **_JIT)
def _below(state, upper):  # pragma: no cover - jitted
    """(next state, a number in [0, upper)): the top 32 bits scaled (Lemire), unbiased
    enough for upper far below 2**32."""
    state = state + _GAMMA
    return state, np.int64((_mix(state) >> np.uint64(32)) * np.uint64(upper) >> np.uint64(32))


@numba.njit(inline="always", **_JIT)
def _two_below(state, upper):  # pragma: no cover - jitted
    """(next state, a, b): two numbers in [0, upper) from one output, its top and its bottom
    32 bits scaled as in :func:`_below`."""
    state = state + _GAMMA
    z = _mix(state)
    upper = np.uint64(upper)
    return (state, np.int64((z >> np.uint64(32)) * upper >> np.uint64(32)),
            np.int64((z & _LOW32) * upper >> np.uint64(32)))


@numba.njit(inline="always", **_JIT)
def _heard(indptr, indices, row, item):  # pragma: no cover - jitted
    """Whether sorted CSR row ``row`` holds ``item`` (binary search)."""
    low, high = indptr[row], indptr[row + 1]
    while low < high:
        middle = (low + high) >> 1
        if indices[middle] < item:
            low = middle + 1
        else:
            high = middle
    return low < indptr[row + 1] and indices[low] == item


@numba.njit(inline="always", **_JIT)
def _logistic(score):  # pragma: no cover - jitted
    """(σ(s), log(1 + e^s)) of a float32 score from one exponential, without overflow."""
    e = np.exp(-abs(score))
    softplus = max(score, np.float32(0.0)) + np.log1p(e)
    if score >= 0:
        return np.float32(1.0) / (np.float32(1.0) + e), softplus
    return e / (np.float32(1.0) + e), softplus


@numba.njit(inline="always", **_JIT)
def _dot(x, y):  # pragma: no cover - jitted
    """xᵀy of two float32 rows, accumulated in float32."""
    total = np.float32(0.0)
    for k in range(len(x)):
        total += x[k] * y[k]
    return total


@numba.njit(inline="always", **_JIT)
def _bpr_step(x, y_liked, y_disliked, lr, reg):  # pragma: no cover - jitted
    """One SGD step of a triple's rows in place: (score x_uᵀ(y_i - y_j), -ln σ(score))
    before the step. The listener's last column, the constant partner of the artist bias,
    stays."""
    columns = len(x)
    score = np.float32(0.0)
    for j in range(columns):
        score += x[j] * (y_liked[j] - y_disliked[j])
    z, loss = _logistic(-score)  # z = 1 - σ(score): the gradient's weight
    # The constant column is split out of the loop so that the loop has no branch and
    # vectorizes.
    for j in range(columns - 1):
        x_j, liked_j, disliked_j = x[j], y_liked[j], y_disliked[j]
        x[j] = x_j + lr * (z * (liked_j - disliked_j) - reg * x_j)
        y_liked[j] = liked_j + lr * (z * x_j - reg * liked_j)
        y_disliked[j] = disliked_j + lr * (-z * x_j - reg * disliked_j)
    last = columns - 1
    y_liked[last] += lr * (z * x[last] - reg * y_liked[last])
    y_disliked[last] += lr * (-z * x[last] - reg * y_disliked[last])
    return score, loss


@numba.njit(parallel=True, **_JIT)
def bpr_epoch(rows, indptr, indices, user_factors, item_factors, learning_rate, regularization,
              seed, epoch, n_streams):  # pragma: no cover - jitted
    """One epoch of BPR (Rendle et al. 2009): nnz sampled (listener, heard, unheard) triples.

    ``rows``/``indices``: the listener and artist of each observed pair (CSR order, rows
    sorted); the last factor column is the item bias (the listeners' last column stays 1).
    Triple t of a stream takes the two pair indices of its stream's t-th draw
    (:func:`_two_below`): the listener and artist of the first, the artist of the second. A
    sampled "unheard" artist that the listener did hear is skipped, not redrawn (as implicit
    does). Returns (correct, skipped, loss): pairs ranked right before their update, pairs
    skipped, and Σ -ln σ(x_uᵀ(y_i - y_j)) over the pairs used.
    """
    nnz = len(indices)
    per_stream = (nnz + n_streams - 1) // n_streams
    correct = np.zeros(n_streams, dtype=np.int64)
    skipped = np.zeros(n_streams, dtype=np.int64)
    loss = np.zeros(n_streams, dtype=np.float64)
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    for stream in numba.prange(n_streams):
        first, stop = stream * per_stream, min(nnz, (stream + 1) * per_stream)
        state = _stream(seed, epoch, stream)
        # The pair indices of triples t .. t + _AHEAD - 1, triple t's in slot t % _AHEAD.
        liked_ahead = np.empty(_AHEAD, dtype=np.int64)
        disliked_ahead = np.empty(_AHEAD, dtype=np.int64)
        for slot in range(_AHEAD):
            state, liked_ahead[slot], disliked_ahead[slot] = _two_below(state, nnz)
        stream_correct, stream_skipped, stream_loss = 0, 0, 0.0
        for t in range(stop - first):
            slot = t % _AHEAD
            liked_index, disliked_index = liked_ahead[slot], disliked_ahead[slot]
            state, liked_ahead[slot], disliked_ahead[slot] = _two_below(state, nnz)
            prefetch(rows, liked_ahead[slot])
            prefetch(indices, liked_ahead[slot])
            prefetch(indices, disliked_ahead[slot])
            soon = (t + _AHEAD // 2) % _AHEAD
            soon_user = rows[liked_ahead[soon]]
            prefetch(indptr, soon_user)
            prefetch_row(user_factors[soon_user])
            prefetch_row(item_factors[indices[liked_ahead[soon]]])
            prefetch_row(item_factors[indices[disliked_ahead[soon]]])

            user, liked, disliked = rows[liked_index], indices[liked_index], indices[disliked_index]
            if _heard(indptr, indices, user, disliked):
                stream_skipped += 1
                continue
            score, triple_loss = _bpr_step(user_factors[user], item_factors[liked],
                                           item_factors[disliked], lr, reg)
            stream_correct += score > 0
            stream_loss += triple_loss
        # Per-stream totals are written once: counters shared on one cache line, updated
        # per triple, would bounce that line between the threads.
        correct[stream], skipped[stream], loss[stream] = stream_correct, stream_skipped, stream_loss
    return correct.sum(), skipped.sum(), loss.sum()


@numba.njit(parallel=True, **_JIT)
def lmf_half_step(indptr, indices, confidence, solved, fixed, gradient_squares,
                  learning_rate, regularization, neg_prop, max_negatives, seed, epoch,
                  side):  # pragma: no cover - jitted
    """One AdaGrad step of logistic MF (Johnson 2014) for every row of ``solved``.

    For row u with observed artists i (confidence c_ui = ``confidence``) and n_u sampled
    negatives j (n_u = ``neg_prop`` per observed one, at most ``max_negatives`` unless it is
    0; each the artist of a random observed pair, an entry of ``indices``), the gradient of

        Σ_i c_ui log σ(x_uᵀy_i) + Σ_j log(1 - σ(x_uᵀy_j)) - λ/2 |x_u|²

    is g = Σ_i c_ui (1 - σ(x_uᵀy_i)) y_i - Σ_j σ(x_uᵀy_j) y_j - λ x_u, and
    x_u += lr · g / sqrt(G + 1e-6) per coordinate, G the running sum of g² (AdaGrad).
    Rows only read ``fixed``: a row's result is the same on any thread. Returns the negative
    of the sum above without the penalty, before the step (float64).
    """
    n_rows, columns = solved.shape
    n_pairs = len(indices)
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    losses = np.zeros(n_rows, dtype=np.float64)
    for row in numba.prange(n_rows):
        start, stop = indptr[row], indptr[row + 1]
        if start == stop:
            continue
        negatives = (stop - start) * neg_prop
        if max_negatives > 0:
            negatives = min(negatives, max_negatives)
        # The picks of negatives t .. t + _AHEAD - 1, negative t's in slot t % _AHEAD.
        state = _stream(seed, 2 * epoch + side, row)
        picks = np.empty(_AHEAD, dtype=np.int64)
        for slot in range(_AHEAD):
            state, picks[slot] = _below(state, n_pairs)
            prefetch(indices, picks[slot])
        x = solved[row]
        gradient = np.zeros(columns, dtype=np.float32)
        row_loss = 0.0
        for index in range(start, stop):
            if index + _AHEAD // 2 < stop:
                prefetch_row(fixed[indices[index + _AHEAD // 2]])
            y = fixed[indices[index]]
            c = confidence[index]
            score = _dot(x, y)
            probability, softplus = _logistic(score)
            row_loss += c * (softplus - score)  # -c log σ(s) = c (log(1 + e^s) - s)
            weight = c * (np.float32(1.0) - probability)
            for k in range(columns):
                gradient[k] += weight * y[k]
        for t in range(negatives):
            slot = t % _AHEAD
            y = fixed[indices[picks[slot]]]
            state, picks[slot] = _below(state, n_pairs)
            prefetch(indices, picks[slot])
            prefetch_row(fixed[indices[picks[(t + _AHEAD // 2) % _AHEAD]]])
            probability, softplus = _logistic(_dot(x, y))
            row_loss += softplus
            for k in range(columns):
                gradient[k] -= probability * y[k]
        for k in range(columns):
            g = gradient[k] - reg * x[k]
            gradient_squares[row, k] += g * g
            x[k] += lr * g / np.sqrt(gradient_squares[row, k] + np.float32(1e-6))
        losses[row] = row_loss
    return losses.sum()


@numba.njit(parallel=True, **_JIT)
def sgd_mf_epoch(rows, columns, values, order, user_factors, item_factors, learning_rate,
                 regularization, n_streams):  # pragma: no cover - jitted
    """One SGD epoch of squared error on observed pairs, in ``order`` (a permutation of the
    pairs, cut into ``n_streams`` consecutive runs, one per thread):

        e = r_ui - p_uᵀq_i;  p_u += lr (e q_i - λ p_u);  q_i += lr (e p_u - λ q_i)

    (both updates from the values before the step). Returns Σ e² before each update.
    """
    n = len(order)
    factors = user_factors.shape[1]
    per_stream = (n + n_streams - 1) // n_streams
    squares = np.zeros(n_streams, dtype=np.float64)
    lr = np.float32(learning_rate)
    reg = np.float32(regularization)
    for stream in numba.prange(n_streams):
        for position in range(stream * per_stream, min(n, (stream + 1) * per_stream)):
            pair = order[position]
            user, item = rows[pair], columns[pair]
            prediction = np.float32(0.0)
            for k in range(factors):
                prediction += user_factors[user, k] * item_factors[item, k]
            error = np.float32(values[pair] - prediction)
            squares[stream] += error * error
            for k in range(factors):
                p, q = user_factors[user, k], item_factors[item, k]
                user_factors[user, k] = p + lr * (error * q - reg * p)
                item_factors[item, k] = q + lr * (error * p - reg * q)
    return squares.sum()


@numba.njit(parallel=True, **_JIT)
def squared_errors(rows, columns, values, user_factors, item_factors):  # pragma: no cover
    """Σ (r_ui - p_uᵀq_i)² over the given pairs (float64 sum)."""
    n = len(rows)
    factors = user_factors.shape[1]
    total = 0.0
    for pair in numba.prange(n):
        prediction = np.float32(0.0)
        for k in range(factors):
            prediction += user_factors[rows[pair], k] * item_factors[columns[pair], k]
        error = np.float64(values[pair]) - prediction
        total += error * error
    return total
