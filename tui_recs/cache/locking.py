"""Per-entry build locks: ``fcntl.flock`` on ``<root>/<kind>/<key>.lock``.

The kernel drops a flock when its holder dies, so a killed builder never blocks anyone. Lock
files may be deleted (by ``remove``/``clear``) only while held; a locker therefore checks,
once it holds the lock, that the file it locked is still the one at the path, and else retries.
Lock files are opened with ``O_NOFOLLOW``: a symlink planted at a lock's path (ELOOP) would
otherwise create or lock a file outside the cache.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def _open_locked(path: Path, blocking: bool, on_wait: Callable[[], None] | None) -> int | None:
    """A descriptor holding the lock on ``path``, or None (only when not ``blocking``)."""
    waited = False
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not blocking:
                    os.close(descriptor)
                    return None
                if on_wait is not None and not waited:
                    on_wait()
                waited = True
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # the lock file was deleted while we waited: lock the new one


@contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None,
              unlink: bool = False) -> Iterator[None]:
    """Hold the exclusive lock on ``path`` (waiting if another process holds it; ``on_wait``
    is called once before waiting). With ``unlink``, the lock file is deleted before release."""
    descriptor = _open_locked(path, blocking=True, on_wait=on_wait)
    assert descriptor is not None
    try:
        yield
    finally:
        if unlink:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        os.close(descriptor)  # closing releases the flock


@contextmanager
def try_file_lock(path: Path, unlink: bool = False) -> Iterator[bool]:
    """Like :func:`file_lock` without waiting: yields whether the lock was taken."""
    descriptor = _open_locked(path, blocking=False, on_wait=None)
    try:
        yield descriptor is not None
    finally:
        if descriptor is not None:
            if unlink:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            os.close(descriptor)
