"""The artifact store: expensive results (parsed datasets, trained factors, Annoy indexes)
computed once and loaded instantly afterwards.

Layout: ``<root>/<kind>/<key>/`` holds the payload files and ``manifest.json`` (inputs,
creation time, build seconds, caller facts, file sizes and CRC-32 checksums). An entry is
built in a temporary sibling directory, its manifest written last, and renamed into place,
so a process killed at any point leaves the old entry or the new one, never half of one.
Builders of the same entry serialise on ``<root>/<kind>/<key>.lock`` (fcntl): one builds,
the others wait and then read. A corrupt entry is reported as a warning, deleted and rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import shutil
import tempfile
import time
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from tui_recs.errors import TuiRecsError

#: Bump when the store's own layout changes; older entries then count as invalid.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ENV_VAR = "TUI_RECS_CACHE_DIR"
_TEMP_PREFIX = ".tmp-"

T = TypeVar("T")
#: ``on_event(message)``: e.g. "waiting for another process building dataset-1a2b…".
EventCallback = Callable[[str], None]


class CacheError(TuiRecsError):
    """The cache cannot be used (not writable, disk full); the message says how to fix it."""


class CacheWarning(UserWarning):
    """A cache entry was unusable and is being rebuilt."""


def resolve_cache_dir(explicit: str | Path | None = None) -> Path:
    """Where artifacts live: ``explicit`` (--cache-dir), else $TUI_RECS_CACHE_DIR, else
    ``./cache/`` if that folder exists in the working directory, else the user cache dir."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    local = Path.cwd() / "cache"
    if local.is_dir():
        return local
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tui-recs"))


@dataclass(frozen=True)
class Entry:
    """A complete cache entry."""

    kind: str
    key: str
    path: Path
    manifest: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        return sum(self.manifest.get("files", {}).get(name, {}).get("size", 0)
                   for name in self.manifest.get("files", {}))

    @property
    def created_at(self) -> str:
        return self.manifest.get("created_at", "")

    @property
    def extra(self) -> dict[str, Any]:
        """What the builder reported (training time, loss history, index recall...)."""
        return self.manifest.get("extra") or {}


class InvalidEntry(Exception):
    """Why an entry on disk cannot be trusted."""


def entry_key(kind: str, inputs: Mapping[str, Any]) -> str:
    """Readable, stable key: ``<kind>-<16 hex>`` of the canonical JSON of the inputs."""
    canonical = json.dumps({"kind": kind, "inputs": inputs, "format": FORMAT_VERSION},
                           sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind}-{hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()}"


