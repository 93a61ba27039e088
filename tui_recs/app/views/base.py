"""What every view shares: the bar of views at the top, the training status line, the footer,
and re-drawing from the app's state when it is shown or when the models change."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterable, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from tui_recs.text import markup_safe
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from tui_recs.app.background import Background
from tui_recs.app.state import VIEWS, model_label
from tui_recs.errors import TuiRecsError

#: How often the status line follows the running jobs, in seconds.
STATUS_TICK = 0.25
T = TypeVar("T")


def format_score(score: float) -> str:
    """Cosines and dot products with 3 decimals; large scores (popularity counts) as integers."""
    return f"{score:.3f}" if abs(score) < 100 else f"{score:,.0f}"


def lookup_label(ready: Any) -> str:
    """How a model finds related artists: "exact", or the index with its measured recall."""
    if ready.similar_index is None:
        return "exact"
    stats = ready.similar_index.stats
    return f"{stats.label}, recall@10 {stats.recall_at_10:.2f}"


#: The view bar from the widest to the narrowest: whether the app's name shows, which views
#: are named ("all", the "current" one, "none": only their keys), whether "model" and "(m)"
#: show beside the model's name, whether the minimum-listeners floor shows.
HEADER_LEVELS = ((True, "all", True, True, True), (False, "all", True, True, True),
                 (False, "all", False, True, True), (False, "current", False, True, True),
                 (False, "none", False, True, True), (False, "none", False, False, True),
                 (False, "none", False, False, False))


def header_labels(width: int, current: str, model: str, min_listeners: int = 0,
                  auto: bool = False) -> tuple[str, str]:
    """The markup of the view bar's parts, the views and the model in use (``model``, its
    label, and ``auto``: the measured default; :func:`~tui_recs.app.state.model_label`) with the
    minimum-listeners filter: the widest level of :data:`HEADER_LEVELS` that ``width``
    columns hold (the narrowest one below 16). The file name, shown from 110 columns, has
    room beside the widest level."""
    for app_name, named, model_word, model_key, floor_shown in HEADER_LEVELS:
        tabs = ["[b]tui-recs[/b] "] if app_name else []
        for number, (view, title) in enumerate(VIEWS.items(), start=1):
            label = f" {number} {title} " if named == "all" or (
                named == "current" and view == current) else f" {number} "
            if view == current:
                label = f"[reverse b]{label}[/]"
            tabs.append(f"[@click=app.view('{view}')]{label}[/]")
        text = (("model " if model_word else "") + f"[b]{model}[/b]"
                + (" auto" if auto and model_key else ""))
        floor = ((f" ≥{min_listeners} listeners" if model_word else f" ≥{min_listeners}")
                 if min_listeners and floor_shown else "")  # no floor: nothing to say
        labels = "".join(tabs), (f"[@click=app.cycle_model]{text}{' (m)' if model_key else ''}[/]"
                                 f"[@click=app.cycle_min_listeners]{floor}"
                                 f"{' (f)' if model_key and floor else ''}[/]")
        # The model's part has a column of padding on its right, and one separates the parts.
        if sum(Content.from_markup(label).cell_length for label in labels) + 2 <= width:
            break
    return labels


class ViewBar(Horizontal):
    """The views by key (the current one highlighted, each clickable) and the model in use;
    narrower terminals get shorter labels (:func:`header_labels`)."""

    def __init__(self, current: str) -> None:
        super().__init__(id="view-bar")
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(id="view-tabs")
        yield Static(id="view-model")
        yield Static(markup_safe(self.app.source_label), id="view-source")

    def on_mount(self) -> None:
        self.watch(self.app, "preferred", self._label)
        self.watch(self.app, "min_listeners", self._label)

    def on_resize(self) -> None:
        self._label()

    def _label(self) -> None:
        model, auto = model_label(self.app.preferred, self.current)
        tabs, model = header_labels(self.size.width, self.current, model,
                                    self.app.min_listeners, auto)
        self.query_one("#view-tabs", Static).update(tabs)
        self.query_one("#view-model", Static).update(model)


class StatusLine(Static):
    """One line about running jobs (training, evaluation); hidden when nothing runs."""

    _text = ""

    def on_mount(self) -> None:
        self._ticker = self.set_interval(STATUS_TICK, self.update_status, pause=True)
        self.watch(self.app, "jobs_version", self.update_status)

    def update_status(self) -> None:
        """Redraw; the elapsed times tick only while something runs."""
        now = self.app.clock()
        parts = []
        for job in self.app.jobs.values():
            if not job.running:
                continue
            share = f" {job.fraction:.0%}" if job.fraction else ""
            loss = f" · loss {job.losses[-1]:.4g}" if job.losses else ""
            parts.append(f"[b]{job.title}[/b]{share}{loss} · {job.elapsed(now):.0f} s")
        self.display = bool(parts)
        if parts:
            self._ticker.resume()
            text = "⟳ " + "   ".join(parts) + "   [dim](4: Models)[/dim]"
            if text != self._text:
                # One line of fixed size: no layout of the whole view (tens of ms at 360K
                # artists, four times a second while anything trained).
                self._text = text
                self.update(text, layout=False)
        else:
            self._ticker.pause()


class ViewScreen(Background, Screen):
    """A view: a mode of the app. Subclasses compose their body and draw in :meth:`refresh_view`."""

    VIEW: ClassVar[str]
    #: What was last drawn (subject, models version...): refresh_view skips when unchanged.
    _shown: tuple | None = None
    #: Set once the view's widgets are all mounted.
    _composed = False

    def compose(self) -> ComposeResult:
        yield ViewBar(self.VIEW)
        yield from self.compose_body()
        yield StatusLine(id="status-line")
        yield Footer()

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.watch(self.app, "models_version", self._redraw, init=False)
        self.watch(self.app, "preferred", self._redraw, init=False)
        self.watch(self.app, "min_listeners", self._redraw, init=False)
        self._composed = True
        self.call_after_refresh(self._redraw)

    def on_screen_resume(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        # Not before the widgets are all mounted (on_mount draws then), nor while the app
        # shuts down and removes them (quitting as the loading view gave way crashed here),
        # nor before the data has loaded (the app opens on the Artists view).
        if (self._composed and self.is_current and self.app.is_running
                and self.app.dataset is not None):
            self.refresh_view()

    def refresh_view(self) -> None:
        """Draw from the app's state (once the data is loaded); cheap when nothing this view
        shows has changed."""
        raise NotImplementedError

    def ask(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call the core; a TuiRecsError becomes a notification (and None), never a crash."""
        try:
            return call(*args, **kwargs)
        except TuiRecsError as error:
            self.notify(markup_safe(error), severity="error")
            return None
