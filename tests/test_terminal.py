"""The UI and its terminal: no UI without one, the colours it declares, a header that fits,
and quitting at once (training processes included) when the terminal goes away."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from test_app import make_app, settle
from tui_recs.app import show_as
from tui_recs.app.state import AUTO, model_label
from tui_recs.app.terminal import (DUMB_TERMINAL, NO_TERMINAL, Display, display_for,
                                   refusal)
from tui_recs.app.terminfo import MAGIC_16, MAGIC_32, parse_colours, terminfo_colours
from tui_recs.app.views.base import header_labels

ON_LINUX = sys.platform.startswith("linux")


# ------------------------------------------------------------------ may the UI start here?
@pytest.mark.parametrize("stdin, stdout", [(False, True), (True, False), (False, False)])
def test_no_ui_without_a_terminal_on_stdin_and_stdout(stdin, stdout):
    assert refusal(stdin, stdout, {"TERM": "xterm-256color"}) == NO_TERMINAL


def test_no_ui_on_a_dumb_terminal():
    assert refusal(True, True, {"TERM": "dumb"}) == DUMB_TERMINAL
    assert "TERM=" in DUMB_TERMINAL and "\n" not in DUMB_TERMINAL


@pytest.mark.parametrize("term", ["xterm-256color", "vt100", "linux", ""])
def test_the_ui_starts_on_a_terminal(term):
    assert refusal(True, True, {"TERM": term}) is None


# ----------------------------------------------------------------------------- colours
@pytest.mark.parametrize("env, terminfo, colours", [
    ({"TERM": "vt100"}, 0, None),
    ({"TERM": "xterm"}, 8, "standard"),
    ({"TERM": "xterm-256color"}, 256, "256"),
    ({"TERM": "xterm-direct"}, 1 << 24, "truecolor"),
    ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, 256, "truecolor"),
    ({"TERM": "xterm-256color", "COLORTERM": "24bit"}, 256, "truecolor"),
    ({"TERM": "vt100", "COLORTERM": "truecolor"}, 0, "truecolor"),
    ({"TERM": "xterm-256color", "COLORTERM": "yes"}, 256, "256"),
    ({"TERM": "vt100", "TEXTUAL_COLOR_SYSTEM": "256"}, 0, "256"),
    ({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "auto"}, 8, "standard"),
    # A TERM the terminfo database lacks: its name tells.
    ({"TERM": "vt220"}, None, None),
    ({"TERM": "vt100-am"}, None, None),
    ({"TERM": "foot-mono"}, None, None),
    ({"TERM": "alacritty-direct"}, None, "truecolor"),
    ({"TERM": "foot-256color"}, None, "256"),
    ({"TERM": "foot"}, None, "standard"),
    ({}, None, "standard"),
])
def test_the_colours_are_what_the_terminal_declares(env, terminfo, colours):
    display = display_for(env, terminfo)
    assert display.colours == colours
    assert display.textual_colour_system == (colours or "standard")
    assert display.no_color is False


@pytest.mark.parametrize("colours, plain", [(None, True), ("standard", True), ("256", False),
                                            ("truecolor", False)])
def test_the_highlight_is_plain_where_colour_is_scarce(colours, plain):
    assert Display(colours).plain_highlight is plain
    assert Display(colours, no_color=True).plain_highlight is True


@pytest.mark.parametrize("value", ["1", ""])
def test_no_color_counts_when_present_as_textual_reads_it(value):
    display = display_for({"TERM": "xterm-256color", "NO_COLOR": value}, 256)
    assert display.no_color and display.plain_highlight and display.colours == "256"


def _entry(colours: int | None, *, wide: bool = False, names: bytes = b"test|a test\0",
           booleans: int = 3) -> bytes:
    """A compiled terminfo entry with ``colors`` = ``colours`` (None: fewer numbers)."""
    count = 15 if colours is not None else 5
    numbers = [-1] * count
    if colours is not None:
        numbers[13] = colours
    header = struct.pack("<6h", MAGIC_32 if wide else MAGIC_16, len(names), booleans, count, 0, 0)
    body = names + b"\1" * booleans + b"\0" * ((len(names) + booleans) % 2)
    return header + body + struct.pack(f"<{count}{'i' if wide else 'h'}", *numbers)


@pytest.mark.parametrize("entry, colours", [
    (_entry(256), 256), (_entry(8, booleans=4), 8), (_entry(1 << 24, wide=True), 1 << 24),
    (_entry(-1), 0), (_entry(-2), 0), (_entry(None), 0),
    (b"not a terminfo entry", None), (b"", None), (_entry(256)[:-4], None),
])
def test_terminfo_entries_are_parsed(entry, colours):
    assert parse_colours(entry) == colours


def test_terminfo_is_looked_up_like_ncurses(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "xterm-test").write_bytes(_entry(256))
    (tmp_path / "76").mkdir()  # macOS names the directory by the letter's hex code
    (tmp_path / "76" / "vt-test").write_bytes(_entry(-1))
    env = {"TERMINFO": str(tmp_path)}
    assert terminfo_colours("xterm-test", env) == 256
    assert terminfo_colours("vt-test", env) == 0
    assert terminfo_colours("no-such-terminal", env) is None
    assert terminfo_colours("../x/xterm-test", env) is None, "TERM is a name, not a path"
    assert terminfo_colours("", env) is None
    assert terminfo_colours("xterm-test", {"TERMINFO_DIRS": f"/nonexistent:{tmp_path}"}) == 256


# ------------------------------------------------------------------------------ header
@pytest.mark.parametrize("width", [16, 20, 30, 40, 53, 60, 68, 69, 80, 200])
def test_the_header_labels_fit_the_width(width):
    from textual.content import Content

    for current in ("artists", "listeners", "compare", "models"):
        tabs, model = header_labels(width, current, "ALS")
        used = Content.from_markup(tabs).cell_length + Content.from_markup(model).cell_length + 1
        assert used <= width
        assert "ALS" in model and all(f" {n} " in Content.from_markup(tabs).plain for n in "1234")
    assert ("tui-recs" in header_labels(width, "artists", "ALS")[0]) is (width >= 69)
    if width >= 40:  # the measured defaults, named per view
        for current in ("artists", "listeners", "compare", "models"):
            label, auto = model_label(AUTO, current)
            tabs, model = header_labels(width, current, label, auto=auto)
            used = Content.from_markup(tabs).cell_length + Content.from_markup(model).cell_length
            assert used + 1 <= width and "auto" in Content.from_markup(model).plain


async def test_the_header_never_overlaps(tmp_path):
    """From 24 columns each part of the header shows whole, with a blank column between
    (longer model names such as "BM25 kNN" need the 24)."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for view in "1234":
            await pilot.press("escape", view)
            for width, height in ((24, 6), (40, 12), (60, 20), (80, 24), (110, 30), (160, 40)):
                await pilot.resize_terminal(width, height)
                await pilot.pause()
                await pilot.pause()
                parts = [widget for widget in app.screen.query("#view-bar Static")
                         if widget.display]
                spans = []
                for widget in parts:
                    text = widget.render().plain.rstrip()
                    region = widget.content_region
                    assert len(text) <= region.width, (width, widget.id, text)
                    spans.append((region.x, region.x + len(text)))
                spans.sort()
                for (_, end), (start, _) in zip(spans, spans[1:]):
                    assert end < start, (width, view, spans, [w.render().plain for w in parts])
                line = app.screen._compositor.render_strips()[0].text
                assert ("BM25" in line or "ALS" in line or "auto" in line) and all(
                    f" {n} " in line for n in "1234"), line


