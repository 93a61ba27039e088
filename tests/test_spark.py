"""Training on Spark (tui_recs.spark): the weighting, parity with the local ALS, the bundle it
writes (read back here with pyarrow), progress and cancel, the command line. Every test that
runs Spark shares the session-scoped ``spark`` fixture (local[2])."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tui_recs.errors import DataError

pytestmark = pytest.mark.slow

#: Small hyperparameters for the tiny data: the tests check plumbing, not quality.
TINY = {"factors": 4, "iterations": 2}


def _als_params(**overrides):
    from tui_recs.pipeline import resolved_params

    return resolved_params("als", overrides)


def _table(directory: Path, name: str) -> dict[str, list]:
    """A bundle table read with pyarrow, rows sorted by the first column."""
    table = pq.read_table(directory / name).to_pydict()
    order = np.lexsort([np.asarray(table[key]) for key in reversed(list(table)[:2])])
    return {key: [values[i] for i in order] for key, values in table.items()}


@pytest.fixture
def names_csv(tmp_path: Path) -> Path:
    """A comma CSV whose artist names hold accents, quotes and a tab, with a duplicate row."""
    path = tmp_path / "names.csv"
    path.write_text(
        'user,artist,plays,name\n'
        'Zoë,a1,3,Björk\n'
        'Zoë,a2,5,"Guns ""N"" Roses"\n'
        'Zoë,a1,4,Björk\n'
        'ann,a3,2,"tab\there"\n'
        'ann,a2,1,"Guns ""N"" Roses"\n'
        'bob,a1,7,Björk\n'
        'bob,a3,1,"tab\there"\n', encoding="utf-8")
    return path


def _train(spark, source: Path | str, output: Path, progress=None, cancel=None, **params):
    from tui_recs.spark.job import train_bundle

    return train_bundle(str(source), _als_params(**{**TINY, **params}),
                        cache_root=output.parent / "cache", output=str(output),
                        progress=progress, cancel=cancel)


# ------------------------------------------------------------------------------ the bundle
def test_bundle_round_trip_keeps_ids_names_and_history(spark, names_csv, tmp_path):
    out = tmp_path / "bundle"
    trained = _train(spark, names_csv, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == trained.manifest
    assert (manifest["format"], manifest["version"], manifest["model"], manifest["engine"]) == (
        "tui-recs-bundle", 1, "als", "spark")
    assert manifest["shape"] == {"users": 3, "items": 3, "factors": 4, "plays": 6}
    items, users, history = (_table(out, name) for name in ("items", "users", "history"))
    assert items["item"] == [0, 1, 2] and users["user"] == [0, 1, 2]
    names = dict(zip(items["artist_id"], items["name"]))
    assert names == {"a1": "Björk", "a2": 'Guns "N" Roses', "a3": "tab\there"}
    assert dict(zip(items["artist_id"], items["listeners"])) == {"a1": 2, "a2": 2, "a3": 2}
    assert sorted(users["user_id"]) == ["Zoë", "ann", "bob"]
    user_id, artist_id = dict(zip(users["user"], users["user_id"])), items["artist_id"]
    pairs = {(user_id[u], artist_id[i]): p for u, i, p in
             zip(history["user"], history["item"], history["plays"])}
    assert pairs == {("Zoë", "a1"): 7.0, ("Zoë", "a2"): 5.0, ("ann", "a3"): 2.0,
                     ("ann", "a2"): 1.0, ("bob", "a1"): 7.0, ("bob", "a3"): 1.0}
    assert all(len(vector) == 4 and np.isfinite(vector).all()
               for vector in items["factors"] + users["factors"])
    assert manifest["spark"]["regParam"] == pytest.approx(1.0 * (3 + 3) / (2 * 6))
    # The reader the app and the command line use opens it to the same plays.
    from tui_recs.bundle import open_bundle

    dataset = open_bundle(out).dataset()
    plays = dataset.user_items.tocoo()
    opened = {(str(dataset.user_ids[u]), str(dataset.item_ids[i])): float(p)
              for u, i, p in zip(plays.row, plays.col, plays.data)}
    assert opened == pairs
    assert sorted(map(str, dataset.item_names)) == sorted(names.values())


def test_manifest_lists_every_part_file_with_size_and_sha256(spark, names_csv, tmp_path):
    out = tmp_path / "bundle"
    files = _train(spark, names_csv, out).manifest["files"]
    on_disk = sorted(str(path.relative_to(out)) for path in out.rglob("*.parquet"))
    assert sorted(files) == on_disk and {name.split("/")[0] for name in files} == {
        "items", "users", "history"}
    for name, facts in files.items():
        data = (out / name).read_bytes()
        assert facts == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert not list(tmp_path.glob(".*partial*"))


def test_an_existing_output_is_refused_before_any_work(spark, names_csv, tmp_path):
    from tui_recs.spark.bundle import BundleExists

    out = tmp_path / "bundle"
    out.mkdir()
    with pytest.raises(BundleExists, match="exists already"):
        _train(spark, names_csv, out)


def test_the_default_output_is_in_the_cache_and_reused(spark, names_csv, tmp_path):
    from tui_recs.spark.job import train_bundle

    params = _als_params(**TINY)
    first = train_bundle(str(names_csv), params, cache_root=tmp_path / "cache")
    assert Path(first.directory).parent == tmp_path / "cache" / "bundles" and not first.reused
    again = train_bundle(str(names_csv), params, cache_root=tmp_path / "cache")
    assert (again.directory, again.reused, again.manifest) == (first.directory, True,
                                                              first.manifest)
    other = train_bundle(str(names_csv), {**params, "alpha": 0.5}, cache_root=tmp_path / "cache")
    assert other.directory != first.directory


def test_progress_is_reported_and_a_cancel_leaves_nothing(spark, small_plays_csv, tmp_path):
    from tui_recs.spark.als import SparkCancelled

    stages, cancel = [], threading.Event()

    def progress(stage):
        stages.append(stage)
        if stage.name == "fit":
            cancel.set()

    out = tmp_path / "bundle"
    # 20 iterations: long enough to be cancelled; 30 without checkpoints overflowed the
    # executor's stack, which ends the JVM in local mode (and every later test's session).
    with pytest.raises(SparkCancelled):
        _train(spark, small_plays_csv, out, progress=progress, cancel=cancel, iterations=20)
    assert {"read", "fit"} <= {stage.name for stage in stages}
    assert all(0 <= stage.fraction <= 1 for stage in stages)
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    assert spark.sparkContext.statusTracker().getActiveJobsIds() == []


def test_checkpointing_for_many_iterations_from_the_command_line(spark, small_plays_csv,
                                                                 tmp_path, capsys):
    """12 iterations cross MLlib's checkpoint interval (10): the factors are written to
    --spark-checkpoint DIR, and what Spark left there is removed after the job."""
    from tui_recs.cli import main

    checkpoints, out = tmp_path / "checkpoints", tmp_path / "bundle"
    seen: list[str] = []
    context = spark.sparkContext
    listener = _CheckpointWatch(checkpoints, seen)
    listener.start()
    try:
        assert main(["train", "--engine", "spark", "--data", str(small_plays_csv), "--output",
                     str(out), "--factors", "4", "--iterations", "12", "--spark-checkpoint",
                     str(checkpoints), "--json"]) == 0
    finally:
        listener.stop()
    assert json.loads(capsys.readouterr().out)["params"]["iterations"] == 12
    assert any("/rdd-" in path for path in seen), seen
    assert context.getCheckpointDir() is None and not any(checkpoints.rglob("rdd-*"))


class _CheckpointWatch(threading.Thread):
    """Collects the paths that appear under a folder while it runs (checkpoints are written
    and deleted by MLlib during the job)."""

    def __init__(self, folder: Path, seen: list[str]) -> None:
        super().__init__(daemon=True)
        self.folder, self.seen, self.done = folder, seen, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.seen.extend(str(path) for path in self.folder.rglob("*") if str(path) not in
                             self.seen)

    def stop(self) -> None:
        self.done.set()
        self.join()


# ------------------------------------------------------------------------------- the input
def test_lastfm_360k_rows_keyed_by_name_nameless_dropped_mbid_kept(spark, tmp_path):
    from tui_recs.spark.read import read_plays

    sha = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(3)]
    path = tmp_path / "usersha1-artmbid-artname-plays.tsv"
    path.write_text(f"{sha[0]}\tmbid-1\tThe Beatles\t10\n{sha[0]}\t\tIt's \"quoted\"\t4\n"
                    f"{sha[1]}\tmbid-1\tThe Beatles\t2\n{sha[1]}\tmbid-2\t\t9\n"
                    f"{sha[2]}\t\tThe Beatles\t3\n", encoding="utf-8")
    plays = read_plays(spark, str(tmp_path / "*.tsv"))
    assert (plays.format, plays.n_users, plays.n_items, plays.nnz) == ("lastfm-360k", 3, 2, 4)
    assert plays.dropped == {"missing artist name": 1}
    items = {row["name"]: (row["artist_id"], row["listeners"]) for row in plays.items.collect()}
    assert items == {"The Beatles": ("mbid-1", 3), 'It\'s "quoted"': ("It's \"quoted\"", 1)}


def test_a_few_bad_rows_are_skipped_with_a_warning_many_are_one_error(spark, tmp_path):
    from tui_recs.data.table import DataWarning
    from tui_recs.spark.read import read_plays

    good = "".join(f"u{i},a{i % 7},{i + 1}\n" for i in range(200))
    path = tmp_path / "some.csv"
    path.write_text("user,artist,plays\n" + good + "u1,a1,lots\nu2,a2,0\n", encoding="utf-8")
    with pytest.warns(DataWarning, match="skipped 1 bad row .*lots"):
        plays = read_plays(spark, str(path))
    assert plays.dropped == {"bad rows": 1, "zero plays": 1} and plays.nnz == 200
    path.write_text("user,artist,plays\n" + good + "u,a,-1\n" * 50, encoding="utf-8")
    with pytest.raises(DataError, match=r"plays is negative: u, a, -1 \(50 of 250 rows are bad\)"):
        read_plays(spark, str(path))
    with pytest.raises(DataError, match="does not exist"):
        read_plays(spark, str(tmp_path / "missing" / "*.csv"))


# ---------------------------------------------------------------------- weighting, parity
def test_bm25_in_spark_matches_the_local_weighting(spark, hetrec):
    from tui_recs.data import load
    from tui_recs.models.weighting import bm25
    from tui_recs.spark.engine import plays_frame
    from tui_recs.spark.weighting import weighted

    user_items = load(hetrec).user_items
    expected = bm25(user_items, 100.0, 0.8).tocoo()
    with plays_frame(spark, user_items.tocoo()) as frame:
        table = weighted(frame, user_items.shape[1])
        rows = table.collect()
        plan = table._jdf.queryExecution().executedPlan().toString()
    # Read from a file, never from data in the driver's plans; joined by shuffles, never by
    # broadcasts (MLlib's ALS kept the broadcast tables of every fit alive: the heap ran out).
    assert "parquet" in plan.lower() and "Broadcast" not in plan
    got = {(row["user"], row["item"]): row["weight"] for row in rows}
    assert len(got) == expected.nnz
    values = np.array([got[pair] for pair in zip(expected.row.tolist(), expected.col.tolist())])
    np.testing.assert_allclose(values.astype(np.float32), expected.data, rtol=2e-6, atol=1e-6)


def test_negative_weights_stay_played_without_extra_confidence(spark):
    """A listener of every artist has a negative idf: the local ALS clips the weight to 0
    (preference 1, confidence 1); MLlib gets the tiny positive rating that means the same."""
    import scipy.sparse as sp

    from tui_recs.models.weighting import bm25
    from tui_recs.spark.engine import plays_frame
    from tui_recs.spark.weighting import PLAYED_WITHOUT_WEIGHT, als_ratings, weighted

    plays = sp.csr_matrix(np.array([[3, 1, 2], [0, 4, 0]], dtype=np.float32))
    assert (bm25(plays).toarray()[0] < 0).all()
    with plays_frame(spark, plays.tocoo()) as frame:
        rows = als_ratings(weighted(frame, 3)).collect()
    ratings = {(row["user"], row["item"]): row["rating"] for row in rows}
    assert [ratings[(0, item)] for item in range(3)] == pytest.approx([PLAYED_WITHOUT_WEIGHT] * 3)
    assert ratings[(1, 1)] == pytest.approx(float(bm25(plays)[1, 1]), rel=1e-6)


def test_spark_als_matches_local_als_on_hetrec(spark, hetrec):
    from tui_recs.data import load
    from tui_recs.evaluation import evaluate, split_plays
    from tui_recs.models.als import ALS
    from tui_recs.models.engine import engine

    split = split_plays(load(hetrec).user_items, "holdout", 0.2, 1, seed=0)
    params = ALS().get_params()
    on_spark = ALS.from_arrays(params, engine("spark").train(ALS(**params), split.train))
    spark_row = evaluate(on_spark, split, 10, fit=False)
    local_row = evaluate(ALS(**params), split, 10)
    for metric in ("precision", "ndcg"):
        assert spark_row[metric] == pytest.approx(local_row[metric], rel=0.10), metric


def test_the_beatles_related_artists_from_the_spark_bundle(spark, hetrec, tmp_path, capsys):
    out = tmp_path / "bundle"
    _train(spark, hetrec, out, factors=64, iterations=15)
    items = _table(out, "items")
    factors = np.asarray(items["factors"], dtype=np.float32)
    unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    beatles = items["name"].index("The Beatles")
    order = np.argsort(-(unit @ unit[beatles]))
    top = [items["name"][i] for i in order if i != beatles][:20]
    assert {"John Lennon", "Paul McCartney"} <= set(top), top
    # End to end: the command line opens the bundle and answers from it.
    from tui_recs.cli import main

    assert main(["--bundle", str(out), "--cache-dir", str(tmp_path / "cache"), "related",
                 "the beatles", "-n", "20", "--min-listeners", "0", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["model"] == "bundle"
    assert [row["artist"] for row in answer["results"]] == top


# ----------------------------------------------------------------- engine, command line
def test_the_spark_engine_trains_through_the_session_and_is_cached_apart(spark, small_plays_csv,
                                                                         cache_root):
    from tui_recs.session import Session

    session = Session(small_plays_csv, cache_dir=cache_root)
    on_spark = session.model("als", engine="spark", build_index=False, **TINY)
    assert on_spark.engine == "spark" and on_spark.info["engine"] == "spark"
    assert on_spark.model.item_factors.shape == (session.dataset.n_items, 4)
    local = session.model("als", build_index=False, **TINY)
    assert not np.array_equal(local.model.item_factors, on_spark.model.item_factors)
    assert len(session.related(on_spark, 0, 5)[0]) == 5


def test_a_cancel_stops_the_spark_engine_and_stores_nothing(spark, small_plays_csv,
                                                            cache_root):
    """The cancel event the app's Esc sets, through Session.model with engine spark."""
    from tui_recs.pipeline import Cancelled, is_cached
    from tui_recs.session import Session

    session, cancel, stages = Session(small_plays_csv, cache_dir=cache_root), threading.Event(), []

    def progress(stage):
        stages.append(stage)
        if "iteration" in stage.message:  # Spark is running the ALS job group
            cancel.set()

    with pytest.raises(Cancelled):
        session.model("als", engine="spark", build_index=False, progress=progress,
                      cancel=cancel, factors=4, iterations=20)
    assert cancel.is_set() and spark.sparkContext.statusTracker().getActiveJobsIds() == []
    assert not is_cached(session.dataset, "als", {"factors": 4, "iterations": 20},
                         session.store, "spark")


