"""Bundles (docs/bundle.md): the local writer's round trip, every refusal of the reader as a
one-line error, Spark's layout, the CLI and the app on a bundle."""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from externals import forget_external_models, one_line_error  # noqa: F401 (autouse fixture)
from tui_recs.bundle import BundleError, open_bundle, write_bundle
from tui_recs.bundle.writer import file_sha256
from tui_recs.cli import main
from tui_recs.data.dataset import Dataset

#: Names the Parquet round trip must keep exactly.
AWKWARD = ["Björk", 'The "Quoted" Band', "Tab\tSeparated", "Sigur Rós", "Motörhead", "it's"]


@lru_cache(maxsize=1)
def awkward_data() -> Dataset:
    """60 listeners × 30 artists, six of them with accents, quotes and tabs in their names."""
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((60, 30)) < 0.3)
    names = AWKWARD + [f"Artist {i}" for i in range(len(AWKWARD), 30)]
    return Dataset.from_codes(users, items, rng.integers(1, 100, len(users)).astype(np.float32),
                              np.array([f"user {u}" for u in range(60)], dtype=object),
                              np.array([f"id-{i}" for i in range(30)], dtype=object),
                              np.array(names, dtype=object), source="awkward")


def trained(dataset: Dataset):
    from tui_recs.models.als import ALS

    return ALS(factors=4, iterations=2, num_threads=1).fit(dataset.user_items)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A bundle written by the local writer (tests copy it before damaging it)."""
    path = tmp_path_factory.mktemp("bundles") / "original"
    write_bundle(path, awkward_data(), trained(awkward_data()))
    return path


@pytest.fixture
def bundle(original, tmp_path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(original, copy)
    return copy


def test_round_trip_keeps_ids_names_plays_and_factors(bundle):
    dataset, model = awkward_data(), trained(awkward_data())
    opened = open_bundle(bundle)
    back = opened.dataset()
    assert back.item_names.tolist() == dataset.item_names.tolist()
    assert back.item_ids.tolist() == dataset.item_ids.tolist()
    assert back.user_ids.tolist() == dataset.user_ids.tolist()
    assert (back.user_items != dataset.user_items).nnz == 0
    items, users = opened.factors()
    np.testing.assert_array_equal(items, model.item_factors)
    np.testing.assert_array_equal(users, model.user_factors)
    assert opened.manifest["params"] == model.get_params()
    assert opened.shape == {"users": 60, "items": 30, "factors": 4, "plays": dataset.nnz}


def test_spark_layout_with_several_part_files_and_markers(bundle):
    """Row order is not significant, a table may be several part files, Spark's markers
    (_SUCCESS, .crc) are ignored."""
    import pyarrow.parquet as pq

    part = bundle / "items" / "part-00000.parquet"
    table = pq.read_table(part).take(np.random.default_rng(1).permutation(30))
    part.unlink()
    pq.write_table(table.slice(0, 12), bundle / "items" / "part-00000-a.snappy.parquet")
    pq.write_table(table.slice(12), bundle / "items" / "part-00001-a.snappy.parquet")
    (bundle / "items" / "_SUCCESS").write_text("")
    (bundle / "items" / ".part-00000-a.snappy.parquet.crc").write_bytes(b"\0\1")
    relist(bundle)
    assert open_bundle(bundle).dataset().item_names.tolist() == awkward_data().item_names.tolist()
    np.testing.assert_array_equal(open_bundle(bundle).factors()[0],
                                  trained(awkward_data()).item_factors)


def relist(bundle: Path, **shape) -> None:
    """Rewrite the manifest's file list (and ``shape`` entries) for the files there now."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {str(path.relative_to(bundle)): {"bytes": path.stat().st_size,
                                                         "sha256": file_sha256(path)}
                         for path in sorted(bundle.glob("*/*.parquet"))}
    manifest["shape"].update(shape)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def rewrite(bundle: Path, table: str, change) -> None:
    """Replace a table by ``change(pyarrow table)`` and list it in the manifest again."""
    import pyarrow.parquet as pq

    path = bundle / table / "part-00000.parquet"
    pq.write_table(change(pq.read_table(path)), path)
    relist(bundle)


def column(table, name, values):
    import pyarrow as pa

    return table.set_column(table.schema.get_field_index(name), name,
                            pa.array(values, table.schema.field(name).type))


def factors_of(table, change):
    rows = [list(row) for row in table.column("factors").to_pylist()]
    change(rows)
    return column(table, "factors", rows)


def manifest_edit(bundle: Path, **changes) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest.update(changes)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


