"""Open a bundle and check everything docs/bundle.md promises before any of it is used.

Every refusal is a :class:`BundleError` (one line naming the file and what is wrong); nothing
is returned half-read. Tables are read column by column (only the columns used), and the
factor lists go straight into one float32 array each: the peak is about the factors twice
(Arrow's buffer and the ordered array) plus the history's three columns and its CSR matrix.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_recs.bundle.format import (FORMAT, MANIFEST, REQUIRED_KEYS, SHAPE_KEYS, TABLES,
                                    VERSION, BundleError)
from tui_recs.bundle.writer import file_sha256

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset


@dataclass(frozen=True)
class Bundle:
    """An opened bundle whose manifest and files were checked (sizes always, checksums unless
    the caller remembered them as verified for this very manifest)."""

    path: Path
    manifest: dict[str, Any]
    #: Hex SHA-256 of manifest.json itself: the bundle's identity (it pins every file's hash).
    manifest_sha256: str

    @property
    def model(self) -> str:
        return self.manifest["model"]

    @property
    def engine(self) -> str:
        return self.manifest["engine"]

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.manifest["params"])

    @property
    def shape(self) -> dict[str, int]:
        return dict(self.manifest["shape"])

    def files(self, table: str) -> list[Path]:
        """The table's listed part files, in name order."""
        return [self.path / name for name in sorted(self.manifest["files"])
                if name.split("/", 1)[0] == table]

    def dataset(self) -> "Dataset":
        """The listeners, artists and plays as a Dataset (positions as in the bundle)."""
        import scipy.sparse as sp

        from tui_recs.data.dataset import Dataset

        shape = self.shape
        n_users, n_items = shape["users"], shape["items"]
        items = self._read("items", ("item", "artist_id", "name"))
        order = self._positions(items, "item", n_items)
        names = _strings(items, "name", self._where("items"))[order]
        keys = _strings(items, "artist_id", self._where("items"))[order]
        keys = np.where(keys == "", names, keys)  # the id may be empty: the name keys it then
        users = self._read("users", ("user", "user_id"))
        user_ids = _strings(users, "user_id", self._where("users"))[self._positions(users, "user", n_users)]
        history = self._read("history", ("user", "item", "plays"))
        if history.num_rows != shape["plays"]:
            raise BundleError(f"history has {history.num_rows:,} rows but the manifest's "
                              f"shape says {shape['plays']:,} plays", self._where("history"))
        rows = self._ints(history, "user", n_users, "history")
        columns = self._ints(history, "item", n_items, "history")
        plays = history.column("plays").to_numpy().astype(np.float32, copy=False)
        if len(plays) and not (np.isfinite(plays).all() and plays.min() > 0):
            raise BundleError("a play count is not a positive finite number",
                              self._where("history"))
        matrix = sp.csr_matrix((plays, (rows, columns)), shape=(n_users, n_items))
        matrix.sum_duplicates()
        return Dataset(user_items=matrix, user_ids=user_ids, item_ids=keys, item_names=names,
                       source=f"bundle {self.path} ({self.manifest.get('source', '')})")

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """(item_factors I × F, user_factors U × F), float32, rows in position order."""
        shape = self.shape
        return (self._factors("items", "item", shape["items"]),
                self._factors("users", "user", shape["users"]))

    # ----------------------------------------------------------------------------- helpers
    def _where(self, table: str) -> str:
        files = self.files(table)
        return str(files[0] if len(files) == 1 else self.path / table)

    def _read(self, table: str, columns: tuple[str, ...]):
        """The listed part files of ``table``, only ``columns``, as one Arrow table."""
        import pyarrow as pa  # ~0.1 s of import: only when a bundle is read
        import pyarrow.parquet as pq

        parts = []
        for path in self.files(table):
            try:
                schema = pq.read_schema(path)
                missing = [name for name in columns if name not in schema.names]
                if missing:
                    raise BundleError(f"has no column {missing[0]!r} (a {table} table has "
                                      f"{', '.join(TABLES[table])})", path)
                parts.append(pq.read_table(path, columns=list(columns)))
            except (pa.ArrowException, OSError, ValueError) as error:
                raise BundleError(f"is not a readable Parquet file ({_first_line(error)})",
                                  path) from None
        try:
            return pa.concat_tables(parts) if len(parts) != 1 else parts[0]
        except pa.ArrowException as error:
            raise BundleError(f"part files disagree on their columns ({_first_line(error)})",
                              self.path / table) from None

    def _ints(self, table, column: str, upper: int, name: str) -> np.ndarray:
        """An integer column as int64, every value in 0..upper-1."""
        import pyarrow as pa

        array = table.column(column)
        if not pa.types.is_integer(array.type) or array.null_count:
            raise BundleError(f"column {column!r} must hold integers without nulls, not "
                              f"{array.type}", self._where(name))
        values = array.to_numpy().astype(np.int64, copy=False)
        if len(values) and (values.min() < 0 or values.max() >= upper):
            bad = values[(values < 0) | (values >= upper)][0]
            raise BundleError(f"{column} position {bad} is outside 0..{upper - 1}",
                              self._where(name))
        return values

    def _positions(self, table, column: str, count: int) -> np.ndarray:
        """The row order that sorts ``table`` by its position column, which must hold each
        of 0..count-1 exactly once."""
        name = "items" if column == "item" else "users"
        if table.num_rows != count:
            raise BundleError(f"has {table.num_rows:,} rows but the manifest's shape says "
                              f"{count:,}", self._where(name))
        positions = self._ints(table, column, count, name)
        order = np.empty(count, dtype=np.int64)
        order[positions] = np.arange(count)
        if np.bincount(positions, minlength=count).max(initial=1) != 1:
            raise BundleError(f"positions in {column!r} are not a permutation of 0..{count - 1} "
                              "(one repeats)", self._where(name))
        return order

    def _factors(self, table: str, column: str, count: int) -> np.ndarray:
        import pyarrow as pa

        width = self.shape["factors"]
        data = self._read(table, (column, "factors"))
        order = self._positions(data, column, count)
        lists = data.column("factors").combine_chunks()
        if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)) or not (
                pa.types.is_floating(lists.type.value_type)):
            raise BundleError(f"column 'factors' must be a list of floats, not {lists.type}",
                              self._where(table))
        lengths = np.diff(lists.offsets.to_numpy())
        if lists.null_count or (len(lengths) and (lengths != width).any()):
            raise BundleError(f"a factors list has {_bad_length(lists, lengths, width)} values, "
                              f"not the manifest's {width}", self._where(table))
        values = lists.flatten()
        if values.null_count:
            raise BundleError("a factor is null", self._where(table))
        flat = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        if not np.isfinite(flat).all():
            raise BundleError("a factor is not finite (NaN or infinite)", self._where(table))
        return np.ascontiguousarray(flat.reshape(count, width)[order])


