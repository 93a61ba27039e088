"""The Textual UI. Only this package may import textual (and only inside :func:`run` here,
so that ``import tui_recs.app`` stays cheap)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tui_recs.app.hangup import quit_when_terminal_lost
from tui_recs.app.terminal import Display, display_for
from tui_recs.app.terminfo import terminfo_colours

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import App

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
        use_cache: bool = True, mouse: bool = True, encoding: str | None = None,
        fresh: bool = False, bundles: "Sequence[str | Path]" = (),
        model_file: str | Path | None = None) -> int:
    """Open the app on ``data`` (None: the built-in demo data; ``encoding`` its text encoding,
    None to detect it) or on ``bundles``, with ``model_file``, on this process's terminal;
    returns the exit code. The caller checks that there is one (:func:`terminal.refusal`).
    ``fresh``: not where the last session left off."""
    leave_a_core_for_the_ui()
    display = display_for(os.environ, terminfo_colours(os.environ.get("TERM", ""), os.environ))
    os.environ["TEXTUAL_COLOR_SYSTEM"] = display.textual_colour_system  # read at import
    from tui_recs.app.main import TuiRecsApp  # textual reads TEXTUAL_COLOR_SYSTEM as it loads

    app = TuiRecsApp(data, format=format, cache_dir=cache_dir, use_cache=use_cache,
                     encoding=encoding, fresh=fresh, bundles=bundles, model_file=model_file)
    show_as(app, display)
    with quit_when_terminal_lost(app):
        app.run(mouse=mouse)
    return app.return_code or 0


def show_as(app: "App", display: "Display") -> None:
    """Draw ``app`` as ``display`` says: the cursor row in reverse video where colour is
    scarce (the stylesheet's ``-plain-highlight``), and no colour at all where there is none."""
    app.set_class(display.plain_highlight, "-plain-highlight")
    if display.colours is None:
        from textual.filter import NoColor

        app._filters.append(NoColor())  # as textual itself adds its NO_COLOR filter
