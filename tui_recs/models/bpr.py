"""Bayesian personalized ranking (Rendle et al. 2009) by Numba-parallel, lock-free SGD.

Each epoch samples as many (listener u, heard artist i, unheard artist j) triples as there are
observed plays and, for each, takes one step up the gradient of

    ln σ(x_uᵀ(y_i - y_j)) - λ (|x_u|² + |y_i|² + |y_j|²).

Play counts only mark what was heard (implicit's model): every observed pair is a positive.
As in implicit's BayesianPersonalizedRanking, the item factors carry one more column, the
artist's bias, against a constant 1 in every listener's vector, and j is the artist of a
random observed pair (drawn in proportion to its listeners; one the listener heard is
skipped). The per-epoch "correct" share is the sampled AUC: triples ranked right before
their update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tui_recs.models.base import Capabilities, FitCallback
from tui_recs.models.epochs import EpochModel, NoFoldIn, epochs, learning_rate, sorted_csr
from tui_recs.models.params import SEED, THREADS, Param

if TYPE_CHECKING:
    import scipy.sparse as sp


class BPR(NoFoldIn, EpochModel):
    """BPR-MF trained by Hogwild SGD (hyperparameters: ``PARAMS``).

    Reproducible with a seed and ``num_threads=1``; with more threads the lock-free updates
    race (which of two updates of a row lands first depends on timing), so runs differ in
    the last digits and, over epochs, more. After ``fit``: ``user_factors`` (users × f+1,
    last column 1) and ``item_factors`` (items × f+1, last column the bias), float32, and
    ``curves`` with "loss" (mean -ln σ per sampled triple) and "correct" per epoch.
    """

    name = "bpr"
    title = "BPR"
    capabilities = Capabilities(fold_in=False)
    trains_in_child = True
    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md).
    PARAMS = (
        Param("factors", int, 64, "latent dimensions f (plus one for the artist bias)", low=1,
              high=1024),
        learning_rate(0.01),
        Param("regularization", float, 0.001, "λ, the L2 penalty per update", low=0, high=100),
        epochs(100),
        SEED,
        THREADS,
    )

    factors: int
    learning_rate: float
    regularization: float
    iterations: int
    random_state: int
    num_threads: int | None

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "BPR":
        """Train on a users × items CSR matrix of plays (only which pairs are non-zero
        counts); ``callback`` and ``cancel`` as for :meth:`EpochModel._run_epochs`."""
        from tui_recs.models import _sgd_kernels as kernels  # numba: ~0.3 s, only to train
        from tui_recs.models._numba import threads

        user_items = sorted_csr(user_items)
        n_users, n_items = user_items.shape
        rng = np.random.default_rng(self.random_state)
        # implicit's start: uniform in ±0.5/f, artists nobody heard at zero, listeners' 1s.
        self.user_factors = ((rng.random((n_users, self.factors + 1), dtype=np.float32) - 0.5)
                             / self.factors)
        self.user_factors[:, -1] = 1.0
        self.item_factors = ((rng.random((n_items, self.factors + 1), dtype=np.float32) - 0.5)
                             / self.factors)
        self.item_factors[np.bincount(user_items.indices, minlength=n_items) == 0] = 0.0
        indptr = user_items.indptr.astype(np.int64)
        indices = user_items.indices.astype(np.int32)
        rows = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr))
        seed = int(rng.integers(2**63))
        if user_items.nnz == 0:
            return self

        with threads(self.num_threads) as n_threads:
            def step(epoch: int) -> tuple[float, dict[str, float]]:
                correct, skipped, loss = kernels.bpr_epoch(
                    rows, indptr, indices, self.user_factors, self.item_factors,
                    self.learning_rate, self.regularization, seed, epoch, n_threads)
                used = max(1, user_items.nnz - skipped)
                return float(loss) / used, {"correct": correct / used,
                                            "skipped": skipped / user_items.nnz}

            self._run_epochs(step, callback, cancel)
        return self
