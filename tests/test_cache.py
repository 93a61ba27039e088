"""The artifact store: location, keys, hits, manifests, atomicity, locking, corruption, errors."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import warnings
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recs.cache import (FORMAT_VERSION, ArtifactStore, CacheError, CacheWarning, entry_key,
                            resolve_cache_dir)
from tui_recs.errors import TuiRecsError

VALUES = [1.0, 2.0, 3.0]


def build_array(values, calls: list | None = None):
    def build(directory: Path):
        if calls is not None:
            calls.append(directory)
        np.save(directory / "values.npy", np.asarray(values, dtype=np.float32))
        return {"fit_seconds": 1.25, "loss_history": np.array([0.5, 0.25], dtype=np.float32),
                "recall": np.float64(0.97)}
    return build


def load_array(directory: Path) -> np.ndarray:
    return np.load(directory / "values.npy", mmap_mode="r")


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "cache")


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def leftovers(kind_dir: Path) -> list[str]:
    """Hidden names (temporary/trash directories) left in a kind directory."""
    return sorted(p.name for p in kind_dir.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------- location
def test_cache_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUI_RECS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # platformdirs on Linux
    default = resolve_cache_dir()
    assert default.name == "tui-recs" and default.is_dir()
    (tmp_path / "cache").mkdir()
    assert resolve_cache_dir() == tmp_path / "cache"
    monkeypatch.setenv("TUI_RECS_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert resolve_cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_cache_dir("relative") == tmp_path / "relative"  # made absolute
    assert (tmp_path / "flag").is_dir() and (tmp_path / "relative").is_dir()
    monkeypatch.setenv("TUI_RECS_CACHE_DIR", "")  # empty counts as unset
    assert resolve_cache_dir() == tmp_path / "cache"


def test_default_store_uses_the_resolved_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_RECS_CACHE_DIR", str(tmp_path / "env"))
    assert ArtifactStore().root == tmp_path / "env"


# -------------------------------------------------------------------------------------- keys
def test_keys_are_stable_and_sensitive():
    inputs = {"dataset": "abc", "model": "als", "params": {"factors": 64, "alpha": 1.0}, "seed": 0}
    key = entry_key("model", inputs)
    assert key.startswith("model-") and len(key) == len("model-") + 16
    assert key == entry_key("model", json.loads(json.dumps(inputs)))
    reordered = {"seed": 0, "params": {"alpha": 1.0, "factors": 64}, "model": "als", "dataset": "abc"}
    assert key == entry_key("model", reordered)
    numpy_valued = {**inputs, "params": {"factors": np.int64(64), "alpha": np.float64(1.0)},
                    "seed": np.int32(0)}
    assert key == entry_key("model", numpy_valued)  # numpy scalars key like Python numbers
    assert entry_key("model", {**inputs, "params": {"factors": 64, "alpha": 2.0}}) != key
    assert entry_key("model", {**inputs, "seed": 1}) != key
    assert entry_key("index", inputs) != key


def test_keys_refuse_what_cannot_be_keyed():
    with pytest.raises(TypeError, match="JSON-like"):
        entry_key("model", {"callback": print})  # a str() of it would change every run
    with pytest.raises(ValueError, match="bad cache kind"):
        entry_key("../evil", {})


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8),
                       st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
                                 st.booleans(), st.none()), max_size=6))
def test_key_ignores_insertion_order(inputs):
    assert entry_key("k", inputs) == entry_key("k", dict(reversed(list(inputs.items()))))


# ----------------------------------------------------------------------------- hits, manifest
def test_miss_then_hit_without_rebuilding(store, no_warnings):
    calls: list = []
    first = store.get_or_create("thing", {"x": 1}, build_array(VALUES, calls), load_array)
    second = store.get_or_create("thing", {"x": 1}, build_array([9.0], calls), load_array)
    assert len(calls) == 1 and first.tolist() == second.tolist() == VALUES
    assert isinstance(second, np.memmap)  # verified, then memory-mapped
    store.get_or_create("thing", {"x": 2}, build_array([9.0], calls), load_array)
    assert len(calls) == 2 and len(store.entries()) == 2
    # The builder got an empty hidden directory inside the kind directory.
    assert calls[0].parent == store.root / "thing" and calls[0].name.startswith(".tmp-")


def test_manifest_fields(store):
    store.get_or_create("thing", {"x": 1, "seed": 7}, build_array(VALUES), load_array)
    entry = store.lookup("thing", {"seed": 7, "x": 1})
    path = store.path_of("thing", {"x": 1, "seed": 7})
    assert entry.path == path == store.root / "thing" / entry.key
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest == entry.manifest
    assert manifest["kind"] == "thing" and manifest["key"] == entry.key
    assert manifest["format_version"] == FORMAT_VERSION and manifest["checksum"] == "crc32"
    assert manifest["inputs"] == {"x": 1, "seed": 7} == entry.inputs
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    assert entry.created_at == manifest["created_at"] and manifest["build_seconds"] >= 0
    assert entry.extra == {"fit_seconds": 1.25, "loss_history": [0.5, 0.25], "recall": 0.97}
    payload = (path / "values.npy").read_bytes()
    assert manifest["files"] == {"values.npy": {"size": len(payload),
                                                "crc32": f"{zlib.crc32(payload):08x}"}}
    assert entry.size_bytes == len(payload)
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "values.npy"]


def test_nested_payload_and_other_file_kinds(store):
    def build(directory: Path):
        (directory / "sub").mkdir()
        (directory / "sub" / "index.ann").write_bytes(b"\x00annoy" * 100)
        (directory / "empty.bin").write_bytes(b"")
        return None

    loaded = store.get_or_create("index", {"n": 1}, build,
                                 lambda d: (d / "sub" / "index.ann").read_bytes())
    assert loaded == b"\x00annoy" * 100
    entry = store.lookup("index", {"n": 1}, verify=True)
    assert set(entry.manifest["files"]) == {"sub/index.ann", "empty.bin"} and entry.extra == {}


def test_builder_mistakes_are_reported_and_nothing_is_stored(store):
    def writes_manifest(directory: Path):
        (directory / "manifest.json").write_text("{}")

    with pytest.raises(ValueError, match="reserves"):
        store.get_or_create("thing", {"x": 1}, writes_manifest, load_array)
    with pytest.raises(TypeError, match="expected a mapping"):
        store.get_or_create("thing", {"x": 1}, lambda d: [1, 2], load_array)
    assert store.entries() == [] and leftovers(store.root / "thing") == []


def test_failed_build_leaves_nothing_and_releases_the_lock(store):
    def failing(directory: Path):
        (directory / "half.npy").write_bytes(b"partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.get_or_create("thing", {"x": 1}, failing, load_array)
    assert store.lookup("thing", {"x": 1}) is None and leftovers(store.root / "thing") == []
    lock = store.root / "thing" / f"{entry_key('thing', {'x': 1})}.lock"
    with open(lock, "a") as handle:  # nobody holds it any more
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
    assert store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array).tolist() == VALUES


def test_builder_oserror_that_is_not_the_cache_passes_through(store, tmp_path):
    def reads_missing_source(directory: Path):
        return {"text": (tmp_path / "no-such-source.tsv").read_text()}

    with pytest.raises(FileNotFoundError):
        store.get_or_create("thing", {"x": 1}, reads_missing_source, load_array)


# -------------------------------------------------------------------------------- corruption
def _damage(path: Path, how: str) -> None:
    payload, manifest = path / "values.npy", path / "manifest.json"
    facts = json.loads(manifest.read_text())
    if how == "flipped byte":
        data = bytearray(payload.read_bytes())
        data[-3] ^= 0x01
        payload.write_bytes(bytes(data))
    elif how == "truncated file":
        payload.write_bytes(payload.read_bytes()[:-4])
    elif how == "wrong version":
        manifest.write_text(json.dumps({**facts, "format_version": FORMAT_VERSION + 1}))
    elif how == "manifest garbage":
        manifest.write_text("{not json")
    elif how == "manifest truncated":
        manifest.write_text(manifest.read_text()[:40])
    elif how == "manifest missing":
        manifest.unlink()
    elif how == "payload missing":
        payload.unlink()
    elif how == "payload unreadable by load":
        # Same size and checksum recorded for garbage: only load() can tell.
        garbage = b"\x00" * payload.stat().st_size
        payload.write_bytes(garbage)
        facts["files"]["values.npy"]["crc32"] = f"{zlib.crc32(garbage):08x}"
        manifest.write_text(json.dumps(facts))
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["flipped byte", "truncated file", "wrong version",
                                 "manifest garbage", "manifest truncated", "manifest missing",
                                 "payload missing", "payload unreadable by load"])
def test_damaged_entries_warn_and_are_rebuilt(store, how):
    calls: list = []
    store.get_or_create("thing", {"x": 1}, build_array(VALUES, calls), load_array)
    path = store.path_of("thing", {"x": 1})
    _damage(path, how)
    with pytest.warns(CacheWarning) as caught:
        values = store.get_or_create("thing", {"x": 1}, build_array(VALUES, calls), load_array)
    assert values.tolist() == VALUES and len(calls) == 2
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert messages[0].startswith(f"cache entry {path} is unusable (")
    assert messages[0].endswith("); rebuilding it")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt entry is sound: no more warnings
        assert store.get_or_create("thing", {"x": 1}, build_array([9.0], calls),
                                   load_array).tolist() == VALUES
    assert len(calls) == 2 and leftovers(path.parent) == []


def test_damage_is_named_in_the_warning(store):
    store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)
    _damage(store.path_of("thing", {"x": 1}), "flipped byte")
    with pytest.warns(CacheWarning, match=r"values\.npy fails its crc32 checksum"):
        store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)
    _damage(store.path_of("thing", {"x": 1}), "truncated file")
    with pytest.warns(CacheWarning, match=r"values\.npy has \d+ bytes, expected \d+"):
        store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)


def test_lookup_and_listing_skip_damaged_entries(store):
    store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)
    store.get_or_create("thing", {"x": 2}, build_array(VALUES), load_array)
    _damage(store.path_of("thing", {"x": 1}), "manifest missing")
    _damage(store.path_of("thing", {"x": 2}), "flipped byte")  # same size: only verify sees it
    assert store.lookup("thing", {"x": 1}) is None
    assert store.lookup("thing", {"x": 2}) is not None
    assert store.lookup("thing", {"x": 2}, verify=True) is None
    assert [e.key for e in store.entries()] == [entry_key("thing", {"x": 2})]


def test_an_entry_copied_under_another_key_is_not_served(store):
    store.get_or_create("thing", {"x": 1}, build_array([1.0]), load_array)
    other = store.path_of("thing", {"x": 2})
    os.rename(store.path_of("thing", {"x": 1}), other)
    with pytest.warns(CacheWarning, match="describes"):
        assert store.get_or_create("thing", {"x": 2}, build_array([2.0]), load_array).tolist() == [2.0]


# --------------------------------------------------------------------------- listing, removal
def test_remove_clear_and_sizes(store):
    for x in range(3):
        store.get_or_create("thing", {"x": x}, build_array([x] * 100), load_array)
    store.get_or_create("other", {"y": 0}, build_array([0] * 10), load_array)
    entries = store.entries()
    assert [e.kind for e in entries] == ["other", "thing", "thing", "thing"]
    assert entries[1].created_at <= entries[2].created_at <= entries[3].created_at
    assert store.total_size() >= sum(e.size_bytes for e in entries) > 0
    rows = store.describe_entries()
    json.dumps(rows)  # JSON-ready
    assert {row["inputs"].get("x") for row in rows} == {None, 0, 1, 2}
    assert set(rows[0]) >= {"key", "kind", "size_bytes", "created_at", "build_seconds", "inputs",
                            "extra", "path"}
    assert store.remove(rows[1]["key"]) == 1 and len(store.entries()) == 3
    assert not Path(rows[1]["path"]).exists()
    for missing in ("thing-nope", rows[1]["key"], "../etc", "thing-" + "0" * 16):
        with pytest.raises(CacheError, match=f"no cache entry {missing!r} in {store.root}"):
            store.remove(missing)
    (store.root / "numba").mkdir()  # someone else's files in the same directory
    (store.root / "numba" / "kernel.nbi").write_bytes(b"keep me")
    (store.root / "thing" / "notes.txt").write_text("keep me too")
    assert store.clear() == 3 and store.entries() == []
    assert (store.root / "numba" / "kernel.nbi").exists()
    assert (store.root / "thing" / "notes.txt").exists()
    assert store.total_size() == 0
    assert sorted(p.name for p in (store.root / "thing").iterdir()) == ["notes.txt"]


def test_remove_and_clear_take_damaged_entries_too(store):
    store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)
    store.get_or_create("thing", {"x": 2}, build_array(VALUES), load_array)
    _damage(store.path_of("thing", {"x": 1}), "manifest missing")
    assert store.entries() and len(store.entries()) == 1
    assert store.remove(entry_key("thing", {"x": 1})) == 1
    _damage(store.path_of("thing", {"x": 2}), "manifest missing")
    assert store.clear() == 1 and store.total_size() == 0


def test_stale_temporary_directories_are_collected(store):
    store.get_or_create("thing", {"x": 0}, build_array(VALUES), load_array)
    kind_dir = store.root / "thing"
    dead, live = entry_key("thing", {"x": 1}), entry_key("thing", {"x": 2})
    for key in (dead, live):
        (kind_dir / f".tmp-{key}-abc123").mkdir()
        (kind_dir / f".tmp-{key}-abc123" / "big.npy").write_bytes(b"x" * 1000)
    (kind_dir / f".trash-{dead}-00ff").mkdir()
    assert [e.key for e in store.entries()] == [entry_key("thing", {"x": 0})]  # readers ignore
    assert store.total_size() > 2000  # but they are counted as what clear can free
    with open(kind_dir / f"{live}.lock", "a") as handle:  # a live builder holds its lock
        fcntl.flock(handle, fcntl.LOCK_EX)
        store.get_or_create("thing", {"x": 3}, build_array(VALUES), load_array)
        assert leftovers(kind_dir) == [f".tmp-{live}-abc123"]
        assert store.clear() == 2 and leftovers(kind_dir) == [f".tmp-{live}-abc123"]
        assert (kind_dir / f"{live}.lock").exists()  # a held lock file is never deleted
    assert store.clear() == 0 and leftovers(kind_dir) == []
    assert not list(kind_dir.glob("*.lock"))


# -------------------------------------------------------------------------- unwritable, full
def test_unwritable_cache_still_builds_with_a_warning(tmp_path):
    root = tmp_path / "c"
    root.write_text("a file in the way")  # not writable for root either
    with pytest.warns(CacheWarning, match=f"cache directory {root}/t is not writable .*"
                                          "use --cache-dir DIR or TUI_RECS_CACHE_DIR"):
        values = ArtifactStore(root).get_or_create("t", {}, build_array([4.0]), load_array)
    assert values.tolist() == [4.0]  # memory-mapped from a scratch dir kept until exit


def test_unwritable_cache_raises_when_strict(tmp_path):
    root = tmp_path / "c"
    root.write_text("a file in the way")
    store = ArtifactStore(root, strict=True)
    with pytest.raises(CacheError, match=f"cache directory {root}/t is not writable") as caught:
        store.get_or_create("t", {}, build_array([4.0]), load_array)
    assert isinstance(caught.value, TuiRecsError) and "\n" not in str(caught.value)
    with pytest.raises(CacheError, match="not writable"):
        store.check_writable()


@contextlib.contextmanager
def read_only(directory: Path):
    """``directory`` read-only for this process, root included: a read-only bind mount of it
    onto itself as root (who ignores permission bits), its permission bits otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(directory)], check=True)
        return
    paths = [directory, *(path for path in directory.rglob("*") if path.is_dir())]
    for path in paths:
        path.chmod(0o500)
    try:
        yield
    finally:
        for path in paths:
            path.chmod(0o700)