REFUSALS = {
    "missing manifest": (lambda b: (b / "manifest.json").unlink(), "manifest.json: is missing"),
    "unknown format": (lambda b: manifest_edit(b, format="other"), "has format 'other'"),
    "unknown version": (lambda b: manifest_edit(b, version=2), "format version 2"),
    "missing file": (lambda b: (b / "users" / "part-00000.parquet").unlink(),
                     "listed in the manifest but missing"),
    "truncated file": (lambda b: _truncate(b / "history" / "part-00000.parquet"),
                       "the manifest says"),
    "checksum": (lambda b: _flip_last_byte(b / "items" / "part-00000.parquet"),
                 "does not match its SHA-256"),
    "unlisted file": (lambda b: shutil.copy(b / "items" / "part-00000.parquet",
                                            b / "items" / "part-00009.parquet"),
                      "part-00009.parquet: is not listed in the manifest"),
    "damaged parquet": (lambda b: (_flip_middle(b / "history" / "part-00000.parquet"),
                                   relist(b)), "is not a readable Parquet file"),
    "not a permutation": (lambda b: rewrite(b, "items", lambda t: column(
        t, "item", [0] + list(range(29)))), "not a permutation"),
    "factor length": (lambda b: rewrite(b, "users", lambda t: factors_of(
        t, lambda rows: rows[7].append(1.0))), "a factors list has 5 values, not the manifest's 4"),
    "non-finite factor": (lambda b: rewrite(b, "items", lambda t: factors_of(
        t, lambda rows: rows[3].__setitem__(1, float("nan")))), "not finite"),
    "history out of range": (lambda b: rewrite(b, "history", lambda t: column(
        t, "item", [30] + t.column("item").to_pylist()[1:])), "item position 30 is outside 0..29"),
    "plays not positive": (lambda b: rewrite(b, "history", lambda t: column(
        t, "plays", [0.0] + t.column("plays").to_pylist()[1:])), "not a positive finite number"),
    "plays NaN": (lambda b: rewrite(b, "history", lambda t: column(
        t, "plays", [float("nan")] + t.column("plays").to_pylist()[1:])), "positive finite"),
    "shape disagrees": (lambda b: relist(b, users=61), "shape says 61"),
}


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-10])


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4:len(data) - 8] = b"\x55" * (len(data) - 12)  # the magic bytes stay; the rest is junk
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case", REFUSALS)
def test_every_refusal_is_one_line_and_nothing_is_cached(bundle, tmp_path, capsys, case):
    damage, expected = REFUSALS[case]
    damage(bundle)
    cache = tmp_path / "cache"
    line = one_line_error(capsys, ["--bundle", str(bundle), "--cache-dir", str(cache),
                                   "related", "Björk", "-n", "3"])
    assert expected in line
    assert not list(cache.glob("*/*/manifest.json"))  # no half-opened state was kept


def test_cli_on_a_bundle_answers_as_the_model_that_wrote_it(bundle, tmp_path, capsys):
    from tui_recs.session import Session

    model = trained(awkward_data())
    argv = ["--bundle", str(bundle), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "related", "bjork", "-n", "5", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    ids, _ = model.similar_items(0, 5)
    assert answer["model"] == "bundle"
    assert [row["artist"] for row in answer["results"]] == awkward_data().item_names[ids].tolist()
    assert main([*argv, "recommend", "user 3", "--explain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["because"]
    assert main([*argv, "recommend", "--like", "Björk", "--like", "it's"]) == 0  # fold-in
    assert main([*argv, "compare", "Björk", "--models", "bundle,popularity"]) == 0
    assert "popularity" in capsys.readouterr().out
    session = Session(bundles=[bundle], cache_dir=tmp_path / "cache")
    assert session.external_models["bundle"].title == "ALS (local bundle)"


def test_a_second_bundle_of_the_same_data_compares_with_the_first(bundle, tmp_path, capsys):
    """Bundle B: the same listeners and artists at other positions, other factors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other"
    shutil.copytree(bundle, other)
    path = other / "items" / "part-00000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.set_column(0, "item", pa.array(29 - np.arange(30, dtype=np.int32))),
                   path)  # artist i now sits at position 29 - i
    relist(other)
    argv = ["--bundle", str(bundle), "--bundle", str(other), "--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "compare", "Björk", "--models", "bundle,bundle2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overlap"] == 1.0  # the same model, remapped
    pq.write_table(column(table, "artist_id", ["id-new"] + [f"id-{i}" for i in range(1, 30)]),
                   path)
    relist(other)
    assert "has other artists" in one_line_error(
        capsys, [*argv, "compare", "Björk", "--models", "bundle,bundle2"])


def test_train_output_writes_a_bundle_that_opens(small_plays_csv, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--data", str(small_plays_csv), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "train", "--factors", "8", "--iterations", "2", "--output", str(out)]) == 0
    capsys.readouterr()
    assert main([*argv, "related", "artist 3", "--model", "als", "--factors", "8",
                 "--iterations", "2", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)["results"]
    assert main(["--bundle", str(out), "--cache-dir", str(tmp_path / "cache"), "related",
                 "artist 3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == local
    with pytest.raises(BundleError, match="not an empty folder"):
        write_bundle(out, awkward_data(), trained(awkward_data()))


@pytest.mark.slow
async def test_the_app_opens_a_bundle_with_its_model_in_use(bundle, tmp_path):
    from tui_recs.app.main import TuiRecsApp

    app = TuiRecsApp(bundles=[bundle], cache_dir=tmp_path / "cache",
                     config_path=tmp_path / "config.json", cursor_blink=False, seed=0)
    app.animation_level = "none"
    async with app.run_test(size=(100, 30)) as pilot:
        deadline = 300
        while deadline and not ("bundle" in app.models and "popularity" in app.models):
            await pilot.pause(0.1)
            deadline -= 1
        assert app.preferred == "bundle" and app.models["bundle"].model.title == "ALS (local bundle)"
        assert "als" not in app.jobs  # the heavy local models train only when asked
        ready, _ = app.answering_model()
        assert ready is app.models["bundle"]
        assert app.source_label == "bundle bundle"
