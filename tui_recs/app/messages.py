"""Typed messages from thread workers to the UI: the only way background work talks to it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tui_recs.errors import TuiRecsError

if TYPE_CHECKING:
    from tui_recs.pipeline import ReadyModel, Stage
    from tui_recs.search import IdIndex, NameIndex
    from tui_recs.session import Session

    from tui_recs.app.state import Job


def describe_error(error: BaseException) -> str:
    """What a worker reports of a failure, in one line: the core's own message (written for
    people), or the exception's type and text."""
    text = str(error) if isinstance(error, TuiRecsError) else f"{type(error).__name__}: {error}"
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


class DataLoaded(Message):
    """The dataset is loaded (its names are indexed next: :class:`NamesIndexed`)."""

    def __init__(self, job: "Job", session: "Session", first_artist: int | None,
                 to_train: list[str]) -> None:
        super().__init__()
        self.job = job
        #: The session over the loaded data (its dataset is open).
        self.session = session
        #: The most listened artist: the Artists view opens on it.
        self.first_artist = first_artist
        #: The start-up models that the cache lacks, which take a while to train.
        self.to_train = to_train
        #: Set by the UI once the screen shows the loaded data and the jobs it started: the
        #: loader waits for it before indexing the names, work that held the GIL enough to
        #: freeze that screen update for 100-130 ms at the 360K shape.
        self.shown = threading.Event()


class NamesIndexed(Message):
    """Artist names and listener ids of the loaded dataset are searchable."""

    def __init__(self, names: "NameIndex", listener_ids: "IdIndex") -> None:
        super().__init__()
        self.names = names
        self.listener_ids = listener_ids


class JobProgressed(Message):
    """A pipeline stage report for a running job."""

    def __init__(self, job: "Job", stage: "Stage") -> None:
        super().__init__()
        self.job = job
        self.stage = stage


class ModelReady(Message):
    """A model finished training (or came from the cache) and can replace the current one."""

    def __init__(self, job: "Job", ready: "ReadyModel") -> None:
        super().__init__()
        self.job = job
        self.ready = ready


class EvaluationDone(Message):
    """The evaluation table: one row per model, the popularity baseline included."""

    def __init__(self, job: "Job", rows: list[dict[str, Any]], description: str, k: int) -> None:
        super().__init__()
        self.job = job
        self.rows = rows
        self.description = description
        self.k = k


class JobEnded(Message):
    """A job stopped without a result: cancelled, or failed with a one-line error."""

    def __init__(self, job: "Job", status: str, error: str = "") -> None:
        super().__init__()
        self.job = job
        self.status = status
        self.error = error


class Warned(Message):
    """The core warned (a cache entry served from memory, bad rows skipped...): one line."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