def test_read_only_cache_serves_hits_and_builds_misses(tmp_path):
    store = ArtifactStore(tmp_path / "c")
    store.get_or_create("t", {"x": 1}, build_array([1.0]), load_array)
    with read_only(store.root):
        with pytest.raises(OSError):  # really read-only, for root too
            (store.root / "t" / "probe").touch()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert store.get_or_create("t", {"x": 1}, build_array([9.0]), load_array).tolist() == [1.0]
        with pytest.warns(CacheWarning, match="is not writable"):
            assert store.get_or_create("t", {"x": 2}, build_array([2.0]), load_array).tolist() == [2.0]


def test_disk_full_during_build_is_a_clear_error(store):
    def fills_the_disk(directory: Path):
        (directory / "part.npy").write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "part.npy"))

    with pytest.raises(CacheError, match="no space left to write cache entry .*thing-.*"
                                         "tui-recs cache clear --all.*--cache-dir") as caught:
        store.get_or_create("thing", {"x": 1}, fills_the_disk, load_array)
    assert "\n" not in str(caught.value)
    assert leftovers(store.root / "thing") == [] and store.entries() == []


def test_disk_full_serves_what_was_built_from_memory_once_warned(store):
    def fills_the_disk(directory: Path):
        computed.append(np.array([7.0]))
        raise OSError("1048576 requested and 4096 written")  # numpy's short write: no errno

    computed: list[np.ndarray] = []
    with pytest.warns(CacheWarning) as caught:
        for x in (1, 2):  # the second entry fails too, silently: one line per cache
            assert store.get_or_create("thing", {"x": x}, fills_the_disk, load_array,
                                       unstored=lambda: computed[-1]).tolist() == [7.0]
    assert len(computed) == 2 and len(caught) == 1
    assert re.search(f"cache full at {store.root}: at least 1.0 MB needed.*"
                     "serving it from memory$", str(caught[0].message))
    assert leftovers(store.root / "thing") == [] and store.entries() == []
    with pytest.raises(CacheError, match="cache full at"):
        ArtifactStore(store.root, strict=True).get_or_create(
            "thing", {"x": 3}, fills_the_disk, load_array, unstored=lambda: computed[-1])


