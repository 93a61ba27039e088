"""A test-only model: everything it needs to appear in the command line, the evaluation and
the app is this module and one registration line (``registry.register(Tiny)``).

It scores every artist with one seeded random number per artist (times ``spread``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tui_recs.models.base import Capabilities, Recommender, _stack, check_ids
from tui_recs.models.params import SEED, Param
from tui_recs.models.topk import top_k


class Tiny(Recommender):
    name = "tiny"
    title = "Tiny"
    PARAMS = (Param("spread", float, 1.0, "scale of the random scores", low=0, low_open=True,
                    high=100), SEED)
    capabilities = Capabilities()

    spread: float
    random_state: int

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scores: np.ndarray | None = None

    def fit(self, user_items, callback=None, cancel=None) -> "Tiny":
        rng = np.random.default_rng(self.random_state)
        self.scores = (rng.random(user_items.shape[1]) * self.spread).astype(np.float32)
        if callback is not None:
            callback(1, 0.0, None)
        return self

    def similar_items_batch(self, items: Sequence[int], n: int = 10):
        items = check_ids(items, len(self.scores), "item")
        scores = np.repeat(self.scores[None, :], len(items), axis=0)
        scores[np.arange(len(items)), items] = -np.inf
        return _stack([top_k(scores, n)], n)

    def score_batch(self, users: Sequence[int], user_items) -> np.ndarray:
        users = check_ids(users, user_items.shape[0], "user")
        return np.repeat(self.scores[None, :], len(users), axis=0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.scores = arrays["scores"]
