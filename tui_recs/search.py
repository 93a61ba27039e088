"""Finding artists by name the way people type: case, accents and punctuation folded.

:class:`NameIndex` answers as-you-type searches over hundreds of thousands of names in
milliseconds. The folded names are joined, most popular first, into one string that
``str.find`` scans at C speed: the first names found are the most popular ones, so a scan
stops as soon as it has enough. Typos fall back to a trigram index (numpy posting arrays),
built on first need or ahead of time by :meth:`NameIndex.prepare`, e.g. in a background
thread. :meth:`NameIndex.resolve` picks the one artist a command-line argument names. Both
indexes go to arrays and back (``to_arrays``/``from_arrays``), so that a cache can keep them:
at 290K names building them takes ~2 s, reading them back ~0.1 s.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Container, Iterator, Mapping, Sequence

import numpy as np

from tui_recs.cache.validate import is_partition, is_permutation
from tui_recs.errors import TuiRecsError

if TYPE_CHECKING:
    from tui_recs.cache import ArtifactStore
    from tui_recs.data.dataset import Dataset

#: Kinds of name match, best first (see :meth:`NameIndex.search`).
KINDS = ("exact", "prefix", "word", "substring", "fuzzy")
#: The kind of the hits an empty query gives: the most popular artists.
POPULAR = "popular"
#: Typo matching starts at this many characters (shorter queries have too few trigrams).
MIN_FUZZY_LENGTH = 3
#: Names handled per C call in the bulk passes over all names. Each call holds the GIL, and
#: an index built in a background thread must not freeze the UI: one pass over 290K names
#: held it for 130 ms, a piece of 16K names holds it for a few ms.
PIECE = 16384
#: Names counted per C call, and the seconds the count pauses after each, the GIL released,
#: so that a UI thread waiting for it runs at once: in pieces of PIECE names on a busy machine
#: each call held it 5-10 ms, and a preview drawn meanwhile took 73 ms instead of 3.
COUNT_PIECE = 2048
PIECE_PAUSE = 0.001
#: Characters of the joined names (the most popular first) a quick search may scan per
#: kind of match: ~0.2 ms each, where a whole scan of 290K names takes ~4 ms.
QUICK_SPAN = 1 << 18
#: A typo candidate shares at least this fraction of the query's trigrams.
MIN_TRIGRAM_SHARE = 0.34
#: How many names an error message lists.
SHOWN_NAMES = 5
#: Bump when what the indexes store changes (it keys their cache entries).
INDEX_FORMAT_VERSION = 2

_QUOTES = re.compile("['\"`\u00b4\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033"
                     "\u02bc\uff07\uff02\uff40]")
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
#: Spelled out after case folding: '&', and Latin letters that do not decompose into a base
#: letter and an accent.
_SPELLINGS = {"&": " and ", "\u00f8": "o", "\u00e6": "ae", "\u0153": "oe", "\u0142": "l",
              "\u0111": "d", "\u00f0": "d", "\u00fe": "th", "\u0131": "i"}
_SPELLED = re.compile(f"[{''.join(_SPELLINGS)}]")
#: ASCII folding table: letters and digits kept (lower-cased first), all else but newlines a space.
_ASCII_SPACES = bytes(c if chr(c).isalnum() or c == 10 else 32 for c in range(256))
_ASCII_QUOTES = b"'\"`"
_NOT_WORD = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_RUNS = re.compile(rb"  +")
_LINE_EDGES = re.compile(r" ?\n ?")
#: Punctuation inside a word ("AC/DC", "Jay-Z", "T.Rex"): such a name is also found with it
#: left out ("acdc", "jayz"), besides with a space for it ("ac dc").
_INNER_SEPARATOR = re.compile(r"(?<=[^\W_])(?:[^\w\s]|_)+(?=[^\W_])")
_ARTICLE = "the "
_LEADING_ARTICLE = re.compile(f"(?m)^{_ARTICLE}(?=.)")


def fold(text: str) -> str:
    """The form names are matched in: "Guns N' Roses" -> "guns n roses", "Beyoncé" ->
    "beyonce", "Earth, Wind & Fire" -> "earth wind and fire", "Фактор-2" -> "фактор 2".

    Compatibility forms are unified (NFKD), accents on Latin letters dropped, case folded,
    '&' spelled "and", quotes and apostrophes removed, other punctuation and symbols made
    spaces, whitespace collapsed. Letters of other scripts are kept as they are.
    """
    return fold_all([text])[0]


def fold_all(texts: Sequence[str]) -> list[str]:
    """:func:`fold` of each text, done in a few C-speed passes over the texts joined (ASCII
    texts, most names, separately: they need no Unicode normalisation)."""
    lines = np.array([text.replace("\n", " ") for text in texts], dtype=object)
    plain = np.fromiter(map(str.isascii, lines), dtype=bool, count=len(lines))
    folded = np.empty(len(lines), dtype=object)
    folded[plain] = _piecewise(_fold_ascii, lines[plain].tolist())
    folded[~plain] = _piecewise(_fold_unicode, lines[~plain].tolist())
    return folded.tolist()


def _pieces(lines: Sequence[str]) -> Iterator[Sequence[str]]:
    """``lines`` in consecutive slices of at most PIECE."""
    for start in range(0, len(lines), PIECE):
        yield lines[start:start + PIECE]


def _piecewise(transform: Callable[[Sequence[str]], list[str]], lines: Sequence[str]) -> list[str]:
    """``transform`` (a list of lines to as many lines) applied PIECE lines at a time."""
    done: list[str] = []
    for piece in _pieces(lines):
        done += transform(piece)
    return done


def _as_strings(values: Sequence[object]) -> list[str]:
    """``str`` of each value, PIECE at a time."""
    return _piecewise(lambda piece: list(map(str, piece)), values)


def _fold_ascii(lines: list[str]) -> list[str]:
    """:func:`fold` of ASCII lines, on bytes."""
    if not lines:
        return []
    data = "\n".join(lines).encode("ascii").lower().replace(b"&", b" and ")
    data = _SPACE_RUNS.sub(b" ", data.translate(_ASCII_SPACES, _ASCII_QUOTES))
    return data.replace(b" \n", b"\n").replace(b"\n ", b"\n").strip(b" ").decode("ascii").split("\n")


def _fold_unicode(lines: list[str]) -> list[str]:
    """:func:`fold` of lines without newlines."""
    if not lines:
        return []
    joined = _QUOTES.sub("", "\n".join(lines))
    joined = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", joined).casefold())
    joined = unicodedata.normalize("NFC", _DIACRITICS.sub(_latin_accents_removed, joined))
    joined = _SPELLED.sub(_spelled_out, joined)
    joined = _NOT_WORD.sub(_symbol_replaced, joined)
    return _LINE_EDGES.sub("\n", _SPACES.sub(" ", joined)).strip(" ").split("\n")


def _spelled_out(match: re.Match) -> str:
    return _SPELLINGS[match.group()]


def _latin_accents_removed(match: re.Match) -> str:
    """Diacritics on a Latin letter (or on nothing) removed; on another script's letter kept."""
    start = match.start()
    base = match.string[start - 1] if start else ""
    return match.group() if base.isalpha() and not _is_latin(base) else ""


