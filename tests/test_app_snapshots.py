"""What each view looks like, at 60×20, 80×24 and 120×40, on the small demo data.

The clock is frozen (elapsed times read 0.0 s), cursors do not blink and animations are off,
so the pictures only change when the UI does. Update after a deliberate change with
``pytest tests/test_app_snapshots.py --snapshot-update`` and look at the report.
"""

from __future__ import annotations

import pytest

from test_app import SMALL_MODELS, distinct_artists, make_app, quiet, settle, type_text, until

#: 60×20: the Artists view stacks its panes below 80 columns, and the header drops the app's
#: name to keep every view's name.
SIZES = [pytest.param((60, 20), id="60x20"), pytest.param((80, 24), id="80x24"),
         pytest.param((120, 40), id="120x40")]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("snapshots")


#: Exact ALS solves: the CG kernel's sums vectorize to the CPU's SIMD width (fastmath), so its
#: factors differ in the 4th decimal between an AVX2 and an AVX-512 machine (the related
#: artists' cosines and order with them); Cholesky's are the same on both.
SNAPSHOT_MODELS = {**SMALL_MODELS, "als": {**SMALL_MODELS["als"], "solver": "cholesky"}}


def frozen_app(root, **options):
    return make_app(root, clock=lambda: 0.0, model_params=SNAPSHOT_MODELS, **options)


def showing(view: str, *keys: str):
    """A run_before that waits for the models, then leaves the search box for ``view``."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("escape", view, *keys)
        await quiet(pilot)

    return run_before


def picking(text: str, *keys: str):
    """A run_before that waits for the models, presses ``keys``, types ``text`` in the search
    box that has the focus then, and picks the first match."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await type_text(pilot, text)
        await quiet(pilot)
        await pilot.press("enter")
        await quiet(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_artists_view(snap_compare, root, size):
    assert snap_compare(frozen_app(root), terminal_size=size,
                        run_before=picking(distinct_artists(1)[0][1][:4].lower()))


@pytest.mark.parametrize("size", SIZES)
def test_listeners_view(snap_compare, root, size):
    assert snap_compare(frozen_app(root), terminal_size=size,
                        run_before=showing("2", "down", "down"))


@pytest.mark.parametrize("size", SIZES)
def test_new_listener_view(snap_compare, root, size):
    assert snap_compare(frozen_app(root), terminal_size=size,
                        run_before=picking(distinct_artists(1)[0][1].lower(), "escape", "2", "n"))


@pytest.mark.parametrize("size", SIZES)
def test_compare_view(snap_compare, root, size):
    assert snap_compare(frozen_app(root), terminal_size=size, run_before=showing("3"))


@pytest.mark.parametrize("size", SIZES)
def test_models_view(snap_compare, root, size):
    async def run_before(pilot) -> None:
        await showing("4")(pilot)
        app = pilot.app
        for ready in app.models.values():  # training time varies from run to run
            ready.info["fit_seconds"] = 1.0
        app.models_version += 1
        await pilot.pause()

    assert snap_compare(frozen_app(root), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_loading_view_with_a_bad_file(snap_compare, root, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)  # the error names the file as given: keep it the same
    bad = tmp_path / "plays.csv"
    bad.write_text("user,artist,plays\n" + "u1,a,lots\n" * 40, encoding="utf-8")

    async def run_before(pilot) -> None:
        await until(pilot, lambda: pilot.app.load_error is not None)

    app = frozen_app(root, data="plays.csv", dataset_factory=None)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_help_screen(snap_compare, root):
    assert snap_compare(frozen_app(root), terminal_size=(80, 24), run_before=showing("1", "f1"))


def test_artists_view_without_colour(snap_compare, root, monkeypatch):
    """NO_COLOR: textual draws in greys, and the cursor rows are in reverse video."""
    monkeypatch.setenv("NO_COLOR", "1")  # textual reads it as the app is created
    assert snap_compare(frozen_app(root), terminal_size=(80, 24),
                        run_before=picking(distinct_artists(1)[0][1][:4].lower()))

