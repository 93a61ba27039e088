"""Read a model trained elsewhere (never a pickle): implicit 0.7.3's ``model.save()`` ``.npz``
(ALS, BPR, LMF: factors; its item-item models: a similarity matrix), or a folder of factor
files. The layouts are in the README ("Models trained elsewhere").

Arrays are matched to the data's listeners and artists by position, or (Parquet) by an id
column; a shape that fits the data transposed is reported as swapped users/items, the
orientation mistake implicit's users make most.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tui_recs.errors import DataError

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset

#: implicit's item-item models (CosineRecommender, TFIDFRecommender, BM25Recommender) save these.
SIMILARITY_KEYS = {"data", "indices", "indptr", "shape"}
FACTOR_FILES = ("item_factors", "user_factors")
#: The npz keys that tell implicit's factor models apart (after user/item factors).
_IMPLICIT_KINDS = (("use_cg", "implicit-als"), ("verify_negative_samples", "implicit-bpr"),
                   ("neg_prop", "implicit-lmf"))


class ModelFileError(DataError):
    """A model file that cannot be used: one line naming it and what is wrong."""


@dataclass(frozen=True)
class ModelFile:
    """What a model file is, from its names alone (nothing large is read)."""

    path: Path
    #: "implicit-als", "implicit-bpr", "implicit-lmf", "implicit-item-item" or "factors".
    kind: str
    #: Whether it has listener factors (a folder may hold item factors only: related artists).
    has_users: bool = True

    @property
    def similarity(self) -> bool:
        return self.kind == "implicit-item-item"


def inspect_model_file(path: str | Path) -> ModelFile:
    """The kind of model at ``path`` (an ``.npz`` or a folder of factor files)."""
    path = Path(path).expanduser()
    if path.is_dir():
        _factor_file(path, "item_factors", required=True)
        return ModelFile(path, "factors", _factor_file(path, "user_factors", False) is not None)
    if not path.is_file():
        raise ModelFileError("does not exist (give implicit's saved .npz or a folder with "
                             "item_factors.npy or .parquet)", path)
    keys = set(_npz_names(path))
    if SIMILARITY_KEYS <= keys:
        return ModelFile(path, "implicit-item-item")
    if {"item_factors", "user_factors"} <= keys:
        kind = next((kind for key, kind in _IMPLICIT_KINDS if key in keys), "factors")
        return ModelFile(path, kind)
    raise ModelFileError(f"holds {', '.join(sorted(keys)) or 'nothing'}: neither item_factors "
                         "and user_factors (implicit's ALS, BPR, LMF) nor an item-item "
                         "similarity matrix (data, indices, indptr, shape)", path)


def read_model_file(model_file: ModelFile, dataset: "Dataset") -> dict[str, np.ndarray]:
    """The arrays of ``model_file`` fitted to ``dataset``: ``item_factors`` (I × F) and
    ``user_factors`` (U × F) float32 (zeros when the folder has no user factors: its model
    answers related artists only), or ``similarity_*`` (CSR of I × I)."""
    path = model_file.path
    if path.is_dir():
        return _read_folder(path, dataset)
    arrays = _read_npz(path, SIMILARITY_KEYS if model_file.similarity else set(FACTOR_FILES))
    if model_file.similarity:
        return _similarity(arrays, dataset, path)
    items, users = (_factors(arrays[key], key, path) for key in FACTOR_FILES)
    _check_orientation(items.shape[0], users.shape[0], dataset, path)
    _check_width(items, users, path)
    return {"item_factors": items, "user_factors": users}


# ------------------------------------------------------------------------------------- npz
def _npz_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return [name[:-4] for name in archive.namelist() if name.endswith(".npy")]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ModelFileError(f"is not a readable .npz archive ({error}; truncated or not "
                             "written by numpy.savez)", path) from None


def _read_npz(path: Path, keys: set[str]) -> dict[str, np.ndarray]:
    """The named arrays, read without pickle (an object array is refused, never loaded)."""
    out, key = {}, ""
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in sorted(keys):
                out[key] = archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise ModelFileError(f"holds an object array ({key}): pickled Python objects, "
                                 "which tui-recs never loads (save plain numeric arrays)",
                                 path) from None
        raise ModelFileError(f"array {key} is unreadable ({error})", path) from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ModelFileError(f"is not a readable .npz archive ({error}; truncated?)",
                             path) from None
    return out


def _factors(array: np.ndarray, key: str, path: Path) -> np.ndarray:
    if array.dtype.kind != "f" or array.ndim != 2:
        raise ModelFileError(f"{key} must be a 2-D float array, not {array.ndim}-D {array.dtype}",
                             path)
    if not np.isfinite(array).all():
        raise ModelFileError(f"{key} holds NaN or infinite values (a diverged training: lower "
                             "the learning rate or raise the regularization)", path)
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_width(items: np.ndarray, users: np.ndarray, path: Path) -> None:
    if items.shape[1] != users.shape[1]:
        raise ModelFileError(f"item_factors has {items.shape[1]} columns but user_factors "
                             f"{users.shape[1]}: not one model", path)
    if items.shape[1] == 0:
        raise ModelFileError("the factors have no columns", path)


def _check_orientation(item_rows: int, user_rows: int | None, dataset: "Dataset",
                       path: Path) -> None:
    """ModelFileError unless the rows are the data's artists and listeners; says "swapped"
    when they fit the other way round."""
    n_users, n_items = dataset.n_users, dataset.n_items
    if item_rows == n_items and user_rows in (None, n_users):
        return
    if item_rows == n_users and user_rows in (None, n_items) and n_users != n_items:
        raise ModelFileError(
            f"users and items are swapped: item_factors has {item_rows:,} rows, the data's "
            f"listener count{'' if user_rows is None else f', and user_factors {user_rows:,}'} "
            f"(implicit >= 0.5 fits a users × items matrix: model.fit(user_items), not "
            f"item_users)", path)
    users_text = "" if user_rows is None else f" and {user_rows:,} listeners"
    raise ModelFileError(
        f"has {item_rows:,} artists{users_text}; the data has {n_items:,} artists and "
        f"{n_users:,} listeners (was it trained on other data, or filtered differently?)", path)


def _similarity(arrays: dict[str, np.ndarray], dataset: "Dataset", path: Path
                ) -> dict[str, np.ndarray]:
    shape = arrays["shape"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or shape[0] != shape[1]:
        raise ModelFileError(f"the similarity matrix's shape {shape.tolist()} is not square",
                             path)
    size = int(shape[0])
    if size != dataset.n_items:
        swapped = size == dataset.n_users and dataset.n_users != dataset.n_items
        raise ModelFileError(
            f"users and items are swapped: the similarity matrix is {size:,} × {size:,}, the "
            "data's listener count (fit the users × items matrix)" if swapped else
            f"the similarity matrix is {size:,} × {size:,}; the data has {dataset.n_items:,} "
            "artists", path)
    data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    if data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise ModelFileError("the similarity matrix's arrays have the wrong types", path)
    if not np.isfinite(data).all():
        raise ModelFileError("the similarity matrix holds NaN or infinite values", path)
    if (indptr.shape != (size + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any()
            or indptr[-1] != len(indices) or len(indices) != len(data)
            or (len(indices) and (indices.min() < 0 or indices.max() >= size))):
        raise ModelFileError("the similarity matrix's CSR arrays are inconsistent", path)
    return {"similarity_data": data, "similarity_indices": indices.astype(np.int32),
            "similarity_indptr": indptr.astype(np.int64)}


# ---------------------------------------------------------------------------------- folder
def _factor_file(folder: Path, stem: str, required: bool) -> Path | None:
    found = [folder / f"{stem}{suffix}" for suffix in (".npy", ".parquet")
             if (folder / f"{stem}{suffix}").is_file()]
    if len(found) > 1:
        raise ModelFileError(f"has both {stem}.npy and {stem}.parquet: keep one", folder)
    if not found and required:
        raise ModelFileError(f"has no {stem}.npy or {stem}.parquet", folder)
    return found[0] if found else None


def _read_folder(folder: Path, dataset: "Dataset") -> dict[str, np.ndarray]:
    item_path = _factor_file(folder, "item_factors", required=True)
    user_path = _factor_file(folder, "user_factors", required=False)
    items = _read_factor_file(item_path, "item", dataset)
    users = None if user_path is None else _read_factor_file(user_path, "user", dataset)
    _check_orientation(items.shape[0], None if users is None else users.shape[0], dataset,
                       folder)
    arrays = {"item_factors": items}
    if users is None:
        arrays["user_factors"] = np.zeros((dataset.n_users, items.shape[1]), dtype=np.float32)
    else:
        _check_width(items, users, folder)
        arrays["user_factors"] = users
    return arrays


def _read_factor_file(path: Path, side: str, dataset: "Dataset") -> np.ndarray:
    key = f"{side}_factors"
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as error:
            text = ("holds an object array: pickled Python objects, which tui-recs never loads"
                    if "allow_pickle" in str(error) else f"is not a readable .npy ({error})")
            raise ModelFileError(text, path) from None
        except OSError as error:
            raise ModelFileError(f"is not readable ({error})", path) from None
        return _factors(np.asarray(array), key, path)
    return _read_parquet_factors(path, side, dataset)


def _read_parquet_factors(path: Path, side: str, dataset: "Dataset") -> np.ndarray:
    """A Parquet table with ``factors`` (list of floats) and, to match rows, ``artist_id`` /
    ``user_id`` (the data's ids) or ``item`` / ``user`` (positions); else rows in order."""
    import pyarrow as pa  # ~0.1 s of import: only for Parquet factor files
    import pyarrow.parquet as pq

    id_column, position_column = ("artist_id", "item") if side == "item" else ("user_id", "user")
    try:
        names = pq.read_schema(path).names
        columns = ["factors"] + [c for c in (id_column, position_column) if c in names][:1]
        if "factors" not in names:
            raise ModelFileError("has no 'factors' column (a list of floats per row)", path)
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise ModelFileError(f"is not a readable Parquet file ({error})", path) from None
    lists = table.column("factors").combine_chunks()
    if not pa.types.is_list(lists.type) or not pa.types.is_floating(lists.type.value_type):
        raise ModelFileError(f"column 'factors' must be a list of floats, not {lists.type}", path)
    lengths = np.diff(lists.offsets.to_numpy())
    width = int(lengths[0]) if len(lengths) else 0
    if lists.null_count or (lengths != width).any() or lists.flatten().null_count:
        raise ModelFileError("the factor lists are not all of one length (or hold nulls)", path)
    flat = lists.flatten().to_numpy(zero_copy_only=False)
    factors = _factors(flat.reshape(len(lengths), width), f"{side}_factors", path)
    if len(columns) == 1:
        return factors
    expected = dataset.n_items if side == "item" else dataset.n_users
    if columns[1] == position_column:
        positions = table.column(position_column).to_numpy()
    else:
        index = dataset.item_index if side == "item" else dataset.user_index
        keys = table.column(id_column).to_pylist()
        positions = np.array([index.get(str(key), -1) for key in keys], dtype=np.int64)
        unknown = np.flatnonzero(positions < 0)
        if len(unknown):
            raise ModelFileError(f"{len(unknown):,} {id_column}s are not in the data (the first: "
                                 f"{keys[unknown[0]]!r})", path)
    if len(positions) != expected or (expected and (
            positions.min() < 0 or positions.max() >= expected
            or np.bincount(positions, minlength=expected).max() != 1)):
        what = "artists" if side == "item" else "listeners"
        raise ModelFileError(f"rows must cover each of the data's {expected:,} {what} once "
                             f"({len(positions):,} rows)", path)
    ordered = np.empty_like(factors)
    ordered[positions] = factors
    return ordered
