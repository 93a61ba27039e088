"""Numba kernels of implicit ALS (Hu, Koren & Volinsky 2008).

One half-step solves, for every row u of a CSR matrix of confidences-minus-one (c_ui - 1),

    (YᵀY + λI + Σ_i (c_ui - 1) y_i y_iᵀ) x_u = Σ_i c_ui y_i

against fixed factors Y. ``gram`` is the precomputed YᵀY + λI. The CG path never forms the
f × f matrix of a row: it applies it as gram·p plus a sum over the row's items, warm-started
from the current x_u. The Cholesky path solves exactly: rows with many items form the
matrix and factor it, rows with few use the Woodbury identity around a precomputed gram⁻¹.

Rows are split into one bucket per thread, balanced by work (history lengths are very
skewed, and prange alone would give each thread an equal *count* of rows: on the item side
of CG half-steps the largest of 2-8 threads' shares is then 1.03-1.54x the mean on hetrec
and the 360K-shape demo data, against 1.00-1.01x with these buckets; see
``benchmarks/bench_als.py --balance``). A row's result does not depend on its bucket, so
factors are identical for any thread count. The kernels call no BLAS (no np.dot): Numba
threads and BLAS threads never compete for the cores.

All arrays are float32 (factors, gram, c - 1), indices int32 (read-only: they may be the
memory-mapped play matrix's own) and row pointers int64.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba
from tui_recs.models._prefetch import prefetch_row

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
#: How many items ahead of the current one the CG gather pass prefetches.
PREFETCH_AHEAD = 4
#: Rows the CG kernel solves in lockstep (short rows only; see schedule()).
GROUP_SIZE = 4


def schedule(indptr: np.ndarray, n_buckets: int, group_below: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the rows of a CSR matrix into groups and the groups into buckets of equal work.

    Rows sorted by history length (longest first, ties by row) are cut into groups: one row
    each from ``group_below`` items up, runs of GROUP_SIZE rows below (the CG kernel solves a
    group in lockstep). Groups are dealt snake-wise (0, 1, .., B-1, B-1, .., 0, ...) into
    ``n_buckets``, which keeps both the row count and the item count of buckets within about
    one group of each other. Group composition does not depend on ``n_buckets``, so neither
    do the results.

    Returns (bucket_ptr, group_ptr, rows): bucket b holds groups bucket_ptr[b]:bucket_ptr[b+1],
    group g holds rows[group_ptr[g]:group_ptr[g+1]].
    """
    lengths = np.diff(indptr)
    by_length = np.argsort(-lengths, kind="stable")
    n_single = int(np.count_nonzero(lengths >= group_below))
    starts = np.unique(np.concatenate([
        np.arange(n_single), np.arange(n_single, len(by_length), GROUP_SIZE)])).astype(np.int64)
    sizes = np.diff(np.append(starts, len(by_length)))
    lap, offset = np.divmod(np.arange(len(starts)), n_buckets)
    bucket_of = np.where(lap % 2 == 0, offset, n_buckets - 1 - offset)
    group_order = np.argsort(bucket_of, kind="stable")  # groups, bucket by bucket
    place_of_group = np.empty_like(group_order)
    place_of_group[group_order] = np.arange(len(group_order))
    rows = by_length[np.argsort(np.repeat(place_of_group, sizes), kind="stable")]
    group_ptr = np.concatenate([[0], np.cumsum(sizes[group_order])])
    bucket_ptr = np.concatenate([[0], np.cumsum(np.bincount(bucket_of, minlength=n_buckets))])
    return bucket_ptr.astype(np.int64), group_ptr.astype(np.int64), rows.astype(np.int64)


