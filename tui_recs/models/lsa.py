"""LSA: truncated SVD of the BM25-weighted artist × listener matrix.

With the weighted artist × listener matrix A ≈ U S Vᵀ (k = factors):

- artists are the rows of U·S. These are the rows of the rank-k approximation A_k = U S Vᵀ
  written in the orthonormal basis V, so cosines between them are exactly the cosines between
  the artists' smoothed listener vectors (classic LSA document-document similarity). Scaling
  by S rather than √S or 1 keeps the dominant taste dimensions dominant: on hetrec, the top-10
  related artists of the 1,000 most-listened artists share 31% with the unreduced BM25-cosine
  neighbours for U·S, 26% for U·√S and 23% for U (k = 32);
- a listener with weighted play column a is projected to v = S⁻¹ Uᵀ a, so that scores
  (U S)·v = U Uᵀ a are a's projection onto the artist subspace. A training listener's
  projection is exactly their row of V; listeners not seen in training are projected the same
  way, with the training data's BM25 statistics.

The SVD runs in float32 (the weights are float32 already, and memory traffic dominates the
solver). The default solver is block Lanczos with Numba-parallel sparse × block products
(see truncated_svd), meant to take at most half the time of plain ``svds(solver="arpack")``
in float32 at the 360K shape: ``benchmarks/bench_lsa.py`` measures its time against ARPACK
and PROPACK, and how closely its singular values and related-artist lists agree with a
float64 ARPACK solve, with a verdict on that target.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import Capabilities, FactorModel, FitCallback, check_ids
from tui_recs.models.params import SEED, Param
from tui_recs.models.weighting import BM25_B, artist_lengths, bm25

if TYPE_CHECKING:
    import scipy.sparse as sp

SOLVERS = ("lanczos", "propack", "arpack")
#: Columns per Lanczos block: a 16-column float32 row of a block is one cache line, and the
#: Krylov space converges in fewer columns than with wider blocks (at the 360K shape with
#: k = 64: ~256 columns at b = 16, ~350 at 32, ~580 at 64), which also keeps the dense
#: re-orthogonalisation (∝ columns²) small.
BLOCK = 16
#: Lanczos stops when every kept triplet has ‖A vᵢ − sᵢ uᵢ‖ <= TOL · s₁.
TOL = 1e-5
#: Blocks tried before falling back to svds, at least (more for large k: see truncated_svd).
MIN_ITERATIONS = 40
#: Lanczos hands over to svds if sₖ < SMALLEST · s₁: the eigenvalues sᵢ² of A·Aᵀ carry float32
#: rounding of ~eps · s₁², a relative error of up to ~eps / 2 · (s₁ / sᵢ)² in sᵢ (3e-4 at this
#: limit; BM25 spectra are flat, s₁ / s₁₂₈ ≈ 6 on hetrec), and a matrix of rank below k has
#: no vᵢ for sᵢ = 0.
SMALLEST = 1e-2


def truncated_svd(matrix: "sp.csr_matrix", k: int, solver: str = "lanczos",
                  random_state: int | None = None, transpose: "sp.csr_matrix | None" = None,
                  tol: float = TOL, max_iterations: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The k largest singular triplets of ``matrix`` (m × n CSR, k < min(m, n)).

    Solvers:

    - "lanczos": block Lanczos on the Gram matrix of the shorter side (A·Aᵀ when m <= n),
      BLOCK columns per block, every block re-orthogonalised against all earlier ones, in
      float32 with Numba-parallel sparse × block products (see _svd_kernels). It stops once
      every kept triplet's residual ‖A vᵢ − sᵢ uᵢ‖ is at most ``tol`` · s₁ (the residual
      comes free from the next block), after at most ``max_iterations`` blocks (default:
      MIN_ITERATIONS, or a Krylov space of 10·k columns if larger); if it has not converged
      by then, or sₖ < SMALLEST · s₁ (e.g. k above the matrix's rank), "propack" takes over.
    - "propack" / "arpack": ``scipy.sparse.linalg.svds`` with that solver, in float32 with
      SciPy's single-threaded CSR products; if it fails (PROPACK can stop without converging,
      e.g. on a flat spectrum), it is redone with ARPACK in float64.

    ``transpose``: the same matrix transposed, n × m CSR, when the caller has it (else it is
    built): every solver multiplies by both, and Aᵀ·y as row gathers of a CSR Aᵀ is faster
    than SciPy's scatter over a CSR A.

    Returns (U m × k, S (k,), Vt k × n, solver used), singular values in decreasing order,
    each dimension's sign fixed so that the largest-magnitude entry of its U column is
    positive (results do not flip between runs). Deterministic for a given
    ``random_state`` (the start vectors, and the restarts of the svds solvers).
    """
    if solver not in SOLVERS:
        raise ModelError(f"unknown SVD solver {solver!r}: use one of {', '.join(SOLVERS)}")
    transpose = matrix.T.tocsr() if transpose is None else transpose
    seed = int(np.random.default_rng(random_state).integers(2**32))
    if solver == "lanczos":
        if max_iterations is None:
            max_iterations = max(MIN_ITERATIONS, -(-10 * k // BLOCK))
        found = _block_lanczos(matrix, transpose, k, seed, tol, max_iterations)
        if found is not None:
            return _signed(*found, "lanczos")
        solver = "propack"
    return _signed(*_svds(matrix, transpose, k, solver, seed))


def _signed(U: np.ndarray, S: np.ndarray, Vt: np.ndarray, used: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The triplets in decreasing order of S, each sign chosen so that the largest-magnitude
    entry of its U column is positive."""
    order = np.argsort(-S, kind="stable")
    U, S, Vt = U[:, order], S[order], Vt[order]
    signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(U.shape[1])])
    signs[signs == 0] = 1
    return U * signs, S, Vt * signs[:, None], used


def _svds(matrix: "sp.csr_matrix", transpose: "sp.csr_matrix", k: int, solver: str, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(U, S, Vt, solver used) from ``svds`` with ``solver`` in float32, or ARPACK in
    float64 if that fails; S in the solver's order."""
    from numpy.linalg import LinAlgError
    from scipy.sparse.linalg import ArpackError

    try:
        return (*_svds_in(np.float32, matrix, transpose, k, solver, seed), solver)
    except (LinAlgError, ArpackError):
        return (*_svds_in(np.float64, matrix, transpose, k, "arpack", seed), "arpack")


def _svds_in(dtype: type, matrix: "sp.csr_matrix", transpose: "sp.csr_matrix", k: int,
             solver: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``svds(matrix, k, solver)`` computed in ``dtype``, products with ``transpose`` for Aᵀ."""
    from scipy.sparse.linalg import LinearOperator, svds

    forward, backward = matrix.astype(dtype, copy=False), transpose.astype(dtype, copy=False)
    operator = LinearOperator(matrix.shape, dtype=dtype,
                              matvec=forward.__matmul__, matmat=forward.__matmul__,
                              rmatvec=backward.__matmul__, rmatmat=backward.__matmul__)
    # PROPACK starts from a vector of length m; ARPACK from one of length min(m, n).
    start = np.random.default_rng(seed).standard_normal(
        matrix.shape[0] if solver == "propack" else min(matrix.shape)).astype(dtype)
    return svds(operator, k=k, solver=solver, v0=start, random_state=seed)


def _block_lanczos(matrix: "sp.csr_matrix", transpose: "sp.csr_matrix", k: int, seed: int,
                   tol: float, max_iterations: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(U m × k float32, S (k,) float64 decreasing, Vt k × n float32) of ``matrix`` by block
    Lanczos on the Gram matrix of its shorter side, or None where that gives up (see
    _gram_eigenvectors)."""
    from tui_recs.models._svd_kernels import SparseProduct, aligned_empty  # numba: ~0.3 s, only to train

    short_rows = matrix.shape[0] <= matrix.shape[1]
    rows, columns = (matrix, transpose) if short_rows else (transpose, matrix)
    forward, backward = SparseProduct(rows), SparseProduct(columns)
    found = _gram_eigenvectors(forward, backward, k, np.random.default_rng(seed), tol,
                               max_iterations)
    if found is None:
        return None
    left, values = found
    # vᵢ = Aᵀ uᵢ / ‖Aᵀ uᵢ‖, so ‖A vᵢ − sᵢ uᵢ‖ is the residual the iteration measured. sᵢ
    # stays the Ritz value: its error is second order in that of uᵢ (3e-8 against float64
    # at the 360K shape, 1.3e-7 for ‖Aᵀ uᵢ‖).
    right = backward.into(left, aligned_empty(backward.shape[0], k))
    right /= np.sqrt(np.einsum("ij,ij->j", right, right, dtype=np.float64)).astype(np.float32)
    if short_rows:
        return left, values, right.T
    return right, values, left.T


def _gram_eigenvectors(forward: Any, backward: Any, k: int, rng: np.random.Generator,
                       tol: float, max_iterations: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Top k eigenpairs of G = A·Aᵀ (A = ``forward``'s m × n matrix, ``backward`` its
    transpose) as (U m × k float32 orthonormal, singular values sᵢ = √λᵢ (k,) float64), or
    None if some residual ‖G uᵢ − λᵢ uᵢ‖ / sᵢ is still above ``tol`` · s₁ after
    ``max_iterations`` blocks, or sₖ < SMALLEST · s₁.

    The basis Q of the Krylov space grows by one block per iteration: Y = A·(Aᵀ·Q_j), made
    orthogonal to Q (see _extend_basis). T = Qᵀ G Q comes from the coefficients of that
    orthogonalisation, and G Q = Q T + Q_next R, so the residual of the Ritz pair (λᵢ, Q xᵢ)
    is ‖R · (last block of xᵢ)‖: convergence is tested without another product.
    """
    from tui_recs.models._svd_kernels import aligned_empty  # numba: ~0.3 s, only to train

    m, n = forward.shape
    # max_iterations products add as many blocks to the start block; fewer columns only
    # when the basis fills the whole space, and then the blocks cannot be any wider.
    capacity = min(m, BLOCK * (max_iterations + 1))
    basis = np.empty((m, capacity), dtype=np.float32, order="F")  # pages touched as it grows
    projected = np.zeros((capacity, capacity))
    _, first = _extend_basis(basis, 0, 0, rng.standard_normal((m, min(BLOCK, m)),
                                                              dtype=np.float32), rng)
    size = first.shape[0]
    block = slice(0, size)
    current, gathered, product = (aligned_empty(m, size), aligned_empty(n, size),
                                  aligned_empty(m, size))
    for _ in range(max_iterations):
        if current.shape[1] != block.stop - block.start:  # the last block may be narrower
            width = block.stop - block.start
            current, gathered, product = (aligned_empty(m, width), aligned_empty(n, width),
                                          aligned_empty(m, width))
        current[:] = basis[:, block]
        forward.into(backward.into(current, gathered), product)
        coefficients, R = _extend_basis(basis, size, max(0, block.start - BLOCK), product, rng)
        projected[:size, block] = coefficients
        projected[size:size + R.shape[0], block] = R
        values, vectors = np.linalg.eigh(_symmetric(projected[:size, :size]))
        values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
        singular = np.sqrt(np.maximum(values, 0))
        residuals = np.linalg.norm(R @ vectors[block], axis=0)
        if size >= k and np.all(residuals <= tol * singular[0] * singular):
            if singular[-1] < SMALLEST * singular[0]:
                return None
            left = aligned_empty(m, k)
            np.matmul(basis[:, :size], vectors.astype(np.float32), out=left)
            return left, singular
        if R.shape[0] == 0:  # the basis spans the whole space: nothing left to add
            return None
        block = slice(size, size + R.shape[0])
        size = block.stop
    return None


def _symmetric(square: np.ndarray) -> np.ndarray:
    """(M + Mᵀ) / 2: T's block columns come from separate orthogonalisations."""
    return (square + square.T) / 2


#: Directions of a new block with less than this fraction of the product's norm left after
#: projection are rounding noise or a rank deficiency: they are replaced by random ones.
DEFICIENT = 1e-6


def _extend_basis(basis: np.ndarray, size: int, local_from: int, block: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Append to ``basis`` (m × capacity float32, columns :size orthonormal) an orthonormal
    basis Q_new (m × width, width = min(w, capacity − size)) of the part of ``block``
    (m × w float32, overwritten) orthogonal to the first ``size`` columns Q.

    Returns (C size × w, R width × w) float64 with block = Q C + Q_new R up to rounding.
    The block is first projected off columns ``local_from``:size only, where Lanczos puts
    nearly all of it, then off all of Q, again while a pass removes much of what is left
    (block Gram–Schmidt, "twice is enough"; the dense cost is one pass over Q).
    """
    coefficients = np.zeros((size, block.shape[1]))
    floor = DEFICIENT * float(np.linalg.norm(block))
    _project(basis[:, local_from:size], block, coefficients[local_from:])
    width = min(block.shape[1], basis.shape[1] - size)
    new, R = _orthonormal(block, width, floor, rng)
    for _ in range(3):
        again = np.zeros((size, width))
        _project(basis[:, :size], new, again)
        new, mixing = _orthonormal(new, width, DEFICIENT, rng)
        coefficients += again @ R
        R = mixing @ R
        if width == 0 or np.linalg.svd(mixing, compute_uv=False)[-1] > 0.5:
            break
    basis[:, size:size + width] = new
    return coefficients, R


def _project(onto: np.ndarray, block: np.ndarray, coefficients: np.ndarray) -> None:
    """block -= onto · (ontoᵀ · block) in place (onto m × c, orthonormal columns); adds the
    c × w coefficients to ``coefficients``."""
    if onto.shape[1]:
        overlap = onto.T @ block
        block -= onto @ overlap
        coefficients += overlap


#: A block whose Gram matrix has eigenvalues below this fraction of its largest gets a
#: float64 Gram matrix: float32 rounding (~6e-8 of the largest) would swamp them.
ILL_CONDITIONED = 1e-6


def _orthonormal(block: np.ndarray, width: int, floor: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(Q m × width float32 orthonormal, R width × w float64) with block ≈ Q R, from the
    eigendecomposition of the Gram matrix (SVQB): the ``width`` strongest directions, those
    of singular value below ``floor`` replaced by random unit vectors (zero rows of R; the
    caller orthogonalises them)."""
    values, directions = np.linalg.eigh((block.T @ block).astype(np.float64))
    if len(values) and values[0] < ILL_CONDITIONED * values[-1]:
        block64 = block.astype(np.float64)
        values, directions = np.linalg.eigh(block64.T @ block64)
    values, directions = values[::-1][:width], directions[:, ::-1][:, :width]
    singular = np.sqrt(np.maximum(values, 0))
    kept = singular > floor
    Q = block @ (directions / np.where(kept, singular, 1)).astype(np.float32)
    if not kept.all():
        noise = rng.standard_normal((block.shape[0], int((~kept).sum())), dtype=np.float32)
        Q[:, ~kept] = noise / np.linalg.norm(noise, axis=0)
    return Q, (singular * kept)[:, None] * directions.T


class LSA(FactorModel):
    """Latent semantic analysis of listening data (hyperparameters: ``PARAMS``; the solvers
    are described in :func:`truncated_svd`)."""

    name = "lsa"
    title = "LSA"
    capabilities = Capabilities()
    trains_in_child = True
    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md).
    PARAMS = (
        Param("factors", int, 32, "k, the number of singular triplets kept", low=1,
              high=2048, below_data_side=True),
        Param("bm25_k1", float, 3.0, "BM25 K1 of the weighting", low=0, high=1e6),
        BM25_B,
        SEED,
        Param("solver", str, "lanczos", "lanczos (Numba block Lanczos, falls back to "
              "propack), or scipy's svds solver propack or arpack", choices=SOLVERS),
    )

    factors: int
    bm25_k1: float
    bm25_b: float
    random_state: int
    solver: str

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.singular_values: np.ndarray | None = None  # S (k,), decreasing
        self.item_basis: np.ndarray | None = None  # U (items × k)
        self.lengths: np.ndarray | None = None  # artists' total plays in the training data
        #: The solver that produced the factors (another after a fallback: see ``solver``).
        self.solver_used: str | None = None

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "LSA":
        """Weight ``user_items`` (users × items play counts) with BM25 and take the truncated
        SVD of the artist × listener view. One step: ``callback(1, seconds, None)`` at the end.
        ``cancel`` is accepted for a uniform signature; the SVD cannot be interrupted."""
        started = time.perf_counter()
        lengths = artist_lengths(user_items)
        weighted = bm25(user_items, self.bm25_k1, self.bm25_b, lengths=lengths)
        k = min(self.factors, min(weighted.shape) - 1)
        if k < 1:
            raise ModelError(f"LSA needs at least 2 listeners and 2 artists, got "
                             f"{weighted.shape[0]} × {weighted.shape[1]}")
        U, S, Vt, self.solver_used = truncated_svd(weighted.T.tocsr(), k, self.solver,
                                                   self.random_state, transpose=weighted)
        self.lengths = lengths
        self.singular_values = S.astype(np.float32)
        self.item_basis = U.astype(np.float32)
        self.item_factors = np.ascontiguousarray(U * S, dtype=np.float32)
        self.user_factors = np.ascontiguousarray(Vt.T, dtype=np.float32)
        if callback is not None:
            callback(1, time.perf_counter() - started, None)
        return self

    def user_vectors(self, users: np.ndarray, user_items: "sp.csr_matrix") -> np.ndarray:
        """Projections S⁻¹ Uᵀ a (len(users) × k float32) of listener rows ``users`` of
        ``user_items``, weighted with the training data's BM25 statistics; works for listeners
        not seen in training."""
        self._require_fitted()
        users = check_ids(users, user_items.shape[0], "user")
        weighted = bm25(user_items[users], self.bm25_k1, self.bm25_b, lengths=self.lengths)
        return (weighted @ self.item_basis) / self.singular_values

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**super().to_arrays(), "singular_values": self.singular_values,
                "item_basis": self.item_basis, "lengths": self.lengths}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.singular_values = arrays["singular_values"]
        self.item_basis = arrays["item_basis"]
        self.lengths = arrays["lengths"]
