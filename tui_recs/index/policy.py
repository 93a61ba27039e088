"""Which index answers: k-means cells or Annoy for related artists, Annoy or exact scoring
for listener recommendations, each chosen by measuring it on the data at hand.

Listener recommendations: exact scoring (one BLAS mat-vec plus a partial sort) is measured
against an inner-product ("dot") Annoy index on the data at hand, and Annoy is used only where
it is both faster and reaches the target recall (:func:`choose_recommend_mode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from tui_recs.index.annoy_backend import FactorIndex
from tui_recs.index.cells import CellIndex
from tui_recs.index.tuning import (RECALL_AT, TARGET_RECALL, TUNING_MARGIN, IndexProgress,
                                   exact_search, median_ms)

#: Below this many artists exact search takes a few ms and no index is built.
MIN_ITEMS_FOR_INDEX = 20_000
#: Bump when what an index stores changes (part of the cache key).
INDEX_FORMAT_VERSION = 3
#: Most trees a listener (dot-product) index may have; see choose_recommend_mode.
DOT_MAX_TREES = 16
#: The listener index is first tried on this many sampled artists: the full one is built only
#: when the trial reaches the target recall. At 290K ALS artists the full dot index took 20 s
#: of build and tuning to reach recall@10 0.08 (exact search was chosen); the trial takes ~2 s.
DOT_TRIAL_ITEMS = 1 << 15
#: Either kind of related-artists index: both have ``search(query, n, exclude)`` and ``stats``.
SimilarIndex = Union[FactorIndex, CellIndex]


def build_similar_index(normalized_items: np.ndarray, sample: int = 500, seed: int = 0,
                        progress: IndexProgress | None = None) -> "SimilarIndex":
    """The related-artists index over unit-length ``normalized_items`` (items × f), tuned on
    ``sample`` random query artists (each left out of its own answer): k-means cells where they
    reach the target recall faster than exact search (see :mod:`tui_recs.index.cells`), else a
    Euclidean Annoy index (the cosine order, see :mod:`tui_recs.index.annoy_backend`)."""
    rng = np.random.default_rng(seed)
    items = rng.choice(normalized_items.shape[0], size=min(sample, normalized_items.shape[0]),
                       replace=False)
    queries, exclude = normalized_items[items], [[item] for item in items.tolist()]
    target = TARGET_RECALL + TUNING_MARGIN
    cells = CellIndex.build(normalized_items, queries, exclude, target, seed=seed,
                            progress=progress)
    stats = cells.stats
    if stats.recall_at_10 >= target and stats.query_ms_p50 < stats.exact_query_ms_p50:
        return cells
    return FactorIndex.build(normalized_items, "euclidean", queries, exclude, target, seed=seed,
                             progress=progress)


#: Where a related-artists index of each kind is saved in its cache entry.
SIMILAR_INDEX_FILES = {"annoy": "similar.ann", "cells": "similar.cells.npz"}


def save_similar_index(index: "SimilarIndex", directory: Path) -> dict:
    """Save ``index`` in cache entry ``directory``; returns its stats (with their ``kind``)."""
    return index.save(directory / SIMILAR_INDEX_FILES[index.stats.kind])


def load_similar_index(directory: Path, vectors: np.ndarray, stats: dict) -> "SimilarIndex":
    """The index :func:`save_similar_index` saved, over ``vectors``, of the kind ``stats``
    names."""
    kind = stats.get("kind", "annoy")
    loader = CellIndex if kind == "cells" else FactorIndex
    return loader.load(directory / SIMILAR_INDEX_FILES[kind], vectors, stats)


@dataclass(frozen=True)
class RecommendMode:
    """How listener recommendations are answered, and the measurement behind the choice."""

    mode: str  # "exact" or "annoy"
    exact_ms_p50: float
    annoy_ms_p50: float | None
    annoy_recall_at_10: float | None
    reason: str


def choose_recommend_mode(item_factors: np.ndarray, user_vectors: np.ndarray, seed: int = 0,
                          progress: IndexProgress | None = None,
                          trial_items: int = DOT_TRIAL_ITEMS
                          ) -> tuple[RecommendMode, FactorIndex | None]:
    """Measure exact scoring against a tuned dot-product Annoy index on sample listeners
    (``user_vectors``, q × f) and keep the index only if it is faster and accurate enough.

    Over more than ``trial_items`` artists, a trial index over that many sampled artists,
    searching the same share of them, comes first: when even it misses the target recall
    (a tree search loses recall as the catalogue grows at a fixed share searched), exact
    scoring is chosen without building the full index."""
    n_items = item_factors.shape[0]
    exact_ms = median_ms(lambda i: exact_search(item_factors, user_vectors[i], RECALL_AT),
                          range(min(50, len(user_vectors))))
    if n_items < MIN_ITEMS_FOR_INDEX:
        return RecommendMode("exact", exact_ms, None, None,
                             f"{n_items:,} artists: exact search is fast enough"), None
    wanted = TARGET_RECALL + TUNING_MARGIN
    if n_items > trial_items:
        rows = np.sort(np.random.default_rng(seed).choice(n_items, trial_items, replace=False))
        trial = FactorIndex.build(item_factors[rows], "dot", user_vectors, seed=seed,
                                  max_trees=DOT_MAX_TREES, search_k_share=trial_items / n_items)
        if trial.stats.recall_at_10 < wanted:
            return RecommendMode("exact", exact_ms, None, trial.stats.recall_at_10,
                                 f"recall@10 {trial.stats.recall_at_10:.2f} < {wanted:.2f} on a "
                                 f"trial over {trial_items:,} of the artists"), None
    # Few trees: at 290K artists the dot index went on doubling to 256 trees (5 minutes) and
    # still ended at recall 0.89, slower than exact; at 32 trees, recall 0.88 at 7.3 ms against
    # 3.1 ms exact.
    index = FactorIndex.build(item_factors, "dot", user_vectors, seed=seed, progress=progress,
                              max_trees=DOT_MAX_TREES)
    stats = index.stats
    if stats.recall_at_10 >= wanted and stats.query_ms_p50 < exact_ms:
        return RecommendMode("annoy", exact_ms, stats.query_ms_p50, stats.recall_at_10,
                             "Annoy is faster at the target recall"), index
    why = (f"recall@10 {stats.recall_at_10:.2f} < {wanted:.2f}"
           if stats.recall_at_10 < wanted
           else f"Annoy {stats.query_ms_p50:.2f} ms >= exact {exact_ms:.2f} ms")
    return RecommendMode("exact", exact_ms, stats.query_ms_p50, stats.recall_at_10, why), None