@numba.njit(**_JIT)
def _gram_products(gram, vectors, out, n):
    """out[g] = gram · vectors[g] for g < n; vectors and out are GROUP_SIZE × f scratch.

    For a group the four products are formed together, two rows of gram against the four
    vectors per pass: eight independent sums share each load, which measured 1.4x (f = 64)
    to 1.8x (f = 128) faster than one product at a time, and short rows spend most of their
    time here. Slots past n hold stale scratch and are computed regardless.
    """
    f = gram.shape[0]
    if n == 1:
        vector = vectors[0]
        for a in range(f):
            weights = gram[a]
            total = np.float32(0.0)
            for b in range(f):
                total += weights[b] * vector[b]
            out[0, a] = total
        return
    v0, v1, v2, v3 = vectors[0], vectors[1], vectors[2], vectors[3]
    for a in range(0, f, 2):
        w0, w1 = gram[a], gram[min(a + 1, f - 1)]  # an odd f repeats the last row
        t00 = t01 = t10 = t11 = t20 = t21 = t30 = t31 = np.float32(0.0)
        for b in range(f):
            x0, x1, x2, x3, y0, y1 = v0[b], v1[b], v2[b], v3[b], w0[b], w1[b]
            t00 += y0 * x0
            t01 += y1 * x0
            t10 += y0 * x1
            t11 += y1 * x1
            t20 += y0 * x2
            t21 += y1 * x2
            t30 += y0 * x3
            t31 += y1 * x3
        out[0, a], out[1, a], out[2, a], out[3, a] = t00, t10, t20, t30
        if a + 1 < f:
            out[0, a + 1], out[1, a + 1], out[2, a + 1], out[3, a + 1] = t01, t11, t21, t31


@numba.njit(**_JIT)
def _start_residual(items, confidence_minus_one, Y, gathered, x, r):
    """r <- b - A x = Σ (c - (c - 1) y·x) y - gram x for one row; r holds gram x on entry.

    Gathers the row's item factors into ``gathered`` (nnz × f) on the way, so that the CG
    steps stream contiguous memory instead of chasing random rows of Y.
    """
    f = x.shape[0]
    nnz = len(items)
    one = np.float32(1.0)
    for a in range(f):
        r[a] = -r[a]
    for k in range(min(PREFETCH_AHEAD, nnz)):
        prefetch_row(Y[np.int64(items[k])])
    for k in range(nnz):
        if k + PREFETCH_AHEAD < nnz:
            prefetch_row(Y[np.int64(items[k + PREFETCH_AHEAD])])
        y, source = gathered[k], Y[items[k]]
        weight = confidence_minus_one[k]
        dot = np.float32(0.0)
        for a in range(f):
            y[a] = source[a]
            dot += source[a] * x[a]
        scale = (one + weight) - weight * dot
        for a in range(f):
            r[a] += scale * y[a]


@numba.njit(**_JIT)
def _cg_step(gathered, confidence_minus_one, x, r, p, Ap, rs_old):
    """One conjugate-gradient step for one row; Ap holds gram p on entry.

    Updates x, r, p in place and returns the new squared residual, or -1 when the step
    cannot be taken (p is not a descent direction: the row is solved as far as float32 goes).
    """
    f = x.shape[0]
    nnz = len(confidence_minus_one)
    zero = np.float32(0.0)
    k = 0
    while k + 4 <= nnz:  # Ap += Σ (c - 1)(y·p) y, four items per pass over Ap
        y0, y1, y2, y3 = gathered[k], gathered[k + 1], gathered[k + 2], gathered[k + 3]
        d0 = d1 = d2 = d3 = zero
        for a in range(f):
            d0 += y0[a] * p[a]
            d1 += y1[a] * p[a]
            d2 += y2[a] * p[a]
            d3 += y3[a] * p[a]
        s0, s1 = confidence_minus_one[k] * d0, confidence_minus_one[k + 1] * d1
        s2, s3 = confidence_minus_one[k + 2] * d2, confidence_minus_one[k + 3] * d3
        for a in range(f):
            Ap[a] += (s0 * y0[a] + s1 * y1[a]) + (s2 * y2[a] + s3 * y3[a])
        k += 4
    for k in range(k, nnz):
        y = gathered[k]
        dot = zero
        for a in range(f):
            dot += y[a] * p[a]
        scale = confidence_minus_one[k] * dot
        for a in range(f):
            Ap[a] += scale * y[a]
    p_ap = zero
    for a in range(f):
        p_ap += p[a] * Ap[a]
    if p_ap <= zero:
        return np.float32(-1.0)
    step = rs_old / p_ap
    rs_new = zero
    for a in range(f):
        x[a] += step * p[a]
        r[a] -= step * Ap[a]
        rs_new += r[a] * r[a]
    ratio = rs_new / rs_old
    for a in range(f):
        p[a] = r[a] + ratio * p[a]
    return rs_new


