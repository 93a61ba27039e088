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
from tui_recs.models.base import FactorModel, FitCallback, check_ids

if TYPE_CHECKING:
    import scipy.sparse as sp

SOLVERS = ("cg", "cholesky")


class ALS(FactorModel):
    """Alternating least squares for implicit feedback.

    Args:
        factors: latent dimensions f.
        regularization: λ, the L2 penalty on every factor vector.
        alpha: confidence scale: c = 1 + alpha * w, w the weighted plays.
        weighting: "bm25", "tfidf" or "none" (raw play counts), applied before confidence.
        bm25_k1, bm25_b: BM25 parameters (weighting "bm25").
        iterations: full sweeps (users, then items).
        solver: "cg" (fast, approximate per sweep) or "cholesky" (exact per sweep).
        cg_steps: conjugate-gradient steps per row per sweep (solver "cg").
        random_state: seed of the initial factors (None: fresh randomness).
        num_threads: threads for the kernels (None: all cores).
        calculate_loss_every: compute the training loss every k iterations (0: never).
    """

    name = "als"

    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md).
    def __init__(self, factors: int = 64, regularization: float = 1.0, alpha: float = 0.01,
                 iterations: int = 15, solver: str = "cg", cg_steps: int = 3,
                 weighting: str = "bm25", bm25_k1: float = 100.0, bm25_b: float = 0.8,
                 random_state: int | None = None, num_threads: int | None = None,
                 calculate_loss_every: int = 0) -> None:
        from tui_recs.models.weighting import WEIGHTINGS

        if solver not in SOLVERS:
            raise ModelError(f"unknown ALS solver {solver!r}: use one of {', '.join(SOLVERS)}")
        for label, value, low in (("factors", factors, 1), ("iterations", iterations, 1),
                                  ("cg_steps", cg_steps, 1)):
            if int(value) < low:
                raise ModelError(f"ALS {label} must be at least {low} (got {value})")
        if weighting not in WEIGHTINGS:
            raise ModelError(f"unknown ALS weighting {weighting!r}: use one of {', '.join(WEIGHTINGS)}")
        if regularization < 0 or not alpha > 0:
            raise ModelError(f"ALS needs regularization >= 0 and alpha > 0 "
                             f"(got {regularization}, {alpha})")
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.solver = solver
        self.cg_steps = int(cg_steps)
        self.random_state = random_state
        self.num_threads = num_threads
        self.calculate_loss_every = int(calculate_loss_every)
        self.weighting = weighting
        self.bm25_k1 = float(bm25_k1)
        self.bm25_b = float(bm25_b)
        self.lengths: np.ndarray | None = None  # artists' total plays in the training data
        self.loss_history: list[tuple[int, float]] = []

    # -------------------------------------------------------------------------------- fit
    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "ALS":
        """Train on a users × items CSR matrix of play counts.

        ``callback(iteration, seconds, loss_or_None)`` runs after each iteration; returning
        False, or ``cancel.is_set()`` becoming true, stops cleanly after that iteration.
        Factors that become NaN/inf raise a ModelError naming the hyperparameter to change.
        """
        from tui_recs.models import _als_kernels as kernels
        from tui_recs.models._numba import threads
        from tui_recs.models.weighting import artist_lengths

        self.lengths = artist_lengths(user_items)
        user_confidence = self._confidence(user_items)
        if not np.isfinite(user_confidence.data).all():
            raise ModelError("ALS confidences overflow float32 (alpha × plays is too large): "
                             "lower --alpha")
        user_confidence.sort_indices()
        item_confidence = user_confidence.T.tocsr()
        item_confidence.sort_indices()
        n_users, n_items = user_confidence.shape
        rng = np.random.default_rng(self.random_state)
        # Small random start: large enough to break symmetry, small enough not to bias.
        self.user_factors = (rng.random((n_users, self.factors), dtype=np.float32) * 0.01)
        self.item_factors = (rng.random((n_items, self.factors), dtype=np.float32) * 0.01)
        self.loss_history = []
        with threads(self.num_threads) as n_threads:
            user_rows = kernels.balanced_buckets(user_confidence.indptr, n_threads)
            item_rows = kernels.balanced_buckets(item_confidence.indptr, n_threads)
            for iteration in range(1, self.iterations + 1):
                started = time.perf_counter()
                self._half_step(kernels, user_confidence, self.user_factors, self.item_factors,
                                user_rows, n_threads)
                self._half_step(kernels, item_confidence, self.item_factors, self.user_factors,
                                item_rows, n_threads)
                self._check_finite(iteration)
                loss = None
                if self.calculate_loss_every and iteration % self.calculate_loss_every == 0:
                    loss = self.loss(user_items)
                    self.loss_history.append((iteration, loss))
                seconds = time.perf_counter() - started
                if callback is not None and callback(iteration, seconds, loss) is False:
                    break
                if cancel is not None and cancel.is_set():
                    break
        self.__dict__.pop("_normalized", None)
        return self

    def _confidence(self, user_items: "sp.csr_matrix") -> "sp.csr_matrix":
        """(c - 1) = alpha * w for the observed pairs of listener rows, users × items.

        Weights below zero (BM25 for a listener of nearly every artist) count as zero: the
        pair keeps preference 1 with the base confidence 1.
        """
        from tui_recs.models.weighting import bm25, confidence, weight

        if self.weighting == "bm25":
            weighted = bm25(user_items, self.bm25_k1, self.bm25_b, lengths=self.lengths)
        else:
            weighted = weight(user_items, self.weighting)
        np.maximum(weighted.data, 0, out=weighted.data)
        return confidence(weighted, self.alpha)

    def _gram(self, fixed: np.ndarray, dtype=np.float64) -> np.ndarray:
        """YᵀY + λI for the fixed side (f × f)."""
        gram = fixed.T.astype(np.float64) @ fixed.astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.regularization
        return gram.astype(dtype)

    def _half_step(self, kernels, confidence_matrix, solved: np.ndarray, fixed: np.ndarray,
                   buckets: tuple[np.ndarray, np.ndarray], n_threads: int) -> None:
        """Re-solve every row of ``solved`` against ``fixed`` (both float32, in place)."""
        args = (confidence_matrix.indptr.astype(np.int64), confidence_matrix.indices,
                confidence_matrix.data, solved, fixed)
        if self.solver == "cg":
            kernels.cg_update(*args, self._gram(fixed, np.float32), self.cg_steps, *buckets)
        else:
            failed = kernels.cholesky_update(*args, self._gram(fixed), *buckets)
            if failed:
                raise ModelError(f"ALS: {failed} normal equations were not positive definite; "
                                 "raise --regularization")

    def _check_finite(self, iteration: int) -> None:
        if not (np.isfinite(self.user_factors).all() and np.isfinite(self.item_factors).all()):
            raise ModelError(f"ALS diverged at iteration {iteration} (factors became NaN or "
                             "infinite): lower --alpha or raise --regularization")

    # ------------------------------------------------------------------------------- loss
    def loss(self, user_items: "sp.csr_matrix") -> float:
        """Training objective per cell: (Σ c (p - xᵀy)² + λ(|X|² + |Y|²)) / Σ c over all cells.

        Computed without visiting the zero cells: Σ_u x_uᵀ(YᵀY)x_u covers every cell as if
        unobserved, and the observed pairs add their correction.
        """
        from tui_recs.models import _als_kernels as kernels

        user_confidence = self._confidence(user_items)
        X = self.user_factors.astype(np.float64)
        Y = self.item_factors.astype(np.float64)
        all_zero = float(np.einsum("uf,fg,ug->", X, Y.T @ Y, X))
        observed = kernels.observed_loss_terms(user_confidence.indptr.astype(np.int64),
                                               user_confidence.indices, user_confidence.data,
                                               self.user_factors, self.item_factors)
        penalty = self.regularization * (float((X * X).sum()) + float((Y * Y).sum()))
        total_confidence = user_items.shape[0] * user_items.shape[1] + float(user_confidence.data.sum())
        return (all_zero + observed + penalty) / total_confidence

    # ------------------------------------------------------------------------- new listeners
    def _history(self, history: "Sequence[tuple[int, float]] | sp.spmatrix") -> "sp.csr_matrix":
        """A history given as (item, plays) pairs or a 1 × items row, as a 1 × items CSR row."""
        import scipy.sparse as sp

        n_items = self._require_fitted().shape[0]
        if hasattr(history, "tocsr"):
            row = history.tocsr().astype(np.float32)
            if row.shape != (1, n_items):
                raise ModelError(f"a listener history row must be 1 × {n_items}, not {row.shape}")
        else:
            pairs = list(history)
            items = check_ids([int(item) for item, _ in pairs], n_items, "item")
            plays = np.array([float(count) for _, count in pairs], dtype=np.float32)
            row = sp.csr_matrix((plays, (np.zeros(len(items), dtype=np.int64), items)),
                                shape=(1, n_items))
        row.sum_duplicates()
        if (row.data <= 0).any():
            raise ModelError("plays in a listener history must be positive")
        return row

    def recalculate_user(self, history: "Sequence[tuple[int, float]] | sp.spmatrix") -> np.ndarray:
        """Exact factors (f,) float32 of a listener not in the training data, from their
        history: (artist position, plays) pairs or a 1 × items CSR row of plays."""
        from tui_recs.models import _als_kernels as kernels

        row = self._confidence(self._history(history))
        vector = kernels.solve_row(row.indices.astype(np.int64), row.data,
                                   self.item_factors, self._gram(self.item_factors))
        if not np.isfinite(vector).all():
            raise ModelError("could not fold in this listener: raise --regularization")
        return vector.astype(np.float32)

    def explain(self, user: int, item: int, user_items: "sp.csr_matrix", n: int = 5
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """Why ``item`` is recommended to listener row ``user`` (Hu et al. 2008, §5).

        With W = (YᵀC_uY + λI)⁻¹ the re-solved score is Σ_j c_uj · y_itemᵀ W y_j over the
        listener's artists j. Returns (top n artists, their contributions, the total score);
        all contributions (not only the top n) sum to the total.
        """
        self._require_fitted()
        row = self._confidence(user_items[user])
        items = row.indices.astype(np.int64)
        if not len(items):
            return np.empty(0, np.int64), np.empty(0), 0.0
        Y = self.item_factors.astype(np.float64)
        confidences = 1.0 + row.data.astype(np.float64)
        history_factors = Y[items]
        system = self._gram(self.item_factors) + (history_factors.T * (confidences - 1.0)) @ history_factors
        weighted = np.linalg.solve(system, Y[item])  # W y_item (W is symmetric)
        contributions = confidences * (history_factors @ weighted)
        top = np.argsort(-contributions, kind="stable")[:n]
        return items[top], contributions[top], float(contributions.sum())

    # --------------------------------------------------------------------------- storage
    def get_params(self) -> dict[str, Any]:
        return {"factors": self.factors, "regularization": self.regularization,
                "alpha": self.alpha, "iterations": self.iterations, "solver": self.solver,
                "cg_steps": self.cg_steps, "weighting": self.weighting, "bm25_k1": self.bm25_k1,
                "bm25_b": self.bm25_b, "random_state": self.random_state,
                "num_threads": self.num_threads, "calculate_loss_every": self.calculate_loss_every}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**super().to_arrays(), "lengths": self.lengths}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.lengths = arrays["lengths"]
