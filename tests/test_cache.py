"""The artifact store: location, keys, hits, atomicity, locking, corruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tui_recs.cache import ArtifactStore, CacheError, CacheWarning, entry_key, resolve_cache_dir


def build_array(values):
    def build(directory: Path):
        np.save(directory / "values.npy", np.asarray(values, dtype=np.float32))
        return {"note": "built", "loss": np.float32(0.5)}
    return build


def load_array(directory: Path) -> np.ndarray:
    return np.load(directory / "values.npy", mmap_mode="r")


# ---------------------------------------------------------------------------- location
def test_cache_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUI_RECS_CACHE_DIR", raising=False)
    assert "tui-recs" in str(resolve_cache_dir())  # platformdirs user cache
    (tmp_path / "cache").mkdir()
    assert resolve_cache_dir() == tmp_path / "cache"
    monkeypatch.setenv("TUI_RECS_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "flag") == tmp_path / "flag"


def test_keys_are_stable_and_sensitive():
    inputs = {"dataset": "abc", "params": {"factors": 64, "alpha": 1.0}}
    assert entry_key("model", inputs) == entry_key("model", json.loads(json.dumps(inputs)))
    assert entry_key("model", inputs) == entry_key("model", {"params": {"alpha": 1.0, "factors": 64},
                                                             "dataset": "abc"})
    changed = {"dataset": "abc", "params": {"factors": 64, "alpha": 2.0}}
    assert entry_key("model", changed) != entry_key("model", inputs)
    assert entry_key("model", inputs).startswith("model-")


# ------------------------------------------------------------------------------ entries
def test_miss_then_hit_without_rebuilding(tmp_path):
    store = ArtifactStore(tmp_path)
    calls = []

    def build(directory):
        calls.append(1)
        return build_array([1, 2, 3])(directory)

    first = store.get_or_create("thing", {"x": 1}, build, load_array)
    second = store.get_or_create("thing", {"x": 1}, build, load_array)
    assert calls == [1] and first.tolist() == second.tolist() == [1, 2, 3]
    entry = store.lookup("thing", {"x": 1})
    assert entry.extra == {"note": "built", "loss": 0.5}
    assert entry.manifest["inputs"] == {"x": 1} and entry.manifest["build_seconds"] >= 0
    assert set(entry.manifest["files"]) == {"values.npy"} and entry.size_bytes > 0
    store.get_or_create("thing", {"x": 2}, build, load_array)
    assert len(calls) == 2 and len(store.entries()) == 2


def test_failed_build_leaves_nothing(tmp_path):
    store = ArtifactStore(tmp_path)

    def failing(directory):
        (directory / "half.npy").write_bytes(b"partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.get_or_create("thing", {"x": 1}, failing, load_array)
    assert store.lookup("thing", {"x": 1}) is None
    assert [p.name for p in (tmp_path / "thing").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "version", "manifest", "missing"])
def test_corrupt_entries_are_rebuilt_with_a_warning(tmp_path, damage):
    store = ArtifactStore(tmp_path)
    store.get_or_create("thing", {"x": 1}, build_array([1, 2, 3]), load_array)
    path = store.path_of("thing", {"x": 1})
    payload, manifest = path / "values.npy", path / "manifest.json"
    if damage == "flip":
        data = bytearray(payload.read_bytes())
        data[-1] ^= 0xFF
        payload.write_bytes(bytes(data))
    elif damage == "truncate":
        payload.write_bytes(payload.read_bytes()[:-4])
    elif damage == "version":
        facts = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**facts, "format_version": 0}))
    elif damage == "manifest":
        manifest.write_text("{not json")
    else:
        payload.unlink()
    with pytest.warns(CacheWarning, match=f"cache entry {path} is unusable"):
        values = store.get_or_create("thing", {"x": 1}, build_array([1, 2, 3]), load_array)
    assert values.tolist() == [1, 2, 3]
    assert store.get_or_create("thing", {"x": 1}, build_array([9]), load_array).tolist() == [1, 2, 3]


def test_remove_clear_and_sizes(tmp_path):
    store = ArtifactStore(tmp_path)
    for x in range(3):
        store.get_or_create("thing", {"x": x}, build_array([x] * 100), load_array)
    assert store.total_size() == sum(e.size_bytes for e in store.entries()) > 0
    rows = store.describe_entries()
    assert {row["inputs"]["x"] for row in rows} == {0, 1, 2}
    assert store.remove(rows[0]["key"]) == 1 and len(store.entries()) == 2
    with pytest.raises(CacheError, match="no cache entry 'thing-nope'"):
        store.remove("thing-nope")
    assert store.clear() == 2 and store.entries() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_cache_still_builds(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.warns(CacheWarning, match="is not writable"):
            values = ArtifactStore(tmp_path / "c").get_or_create("t", {}, build_array([4]), load_array)
        assert values.tolist() == [4]
    finally:
        tmp_path.chmod(0o700)


def test_unwritable_cache_as_root_uses_a_file_in_the_way(tmp_path):
    """A cache root that is a file cannot be created: the work is done anyway, with a warning."""
    (tmp_path / "c").write_text("not a directory")
    with pytest.warns(CacheWarning, match="is not writable"):
        values = ArtifactStore(tmp_path / "c").get_or_create("t", {}, build_array([4]),
                                                             lambda d: load_array(d).copy())
    assert values.tolist() == [4]


# ------------------------------------------------------------------- processes and crashes
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from tui_recs.cache import ArtifactStore
    root, delay, counter = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    def build(directory):
        with counter.open("a") as handle:
            handle.write("built\\n")
        np.save(directory / "values.npy", np.arange(1000, dtype=np.float32))
        print("building", flush=True)
        time.sleep(delay)
        (directory / "more.bin").write_bytes(b"x" * 1000)
    values = ArtifactStore(root).get_or_create("thing", {"x": 1}, build,
                                               lambda d: np.load(d / "values.npy"))
    print("sum", int(values.sum()), flush=True)
""")


