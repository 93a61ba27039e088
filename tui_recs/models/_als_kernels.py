"""Numba kernels of implicit ALS (Hu, Koren & Volinsky 2008).

One half-step solves, for every row u of a CSR matrix of confidences-minus-one (c_ui - 1),

    (YᵀY + λI + Σ_i (c_ui - 1) y_i y_iᵀ) x_u = Σ_i c_ui y_i

against fixed factors Y. ``gram`` is the precomputed YᵀY + λI. The CG path never forms the
f × f matrix of a row: it applies it as gram·p plus a sum over the row's items, warm-started
from the current x_u. The Cholesky path forms the matrix and solves exactly.

Rows are split into one bucket per thread, balanced by work (listeners' history lengths are
very skewed, and prange alone would give each thread an equal *count* of rows). A row's
result does not depend on its bucket, so factors are identical for any thread count.
"""

from __future__ import annotations

import numpy as np

from tui_recs.models._numba import numba

_JIT = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")
#: How many items ahead of the current one the CG gather pass prefetches.
PREFETCH_AHEAD = 4


@numba.extending.intrinsic
def _prefetch(typingctx, array, row, column):
    """Hint the CPU to start loading the cache line of ``array[row, column]`` (2-D array):
    the gather pass reads rows of Y in an order the hardware prefetcher cannot predict."""
    from llvmlite import ir

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        struct = context.make_array(array_type)(context, builder, args[0])
        offset = builder.add(builder.mul(args[1], builder.extract_value(struct.strides, 0)),
                             builder.mul(args[2], builder.extract_value(struct.strides, 1)))
        base = builder.ptrtoint(struct.data, ir.IntType(64))
        address = builder.inttoptr(builder.add(base, offset), ir.IntType(8).as_pointer())
        intrinsic = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [
                ir.IntType(8).as_pointer(), ir.IntType(32), ir.IntType(32), ir.IntType(32)]))
        builder.call(intrinsic, [address, ir.Constant(ir.IntType(32), 0),
                                 ir.Constant(ir.IntType(32), 3), ir.Constant(ir.IntType(32), 1)])
        return context.get_dummy_value()

    return numba.types.void(array, numba.types.int64, numba.types.int64), codegen


@numba.njit(**_JIT)
def _prefetch_row(Y, row):
    """Prefetch every cache line (16 float32) of ``Y[row]``."""
    for column in range(0, Y.shape[1], 16):
        _prefetch(Y, row, np.int64(column))


def rows_by_work(indptr: np.ndarray) -> np.ndarray:
    """Row numbers sorted by history length, longest first (ties by row)."""
    return np.argsort(-np.diff(indptr), kind="stable").astype(np.int64)


