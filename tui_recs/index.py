"""Approximate nearest-neighbour search over factors (Annoy), always re-scored exactly.

Related artists: an angular Annoy index over the unit-length item factors proposes candidates,
which are re-scored with exact cosines, so every score shown is a true cosine. The number of
trees and ``search_k`` are chosen at build time so that recall@10 against the exact answer
reaches a target (0.95) on a sample of queries; the measured recall is kept with the index.

Listener recommendations: exact scoring (one BLAS mat-vec plus a partial sort) is measured
against an inner-product ("dot") Annoy index on the data at hand, and Annoy is used only where
it is both faster and reaches the target recall (:func:`choose_recommend_mode`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tui_recs.models.topk import top_k

#: Below this many artists exact search takes a few ms and no index is built.
MIN_ITEMS_FOR_INDEX = 20_000
TARGET_RECALL = 0.95
#: Tuning aims this much above the target, so that recall on fresh queries still meets it.
TUNING_MARGIN = 0.01
#: Recall is measured on the top RECALL_AT results.
RECALL_AT = 10

#: ``progress(fraction, message)`` while an index is built and tuned.
IndexProgress = Callable[[float, str], None]


@dataclass(frozen=True)
class IndexStats:
    """How an index was built and what it achieved (kept in the cache manifest)."""

    metric: str
    n_items: int
    n_factors: int
    n_trees: int
    search_k: int
    recall_at_10: float
    build_seconds: float
    query_ms_p50: float
    exact_query_ms_p50: float


def exact_search(vectors: np.ndarray, queries: np.ndarray, n: int,
                 exclude: Sequence[Sequence[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-n rows of ``vectors`` (items × f) by dot product with each query (q × f).

    ``exclude[i]`` lists items never returned for query i. Returns (ids, scores), q × n.
    """
    scores = np.atleast_2d(queries) @ vectors.T
    for row, items in enumerate(exclude or ()):
        if len(items):
            scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
    return top_k(scores, n)


