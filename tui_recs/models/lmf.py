"""Logistic matrix factorization (Johnson 2014, the model behind Spotify's related artists).

The probability that listener u likes artist i is σ(x_uᵀy_i + β_u + β_i); with confidences
c_ui = alpha · log(1 + plays_ui / epsilon) the model maximises, as implicit's
LogisticMatrixFactorization does,

    Σ_(u,i) heard c_ui log σ(s_ui) + Σ_(u,j) unheard log(1 - σ(s_uj)) - λ/2 (|X|² + |Y|²),

s the logit, by alternating AdaGrad steps on every listener, then every artist (as in the
paper). The paper's likelihood also counts each heard pair once as unheard (a (1 + c_ui) in
place of c_ui in its gradient); on hetrec it cost 15-18% of P@10 and NDCG@10
(docs/defaults.md), so it is left out, as implicit leaves it out. The sum over the unheard
pairs is estimated from ``neg_prop`` sampled artists per heard one, at most
``max_negatives`` per listener (listeners per artist), drawn as implicit draws them (the
artist of a random observed pair). implicit caps the count too, at f + 2 (its kernel takes
the factor width where the number of artists was meant); the cap is a hyperparameter here.
As in implicit, the biases are two extra columns: a listener's vector is (x_u, 1, β_u) and an
artist's (y_i, β_i, 1), so a dot product is the whole logit. Related artists are the cosines
of (y_i, β_i), the constant column left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tui_recs.models.base import Capabilities, FitCallback
from tui_recs.models.epochs import EpochModel, NoFoldIn, epochs, learning_rate, sorted_csr
from tui_recs.models.params import SEED, THREADS, Param

if TYPE_CHECKING:
    import scipy.sparse as sp


class LMF(NoFoldIn, EpochModel):
    """Logistic MF by alternating AdaGrad (hyperparameters: ``PARAMS``).

    A listener's (an artist's) step reads only the other side's fixed factors and its own
    random stream, so the same seed gives the same factors with any thread count. After
    ``fit``: ``user_factors`` (users × f+2) and ``item_factors`` (items × f+2), float32, and
    ``curves`` with "loss", the sampled negative log-likelihood per visited pair.
    """

    name = "lmf"
    title = "logistic MF"
    capabilities = Capabilities(fold_in=False)
    trains_in_child = True
    # Defaults: the best of a grid by NDCG@10 on hetrec (docs/defaults.md); learning rate,
    # factors and epochs are implicit's; neg_prop 3 measured better than its 30, and
    # regularization 30 with max_negatives 256 better than implicit's 0.6 and f + 2.
    PARAMS = (
        Param("factors", int, 30, "latent dimensions f (plus two bias columns)", low=1,
              high=1024),
        learning_rate(1.0),
        Param("regularization", float, 30.0, "λ, the L2 penalty on every factor vector", low=0,
              high=1e6),
        Param("alpha", float, 5.0, "confidence scale: c = alpha · log(1 + plays / epsilon)",
              low=0, low_open=True, high=1e6),
        Param("epsilon", float, 1.0, "play-count scale inside the log of the confidence",
              low=0, low_open=True, high=1e9),
        Param("neg_prop", int, 3, "sampled unheard artists per heard one", low=1, high=1000),
        Param("max_negatives", int, 256, "at most this many sampled unheard artists per "
              "listener (listeners per artist) and step; 0: no cap", low=0, high=1_000_000),
        epochs(30),
        SEED,
        THREADS,
    )

    factors: int
    learning_rate: float
    regularization: float
    alpha: float
    epsilon: float
    neg_prop: int
    max_negatives: int
    iterations: int
    random_state: int
    num_threads: int | None

    def confidence(self, user_items: "sp.csr_matrix") -> "sp.csr_matrix":
        """c = alpha · log(1 + plays / epsilon) for the observed pairs, users × items float32."""
        weighted = user_items.astype(np.float32, copy=True)
        weighted.data = (self.alpha * np.log1p(weighted.data / np.float32(self.epsilon))
                         ).astype(np.float32)
        return weighted

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "LMF":
        """Train on a users × items CSR matrix of plays; ``callback`` and ``cancel`` as for
        :meth:`EpochModel._run_epochs`."""
        from tui_recs.models import _sgd_kernels as kernels  # numba: ~0.3 s, only to train
        from tui_recs.models._numba import threads

        user_items = sorted_csr(user_items)
        user_confidence = self.confidence(user_items)
        item_confidence = user_confidence.T.tocsr()
        n_users, n_items = user_items.shape
        rng = np.random.default_rng(self.random_state)
        # implicit's start: N(0, 1) factors, the constant columns at 1, unseen rows at zero.
        self.user_factors = rng.standard_normal((n_users, self.factors + 2), dtype=np.float32)
        self.user_factors[:, -2] = 1.0
        self.user_factors[np.diff(user_items.indptr) == 0] = 0.0
        self.item_factors = rng.standard_normal((n_items, self.factors + 2), dtype=np.float32)
        self.item_factors[:, -1] = 1.0
        self.item_factors[np.diff(item_confidence.indptr) == 0] = 0.0
        user_squares = np.zeros_like(self.user_factors)
        item_squares = np.zeros_like(self.item_factors)
        sides = [(_csr_arrays(user_confidence), self.user_factors, self.item_factors,
                  user_squares, -2),
                 (_csr_arrays(item_confidence), self.item_factors, self.user_factors,
                  item_squares, -1)]
        seed = int(rng.integers(2**63))
        pairs = max(1, sum(self._visited(indptr) for (indptr, _, _), *_ in sides))

        with threads(self.num_threads):
            def step(epoch: int) -> tuple[float, dict[str, float]]:
                loss = 0.0
                for side, ((indptr, indices, confidence), solved, fixed, squares, constant
                           ) in enumerate(sides):
                    loss += kernels.lmf_half_step(
                        indptr, indices, confidence, solved, fixed, squares,
                        self.learning_rate, self.regularization, self.neg_prop,
                        self.max_negatives, seed, epoch, side)
                    solved[:, constant] = np.where(np.diff(indptr) > 0, 1.0, 0.0)
                return loss / pairs, {}

            self._run_epochs(step, callback, cancel)
        return self

    def _visited(self, indptr: np.ndarray) -> int:
        """Pairs one side's step visits: the observed ones of each row (``indptr``, rows + 1
        int64) and its sampled negatives."""
        heard = np.diff(indptr)
        negatives = heard * self.neg_prop
        if self.max_negatives > 0:
            negatives = np.minimum(negatives, self.max_negatives)
        return int(heard.sum() + negatives.sum())

    def similarity_factors(self, item_factors: np.ndarray) -> np.ndarray:
        """(y_i, β_i), items × f+1: the constant column would make every two artists alike."""
        return item_factors[:, :-1]


def _csr_arrays(matrix: "sp.csr_matrix") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, data float32) of a sorted CSR matrix: its own arrays
    where they are of those types (the confidences are fresh copies: no third copy)."""
    matrix.sort_indices()
    return (matrix.indptr.astype(np.int64, copy=False),
            matrix.indices.astype(np.int32, copy=False),
            matrix.data.astype(np.float32, copy=False))