def _bad_length(lists, lengths: np.ndarray, width: int) -> str:
    if lists.null_count:
        return "null instead of"
    return str(int(lengths[lengths != width][0]))


def _strings(table, column: str, where: str) -> np.ndarray:
    """A string column as an object array of str (null: "")."""
    import pyarrow as pa

    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise BundleError(f"column {column!r} must hold strings, not {values.type}", where)
    return np.asarray(values.fill_null("").to_numpy(zero_copy_only=False), dtype=object)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def open_bundle(path: str | Path, verified: bool = False) -> Bundle:
    """The bundle at ``path``, its manifest and file list checked: format and version, every
    listed file present as a regular file of its size and (unless ``verified``: the caller
    remembers these checksums as verified for this manifest's SHA-256) checksum, no unlisted
    Parquet file, shape counts that are non-negative integers. Tables are read later
    (:meth:`Bundle.dataset`, :meth:`Bundle.factors`), with their own checks."""
    path = Path(path).expanduser()
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise BundleError("is not a folder (a bundle is a folder with manifest.json)", path)
    if not manifest_path.is_file():
        raise BundleError("is missing: not a bundle, or one whose writing did not finish",
                          manifest_path)
    try:
        raw = manifest_path.read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as error:
        raise BundleError(f"is not readable JSON ({_first_line(error)})", manifest_path) from None
    if not isinstance(manifest, dict):
        raise BundleError("is not a JSON object", manifest_path)
    if manifest.get("format") != FORMAT:
        raise BundleError(f"has format {manifest.get('format')!r}, not {FORMAT!r}", manifest_path)
    if manifest.get("version") != VERSION:
        raise BundleError(f"is bundle format version {manifest.get('version')!r}; this tui-recs "
                          f"reads version {VERSION} (upgrade tui-recs, or rewrite the bundle)",
                          manifest_path)
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise BundleError(f"lacks the key {missing[0]!r}", manifest_path)
    _check_manifest_types(manifest, manifest_path)
    _check_files(path, manifest["files"], verified)
    return Bundle(path, manifest, hashlib.sha256(raw).hexdigest())


def _check_manifest_types(manifest: dict[str, Any], where: Path) -> None:
    shape = manifest["shape"]
    if not isinstance(shape, dict):
        raise BundleError("'shape' is not an object", where)
    for key in SHAPE_KEYS:
        value = shape.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BundleError(f"shape.{key} must be a non-negative integer, not {value!r}", where)
    if shape["factors"] < 1:
        raise BundleError("shape.factors must be at least 1", where)
    for key in ("model", "engine"):
        if not isinstance(manifest[key], str) or not manifest[key]:
            raise BundleError(f"{key!r} must be a non-empty string", where)
    if not isinstance(manifest["params"], dict):
        raise BundleError("'params' is not an object", where)
    for key, value in manifest["params"].items():
        if isinstance(value, float) and not math.isfinite(value):
            raise BundleError(f"parameter {key!r} is not finite", where)
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
            isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
            and isinstance(entry.get("sha256"), str) for entry in files.values()):
        raise BundleError("'files' must map each path to {\"bytes\": N, \"sha256\": HEX}", where)


def _check_files(root: Path, files: dict[str, dict[str, Any]], verified: bool) -> None:
    for name, entry in files.items():
        parts = name.split("/")
        if (len(parts) < 2 or parts[0] not in TABLES or any(p in ("", ".", "..") for p in parts)
                or "\\" in name):
            raise BundleError(f"lists {name!r}, which is not a file inside items/, users/ or "
                              "history/", root / MANIFEST)
        path = root.joinpath(*parts)
        if path.is_symlink() or not path.is_file():
            raise BundleError("is listed in the manifest but missing (or not a regular file)",
                              path)
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise BundleError(f"has {size:,} bytes; the manifest says {entry['bytes']:,} "
                              "(truncated or replaced)", path)
        if not verified and file_sha256(path) != entry["sha256"].lower():
            raise BundleError("does not match its SHA-256 in the manifest (damaged or replaced)",
                              path)
    listed = {root.joinpath(*name.split("/")) for name in files}
    for table in TABLES:
        for path in sorted((root / table).rglob("*.parquet")):
            if path not in listed:
                raise BundleError("is not listed in the manifest (a stray part file; remove it "
                                  "or rewrite the bundle)", path)
        if not any(name.split("/", 1)[0] == table for name in files):
            raise BundleError(f"lists no {table}/ file", root / MANIFEST)