class FactorIndex:
    """Annoy candidates, exact re-scoring, over ``vectors`` (items × f float32).

    ``metric`` is "angular" (vectors must be unit length; scores are cosines) or "dot"
    (scores are inner products).
    """

    def __init__(self, annoy_index, vectors: np.ndarray, stats: IndexStats) -> None:
        self.annoy = annoy_index
        self.vectors = vectors
        self.stats = stats

    def search(self, query: np.ndarray, n: int = 10, exclude: Sequence[int] = (),
               search_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact scores) of the n best items for the f-vector ``query``, best first.

        Over-fetches so that dropping ``exclude`` still leaves n results, and falls back to
        exact search when the index cannot supply enough candidates.
        """
        excluded = np.asarray(list(exclude), dtype=np.int64)
        search_k = self.stats.search_k if search_k is None else search_k
        n_items = self.vectors.shape[0]
        wanted = min(n, n_items - len(np.unique(excluded)))
        fetch = 2 * (n + len(excluded))
        while True:
            candidates = np.asarray(self.annoy.get_nns_by_vector(query, fetch, search_k),
                                    dtype=np.int64)
            candidates = candidates[~np.isin(candidates, excluded)]
            if len(candidates) >= wanted or fetch >= n_items:
                break
            fetch *= 4
        if len(candidates) < wanted:
            ids, scores = exact_search(self.vectors, query, n, [excluded])
            return ids[0], scores[0]
        scores = self.vectors[candidates] @ query
        order = np.lexsort((candidates, -scores))[:n]
        return candidates[order], scores[order].astype(np.float32)

    # ----------------------------------------------------------------------------- build
    @classmethod
    def build(cls, vectors: np.ndarray, metric: str, queries: np.ndarray,
              query_exclude: Sequence[Sequence[int]] | None = None,
              target_recall: float = TARGET_RECALL + TUNING_MARGIN, seed: int = 0,
              progress: IndexProgress | None = None) -> "FactorIndex":
        """Build an index over ``vectors`` and tune it on sample ``queries`` (q × f).

        Trees are doubled and ``search_k`` raised until recall@10 of the re-scored answer
        against the exact answer reaches ``target_recall`` (or the search budget runs out;
        the recall reached is recorded either way).
        """
        from annoy import AnnoyIndex

        report = progress or (lambda fraction, message: None)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n_items, n_factors = vectors.shape
        exclude = list(query_exclude) if query_exclude is not None else [()] * len(queries)
        truth, _ = exact_search(vectors, queries, RECALL_AT, exclude)
        started = time.perf_counter()
        n_trees = max(8, min(64, n_factors // 2))
        while True:
            report(0.05, f"building {n_trees} {metric} trees over {n_items:,} artists")
            annoy_index = AnnoyIndex(n_factors, metric)
            annoy_index.set_seed(seed)
            for item, vector in enumerate(vectors):
                annoy_index.add_item(item, vector)
            annoy_index.build(n_trees, n_jobs=-1)
            index = cls(annoy_index, vectors, IndexStats(metric, n_items, n_factors, n_trees,
                                                         0, 0.0, 0.0, 0.0, 0.0))
            report(0.8, "tuning search_k for recall@10")
            search_k = n_trees * 4 * RECALL_AT
            recall = index.recall(queries, truth, exclude, search_k)
            while recall < target_recall and search_k < n_trees * 2048:
                search_k *= 2
                recall = index.recall(queries, truth, exclude, search_k)
            if recall >= target_recall or n_trees >= 256:
                break
            n_trees *= 2
        sample = slice(0, min(50, len(queries)))
        query_ms = _median_ms(lambda i: index.search(queries[i], RECALL_AT, exclude[i], search_k),
                              range(len(queries))[sample])
        exact_ms = _median_ms(lambda i: exact_search(vectors, queries[i], RECALL_AT, [exclude[i]]),
                              range(len(queries))[sample])
        index.stats = IndexStats(metric, n_items, n_factors, n_trees, search_k, float(recall),
                                 time.perf_counter() - started, query_ms, exact_ms)
        report(1.0, f"{metric} index: recall@10 {recall:.3f}, {query_ms:.2f} ms/query "
                    f"(exact {exact_ms:.2f} ms)")
        return index

    def recall(self, queries: np.ndarray, truth: np.ndarray,
               exclude: Sequence[Sequence[int]], search_k: int) -> float:
        """Mean fraction of each exact top-10 that the re-scored index answer recovers."""
        hits = 0
        for query, expected, excluded in zip(queries, truth, exclude):
            found, _ = self.search(query, RECALL_AT, excluded, search_k)
            hits += len(np.intersect1d(found, expected))
        return hits / truth.size

    # ----------------------------------------------------------------------------- storage
    def save(self, path: Path) -> dict:
        """Write the Annoy file at ``path``; returns the stats for the manifest."""
        self.annoy.save(str(path))
        return asdict(self.stats)

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray, stats: dict) -> "FactorIndex":
        """Memory-map a saved index (no build, no tuning)."""
        from annoy import AnnoyIndex

        annoy_index = AnnoyIndex(vectors.shape[1], stats["metric"])
        annoy_index.load(str(path))
        if annoy_index.get_n_items() != vectors.shape[0]:
            raise ValueError(f"{path} has {annoy_index.get_n_items()} items, the factors "
                             f"have {vectors.shape[0]}")
        return cls(annoy_index, vectors, IndexStats(**stats))


def build_similar_index(normalized_items: np.ndarray, sample: int = 500, seed: int = 0,
                        progress: IndexProgress | None = None) -> FactorIndex:
    """The related-artists index: angular, tuned on ``sample`` random query artists (each
    left out of its own answer)."""
    rng = np.random.default_rng(seed)
    items = rng.choice(normalized_items.shape[0], size=min(sample, normalized_items.shape[0]),
                       replace=False)
    return FactorIndex.build(normalized_items, "angular", normalized_items[items],
                             [[item] for item in items.tolist()], seed=seed, progress=progress)


@dataclass(frozen=True)
class RecommendMode:
    """How listener recommendations are answered, and the measurement behind the choice."""

    mode: str  # "exact" or "annoy"
    exact_ms_p50: float
    annoy_ms_p50: float | None
    annoy_recall_at_10: float | None
    reason: str


def choose_recommend_mode(item_factors: np.ndarray, user_vectors: np.ndarray, seed: int = 0,
                          progress: IndexProgress | None = None
                          ) -> tuple[RecommendMode, FactorIndex | None]:
    """Measure exact scoring against a tuned dot-product Annoy index on sample listeners
    (``user_vectors``, q × f) and keep the index only if it is faster and accurate enough."""
    n_items = item_factors.shape[0]
    exact_ms = _median_ms(lambda i: exact_search(item_factors, user_vectors[i], RECALL_AT),
                          range(min(50, len(user_vectors))))
    if n_items < MIN_ITEMS_FOR_INDEX:
        return RecommendMode("exact", exact_ms, None, None,
                             f"{n_items:,} artists: exact search is fast enough"), None
    index = FactorIndex.build(item_factors, "dot", user_vectors, seed=seed, progress=progress)
    stats = index.stats
    wanted = TARGET_RECALL + TUNING_MARGIN
    if stats.recall_at_10 >= wanted and stats.query_ms_p50 < exact_ms:
        return RecommendMode("annoy", exact_ms, stats.query_ms_p50, stats.recall_at_10,
                             "Annoy is faster at the target recall"), index
    why = (f"recall@10 {stats.recall_at_10:.2f} < {wanted:.2f}"
           if stats.recall_at_10 < wanted
           else f"Annoy {stats.query_ms_p50:.2f} ms >= exact {exact_ms:.2f} ms")
    return RecommendMode("exact", exact_ms, stats.query_ms_p50, stats.recall_at_10, why), None


def _median_ms(call: Callable[[int], object], indices) -> float:
    times = []
    for i in indices:
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000) if times else 0.0