def _is_latin(letter: str) -> bool:
    code = ord(letter)
    return code < 0x250 or 0x1E00 <= code < 0x1F00 or 0x2C60 <= code < 0x2C80 or 0xA720 <= code < 0xA800


def _symbol_replaced(match: re.Match) -> str:
    return _symbol_replacement(match.group())


@functools.lru_cache(maxsize=4096)
def _symbol_replacement(char: str) -> str:
    """A space for punctuation, symbols and control or private-use characters; nothing for
    invisible format characters; combining marks (of non-Latin scripts) unchanged."""
    category = unicodedata.category(char)
    if category[0] in "PS" or category in ("Cc", "Co"):
        return " "
    return "" if category == "Cf" else char


def _fallback_key(text: str) -> str:
    """The key of a text that folds to nothing ("!!!", ":("): the text case-folded."""
    return " ".join(text.casefold().split())


def _joined_keys(names: Sequence[str], keys: Sequence[str]) -> dict[int, str]:
    """For each name with punctuation inside a word, its key with that punctuation left out
    ("AC/DC" -> "acdc", while its key is "ac dc"), by position; names without any (most: a
    regex scan of each PIECE names finds the few) are absent. The regex engine holds the GIL
    for a whole scan: over all 290K names at once it froze a UI thread for 170 ms."""
    found: list[int] = []
    for number, piece in enumerate(_pieces(names)):
        lines = [name.replace("\n", " ") for name in piece]
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        starts = np.cumsum(lengths + 1) - (lengths + 1)  # where each name begins in the text
        lines_hit = {int(np.searchsorted(starts, match.start(), side="right")) - 1
                     for match in _INNER_SEPARATOR.finditer("\n".join(lines))}
        found += [number * PIECE + line for line in sorted(lines_hit)]
    joined = fold_all([_INNER_SEPARATOR.sub("", names[position]) for position in found])
    return {position: key for position, key in zip(found, joined) if key and key != keys[position]}


