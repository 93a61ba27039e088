"""The bad-input and fault corpus (issue #16): every case a line, each run end to end.

Each case asserts the exit code, a one-line message naming the file, flag or value, no
traceback, no terminal control code on the terminal, and what the cache holds afterwards.
The command line runs in-process (``tui_recs.cli.main``) on tiny data; subprocesses only
where a case needs one (kill -9, concurrent builders, a would-be segfault).

Families (counts are asserted at the end of the file): hostile text from data, input files,
hyperparameters and options (validated from the models' declarations), cache
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
import warnings
from pathlib import Path

import numpy as np
import pytest

from tui_recs.cache import ArtifactStore
from tui_recs.cache.checksum import file_checksum
from tui_recs.cli import main
from tui_recs.text import markup_safe, printable

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
    assert code == 0 and "1 entry," in out
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
#: id -> (command line after --data/--cache-dir, the flag the error must name, marks).
OPTIONS = {
    "regularization-nan": (["train", "--regularization", "nan"], "--regularization", ()),
    "regularization-inf": (["train", "--regularization", "inf"], "--regularization", ()),
    "regularization-1e30": (["train", "--regularization", "1e30"], "--regularization", ()),
    "regularization-negative": (["train", "--regularization", "-1"], "--regularization", ()),
    "alpha-nan": (["train", "--alpha", "nan"], "--alpha", ()),
    "alpha-inf": (["train", "--alpha", "inf"], "--alpha", ()),
    "alpha-zero": (["train", "--alpha", "0"], "--alpha", ()),
    "alpha-negative": (["train", "--alpha", "-1"], "--alpha", ()),
    "bm25-k1-nan-als": (["train", "--bm25-k1", "nan"], "--bm25-k1", ()),
    "bm25-k1-nan-lsa": (["train", "--model", "lsa", "--bm25-k1", "nan"], "--bm25-k1", ()),
    "bm25-k1-negative": (["train", "--model", "lsa", "--bm25-k1", "-1"], "--bm25-k1", ()),
    "bm25-b-nan": (["train", "--model", "lsa", "--bm25-b", "nan"], "--bm25-b", ()),
    "bm25-b-above-1": (["train", "--model", "lsa", "--bm25-b", "2"], "--bm25-b", ()),
    "seed-negative": (["train", "--seed", "-1"], "--seed", ()),
    "seed-too-large": (["train", "--seed", str(2 ** 64)], "--seed", ()),
    "n-huge-related": (["related", "Artist A", "-n", "1000000000000"], "-n", ()),
    "n-huge-recommend": (["recommend", "u0", "-n", "1000000000000"], "-n", ()),
    "factors-zero": (["train", "--factors", "0"], "--factors", ()),
    "factors-negative": (["train", "--factors", "-3"], "--factors", ()),
    "lsa-factors-smaller-side": (["train", "--model", "lsa", "--factors", "16"], "--factors", ()),
    "iterations-zero": (["train", "--iterations", "0"], "--iterations", ()),
    "iterations-negative": (["train", "--iterations", "-1"], "--iterations", ()),
    "cg-steps-zero": (["train", "--cg-steps", "0"], "--cg-steps", ()),
    "threads-zero": (["train", "--threads", "0"], "--threads", ()),
    "threads-negative": (["train", "--threads", "-2"], "--threads", ()),
    "solver-unknown": (["train", "--solver", "magic"], "--solver", ()),
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


# --------------------------------------------------------------- damaged and crafted caches
RELATED = ["related", "Artist A", "--json", "--model", "als", *FAST_ALS]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, Path, str]:
    """(data file, a cache holding its dataset, ALS model and name index, the clean answer).
    Cases copy the cache; the data file stays put (its path is part of the dataset key)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("template")
    data = write_tsv(folder / "plays.tsv")
    answer = io.StringIO()
    with contextlib.redirect_stdout(answer):
        assert main(["--data", str(data), "--cache-dir", str(folder / "cache"), *RELATED]) == 0
    return data, folder / "cache", answer.getvalue()


@pytest.fixture
def cached(template, tmp_path) -> tuple[Path, Path, str]:
    """A copy of the template cache: (data, cache, clean answer)."""
    import shutil

    data, cache, answer = template
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy, symlinks=True)
    return data, copy, answer


def assert_rebuilt(capsys, data: Path, cache: Path, answer: str, *warned: str) -> None:
    """``related`` answers as from a clean cache, warning that an entry was unusable; the
    cache then holds sound entries again and no leftovers."""
    code, out, err = run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED)
    assert code == 0, err
    assert_clean(out, err)
    assert out == answer
    for text in ("unusable", *warned):
        assert text in err, err
    assert entries(cache) == ["dataset", "model", "names"]
    assert hidden_leftovers(cache) == []


def payload_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*.npy"))


