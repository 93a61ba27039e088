"""Comparing two ranked lists (two models' answers to one question).

Used by ``tui-recs compare`` and by the UI's Compare view (its slopegraph draws ``rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class ComparedItem:
    """One artist in either list: its 1-based rank on each side (None where absent)."""

    item: int
    left_rank: int | None
    right_rank: int | None

    @property
    def change(self) -> int | None:
        """Places moved from left to right (positive = higher on the right), None if absent."""
        if self.left_rank is None or self.right_rank is None:
            return None
        return self.left_rank - self.right_rank


@dataclass(frozen=True)
class Comparison:
    """Two ranked lists of item ids, side by side."""

    left: tuple[int, ...]
    right: tuple[int, ...]
    rows: tuple[ComparedItem, ...]
    overlap: float
    rank_correlation: float | None

    @property
    def n(self) -> int:
        return max(len(self.left), len(self.right))


def compare_rankings(left: Sequence[int], right: Sequence[int]) -> Comparison:
    """Compare two rankings (best first).

    ``overlap`` is overlap@n: shared items / n, n the longer list's length. The rank
    correlation is Spearman's rho over the shared items (None with fewer than two shared).
    ``rows`` lists every left item in left order, then right-only items in right order.
    """
    left, right = tuple(int(i) for i in left), tuple(int(i) for i in right)
    left_rank = {item: rank for rank, item in enumerate(left, start=1)}
    right_rank = {item: rank for rank, item in enumerate(right, start=1)}
    rows = [ComparedItem(item, left_rank[item], right_rank.get(item)) for item in left]
    rows += [ComparedItem(item, None, right_rank[item]) for item in right if item not in left_rank]
    shared = [item for item in left if item in right_rank]
    n = max(len(left), len(right))
    return Comparison(left, right, tuple(rows), len(shared) / n if n else 0.0,
                      _spearman([left_rank[i] for i in shared], [right_rank[i] for i in shared]))


def _spearman(a: list[int], b: list[int]) -> float | None:
    """Spearman's rho of two rank lists over the same items (ranks re-taken among them)."""
    count = len(a)
    if count < 2:
        return None
    rank_a = {value: rank for rank, value in enumerate(sorted(a))}
    rank_b = {value: rank for rank, value in enumerate(sorted(b))}
    squared = sum((rank_a[x] - rank_b[y]) ** 2 for x, y in zip(a, b))
    return 1 - 6 * squared / (count * (count * count - 1))
