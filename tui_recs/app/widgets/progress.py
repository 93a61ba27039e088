"""A background job as the user sees it: stage, progress bar, elapsed time, loss per iteration."""

from __future__ import annotations

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, ProgressBar, Sparkline

from tui_recs.app.state import Job, model_title
from tui_recs.text import counted, markup_safe

#: How often the elapsed time and the bar are redrawn, in seconds.
TICK = 0.2
STATUS_MARKS = {"done": "✓", "failed": "✗", "cancelled": "–"}


def loss_line(losses: list[float]) -> str:
    """"loss 0.0209 → 0.0155 (15 iterations)" for a loss history."""
    if not losses:
        return ""
    if len(losses) == 1:
        return f"loss {losses[0]:.5g}"
    return f"loss {losses[0]:.4g} → {losses[-1]:.4g} ({counted(len(losses), 'iteration')})"


class Elapsed(Widget):
    """Seconds since a job started: redrawn in place, several times a second, without the
    layout pass that updating a Label costs (~40 ms a screen at 360K-scale start-up)."""

    text: reactive[str] = reactive("")

    def render(self) -> RenderResult:
        return self.text


class JobProgress(Vertical):
    """Progress of the app's job ``key`` ("data", "als", ...), redrawn from the app's state.

    The key can change (the Models view follows the highlighted model); nothing is shown
    while the app has no such job (nor, with ``hide_when_done``, once it has succeeded).
    """

    DEFAULT_CSS = """
    JobProgress { height: auto; }
    JobProgress > Horizontal { height: 1; }
    JobProgress .job-title { width: 14; text-style: bold; }
    JobProgress ProgressBar { width: 1fr; }
    JobProgress ProgressBar Bar { width: 1fr; }
    JobProgress .job-elapsed { width: 9; height: 1; text-align: right; color: $text-muted; }
    JobProgress .job-message { width: 1fr; color: $text-muted; padding-left: 14; }
    JobProgress .job-loss { height: 1; margin-left: 14; }
    JobProgress.-failed .job-message { color: $error; }
    """

    def __init__(self, key: str, *, hide_when_done: bool = False, waits_for: str = "",
                 id: str | None = None) -> None:
        """``waits_for``: the job this one starts after; while that one runs and this one
        has not started, the row says so (otherwise nothing is shown before a job starts)."""
        super().__init__(id=id)
        self.key = key
        self.hide_when_done = hide_when_done
        self.waits_for = waits_for
        #: What each label shows now, by selector.
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(classes="job-title")
            yield ProgressBar(total=None, show_eta=False)
            yield Elapsed(classes="job-elapsed")
        yield Label(classes="job-message")
        yield Sparkline([], classes="job-loss")

    def on_mount(self) -> None:
        self._ticker = self.set_interval(TICK, self.update_from_job, pause=True)
        self.watch(self.app, "jobs_version", self.update_from_job)

    def follow(self, key: str) -> None:
        """Show job ``key`` instead."""
        self.key = key
        self.update_from_job()

    def update_from_job(self) -> None:
        """Redraw from the job; the elapsed time ticks only while it runs."""
        job: Job | None = self.app.jobs.get(self.key)
        if job is None:
            before: Job | None = self.app.jobs.get(self.waits_for)
            self.display = before is not None and before.running
            if self.display:
                self._label(".job-title", model_title(self.key))
                self._label(".job-message", f"waits for the {before.title}")
                self.query_one(ProgressBar).update(total=1.0, progress=0.0)
                self.query_one(Sparkline).display = False
            return
        self.display = not (self.hide_when_done and job.status == "done")
        if job.running:
            self._ticker.resume()
        else:
            self._ticker.pause()
        mark = STATUS_MARKS.get(job.status, "")
        self._label(".job-title", f"{job.title} {mark}".rstrip())
        bar = self.query_one(ProgressBar)
        if job.fraction:
            bar.update(total=1.0, progress=job.fraction)
        elif job.status != "running":
            bar.update(total=1.0, progress=1.0 if job.status == "done" else 0.0)
        else:
            bar.update(total=None)
        self.query_one(Elapsed).text = f"{job.elapsed(self.app.clock()):.1f} s"
        self._label(".job-message", job.message)
        self.set_class(job.status == "failed", "-failed")
        sparkline = self.query_one(Sparkline)
        sparkline.display = len(job.losses) > 1
        if len(job.losses) > 1 and list(sparkline.data or []) != job.losses:
            sparkline.data = list(job.losses)

    def _label(self, selector: str, text: str) -> None:
        """Update a label only when its text changes (each update lays the screen out again)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Label).update(markup_safe(text))