@numba.njit(**_JIT)
def _cg_group(rows, indptr, indices, confidence_minus_one, X, Y, gram, cg_steps, local,
              x, r, p, Ap, rs_old):
    """Warm-started conjugate-gradient steps for a group of rows in lockstep (X in place).

    Each row takes exactly the steps it would alone (its own step sizes and stopping test);
    only the gram products are shared. ``local`` (Σ nnz × f) receives the gathered item
    factors; ``x, r, p, Ap`` (GROUP_SIZE × f) and ``rs_old`` (GROUP_SIZE) are scratch, and
    float32 throughout (typed constants included) so that the inner loops vectorise.
    """
    n = len(rows)
    for g in range(n):
        x[g] = X[rows[g]]
    _gram_products(gram, x, r, n)
    offset = 0
    for g in range(n):
        start, stop = indptr[rows[g]], indptr[rows[g] + 1]
        # Slices rather than offsets into the whole arrays: measured 10% faster.
        _start_residual(indices[start:stop], confidence_minus_one[start:stop], Y,
                        local[offset:offset + stop - start], x[g], r[g])
        offset += stop - start
        p[g] = r[g]
        total = np.float32(0.0)  # a loop, not np.dot: that would call BLAS inside prange
        for value in r[g]:
            total += value * value
        rs_old[g] = total
    for _ in range(cg_steps):
        _gram_products(gram, p, Ap, n)
        offset = 0
        for g in range(n):
            start, stop = indptr[rows[g]], indptr[rows[g] + 1]
            if rs_old[g] >= np.float32(1e-20):  # negative: stopped; tiny: converged
                rs_old[g] = _cg_step(local[offset:offset + stop - start],
                                     confidence_minus_one[start:stop], x[g], r[g], p[g],
                                     Ap[g], rs_old[g])
            offset += stop - start
    for g in range(n):
        X[rows[g]] = x[g]


@numba.njit(parallel=True, **_JIT)
def cg_update(indptr, indices, confidence_minus_one, X, Y, gram, cg_steps, bucket_ptr,
              group_ptr, rows):
    """One CG half-step: update every row of X (rows × f, in place) against Y (items × f)."""
    f = X.shape[1]
    for bucket in numba.prange(len(bucket_ptr) - 1):
        widest = 1
        for group in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            items = 0
            for position in range(group_ptr[group], group_ptr[group + 1]):
                items += indptr[rows[position] + 1] - indptr[rows[position]]
            widest = max(widest, items)
        local = np.empty((widest, f), dtype=X.dtype)
        # Zeroed, not empty: the unused slots of a short group still go through the gram
        # products, and stray denormals from uninitialised memory would slow them down.
        x = np.zeros((GROUP_SIZE, f), dtype=X.dtype)
        r = np.zeros((GROUP_SIZE, f), dtype=X.dtype)
        p = np.zeros((GROUP_SIZE, f), dtype=X.dtype)
        Ap = np.zeros((GROUP_SIZE, f), dtype=X.dtype)
        rs_old = np.zeros(GROUP_SIZE, dtype=X.dtype)
        for group in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            _cg_group(rows[group_ptr[group]:group_ptr[group + 1]], indptr, indices,
                      confidence_minus_one, X, Y, gram, cg_steps, local, x, r, p, Ap, rs_old)


@numba.njit(**_JIT)
def _cholesky_factor(A, n):
    """Lower Cholesky factor of the leading n × n block of A, in place (its lower triangle
    is read, the upper one is left alone). Returns False if A is not positive definite.

    Crout order keeps every inner loop a read-only dot product of contiguous rows (a form
    LLVM vectorises); four rows go at once so that each pivot-row load serves four of them.
    Measured per factorisation at f = 64 / 128 (float32): 7.6 / 38 µs, against 8.5 / 43 µs
    for np.linalg.cholesky inside njit (LAPACK, which also allocates, and must not run inside
    prange with a threaded BLAS), 21 / 117 µs for np.linalg.solve, 15 / 85 µs for this loop
    in float64 one row at a time, and 27 / 180 µs for the right-looking (axpy) order.
    """
    for j in range(n):
        pivot = A[j]
        total = pivot[j]
        for k in range(j):
            total -= pivot[k] * pivot[k]
        if not total > 0:
            return False
        diagonal = np.sqrt(total)
        pivot[j] = diagonal
        inverse = np.float32(1.0) / diagonal
        i = j + 1
        while i + 4 <= n:
            row0, row1, row2, row3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            total0, total1, total2, total3 = row0[j], row1[j], row2[j], row3[j]
            for k in range(j):
                value = pivot[k]
                total0 -= row0[k] * value
                total1 -= row1[k] * value
                total2 -= row2[k] * value
                total3 -= row3[k] * value
            row0[j], row1[j] = total0 * inverse, total1 * inverse
            row2[j], row3[j] = total2 * inverse, total3 * inverse
            i += 4
        for i in range(i, n):
            row = A[i]
            total = row[j]
            for k in range(j):
                total -= row[k] * pivot[k]
            row[j] = total * inverse
    return True