def test_the_apps_isolated_training_cancels_spark_and_its_jvm_ends(spark, small_plays_csv,
                                                                   cache_root):
    """The app trains in a child process (Session.model isolated=True, the path its Esc
    cancels): with engine spark the child starts its own JVM, which ends with it."""
    import time

    from tui_recs.pipeline import Cancelled
    from tui_recs.session import Session

    session, cancel, jvms = Session(small_plays_csv, cache_dir=cache_root), threading.Event(), []
    ours = set(_descendants_named("java"))  # the spark fixture's

    def progress(stage):
        if "iteration" in stage.message and not cancel.is_set():
            jvms.extend(set(_descendants_named("java")) - ours)
            cancel.set()

    with pytest.raises(Cancelled):
        session.model("als", engine="spark", isolated=True, progress=progress, cancel=cancel,
                      factors=4, iterations=20)
    assert jvms, "the child's JVM was not found"
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in jvms) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in jvms)


def _descendants_named(name: str) -> list[int]:
    """Processes below this one whose executable is ``name`` (from /proc)."""
    import os

    parents, names = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                names[int(entry.name)] = Path(os.readlink(entry / "exe")).name
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    below, found = {os.getpid()}, True
    while found:
        found = {pid for pid, parent in parents.items() if parent in below} - below
        below |= found
    return sorted(pid for pid in below if names.get(pid) == name)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_train_engine_spark_on_the_command_line(spark, names_csv, tmp_path, capsys):
    from tui_recs.cli import main

    out = tmp_path / "bundle"
    assert main(["train", "--engine", "spark", "--data", str(names_csv), "--output", str(out),
                 "--factors", "4", "--iterations", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["bundle"] == str(out) and document["shape"]["items"] == 3
    assert main(["train", "--engine", "spark", "--data", str(names_csv), "--output",
                 str(out)]) == 2
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--engine", "spark", "--model", "lsa", "--data", "x.csv"], "trains als"),
    (["train", "--engine", "spark"], "reads --data PATH itself"),
    (["train", "--master", "local[2]"], "go with --engine spark"),
    (["train", "--engine", "spark", "--data", "x", "--spark-conf", "novalue"], "KEY=VALUE"),
])
def test_spark_usage_errors_need_no_spark(argv, message, capsys):
    from tui_recs.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("master, partitions", [("local[2]", "4"), ("local", "2"),
                                                ("local[3,2]", "6"), ("local[*]", None)])
def test_local_masters_get_settings_for_one_machine(master, partitions):
    import os

    from tui_recs.spark.context import local_conf

    conf = local_conf(master, memory_bytes=16 << 30)
    assert conf == {"spark.sql.shuffle.partitions": partitions or str(2 * os.cpu_count()),
                    "spark.driver.memory": "4096m"}
    assert local_conf(master, memory_bytes=2 << 30)["spark.driver.memory"] == "1024m"


@pytest.mark.parametrize("master", ["yarn", "spark://host:7077", "k8s://https://host:443",
                                    "local-cluster[2,1,1024]"])
def test_cluster_masters_keep_sparks_settings(master):
    from tui_recs.spark.context import local_conf

    assert local_conf(master) == {}


def test_missing_java_names_what_to_install(tmp_path):
    from tui_recs.spark.context import SparkUnavailable, java_version

    with pytest.raises(SparkUnavailable, match="install Java 17 or newer"):
        java_version(str(tmp_path / "no-java"))
