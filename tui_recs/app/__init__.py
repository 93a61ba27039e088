"""The Textual UI. Only this package may import textual (and only inside :func:`run` here,
so that ``import tui_recs.app`` stays cheap)."""

from __future__ import annotations

import os
from pathlib import Path

#: Thread pools of the numeric libraries: the ALS kernels (numba) and BLAS (numpy, scipy).
THREAD_POOLS = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def leave_a_core_for_the_ui() -> None:
    """Let training use every core but one, so that the UI thread always has one to run on.

    Oversubscribed BLAS threads spin: on 2 busy cores, LSA trained 15x slower and the UI
    stalled for up to 1.7 s without the cap. A value set by the user wins; a library that is
    already loaded keeps its pool (the command line loads numpy before the UI starts).
    """
    workers = str(max(1, (os.cpu_count() or 2) - 1))
    for name in THREAD_POOLS:
        os.environ.setdefault(name, workers)


def run(data: str | Path | None = None, format: str = "auto", cache_dir: str | Path | None = None,
        use_cache: bool = True, mouse: bool = True) -> int:
    """Open the app on ``data`` (None: the built-in demo data); returns the exit code."""
    leave_a_core_for_the_ui()
    from tui_recs.app.main import TuiRecsApp

    app = TuiRecsApp(data, format=format, cache_dir=cache_dir, use_cache=use_cache)
    app.run(mouse=mouse)
    return app.return_code or 0
