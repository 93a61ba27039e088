"""The popularity baseline: everyone gets the most-listened artists they have not heard.

It is the yardstick every evaluation table includes; a model that does not beat it clearly
has learned nothing about taste. Its "related artists" are simply the most popular others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import (Capabilities, FitCallback, Recommender, _stack, check_ids,
                                  check_trained_width)
from tui_recs.models.topk import top_k
from tui_recs.models.weighting import artist_lengths, artist_listeners

if TYPE_CHECKING:
    import scipy.sparse as sp


class Popularity(Recommender):
    """Scores every artist by its number of listeners (ties by total plays)."""

    name = "popularity"
    title = "popularity"
    capabilities = Capabilities(fold_in=True)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scores: np.ndarray | None = None

    def fit(self, user_items: "sp.csr_matrix", callback: FitCallback | None = None,
            cancel: Any = None) -> "Popularity":
        listeners, plays = artist_listeners(user_items), artist_lengths(user_items)
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
        """The n most popular artists other than each query artist."""
        scores = self._fitted_scores()
        items = check_ids(items, len(scores), "item")
        best_ids, best_scores = top_k(scores[None, :], n + 1)
        # One ranking serves every query: drop the query artist from it where it appears.
        candidates = np.repeat(best_scores, len(items), axis=0)
        candidates[best_ids[0][None, :] == items[:, None]] = -np.inf
        positions, values = top_k(candidates, n)
        return _stack([(best_ids[0][positions], values)], n)

    def score_batch(self, users: Sequence[int], user_items: "sp.csr_matrix") -> np.ndarray:
        """Every listener gets the same scores: the artists' popularity."""
        scores = self._fitted_scores()
        check_trained_width(user_items, len(scores), self.name)
        users = check_ids(users, user_items.shape[0], "user")
        return np.repeat(scores[None, :], len(users), axis=0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self._fitted_scores()}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.scores = arrays["scores"]
