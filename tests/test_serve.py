"""``tui-recs serve`` for real: the server on 127.0.0.1, headless Chromium on its page (driven
through the DevTools protocol), an artist typed into the page's terminal, and its related
artists read back from the terminal's screen buffer (xterm.js). A screenshot is saved when
the expected text does not appear.

Chromium is Debian's ``chromium`` (``.ci/run`` installs it). Outside CI (no ``CI=true``) the
test is skipped where it is missing; in CI it fails instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for a quiet, private, headless browser that reaches nothing but the test server.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--remote-debugging-port=0", "--window-size=1280,800"]
#: Run before the page's scripts: keeps the page's xterm.js Terminal, which its script holds
#: in a closure, as window.__xterm (its owner assigns ``this.terminal = new Terminal(...)``).
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    if (value && value.buffer && !window.__xterm) { window.__xterm = value; }
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true,
                                             enumerable: true});
  },
});
"""
#: The terminal's screen, one string per row.
SCREEN = """
(() => {
  const term = window.__xterm;
  if (!term) { return ""; }
  const buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tui_recs(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUI_RECS_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-P", "-m", "tui_recs", *args], capture_output=True,
                          text=True, env=env, timeout=300)


class DevTools:
    """A minimal DevTools-protocol client over one page's websocket (aiohttp)."""

    def __init__(self, websocket) -> None:
        self.websocket = websocket
        self.next_id = 0

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.websocket.send_json({"id": self.next_id, "method": method, "params": params})
        while True:  # events come in between: skip them
            message = json.loads((await self.websocket.receive(timeout=30)).data)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def screen(self) -> str:
        return await self.evaluate(SCREEN) or ""

    async def wait_for(self, predicate, what: str, timeout: float, shot: Path) -> str:
        """The screen once ``predicate(screen)`` holds; on timeout a screenshot at ``shot``
        and a failure showing the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = await self.screen()
            if predicate(screen):
                return screen
            await asyncio.sleep(0.25)
        picture = await self.call("Page.captureScreenshot", format="png")
        shot.write_bytes(base64.b64decode(picture["data"]))
        pytest.fail(f"{what} did not appear in the page's terminal within {timeout:.0f} s "
                    f"(screenshot: {shot}); it showed:\n{screen}")

    async def type_text(self, text: str) -> None:
        await self.call("Input.insertText", text=text)

    async def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                            windowsVirtualKeyCode=13, nativeVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}))


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: .ci/run installs Debian's package "
                        "(apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


def start(command: list[str], **options) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, **options)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)  # the server and the app processes it started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def wait_until_listening(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"tui-recs serve exited: {server.stderr.read().decode()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"tui-recs serve did not listen on 127.0.0.1:{port} within {timeout} s")


def devtools_port(profile: Path, browser: subprocess.Popen, timeout: float = 30) -> int:
    """The port Chromium chose (--remote-debugging-port=0), from its DevToolsActivePort file."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            pytest.fail(f"chromium exited: {browser.stderr.read().decode()[-2000:]}")
        if marker.is_file() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.1)
    pytest.fail("chromium did not open its DevTools port")


def test_the_served_app_gets_the_app_options():
    from tui_recs import cli
    from tui_recs.app.serve import app_command

    args = cli.build_parser(["serve"]).parse_args(
        ["--data", "my plays.csv", "--no-mouse", "serve", "--port", "9000", "--cache-dir", "c",
         "--encoding", "latin-1"])
    assert cli._app_argv(args) == ["--no-mouse", "--data", "my plays.csv", "--encoding",
                                   "iso8859-1", "--cache-dir", "c"]
    command = app_command(cli._app_argv(args))
    assert command.startswith("COLORTERM=truecolor exec ") and " -P -m tui_recs " in command
    assert "'my plays.csv'" in command  # quoted for the shell textual-serve runs it in


@pytest.mark.slow
async def test_the_app_in_a_browser_shows_related_artists(chromium, small_plays_csv, tmp_path):
    import aiohttp

    from tui_recs.app.state import startup_models

    cache = tmp_path / "cache"
    artist = "artist 12"
    expected = json.loads(tui_recs("--data", str(small_plays_csv), "related", artist, "-n", "3",
                                   "--json", cache=cache).stdout)["results"]
    for model in startup_models():  # the app starts on the cache, as on a second start
        assert tui_recs("--data", str(small_plays_csv), "train", "--model", model,
                        cache=cache).returncode == 0
    port = free_port()
    server = start([sys.executable, "-P", "-m", "tui_recs", "--data", str(small_plays_csv),
                    "--cache-dir", str(cache), "serve", "--host", "127.0.0.1", "--port",
                    str(port)])
    profile = tmp_path / "chromium-profile"
    browser = start([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"])
    try:
        wait_until_listening(port, server)
        debug = devtools_port(profile, browser)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{debug}/json/list") as answer:
                pages = [page for page in await answer.json() if page["type"] == "page"]
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tools = DevTools(ws)
                await tools.call("Network.enable")
                # The page asks Google for a web font: fail that at once (no network here).
                await tools.call("Network.setBlockedURLs", urls=["*fonts.googleapis.com*"])
                await tools.call("Page.enable")
                await tools.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_TERMINAL)
                await tools.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
                shot = tmp_path / "serve-failure.png"
                await tools.wait_for(lambda screen: "Artists" in screen and "Compare" in screen,
                                     "the app's Artists view", 90, shot)
                await tools.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
                await tools.type_text(artist)
                found = re.compile(rf"^{artist}\s+\d+", re.MULTILINE)  # the first search hit
                await tools.wait_for(found.search, f"the search hit {artist!r}", 30, shot)
                await tools.press_enter()
                # The related-artists table: "▕ 1    artist 26    0.258 ..." per row.
                ranks = [rf"▕ {rank}\s+{re.escape(row['artist'])}\s" for rank, row in
                         enumerate(expected, 1)]
                screen = await tools.wait_for(
                    lambda screen: f"Related to {artist}" in screen and all(
                        re.search(rank, screen) for rank in ranks),
                    f"the related artists of {artist}, as the command line ranks them: "
                    f"{[row['artist'] for row in expected]}", 60, shot)
                assert "listeners" in screen  # the artist's details beside them
    finally:
        stop(browser)
        stop(server)


def test_a_taken_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tui_recs("serve", "--port", str(port), cache=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line and "address already in use" in line
