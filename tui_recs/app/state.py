"""UI state only: background jobs as the screen shows them and where the user has been.

Nothing here computes a recommendation; the views ask the core for those.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from tui_recs.models import registry

JobStatus = Literal["running", "done", "failed", "cancelled"]

#: The views (the app's modes) in key order, 1-4, with their titles.
VIEWS = {"artists": "Artists", "listeners": "Listeners", "compare": "Compare", "models": "Models"}


def model_title(name: str) -> str:
    """How a model is named on screen ("als" -> "ALS"), as the model declares it."""
    return registry.title(name)


def startup_models() -> list[str]:
    """The models trained (or loaded from the cache) at start, cheapest first: those trained
    in this process, then the heavy ones from the last registered to the first (the default),
    so the model to wait for is the last in the loading view and the first to stand in."""
    names = registry.names()
    return ([name for name in names if not registry.model_class(name).trains_in_child]
            + [name for name in reversed(names) if registry.model_class(name).trains_in_child])


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

    @property
    def running(self) -> bool:
        return self.status == "running"

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
    """The artists opened in the Artists view, newest last, for the back key."""

    def __init__(self) -> None:
        self._items: list[int] = []

    @property
    def current(self) -> int | None:
        return self._items[-1] if self._items else None

    def visit(self, item: int) -> None:
        if item != self.current:
            self._items.append(item)

    def back(self) -> int | None:
        """Leave the current artist; returns the one before it (None at the start)."""
        if len(self._items) < 2:
            return None
        self._items.pop()
        return self._items[-1]