# ---------------------------------------------------------------------- highlight styles
@pytest.mark.parametrize("display, plain", [(Display("standard"), True), (Display(None), True),
                                            (Display("256"), False)])
async def test_the_cursor_row_is_in_reverse_video_where_colour_is_scarce(tmp_path, display,
                                                                         plain):
    app = make_app(tmp_path)
    show_as(app, display)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        cursor = app.screen.query_one("#related").get_component_rich_style("datatable--cursor")
        assert bool(cursor.reverse) is plain
        # An option list draws no reverse video: its highlight swaps the colours.
        options = app.screen.query_one("OptionList")
        normal = options.get_visual_style("option-list--option")
        highlight = options.get_visual_style("option-list--option",
                                             "option-list--option-highlighted")
        assert (highlight.background == normal.foreground) is plain
        assert bool(highlight.bold and highlight.underline) is plain
        colourless = any(type(f).__name__ == "NoColor" for f in app.get_line_filters())
        assert colourless is (display.colours is None)


# ------------------------------------------------------------------- end to end, in a pty
def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("NO_COLOR", "COLORTERM", "TEXTUAL_COLOR_SYSTEM", "TUI_RECS_DEBUG",
                          "TUI_RECS_CACHE_DIR")}
    env.update(TERM="xterm-256color", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache-home"))
    env.update(extra)
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui_recs", *args]


def test_without_a_terminal_the_command_says_so_and_exits_2(tmp_path):
    """``tui-recs </dev/null`` with stdout to a pipe, as ``ssh host tui-recs`` without -t."""
    result = subprocess.run(_command(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            env=_environment(tmp_path), cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr == NO_TERMINAL + "\n" and result.stdout == ""


def test_the_check_comes_before_textual_is_imported(tmp_path):
    code = ("import sys; from tui_recs.cli import main; code = main([]); "
            "print('textual' in sys.modules); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=_environment(tmp_path),
                            cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (2, "False\n")


class Pty:
    """A pseudo-terminal of ``columns`` × ``rows``; what the program writes is collected."""

    def __init__(self, columns: int = 80, rows: int = 24) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("4H", rows, columns, 0, 0))
        self.output = bytearray()
        self._reader: threading.Thread | None = None

    def start_reading(self) -> None:
        os.close(self.slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)

    def wait_for(self, pattern: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while pattern not in self.output:
            assert time.monotonic() < deadline, f"{pattern!r} not drawn: {bytes(self.output[-500:])!r}"
            time.sleep(0.05)

    def close(self) -> None:
        os.close(self.master)


@pytest.mark.parametrize("stdin_tty, stdout_tty", [(True, False), (False, True)])
def test_half_a_terminal_is_no_terminal(tmp_path, stdin_tty, stdout_tty):
    terminal = Pty()
    try:
        result = subprocess.run(_command(), stdin=terminal.slave if stdin_tty else subprocess.DEVNULL,
                                stdout=terminal.slave if stdout_tty else subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_environment(tmp_path), cwd=tmp_path,
                                timeout=60)
    finally:
        os.close(terminal.slave)
        terminal.close()
    assert result.returncode == 2 and result.stderr.decode() == NO_TERMINAL + "\n"


def test_a_dumb_terminal_is_refused_with_a_hint(tmp_path):
    terminal = Pty()
    try:
        result = subprocess.run(_command(), stdin=terminal.slave, stdout=terminal.slave,
                                stderr=subprocess.PIPE, env=_environment(tmp_path, TERM="dumb"),
                                cwd=tmp_path, timeout=60)
    finally:
        os.close(terminal.slave)
        terminal.close()
    assert result.returncode == 2 and result.stderr.decode() == DUMB_TERMINAL + "\n"


def _start(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen, Pty]:
    terminal = Pty()
    process = subprocess.Popen(_command(*args), stdin=terminal.slave, stdout=terminal.slave,
                               stderr=terminal.slave, env=_environment(tmp_path, **env),
                               cwd=tmp_path, start_new_session=True)
    terminal.start_reading()
    return process, terminal


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie no longer does)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not ON_LINUX, reason="reads /proc for the training processes")
@pytest.mark.parametrize("how", ["terminal closed", "SIGHUP"])
def test_losing_the_terminal_quits_at_once_and_stops_training(tmp_path, how):
    """The demo data and an empty cache: LSA and ALS train in processes of their own."""
    process, terminal = _start(tmp_path, "--cache-dir", str(tmp_path / "cache"))
    try:
        terminal.wait_for(b"Quit")  # the app draws (its footer)
        deadline = time.monotonic() + 60
        while not (children := _children(process.pid)):
            assert time.monotonic() < deadline and process.poll() is None, "nothing trains"
            time.sleep(0.05)
        if how == "SIGHUP":
            process.send_signal(signal.SIGHUP)
        else:
            terminal.close()
        started = time.monotonic()
        process.wait(timeout=10)
        seconds = time.monotonic() - started
        assert seconds < 5, f"the app took {seconds:.1f} s to quit"
        assert process.returncode == 0, "it quit as q does (not killed by the signal)"
        if how == "SIGHUP":  # the terminal is still there: it is left as it was
            terminal.wait_for(b"\x1b[?1049l", timeout=5)
        deadline = time.monotonic() + 5
        while any(_alive(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(child) for child in children), "a training process was left"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if how == "SIGHUP":
            terminal.close()


def _sgr_parameters(output: bytes) -> list[set[int]]:
    """The parameters of each Select Graphic Rendition sequence in ``output``."""
    return [{int(p) for p in params.split(b";") if p}
            for params in re.findall(rb"\x1b\[([0-9;]*)m", output)]


#: SGR parameters that set a colour (39 and 49, the terminal's default colours, set none).
COLOURS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """A folder with a small plays file and a cache that the first app start fills."""
    folder = tmp_path_factory.mktemp("small")
    (folder / "plays.csv").write_text("user,artist,plays\n" + "".join(
        f"u{user},artist {(user * 7 + k) % 40},{k + 1}\n" for user in range(60) for k in range(8)),
        encoding="utf-8")
    return folder


@pytest.mark.parametrize("env, colours", [
    ({"TERM": "vt100"}, None),
    ({"TERM": "xterm-256color"}, "256"),
    ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "truecolor"),
])
def test_the_app_draws_in_the_colours_the_terminal_declares(small_data, env, colours):
    process, terminal = _start(small_data, "--data", str(small_data / "plays.csv"),
                               "--cache-dir", str(small_data / "cache"), **env)
    try:
        terminal.wait_for(b"Artists")  # the loading view gave way: a table with its cursor
        time.sleep(0.5)
        os.write(terminal.master, b"\x11")  # ctrl+q
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        terminal.close()
    output = bytes(terminal.output)
    sequences = _sgr_parameters(output)
    assert sequences, "nothing was drawn"
    if colours is None:
        assert not any(params & COLOURS for params in sequences), "colour on a vt100"
        assert any(7 in params for params in sequences), "reverse video is kept"
    else:
        assert (b"38;5;" in output) is (colours == "256")
        assert (b"38;2;" in output) is (colours == "truecolor")
