"""Quitting at once when the terminal goes away (a dropped SSH connection, a closed window).

The terminal then hangs up: the kernel sends SIGHUP, and reading the terminal returns
nothing, at once and forever. Left alone, SIGHUP kills the app where it stands (its training
processes have to notice by themselves), and where it is ignored textual's input thread
spins on the empty reads. Here either quits the app as ``q`` does: training is cancelled,
its processes are stopped, and the app exits.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

#: How often the watcher looks for a hang-up signal and for the app having started (s).
POLL = 0.1
#: poll() on a macOS terminal reports POLLNVAL, always: there only SIGHUP tells.
CAN_POLL_TERMINAL = hasattr(select, "poll") and sys.platform != "darwin"


@contextmanager
def quit_when_terminal_lost(app: Any, fd: int = 0) -> Iterator[None]:
    """While inside (around ``app.run()``, on the main thread), a SIGHUP or a hang-up of the
    terminal on ``fd`` quits ``app``, a textual App, through its ``action_quit``."""
    hung_up = threading.Event()
    finished = threading.Event()
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: hung_up.set())
    threading.Thread(target=_watch, args=(app, fd, hung_up, finished), daemon=True,
                     name="tui-recs-hangup").start()
    try:
        yield
    finally:
        finished.set()
        signal.signal(signal.SIGHUP, previous)


def _watch(app: Any, fd: int, hung_up: threading.Event, finished: threading.Event) -> None:
    poller = None
    if CAN_POLL_TERMINAL:
        poller = select.poll()
        poller.register(fd, 0)  # no events asked: only hang-ups and errors are reported
    while not finished.is_set():
        if poller is not None and poller.poll(POLL * 1000):
            _discard_output()
            break
        if hung_up.wait(0 if poller is not None else POLL):
            break
    while not finished.is_set():
        if app.is_running:
            try:
                app.call_from_thread(app.action_quit)
            except RuntimeError:  # it stopped meanwhile
                pass
            return
        time.sleep(POLL)  # the hang-up came while the app was starting


def _discard_output() -> None:
    """Send what the app still writes (its last frames, the terminal reset on exit) nowhere:
    writing to a hung-up terminal fails, and textual's writer thread, once it has failed,
    leaves the app waiting on its full queue for good."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):  # textual draws on stderr
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)
