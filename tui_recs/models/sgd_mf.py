"""Matrix factorization of the observed plays by SGD: the seed tutorial's model.

Play counts r_ui are scaled (``scaling``: min-max to [0, 1] over the training plays, as the
tutorial does, or log1p), a seeded share of the observed pairs is held out for validation,
and SGD minimises the squared error on the other observed pairs only,

    Σ_(u,i) observed (r_ui - p_uᵀq_i)² + λ (|p_u|² + |q_i|²)   (λ applied per update),

reporting the train and validation RMSE after every epoch. It predicts how much a listener
plays an artist *they play*: the pairs it never sees (the unplayed artists) are the ones a
recommender must rank, and nothing in the loss keeps their predictions low. The evaluation
shows its RMSE beside its ranking metrics for that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tui_recs.models.base import (Capabilities, FitCallback, check_trained_width, history_row,
                                  solve_fold_in)
from tui_recs.models.epochs import EpochModel, epochs, learning_rate, sorted_csr
from tui_recs.models.params import SEED, THREADS, Param

if TYPE_CHECKING:
    import scipy.sparse as sp

SCALINGS = ("minmax", "log1p")


class SGDMF(EpochModel):
    """SGD matrix factorization of the observed plays (hyperparameters: ``PARAMS``).

    Reproducible with a seed and ``num_threads=1``; with more threads the lock-free updates
    race, so runs differ slightly. After ``fit``: ``user_factors`` (users × f),
    ``item_factors`` (items × f), float32, ``scale`` (the training plays' min and max), and
    ``curves`` with "train_rmse" and "validation_rmse" per epoch ("loss" is the train RMSE).
    """

    name = "sgd-mf"
    title = "SGD-MF"
    capabilities = Capabilities(rmse=True)
    trains_in_child = True
    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md); log1p beat the
    # tutorial's min-max by far (min-max: NDCG@10 0.0003, its top 10 are obscure artists).
    PARAMS = (
        Param("factors", int, 32, "latent dimensions f", low=1, high=1024),
        learning_rate(0.01),
        Param("regularization", float, 0.02, "λ, the L2 penalty per update", low=0, high=100),
        epochs(20),
        Param("scaling", str, "log1p", "play counts as fitted: minmax (to [0, 1], as the "
              "tutorial) or log1p", choices=SCALINGS),
        Param("validation_share", float, 0.1, "share of the observed pairs held out for the "
              "validation RMSE (0: none)", low=0, high=0.5),
        SEED,
        THREADS,
    )

    factors: int
    learning_rate: float
    regularization: float
    iterations: int
    scaling: str
    validation_share: float
    random_state: int
    num_threads: int | None

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scale: np.ndarray | None = None  # (min, max) of the training plays

    def scaled(self, plays: np.ndarray) -> np.ndarray:
        """Play counts as the model fits them, float32 (min-max with the training range)."""
        plays = np.asarray(plays, dtype=np.float32)
        if self.scaling == "log1p":
            return np.log1p(plays)
        low, high = (float(v) for v in self.scale)
        return ((plays - low) / (high - low if high > low else 1.0)).astype(np.float32)

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "SGDMF":
        """Train on a users × items CSR matrix of plays; ``callback`` and ``cancel`` as for
        :meth:`EpochModel._run_epochs`."""
        from tui_recs.models import _sgd_kernels as kernels  # numba: ~0.3 s, only to train
        from tui_recs.models._numba import threads

        user_items = sorted_csr(user_items)
        n_users, n_items = user_items.shape
        rows = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(user_items.indptr))
        columns = user_items.indices.astype(np.int32)
        plays = user_items.data
        self.scale = np.array([plays.min(), plays.max()] if len(plays) else [0.0, 1.0],
                              dtype=np.float32)
        values = self.scaled(plays)
        rng = np.random.default_rng(self.random_state)
        held_out = rng.random(len(values)) < self.validation_share
        train = np.flatnonzero(~held_out)
        valid = np.flatnonzero(held_out)
        self.user_factors = rng.normal(0, 0.1, (n_users, self.factors)).astype(np.float32)
        self.item_factors = rng.normal(0, 0.1, (n_items, self.factors)).astype(np.float32)

        def rmse(pairs: np.ndarray) -> float:
            if not len(pairs):
                return float("nan")
            total = kernels.squared_errors(rows[pairs], columns[pairs], values[pairs],
                                           self.user_factors, self.item_factors)
            return float(np.sqrt(total / len(pairs)))

        with threads(self.num_threads) as n_threads:
            def step(epoch: int) -> tuple[float, dict[str, float]]:
                kernels.sgd_mf_epoch(rows, columns, values, rng.permutation(train),
                                     self.user_factors, self.item_factors, self.learning_rate,
                                     self.regularization, n_threads)
                train_rmse = rmse(train)
                measures = {"train_rmse": train_rmse}
                if len(valid):
                    measures["validation_rmse"] = rmse(valid)
                return train_rmse, measures

            self._run_epochs(step, callback, cancel)
        return self

    def rmse(self, pairs: "sp.csr_matrix") -> float:
        """RMSE of the predicted scaled plays against the scaled plays of the observed pairs
        of ``pairs`` (users × items CSR, e.g. held-out plays), in the scaled units."""
        item_factors = self._require_fitted()
        check_trained_width(pairs, item_factors.shape[0], self.name)
        coo = pairs.tocoo()
        if not coo.nnz:
            return float("nan")
        predicted = np.einsum("ij,ij->i", self.user_factors[coo.row], item_factors[coo.col])
        return float(np.sqrt(np.mean((self.scaled(coo.data) - predicted) ** 2)))

    def recalculate_user(self, history: "Sequence[tuple[int, float]] | sp.spmatrix") -> np.ndarray:
        """Factors (f,) float32 of a listener not in the training data: the ridge solution
        of their scaled plays against the fixed item factors, min Σ (r - pᵀq_i)² + λ|p|²."""
        item_factors = self._require_fitted()
        row = history_row(history, item_factors.shape[0])
        chosen = item_factors[row.indices].astype(np.float64)
        system = chosen.T @ chosen + self.regularization * np.eye(self.factors)
        return solve_fold_in(system, chosen.T @ self.scaled(row.data))

    def score_history(self, history: "sp.csr_matrix") -> np.ndarray:
        """Predicted scaled plays (items,) of every artist for a listener folded in."""
        return self.item_factors @ self.recalculate_user(history)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**super().to_arrays(), "scale": self.scale}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.scale = arrays["scale"]