def _query_key(query: str) -> str:
    """The form a query is matched in: folded, or if that leaves nothing, its fallback key."""
    return fold(query) or _fallback_key(query)


def _without_article(keys: str) -> str:
    """Keys (one a line) without a leading "the ": "the beatles" -> "beatles"."""
    return _LEADING_ARTICLE.sub("", keys)


class UnknownName(TuiRecsError):
    """No artist has this name; ``suggestions`` holds the closest names, best first."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no artist named {query!r}{hint}")


class AmbiguousName(TuiRecsError):
    """Several artists match; ``candidates`` lists the most popular of them, ``total`` counts
    them all."""

    def __init__(self, query: str, candidates: list[str], total: int,
                 advice: str = "be more specific") -> None:
        self.candidates = candidates
        self.total = total
        more = f" and {total - len(candidates)} more" if total > len(candidates) else ""
        super().__init__(f"{query!r} matches {total} artists: {', '.join(candidates)}{more}; "
                         f"{advice}")


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    Attributes:
        item: the artist's position in the names the index was built from.
        name: its display name.
        kind: how it matched, one of :data:`KINDS`, or :data:`POPULAR` for an empty query.
        score: how good the hit is within its kind, in [0, 1]: the artist's popularity
            quantile (1 = most popular) for name matches, the share of the query's trigrams
            found in the name for fuzzy ones.
    """

    item: int
    name: str
    kind: str
    score: float


