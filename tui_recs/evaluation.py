"""Honest offline evaluation: seeded splits, ranking metrics at K, the same for every model.

Metrics (binary relevance: a held-out artist is a hit), averaged over evaluated listeners,
from each listener's top K of ``recommend_batch`` on the training matrix (played artists
filtered out):

- precision@K = hits / K (true precision; some libraries divide by min(K, |test|) instead),
- recall@K = hits / min(K, |test|),
- MAP@K: mean over listeners of Σ_k hit_k · precision@k / min(K, |test|),
- NDCG@K with gains 1/log2(rank + 1), ideal = all held-out artists first,
- AUC: over all artists the listener has not played in training, the probability that a
  held-out one outranks one that is not (ties count one half); from full score rows,
- coverage: share of the catalogue that appears in anyone's top K,
- popularity: mean share of listeners (in training) who played the recommended artists,
- rmse (models that predict play counts only, see ``Capabilities.rmse``): root mean squared
  error of the predicted plays of the held-out pairs, in the model's own scaled units. It
  measures something else than the ranking metrics: the plays of the pairs a listener did
  play, not which unplayed artists they would play.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from tui_recs.models import registry
from tui_recs.models.engine import DEFAULT_ENGINE
from tui_recs.models.engine import engine as engine_named
from tui_recs.models.params import check_fits
from tui_recs.models.popularity import Popularity
from tui_recs.models.topk import rows_per_block

if TYPE_CHECKING:
    import scipy.sparse as sp

    from tui_recs.models.base import Recommender

#: The yardstick every evaluation table includes: a model that does not beat it clearly has
#: learned nothing about taste.
BASELINE = Popularity

@dataclass(frozen=True)
class Split:
    """A train/test split of a users × items matrix (both keep the full shape).

    ``users`` (sorted int64) are the listeners with held-out artists, those evaluated; the
    others kept all their plays in ``train``.
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
    """Per-listener random holdout of ``test_fraction`` of each listener's artists (rounded,
    at least one); listeners with fewer than ``min_items`` artists stay in training only."""
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


def ranking_metrics(recommended: np.ndarray, held_out: "sp.csr_matrix", k: int
                    ) -> dict[str, np.ndarray]:
    """Per-listener precision, recall, MAP and NDCG at k.

    ``recommended``: q × (at least k) artist ids, best first, -1 = no recommendation;
    ``held_out``: q × items CSR, row i the held-out artists of the listener of row i (at
    least one each). Returns arrays of length q.
    """
    n_items = held_out.shape[1]
    top = recommended[:, :k]
    positions = np.arange(len(top), dtype=np.int64)
    test_keys = np.repeat(positions, np.diff(held_out.indptr)) * n_items + held_out.indices
    hits = np.isin(positions[:, None] * n_items + top, test_keys) & (top >= 0)
    cap = np.minimum(k, np.diff(held_out.indptr)).astype(np.float64)
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[cap.astype(np.int64) - 1]
    return {
        "precision": hits.sum(axis=1) / k,
        "recall": hits.sum(axis=1) / cap,
        "map": (precision_at * hits).sum(axis=1) / cap,
        "ndcg": (hits * discounts).sum(axis=1) / ideal,
    }


def auc(scores: np.ndarray, heard: "sp.csr_matrix", held_out: "sp.csr_matrix") -> np.ndarray:
    """Per-listener AUC from full score rows.

    ``scores``: q × items; ``heard`` and ``held_out``: q × items CSR rows of the same
    listeners (training plays; held-out artists, none of them heard). Candidates are the
    artists not heard; AUC is the Mann-Whitney probability that a held-out candidate scores
    above a candidate that is not held out, ties counting one half. NaN where it is undefined
    (no held-out artist, or no other candidate). Returns an array of length q.
    """
    from tui_recs.models._score_kernels import held_out_rank_sums  # numba: ~0.3 s of import

    q, n_items = scores.shape
    candidates_only = np.array(scores, copy=True)
    candidates_only[np.repeat(np.arange(q), np.diff(heard.indptr)), heard.indices] = np.nan
    rank_sums = held_out_rank_sums(candidates_only, held_out.indptr, held_out.indices)
    m = np.diff(held_out.indptr).astype(np.float64)
    others = n_items - np.diff(heard.indptr) - m
    with np.errstate(divide="ignore", invalid="ignore"):
        result = (rank_sums - m * (m + 1) / 2) / (m * others)
    result[(m == 0) | (others == 0)] = np.nan
    return result


