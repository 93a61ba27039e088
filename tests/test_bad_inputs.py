"""The bad-input and fault corpus (issue #16): every case a line, each run end to end.

Each case asserts the exit code, a one-line message naming the file, flag or value, no
traceback, no terminal control code on the terminal, and what the cache holds afterwards.
The command line runs in-process (``tui_recs.cli.main``) on tiny data; subprocesses only
where a case needs one (kill -9, concurrent builders, a would-be segfault).

Families (counts are asserted at the end of the file): hostile text from data, input files,
hyperparameters and options (declared with the models, #13: strict xfail until then), cache
corruption (random bytes at seeded offsets), crafted cache entries (checksums recomputed),
kill -9 during writes, concurrent builds, unwritable caches, traversal keys, pickle planting,
symlinks in the cache, full disks, code from the working directory.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import json
import lzma
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tui_recs.cache import ArtifactStore
from tui_recs.cache.checksum import file_checksum
from tui_recs.cli import main
from tui_recs.text import REPLACEMENT, printable

ROOT = Path(__file__).resolve().parents[1]
#: Characters that must never reach the terminal from data.
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\x7f")
ARTISTS = [f"Artist {letter}" for letter in "ABCDEFGHIJKLMNOP"]
FAST_ALS = ["--factors", "4", "--iterations", "2"]


# ----------------------------------------------------------------------------- helpers
def plays_rows(names: list[str], users: int = 24) -> list[tuple[str, str, int]]:
    """Deterministic (user, artist, plays): each listener plays 8 artists, every artist is
    played, a few listeners share tastes so that models have something to learn."""
    rng = random.Random(0)
    rows = []
    for user in range(users):
        for name in rng.sample(names, min(8, len(names))):
            rows.append((f"u{user}", name, rng.randint(1, 50)))
    for position, name in enumerate(names):  # every artist has a listener
        rows.append((f"u{position % users}", name, 3))
    return rows


def write_tsv(path: Path, names: list[str] = ARTISTS, rows=None, header: bool = True) -> Path:
    rows = plays_rows(names) if rows is None else rows
    lines = (["user\tartist\tplays"] if header else []) + [f"{u}\t{a}\t{p}" for u, a, p in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``tui-recs argv`` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """The stderr lines that are not warnings."""
    return [line for line in err.splitlines() if line and not line.startswith("tui-recs: warning")]


def assert_clean(out: str, err: str) -> None:
    """No traceback, no raw control code, at most one error line."""
    assert "Traceback" not in err and "Traceback" not in out, err
    for code in RAW_CONTROLS:
        assert code not in out and code not in err, (code, out, err)
    assert len(error_lines(err)) <= 1, err


def assert_fails(result: tuple[int, str, str], code: int, *named: str) -> str:
    """Exit ``code`` with one error line naming each of ``named``; returns the line."""
    exit_code, out, err = result
    assert_clean(out, err)
    lines = error_lines(err)
    assert exit_code == code and len(lines) == 1, (exit_code, out, err)
    for text in named:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def entries(cache: Path) -> list[str]:
    """Kinds of the complete entries in ``cache``, each verified, sorted."""
    store = ArtifactStore(cache)
    found = store.entries()
    for entry in found:
        assert store.lookup(entry.kind, entry.inputs, verify=True) is not None, entry.key
    return sorted(entry.kind for entry in found)


def hidden_leftovers(cache: Path) -> list[str]:
    """Temporary or trash directories left in the cache's kind directories."""
    if not cache.is_dir():
        return []
    return sorted(f"{kind.name}/{child.name}" for kind in cache.iterdir() if kind.is_dir()
                  for child in kind.iterdir() if child.name.startswith((".tmp-", ".trash-")))


def entry_dir(cache: Path, kind: str) -> Path:
    (found,) = [p for p in (cache / kind).iterdir() if p.is_dir() and not p.name.startswith(".")]
    return found


