"""ArtifactStore: entries ``<root>/<kind>/<key>/`` built once, verified and loaded after.

Writing: ``build`` fills a hidden temporary directory ``<root>/<kind>/.tmp-<key>-XXXX``; the
store checksums and fsyncs its files, writes ``manifest.json`` last, and renames the directory
into place. A rename is atomic, so a process killed at any point leaves the old entry or the
new one (or none), never half of one; readers ignore dot-names, and a temporary directory whose
key lock is free belongs to a dead builder and is deleted by the next build in that kind.

Concurrency: a missing entry is built under ``<root>/<kind>/<key>.lock`` (flock): the first
process builds, the others wait (``on_event`` says so), then load what it built. Hits take no
lock. Deleting an entry (remove, clear, a corrupt one) renames it away first, so a reader sees
it whole or not at all; open files and memory maps of it stay valid.

Corruption: every load verifies file sizes and CRC-32 checksums against the manifest (cheap
enough for a warm start: about 2-3 GB/s, see :mod:`tui_recs.cache.checksum`), then the
structure of its arrays (:mod:`tui_recs.cache.validate`); an entry that fails, or whose
``load`` raises (loaders check what their arrays mean), is reported as a CacheWarning,
deleted and rebuilt. Symbolic links inside the cache are refused, never followed.

Unwritable cache: when a miss cannot be written (no permission, read-only file system, a file
in the way), the artifact is built in a private temporary directory that lives until the
process exits, with a CacheWarning, so the caller still gets it (hits from a read-only cache
still work). ``ArtifactStore(strict=True)`` raises CacheError instead. When writing fails
*during* a build (the disk fills: "cache full at DIR: N MB needed"), nothing of the entry is
kept; a caller that passed ``unstored`` is served the artifact it built from memory, with a
CacheWarning (once per cache directory and process: the disk does not empty itself, and
the next entries go the same way), otherwise CacheError.
"""

from __future__ import annotations

import atexit
import errno
import os
import re
import shutil
import tempfile
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from tui_recs.cache.errors import CacheError, CacheWarning, InvalidEntry
from tui_recs.cache.keys import check_kind, entry_key, kind_of, plain
from tui_recs.cache.location import ENV_VAR, resolve_cache_dir
from tui_recs.cache.locking import file_lock, try_file_lock
from tui_recs.cache.manifest import MANIFEST, read_manifest, write_manifest
from tui_recs.cache.validate import check_arrays

T = TypeVar("T")
#: ``on_event(message)``, e.g. "waiting for another process building model-1a2b3c4d5e6f7a8b".
EventCallback = Callable[[str], None]

TEMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
LOCK_SUFFIX = ".lock"
_ELSEWHERE = f"use --cache-dir DIR or {ENV_VAR} to cache elsewhere"
#: errno values that mean "the cache's storage failed", whoever saw them.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
#: numpy's ``tofile``/``save`` reports a short write (a full disk) without an errno.
_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")
#: Cache roots this process has served an entry from memory for (a full disk), said once.
_SERVED_FROM_MEMORY: set[Path] = set()


@dataclass(frozen=True)
class Entry:
    """A complete entry: its directory and manifest (see :mod:`tui_recs.cache.manifest`)."""

    kind: str
    key: str
    path: Path
    manifest: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        """Bytes of payload (the files listed in the manifest)."""
        return sum(int(facts.get("size", 0)) for facts in self.manifest.get("files", {}).values())

    @property
    def created_at(self) -> str:
        """ISO 8601 time (UTC) the entry was built."""
        return str(self.manifest.get("created_at", ""))

    @property
    def inputs(self) -> dict[str, Any]:
        return self.manifest.get("inputs") or {}

    @property
    def extra(self) -> dict[str, Any]:
        """What the builder reported (training time, loss history, index recall...)."""
        return self.manifest.get("extra") or {}


class _Unusable(Exception):
    """An entry that is there but cannot be served (the message says why)."""


class _NotStored(Exception):
    """A build whose entry could not be written; ``error`` is the CacheError saying why."""

    def __init__(self, error: CacheError) -> None:
        super().__init__(str(error))
        self.error = error