def balanced_buckets(indptr: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows dealt into ``n_buckets`` of about equal work: (bucket_ptr, rows), CSR-like.

    Rows sorted by history length are dealt snake-wise (0,1,..,B-1,B-1,..,0,...), which
    keeps bucket totals within about one row of each other.
    """
    order = rows_by_work(indptr)
    position = np.arange(len(order))
    lap, offset = np.divmod(position, n_buckets)
    bucket_of = np.where(lap % 2 == 0, offset, n_buckets - 1 - offset)
    by_bucket = np.argsort(bucket_of, kind="stable")
    rows = order[by_bucket].astype(np.int64)
    counts = np.bincount(bucket_of, minlength=n_buckets)
    bucket_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return bucket_ptr, rows


@numba.njit(**_JIT)
def _cg_row(items, confidence_minus_one, x, Y, gram, cg_steps, r, p, Ap, local):
    """Warm-started conjugate-gradient steps for one row, updating x (f,) in place.

    The row's item factors are gathered into ``local`` (nnz × f scratch) on the first pass,
    so the CG steps stream contiguous memory instead of chasing random rows of Y. Everything
    stays float32 (typed constants included) so the inner loops vectorise.
    """
    f = x.shape[0]
    nnz = len(items)
    zero, one = np.float32(0.0), np.float32(1.0)
    # r = b - A x = Σ (c - (c - 1) y·x) y_i - gram x
    for a in range(f):
        g = gram[a]
        total = zero
        for b in range(f):
            total += g[b] * x[b]
        r[a] = -total
    for k in range(min(PREFETCH_AHEAD, nnz)):
        _prefetch_row(Y, np.int64(items[k]))
    for k in range(nnz):
        if k + PREFETCH_AHEAD < nnz:
            _prefetch_row(Y, np.int64(items[k + PREFETCH_AHEAD]))
        y = local[k]
        source = Y[items[k]]
        cm1 = confidence_minus_one[k]
        dot = zero
        for a in range(f):
            y[a] = source[a]
            dot += source[a] * x[a]
        scale = (one + cm1) - cm1 * dot
        for a in range(f):
            r[a] += scale * y[a]
    rs_old = zero
    for a in range(f):
        p[a] = r[a]
        rs_old += r[a] * r[a]
    for _ in range(cg_steps):
        if rs_old < np.float32(1e-20):
            break
        # Ap = gram p + Σ (c - 1)(y·p) y
        for a in range(f):
            g = gram[a]
            total = zero
            for b in range(f):
                total += g[b] * p[b]
            Ap[a] = total
        for k in range(nnz):
            y = local[k]
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
            break
        step = rs_old / p_ap
        rs_new = zero
        for a in range(f):
            x[a] += step * p[a]
            r[a] -= step * Ap[a]
            rs_new += r[a] * r[a]
        ratio = rs_new / rs_old
        for a in range(f):
            p[a] = r[a] + ratio * p[a]
        rs_old = rs_new


@numba.njit(parallel=True, **_JIT)
def cg_update(indptr, indices, confidence_minus_one, X, Y, gram, cg_steps, bucket_ptr, rows):
    """One CG half-step: update every row of X (rows × f, in place) against Y (items × f)."""
    f = X.shape[1]
    for bucket in numba.prange(len(bucket_ptr) - 1):
        longest = 1
        for position in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            row = rows[position]
            longest = max(longest, indptr[row + 1] - indptr[row])
        local = np.empty((longest, f), dtype=X.dtype)
        r = np.empty(f, dtype=X.dtype)
        p = np.empty(f, dtype=X.dtype)
        Ap = np.empty(f, dtype=X.dtype)
        for position in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            row = rows[position]
            start, stop = indptr[row], indptr[row + 1]
            _cg_row(indices[start:stop], confidence_minus_one[start:stop], X[row], Y, gram,
                    cg_steps, r, p, Ap, local)


@numba.njit(**_JIT)
def _cholesky_solve(A, b, out):
    """Solve A out = b for symmetric positive-definite A (f × f, overwritten by its factor).

    Returns False if A is not positive definite."""
    f = A.shape[0]
    for j in range(f):
        total = A[j, j]
        for k in range(j):
            total -= A[j, k] * A[j, k]
        if total <= 0.0:
            return False
        diagonal = np.sqrt(total)
        A[j, j] = diagonal
        for i in range(j + 1, f):
            total = A[i, j]
            for k in range(j):
                total -= A[i, k] * A[j, k]
            A[i, j] = total / diagonal
    for i in range(f):  # forward: L z = b
        total = b[i]
        for k in range(i):
            total -= A[i, k] * out[k]
        out[i] = total / A[i, i]
    for i in range(f - 1, -1, -1):  # backward: Lᵀ x = z
        total = out[i]
        for k in range(i + 1, f):
            total -= A[k, i] * out[k]
        out[i] = total / A[i, i]
    return True


@numba.njit(**_JIT)
def _normal_equations(row, indptr, indices, confidence_minus_one, Y, gram, A, b):
    """A = gram + Σ (c - 1) y yᵀ and b = Σ c y over the row's items (A, b filled in place)."""
    f = gram.shape[0]
    for a in range(f):
        b[a] = 0.0
        for c in range(f):
            A[a, c] = gram[a, c]
    for k in range(indptr[row], indptr[row + 1]):
        item = indices[k]
        cm1 = confidence_minus_one[k]
        for a in range(f):
            scaled = cm1 * Y[item, a]
            b[a] += (1.0 + cm1) * Y[item, a]
            for c in range(a + 1):  # lower triangle is all the solver reads
                A[a, c] += scaled * Y[item, c]


@numba.njit(parallel=True, **_JIT)
def cholesky_update(indptr, indices, confidence_minus_one, X, Y, gram, bucket_ptr, rows):
    """One exact half-step: X[row] = A_row⁻¹ b_row for every row. Returns rows that failed
    (not positive definite; count of them), so the caller can report it."""
    f = X.shape[1]
    failures = np.zeros(len(bucket_ptr) - 1, dtype=np.int64)
    for bucket in numba.prange(len(bucket_ptr) - 1):
        A = np.empty((f, f), dtype=np.float64)
        b = np.empty(f, dtype=np.float64)
        out = np.empty(f, dtype=np.float64)
        for position in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            row = rows[position]
            _normal_equations(row, indptr, indices, confidence_minus_one, Y, gram, A, b)
            if _cholesky_solve(A, b, out):
                for a in range(f):
                    X[row, a] = out[a]
            else:
                failures[bucket] += 1
    return failures.sum()


@numba.njit(**_JIT)
def solve_row(indices, confidence_minus_one, Y, gram):
    """Exact solution for one listener given as (items, c - 1) arrays: x (f,), float64."""
    f = gram.shape[0]
    indptr = np.array([0, len(indices)], dtype=np.int64)
    A = np.empty((f, f), dtype=np.float64)
    b = np.empty(f, dtype=np.float64)
    out = np.zeros(f, dtype=np.float64)
    _normal_equations(0, indptr, indices, confidence_minus_one, Y, gram, A, b)
    if not _cholesky_solve(A, b, out):
        out[:] = np.nan
    return out


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
