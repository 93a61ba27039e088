"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) on Numba-parallel kernels.

Input is the users × items matrix of play counts; the model weights it (BM25 by default,
see :mod:`tui_recs.models.weighting`), applies the confidence c_ui = 1 + alpha * w_ui to the
weights w (preference p_ui = [plays_ui > 0]) and minimises

    Σ_{u,i} c_ui (p_ui - x_uᵀ y_i)² + λ (Σ_u |x_u|² + Σ_i |y_i|²)

by alternating exact (Cholesky) or conjugate-gradient (warm-started, YᵀY precomputed) solves.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import (Capabilities, FactorModel, FitCallback, check_ids, history_row,
                                  solve_fold_in)
from tui_recs.models.params import SEED, THREADS, Param
from tui_recs.models.weighting import (BM25_B, WEIGHTINGS, artist_lengths, bm25, confidence,
                                       weight)

if TYPE_CHECKING:
    import scipy.sparse as sp

SOLVERS = ("cg", "cholesky")
#: Rows shorter than this share of f are solved by Woodbury in the Cholesky half-step.
LOW_RANK_SHARE = 0.5


class ALS(FactorModel):
    """Alternating least squares for implicit feedback (hyperparameters: ``PARAMS``).

    The same seed and thread count give identical factors (so does any thread count, by
    design) on one machine; across CPUs of another SIMD width the "cg" sums vectorize
    differently (fastmath), ~4e-4 apart after 3 iterations of the tests' small model. The one
    BLAS call per half-step (YᵀY) runs between the Numba kernels, never alongside them.

    After ``fit``: ``user_factors`` (users × f) and ``item_factors`` (items × f), float32,
    and ``loss_history`` [(iteration, loss)] when ``calculate_loss_every`` is set.
    """

    name = "als"
    title = "ALS"
    capabilities = Capabilities(explain=True, loss=True)
    trains_in_child = True
    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md).
    PARAMS = (
        Param("factors", int, 64, "latent dimensions f", low=1, high=1024),
        Param("regularization", float, 1.0, "λ, the L2 penalty on every factor vector",
              low=0, high=1e6),
        Param("alpha", float, 0.01, "confidence scale: c = 1 + alpha * weighted plays",
              low=0, low_open=True, high=1e6),
        Param("iterations", int, 15, "full sweeps (users, then items)", low=1, high=10_000),
        Param("solver", str, "cg", "cg (fast, approximate per sweep) or cholesky (exact)",
              choices=SOLVERS),
        Param("cg_steps", int, 3, "conjugate-gradient steps per row per sweep (solver cg)",
              low=1, high=100),
        Param("weighting", str, "bm25", "weighting of the plays before confidence",
              choices=WEIGHTINGS),
        Param("bm25_k1", float, 100.0, "BM25 K1 (weighting bm25)", low=0, high=1e6),
        BM25_B,
        SEED,
        THREADS,
        Param("calculate_loss_every", int, 0, "compute the training loss every k iterations "
              "(0: never)", low=0, high=1000, effect="reporting"),
    )

    factors: int
    regularization: float
    alpha: float
    iterations: int
    solver: str
    cg_steps: int
    weighting: str
    bm25_k1: float
    bm25_b: float
    random_state: int
    num_threads: int | None
    calculate_loss_every: int

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.lengths: np.ndarray | None = None  # artists' total plays in the training data
        self.loss_history: list[tuple[int, float]] = []

    # -------------------------------------------------------------------------------- fit
    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "ALS":
        """Train on a users × items CSR matrix of raw play counts.

        The model applies its weighting and the confidence c = 1 + alpha · w itself; pass
        plays, not confidences. ``callback(iteration, seconds, loss_or_None)`` runs after each
        iteration; returning False, or ``cancel.is_set()`` (any object with ``is_set``, such as
        a threading.Event) becoming true, stops cleanly after that iteration. Factors that
        become NaN/inf raise a ModelError naming the hyperparameter to change.
        """
        from tui_recs.models._numba import threads  # numba: ~0.3 s of import, only to train

        user_items = user_items.tocsr()
        # Sorted rows read the fixed factors in order. Sorted into a copy, not in place: the
        # confidences share the input's index arrays.
        if not user_items.has_sorted_indices:
            user_items = user_items.sorted_indices()
        self.lengths = artist_lengths(user_items)
        user_confidence = self._confidence(user_items)
        if not _all_finite(user_confidence.data):
            raise ModelError("ALS confidences overflow float32 (alpha × plays is too large): "
                             "lower --alpha")
        item_confidence = user_confidence.T.tocsr()
        item_confidence.sort_indices()
        n_users, n_items = user_confidence.shape
        rng = np.random.default_rng(self.random_state)
        self.user_factors = _initial_factors(rng, n_users, self.factors)
        self.item_factors = _initial_factors(rng, n_items, self.factors)
        self.loss_history = []
        with threads(self.num_threads) as n_threads:
            user_side = _Side(user_confidence, n_threads, self.factors)
            item_side = _Side(item_confidence, n_threads, self.factors)
            for iteration in range(1, self.iterations + 1):
                started = time.perf_counter()
                self._half_step(user_side, self.user_factors, self.item_factors)
                self._half_step(item_side, self.item_factors, self.user_factors)
                self._forget_derived()
                self._check_finite(iteration)
                loss = None
                if self.calculate_loss_every and iteration % self.calculate_loss_every == 0:
                    loss = self._loss(user_confidence)
                    self.loss_history.append((iteration, loss))
                seconds = time.perf_counter() - started
                if callback is not None and callback(iteration, seconds, loss) is False:
                    break
                if cancel is not None and cancel.is_set():
                    break
        return self

    def _forget_derived(self) -> None:
        """Drop what was computed from the factors (they are updated in place)."""
        self.__dict__.pop("_normalized", None)
        self.__dict__.pop("_item_gram", None)

    def _confidence(self, user_items: "sp.csr_matrix") -> "sp.csr_matrix":
        """(c - 1) = alpha * w for the observed pairs of listener rows, users × items.

        Weights below zero (BM25 for a listener of nearly every artist) count as zero: the
        pair keeps preference 1 with the base confidence 1.
        """
        if self.weighting == "bm25":
            weighted = bm25(user_items, self.bm25_k1, self.bm25_b, lengths=self.lengths)
        else:
            weighted = weight(user_items, self.weighting)
        np.maximum(weighted.data, 0, out=weighted.data)
        return confidence(weighted, self.alpha, copy=False)  # weighted is our own copy

    def _gram(self, fixed: np.ndarray) -> np.ndarray:
        """YᵀY + λI of the fixed side, f × f float32.

        One float32 GEMM through numpy's BLAS, outside the parallel kernels (which call no
        BLAS, so BLAS threads and Numba threads never run at the same time). Its rounding
        error (about 1e-7 relative) is far below what the float32 solves keep.
        """
        gram = fixed.T @ fixed
        gram[np.diag_indices_from(gram)] += np.float32(self.regularization)
        return gram

    def _half_step(self, side: "_Side", solved: np.ndarray, fixed: np.ndarray) -> None:
        """Re-solve every row of ``solved`` against ``fixed`` (both float32, in place)."""
        from tui_recs.models import _als_kernels as kernels  # numba: ~0.3 s, only to train

        gram = self._gram(fixed)
        args = (side.indptr, side.indices, side.confidence_minus_one, solved, fixed, gram)
        if self.solver == "cg":
            kernels.cg_update(*args, self.cg_steps, *side.buckets)
            return
        gram_inverse, low_rank_below = _low_rank_setup(gram)
        failed = kernels.cholesky_update(*args, gram_inverse, low_rank_below, *side.buckets)
        if failed:
            raise ModelError(f"ALS: {failed} normal equations were not positive definite; "
                             "raise --regularization")

    def _check_finite(self, iteration: int) -> None:
        if not (_all_finite(self.user_factors) and _all_finite(self.item_factors)):
            raise ModelError(f"ALS diverged at iteration {iteration} (factors became NaN or "
                             f"infinite): {self._divergence_advice()}")

    def _divergence_advice(self) -> str:
        """Which hyperparameter to change after factors became NaN/inf: without
        regularization the normal equations can be singular; otherwise large confidences
        (alpha × weighted plays) are what overflows."""
        if self.regularization == 0:
            return "regularization is 0: raise it (e.g. to 1)"
        return f"lower alpha (now {self.alpha:g})"

    # ------------------------------------------------------------------------------- loss
    def loss(self, user_items: "sp.csr_matrix") -> float:
        """Training objective per cell: (Σ c (p - xᵀy)² + λ(|X|² + |Y|²)) / Σ c over all cells.

        Computed without visiting the zero cells: Σ_u x_uᵀ(YᵀY)x_u = Σ (XᵀX ⊙ YᵀY) covers
        every cell as if unobserved, and the observed pairs add their correction; the norms
        are the traces of the same two f × f grams.
        """
        return self._loss(self._confidence(user_items))

    def _loss(self, user_confidence: "sp.csr_matrix") -> float:
        """:meth:`loss` from the confidences (c - 1) of the training data, users × items (fit
        keeps them: weighting 17.7M plays again every iteration held the GIL ~0.5 s)."""
        from tui_recs.models import _als_kernels as kernels  # numba: ~0.3 s, only to train

        user_gram, item_gram = _exact_gram(self.user_factors), _exact_gram(self.item_factors)
        all_zero = float((user_gram * item_gram).sum())
        observed = kernels.observed_loss_terms(user_confidence.indptr.astype(np.int64),
                                               _read_only(user_confidence.indices),
                                               user_confidence.data,
                                               self.user_factors, self.item_factors)
        penalty = self.regularization * float(np.trace(user_gram) + np.trace(item_gram))
        n_users, n_items = user_confidence.shape
        total_confidence = n_users * n_items + float(user_confidence.data.sum())
        return (all_zero + observed + penalty) / total_confidence

    # ------------------------------------------------------------------------- new listeners
    def _normal_equations(self, history: "sp.csr_matrix"
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A listener's exact system against the item factors, in float64.

        Returns (items, confidences c, A = YᵀY + λI + Σ (c - 1) y yᵀ, b = Σ c y) for the
        artists of a 1 × items history row of plays.
        """
        row = self._confidence(history)
        items = row.indices.astype(np.int64)
        confidences = 1.0 + row.data.astype(np.float64)
        history_factors = self.item_factors[items].astype(np.float64)
        system = self._exact_item_gram().copy()
        system[np.diag_indices_from(system)] += self.regularization
        system += (history_factors.T * (confidences - 1.0)) @ history_factors
        return items, confidences, system, history_factors.T @ confidences

    def _exact_item_gram(self) -> np.ndarray:
        """YᵀY in float64 (f × f), kept between fold-ins until the factors change."""
        factors = self._require_fitted()
        cached = self.__dict__.get("_item_gram")
        if cached is None or cached[0] is not factors:
            cached = (factors, _exact_gram(factors))
            self.__dict__["_item_gram"] = cached
        return cached[1]

    def recalculate_user(self, history: "Sequence[tuple[int, float]] | sp.spmatrix") -> np.ndarray:
        """Exact factors (f,) float32 of a listener not in the training data (fold-in).

        ``history`` is either (artist position, plays) pairs or a 1 × items CSR row of plays;
        it is weighted and turned into confidences exactly as the training data was, and the
        listener's normal equations are solved exactly against the fixed item factors.
        """
        self._require_fitted()
        _, _, system, rhs = self._normal_equations(history_row(history, self.item_factors.shape[0]))
        return solve_fold_in(system, rhs)

    def score_history(self, history: "sp.csr_matrix") -> np.ndarray:
        """Scores (items,) of every artist for a listener folded in from ``history``."""
        return self.item_factors @ self.recalculate_user(history)

    def explain(self, user: int, item: int, user_items: "sp.csr_matrix", n: int = 5
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """Why ``item`` is recommended to listener row ``user`` (Hu et al. 2008, §5).

        With W = (YᵀC_uY + λI)⁻¹ the re-solved score is Σ_j c_uj · y_itemᵀ W y_j over the
        listener's artists j. Returns (top n artists, their contributions, the total score);
        all contributions (not only the top n) sum to the total, which equals the score of
        ``recalculate_user(user_items[user])`` for ``item``.
        """
        self._require_fitted()
        check_ids([item], self.item_factors.shape[0], "item")
        items, confidences, system, _ = self._normal_equations(
            user_items[check_ids([user], user_items.shape[0], "user")[0]])
        if not len(items):
            return np.empty(0, np.int64), np.empty(0), 0.0
        weighted = np.linalg.solve(system, self.item_factors[item].astype(np.float64))  # W y_item
        contributions = confidences * (self.item_factors[items].astype(np.float64) @ weighted)
        top = np.argsort(-contributions, kind="stable")[:n]
        return items[top], contributions[top], float(contributions.sum())

    # --------------------------------------------------------------------------- storage
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**super().to_arrays(), "lengths": self.lengths}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.lengths = arrays["lengths"]


class _Side:
    """One side of the alternation: its CSR rows of (c - 1) and their schedule.

    Rows shorter than f items go through CG four at a time (see _als_kernels.schedule): that
    threshold measured best among f/2, f, 2f and 4f on hetrec and the demo data.
    """

    def __init__(self, confidence_minus_one: "sp.csr_matrix", n_threads: int, factors: int) -> None:
        from tui_recs.models import _als_kernels as kernels  # numba: ~0.3 s, only to train

        self.indptr = confidence_minus_one.indptr.astype(np.int64)
        self.indices = _read_only(confidence_minus_one.indices)
        self.confidence_minus_one = confidence_minus_one.data
        self.buckets = kernels.schedule(self.indptr, n_threads, group_below=factors)


def _all_finite(values: np.ndarray) -> bool:
    """Whether no value is NaN or infinite, found from the extremes (NaN propagates to both):
    np.isfinite(values).all() makes a boolean copy, 46 MB for 360K × 128 factors."""
    return values.size == 0 or bool(np.isfinite(values.min()) and np.isfinite(values.max()))


def _read_only(indices: np.ndarray) -> np.ndarray:
    """A read-only view of ``indices``: the kernels get the same array type whether the play
    matrix they share indices with is memory-mapped (read-only) or not, so one compiled
    specialization serves both."""
    view = indices.view()
    view.flags.writeable = False
    return view


def _initial_factors(rng: np.random.Generator, rows: int, factors: int) -> np.ndarray:
    """(rows, factors) float32 uniform in [0, 0.01): large enough to break symmetry, small
    enough not to bias; scaled in place, so no second array of this size is made."""
    start = rng.random((rows, factors), dtype=np.float32)
    start *= np.float32(0.01)
    return start


def _exact_gram(factors: np.ndarray, block_rows: int = 4096) -> np.ndarray:
    """FᵀF in float64 (f × f), a block of rows at a time so that no float64 copy of the whole
    float32 factor matrix is made (a block is 4 MiB at f = 128)."""
    gram = np.zeros((factors.shape[1], factors.shape[1]))
    for start in range(0, factors.shape[0], block_rows):
        block = factors[start:start + block_rows].astype(np.float64)
        gram += block.T @ block
    return gram


def _low_rank_setup(gram: np.ndarray) -> tuple[np.ndarray, int]:
    """(gram⁻¹ as float32, row length below which the Cholesky half-step uses Woodbury).

    The Woodbury path costs about nnz·f² + nnz²·f against f³/6 + nnz·f²/2 for the direct
    one; measured on hetrec and the demo data at f = 64 and 128, the two break even between
    nnz = f/2 and 3f/4. A singular gram (λ = 0) turns it off.
    """
    try:
        inverse = np.linalg.inv(gram.astype(np.float64))
    except np.linalg.LinAlgError:
        return gram, 0
    if not np.isfinite(inverse).all():
        return gram, 0
    return inverse.astype(np.float32), int(gram.shape[0] * LOW_RANK_SHARE)