@pytest.mark.parametrize("seed", range(25))
def test_random_corruption_is_detected_and_rebuilt(capsys, cached, seed):
    data, cache, answer = cached
    rng = random.Random(seed)
    victim = rng.choice(payload_files(cache))
    content = bytearray(victim.read_bytes())
    offset = rng.randrange(len(content))
    content[offset] ^= rng.randrange(1, 256)
    victim.write_bytes(bytes(content))
    assert_rebuilt(capsys, data, cache, answer, victim.name)


def save_npy(path: Path, array, **options) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, **options)


def _edit_array(kind: str, name: str, change):
    """A crafting step: ``change(array) -> array`` on ``<kind>/<entry>/<name>.npy``."""
    def craft(cache: Path) -> None:
        path = entry_dir(cache, kind) / f"{name}.npy"
        save_npy(path, change(np.load(path)))
    return craft


def _set(index, value):
    def change(array):
        array = array.copy()
        array[index] = value
        return array
    return change


def _raw(kind: str, name: str, change):
    """A crafting step on the raw bytes of a file of an entry."""
    def craft(cache: Path) -> None:
        path = entry_dir(cache, kind) / name
        path.write_bytes(change(path.read_bytes()))
    return craft


def _json(kind: str, name: str, change):
    def craft(cache: Path) -> None:
        path = entry_dir(cache, kind) / name
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))
    return craft


def _claims_more_rows(raw: bytes) -> bytes:
    """The header of a 1-d array says one more element than the file holds."""
    header_end = raw.index(b"\n") + 1
    header = raw[:header_end].decode("latin-1")
    count = int(header.split("'shape': (")[1].split(",")[0])
    new = header.replace(f"'shape': ({count},", f"'shape': ({count + 1},")
    return new.ljust(len(header) - 1).encode("latin-1")[:header_end - 1] + b"\n" + raw[header_end:]


#: id -> crafting step; the manifest is resealed after it (sizes and checksums recomputed).
CRAFTED = {
    "model-nan-factor": _edit_array("model", "item_factors", _set((0, 0), np.nan)),
    "model-inf-factor": _edit_array("model", "user_factors", _set((3, 1), np.inf)),
    "model-fewer-item-rows": _edit_array("model", "item_factors", lambda a: a[:-1]),
    "model-fewer-user-rows": _edit_array("model", "user_factors", lambda a: a[:-2]),
    "model-wider-items": _edit_array("model", "item_factors", lambda a: np.hstack([a, a])),
    "model-3d-factors": _edit_array("model", "item_factors", lambda a: a[:, :, None]),
    "model-header-claims-more": _raw("model", "lengths.npy", _claims_more_rows),
    "model-header-garbage": _raw("model", "lengths.npy", lambda raw: b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<}\n" + raw[26:]),
    "model-npy-version-3": _raw("model", "lengths.npy", lambda raw: raw[:6] + b"\x03" + raw[7:]),
    "model-structured-dtype": _edit_array("model", "lengths", lambda a: np.zeros(len(a), dtype=[("x", "<f4"), ("y", "<i4")])),
    "dataset-index-out-of-range": _edit_array("dataset", "indices", _set(0, 10_000)),
    "dataset-negative-index": _edit_array("dataset", "indices", _set(-1, -5)),
    "dataset-indptr-decreasing": _edit_array("dataset", "indptr", _set(3, 0)),
    "dataset-indptr-short": _edit_array("dataset", "indptr", lambda a: a[:-1]),
    "dataset-indptr-overruns": _edit_array("dataset", "indptr", _set(-1, 10_000)),
    "dataset-negative-plays": _edit_array("dataset", "data", _set(0, -4.0)),
    "dataset-nan-plays": _edit_array("dataset", "data", _set(2, np.nan)),
    "dataset-totals-short": _edit_array("dataset", "item_listeners", lambda a: a[:-1]),
    "dataset-extra-name": _edit_array("dataset", "item_names", lambda a: np.concatenate([a, np.frombuffer(b"\0x", np.uint8)])),
    "dataset-shape-bigger": _json("dataset", "dataset.json", lambda d: d.update(shape=[d["shape"][0], d["shape"][1] + 5])),
    "dataset-json-version": _json("dataset", "dataset.json", lambda d: d.update(version=99)),
    "dataset-json-garbage": _raw("dataset", "dataset.json", lambda raw: b"{not json"),
    "names-header-claims-more": _raw("names", "names.ranked_items.npy", _claims_more_rows),
    "names-item-out-of-range": _edit_array("names", "names.ranked_items", _set(0, 10 ** 9)),
    "names-items-repeated": _edit_array("names", "names.ranked_items", _set(1, 0)),
    "names-negative-owner": _edit_array("names", "names.trigrams.owners", _set(0, -1)),
    "names-owner-out-of-range": _edit_array("names", "names.trigrams.owners", _set(0, 10 ** 6)),
    "names-bounds-overrun": _edit_array("names", "names.trigrams.bounds", _set(-1, 10 ** 6)),
    "names-alphabet-out-of-range": _edit_array("names", "names.trigrams.alphabet", _set(0, 10 ** 6)),
    "names-line-starts-backwards": _edit_array("names", "names.lines.starts", _set(2, 0)),
}


