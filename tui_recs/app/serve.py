"""``tui-recs serve``: the app in a web browser, through textual-serve.

Each browser tab that opens the page starts its own app process, ``python -P -m tui_recs``
with the options the server was given (the working directory never on ``sys.path``), whose
terminal is the page. There is no login: whoever can reach the address can use the app, so
the default address is the loopback one.
"""

from __future__ import annotations

import shlex
import sys
from typing import Sequence

from tui_recs.errors import TuiRecsError

#: Addresses that only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServeError(TuiRecsError):
    """The server cannot start (textual-serve missing, the address taken)."""


def app_command(app_args: Sequence[str]) -> str:
    """The shell command textual-serve runs for each page: this Python, isolated from the
    working directory (-P), running the app with ``app_args``. The page is a true-colour
    terminal (xterm.js), which the app learns from COLORTERM."""
    return "COLORTERM=truecolor exec " + shlex.join([sys.executable, "-P", "-m", "tui_recs",
                                                     *app_args])


def serve(app_args: Sequence[str], host: str = "127.0.0.1", port: int = 8000,
          public_url: str | None = None) -> None:
    """Serve the app (started with ``app_args``) at http://host:port/ until interrupted.

    ``public_url``: the address browsers use, where it is not http://host:port (behind a
    proxy, or when listening on 0.0.0.0).

    Raises:
        ServeError: textual-serve is not installed, or host:port cannot be listened on.
    """
    try:
        from textual_serve.server import Server  # the optional 'serve' extra
    except ImportError:
        raise ServeError("tui-recs serve needs textual-serve: pip install 'tui-recs[serve]'"
                         ) from None
    server = Server(app_command(app_args), host=host, port=port, title="tui-recs",
                    public_url=public_url)
    try:
        server.serve()
    except OSError as error:  # the port is taken, or the host is not this machine's
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose "
                         "another --port or --host") from None