def _padded(keys: Sequence[str]) -> str:
    """The keys, each framed so that its first letters and its last one form trigrams of
    their own ("  abc " has "  a", " ab", "abc", "bc "), one after another."""
    return "".join(f"  {key} " for key in keys)


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class _Trigrams:
    """Inverted index from character trigrams to the keys containing them.

    Characters are numbered densely (``alphabet``: code point -> number; the rarest share
    one number if there are too many for a trigram and its key to fit an int64), trigrams
    are numbers below ``letters ** 3``; ``grams`` holds those that occur, sorted, and the keys
    holding ``grams[g]`` are ``owners[bounds[g]:bounds[g + 1]]``. ``sizes`` counts each key's
    distinct trigrams.
    """

    def __init__(self, keys: list[str]) -> None:
        points = _code_points(_padded(keys))
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)) + len(_padded([""]))
        self._number_letters(points, max_letters=int((2**63 / max(len(keys), 2)) ** (1 / 3)) - 1)
        owners = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        inside = owners[:-2] == owners[2:]  # not straddling two keys
        pairs = np.sort(self._codes(points)[inside] * len(keys) + owners[:-2][inside])
        pairs = pairs[np.diff(pairs, prepend=-1) != 0]  # a trigram twice in a key counts once
        grams, self.owners = np.divmod(pairs, max(len(keys), 1))
        first = np.flatnonzero(np.diff(grams, prepend=-1))
        self.grams = grams[first]
        self.bounds = np.append(first, len(grams))
        self.sizes = np.bincount(self.owners, minlength=len(keys))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"grams": self.grams, "owners": self.owners, "bounds": self.bounds,
                "sizes": self.sizes, "alphabet": self.alphabet,
                "letters": np.array([self.letters], dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "_Trigrams":

        trigrams = cls.__new__(cls)
        for name in ("grams", "owners", "bounds", "sizes", "alphabet"):
            setattr(trigrams, name, arrays[name])
        trigrams.letters = int(arrays["letters"][0])
        owners, alphabet = trigrams.owners, trigrams.alphabet
        if not (is_partition(trigrams.bounds, len(owners))
                and len(trigrams.bounds) == len(trigrams.grams) + 1
                and (not owners.size or 0 <= owners.min() <= owners.max() < len(trigrams.sizes))
                and alphabet.size and 0 <= alphabet.min() <= alphabet.max() < trigrams.letters):
            raise ValueError("trigram arrays that do not index each other")
        return trigrams

    def _number_letters(self, points: np.ndarray, max_letters: int) -> None:
        """Set ``alphabet`` and ``letters``: the most frequent code points get their own
        number (at most ``max_letters`` - 1 of them), all others share the last one."""
        counts = np.bincount(points)
        used = np.flatnonzero(counts)
        if len(used) >= max_letters:
            used = np.sort(used[np.argsort(-counts[used], kind="stable")[:max_letters - 1]])
        self.letters = len(used) + 1
        self.alphabet = np.full(len(counts) + 1, len(used), dtype=np.int64)  # last: unseen ones
        self.alphabet[used] = np.arange(len(used))

    def _codes(self, points: np.ndarray) -> np.ndarray:
        """The trigram number of every run of three code points."""
        numbers = self.alphabet[np.minimum(points, len(self.alphabet) - 1)]
        return (numbers[:-2] * self.letters + numbers[1:-1]) * self.letters + numbers[2:]

    def similar(self, key: str, count: int, skip: Collection[int]) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``count`` keys (not in ``skip``) sharing at least :data:`MIN_TRIGRAM_SHARE` of
        ``key``'s trigrams, and that share, largest first (ties: lowest position, i.e. most
        popular, first). The share of the query found, not a symmetric similarity: a typo of
        a name with more words ("riasli" for "Risali Stars") is not outranked by a short
        obscure name that shares as much of it."""
        query = np.unique(self._codes(_code_points(_padded([key]))))
        slots = np.searchsorted(self.grams, query)
        known = slots < len(self.grams)
        known[known] = self.grams[slots[known]] == query[known]
        if not known.any():
            return np.empty(0, dtype=np.int64), np.empty(0)
        postings = [self.owners[self.bounds[slot]:self.bounds[slot + 1]] for slot in slots[known]]
        shared = np.bincount(np.concatenate(postings), minlength=len(self.sizes))
        candidates = np.flatnonzero(shared >= max(1.0, MIN_TRIGRAM_SHARE * len(query)))
        if skip:
            candidates = candidates[~np.isin(candidates, np.fromiter(skip, dtype=np.int64))]
        covered = shared[candidates] / len(query)
        best = np.lexsort((candidates, -covered))[:count]
        return candidates[best], covered[best]


class _Lines:
    """Lines of text joined into one string, "\n" before each and after the last, so that
    ``str.find`` scans them all at C speed; a hit is mapped back to its line's owner: the
    line's number, or ``owners[line]`` where more lines stand for one thing (a name and its
    other spellings): then the first lines are owned by themselves, and the others follow."""

    def __init__(self, lines: Sequence[str], owners: np.ndarray | None = None) -> None:
        pieces = list(_pieces(lines))
        self.text = "\n" + "\n".join("\n".join(piece) for piece in pieces) + "\n" if pieces else ""
        lengths = np.concatenate([np.fromiter(map(len, piece), dtype=np.int64, count=len(piece))
                                  for piece in pieces] or [np.zeros(0, dtype=np.int64)])
        self._starts = np.concatenate(([1], 1 + np.cumsum(lengths + 1)))  # where each line begins
        self._set_owners(owners)

    def _set_owners(self, owners: np.ndarray | None) -> None:
        """``owners`` and ``_own``: how many lines, from the first, own themselves."""
        self._owners = owners
        lines = len(self._starts) - 1
        others = np.flatnonzero(owners != np.arange(lines)) if owners is not None else ()
        self._own = int(others[0]) if len(others) else lines

    def pieces(self, count: int | None = None, size: int = PIECE) -> Iterator[list[str]]:
        """The first ``count`` lines (all when None), split again ``size`` at a time: splitting
        all 290K at once held the GIL for ~20 ms, a background thread's freeze of the UI."""
        total = len(self._starts) - 1 if count is None else count
        for first in range(0, total, size):
            last = min(first + size, total)
            yield self.text[int(self._starts[first]):int(self._starts[last]) - 1].split("\n")

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"text": np.frombuffer(self.text.encode("utf-8", "surrogatepass"), dtype=np.uint8),
                  "starts": self._starts}
        return arrays if self._owners is None else {**arrays, "owners": self._owners}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "_Lines":
        lines = cls.__new__(cls)
        lines.text = np.asarray(arrays["text"]).tobytes().decode("utf-8", "surrogatepass")
        lines._starts = arrays["starts"]
        starts, owners = lines._starts, arrays.get("owners")
        if starts.ndim != 1 or (np.diff(starts) < 0).any() or (
                starts.size and not 0 <= starts[0] <= starts[-1] <= len(lines.text) + 1):
            raise ValueError("line starts outside the joined text")
        if owners is not None and (owners.shape != (len(starts) - 1,) or (
                owners.size and not 0 <= owners.min() <= owners.max() < len(owners))):
            raise ValueError("line owners that are not lines")
        lines._set_owners(owners)
        return lines

    def find(self, needle: str, shift: int, skip: Container[int] = (),
             limit: int | None = None) -> list[int]:
        """Owners of the lines containing ``needle`` (in owner order, each once), up to
        ``limit`` of them (all when None), leaving out those in ``skip``; ``shift`` is where
        the line's own text starts within ``needle`` (1 after a leading "\n")."""
        if self._own == len(self._starts) - 1:
            return self._scan(needle, shift, skip, limit, 0, len(self.text))
        # The lines that own themselves, then the others (each few): the first ``limit``
        # owners of each, merged.
        split = int(self._starts[self._own]) - 1  # the newline between the two
        found = set(self._scan(needle, shift, skip, limit, 0, split + 1))
        found.update(self._scan(needle, shift, skip, limit, split, len(self.text)))
        return sorted(found)[:limit]

    def find_within(self, needle: str, shift: int, skip: Container[int], limit: int,
                    span: int) -> list[int] | None:
        """:meth:`find` with a ``limit`` when the lines that own themselves (the first ones)
        hold ``limit`` owners with ``needle`` within the text's first ``span`` characters,
        else None: the scan stops there. Lines of other spellings are all scanned (few)."""
        others = self._own < len(self._starts) - 1
        split = int(self._starts[self._own]) - 1 if others else len(self.text)
        if span >= split:
            return self.find(needle, shift, skip, limit)
        first = self._scan(needle, shift, skip, limit, 0, span)
        if len(first) < limit or not others:
            return first if len(first) == limit else None
        # Any owner beyond ``first`` ranks after all of them: the merge is exact.
        spelled = self._scan(needle, shift, skip, limit, split, len(self.text))
        return sorted({*first, *spelled})[:limit]

    def _scan(self, needle: str, shift: int, skip: Container[int], limit: int | None,
              start: int, end: int) -> list[int]:
        """:meth:`find` within ``text[start:end]``, in line order."""
        found: dict[int, None] = {}  # ordered, and a cheap "seen already"
        position = self.text.find(needle, start, end)
        while position != -1 and (limit is None or len(found) < limit):
            line = int(np.searchsorted(self._starts, position + shift, side="right")) - 1
            if line == len(self._starts) - 1:
                break  # the newline after the last line: no line starts there
            owner = line if self._owners is None else int(self._owners[line])
            if owner not in skip:
                found[owner] = None
            position = self.text.find(needle, int(self._starts[line + 1]) - 1, end)
        return list(found)


