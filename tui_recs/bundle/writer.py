"""The local bundle writer (pyarrow): one Parquet part file per table, then the manifest,
written last under a temporary name and renamed, so that a bundle with a manifest is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from tui_recs.bundle.format import FORMAT, MANIFEST, VERSION, BundleError

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset
    from tui_recs.models.base import FactorModel

PART = "part-00000.parquet"


def write_bundle(directory: str | Path, dataset: "Dataset", model: "FactorModel", *,
                 engine: str = "local", extras: Mapping[str, Any] | None = None,
                 source: str | None = None) -> Path:
    """Write ``model`` (trained on ``dataset``: item_factors I × F, user_factors U × F) with the
    dataset's names, ids and plays as a bundle into ``directory`` (absent or empty); returns
    the manifest's path. ``extras`` is the manifest's engine-specific "spark" object."""
    import pyarrow as pa  # ~0.1 s of import: only when a bundle is written
    import pyarrow.parquet as pq

    from tui_recs import __version__

    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BundleError("is not an empty folder: a bundle is written into a new one", directory)
    items_f = np.ascontiguousarray(model.item_factors, dtype=np.float32)
    users_f = np.ascontiguousarray(model.user_factors, dtype=np.float32)
    if items_f.shape[0] != dataset.n_items or users_f.shape[0] != dataset.n_users:
        raise BundleError(f"the model's factors ({items_f.shape[0]} artists, {users_f.shape[0]} "
                          f"listeners) do not fit the data ({dataset.n_items} × "
                          f"{dataset.n_users})", directory)
    matrix = dataset.user_items
    counts = np.diff(matrix.indptr)
    tables = {
        "items": {"item": pa.array(np.arange(dataset.n_items, dtype=np.int32)),
                  "artist_id": pa.array([str(key) for key in dataset.item_ids], pa.string()),
                  "name": pa.array([str(name) for name in dataset.item_names], pa.string()),
                  "listeners": pa.array(np.asarray(dataset.item_listeners, dtype=np.int64)),
                  "factors": _lists(items_f)},
        "users": {"user": pa.array(np.arange(dataset.n_users, dtype=np.int32)),
                  "user_id": pa.array([str(key) for key in dataset.user_ids], pa.string()),
                  "factors": _lists(users_f)},
        "history": {"user": pa.array(np.repeat(np.arange(dataset.n_users, dtype=np.int32), counts)),
                    "item": pa.array(np.asarray(matrix.indices, dtype=np.int32)),
                    "plays": pa.array(np.asarray(matrix.data, dtype=np.float32))},
    }
    files = {}
    for table, columns in tables.items():
        (directory / table).mkdir(parents=True, exist_ok=True)
        path = directory / table / PART
        pq.write_table(pa.table(columns), path)
        files[f"{table}/{PART}"] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    manifest = {
        "format": FORMAT, "version": VERSION, "model": model.name, "engine": engine,
        "params": model.get_params(), "spark": dict(extras or {}),
        "source": dataset.source if source is None else source,
        "shape": {"users": dataset.n_users, "items": dataset.n_items,
                  "factors": int(items_f.shape[1]), "plays": int(matrix.nnz)},
        "files": files,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tui_recs_version": __version__,
    }
    temporary = directory / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False))
    os.replace(temporary, directory / MANIFEST)
    return directory / MANIFEST


def _lists(factors: np.ndarray):
    """An n × F float32 array as a Parquet list<float32> column (one list per row)."""
    import pyarrow as pa

    rows, width = factors.shape
    offsets = pa.array(np.arange(0, (rows + 1) * width, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(factors.ravel()))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