def reseal(entry: Path) -> None:
    """Recompute the manifest's sizes and checksums: a crafted entry, not a damaged one."""
    manifest = json.loads((entry / "manifest.json").read_text())
    for name in manifest["files"]:
        file = entry / name
        if file.is_file() and not file.is_symlink():
            manifest["files"][name] = {"size": file.stat().st_size, "crc32": file_checksum(file)}
    (entry / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def data(tmp_path) -> Path:
    return write_tsv(tmp_path / "plays.tsv")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("TUI_RECS_DEBUG", raising=False)
    monkeypatch.delenv("TUI_RECS_CACHE_DIR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # Rich cuts long cells to the width it sees


# ------------------------------------------------------------------ hostile text from data
HOSTILE_NAMES = {
    "markup-close": "[/]",
    "markup-style": "[bold red]x[/]",
    "markup-link": "[link=file:///etc/passwd]click[/link]",
    "markup-variable": "[$accent]v[/]",
    "markup-upper": "[B]x[/B]",
    "markup-action": "[@click=app.quit]q[/]",
    "trailing-backslash": "back\\",
    "escape-clear": "\x1b[2J\x1b[Hwiped",
    "escape-title": "a\x1b]0;T\x07b",
    "c1-csi": "c1\x9b31mx",
    "delete": "del\x7fete",
    "bidi-override": "\u202eevil\u202c",
    "bell-and-backspace": "ring\x07\x08",
}
TEXT_COMMANDS = {
    "info": ["info", "--top", "20"],
    "related": ["related", "Artist A", "-n", "20", "--model", "popularity"],
    "recommend": ["recommend", "u0", "-n", "20", "--model", "popularity"],
    "compare": ["compare", "Artist A", "--models", "popularity,als", "-n", "20", *FAST_ALS],
}


@pytest.mark.parametrize("command", TEXT_COMMANDS)
@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_names_are_shown_as_text(tmp_path, capsys, name, command):
    data = write_tsv(tmp_path / "plays.tsv", ARTISTS[:10] + [name])
    code, out, err = run(capsys, "--data", str(data), "--no-cache", *TEXT_COMMANDS[command])
    assert code == 0, err
    assert_clean(out, err)
    assert printable(name) in out


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_json_keeps_hostile_names_exact(tmp_path, capsys, name):
    data = write_tsv(tmp_path / "plays.tsv", ARTISTS[:10] + [name])
    code, out, err = run(capsys, "--data", str(data), "--no-cache", "info", "--json", "--top", "20")
    assert code == 0, err
    assert name in [row["artist"] for row in json.loads(out)["top_artists"]]


HOSTILE_FILE_NAMES = {"markup": "[red]p.tsv", "variable": "[$accent]p.tsv", "escape": "\x1b[2Jp.tsv",
                      "bidi": "a\u202eb.tsv"}


@pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES.values(), ids=HOSTILE_FILE_NAMES.keys())
def test_hostile_file_names_are_shown_as_text(tmp_path, capsys, cache, file_name):
    data = write_tsv(tmp_path / file_name)
    code, out, err = run(capsys, "--data", str(data), "--cache-dir", str(cache), "info")
    assert code == 0 and printable(file_name) in out
    assert_clean(out, err)
    code, out, err = run(capsys, "cache", "list", "--cache-dir", str(cache))
    assert code == 0 and "1 entries" in out
    assert_clean(out, err)
    assert entries(cache) == ["dataset"]


@pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES.values(), ids=HOSTILE_FILE_NAMES.keys())
def test_errors_name_hostile_paths_as_text(tmp_path, capsys, cache, file_name):
    missing = tmp_path / file_name
    assert_fails(run(capsys, "--data", str(missing), "--cache-dir", str(cache), "info"), 1,
                 printable(file_name), "no such file")
    assert entries(cache) == []


# ------------------------------------------------------------------------------ input files
def good_rows(count: int = 40) -> list[tuple[str, str, object]]:
    return [(f"u{i % 9}", ARTISTS[i % 12], i % 7 + 1) for i in range(count)]


def with_plays(*plays: object, good: int = 0) -> list[tuple[str, str, object]]:
    """``good`` good rows, then one row per value of ``plays`` (distinct pairs)."""
    return good_rows(good) + [(f"x{i}", f"Bad {i}", value) for i, value in enumerate(plays)]


