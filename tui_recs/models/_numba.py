"""Numba set-up shared by the kernel modules: a writable JIT cache and thread control.

Import numba through this module: it points NUMBA_CACHE_DIR at the user cache dir (unless
the user chose one) before numba is first imported, so ``cache=True`` kernels compile once
per machine even when site-packages is read-only.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

if "NUMBA_CACHE_DIR" not in os.environ:
    from platformdirs import user_cache_dir

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(user_cache_dir("tui-recs"), "numba")

import numba  # noqa: E402  (must follow the cache-dir set-up)

if not numba.config.CACHE_DIR:
    # Numba was imported before us (by the caller's code) and missed the variable; its cache
    # locator reads the config when a kernel module is defined, which is still to come.
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

__all__ = ["numba", "threads"]


@contextmanager
def threads(count: int | None) -> Iterator[int]:
    """Run numba parallel kernels on ``count`` threads (None: all cores numba may use)."""
    previous = numba.get_num_threads()
    wanted = numba.config.NUMBA_NUM_THREADS if count is None else max(1, min(
        int(count), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        numba.set_num_threads(previous)
