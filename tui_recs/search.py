"""Finding artists by name the way people type: case, accents and punctuation folded.

:class:`NameIndex` answers as-you-type searches over hundreds of thousands of names in
milliseconds: prefix lookups bisect sorted arrays of folded names and name words, substring
matches scan one joined string at C speed, and typos fall back to a trigram index (built on
first need, or ahead of time by :meth:`NameIndex.prepare`, e.g. in a background thread).
Results rank by match kind, then popularity.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tui_recs.errors import TuiRecsError

#: Match kinds, best first.
KINDS = ("exact", "prefix", "word", "substring", "fuzzy")
_QUOTES = re.compile(r"[\u0027\u2019\u2018\u0060\u00b4\u0022\u201c\u201d]")
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")
#: Substring scans stop after this many matches (short queries match everything).
MAX_SUBSTRING_MATCHES = 20_000
#: A fuzzy candidate must share at least this share of the query's trigrams.
MIN_TRIGRAM_SHARE = 0.34


def fold(text: str) -> str:
    """Normalise a name for matching: "Guns N' Roses" -> "guns n roses", "Beyoncé" ->
    "beyonce", "Earth, Wind & Fire" -> "earth wind and fire". Non-Latin letters are kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    lowered = stripped.casefold().replace("&", " and ")
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", _QUOTES.sub("", lowered))).strip()