class NameIndex:
    """Artist search over ``names``; ``popularity`` (e.g. listener counts, one per name)
    orders equally good matches, most popular first (then by position)."""

    def __init__(self, names: Sequence[str], popularity: np.ndarray | None = None) -> None:
        self.names = _as_strings(names)
        count = len(self.names)
        popularity = np.zeros(count) if popularity is None else np.asarray(popularity, dtype=np.float64)
        if popularity.shape != (count,):
            raise ValueError(f"popularity has shape {popularity.shape} for {count} names")
        # Internally artists are numbered by popularity rank: rank order is popularity order.
        self._items = np.argsort(-popularity, kind="stable")
        keys = np.array(fold_all(self.names), dtype=object)
        for item in np.flatnonzero(keys == ""):
            keys[item] = _fallback_key(self.names[item])
        # One line per artist, most popular first: the first lines found are the most popular.
        # After them, the other spelling of names with punctuation inside a word ("acdc"), as
        # lines owned by the artist's rank.
        ranks = np.empty(count, dtype=np.int64)
        ranks[self._items] = np.arange(count)
        joined = sorted((int(ranks[item]), key) for item, key in _joined_keys(self.names, keys).items())
        self._lines = _Lines(keys[self._items].tolist() + [key for _, key in joined],
                             np.array([*range(count), *(rank for rank, _ in joined)], dtype=np.int64))
        self._key_counts: dict[str, int] | None = None
        self._trigrams: _Trigrams | None = None
        self._lock = threading.Lock()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What :meth:`from_arrays` needs besides the names: the popularity order, the folded
        names and the typo index (built now if it was not yet)."""
        return {"ranked_items": self._items,
                **{f"lines.{k}": v for k, v in self._lines.to_arrays().items()},
                **{f"trigrams.{k}": v for k, v in self._trigram_index().to_arrays().items()}}

    @classmethod
    def from_arrays(cls, names: Sequence[str], arrays: dict[str, np.ndarray]) -> "NameIndex":
        """The index :meth:`to_arrays` came from, over the same ``names`` (any sequence of
        str, e.g. a dataset's object array: it is not copied)."""
        index = cls.__new__(cls)
        index.names = names

        index._items = arrays["ranked_items"]
        if len(index._items) != len(index.names) or not is_permutation(index._items):
            raise ValueError(f"a name index of {len(index._items)} names for {len(index.names)}")
        index._lines = _Lines.from_arrays(_prefixed(arrays, "lines"))
        index._key_counts = None
        index._trigrams = _Trigrams.from_arrays(_prefixed(arrays, "trigrams"))
        index._lock = threading.Lock()
        return index

    # ------------------------------------------------------------------------------ search
    def search(self, query: str, limit: int = 20) -> list[Hit]:
        """Up to ``limit`` artists matching ``query`` as typed so far, best first.

        Kinds rank in the order of :data:`KINDS`: the whole folded name equals the folded
        query ("exact"), starts with it ("prefix"), has a word starting with it ("word":
        "fire" finds "Arcade Fire"), contains it ("substring"), or, while fewer than
        ``limit`` were found, shares enough trigrams with it ("fuzzy": "radiohed" finds
        "Radiohead"). Within a kind, more popular artists come first; fuzzy hits rank by
        similarity first. An empty query lists the most popular artists.
        """
        key = _query_key(query)
        if limit <= 0:
            return []
        found = self._name_matches(key, limit)
        assert found is not None  # (every kind scanned to the end)
        hits = [self._hit(rank, kind) for rank, kind in found.items()]
        if self._wants_typos(key, len(hits), limit):
            ranks, similarity = self._trigram_index().similar(_without_article(key),
                                                              limit - len(hits), found)
            hits += [self._hit(rank, "fuzzy", score) for rank, score in
                     zip(ranks.tolist(), similarity.tolist())]
        return hits

    def quick_search(self, query: str, limit: int = 20) -> list[Hit] | None:
        """:meth:`search`'s answer when the ``limit`` hits are names found among the most
        popular ones (each kind of match scanned over :data:`QUICK_SPAN` characters at most:
        ~1 ms in all at 290K names, quick enough for a UI thread), else None: then call
        :meth:`search`, e.g. in a worker thread. None too until :meth:`prepare` has run."""
        if limit <= 0:
            return []
        if self._key_counts is None:
            return None
        found = self._name_matches(_query_key(query), limit, QUICK_SPAN)
        if found is None or len(found) < limit:
            return None
        return [self._hit(rank, kind) for rank, kind in found.items()]

    def _name_matches(self, key: str, limit: int, span: int | None = None
                      ) -> dict[int, str] | None:
        """Up to ``limit`` ranks whose names match the folded query ``key`` (all but typos),
        best first, each with its kind; the most popular for an empty key. With ``span``,
        None where a kind's matches are not all within the first ``span`` characters."""
        if not key:
            return dict.fromkeys(range(min(limit, len(self.names))), POPULAR)
        found: dict[int, str] = {}
        for kind, needle, shift in self._needles(key):
            wanted = self._wanted(kind, key, limit - len(found))
            if wanted <= 0:
                continue
            ranks = (self._lines.find(needle, shift, found, wanted) if span is None
                     else self._lines.find_within(needle, shift, found, wanted, span))
            if ranks is None:
                return None
            found.update(dict.fromkeys(ranks, kind))
        return found

    def _wanted(self, kind: str, key: str, room: int) -> int:
        """How many matches of ``kind`` a scan looks for, with ``room`` left for hits: exact
        matches are counted once :meth:`prepare` has run (the scan stops at the last one)."""
        counts = self._key_counts  # not waited for: until prepare() builds it, scans decide
        if kind != "exact" or counts is None:
            return room
        return min(room, counts.get(key, 0))

    @staticmethod
    def _wants_typos(key: str, found: int, limit: int) -> bool:
        """Whether a search for ``key`` that found ``found`` names looks for typos too."""
        return found < limit and len(key) >= MIN_FUZZY_LENGTH

    def prepare(self) -> None:
        """Build what searches use and is not built yet: the count of each folded name, which
        spares scans for exact matches and lets :meth:`quick_search` answer, and the trigram
        index for typo matching, now rather than at the first typo (well under a second at
        290K names; safe to call from a background thread: a search that needs the trigrams
        meanwhile waits, one that would use the counts does without)."""
        self._keys()
        self._trigram_index()

    def _hit(self, rank: int, kind: str, score: float | None = None) -> Hit:
        item = int(self._items[rank])
        if score is None:
            score = 1.0 - rank / len(self.names)
        return Hit(item, self.names[item], kind, score)

    @staticmethod
    def _needles(key: str) -> tuple[tuple[str, str, int], ...]:
        """(kind, text to find in the lines, offset of the key in it) for each name kind."""
        return (("exact", f"\n{key}\n", 1), ("prefix", "\n" + key, 1), ("word", " " + key, 1),
                ("substring", key, 0))

    def _keys(self) -> dict[str, int]:
        """How many lines hold each folded name (a name, or another spelling of one): an
        exact match is looked for only when there is one, and no further than the last (a
        scan of every name spared per keystroke, 4-9 ms at 290K names)."""
        counts = self._key_counts
        if counts is None:
            # Not under the lock: a search waiting there for the typo index would wait for
            # this too (0.3 s for a keystroke on a busy machine). Two callers count twice.
            counts = Counter()
            for piece in self._lines.pieces(size=COUNT_PIECE):  # other spellings too: "acdc"
                counts.update(piece)
                time.sleep(PIECE_PAUSE)
            self._key_counts = counts
        return counts

    @property
    def typo_index_ready(self) -> bool:
        """Whether the typo (trigram) index is in memory, so a misspelt query will not build it."""
        with self._lock:
            return self._trigrams is not None

    def _trigram_index(self) -> _Trigrams:
        with self._lock:
            if self._trigrams is None:  # over each artist's own key (its first line)
                keys: list[str] = []
                for piece in self._lines.pieces(len(self.names)):
                    keys += _without_article("\n".join(piece)).split("\n")
                self._trigrams = _Trigrams(keys)
            return self._trigrams

    # ----------------------------------------------------------------------------- resolve
    def resolve(self, query: str) -> int:
        """The position of the one artist ``query`` names.

        The first of these rules that matches any artist decides:

        1. the folded name equals the folded query. When several artists fold alike
           ("Air", "AIR"), the one spelled exactly as typed wins, else the one spelled so up
           to case; failing both the query is ambiguous;
        2. the same, ignoring a leading "the" on either side ("beatles" -> "The Beatles");
        3. the name starts with the query ("radioh" -> "Radiohead");
        4. a word of the name starts with the query ("arcade f" -> "The Arcade Fire").

        Raises:
            AmbiguousName: the deciding rule matches several artists (the most popular are
                listed).
            UnknownName: no rule matches; the closest names by :meth:`search` are suggested.
        """
        key = _query_key(query)
        for rule, ranks in enumerate(self._resolve_rules(key) if key else ()):
            if rule == 0 and len(ranks) > 1:
                ranks = self._spelled_as(query, ranks)
            if len(ranks) == 1:
                return int(self._items[ranks[0]])
            if ranks:
                advice = "type one exactly as written" if rule == 0 else "be more specific"
                raise self._ambiguous(query, ranks, advice)
        suggestions = [hit.name for hit in self.search(query, SHOWN_NAMES)] if key else []
        raise UnknownName(query, suggestions)

    def _resolve_rules(self, key: str) -> Iterator[list[int]]:
        """The ranks each rule of :meth:`resolve` matches, in rule order (lazily)."""
        exact, prefix, word, _ = self._needles(key)
        yield self._lines.find(*exact[1:])
        bare = _without_article(key)
        yield sorted({*self._lines.find(f"\n{bare}\n", 1), *self._lines.find(f"\n{_ARTICLE}{bare}\n", 1)})
        yield self._lines.find(*prefix[1:])
        yield self._lines.find(*word[1:])

    def _spelled_as(self, query: str, ranks: list[int]) -> list[int]:
        """The one rank whose name is spelled as ``query``, else as it up to case, else all."""
        typed = " ".join(query.split())
        exactly = [rank for rank in ranks if self._name(rank) == typed]
        if len(exactly) == 1:
            return exactly
        up_to_case = [rank for rank in ranks if self._name(rank).casefold() == typed.casefold()]
        return up_to_case if len(up_to_case) == 1 else ranks

    def _name(self, rank: int) -> str:
        """The display name of the artist at ``rank``, whitespace collapsed."""
        return " ".join(self.names[int(self._items[rank])].split())

    def _ambiguous(self, query: str, ranks: list[int], advice: str) -> AmbiguousName:
        names = [self.names[int(self._items[rank])] for rank in ranks[:SHOWN_NAMES]]
        return AmbiguousName(query, names, len(ranks), advice)


def _prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays named "<prefix>.<name>", by name."""
    return {key[len(prefix) + 1:]: value for key, value in arrays.items()
            if key.startswith(prefix + ".")}


def name_indexes(dataset: "Dataset", store: "ArtifactStore | None" = None
                 ) -> tuple[NameIndex, "IdIndex"]:
    """The dataset's artist-name and listener-id indexes: read from ``store`` when it holds
    them (memory-mapped), else built, and stored with the typo index when there is a store.
    Without one the typo index is left for :meth:`NameIndex.prepare`."""
    names, ids, popularity = dataset.item_names, dataset.user_ids, dataset.item_listeners
    built: dict[str, Any] = {}

    def in_memory() -> tuple[NameIndex, IdIndex]:
        if not built:
            built.update(names=NameIndex(names, popularity), ids=IdIndex(ids))
        return built["names"], built["ids"]

    if store is None:
        return in_memory()

    def build(directory: Path) -> None:
        in_memory()
        for prefix, index in built.items():
            for key, array in index.to_arrays().items():
                np.save(directory / f"{prefix}.{key}.npy", np.ascontiguousarray(array),
                        allow_pickle=False)

    def load(directory: Path) -> tuple[NameIndex, IdIndex]:
        arrays = {path.name[:-len(".npy")]: np.load(path, mmap_mode="r", allow_pickle=False)
                  for path in directory.glob("*.npy")}
        return (NameIndex.from_arrays(names, _prefixed(arrays, "names")),
                IdIndex.from_arrays(ids, _prefixed(arrays, "ids")))

    return store.get_or_create("names", {"dataset": dataset.fingerprint,
                                         "version": INDEX_FORMAT_VERSION}, build=build, load=load,
                               unstored=in_memory)


class UnknownId(TuiRecsError):
    """No listener has this id; ``suggestions`` holds ids that start like it (or examples)."""

    def __init__(self, query: str, suggestions: list[str], source: str = "") -> None:
        self.suggestions = suggestions
        where = f" in {source}" if source else ""
        hint = f" (ids look like: {', '.join(suggestions)})" if suggestions else ""
        super().__init__(f"no listener with id {query!r}{where}{hint}")


class IdIndex:
    """Listener ids for as-you-type prefix lookups (any case) and for resolving a typed id
    to its row. Nothing sorted or hashed: ``str.find`` over the joined ids answers both
    (about 0.1 s to build for 360K ids, milliseconds a lookup)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._ids = _as_strings(ids)
        self._lowered = _Lines([user_id.lower() for user_id in self._ids])

    def to_arrays(self) -> dict[str, np.ndarray]:
        return self._lowered.to_arrays()

    @classmethod
    def from_arrays(cls, ids: Sequence[str], arrays: dict[str, np.ndarray]) -> "IdIndex":
        """The index :meth:`to_arrays` came from, over the same ``ids`` (any sequence of str,
        e.g. a dataset's object array: it is not copied)."""
        index = cls.__new__(cls)
        index._ids = ids
        index._lowered = _Lines.from_arrays(arrays)
        if len(index._lowered._starts) != len(ids) + 1:
            raise ValueError(f"an id index of {len(index._lowered._starts) - 1} ids for {len(ids)}")
        return index

    def with_prefix(self, prefix: str, limit: int) -> list[int]:
        """Up to ``limit`` rows whose id starts with ``prefix`` (any case), in row order."""
        return self._lowered.find("\n" + prefix.strip().lower(), 1, limit=limit)

    def resolve(self, text: str, source: str = "") -> int:
        """The row of the listener whose id is ``text`` (exactly, or else the one id equal to
        it ignoring case); :class:`UnknownId` with ids that start like it otherwise."""
        text = text.strip()
        alike = self._lowered.find(f"\n{text.lower()}\n", 1)
        exact = [row for row in alike if self._ids[row] == text]
        if exact or len(alike) == 1:
            return (exact or alike)[0]
        starting = self.with_prefix(text, SHOWN_NAMES) or list(range(min(3, len(self._ids))))
        raise UnknownId(text, [self._ids[row] for row in starting], source)