def write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def tsv_bytes(rows, header: bool = True) -> bytes:
    lines = (["user\tartist\tplays"] if header else []) + [f"{u}\t{a}\t{p}" for u, a, p in rows]
    return ("\n".join(lines) + "\n").encode()


SHA = "0" * 39
LASTFM = "".join(f"{SHA}{i % 5}\t\tArtist {i % 7}\t{i + 1}\n" for i in range(30)).encode()
#: id -> (make the data path in a folder, extra options, exit code, texts the error names).
INPUT_ERRORS = {
    "all-zero-plays": (lambda d: write_tsv(d / "z.tsv", rows=with_plays(0, 0, 0)), [], 1, ["z.tsv", "nothing left", "0 plays"]),
    "all-1e-300-plays": (lambda d: write_tsv(d / "t.tsv", rows=with_plays("1e-300", "1e-300")), [], 1, ["t.tsv", "nothing left", "float32"]),
    "zero-and-subnormal": (lambda d: write_tsv(d / "t.tsv", rows=with_plays(0, "1e-46", 0)), [], 1, ["t.tsv", "nothing left"]),
    "plays-1e39": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("1e39", "1e39", 3)), [], 1, ["b.tsv:2", "'1e39'", "float32 maximum"]),
    "plays-1e300": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("1e300", "1e300")), [], 1, ["b.tsv:2", "'1e300'"]),
    "plays-inf": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("inf", "inf")), [], 1, ["b.tsv:2", "'inf'", "not finite"]),
    "plays-infinity": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("Infinity", "Infinity")), [], 1, ["'Infinity'"]),
    "plays-minus-inf": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("-inf", "-inf")), [], 1, ["'-inf'", "negative"]),
    "plays-nan": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("nan", "nan")), [], 1, ["'nan'", "not a number"]),
    "pair-sums-past-float32": (lambda d: write_tsv(d / "s.tsv", rows=[("u", "a", "3e38"), ("u", "a", "3e38"), ("v", "a", 2)]), [], 1, ["s.tsv:2", "sum past the float32 maximum"]),
    "nul-tail": (lambda d: write_bytes(d / "n.tsv", tsv_bytes(good_rows(5)) + b"\0" * 200_000), [], 1, ["n.tsv:7", "binary data", "byte"]),
    "nul-run-first": (lambda d: write_bytes(d / "n.tsv", b"\0" * 64 + tsv_bytes(good_rows(5))), [], 1, ["n.tsv:1", "binary data"]),
    "nul-run-inside": (lambda d: write_bytes(d / "n.tsv", tsv_bytes(good_rows(3)) + b"u\t" + b"\0" * 32 + b"\t3\n"), [], 1, ["n.tsv:5", "binary data"]),
    "truncated-gzip": (lambda d: write_bytes(d / "p.tsv.gz", gzip.compress(tsv_bytes(good_rows(400)))[:200]), [], 1, ["p.tsv.gz", "decompress"]),
    "latin-1-unannounced": (lambda d: write_bytes(d / "l.tsv", tsv_bytes(good_rows(3) + [("u", "Mot\xf6rhead", 2)]).decode().encode("latin-1")), [], 1, ["l.tsv:5", "not valid utf-8", "--encoding latin-1"]),
    "three-rows-two-ragged": (lambda d: write_bytes(d / "r.csv", b"user,artist,plays\nu1,a,3\nu2,b,4,5,6\nu3,c,1,2,3\n"), [], 1, ["r.csv:3", "ragged", "2 of 3 rows"]),
    "most-plays-text": (lambda d: write_tsv(d / "m.tsv", rows=with_plays(*["lots"] * 30, good=20)), [], 1, ["m.tsv", "'lots'", "30 of 50"]),
    "six-of-ten-bad": (lambda d: write_tsv(d / "m.tsv", rows=with_plays(*["-1"] * 6, good=4)), [], 1, ["m.tsv", "negative", "6 of 10"]),
    "most-plays-negative": (lambda d: write_tsv(d / "m.tsv", rows=with_plays(*["-5"] * 25, good=5)), [], 1, ["'-5'", "negative"]),
    "hetrec-friends-file": (lambda d: write_bytes(d / "user_friends.dat", b"userID\tfriendID\n2\t275\n2\t428\n3\t1\n"), [], 1, ["user_friends.dat", "friends", "user_artists.dat"]),
    "friends-file-renamed": (lambda d: write_bytes(d / "friends.tsv", b"userID\tfriendID\n2\t275\n2\t428\n"), [], 1, ["friends.tsv", "friends", "user_artists.dat"]),
    "hetrec-tags-file": (lambda d: write_bytes(d / "user_taggedartists.dat", b"userID\tartistID\ttagID\tday\tmonth\tyear\n2\t52\t13\t1\t4\t2009\n"), [], 1, ["tag assignments", "user_artists.dat"]),
    "missing-file": (lambda d: d / "nowhere.tsv", [], 1, ["nowhere.tsv", "no such file"]),
    "empty-file": (lambda d: write_bytes(d / "e.tsv", b""), [], 1, ["e.tsv", "is empty"]),
    "header-only": (lambda d: write_bytes(d / "h.csv", b"user,artist,plays\n"), [], 1, ["h.csv", "no usable rows"]),
    "blank-lines-only": (lambda d: write_bytes(d / "b.csv", b"\n\n\n"), [], 1, ["b.csv", "no data rows"]),
    "folder-without-hetrec": (lambda d: d, [], 1, ["user_artists.dat"]),
    "hetrec-bad-header": (lambda d: (write_bytes(d / "user_artists.dat", b"a\tb\tc\n1\t2\t3\n"), d)[1], [], 1, ["user_artists.dat:1", "header"]),
    "binary-garbage": (lambda d: write_bytes(d / "g.bin", random.Random(1).randbytes(4096).replace(b"\0", b"\1")), [], 1, ["g.bin"]),
    "csv-as-360k": (lambda d: write_bytes(d / "p.csv", b"user,artist,plays\nu,a,1\n"), ["--format", "lastfm-360k"], 1, ["p.csv:1", "tab-separated"]),
    "dev-null": (lambda d: Path(os.devnull), [], 1, [os.devnull, "device", "regular file"]),
    "unknown-encoding": (lambda d: write_tsv(d / "p.tsv"), ["--encoding", "klingon"], 2, ["--encoding", "'klingon'"]),
    "encoding-without-data": (lambda d: None, ["--encoding", "latin-1"], 2, ["--encoding", "--data"]),
}