@pytest.mark.parametrize("craft", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_entries_with_valid_checksums_are_rebuilt(capsys, cached, craft):
    data, cache, answer = cached
    craft(cache)
    for kind in ("dataset", "model", "names"):
        reseal(entry_dir(cache, kind))
    assert_rebuilt(capsys, data, cache, answer)


class _Plant:
    """Pickled, it runs ``touch MARKER`` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


@pytest.mark.parametrize("kind, name", [("model", "lengths"), ("dataset", "item_plays"),
                                        ("names", "names.ranked_items")])
def test_planted_pickles_are_never_loaded(capsys, cached, tmp_path, kind, name):
    data, cache, answer = cached
    marker = tmp_path / "unpickled"
    save_npy(entry_dir(cache, kind) / f"{name}.npy", np.array([_Plant(marker)], dtype=object),
             allow_pickle=True)
    reseal(entry_dir(cache, kind))
    assert_rebuilt(capsys, data, cache, answer, "not plain numbers")
    assert not marker.exists()


def _manifest(kind: str, change):
    return _json(kind, "manifest.json", change)


def _symlink_payload_outside(cache: Path) -> None:
    entry = entry_dir(cache, "model")
    outside = cache.parent / "outside.npy"
    (entry / "lengths.npy").rename(outside)
    (entry / "lengths.npy").symlink_to(outside)


def _symlink_entry(cache: Path) -> None:
    import shutil

    entry = entry_dir(cache, "model")
    outside = cache.parent / "outside-entry"
    shutil.move(entry, outside)
    entry.symlink_to(outside, target_is_directory=True)


def _symlink_manifest(cache: Path) -> None:
    entry = entry_dir(cache, "model")
    outside = cache.parent / "outside.json"
    (entry / "manifest.json").rename(outside)
    (entry / "manifest.json").symlink_to(outside)


def _stray_file(cache: Path) -> None:
    import shutil

    entry = entry_dir(cache, "model")
    shutil.rmtree(entry)
    entry.write_text("not an entry")


def _dangling_link(cache: Path) -> None:
    import shutil

    entry = entry_dir(cache, "model")
    shutil.rmtree(entry)
    entry.symlink_to(cache.parent / "nowhere")


def _traversal(cache: Path) -> None:
    entry = entry_dir(cache, "model")
    outside = cache.parent / "secret"
    outside.write_bytes(b"secret")
    relative = os.path.relpath(outside, entry)
    _manifest("model", lambda m: m["files"].update({relative: {"size": 6, "crc32": file_checksum(outside)}}))(cache)


#: id -> crafting step on the structure of an entry (not resealed), and the warning's words.
STRUCTURE = {
    "manifest-traversal-name": (_traversal, "outside the entry"),
    "manifest-absolute-name": (_manifest("model", lambda m: m["files"].update({"/etc/hostname": {"size": 1, "crc32": "0"}})), "outside the entry"),
    "manifest-wrong-key": (_manifest("model", lambda m: m.update(key="model-0000000000000000")), "describes"),
    "manifest-format-version": (_manifest("model", lambda m: m.update(format_version=0)), "format version"),
    "manifest-files-not-a-map": (_manifest("model", lambda m: m.update(files=[1, 2])), "checksums"),
    "manifest-missing": (lambda cache: (entry_dir(cache, "model") / "manifest.json").unlink(), "missing"),
    "manifest-garbage": (_raw("model", "manifest.json", lambda raw: raw[:40]), "unreadable"),
    "payload-missing": (lambda cache: (entry_dir(cache, "model") / "lengths.npy").unlink(), "lengths.npy is missing"),
    "payload-symlink-outside": (_symlink_payload_outside, "symbolic link"),
    "manifest-symlink": (_symlink_manifest, "symbolic link"),
    "entry-symlink": (_symlink_entry, "symbolic link"),
    "stray-file-at-entry": (_stray_file, "not a directory"),
    "dangling-link-at-entry": (_dangling_link, "not a directory"),
}


@pytest.mark.parametrize("craft, warned", STRUCTURE.values(), ids=STRUCTURE.keys())
def test_entries_of_the_wrong_structure_are_rebuilt(capsys, cached, craft, warned):
    data, cache, answer = cached
    craft(cache)
    assert_rebuilt(capsys, data, cache, answer, warned)
    assert not any(p.is_symlink() for p in cache.rglob("*"))


@pytest.mark.parametrize("craft", [_stray_file, _dangling_link, _symlink_entry],
                         ids=["stray-file", "dangling-link", "entry-symlink"])
def test_clear_all_removes_what_stands_where_an_entry_should(capsys, cached, craft):
    _, cache, _ = cached
    craft(cache)
    code, out, err = run(capsys, "cache", "clear", "--all", "--cache-dir", str(cache))
    assert code == 0 and "removed 3 entries" in out, (out, err)
    assert_clean(out, err)
    assert sorted(p.name for p in (cache / "model").iterdir()) == []
    assert (cache.parent / "outside-entry").is_dir() or craft is not _symlink_entry  # never followed


def test_a_symlinked_lock_creates_nothing_outside(capsys, cached):
    import shutil

    data, cache, _ = cached
    entry = entry_dir(cache, "model")
    shutil.rmtree(entry)
    victim = cache.parent / "victim"
    lock = entry.parent / f"{entry.name}.lock"
    lock.unlink()
    lock.symlink_to(victim)
    result = run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED)
    assert_fails(result, 1, f"{entry.name}.lock", "symbolic link")
    assert not victim.exists()


def test_a_symlinked_kind_directory_is_not_used(capsys, cached):
    import shutil

    data, cache, answer = cached
    outside = cache.parent / "outside-models"
    shutil.move(cache / "model", outside)
    (cache / "model").symlink_to(outside, target_is_directory=True)
    code, out, err = run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED)
    assert code == 0 and out == answer, err
    assert_clean(out, err)
    assert "symbolic link" in err and "without the cache" in err


# ------------------------------------------------------------------ kill -9 during writes
KILLER = textwrap.dedent("""
    import os, shutil, signal, sys
    from pathlib import Path
    import numpy as np
    import tui_recs.cache.manifest as manifest_module
    import tui_recs.cache.store as store_module
    from tui_recs.cache import ArtifactStore

    root, point, action = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def after_calls(count, real):
        calls = []
        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) >= count:
                die()
            return real(*args, **kwargs)
        return wrapper

    def build(directory):
        if point == "build-start":
            die()
        np.save(directory / "a.npy", np.arange(100.0))
        if point == "build-half":
            die()
        np.save(directory / "b.npy", np.ones(7))
        if point == "build-end":
            die()
        return {"built": True}

    if point == "checksum":
        manifest_module.file_checksum = after_calls(2, manifest_module.file_checksum)
    if point == "manifest-written":
        store_module._fsync_directory = after_calls(1, store_module._fsync_directory)
    if point == "before-rename":
        real_rename = os.rename
        store_module.os.rename = lambda a, b: die() if ".tmp-" in str(a) else real_rename(a, b)
    if point == "after-rename":
        store_module._fsync_directory = after_calls(2, store_module._fsync_directory)
    if point == "holding-lock":
        store_module.ArtifactStore._sweep = die
    if point in ("discard", "clear-midway"):
        store_module.shutil.rmtree = die
    store = ArtifactStore(root)
    if action == "clear":
        store.clear()
    else:
        store.get_or_create("thing", {"x": 1}, build, lambda d: np.load(d / "a.npy"))
    print("survived")