@numba.njit(**_JIT)
def _cholesky_solve(L, b, n):
    """b <- (L Lᵀ)⁻¹ b in place, L the factor left by _cholesky_factor (leading n × n)."""
    for i in range(n):  # forward: L z = b
        row = L[i]
        total = b[i]
        for k in range(i):
            total -= row[k] * b[k]
        b[i] = total / row[i]
    for i in range(n - 1, -1, -1):  # backward: Lᵀ x = z
        total = b[i]
        for k in range(i + 1, n):
            total -= L[k, i] * b[k]
        b[i] = total / L[i, i]


@numba.njit(**_JIT)
def _direct_solve(items, confidence_minus_one, Y, gram, A, b):
    """Solve (gram + Σ (c - 1) y yᵀ) x = Σ c y over the row's items; x is left in b.

    Forms the lower triangle of the f × f matrix, four items per pass over it, then factors
    it: O(nnz f² / 2 + f³ / 6). Returns False if the matrix is not positive definite. Row a
    of the triangle is updated up to a multiple of 8 columns (the excess lands in the unused
    upper triangle) so that the vectorised loop has no scalar remainder.
    """
    f = gram.shape[0]
    one = np.float32(1.0)
    for a in range(f):
        b[a] = 0
        target, source = A[a], gram[a]
        for c in range(a + 1):
            target[c] = source[c]
    nnz = len(items)
    k = 0
    while k + 4 <= nnz:
        y0, y1, y2, y3 = Y[items[k]], Y[items[k + 1]], Y[items[k + 2]], Y[items[k + 3]]
        w0, w1 = confidence_minus_one[k], confidence_minus_one[k + 1]
        w2, w3 = confidence_minus_one[k + 2], confidence_minus_one[k + 3]
        for a in range(f):
            b[a] += (one + w0) * y0[a] + (one + w1) * y1[a] + (one + w2) * y2[a] + (one + w3) * y3[a]
            s0, s1, s2, s3 = w0 * y0[a], w1 * y1[a], w2 * y2[a], w3 * y3[a]
            target = A[a]
            for c in range(min(f, (a // 8 + 1) * 8)):
                target[c] += s0 * y0[c] + s1 * y1[c] + s2 * y2[c] + s3 * y3[c]
        k += 4
    for k in range(k, nnz):
        y, w = Y[items[k]], confidence_minus_one[k]
        for a in range(f):
            b[a] += (one + w) * y[a]
            s = w * y[a]
            target = A[a]
            for c in range(a + 1):
                target[c] += s * y[c]
    if not _cholesky_factor(A, f):
        return False
    _cholesky_solve(A, b, f)
    return True


@numba.njit(**_JIT)
def _low_rank_solve(items, confidence_minus_one, Y, gram_inverse, W, M, t, x):
    """The same solve as _direct_solve for a row with few items (nnz < f / 2 or so), in
    O(nnz f² + nnz² f) instead of O(f³), written into x.

    The row's matrix is G + UᵀU, G = gram and U the nnz × f rows sqrt(c - 1) y. Woodbury:
    (G + UᵀU)⁻¹ = G⁻¹ - G⁻¹Uᵀ (I + U G⁻¹ Uᵀ)⁻¹ U G⁻¹, with G⁻¹ precomputed once per
    half-step; I + U G⁻¹ Uᵀ has eigenvalues >= 1, so the small solve is well conditioned.
    W (nnz × f) receives G⁻¹ y for each item, M (nnz × nnz) and t (nnz) the small system.
    """
    f = gram_inverse.shape[0]
    nnz = len(items)
    zero, one = np.float32(0.0), np.float32(1.0)
    whole = f - f % 4
    for r in range(nnz):  # W[r] = G⁻¹ y_r, four rows of G⁻¹ per pass
        y, out = Y[items[r]], W[r]
        for c in range(f):
            out[c] = zero
        for a in range(0, whole, 4):
            s0, s1, s2, s3 = y[a], y[a + 1], y[a + 2], y[a + 3]
            g0, g1, g2, g3 = gram_inverse[a], gram_inverse[a + 1], gram_inverse[a + 2], gram_inverse[a + 3]
            for c in range(f):
                out[c] += s0 * g0[c] + s1 * g1[c] + s2 * g2[c] + s3 * g3[c]
        for a in range(whole, f):
            s, g = y[a], gram_inverse[a]
            for c in range(f):
                out[c] += s * g[c]
    for c in range(f):  # x = G⁻¹ b = Σ c_r G⁻¹ y_r
        x[c] = zero
    for r in range(nnz):
        weight, row = one + confidence_minus_one[r], W[r]
        for c in range(f):
            x[c] += weight * row[c]
    for r in range(nnz):  # M = I + U G⁻¹ Uᵀ (lower triangle), t = U G⁻¹ b
        y = Y[items[r]]
        scale = np.sqrt(confidence_minus_one[r])
        total = zero
        for c in range(f):
            total += y[c] * x[c]
        t[r] = scale * total
        target = M[r]
        for s in range(r + 1):
            row = W[s]
            total = zero
            for c in range(f):
                total += y[c] * row[c]
            target[s] = scale * np.sqrt(confidence_minus_one[s]) * total
        target[r] += one
    if not _cholesky_factor(M, nnz):
        return False
    _cholesky_solve(M, t, nnz)
    for r in range(nnz):  # x -= G⁻¹ Uᵀ M⁻¹ U G⁻¹ b
        weight, row = t[r] * np.sqrt(confidence_minus_one[r]), W[r]
        for c in range(f):
            x[c] -= weight * row[c]
    return True


@numba.njit(parallel=True, **_JIT)
def cholesky_update(indptr, indices, confidence_minus_one, X, Y, gram, gram_inverse,
                    low_rank_below, bucket_ptr, group_ptr, rows):
    """One exact half-step: X[row] = A_row⁻¹ b_row for every row (X rows × f, in place).

    Rows with fewer than ``low_rank_below`` items take the Woodbury path (_low_rank_solve,
    which needs ``gram_inverse``), the others the direct one. Returns how many rows failed
    (matrix not positive definite); those keep their previous factors.
    """
    f = X.shape[1]
    failures = np.zeros(len(bucket_ptr) - 1, dtype=np.int64)
    for bucket in numba.prange(len(bucket_ptr) - 1):
        first, last = group_ptr[bucket_ptr[bucket]], group_ptr[bucket_ptr[bucket + 1]]
        small = 1  # the longest row below low_rank_below
        for position in range(first, last):
            nnz = indptr[rows[position] + 1] - indptr[rows[position]]
            if nnz < low_rank_below:
                small = max(small, nnz)
        A = np.empty((f, f), dtype=X.dtype)
        b = np.empty(f, dtype=X.dtype)
        W = np.empty((small, f), dtype=X.dtype)
        M = np.empty((small, small), dtype=X.dtype)
        t = np.empty(small, dtype=X.dtype)
        for position in range(first, last):
            row = rows[position]
            start, stop = indptr[row], indptr[row + 1]
            items, weights = indices[start:stop], confidence_minus_one[start:stop]
            if stop - start < low_rank_below:
                solved = _low_rank_solve(items, weights, Y, gram_inverse, W, M, t, b)
            else:
                solved = _direct_solve(items, weights, Y, gram, A, b)
            if solved:
                X[row] = b
            else:
                failures[bucket] += 1
    return failures.sum()


@numba.njit(parallel=True, **_JIT)
def observed_loss_terms(indptr, indices, confidence_minus_one, X, Y):
    """Σ over observed pairs of c (1 - s)² - s², s = x_u·y_i (the correction to the all-zero
    loss Σ_u x_uᵀ YᵀY x_u that makes it the full confidence-weighted loss)."""
    total = 0.0
    for row in numba.prange(X.shape[0]):
        partial = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            item = indices[k]
            s = 0.0
            for a in range(X.shape[1]):
                s += X[row, a] * Y[item, a]
            c = 1.0 + confidence_minus_one[k]
            partial += c * (1.0 - s) * (1.0 - s) - s * s
        total += partial
    return total