@pytest.mark.parametrize("case", INPUT_ERRORS.values(), ids=INPUT_ERRORS.keys())
def test_bad_input_files_are_one_line_data_errors(tmp_path, capsys, cache, case):
    make, options, code, named = case
    folder = tmp_path / "in"
    folder.mkdir()
    path = make(folder)
    data = [] if path is None else ["--data", str(path)]
    assert_fails(run(capsys, *data, "--cache-dir", str(cache), "info", *options), code, *named)
    assert entries(cache) == [] and hidden_leftovers(cache) == []


def _gzip_tsv(d: Path) -> Path:
    return write_bytes(d / "p.tsv.gz", gzip.compress(tsv_bytes(good_rows())))


#: id -> (make the data path, extra options, a warning the run must give or None, check).
INPUT_SUCCESSES = {
    "gzip-tsv": (_gzip_tsv, [], None, lambda s: s["plays_nnz"] > 0),
    "gzip-csv": (lambda d: write_bytes(d / "p.csv.gz", gzip.compress(b"user,artist,plays\nu1,a,3\nu2,b,4\nu1,b,2\n")), [], None, lambda s: s["plays_nnz"] == 3),
    "bz2-tsv": (lambda d: write_bytes(d / "p.tsv.bz2", bz2.compress(tsv_bytes(good_rows()))), [], None, lambda s: s["plays_nnz"] > 0),
    "xz-tsv": (lambda d: write_bytes(d / "p.tsv.xz", lzma.compress(tsv_bytes(good_rows()))), [], None, lambda s: s["plays_nnz"] > 0),
    "gzip-without-suffix": (lambda d: write_bytes(d / "p.tsv", gzip.compress(tsv_bytes(good_rows()))), [], None, lambda s: s["plays_nnz"] > 0),
    "gzip-lastfm-360k-name": (lambda d: write_bytes(d / "usersha1-artmbid-artname-plays.tsv.gz", gzip.compress(LASTFM)), [], None, lambda s: s["users"] == 5 and s["items"] == 7),
    "utf-16-le-bom": (lambda d: write_bytes(d / "u.tsv", tsv_bytes(good_rows(8) + [("u", "Beyoncé", 9)]).decode().encode("utf-16")), [], None, lambda s: "Beyoncé" in names_of(s)),
    "utf-16-be-bom": (lambda d: write_bytes(d / "u.tsv", b"\xfe\xff" + tsv_bytes(good_rows(8) + [("u", "Björk", 9)]).decode().encode("utf-16-be")), [], None, lambda s: "Björk" in names_of(s)),
    "utf-32-bom": (lambda d: write_bytes(d / "u.tsv", tsv_bytes(good_rows(8) + [("u", "Sigur Rós", 9)]).decode().encode("utf-32")), [], None, lambda s: "Sigur Rós" in names_of(s)),
    "utf-8-bom-header": (lambda d: write_bytes(d / "u.csv", b"\xef\xbb\xbfuser,artist,plays\nu1,a,3\nu2,b,4\n"), [], None, lambda s: s["plays_nnz"] == 2),
    "latin-1-announced": (lambda d: write_bytes(d / "l.tsv", tsv_bytes(good_rows(3) + [("u", "Mot\xf6rhead", 2)]).decode().encode("latin-1")), ["--encoding", "latin-1"], None, lambda s: "Motörhead" in names_of(s)),
    "one-plays-1e39-of-many": (lambda d: write_tsv(d / "b.tsv", rows=with_plays("1e39", good=200)), [], "'1e39' is not finite or above", lambda s: s["total_plays"] < 1e6),
    "one-pair-past-float32-of-many": (lambda d: write_tsv(d / "b.tsv", rows=good_rows(300) + [("u", "a", "3e38"), ("u", "a", "3e38")]), [], "sum past the float32 maximum", lambda s: s["total_plays"] < 1e6),
    "four-of-ten-bad": (lambda d: write_tsv(d / "m.tsv", rows=with_plays(*["x"] * 4, good=6)), [], "skipped 4 bad rows", lambda s: s["plays_nnz"] == 6),
    "stray-nul-in-name": (lambda d: write_bytes(d / "n.tsv", tsv_bytes(good_rows(5)) + b"u\tArtist A\0\t3\n"), [], None, lambda s: "Artist A" in names_of(s)),
    "some-zero-plays": (lambda d: write_tsv(d / "z.tsv", rows=with_plays(0, 0, good=20)), [], None, lambda s: s["dropped_rows"] == {"zero plays": 2}),
    "1e-300-counted-as-zero": (lambda d: write_tsv(d / "z.tsv", rows=with_plays("1e-300", good=20)), [], None, lambda s: s["dropped_rows"] == {"zero plays": 1}),
    "symlink-to-data": (lambda d: (write_tsv(d / "real.tsv"), (d / "link.tsv").symlink_to(d / "real.tsv"), d / "link.tsv")[2], [], None, lambda s: s["plays_nnz"] > 0),
}