class UnknownName(TuiRecsError):
    """No artist has this name; ``suggestions`` holds the closest names, best first."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no artist named {query!r}{hint}")


class AmbiguousName(TuiRecsError):
    """Several artists match; ``candidates`` lists their names, most popular first."""

    def __init__(self, query: str, candidates: list[str], total: int) -> None:
        self.candidates = candidates
        more = f" and {total - len(candidates)} more" if total > len(candidates) else ""
        super().__init__(f"{query!r} matches {total} artists: {', '.join(candidates)}{more}; "
                         "be more specific")


@dataclass(frozen=True)
class Hit:
    """A search result: artist position, its display name, the kind of match, and a score
    (higher is better) that orders results."""

    item: int
    name: str
    kind: str
    score: float


class _SortedKeys:
    """Folded strings sorted for prefix lookups, each with its artist."""

    def __init__(self, keys: list[str], items: np.ndarray) -> None:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self.keys = [keys[i] for i in order]
        self.items = items[np.asarray(order, dtype=np.int64)] if order else items[:0]

    def with_prefix(self, prefix: str) -> np.ndarray:
        """Artists whose key starts with ``prefix`` (possibly repeated)."""
        low = bisect.bisect_left(self.keys, prefix)
        high = bisect.bisect_left(self.keys, prefix + "\U0010ffff", lo=low)
        return self.items[low:high]


class NameIndex:
    """Search over artist names; ``popularity`` (e.g. listener counts) breaks ties."""

    def __init__(self, names: Sequence[str], popularity: np.ndarray | None = None) -> None:
        self.names = list(names)
        self.folded = [fold(name) for name in self.names]
        count = len(self.names)
        popularity = np.zeros(count) if popularity is None else np.asarray(popularity, dtype=np.float64)
        # Popularity as a rank in [0, 1): comparable across datasets, never outweighs a kind.
        order = np.argsort(-popularity, kind="stable")
        self.popularity_rank = np.empty(count, dtype=np.float64)
        self.popularity_rank[order] = 1.0 - np.arange(count) / max(count, 1)
        self.by_popularity = order
        self.exact: dict[str, list[int]] = {}
        for item, key in enumerate(self.folded):
            self.exact.setdefault(key, []).append(item)
        items = np.arange(count, dtype=np.int64)
        self.prefixes = _SortedKeys(self.folded, items)
        word_keys, word_items = [], []
        for item, key in enumerate(self.folded):
            for match in re.finditer(r" (?=\S)", key):
                word_keys.append(key[match.end():])
                word_items.append(item)
        self.word_prefixes = _SortedKeys(word_keys, np.asarray(word_items, dtype=np.int64))
        self.blob = "\n" + "\n".join(self.folded) + "\n"
        self.starts = np.cumsum([1] + [len(key) + 1 for key in self.folded[:-1]]) if count else \
            np.empty(0, dtype=np.int64)
        self._trigrams: dict[str, np.ndarray] | None = None
        self._trigram_counts: np.ndarray | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ search
    def search(self, query: str, limit: int = 20) -> list[Hit]:
        """The best ``limit`` artists for a typed query (most popular ones when empty)."""
        key = fold(query)
        if limit <= 0:
            return []
        if not key:
            return [self._hit(int(item), "prefix") for item in self.by_popularity[:limit]]
        found: dict[int, str] = {}
        for kind, items in (("exact", self.exact.get(key, [])),
                            ("prefix", self.prefixes.with_prefix(key)),
                            ("word", self.word_prefixes.with_prefix(key)),
                            ("substring", self._substring(key))):
            for item in self._best(np.asarray(items, dtype=np.int64), found, limit - len(found)):
                found[item] = kind
            if len(found) >= limit:
                break
        if len(found) < limit and len(key) >= 3:
            for item in self._fuzzy(key, limit - len(found), exclude=found):
                found[item] = "fuzzy"
        hits = [self._hit(item, kind) for item, kind in found.items()]
        return sorted(hits, key=lambda hit: -hit.score)

    def _hit(self, item: int, kind: str) -> Hit:
        return Hit(item, self.names[item], kind,
                   float(len(KINDS) - KINDS.index(kind) + self.popularity_rank[item]))

    def _best(self, items: np.ndarray, exclude: dict[int, str], count: int) -> list[int]:
        """Up to ``count`` distinct artists of ``items`` not in ``exclude``, most popular first."""
        if count <= 0 or not len(items):
            return []
        items = np.unique(items)
        if exclude:
            items = items[~np.isin(items, np.fromiter(exclude, dtype=np.int64))]
        ranks = self.popularity_rank[items]
        if len(items) > count:
            keep = np.argpartition(-ranks, count - 1)[:count]
            items, ranks = items[keep], ranks[keep]
        return items[np.argsort(-ranks, kind="stable")].tolist()

    def _substring(self, key: str) -> np.ndarray:
        """Artists whose folded name contains ``key`` anywhere."""
        positions = []
        start = self.blob.find(key)
        while start != -1 and len(positions) < MAX_SUBSTRING_MATCHES:
            positions.append(start)
            start = self.blob.find(key, start + 1)
        if not positions:
            return np.empty(0, dtype=np.int64)
        items = np.searchsorted(self.starts, np.asarray(positions), side="right") - 1
        return items[(items >= 0)]

    # ------------------------------------------------------------------------------- fuzzy
    def prepare(self) -> None:
        """Build the trigram index for typo-tolerant matching now (safe from any thread)."""
        with self._lock:
            if self._trigrams is not None:
                return
            postings: dict[str, list[int]] = {}
            counts = np.empty(len(self.folded), dtype=np.int64)
            for item, key in enumerate(self.folded):
                grams = _trigrams(key)
                counts[item] = len(grams)
                for gram in grams:
                    postings.setdefault(gram, []).append(item)
            self._trigram_counts = counts
            self._trigrams = {gram: np.asarray(items, dtype=np.int64)
                              for gram, items in postings.items()}

    def _fuzzy(self, key: str, count: int, exclude: dict[int, str]) -> list[int]:
        """Artists sharing the most trigrams with ``key`` (Dice similarity), then popularity."""
        self.prepare()
        grams = _trigrams(key)
        lists = [self._trigrams[gram] for gram in grams if gram in self._trigrams]
        if not lists:
            return []
        shared = np.bincount(np.concatenate(lists), minlength=len(self.folded))
        candidates = np.flatnonzero(shared >= max(1, MIN_TRIGRAM_SHARE * len(grams)))
        if exclude:
            candidates = candidates[~np.isin(candidates, np.fromiter(exclude, dtype=np.int64))]
        dice = 2.0 * shared[candidates] / (len(grams) + self._trigram_counts[candidates])
        order = np.lexsort((-self.popularity_rank[candidates], -dice))[:count]
        return candidates[order].tolist()

    # ----------------------------------------------------------------------------- resolve
    def resolve(self, query: str) -> int:
        """The one artist a typed name refers to.

        Rule: the folded name matched exactly (if several artists fold alike, the one spelled
        exactly as typed, else ambiguous); otherwise the only artist whose name starts with
        the query; otherwise the only one with a word starting with it. Several candidates
        raise :class:`AmbiguousName`; none raise :class:`UnknownName` with suggestions.
        """
        key = fold(query)
        exact = self.exact.get(key, [])
        if len(exact) == 1:
            return exact[0]
        if exact:
            spelled = [item for item in exact if self.names[item] == query.strip()]
            if len(spelled) == 1:
                return spelled[0]
            self._ambiguous(query, np.asarray(exact))
        for items in (self.prefixes.with_prefix(key), self.word_prefixes.with_prefix(key)):
            distinct = np.unique(items) if key else items[:0]
            if len(distinct) == 1:
                return int(distinct[0])
            if len(distinct) > 1:
                self._ambiguous(query, distinct)
        suggestions = [hit.name for hit in self.search(query, limit=5)] if key else []
        raise UnknownName(query, suggestions)

    def _ambiguous(self, query: str, items: np.ndarray) -> None:
        best = self._best(items, {}, 5)
        raise AmbiguousName(query, [self.names[item] for item in best], len(np.unique(items)))


def _trigrams(key: str) -> set[str]:
    padded = f"  {key} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}