class ArtifactStore:
    """Artifacts under ``root`` (default: :func:`resolve_cache_dir`). See the module docstring.

    ``strict``: raise CacheError when the cache cannot be written, instead of building
    without it (with a warning).
    """

    def __init__(self, root: Path | str | None = None, *, strict: bool = False) -> None:
        self.root = Path(root).absolute() if root is not None else resolve_cache_dir()
        self.strict = strict

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    # ------------------------------------------------------------------------------ lookup
    def path_of(self, kind: str, inputs: Mapping[str, Any]) -> Path:
        """Where the entry for ``(kind, inputs)`` lives (whether or not it exists)."""
        return self.root / kind / entry_key(kind, inputs)

    def lookup(self, kind: str, inputs: Mapping[str, Any], verify: bool = False) -> Entry | None:
        """The complete entry for ``(kind, inputs)``, or None. Checks the manifest, format
        version, file presence and sizes; checksums too with ``verify`` (get_or_create always
        verifies them before loading)."""
        path = self.path_of(kind, inputs)
        try:
            return Entry(kind, path.name, path, _checked_manifest(path, verify))
        except InvalidEntry:
            return None

    def entries(self) -> list[Entry]:
        """Every complete entry (checked as by :meth:`lookup`), by kind, then creation time."""
        found = []
        for kind, path in self._entry_dirs():
            try:
                found.append(Entry(kind, path.name, path, _checked_manifest(path, False)))
            except InvalidEntry:
                continue
        return sorted(found, key=lambda entry: (entry.kind, entry.created_at, entry.key))

    def describe_entries(self) -> list[dict[str, Any]]:
        """JSON-ready rows for ``tui-recs cache list``, in :meth:`entries` order."""
        return [{"key": entry.key, "kind": entry.kind, "size_bytes": entry.size_bytes,
                 "created_at": entry.created_at,
                 "build_seconds": entry.manifest.get("build_seconds"),
                 "files": len(entry.manifest.get("files", {})), "inputs": entry.inputs,
                 "extra": entry.extra, "path": str(entry.path)}
                for entry in self.entries()]

    def total_size(self) -> int:
        """Bytes on disk of everything the store keeps under ``root``: entries (complete or
        not), temporary directories and lock files; what ``clear`` can free."""
        total = 0
        for path in self._owned_paths():
            files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
            for file in files:
                try:
                    total += file.stat().st_size
                except OSError:
                    continue
        return total

    # ----------------------------------------------------------------------------- removal
    def remove(self, key: str) -> int:
        """Delete the entry ``key`` (complete or not); returns 1. CacheError if there is none."""
        kind = kind_of(key) if isinstance(key, str) else None
        path = self.root / kind / key if kind is not None else None
        if path is None or not os.path.lexists(path):
            raise CacheError(f"no cache entry {key!r} in {self.root} "
                             "(see 'tui-recs cache list' for the keys)")
        self._discard(path)
        self._drop_lock_file(path.parent / f"{key}{LOCK_SUFFIX}")
        return 1

    def clear(self) -> int:
        """Delete every entry, the temporary directories of dead builders and free lock files;
        returns how many entries were deleted. Anything else under ``root`` (say, the numba
        cache that shares the default directory) is left alone, and so are live builds."""
        removed = 0
        for _, path in self._entry_dirs():
            self._discard(path)
            removed += 1
        for kind_dir in self._kind_dirs():
            self._sweep(kind_dir)
            for lock in kind_dir.glob(f"*{LOCK_SUFFIX}"):
                self._drop_lock_file(lock)
        return removed

    # ------------------------------------------------------------------------------ create
    def get_or_create(self, kind: str, inputs: Mapping[str, Any],
                      build: Callable[[Path], Mapping[str, Any] | None],
                      load: Callable[[Path], T], on_event: EventCallback | None = None,
                      unstored: Callable[[], T] | None = None) -> T:
        """``load(entry_dir)`` of the entry for ``(kind, inputs)``, building it first if it is
        missing or unusable.

        Args:
            kind: what the artifact is ("dataset", "model", "index"...): the first level of
                directories and the start of the key.
            inputs: JSON-like mapping of everything that changes the artifact (data
                fingerprint, parameters, seed, the caller's format version).
            build: writes the payload files into the empty directory it is given and returns
                extra JSON-able facts for the manifest (or None). The name ``manifest.json``
                at the top is reserved.
            load: reads an entry directory (already verified); may memory-map its files.
            on_event: told "waiting for another process building <key>" before waiting.
            unstored: the artifact when ``build`` ran but its entry could not be written
                (the disk filled): what the build computed, from memory (computing it if the
                build failed before that). None: CacheError then.

        Raises:
            CacheError: the entry could not be written (disk full...) and there is no
                ``unstored``, or the cache is not writable and the store is ``strict``.
            Whatever ``build`` raises (nothing is stored then), or ``load`` on a fresh entry.
        """
        key = entry_key(kind, inputs)
        kind_dir = self.root / kind
        path = kind_dir / key
        unusable = ""
        if path.is_dir():
            try:
                return _verified_load(path, load)
            except _Unusable as reason:  # looked at again under the lock, where it is
                unusable = f"cache entry {path} is unusable ({reason}); "  # reported
        try:
            self.check_writable(kind)
        except CacheError as error:
            if self.strict:
                raise
            warnings.warn(CacheWarning(f"{unusable}{error}; building {key} without the cache"),
                          stacklevel=2)
            return _build_unstored(build, load)

        def waiting() -> None:
            if on_event is not None:
                on_event(f"waiting for another process building {key}")

        with ExitStack() as stack:
            try:
                stack.enter_context(file_lock(kind_dir / f"{key}{LOCK_SUFFIX}", on_wait=waiting))
            except OSError as error:
                reason = ("a symbolic link, which the cache refuses: delete it"
                          if error.errno == errno.ELOOP else error.strerror)
                raise CacheError(f"cannot lock {kind_dir / key}{LOCK_SUFFIX} ({reason}); "
                                 f"{_ELSEWHERE}") from None
            if path.is_dir():
                try:
                    return _verified_load(path, load)
                except _Unusable as reason:
                    warnings.warn(CacheWarning(f"cache entry {path} is unusable ({reason}); "
                                               "rebuilding it"), stacklevel=2)
                    self._discard(path)
            elif os.path.lexists(path):  # a stray file (or dangling link) where it belongs
                warnings.warn(CacheWarning(f"cache entry {path} is unusable (not a directory); "
                                           "rebuilding it"), stacklevel=2)
                self._discard(path)
            self._sweep(kind_dir, own_key=key)
            try:
                self._build(kind, key, inputs, build)
            except _NotStored as failure:
                if unstored is None or self.strict:
                    raise failure.error from None
                if self.root not in _SERVED_FROM_MEMORY:  # one line per cache and process
                    _SERVED_FROM_MEMORY.add(self.root)
                    warnings.warn(CacheWarning(f"{failure.error}; serving it from memory"),
                                  stacklevel=2)
                return unstored()
            return load(path)

    def check_writable(self, kind: str | None = None) -> None:
        """Raise CacheError unless entries can be written under ``root`` (and ``kind``)."""
        directory = self.root / check_kind(kind) if kind is not None else self.root
        try:
            if directory.is_symlink():
                raise OSError(errno.ELOOP, "a symbolic link, which the cache refuses")
            directory.mkdir(parents=True, exist_ok=True)
            descriptor, probe = tempfile.mkstemp(dir=directory, prefix=".probe-")
            os.close(descriptor)
            os.unlink(probe)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise CacheError(f"cache directory {directory} is not writable ({reason}); "
                             f"{_ELSEWHERE}") from None

    # ----------------------------------------------------------------------------- helpers
    def _build(self, kind: str, key: str, inputs: Mapping[str, Any],
               build: Callable[[Path], Mapping[str, Any] | None]) -> None:
        """Run ``build`` in a temporary directory and land it at ``<kind>/<key>`` (under the
        key's lock). Nothing is left behind when anything fails; _NotStored when writing
        did."""
        kind_dir = self.root / kind
        target = kind_dir / key
        try:
            temporary = Path(tempfile.mkdtemp(dir=kind_dir, prefix=f"{TEMP_PREFIX}{key}-"))
        except OSError as error:
            raise _NotStored(_storage_error(error, target)) from None
        try:
            started = time.perf_counter()
            try:
                extra = build(temporary)
            except OSError as error:
                if _is_storage_failure(error, temporary):
                    raise _NotStored(_storage_error(error, target, _bytes_under(temporary))
                                     ) from None
                raise
            seconds = time.perf_counter() - started
            if extra is not None and not isinstance(extra, Mapping):
                raise TypeError(f"build for {key} returned {type(extra).__name__}, "
                                "expected a mapping or None")
            if (temporary / MANIFEST).exists():
                raise ValueError(f"build for {key} wrote {MANIFEST}, a name the store reserves")
            try:
                write_manifest(temporary, {
                    "kind": kind, "key": key, "inputs": plain(inputs),
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    "build_seconds": round(seconds, 3), "extra": dict(extra or {})})
                _fsync_directory(temporary)
                os.chmod(temporary, kind_dir.stat().st_mode & 0o777)  # mkdtemp made it 0700
                self._land(temporary, target)
            except OSError as error:
                raise _NotStored(_storage_error(error, target, _bytes_under(temporary))
                                 ) from None
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)

    def _land(self, temporary: Path, target: Path) -> None:
        """Rename the finished ``temporary`` directory to ``target``."""
        try:
            os.rename(temporary, target)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # An entry appeared without our lock (a file system where flock is a no-op?):
            # serve a sound one, replace a broken one.
            try:
                _checked_manifest(target, verify=True)
                return
            except InvalidEntry:
                self._discard(target)
                os.rename(temporary, target)
        _fsync_directory(target.parent)

    def _discard(self, path: Path) -> None:
        """Delete an entry directory: renamed away first (atomic), then removed."""
        trash = path.parent / f"{TRASH_PREFIX}{path.name}-{os.urandom(4).hex()}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError as error:
            raise CacheError(f"cannot delete cache entry {path}: {error.strerror} "
                             f"(check its permissions, or {_ELSEWHERE})") from None
        if trash.is_symlink() or not trash.is_dir():  # a stray file or link: never followed
            trash.unlink(missing_ok=True)
        else:
            shutil.rmtree(trash, ignore_errors=True)

    def _sweep(self, kind_dir: Path, own_key: str | None = None) -> None:
        """Delete temporary and trash directories whose builder is gone: the key's lock is
        free (or held by us, for ``own_key``)."""
        try:
            children = list(kind_dir.iterdir())
        except OSError:
            return
        for child in children:
            prefix = next((p for p in (TEMP_PREFIX, TRASH_PREFIX) if child.name.startswith(p)),
                          None)
            if prefix is None:
                continue
            key = child.name[len(prefix):].rpartition("-")[0]
            if key == own_key:
                shutil.rmtree(child, ignore_errors=True)
                continue
            try:  # the lock file goes too, unless an entry still goes with it
                with try_file_lock(kind_dir / f"{key}{LOCK_SUFFIX}",
                                   unlink=not (kind_dir / key).exists()) as free:
                    if free:
                        shutil.rmtree(child, ignore_errors=True)
            except OSError:
                continue

    def _drop_lock_file(self, lock: Path) -> None:
        """Delete a lock file unless someone holds it."""
        try:
            with try_file_lock(lock, unlink=True):
                pass
        except OSError:
            pass

    def _kind_dirs(self) -> list[Path]:
        """The kind directories (a symlink is not one: the cache never follows links)."""
        try:
            return sorted(p for p in self.root.iterdir()
                          if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
        except OSError:
            return []

    @staticmethod
    def _children(kind_dir: Path) -> list[Path]:
        """The kind directory's contents, sorted (empty if it cannot be listed)."""
        try:
            return sorted(kind_dir.iterdir())
        except OSError:
            return []

    def _entry_dirs(self) -> Iterator[tuple[str, Path]]:
        """(kind, path) of everything named like an entry, complete or not (a stray file or
        link of that name too: it is a damaged entry)."""
        for kind_dir in self._kind_dirs():
            for child in self._children(kind_dir):
                if kind_of(child.name) == kind_dir.name:
                    yield kind_dir.name, child

    def _owned_paths(self) -> Iterator[Path]:
        """Entry, temporary and trash directories and lock files: what the store made."""
        for kind_dir in self._kind_dirs():
            for child in self._children(kind_dir):
                name = child.name
                if (name.startswith((TEMP_PREFIX, TRASH_PREFIX))
                        or kind_of(name) == kind_dir.name
                        or (name.endswith(LOCK_SUFFIX)
                            and kind_of(name[:-len(LOCK_SUFFIX)]) == kind_dir.name)):
                    yield child


def _checked_manifest(path: Path, verify: bool) -> dict[str, Any]:
    manifest = read_manifest(path, verify)
    if manifest.get("key") != path.name:
        raise InvalidEntry(f"manifest.json describes {manifest.get('key')!r}, not {path.name}")
    return manifest


def _verified_load(path: Path, load: Callable[[Path], T]) -> T:
    """Verify every checksum and the arrays' structure, then load; _Unusable (one line) if
    any of it fails."""
    try:
        check_arrays(path, _checked_manifest(path, verify=True))
    except InvalidEntry as error:
        raise _Unusable(str(error)) from None
    try:
        return load(path)
    except (MemoryError, RecursionError):
        raise
    except Exception as error:  # noqa: BLE001 - any failure to load means a bad entry
        text = " ".join(str(error).split())
        raise _Unusable(f"loading it failed: {type(error).__name__}: {text}") from None


def _build_unstored(build: Callable[[Path], Any], load: Callable[[Path], T]) -> T:
    """Build into a private temporary directory kept until the process exits (the loaded
    object may memory-map its files) and load from it."""
    scratch = tempfile.mkdtemp(prefix="tui-recs-unstored-")
    try:
        build(Path(scratch))
        loaded = load(Path(scratch))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    atexit.register(shutil.rmtree, scratch, True)
    return loaded


def _is_storage_failure(error: OSError, temporary: Path) -> bool:
    """Whether an OSError raised by a builder is the cache's storage failing (rather than,
    say, a missing source file, which the caller should see as it is)."""
    if error.errno in _STORAGE_ERRNOS or (error.errno is None and _SHORT_WRITE.search(str(error))):
        return True
    names = [name for name in (error.filename, error.filename2) if name]
    return error.errno in (errno.EACCES, errno.EPERM) and any(
        str(name).startswith(str(temporary)) for name in names)


def _storage_error(error: OSError, target: Path, written: int = 0) -> CacheError:
    """The CacheError for a write that failed; a full disk says how much the entry needed
    (at least what was written, plus what a short write left out) and how much is free."""
    reason = error.strerror or str(error)
    short = _SHORT_WRITE.search(str(error)) if error.errno is None else None
    if error.errno in (errno.ENOSPC, errno.EDQUOT) or short:
        needed = written + (int(short[1]) - int(short[2]) if short else 0)
        try:
            free = f", {shutil.disk_usage(target.parent).free / 1e6:,.1f} MB free"
        except OSError:
            free = ""
        return CacheError(f"no space left to write cache entry {target} (cache full at "
                          f"{target.parent.parent}: at least {needed / 1e6:,.1f} MB needed{free});"
                          f" free some ('tui-recs cache clear --all') or {_ELSEWHERE}")
    return CacheError(f"cannot write cache entry {target} ({reason}); {_ELSEWHERE}")


def _bytes_under(directory: Path) -> int:
    """Bytes of the regular files under ``directory`` (0 if it cannot be read)."""
    total = 0
    for file in directory.rglob("*"):
        try:
            total += file.lstat().st_size if file.is_file() else 0
        except OSError:
            continue
    return total


def _fsync_directory(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (best effort: not every FS can)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