def names_of(summary: dict) -> list[str]:
    return [row["artist"] for row in summary["top_artists"]]


@pytest.mark.parametrize("case", INPUT_SUCCESSES.values(), ids=INPUT_SUCCESSES.keys())
def test_inputs_that_load(tmp_path, capsys, cache, case):
    make, options, warning, check = case
    folder = tmp_path / "in"
    folder.mkdir()
    code, out, err = run(capsys, "--data", str(make(folder)), "--cache-dir", str(cache),
                         "info", "--json", "--top", "50", *options)
    assert code == 0, err
    assert_clean(out, err)
    assert (warning is None) == ("warning" not in err) and (warning or "") in err, err
    assert check(json.loads(out))  # strict JSON: NaN or Infinity would not parse as it
    assert entries(cache) == ["dataset"]


def run_process(*argv: str, cwd: Path | None = None, timeout: float = 60,
                shell_prefix: str | None = None) -> tuple[int, str, str]:
    """``python -m tui_recs argv`` in a subprocess (for cases that could hang or crash)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TUI_RECS_DEBUG", "TUI_RECS_CACHE_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "tui_recs", *argv]
    if shell_prefix is not None:  # bash, for process substitution
        command = ["bash", "-c", shell_prefix + " ".join(f"'{a}'" if "<(" not in a else a
                                                         for a in command)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    return done.returncode, done.stdout, done.stderr


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "plays.tsv")
    return folder / "plays.tsv"


def _hetrec_with_fifo_artists(folder: Path) -> Path:
    write_bytes(folder / "user_artists.dat", b"userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n")
    os.mkfifo(folder / "artists.dat")
    return folder


#: id -> (make the path, use the cache, texts the error names). Run in a subprocess with a
#: timeout: a FIFO opened for reading blocks until a writer comes.
PIPES = {
    "fifo": (_fifo, True, ["plays.tsv", "is a pipe"]),
    "fifo-no-cache": (_fifo, False, ["plays.tsv", "is a pipe"]),
    "hetrec-artists-fifo": (_hetrec_with_fifo_artists, True, ["artists.dat", "is a pipe"]),
}


@pytest.mark.parametrize("case", PIPES.values(), ids=PIPES.keys())
def test_pipes_are_refused_without_hanging(tmp_path, cache, case):
    make, use_cache, named = case
    folder = tmp_path / "in"
    folder.mkdir()
    cache_options = ["--cache-dir", str(cache)] if use_cache else ["--no-cache"]
    result = run_process("info", "--data", str(make(folder)), *cache_options, timeout=60)
    assert_fails(result, 1, *named)
    assert entries(cache) == []


def test_process_substitution_is_refused(tmp_path, cache):
    data = write_tsv(tmp_path / "plays.tsv")
    result = run_process("info", "--cache-dir", str(cache), "--data", f"<(cat '{data}')",
                         shell_prefix="")
    assert_fails(result, 1, "/dev/fd/", "is a pipe")
    assert entries(cache) == []


@pytest.fixture
def unreadable(monkeypatch):
    """Make a path unreadable: chmod 000, and for root (who reads anyway) the access check
    reports it so."""
    def make(path: Path) -> Path:
        path.chmod(0)
        if os.geteuid() == 0:
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == path
                                else real_access(p, mode, **kw))
        return path
    return make


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no-cache"])
def test_unreadable_file(tmp_path, capsys, cache, unreadable, use_cache):
    data = unreadable(write_tsv(tmp_path / "plays.tsv"))
    options = ["--cache-dir", str(cache)] if use_cache else ["--no-cache"]
    assert_fails(run(capsys, "--data", str(data), *options, "info"), 1, "plays.tsv",
                 "permission denied")
    assert entries(cache) == []


def test_unreadable_hetrec_artists(tmp_path, capsys, cache, unreadable):
    write_bytes(tmp_path / "user_artists.dat", b"userID\tartistID\tweight\n2\t51\t13883\n")
    unreadable(write_bytes(tmp_path / "artists.dat", b"id\tname\turl\tpictureURL\n51\tA\t\t\n"))
    assert_fails(run(capsys, "--data", str(tmp_path), "--cache-dir", str(cache), "info"), 1,
                 "artists.dat", "permission denied")
    assert entries(cache) == []


# ------------------------------------------------------------------ hyperparameters, options
OWNED_BY_MODELS = pytest.mark.xfail(strict=True, reason="option validation is declared with the models (#13)")
#: id -> (command line after --data/--cache-dir, the flag the error must name, marks).
OPTIONS = {
    "regularization-nan": (["train", "--regularization", "nan"], "--regularization", OWNED_BY_MODELS),
    "regularization-inf": (["train", "--regularization", "inf"], "--regularization", OWNED_BY_MODELS),
    "regularization-1e30": (["train", "--regularization", "1e30"], "--regularization", OWNED_BY_MODELS),
    "regularization-negative": (["train", "--regularization", "-1"], "--regularization", OWNED_BY_MODELS),
    "alpha-nan": (["train", "--alpha", "nan"], "--alpha", OWNED_BY_MODELS),
    "alpha-inf": (["train", "--alpha", "inf"], "--alpha", OWNED_BY_MODELS),
    "alpha-zero": (["train", "--alpha", "0"], "--alpha", OWNED_BY_MODELS),
    "alpha-negative": (["train", "--alpha", "-1"], "--alpha", OWNED_BY_MODELS),
    "bm25-k1-nan-als": (["train", "--bm25-k1", "nan"], "--bm25-k1", OWNED_BY_MODELS),
    "bm25-k1-nan-lsa": (["train", "--model", "lsa", "--bm25-k1", "nan"], "--bm25-k1", OWNED_BY_MODELS),
    "bm25-k1-negative": (["train", "--model", "lsa", "--bm25-k1", "-1"], "--bm25-k1", OWNED_BY_MODELS),
    "bm25-b-nan": (["train", "--model", "lsa", "--bm25-b", "nan"], "--bm25-b", OWNED_BY_MODELS),
    "bm25-b-above-1": (["train", "--model", "lsa", "--bm25-b", "2"], "--bm25-b", OWNED_BY_MODELS),
    "seed-negative": (["train", "--seed", "-1"], "--seed", OWNED_BY_MODELS),
    "seed-too-large": (["train", "--seed", str(2 ** 64)], "--seed", OWNED_BY_MODELS),
    "n-huge-related": (["related", "Artist A", "-n", "1000000000000"], "-n", OWNED_BY_MODELS),
    "n-huge-recommend": (["recommend", "u0", "-n", "1000000000000"], "-n", OWNED_BY_MODELS),
    "factors-zero": (["train", "--factors", "0"], "--factors", OWNED_BY_MODELS),
    "factors-negative": (["train", "--factors", "-3"], "--factors", OWNED_BY_MODELS),
    "lsa-factors-smaller-side": (["train", "--model", "lsa", "--factors", "16"], "--factors", OWNED_BY_MODELS),
    "iterations-zero": (["train", "--iterations", "0"], "--iterations", OWNED_BY_MODELS),
    "iterations-negative": (["train", "--iterations", "-1"], "--iterations", OWNED_BY_MODELS),
    "cg-steps-zero": (["train", "--cg-steps", "0"], "--cg-steps", OWNED_BY_MODELS),
    "threads-zero": (["train", "--threads", "0"], "--threads", OWNED_BY_MODELS),
    "threads-negative": (["train", "--threads", "-2"], "--threads", OWNED_BY_MODELS),
    "solver-unknown": (["train", "--solver", "magic"], "--solver", OWNED_BY_MODELS),
    "test-fraction-nan": (["evaluate", "--models", "popularity", "--test-fraction", "nan"], "--test-fraction", ()),
    "test-fraction-above-1": (["evaluate", "--models", "popularity", "--test-fraction", "1.5"], "--test-fraction", ()),
    "k-zero": (["evaluate", "--models", "popularity", "--k", "0"], "--k", ()),
    "n-zero": (["related", "Artist A", "-n", "0"], "-n", ()),
    "top-zero": (["info", "--top", "0"], "--top", ()),
    "model-unknown": (["train", "--model", "svd++"], "--model", ()),
    "format-unknown": (["info", "--format", "parquet"], "--format", ()),
    "factors-not-a-number": (["train", "--factors", "many"], "--factors", ()),
}


@pytest.mark.parametrize("argv, flag", [pytest.param(argv, flag, marks=marks, id=case)
                                        for case, (argv, flag, marks) in OPTIONS.items()])
def test_bad_options_are_usage_errors_naming_the_flag(data, capsys, cache, argv, flag):
    result = run(capsys, "--data", str(data), "--cache-dir", str(cache), *argv)
    assert_fails(result, 2, flag)
    assert "model" not in entries(cache)