""")
KILL_POINTS = ["build-start", "build-half", "build-end", "checksum", "manifest-written",
               "before-rename", "after-rename", "holding-lock", "discard", "clear-midway"]
#: What the cache holds before the killed process starts.
KILL_STATES = ["empty", "damaged-entry", "other-entry"]


def _prepare(root: Path, state: str) -> None:
    store = ArtifactStore(root)
    build = lambda values: lambda d: save_npy(d / "a.npy", np.asarray(values))  # noqa: E731
    load = lambda d: np.load(d / "a.npy")  # noqa: E731
    if state == "damaged-entry":
        store.get_or_create("thing", {"x": 1}, build([9.0]), load)
        target = store.path_of("thing", {"x": 1}) / "a.npy"
        target.write_bytes(target.read_bytes()[:-1] + b"\1")
    elif state == "other-entry":
        store.get_or_create("thing", {"x": 2}, build([2.0]), load)


KILL_CASES = [(point, state) for point in KILL_POINTS for state in KILL_STATES
              if not (point == "discard" and state != "damaged-entry")
              and not (point == "clear-midway" and state == "empty")]


@pytest.mark.parametrize("point, state", KILL_CASES, ids=[f"{p}-{s}" for p, s in KILL_CASES])
def test_kill_9_during_a_write_leaves_the_cache_sound(tmp_path, point, state):
    root = tmp_path / "cache"
    _prepare(root, state)
    action = "clear" if point == "clear-midway" else "build"
    done = subprocess.run([sys.executable, "-c", KILLER, str(root), point, action],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -signal.SIGKILL, done.stderr
    store = ArtifactStore(root)
    for entry in store.entries():  # whatever is there is whole (or the damaged one, untouched)
        damaged_before = state == "damaged-entry" and entry.inputs == {"x": 1}
        assert damaged_before or store.lookup(entry.kind, entry.inputs, verify=True) is not None
    with warnings.catch_warnings():  # a damaged entry is reported, then rebuilt
        warnings.simplefilter("ignore")
        value = store.get_or_create("thing", {"x": 1},
                                    lambda d: save_npy(d / "a.npy", np.arange(100.0)),
                                    lambda d: np.load(d / "a.npy"))
    assert value.tolist() == list(np.arange(100.0))
    store.clear()
    assert hidden_leftovers(root) == [] and store.entries() == []


@pytest.mark.parametrize("seed", range(5))
def test_kill_9_of_the_command_line_at_a_random_moment(template, tmp_path, capsys, seed):
    data, _, answer = template
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    child = subprocess.Popen([sys.executable, "-m", "tui_recs", "--data", str(data),
                              "--cache-dir", str(cache), *RELATED],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(random.Random(seed).uniform(0.3, 2.0))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    code, out, err = run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED)
    assert code == 0, err
    # The killed run may have left a model trained in its child process, whose BLAS can round
    # the last float32 digit differently: the same artists, scores to 1e-5.
    got, expected = json.loads(out), json.loads(answer)
    assert [row["artist"] for row in got["results"]] == [
        row["artist"] for row in expected["results"]]
    assert [row["score"] for row in got["results"]] == pytest.approx(
        [row["score"] for row in expected["results"]], abs=1e-5)
    assert_clean(out, err)
    assert entries(cache) == ["dataset", "model", "names"]


# ---------------------------------------------------------------------- concurrent builds
BUILDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from tui_recs.cache import ArtifactStore

    root, log = Path(sys.argv[1]), Path(sys.argv[2])

    def build(directory):
        with open(log, "a") as handle:
            handle.write("built\\n")
        time.sleep(0.3)
        np.save(directory / "a.npy", np.arange(5.0))

    value = ArtifactStore(root).get_or_create("thing", {"x": 1}, build, lambda d: np.load(d / "a.npy"))
    print(value.sum())
""")


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_concurrent_builders_build_once(tmp_path, processes):
    log = tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", BUILDER, str(tmp_path / "cache"), str(log)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for _ in range(processes)]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [out.strip() for out, _ in outputs] == ["10.0"] * processes, outputs
    assert log.read_text() == "built\n"
    assert entries(tmp_path / "cache") == ["thing"]


