"""The popularity baseline: everyone gets the most-listened artists they have not heard.

It is the yardstick every evaluation table includes; a model that does not beat it clearly
has learned nothing about taste. Its "related artists" are simply the most popular others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import FitCallback, Recommender, _stack, check_ids, rank_for_users
from tui_recs.models.topk import top_k

if TYPE_CHECKING:
    import scipy.sparse as sp


class Popularity(Recommender):
    """Scores every artist by its number of listeners (ties by total plays)."""

    name = "popularity"

    def __init__(self) -> None:
        self.scores: np.ndarray | None = None

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "Popularity":
        listeners = np.bincount(user_items.indices, minlength=user_items.shape[1]).astype(np.float64)
        plays = np.bincount(user_items.indices, weights=user_items.data.astype(np.float64),
                            minlength=user_items.shape[1])
        # Plays only break ties between artists with equal listener counts.
        self.scores = (listeners + plays / (plays.max() + 1.0) if plays.size else listeners
                       ).astype(np.float32)
        if callback is not None:
            callback(1, 0.0, None)
        return self

    def _fitted_scores(self) -> np.ndarray:
        if self.scores is None:
            raise ModelError("the popularity model is not trained yet: call fit() first")
        return self.scores

    def similar_items_batch(self, items: Sequence[int], n: int = 10
                            ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._fitted_scores()
        items = check_ids(items, len(scores), "item")
        block = np.repeat(scores[None, :], len(items), axis=0)
        block[np.arange(len(items)), items] = -np.inf
        return _stack([top_k(block, n)] if len(items) else [], n)

    def recommend_batch(self, users: Sequence[int], user_items: "sp.csr_matrix", n: int = 10,
                        filter_already_listened: bool = True) -> tuple[np.ndarray, np.ndarray]:
        scores = self._fitted_scores()
        return rank_for_users(users, user_items, n, filter_already_listened,
                              lambda block: np.repeat(scores[None, :], len(block), axis=0))

    def get_params(self) -> dict[str, Any]:
        return {}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self._fitted_scores()}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.scores = arrays["scores"]
