"""Recall tuning shared by the index backends: exact search (the reference), recall@10 of a
search setting against it, the smallest setting reaching a target, and query timing."""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from tui_recs.models.topk import top_k

TARGET_RECALL = 0.95
#: Tuning aims this much above the target, so that recall on fresh queries still meets it.
TUNING_MARGIN = 0.01
#: Recall is measured on the top RECALL_AT results.
RECALL_AT = 10

#: ``progress(fraction, message)`` while an index is built and tuned.
IndexProgress = Callable[[float, str], None]


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


def recall_at(search: Callable[..., tuple[np.ndarray, np.ndarray]], queries: np.ndarray,
              truth: np.ndarray, exclude: Sequence[Sequence[int]], setting: int) -> float:
    """Mean fraction of each exact top-10 (``truth``, q × 10) that ``search(query, 10,
    excluded, setting)`` recovers for ``queries`` (q × f)."""
    hits = 0
    for query, expected, excluded in zip(queries, truth, exclude):
        found, _ = search(query, RECALL_AT, excluded, setting)
        hits += len(np.intersect1d(found, expected))
    return hits / truth.size


def smallest_passing(recall: Callable[[int], float], target: float, start: int,
                     budget: int) -> tuple[int, float]:
    """(setting, recall): about the smallest search setting (candidates, cells visited), to
    within 5%, whose ``recall(setting)`` reaches ``target``; the largest tried (at most
    ``budget``) when none does.

    Doubles from ``start`` until the target is reached, then bisects: a doubling grid alone
    overshoots by up to 2x, and query time grows linearly with the setting.
    """
    failing, setting = 0, min(start, budget)
    reached = recall(setting)
    while reached < target and setting < budget:
        failing, setting = setting, min(setting * 2, budget)
        reached = recall(setting)
    while reached >= target and setting - failing > max(1.0, 0.05 * setting):
        middle = (failing + setting) // 2
        middle_recall = recall(middle)
        if middle_recall >= target:
            setting, reached = middle, middle_recall
        else:
            failing = middle
    return setting, reached


def measure_query_ms(search: Callable[..., tuple[np.ndarray, np.ndarray]], vectors: np.ndarray,
                     queries: np.ndarray, exclude: Sequence[Sequence[int]], setting: int
                     ) -> tuple[float, float]:
    """(index ms, exact ms): median time of one top-10 query through ``search`` with
    ``setting`` and through exact search over ``vectors``, on up to 50 of ``queries``."""
    sample = range(min(50, len(queries)))
    return (median_ms(lambda i: search(queries[i], RECALL_AT, exclude[i], setting), sample),
            median_ms(lambda i: exact_search(vectors, queries[i], RECALL_AT, [exclude[i]]),
                       sample))


def median_ms(call: Callable[[int], object], indices) -> float:
    times = []
    for i in indices:
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000) if times else 0.0