# -------------------------------------------------------------------------- unwritable caches
def _file_at_root(cache: Path) -> None:
    cache.write_text("a file in the way")


def _file_at_kind(cache: Path) -> None:
    cache.mkdir()
    (cache / "dataset").write_text("a file in the way")


def _root_under_a_file(cache: Path) -> None:
    cache.write_text("a file")


UNWRITABLE = {
    "root-is-a-file": (_file_at_root, lambda cache: cache),
    "kind-is-a-file": (_file_at_kind, lambda cache: cache),
    "root-under-a-file": (_root_under_a_file, lambda cache: cache / "deeper"),
    "root-under-dev-null": (lambda cache: None, lambda cache: Path(os.devnull) / "cache"),
}


@pytest.mark.parametrize("make, cache_of", UNWRITABLE.values(), ids=UNWRITABLE.keys())
def test_unwritable_caches_still_answer(capsys, tmp_path, template, make, cache_of):
    data, _, answer = template
    cache = tmp_path / "cache"
    make(cache)
    code, out, err = run(capsys, "--data", str(data), "--cache-dir", str(cache_of(cache)), *RELATED)
    assert code == 0 and out == answer, err
    assert_clean(out, err)
    assert "not writable" in err and "--cache-dir" in err


def test_strict_store_says_the_cache_is_unwritable(tmp_path):
    from tui_recs.cache import CacheError

    (tmp_path / "cache").write_text("a file in the way")
    with pytest.raises(CacheError, match="cache.* is not writable"):
        ArtifactStore(tmp_path / "cache", strict=True).get_or_create(
            "thing", {}, lambda d: save_npy(d / "a.npy", np.ones(1)), lambda d: np.load(d / "a.npy"))


# -------------------------------------------------------------------------- traversal keys
TRAVERSAL_KEYS = ["../../etc/passwd", "model-../../x", "/etc/passwd", "model-0123456789abcdef/..",
                  "dataset-0123456789abcdeF", "..", "model-0123456789abcdef\x1b[2J", "[/]"]


@pytest.mark.parametrize("key", TRAVERSAL_KEYS, ids=range(len(TRAVERSAL_KEYS)))
def test_cache_clear_refuses_keys_that_are_not_entries(capsys, cached, key):
    _, cache, _ = cached
    before = sorted(p.relative_to(cache) for p in cache.rglob("*"))
    line = assert_fails(run(capsys, "cache", "clear", key, "--cache-dir", str(cache)), 1,
                        "no cache entry", "cache list")
    assert repr(key) in line  # named as a Python literal: escapes stay visible
    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == before