def _writer(tmp_path: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "store"), str(delay),
                             str(tmp_path / "counter")], stdout=subprocess.PIPE, text=True)


def test_killed_writer_leaves_no_half_entry(tmp_path):
    writer = _writer(tmp_path, delay=30)
    assert writer.stdout.readline().strip() == "building"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    store = ArtifactStore(tmp_path / "store")
    assert store.lookup("thing", {"x": 1}) is None and store.entries() == []
    # The next process rebuilds cleanly and sweeps the dead writer's temporary directory.
    survivor = _writer(tmp_path, delay=0)
    out, _ = survivor.communicate(timeout=60)
    assert out.splitlines()[-1] == f"sum {sum(range(1000))}"
    leftovers = [p.name for p in (tmp_path / "store" / "thing").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert (tmp_path / "counter").read_text().count("built") == 2


def test_concurrent_writers_build_once(tmp_path):
    writers = [_writer(tmp_path, delay=1.0) for _ in range(2)]
    outputs = [writer.communicate(timeout=60)[0] for writer in writers]
    assert all(out.splitlines()[-1] == f"sum {sum(range(1000))}" for out in outputs)
    assert (tmp_path / "counter").read_text().count("built") == 1
    entry = ArtifactStore(tmp_path / "store").lookup("thing", {"x": 1})
    assert set(entry.manifest["files"]) == {"values.npy", "more.bin"}


def test_waiting_is_reported(tmp_path):
    writer = _writer(tmp_path, delay=1.5)
    assert writer.stdout.readline().strip() == "building"
    events = []
    values = ArtifactStore(tmp_path / "store").get_or_create(
        "thing", {"x": 1}, build_array([0]), lambda d: np.load(d / "values.npy"), on_event=events.append)
    writer.communicate(timeout=60)
    assert values.sum() == sum(range(1000))  # the other process's result, not a rebuild
    assert events and events[0].startswith("waiting for another process building thing-")
