"""``manifest.json``: what an entry holds, how it was made, and how to check it.

Fields: format_version, kind, key, inputs, created_at (ISO 8601, UTC), build_seconds, extra
(whatever the builder returned: training time, loss history, index recall...), checksum (the
algorithm) and files ({relative path: {"size": bytes, "crc32": hex}}). Written last, into the
still-hidden temporary directory, so an entry with a readable manifest is a complete one.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from tui_recs.cache.checksum import ALGORITHM, file_checksum
from tui_recs.cache.errors import InvalidEntry
from tui_recs.cache.keys import FORMAT_VERSION

MANIFEST = "manifest.json"


def _loose(value: Any) -> Any:
    """json.dumps fallback for builder extras: numpy values as numbers/lists, else str."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def payload_files(directory: Path) -> list[Path]:
    """Every regular file under ``directory`` but the manifest, sorted."""
    return sorted(path for path in directory.rglob("*")
                  if path.is_file() and path.relative_to(directory).as_posix() != MANIFEST)


def write_manifest(directory: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checksum (and fsync) every payload file in ``directory``, then write the manifest with
    ``fields`` plus the file facts, fsynced. Returns the manifest."""
    files = {}
    for file in payload_files(directory):
        files[file.relative_to(directory).as_posix()] = {
            "size": file.stat().st_size, ALGORITHM: file_checksum(file, sync=True)}
    manifest = {"format_version": FORMAT_VERSION, **fields, "checksum": ALGORITHM,
                "files": files}
    text = json.dumps(manifest, indent=1, default=_loose, allow_nan=True)
    with open(directory / MANIFEST, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return json.loads(text)


def read_manifest(directory: Path, verify: bool) -> dict[str, Any]:
    """The manifest of the entry in ``directory`` once its format version, file presence and
    sizes (and, with ``verify``, checksums) are right; else InvalidEntry saying what is not.
    Symbolic links are refused (the entry, its kind directory, the manifest, payload files),
    and so are file names that leave the entry: nothing outside the cache is ever read."""
    for path in (directory, directory.parent):
        if path.is_symlink():
            raise InvalidEntry(f"{path} is a symbolic link, which the cache refuses")
    _check_regular(directory, MANIFEST)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidEntry("manifest.json is missing") from None
    except (OSError, ValueError) as error:
        raise InvalidEntry(f"manifest.json is unreadable: {error}") from None
    if not isinstance(manifest, dict):
        raise InvalidEntry("manifest.json is not an object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidEntry(f"format version {manifest.get('format_version')!r}, expected "
                           f"{FORMAT_VERSION}")
    algorithm = manifest.get("checksum", ALGORITHM)
    files = manifest.get("files")
    if algorithm != ALGORITHM or not isinstance(files, dict):
        raise InvalidEntry("manifest.json lacks file checksums")
    for name, facts in files.items():
        _check_regular(directory, name)
        file = directory / name
        try:
            size = file.stat().st_size
        except OSError:
            raise InvalidEntry(f"{name} is missing") from None
        try:
            expected_size, expected_sum = facts["size"], facts[ALGORITHM]
        except (TypeError, KeyError):
            raise InvalidEntry(f"manifest.json has no size/checksum for {name}") from None
        if size != expected_size:
            raise InvalidEntry(f"{name} has {size} bytes, expected {expected_size}")
        if verify:
            try:
                actual = file_checksum(file)
            except (OSError, ValueError) as error:
                raise InvalidEntry(f"{name} is unreadable: {error}") from None
            if actual != expected_sum:
                raise InvalidEntry(f"{name} fails its {ALGORITHM} checksum ({actual}, "
                                   f"expected {expected_sum})")
    return manifest


def _check_regular(directory: Path, name: str) -> None:
    """InvalidEntry unless ``name`` is a plain relative path inside ``directory`` naming a
    regular file (not a link) reached through no link. A missing file passes: the caller
    says it is missing."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
        raise InvalidEntry(f"manifest.json names {name!r}, outside the entry")
    path = directory
    for part in parts:
        path = path / part
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return
        except OSError as error:
            raise InvalidEntry(f"{name} is unreadable: {error.strerror}") from None
        if stat.S_ISLNK(mode):
            raise InvalidEntry(f"{name} is a symbolic link, which the cache refuses")
    if not stat.S_ISREG(mode):
        raise InvalidEntry(f"{name} is not a regular file")
