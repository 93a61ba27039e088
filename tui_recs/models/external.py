"""Models trained somewhere else (implicit's saved models, plain factor files, bundles): the
learned arrays come from a file, so ``fit`` cannot retrain them. Each opened file is registered
at run time as a subclass of one of these, named after its kind ("implicit-als") and titled
after its source ("implicit-als from PATH"): see :mod:`tui_recs.external`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import (Capabilities, FactorModel, FitCallback, Recommender, _stack,
                                  check_ids, check_trained_width)
from tui_recs.models.topk import rows_per_block, top_k

if TYPE_CHECKING:
    import scipy.sparse as sp


class External:
    """Mixin of the models read from a file: no hyperparameters of tui-recs', no training."""

    #: Where the arrays came from, for people ("PATH").
    source: ClassVar[str] = ""
    #: Whether the model learned from the very plays it is evaluated on (always, as far as
    #: tui-recs can tell): its evaluation scores are then optimistic.
    saw_all_plays: ClassVar[bool] = True

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None):
        raise ModelError(f"{self.title} was trained elsewhere: tui-recs can open it, not "
                         "retrain it (train a model of its own with --model als)")


class ExternalFactors(External, FactorModel):
    """Factor arrays trained elsewhere: scores are dot products user_factors · item_factors
    (implicit's ALS, BPR and LMF score so too; BPR's last column is its item bias, matched by
    a column of ones in its user factors), related artists the cosine of item factors."""

    name = "factors"
    title = "factors"
    capabilities = Capabilities(fold_in=False)

    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        if not self.capabilities.recommend:  # a folder of item factors only: zeros stand in
            raise ModelError(f"{self.title} cannot recommend: it has no listener factors "
                             "(ask it for related artists)")
        return super().score_batch(users, user_items)

    def score_history(self, history: "sp.csr_matrix") -> np.ndarray:
        # FactorModel would look the listener up by row: a new listener has none here, and
        # how the outside model would fold one in (its weighting, its regularization) is
        # not in the file.
        raise ModelError(f"{self.title} cannot fold in a new listener: its training recipe "
                         "is not in the file (ask it for related artists or a listener of "
                         "the data)")


class ExternalSimilarity(External, Recommender):
    """An item × item similarity matrix (implicit's ItemItemRecommender: cosine, TF-IDF,
    BM25): related artists are a row's largest entries, and a listener's scores are their plays
    times the matrix (as implicit's ``recommend``), so new listeners work as well.

    Arrays: ``similarity_data``, ``similarity_indices``, ``similarity_indptr`` (CSR, items ×
    items); the matrix is built once on first use.
    """

    name = "item-item"
    title = "item-item"
    capabilities = Capabilities(fold_in=True)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.arrays: dict[str, np.ndarray] | None = None
        self._matrix: "sp.csr_matrix | None" = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        if self.arrays is None:
            raise ModelError(f"{self.title} has no similarity matrix")
        return dict(self.arrays)

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays, self._matrix = dict(arrays), None

    @property
    def similarity(self) -> "sp.csr_matrix":
        """The items × items matrix (float64, as implicit computes it)."""
        if self._matrix is None:
            import scipy.sparse as sp

            arrays = self.to_arrays()
            n = len(arrays["similarity_indptr"]) - 1
            self._matrix = sp.csr_matrix((arrays["similarity_data"],
                                          arrays["similarity_indices"],
                                          arrays["similarity_indptr"]), shape=(n, n))
        return self._matrix

    def similar_items_batch(self, items: Sequence[int], n: int = 10
                            ) -> tuple[np.ndarray, np.ndarray]:
        matrix = self.similarity
        items = check_ids(items, matrix.shape[0], "item")
        blocks = []
        for start in range(0, len(items), rows_per_block(matrix.shape[0])):
            block = items[start:start + rows_per_block(matrix.shape[0])]
            scores = np.full((len(block), matrix.shape[0]), -np.inf, dtype=np.float32)
            rows = matrix[block]
            scores[np.repeat(np.arange(len(block)), np.diff(rows.indptr)), rows.indices] = rows.data
            scores[np.arange(len(block)), block] = -np.inf
            blocks.append(top_k(scores, n))
        return _stack(blocks, n)

    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        """Plays times the similarity matrix; artists no played artist links to score 0."""
        matrix = self.similarity
        check_trained_width(user_items, matrix.shape[0], self.name)
        users = check_ids(users, user_items.shape[0], "user")
        return np.asarray((user_items[users] @ matrix).todense(), dtype=np.float32)
