"""The first view: loading the data and training the models, stage by stage."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from tui_recs.text import markup_safe
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui_recs.app.widgets.progress import JobProgress

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset


class LoadingScreen(Screen):
    """Each job with its stage, a progress bar, elapsed time and, for ALS, the loss per
    iteration. Escape cancels; Enter goes to the views as soon as the data is loaded (the
    models then finish in the background). A data error is shown here, with a way out."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="loading.cancel"),
        Binding("enter", "explore", "Explore now", id="loading.explore"),
        Binding("d", "demo", "Open the demo data", id="loading.demo"),
    ]
    #: (data loaded, load failed, anything running): which keys apply.
    _keys_for: tuple[bool, bool, bool] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="loading-panel"):
            yield Static("[b]tui-recs[/b]", id="loading-title")
            yield Static(id="loading-source")
            yield JobProgress("data")
            # Shown from the start: rows appearing when the data lands laid the whole view
            # out again while the data worker and the training processes started.
            for name in self.app.startup_models:
                yield JobProgress(name, waits_for="data")
            yield Static(id="loading-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "jobs_version", self.refresh_state)

    def refresh_state(self) -> None:
        """Follow the app: the source, an error if any, and which keys apply now."""
        app = self.app
        self.query_one("#loading-source", Static).update(f"Exploring {markup_safe(app.source_label)}")
        hint = ("[$error][b]Could not load the data.[/b][/] Press [b]d[/b] to open the demo data "
                "instead, or [b]q[/b] to quit."
                if app.load_error else
                "[b]Enter[/b]: explore now — search works, the models finish in the background."
                if app.dataset is not None else "")
        self.query_one("#loading-hint", Static).update(hint)
        keys_for = (app.dataset is not None, app.load_error is not None,
                    any(job.running for job in app.jobs.values()))
        if keys_for != self._keys_for:
            self._keys_for = keys_for
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.app
        if action == "explore":
            return app.dataset is not None
        if action == "demo":
            return app.load_error is not None
        if action == "cancel":
            return any(job.running for job in app.jobs.values())
        return True

    def action_cancel(self) -> None:
        """Stop the training; before the data has loaded there is nothing to show, so quit
        (the loader finishes its current file before the process ends: it cannot be
        interrupted)."""
        if self.app.dataset is None:
            self.app.exit()
        else:
            self.app.cancel_jobs()

    def action_explore(self) -> None:
        self.app.explore()

    def action_demo(self) -> None:
        app = self.app
        app.load_data(partial(_open_demo, app.cache_dir, app.use_cache))
        self.refresh_state()


def _open_demo(cache_dir: str | Path | None, use_cache: bool) -> "Dataset":
    """The built-in demo data (called in the loading worker)."""
    from tui_recs.data.store import open_dataset  # numpy and the cache code: not before the first paint

    return open_dataset(None, cache_dir=cache_dir, use_cache=use_cache)
