"""Honest offline evaluation: seeded splits, ranking metrics at K, the same for every model.

Metrics (binary relevance: a held-out artist is a hit), averaged over evaluated listeners:
- precision@K = hits / K (true precision; some libraries divide by min(K, |test|) instead),
- recall@K = hits / min(K, |test|),
- MAP@K: mean over listeners of Σ_k hit_k · precision@k / min(K, |test|),
- NDCG@K with gains 1/log2(rank + 1), ideal = all held-out artists first,
- AUC: probability that a held-out artist outranks an unheard, not-held-out one,
- coverage: share of the catalogue that appears in anyone's top K,
- popularity: mean share of listeners (in training) who played the recommended artists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

    from tui_recs.models.base import Recommender

#: AUC needs full rankings; it is measured on at most this many listeners.
AUC_SAMPLE = 500
#: Listeners scored per recommend_batch call.
BATCH = 1024


@dataclass(frozen=True)
class Split:
    """A train/test split of a users × items matrix (both keep the full shape).

    ``users`` are the listeners with held-out artists (those evaluated); the others kept all
    their plays in ``train``.
    """

    train: "sp.csr_matrix"
    test: "sp.csr_matrix"
    users: np.ndarray
    description: str


def _split(user_items: "sp.csr_matrix", n_test: np.ndarray, seed: int, description: str) -> Split:
    """Hold out ``n_test[u]`` random artists of each listener u (0 keeps them all in train)."""
    import scipy.sparse as sp

    matrix = user_items.tocsr()
    rng = np.random.default_rng(seed)
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    # A random rank within each row: sort by (row, random key).
    order = np.lexsort((rng.random(matrix.nnz), rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    held_out = rank < n_test[rows]

    def part(mask: np.ndarray) -> "sp.csr_matrix":
        result = sp.csr_matrix((matrix.data[mask], (rows[mask], matrix.indices[mask])),
                               shape=matrix.shape, dtype=np.float32)
        result.sort_indices()
        return result

    return Split(part(~held_out), part(held_out), np.flatnonzero(n_test > 0), description)


def holdout_split(user_items: "sp.csr_matrix", test_fraction: float = 0.2, seed: int = 0,
                  min_items: int = 5) -> Split:
    """Per-listener random holdout of ``test_fraction`` of each listener's artists (at least
    one); listeners with fewer than ``min_items`` artists stay in training only."""
    lengths = np.diff(user_items.tocsr().indptr)
    n_test = np.where(lengths >= min_items,
                      np.maximum(1, np.round(lengths * test_fraction)).astype(np.int64), 0)
    return _split(user_items, n_test, seed, f"holdout {test_fraction:g}, seed {seed}")


def leave_k_out_split(user_items: "sp.csr_matrix", k: int = 1, seed: int = 0,
                      min_items: int | None = None) -> Split:
    """Hold out ``k`` random artists per listener; listeners with fewer than ``min_items``
    (default k + 4) artists stay in training only."""
    lengths = np.diff(user_items.tocsr().indptr)
    n_test = np.where(lengths >= (k + 4 if min_items is None else min_items), k, 0)
    return _split(user_items, n_test.astype(np.int64), seed, f"leave-{k}-out, seed {seed}")


def ranking_metrics(recommended: np.ndarray, test: "sp.csr_matrix", users: np.ndarray,
                    k: int) -> dict[str, float]:
    """Precision, recall, MAP and NDCG at k for top-k lists (len(users) × k, -1 = none)."""
    n_items = test.shape[1]
    held_out = test[users]
    positions = np.arange(len(users), dtype=np.int64)
    test_keys = np.repeat(positions, np.diff(held_out.indptr)) * n_items + held_out.indices
    keys = positions[:, None] * n_items + recommended[:, :k]
    hits = np.isin(keys, test_keys) & (recommended[:, :k] >= 0)
    n_test = np.diff(test.indptr)[users]
    cap = np.minimum(k, n_test).astype(np.float64)
    hit_counts = hits.sum(axis=1)
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[cap.astype(np.int64) - 1]
    return {
        "precision": float(np.mean(hit_counts / k)),
        "recall": float(np.mean(hit_counts / cap)),
        "map": float(np.mean((precision_at * hits).sum(axis=1) / cap)),
        "ndcg": float(np.mean((hits * discounts).sum(axis=1) / ideal)),
    }


def auc(ranking: np.ndarray, test_items: np.ndarray, n_candidates: int) -> float:
    """AUC of one listener from their full ranking of candidate (unheard) artists.

    ``ranking`` lists candidates best first; ``test_items`` are the held-out ones among them.
    Equals the share of (held-out, other candidate) pairs ordered correctly.
    """
    positions = np.sort(np.flatnonzero(np.isin(ranking, test_items)))
    m = len(positions)
    if m == 0 or m == n_candidates:
        return float("nan")
    below = (n_candidates - 1 - positions) - (m - 1 - np.arange(m))
    return float(below.sum() / (m * (n_candidates - m)))


def evaluate(model: "Recommender", split: Split, k: int = 10, fit: bool = True,
             seed: int = 0) -> dict[str, float | str]:
    """Fit ``model`` on ``split.train`` (unless ``fit`` is False) and measure it at ``k``."""
    train, users = split.train, split.users
    fit_seconds = 0.0
    if fit:
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    recommended = np.vstack([model.recommend_batch(users[i:i + BATCH], train, k)[0]
                             for i in range(0, len(users), BATCH)]) if len(users) else \
        np.empty((0, k), dtype=np.int64)
    query_ms = (time.perf_counter() - started) * 1000 / max(1, len(users))
    row: dict[str, float | str] = {"model": model.name,
                                   **ranking_metrics(recommended, split.test, users, k)}
    rng = np.random.default_rng(seed)
    sample = users if len(users) <= AUC_SAMPLE else np.sort(rng.choice(users, AUC_SAMPLE, replace=False))
    n_items = train.shape[1]
    aucs = []
    for start in range(0, len(sample), 64):
        block = sample[start:start + 64]
        rankings, _ = model.recommend_batch(block, train, n_items)
        for user, ranking in zip(block.tolist(), rankings):
            candidates = n_items - (train.indptr[user + 1] - train.indptr[user])
            test_items = split.test.indices[split.test.indptr[user]:split.test.indptr[user + 1]]
            aucs.append(auc(ranking[ranking >= 0], test_items, candidates))
    listeners = np.diff(train.tocsc().indptr) if train.nnz else np.zeros(n_items)
    shown = recommended[recommended >= 0]
    row.update({
        "auc": float(np.nanmean(aucs)) if aucs else float("nan"),
        "coverage": float(len(np.unique(shown)) / n_items),
        "popularity": float(listeners[shown].mean() / train.shape[0]) if len(shown) else 0.0,
        "fit_seconds": fit_seconds,
        "query_ms": query_ms,
    })
    return row


def evaluate_models(models: Mapping[str, "Recommender"], split: Split, k: int = 10
                    ) -> list[dict[str, float | str]]:
    """Evaluate each (unfitted) model on the same split; the popularity baseline is always
    included. Rows are in the given order, the baseline last if it was not named."""
    from tui_recs.models.popularity import Popularity

    rows = []
    for name, model in models.items():
        row = evaluate(model, split, k)
        row["model"] = name
        rows.append(row)
    if not any(isinstance(model, Popularity) for model in models.values()):
        rows.append(evaluate(Popularity(), split, k))
    return rows
