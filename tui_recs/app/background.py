"""Core queries that may take a while, run off the UI thread; only the newest result shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from textual.message import Message

from tui_recs.app.messages import describe_error
from tui_recs.text import markup_safe

T = TypeVar("T")


class Computed(Message, bubble=False):
    """The result (or the one-line error) of a query started by :meth:`Background.compute`."""

    def __init__(self, group: str, serial: int, result: Any = None, error: str = "") -> None:
        super().__init__()
        self.group = group
        self.serial = serial
        self.result = result
        self.error = error


@dataclass
class _Group:
    newest: int = 0
    #: The newest query whose result was shown (or dropped).
    settled: int = 0
    show: Callable[[Any], None] | None = None


class Background:
    """Mixin for a screen or widget: run a query (an ALS explanation, a fold-in, a name search)
    in a thread worker and show its result on the UI thread, unless a newer query of the same
    group was started meanwhile. Failures become notifications, never crashes."""

    def _group(self, group: str) -> _Group:
        return self.__dict__.setdefault("_background_groups", {}).setdefault(group, _Group())

    def compute(self, group: str, call: Callable[[], T], show: Callable[[T], None]) -> None:
        state = self._group(group)
        state.newest += 1
        state.show = show
        serial = state.newest

        def work() -> None:
            try:
                result = call()
            except Exception as error:  # reported on screen
                self.post_message(Computed(group, serial, error=describe_error(error)))
            else:
                self.post_message(Computed(group, serial, result))

        self.run_worker(work, group=group, exclusive=True, thread=True, exit_on_error=False)

    def discard(self, group: str) -> None:
        """Drop the result of the query of ``group`` that is on its way, if any."""
        state = self._group(group)
        state.newest += 1
        state.settled = state.newest

    def pending(self, group: str) -> bool:
        """Whether the newest query of ``group`` has yet to show its result."""
        state = self._group(group)
        return state.settled != state.newest

    def on_computed(self, message: Computed) -> None:
        state = self._group(message.group)
        if message.serial != state.newest:
            return  # a newer query of the group is on its way
        state.settled = message.serial
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
        elif state.show is not None:
            state.show(message.result)
