"""The Dataset: a users × items play-count matrix plus the names that make it explorable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:  # scipy is imported lazily: it is not needed to show a help text.
    import scipy.sparse as sp

#: Bumped whenever the on-disk layout written by :meth:`Dataset.save` changes.
STORAGE_VERSION = 2
#: Cached per-artist totals that :meth:`Dataset.save` stores beside the matrix.
SAVED_TOTALS = ("item_listeners", "item_plays")


def _join_names(names: np.ndarray) -> bytes:
    """Names as one NUL-separated UTF-8 blob (loaders guarantee names contain no NUL)."""
    return "\0".join(names.tolist()).encode("utf-8")


def _split_names(blob: bytes, count: int) -> np.ndarray:
    names = np.empty(count, dtype=object)
    if count:
        names[:] = blob.decode("utf-8").split("\0")
    return names


class SavedPlays:
    """A saved play-count matrix as its CSR arrays (memory-mapped), shape (n_users, n_items):
    what the summaries and the Artists view read, without SciPy. Importing SciPy costs ~0.2 s,
    a large share of a start from the cache, so the matrix itself is made on first use."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 shape: tuple[int, int]) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape = (int(shape[0]), int(shape[1]))
        self.nnz = int(indptr[-1])

    def matrix(self) -> "sp.csr_matrix":
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Implicit-feedback data, oriented users × items.

    Attributes:
        user_items: CSR matrix of shape (n_users, n_items), float32 play counts, duplicates
            summed, column indices sorted, no explicit zeros.
        user_ids: (n_users,) object array of str, the source's listener ids.
        item_ids: (n_items,) object array of str, the source's item keys (an artist name for
            Last.fm 360K, a numeric id for hetrec, the item column for CSV).
        item_names: (n_items,) object array of str, display names of the artists.
        item_meta: extra per-item columns, each an (n_items,) array (e.g. ``"mbid"``).
        source: where the data came from (a path, or ``"demo(...)"``).
        dropped: reason -> number of source rows skipped for that reason.
        saved_at: the cache directory it was read from, if any: another process can open
            it there, memory-mapped (see tui_recs.isolated).
    """

    user_items: "sp.csr_matrix"
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_names: np.ndarray
    item_meta: Mapping[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    dropped: Mapping[str, int] = field(default_factory=dict)
    saved_at: Path | None = None

    def __post_init__(self) -> None:
        n_users, n_items = self._plays.shape
        if len(self.user_ids) != n_users:
            raise ValueError(f"user_ids has {len(self.user_ids)} entries for {n_users} users")
        if len(self.item_ids) != n_items or len(self.item_names) != n_items:
            raise ValueError(f"item ids/names do not match the {n_items} items")
        for key, values in self.item_meta.items():
            if len(values) != n_items:
                raise ValueError(f"item_meta[{key!r}] has {len(values)} entries for {n_items} items")

    # ----------------------------------------------------------------------------- building
    @classmethod
    def from_codes(
        cls,
        user_codes: np.ndarray,
        item_codes: np.ndarray,
        plays: np.ndarray,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        item_names: np.ndarray | None = None,
        item_meta: Mapping[str, np.ndarray] | None = None,
        source: str = "",
        dropped: Mapping[str, int] | None = None,
    ) -> "Dataset":
        """Build a Dataset from parallel (user, item, plays) arrays of integer codes.

        Duplicated (user, item) pairs are summed; pairs summing to zero are dropped, and so are
        users and items left with no plays (ids and names are compacted to match).
        """
        import scipy.sparse as sp

        n_users, n_items = len(user_ids), len(item_ids)
        matrix = sp.csr_matrix(
            (np.asarray(plays, dtype=np.float32),
             (np.asarray(user_codes, dtype=np.int64), np.asarray(item_codes, dtype=np.int64))),
            shape=(n_users, n_items),
        )
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        item_names = item_ids if item_names is None else item_names
        item_meta = dict(item_meta or {})
        user_keep = np.flatnonzero(np.diff(matrix.indptr) > 0)
        item_keep = np.flatnonzero(np.bincount(matrix.indices, minlength=n_items) > 0)
        if len(user_keep) < n_users or len(item_keep) < n_items:
            matrix = matrix[user_keep][:, item_keep].tocsr()
            matrix.sort_indices()
            user_ids = np.asarray(user_ids, dtype=object)[user_keep]
            item_ids = np.asarray(item_ids, dtype=object)[item_keep]
            item_names = np.asarray(item_names, dtype=object)[item_keep]
            item_meta = {k: np.asarray(v)[item_keep] for k, v in item_meta.items()}
        return cls(
            user_items=matrix,
            user_ids=np.asarray(user_ids, dtype=object),
            item_ids=np.asarray(item_ids, dtype=object),
            item_names=np.asarray(item_names, dtype=object),
            item_meta=item_meta,
            source=source,
            dropped=dict(dropped or {}),
        )

    # ---------------------------------------------------------------------------- summaries
    @property
    def _plays(self) -> "sp.csr_matrix | SavedPlays":
        """The play counts as stored: the matrix, or its saved arrays until first used."""
        return self.__dict__["_stored_plays"]

    @property
    def n_users(self) -> int:
        return self._plays.shape[0]

    @property
    def n_items(self) -> int:
        return self._plays.shape[1]

    @property
    def nnz(self) -> int:
        """Number of stored (listener, artist) pairs."""
        return int(self._plays.nnz)

    @property
    def density(self) -> float:
        cells = self.n_users * self.n_items
        return self.nnz / cells if cells else 0.0

    @cached_property
    def item_listeners(self) -> np.ndarray:
        """(n_items,) int64: how many listeners played each artist."""
        return np.bincount(self.user_items.indices, minlength=self.n_items).astype(np.int64)

    @cached_property
    def item_plays(self) -> np.ndarray:
        """(n_items,) float64: total plays of each artist."""
        return np.bincount(self.user_items.indices, weights=self.user_items.data,
                           minlength=self.n_items)

    @cached_property
    def typical_plays(self) -> float:
        """The median plays of one (listener, artist) pair: what a new listener's picked
        artist counts as (1.0 for an empty dataset)."""
        return float(np.median(self.user_items.data)) if self.nnz else 1.0

    @cached_property
    def user_plays(self) -> np.ndarray:
        """(n_users,) float64: total plays of each listener."""
        return np.asarray(self.user_items.sum(axis=1, dtype=np.float64)).ravel()

    @cached_property
    def fingerprint(self) -> str:
        """Stable content hash (hex, 16 chars) of the matrix and the ids: a cache key."""
        digest = hashlib.blake2b(digest_size=8)
        matrix = self.user_items
        digest.update(np.asarray(matrix.shape, dtype=np.int64).tobytes())
        for array in (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
                      matrix.data.astype(np.float32)):
            digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        for names in (self.user_ids, self.item_ids, self.item_names):
            digest.update(_join_names(names))
        return digest.hexdigest()

    @cached_property
    def item_index(self) -> dict[str, int]:
        """Exact item id -> column."""
        return {key: i for i, key in enumerate(self.item_ids.tolist())}

    @cached_property
    def user_index(self) -> dict[str, int]:
        """Exact user id -> row."""
        return {key: i for i, key in enumerate(self.user_ids.tolist())}

    def top_items(self, n: int = 10) -> np.ndarray:
        """Indices of the n artists with the most listeners (ties broken by plays, then by
        position). Sorts only the artists with at least the n-th most listeners (a full sort
        took 57 ms at 290K artists, on the way to the first screen)."""
        listeners, plays = self.item_listeners, self.item_plays
        n = max(0, min(n, len(listeners)))
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        threshold = np.partition(listeners, len(listeners) - n)[len(listeners) - n]
        candidates = np.flatnonzero(listeners >= threshold)
        order = np.lexsort((candidates, -plays[candidates], -listeners[candidates]))
        return candidates[order[:n]]

    def top_listeners(self, item: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(rows, plays), each (≤ n,): the listeners who played artist ``item`` most, most
        first (ties: lower row first). One pass over the stored pairs: ~10 ms at 17M plays."""
        matrix = self._plays
        positions = np.flatnonzero(matrix.indices == item)
        rows = np.searchsorted(matrix.indptr, positions, side="right") - 1
        plays = np.asarray(matrix.data[positions])
        order = np.argsort(-plays, kind="stable")[:n]
        return rows[order], plays[order]

    def summary(self, top: int = 10) -> dict:
        """A JSON-ready description (used by ``tui-recs info``)."""
        return {
            "source": self.source,
            "users": self.n_users,
            "items": self.n_items,
            "plays_nnz": self.nnz,
            "total_plays": float(self.user_items.data.sum(dtype=np.float64)),
            "density": self.density,
            "fingerprint": self.fingerprint,
            "dropped_rows": dict(self.dropped),
            "top_artists": [
                {"rank": rank, "artist": str(self.item_names[i]),
                 "listeners": int(self.item_listeners[i]), "plays": float(self.item_plays[i])}
                for rank, i in enumerate(self.top_items(top), start=1)
            ],
        }

    # ------------------------------------------------------------------------------ storage
    def save(self, directory: Path) -> None:
        """Write the dataset as plain ``.npy`` arrays + ``dataset.json`` into ``directory``.

        The caller is responsible for atomicity (write into a temporary directory and rename).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        matrix = self.user_items
        arrays = {
            "indptr": matrix.indptr, "indices": matrix.indices, "data": matrix.data,
            "user_ids": np.frombuffer(_join_names(self.user_ids), dtype=np.uint8),
            "item_names": np.frombuffer(_join_names(self.item_names), dtype=np.uint8),
        }
        # Item ids are usually the names themselves (Last.fm 360K, the demo data): then they
        # are not stored twice, nor read twice (~50 ms at 290K artists).
        if not np.array_equal(self.item_ids, self.item_names):
            arrays["item_ids"] = np.frombuffer(_join_names(self.item_ids), dtype=np.uint8)
        # Per-artist totals, so that a warm start need not count 17M plays again.
        arrays.update({name: getattr(self, name) for name in SAVED_TOTALS})
        for key, values in self.item_meta.items():
            arrays[f"meta.{key}"] = np.frombuffer(_join_names(np.asarray(values, dtype=object)),
                                                  dtype=np.uint8)
        for name, array in arrays.items():
            np.save(directory / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (directory / "dataset.json").write_text(json.dumps({
            "version": STORAGE_VERSION, "shape": list(matrix.shape), "source": self.source,
            "dropped": dict(self.dropped), "meta": sorted(self.item_meta),
            "fingerprint": self.fingerprint,
        }))

    @classmethod
    def load_saved(cls, directory: Path, mmap: bool = False) -> "Dataset":
        """Read what :meth:`save` wrote. Raises ValueError/OSError on a missing or bad file,
        or on arrays that do not form the matrix :meth:`save` writes (see _check_saved)."""
        directory = Path(directory)
        info = json.loads((directory / "dataset.json").read_text())
        if info.get("version") != STORAGE_VERSION:
            raise ValueError(f"dataset storage version {info.get('version')} != {STORAGE_VERSION}")
        mode = "r" if mmap else None

        def array(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", mmap_mode=mode, allow_pickle=False)

        n_users, n_items = info["shape"]
        matrix = SavedPlays(array("data"), array("indices"), array("indptr"), (n_users, n_items))
        _check_saved(matrix)

        def names(name: str, count: int) -> np.ndarray:
            return _split_names(np.load(directory / f"{name}.npy").tobytes(), count)

        item_names = names("item_names", n_items)
        dataset = cls(
            user_items=matrix,
            user_ids=names("user_ids", n_users),
            item_ids=(names("item_ids", n_items) if (directory / "item_ids.npy").exists()
                      else item_names),
            item_names=item_names,
            item_meta={key: names(f"meta.{key}", n_items) for key in info["meta"]},
            source=info["source"],
            dropped=info["dropped"],
            saved_at=directory,
        )
        dataset.__dict__["fingerprint"] = info["fingerprint"]
        for name in SAVED_TOTALS:  # absent from entries written before they were saved
            if (directory / f"{name}.npy").exists():
                totals = array(name)
                if totals.shape != (n_items,):
                    raise ValueError(f"{name} has shape {totals.shape}, expected ({n_items},)")
                dataset.__dict__[name] = totals
        return dataset


def _check_saved(matrix: SavedPlays) -> None:
    """ValueError unless the saved CSR arrays form a (n_users, n_items) matrix of positive
    plays with column indices in range: a cache entry is checked before anything indexes
    with it (its checksums prove only that it is the file its manifest describes)."""
    n_users, n_items = matrix.shape
    data, indices, indptr = matrix.data, matrix.indices, matrix.indptr
    if n_users < 0 or n_items < 0 or data.ndim != 1 or indices.ndim != 1:
        raise ValueError(f"saved matrix of shape {matrix.shape} is malformed")
    if indptr.shape != (n_users + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise ValueError(f"indptr of {indptr.shape} does not index {n_users} rows")
    if not indptr[-1] == len(indices) == len(data):
        raise ValueError(f"indptr ends at {indptr[-1]}, with {len(indices)} indices and "
                         f"{len(data)} values")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_items):
        raise ValueError(f"a column index is outside 0..{n_items - 1}")
    if len(data) and not data.min() > 0:  # NaN fails too
        raise ValueError("a saved play count is not positive")


def _user_items(dataset: Dataset) -> "sp.csr_matrix":
    stored = dataset.__dict__["_stored_plays"]
    if isinstance(stored, SavedPlays):
        stored = dataset.__dict__["_stored_plays"] = stored.matrix()
    return stored


def _set_user_items(dataset: Dataset, matrix: "sp.csr_matrix | SavedPlays") -> None:
    dataset.__dict__["_stored_plays"] = matrix


# A property over the dataclass field: the frozen __init__ stores through the setter, and a
# saved matrix becomes a SciPy one when something first asks for it.
Dataset.user_items = property(_user_items, _set_user_items,  # type: ignore[assignment]
                              doc="users × items CSR float32 play counts")