# ------------------------------------------------------------------------------ full disks
def _small_tmpfs(path: Path) -> bool:
    """Mount a 2 MB tmpfs at ``path`` (root only); whether it worked."""
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def assert_served_from_memory(result: tuple[int, str, str], answer: str, cache: Path) -> None:
    """Exit 0 with the clean run's ``answer`` and one warning line: the cache full, how much
    it needed, served from memory."""
    exit_code, out, err = result
    assert_clean(out, err)
    warned = [line for line in err.splitlines() if line.startswith("tui-recs: warning")]
    assert exit_code == 0 and out == answer and error_lines(err) == [], (exit_code, err)
    assert len(warned) == 1, err
    for text in ("cache full at", "MB needed", str(cache), "serving it from memory"):
        assert text in warned[0], (text, warned[0])


def test_a_full_tmpfs_during_the_model_write_is_served_from_memory(tmp_path, capsys, template):
    data, _, answer = template
    mount = tmp_path / "small"
    if not _small_tmpfs(mount):
        pytest.skip("needs root to mount a tmpfs (the simulated cases below still run)")
    try:
        cache = mount / "cache"
        assert run(capsys, "--data", str(data), "--cache-dir", str(cache), "related", "Artist A",
                   "--model", "popularity")[0] == 0
        filler = mount / "filler"
        with open(filler, "wb") as handle:  # fill what is left
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        assert_served_from_memory(
            run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED), answer, cache)
        # the popularity model stays; the ALS one was never half-written
        assert entries(cache) == ["dataset", "model", "names"] and hidden_leftovers(cache) == []
        assert len(ArtifactStore(cache).entries()) == 3
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def _short_write(*args, **kwargs):
    raise OSError("1048576 requested and 4096 written")  # numpy's words, and no errno


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


#: id -> (what to patch, the replacement, the kinds left in the cache).
FULL_DISKS = {
    "short-write-model": ("tui_recs.pipeline.np.save", _short_write, ["dataset", "model", "names"]),
    "enospc-model": ("tui_recs.pipeline.np.save", _no_space, ["dataset", "model", "names"]),
    "enospc-dataset": ("tui_recs.data.dataset.np.save", _no_space, []),
    "enospc-manifest": ("tui_recs.cache.manifest.file_checksum", _no_space, []),
}


@pytest.mark.parametrize("target, replacement, left", FULL_DISKS.values(), ids=FULL_DISKS.keys())
def test_a_full_disk_is_one_warning_and_the_answer_from_memory(tmp_path, capsys, monkeypatch,
                                                               template, target, replacement,
                                                               left):
    data, _, answer = template
    cache = tmp_path / "cache"
    if target.startswith("tui_recs.pipeline"):  # the dataset, names, popularity go in first
        assert run(capsys, "--data", str(data), "--cache-dir", str(cache), "related",
                   "Artist A", "--model", "popularity")[0] == 0
    monkeypatch.setattr(target, replacement)
    assert_served_from_memory(
        run(capsys, "--data", str(data), "--cache-dir", str(cache), *RELATED), answer, cache)
    assert entries(cache) == left and hidden_leftovers(cache) == []


# ------------------------------------------------------------------ crafted Annoy files
ANNOY_LOADER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from tui_recs.index import FactorIndex

    path, width = Path(sys.argv[1]), int(sys.argv[2])
    stats = json.loads(Path(sys.argv[3]).read_text())
    vectors = np.load(sys.argv[4])[:, :width] if width <= 8 else np.ones((len(np.load(sys.argv[4])), width), np.float32)
    try:
        index = FactorIndex.load(path, np.ascontiguousarray(vectors), stats)
    except ValueError as error:
        print(error)
        sys.exit(3)
    for item in range(0, len(vectors), 7):
        index.search(vectors[item], 10, (item,), search_k=10_000)
    print("searched")