def evaluate(model: "Recommender", split: Split, k: int = 10, users: Sequence[int] | None = None,
             batch: int | None = None, fit: bool = True,
             engine: str = DEFAULT_ENGINE) -> dict[str, float | str]:
    """Fit ``model`` on ``split.train`` (unless ``fit`` is False; trained by ``engine``, see
    :mod:`tui_recs.models.engine`) and measure it at ``k``.

    ``users``: evaluated listeners (default ``split.users``; each must have held-out
    artists). ``batch``: listeners scored at once (default: as many as fit in
    :data:`~tui_recs.models.topk.BLOCK_CELLS` score cells). Returns one table row: model,
    precision, recall, map, ndcg, auc, coverage, popularity, fit_seconds, query_ms
    (recommend_batch time per listener, milliseconds), and rmse for models that predict
    plays.
    """
    train, test = split.train, split.test
    batch = batch or rows_per_block(train.shape[1])
    users = split.users if users is None else np.asarray(users, dtype=np.int64).ravel()
    unevaluable = users[np.diff(test.indptr)[users] == 0] if len(users) else users
    if len(unevaluable):
        raise ValueError(f"listener {int(unevaluable[0])} has no held-out artists in this split")
    fit_seconds = 0.0
    if fit:
        started = time.perf_counter()
        if engine == DEFAULT_ENGINE:
            model.fit(train)
        else:
            model = type(model).from_arrays(model.get_params(),
                                            engine_named(engine).train(model, train))
        fit_seconds = time.perf_counter() - started
    query_seconds = 0.0
    recommended_blocks, auc_blocks = [], []
    for start in range(0, len(users), batch):
        block = users[start:start + batch]
        started = time.perf_counter()
        recommended_blocks.append(model.recommend_batch(block, train, k)[0])
        query_seconds += time.perf_counter() - started
        auc_blocks.append(auc(model.score_batch(block, train), train[block], test[block]))
    recommended = (np.vstack(recommended_blocks) if recommended_blocks
                   else np.empty((0, k), dtype=np.int64))
    per_user = ranking_metrics(recommended, test[users], k)
    aucs = np.concatenate(auc_blocks) if auc_blocks else np.empty(0)
    listeners = np.bincount(train.indices, minlength=train.shape[1])
    shown = recommended[recommended >= 0]
    row: dict[str, float | str] = {"model": model.name}
    row.update({name: _mean(values) for name, values in per_user.items()})
    row.update({
        "auc": _mean(aucs[~np.isnan(aucs)]),
        "coverage": float(len(np.unique(shown)) / train.shape[1]),
        "popularity": float(listeners[shown].mean() / train.shape[0]) if len(shown) else 0.0,
        "fit_seconds": fit_seconds,
        "query_ms": query_seconds * 1000 / max(1, len(users)),
    })
    if model.capabilities.rmse:
        row["rmse"] = model.rmse(test)
    return row


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def evaluate_models(models: Mapping[str, "Recommender"], split: Split, k: int = 10,
                    users: Sequence[int] | None = None, engine: str = DEFAULT_ENGINE
                    ) -> list[dict[str, float | str]]:
    """Fit and evaluate each (unfitted) model on the same split and listeners; the popularity
    baseline is always included (trained locally). Rows are in the given order, the baseline
    last if it was not named. Each row's "model" is its key in ``models``."""
    rows = []
    for name, model in models.items():
        row = evaluate(model, split, k, users=users, engine=engine)
        row["model"] = name
        rows.append(row)
    if not any(isinstance(model, BASELINE) for model in models.values()):
        rows.append(evaluate(BASELINE(), split, k, users=users))
    if any("rmse" in row for row in rows):  # the column is blank (None) where it does not apply
        for row in rows:
            row.setdefault("rmse", None)
    return rows


def split_plays(user_items: "sp.csr_matrix", split: str = "holdout", test_fraction: float = 0.2,
                leave_out: int = 1, seed: int = 0) -> Split:
    """The seeded split named ``split``: "holdout" (``test_fraction`` of each listener's
    artists) or "leave-k-out" (``leave_out`` artists per listener)."""
    if split == "holdout":
        return holdout_split(user_items, test_fraction=test_fraction, seed=seed)
    if split == "leave-k-out":
        return leave_k_out_split(user_items, k=leave_out, seed=seed)
    raise ValueError(f"unknown split {split!r}: use holdout or leave-k-out")


def evaluate_registered(params: Mapping[str, Mapping[str, Any]], split: Split, k: int = 10,
                        engine: str = DEFAULT_ENGINE) -> list[dict[str, float | str]]:
    """:func:`evaluate_models` of registered models by name, each with its hyperparameters
    (``params``: name -> overrides of the declared defaults), checked against the data's
    shape before anything is fitted (a ParameterError names the first that does not fit)."""
    n_users, n_items = split.train.shape
    models = {}
    for name, overrides in params.items():
        model = registry.create(name, **overrides)
        check_fits(model.PARAMS, model.get_params(), name, n_users, n_items)
        models[name] = model
    return evaluate_models(models, split, k=k, engine=engine)
