"""UI state only: background jobs as the screen shows them and where the user has been.

Nothing here computes a recommendation; the views ask the core for those.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal

from tui_recs.models import registry

if TYPE_CHECKING:
    from tui_recs.pipeline import Stage

JobStatus = Literal["running", "done", "failed", "cancelled"]

#: The views (the app's modes) in key order, 1-4, with their titles.
VIEWS = {"artists": "Artists", "listeners": "Listeners", "compare": "Compare", "models": "Models"}


def model_title(name: str) -> str:
    """How a model is named on screen ("als" -> "ALS"), as the model declares it."""
    return registry.title(name)


#: ``App.preferred`` when no model was chosen: each question is answered by the model measured
#: best at it (``registry.DEFAULTS``: related artists and recommendations may differ).
AUTO = "auto"

#: The question each view asks of the model in use (views without one show both defaults).
VIEW_QUESTIONS = {"artists": "related", "listeners": "recommend"}


def model_for(preferred: str, question: str) -> str:
    """The model answering ``question`` ("related" or "recommend") when ``preferred`` is in
    use: itself, or under :data:`AUTO` the measured default for that question."""
    return registry.default_for(question) if preferred == AUTO else preferred


def model_label(preferred: str, view: str) -> tuple[str, bool]:
    """How the view bar names the model in use in ``view``, and whether it is the measured
    default (:data:`AUTO`): ("ALS", False); under AUTO the default answering there
    ("BM25", True), or "auto" where the view asks neither question (Compare has its own
    pair; the Models view marks the defaults)."""
    if preferred != AUTO:
        return model_title(preferred), False
    question = VIEW_QUESTIONS.get(view)
    return (model_title(model_for(AUTO, question)), True) if question else (AUTO, False)


def startup_models(chosen: Iterable[str] = ()) -> list[str]:
    """The models trained (or loaded from the cache) at start, cheapest first: those trained in
    this process, then the heavy ones that answer by default or were ``chosen`` (the model in
    use, the compared pair), from the last registered to the first, so the model to wait for
    is the last in the loading view and the first to stand in. The other heavy models train
    when first asked for (``m``, Compare, the palette): at the 360K shape each costs tens of
    seconds."""
    names = registry.names()
    wanted = {*(model_for(AUTO, question) for question in ("related", "recommend")), *chosen}
    return ([name for name in names if not registry.model_class(name).trains_in_child]
            + [name for name in reversed(names)
               if registry.model_class(name).trains_in_child and name in wanted])


@dataclass
class Job:
    """Background work as shown on screen: loading the data, training a model, evaluating.

    Workers never touch a Job: they post messages, and the app's handlers update it on the UI
    thread. ``cancel`` is the one thing shared with the worker (the core polls it).
    """

    key: str
    title: str
    started: float
    params: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    stage: str = ""
    #: 0..1, or None while the core reports no fraction (an indeterminate bar).
    fraction: float | None = None
    message: str = "starting…"
    losses: list[float] = field(default_factory=list)
    status: JobStatus = "running"
    finished: float | None = None
    #: Whether the core polls ``cancel`` for this kind of work.
    cancellable: bool = True
    #: Done in a moment (a model in the cache, or a cheap one): the views wait for it rather
    #: than answer with a stand-in model meanwhile.
    quick: bool = False

    #: The stages reported so far, in order (see :meth:`advance`).
    stages: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def advance(self, stage: "Stage") -> bool:
        """Take ``stage`` as the job's state if it moves the job forward: a stage not seen
        before, or the latest one at the same or a larger fraction. Returns whether it did.
        A report from behind is dropped: a model trained in a child process is then looked
        up in the cache again ("looking for a cached als model" after "iteration 15/15")."""
        if stage.name in self.stages and (stage.name != self.stages[-1]
                                          or stage.fraction < (self.fraction or 0.0)):
            return False
        if stage.name not in self.stages:
            self.stages.append(stage.name)
        self.stage, self.fraction, self.message = stage.name, stage.fraction, stage.message
        if stage.loss is not None:
            self.losses.append(stage.loss)
        return True

    def elapsed(self, now: float) -> float:
        """Seconds since the start, frozen once the job has ended."""
        return (self.finished if self.finished is not None else now) - self.started

    def finish(self, status: JobStatus, now: float, message: str | None = None) -> None:
        self.status = status
        self.finished = now
        if status == "done":
            self.fraction = 1.0
        if message is not None:
            self.message = message


class History:
    """The artists opened in the Artists view, newest last, for the back key; with each, the
    row of its related artists the cursor was on (where back puts the cursor again)."""

    def __init__(self) -> None:
        self._items: list[int] = []
        self._rows: list[int] = []

    @property
    def current(self) -> int | None:
        return self._items[-1] if self._items else None

    @property
    def row(self) -> int:
        """The cursor's row in the current artist's list (0 until :meth:`note_row`)."""
        return self._rows[-1] if self._rows else 0

    def note_row(self, row: int) -> None:
        """Remember where the cursor is in the current artist's list."""
        if self._rows:
            self._rows[-1] = row

    def visit(self, item: int) -> None:
        if item != self.current:
            self._items.append(item)
            self._rows.append(0)

    def back(self) -> int | None:
        """Leave the current artist; returns the one before it (None at the start)."""
        if len(self._items) < 2:
            return None
        self._items.pop()
        self._rows.pop()
        return self._items[-1]