def test_disk_full_while_writing_the_manifest(store, monkeypatch):
    import tui_recs.cache.manifest as manifest_module

    def full(path, sync=False):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(manifest_module, "file_checksum", full)
    with pytest.raises(CacheError, match="no space left"):
        store.get_or_create("thing", {"x": 1}, build_array(VALUES), load_array)
    assert leftovers(store.root / "thing") == [] and store.entries() == []


# ------------------------------------------------------------------- processes and crashes
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from tui_recs.cache import ArtifactStore
    root, delay, counter = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    def build(directory):
        with counter.open("a") as handle:
            handle.write(f"{directory.name}\\n")
        np.save(directory / "values.npy", np.arange(100_000, dtype=np.float32))
        print("building", flush=True)
        time.sleep(delay)
        (directory / "more.bin").write_bytes(b"x" * 1000)
        return {"pid": __import__("os").getpid()}
    events = []
    values = ArtifactStore(root).get_or_create("thing", {"x": 1}, build,
                                               lambda d: np.load(d / "values.npy", mmap_mode="r"),
                                               on_event=events.append)
    print("sum", float(values.sum(dtype=np.float64)), "events", len(events), flush=True)
""")
TOTAL = float(sum(range(100_000)))


def _writer(tmp_path: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "store"), str(delay),
                             str(tmp_path / "counter")], stdout=subprocess.PIPE, text=True)


def _builds(tmp_path: Path) -> int:
    return len((tmp_path / "counter").read_text().splitlines())


def test_killed_writer_leaves_no_half_entry(tmp_path):
    writer = _writer(tmp_path, delay=60)
    assert writer.stdout.readline().strip() == "building"  # payload half written, no manifest
    store = ArtifactStore(tmp_path / "store")
    assert store.lookup("thing", {"x": 1}) is None and store.entries() == []
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    kind_dir = tmp_path / "store" / "thing"
    assert len(leftovers(kind_dir)) == 1  # the dead writer's temporary directory...
    assert store.lookup("thing", {"x": 1}) is None and store.entries() == []  # ...never visible
    survivor = _writer(tmp_path, delay=0)
    out, _ = survivor.communicate(timeout=60)
    assert out.split()[-4:] == ["sum", str(TOTAL), "events", "0"]  # the lock died with the writer
    assert leftovers(kind_dir) == [] and _builds(tmp_path) == 2
    assert store.lookup("thing", {"x": 1}, verify=True) is not None


def test_concurrent_writers_build_once(tmp_path):
    writers = [_writer(tmp_path, delay=1.0) for _ in range(3)]
    outputs = [writer.communicate(timeout=60)[0] for writer in writers]
    assert all(writer.returncode == 0 for writer in writers)
    assert [out.split()[-3] for out in outputs] == [str(TOTAL)] * 3
    assert _builds(tmp_path) == 1
    entry = ArtifactStore(tmp_path / "store").lookup("thing", {"x": 1}, verify=True)
    assert set(entry.manifest["files"]) == {"values.npy", "more.bin"}
    assert leftovers(tmp_path / "store" / "thing") == []


def test_waiting_is_reported_and_the_other_result_is_served(tmp_path):
    writer = _writer(tmp_path, delay=1.0)
    assert writer.stdout.readline().strip() == "building"
    events: list[str] = []
    calls: list = []
    values = ArtifactStore(tmp_path / "store").get_or_create(
        "thing", {"x": 1}, build_array([0.0], calls), load_array, on_event=events.append)
    writer.communicate(timeout=60)
    assert not calls and float(values.sum(dtype=np.float64)) == TOTAL  # no rebuild
    assert events == [f"waiting for another process building {entry_key('thing', {'x': 1})}"]