def _crc32(path: Path) -> str:
    """CRC-32 of a file, read through mmap (no copy; ~3 GB/s)."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return "00000000"
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return f"{zlib.crc32(view) & 0xFFFFFFFF:08x}"


class ArtifactStore:
    """Entries under ``root`` (see the module docstring)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else resolve_cache_dir()

    # ----------------------------------------------------------------------------- lookup
    def path_of(self, kind: str, inputs: Mapping[str, Any]) -> Path:
        return self.root / kind / entry_key(kind, inputs)

    def lookup(self, kind: str, inputs: Mapping[str, Any]) -> Entry | None:
        """The complete entry for these inputs (manifest and file sizes checked), or None."""
        path = self.path_of(kind, inputs)
        try:
            return Entry(kind, path.name, path, self._read_manifest(path, verify=False))
        except InvalidEntry:
            return None

    def entries(self) -> list[Entry]:
        """Every complete entry, by kind then creation time."""
        found = []
        if not self.root.is_dir():
            return found
        for kind_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for path in kind_dir.iterdir():
                if path.is_dir() and not path.name.startswith(_TEMP_PREFIX):
                    try:
                        found.append(Entry(kind_dir.name, path.name, path,
                                           self._read_manifest(path, verify=False)))
                    except InvalidEntry:
                        continue
        return sorted(found, key=lambda entry: (entry.kind, entry.created_at))

    def describe_entries(self) -> list[dict[str, Any]]:
        """JSON-ready rows for ``tui-recs cache list``."""
        return [{"key": e.key, "kind": e.kind, "size_bytes": e.size_bytes,
                 "created_at": e.created_at, "build_seconds": e.manifest.get("build_seconds"),
                 "inputs": e.manifest.get("inputs", {}), "path": str(e.path)}
                for e in self.entries()]

    def total_size(self) -> int:
        return sum(entry.size_bytes for entry in self.entries())

    # ----------------------------------------------------------------------------- removal
    def remove(self, key: str) -> int:
        """Delete the entry with this key; returns how many were removed (0 or 1)."""
        kind = key.rsplit("-", 1)[0]
        path = self.root / kind / key
        if not path.is_dir() or "/" in key or key.startswith("."):
            raise CacheError(f"no cache entry {key!r} in {self.root} (see 'tui-recs cache list')")
        with self._lock(kind, key):
            shutil.rmtree(path, ignore_errors=True)
        return 1

    def clear(self) -> int:
        """Delete every entry (and stray temporary directories); returns the entry count."""
        count = len(self.entries())
        if self.root.is_dir():
            for kind_dir in (p for p in self.root.iterdir() if p.is_dir()):
                shutil.rmtree(kind_dir, ignore_errors=True)
        return count

    # ------------------------------------------------------------------------------ build
    def get_or_create(self, kind: str, inputs: Mapping[str, Any],
                      build: Callable[[Path], Mapping[str, Any] | None],
                      load: Callable[[Path], T], on_event: EventCallback | None = None) -> T:
        """Load the entry for ``inputs``, building it first if it is missing or invalid.

        ``build(directory)`` writes payload files into an empty directory and returns facts
        for the manifest (JSON-able) or None. ``load(directory)`` reads a complete entry.
        If the cache cannot be written, the artifact is built in a temporary directory and
        loaded from there, with a warning (the work is not lost, only not kept).
        """
        key = entry_key(kind, inputs)
        path = self.root / kind / key
        loaded = self._try_load(path, load)
        if loaded is not _MISSING:
            return loaded  # type: ignore[return-value]
        try:
            (self.root / kind).mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root / kind, prefix=_TEMP_PREFIX)
            probe.close()
        except OSError as error:
            warnings.warn(CacheWarning(f"cache {self.root} is not writable ({error.strerror}); "
                                       "working without it (use --cache-dir or "
                                       f"{ENV_VAR} to choose another place)"), stacklevel=2)
            with tempfile.TemporaryDirectory(prefix="tui-recs-") as scratch:
                build(Path(scratch))
                return load(Path(scratch))
        with self._lock(kind, key, on_event):
            loaded = self._try_load(path, load)  # another process may have built it meanwhile
            if loaded is not _MISSING:
                return loaded  # type: ignore[return-value]
            self._build(kind, key, inputs, build)
        return load(path)

    def _try_load(self, path: Path, load: Callable[[Path], T]) -> T | object:
        if not path.exists():
            return _MISSING
        try:
            self._read_manifest(path, verify=True)
            return load(path)
        except (InvalidEntry, OSError, ValueError, KeyError) as error:
            warnings.warn(CacheWarning(f"cache entry {path} is unusable ({error}); rebuilding it"),
                          stacklevel=3)
            shutil.rmtree(path, ignore_errors=True)
            return _MISSING

    def _build(self, kind: str, key: str, inputs: Mapping[str, Any],
               build: Callable[[Path], Mapping[str, Any] | None]) -> None:
        kind_dir = self.root / kind
        for stale in kind_dir.glob(f"{_TEMP_PREFIX}{key}-*"):  # left by a killed builder
            shutil.rmtree(stale, ignore_errors=True)
        temporary = Path(tempfile.mkdtemp(dir=kind_dir, prefix=f"{_TEMP_PREFIX}{key}-"))
        try:
            started = time.perf_counter()
            extra = build(temporary)
            files = {}
            for file in sorted(p for p in temporary.rglob("*") if p.is_file()):
                name = str(file.relative_to(temporary))
                files[name] = {"size": file.stat().st_size, "crc32": _crc32(file)}
            manifest = {
                "format_version": FORMAT_VERSION, "kind": kind, "key": key,
                "inputs": json.loads(json.dumps(inputs, default=str)),
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - started, 3),
                "extra": json.loads(json.dumps(dict(extra or {}), default=_jsonable)),
                "files": files,
            }
            _write_atomically(temporary / MANIFEST, json.dumps(manifest, indent=1))
            target = kind_dir / key
            if target.exists():
                shutil.rmtree(target)
            os.rename(temporary, target)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            raise CacheError(f"cannot write cache entry in {kind_dir}: {error.strerror or error} "
                             f"(free some space, or use --cache-dir / {ENV_VAR})") from None
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise

    def _read_manifest(self, path: Path, verify: bool) -> dict[str, Any]:
        """The entry's manifest after checking version and file sizes (and checksums if
        ``verify``); raises InvalidEntry saying what is wrong."""
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise InvalidEntry("no manifest") from None
        except (OSError, ValueError) as error:
            raise InvalidEntry(f"unreadable manifest: {error}") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise InvalidEntry(f"format version {manifest.get('format_version')} is not "
                               f"{FORMAT_VERSION}")
        for name, facts in manifest.get("files", {}).items():
            file = path / name
            try:
                size = file.stat().st_size
            except OSError:
                raise InvalidEntry(f"{name} is missing") from None
            if size != facts["size"]:
                raise InvalidEntry(f"{name} has {size} bytes, expected {facts['size']}")
            if verify and _crc32(file) != facts["crc32"]:
                raise InvalidEntry(f"{name} fails its checksum")
        return manifest

    @contextmanager
    def _lock(self, kind: str, key: str, on_event: EventCallback | None = None) -> Iterator[None]:
        (self.root / kind).mkdir(parents=True, exist_ok=True)
        with open(self.root / kind / f"{key}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_event is not None:
                    on_event(f"waiting for another process building {key}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


_MISSING = object()


def _jsonable(value: Any) -> Any:
    """Numpy scalars and arrays in manifests become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{_TEMP_PREFIX}{path.name}")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