""")


@pytest.fixture(scope="module")
def annoy_files(tmp_path_factory) -> Path:
    """A real Annoy index over 600 unit vectors of 8 factors, saved with its stats."""
    from dataclasses import asdict

    from tui_recs.index import FactorIndex

    folder = tmp_path_factory.mktemp("annoy")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((600, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = FactorIndex.build(vectors, "euclidean", vectors[:20])
    index.save(folder / "similar.ann")
    (folder / "stats.json").write_text(json.dumps(asdict(index.stats)))
    np.save(folder / "vectors.npy", vectors)
    return folder


def _node_size() -> int:
    return 16 + 4 * 8  # euclidean: n_descendants, a, children[2], then 8 floats


def _poke(node: int, field: int, value: int):
    """Set int32 ``field`` of node ``node`` (negative: from the end)."""
    def craft(folder: Path) -> None:
        nodes = np.fromfile(folder / "similar.ann", dtype=np.int32).reshape(-1, _node_size() // 4)
        nodes[node, field] = value
        nodes.tofile(folder / "similar.ann")
    return craft


def _first_split(folder: Path) -> int:
    nodes = np.fromfile(folder / "similar.ann", dtype=np.int32).reshape(-1, _node_size() // 4)
    return int(np.flatnonzero(nodes[:, 0] > 10)[0])


def _poke_split(field: int, value):
    def craft(folder: Path) -> None:
        split = _first_split(folder)
        _poke(split, field, split if value == "self" else value)(folder)
    return craft


def _poke_bucket(value: int):
    def craft(folder: Path) -> None:
        nodes = np.fromfile(folder / "similar.ann", dtype=np.int32).reshape(-1, _node_size() // 4)
        bucket = 600 + int(np.flatnonzero(nodes[600:, 0] > 1)[0])
        _poke(bucket, 2, value)(folder)
    return craft


def _order(change):
    def craft(folder: Path) -> None:
        order = np.load(folder / "similar.order.npy")
        np.save(folder / "similar.order.npy", change(order.copy()))
    return craft


def _truncate(folder: Path) -> None:
    raw = (folder / "similar.ann").read_bytes()
    (folder / "similar.ann").write_bytes(raw[:-10])


def _duplicate(order):
    order[1] = order[0]
    return order


def _out_of_range(order):
    order[0] = 10_000
    return order


#: id -> (crafting step, factor width the loader is given).
ANNOY_CRAFTED = {
    "split-child-past-the-file": (_poke_split(2, 10 ** 8), 8),
    "split-child-negative": (_poke_split(3, -7), 8),
    "split-child-is-itself": (_poke_split(2, "self"), 8),
    "bucket-item-out-of-range": (_poke_bucket(10 ** 6), 8),
    "node-without-descendants": (_poke_split(0, 0), 8),
    "roots-claim-more-items": (_poke(-1, 0, 601), 8),
    "partial-node": (_truncate, 8),
    "other-dimension": (lambda folder: None, 7),
    "order-duplicate": (_order(_duplicate), 8),
    "order-out-of-range": (_order(_out_of_range), 8),
}


@pytest.mark.parametrize("craft, width", ANNOY_CRAFTED.values(), ids=ANNOY_CRAFTED.keys())
def test_crafted_annoy_files_are_refused_not_followed(annoy_files, tmp_path, craft, width):
    import shutil

    folder = tmp_path / "index"
    shutil.copytree(annoy_files, folder)
    craft(folder)
    done = subprocess.run([sys.executable, "-c", ANNOY_LOADER, str(folder / "similar.ann"),
                           str(width), str(folder / "stats.json"), str(folder / "vectors.npy")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr)  # never a signal
    assert len(done.stdout.strip().splitlines()) == 1


def test_a_sound_annoy_file_loads_and_answers(annoy_files):
    done = subprocess.run([sys.executable, "-c", ANNOY_LOADER, str(annoy_files / "similar.ann"), "8",
                           str(annoy_files / "stats.json"), str(annoy_files / "vectors.npy")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.strip() == "searched", done.stderr


# ------------------------------------------------------------ code from the working directory
@pytest.mark.parametrize("module", ["queue", "pickle", "struct"])
def test_training_children_import_nothing_from_the_working_directory(tmp_path, monkeypatch, module):
    from tui_recs import isolated
    from tui_recs.data import Dataset

    marker = tmp_path / "imported"
    planted = tmp_path / "start"
    planted.mkdir()
    (planted / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    rows = plays_rows(ARTISTS)
    users = sorted({u for u, _, _ in rows})
    dataset = Dataset.from_codes(np.array([users.index(u) for u, _, _ in rows]),
                                 np.array([ARTISTS.index(a) for _, a, _ in rows]),
                                 np.array([p for _, _, p in rows], dtype=np.float32),
                                 np.array(users, dtype=object), np.array(ARTISTS, dtype=object))
    monkeypatch.chdir(planted)
    store = ArtifactStore(tmp_path / "cache")
    ready = isolated.get_model_isolated(dataset, "als", {"factors": 4, "iterations": 2}, store=store)
    assert ready.model.item_factors.shape == (len(ARTISTS), 4)
    assert not marker.exists()
    assert entries(tmp_path / "cache") == ["model"]


# --------------------------------------------------------------------------------- the app
@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_markup_safe_text_reads_back_as_printable_text(name):
    from textual.content import Content

    shown = Content.from_markup(f"[b]{markup_safe(name)}[/b] [dim]x[/dim]").plain
    assert shown.replace("\u2060", "") == f"{printable(name)} x"


def _app(data: Path, tmp_path: Path):
    from tui_recs.app.main import TuiRecsApp

    app = TuiRecsApp(data, cache_dir=tmp_path / "cache", config_path=tmp_path / "config.json",
                     model_params={"als": {"factors": 4, "iterations": 2, "num_threads": 1},
                                   "lsa": {"factors": 4}}, cursor_blink=False, seed=0)
    app.animation_level = "none"
    return app


async def _until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)
    await pilot.pause()


async def test_the_app_notifies_a_full_disk_and_serves_from_memory(tmp_path, monkeypatch):
    data = write_tsv(tmp_path / "plays.tsv")
    monkeypatch.setattr("tui_recs.data.dataset.np.save", _short_write)  # this process only
    app = _app(data, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await _until(pilot, lambda: app.dataset is not None and app.names is not None
                     and not any(job.running for job in app.jobs.values()))
        warned = [n.message for n in app._notifications if "cache full at" in n.message]
        assert len(warned) == 1 and "serving it from memory" in warned[0], warned
        assert app.load_error is None and "Artist A" in app.dataset.item_names
        await pilot.press("q")
    assert "dataset" not in entries(tmp_path / "cache")
    assert hidden_leftovers(tmp_path / "cache") == []


async def test_the_app_shows_hostile_names_as_text(tmp_path):
    from textual.widgets import Static

    names = list(HOSTILE_NAMES.values())
    data = write_tsv(tmp_path / "[red]p.tsv", ARTISTS[:6] + names)
    app = _app(data, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: app.dataset is not None and app.names is not None
                     and not any(job.running for job in app.jobs.values()))
        for name in names:
            app.open_artist(int(app.dataset.item_index[name]))
            await _until(pilot, lambda: printable(name) in
                         app.screen.query_one("#related-title", Static).render().plain)
            screen = app.export_screenshot()
            for code in RAW_CONTROLS:
                assert code not in screen
        assert app.is_running


@pytest.mark.parametrize("make, shown", [
    (lambda d: write_tsv(d / "z.tsv", rows=with_plays(0, 0)), "nothing left"),
    (_fifo, "is a pipe"),
    (lambda d: write_bytes(d / "n.tsv", tsv_bytes(good_rows(5)) + b"\0" * 4096), "binary data"),
], ids=["all-zero-plays", "fifo", "nul-tail"])
async def test_the_app_reports_bad_data_without_crashing_or_hanging(tmp_path, make, shown):
    folder = tmp_path / "in"
    folder.mkdir()
    app = _app(make(folder), tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await _until(pilot, lambda: app.load_error is not None, timeout=30)
        assert shown in app.load_error and app.dataset is None
        await pilot.press("q")
    assert app.return_code == 1
    assert entries(tmp_path / "cache") == []


def test_the_command_line_passes_encoding_on_to_the_app(tmp_path, capsys, monkeypatch):
    import tui_recs.app as app
    import tui_recs.app.terminal as terminal

    opened: list[dict] = []
    monkeypatch.setattr(terminal, "refusal", lambda *args: None)  # pytest's stdio is no tty
    monkeypatch.setattr(app, "run", lambda **options: opened.append(options) or 0)
    data = write_tsv(tmp_path / "plays.tsv")
    assert run(capsys, "--data", str(data), "--encoding", "latin-1")[0] == 0
    assert opened == [{"data": str(data), "format": "auto", "cache_dir": None, "use_cache": True,
                       "mouse": True, "encoding": "iso8859-1", "fresh": False}]  # canonical
    assert_fails(run(capsys, "--encoding", "latin-1"), 2, "--encoding", "--data")
    assert len(opened) == 1


async def test_the_app_opens_latin_1_data_with_its_accented_names(tmp_path):
    from tui_recs.app.main import TuiRecsApp

    accented = ["Motörhead", "Björk", "Sigur Rós"]
    data = write_bytes(tmp_path / "l.tsv", tsv_bytes(plays_rows(ARTISTS[:4] + accented))
                       .decode().encode("latin-1"))
    app = TuiRecsApp(str(data), format="auto", cache_dir=tmp_path / "cache", use_cache=True,
                     encoding="latin-1", config_path=tmp_path / "config.json",
                     model_params={"als": {"factors": 4, "iterations": 2, "num_threads": 1},
                                   "lsa": {"factors": 4}}, cursor_blink=False, seed=0)
    app.animation_level = "none"
    async with app.run_test(size=(120, 30)) as pilot:
        await _until(pilot, lambda: app.dataset is not None or app.load_error is not None,
                     timeout=30)
        assert app.load_error is None and app.dataset is not None
        assert set(accented) <= set(app.dataset.item_names)
        await pilot.press("q")


def test_counted_agrees_in_number():
    from tui_recs.text import counted

    assert counted(1, "listener") == "1 listener"
    assert counted(0, "listener") == "0 listeners"
    assert counted(2048, "listener") == "2,048 listeners"
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == "3 entries"
