"""The minimum-listeners filter: applied before the cut (n results remain when the data has
them), in the core's answers and on the command line."""

import json

import numpy as np
import pytest

from tui_recs.cli import main
from tui_recs.data import demo
from tui_recs.pipeline import get_model


@pytest.fixture(scope="module")
def dataset():
    return demo(n_users=600, n_items=300)


@pytest.mark.parametrize("name", ["lsa", "cosine"])
def test_the_filter_applies_before_the_cut(dataset, name):
    ready = get_model(dataset, name, {"factors": 8} if name == "lsa" else {})
    listeners = dataset.item_listeners
    floor = int(np.quantile(listeners, 0.7))  # most artists fall below it
    everything, _ = ready.similar(5, dataset.n_items)
    expected = everything[listeners[everything] >= floor][:10]
    ids, scores = ready.similar(5, 10, min_listeners=floor)
    assert len(ids) == min(10, len(expected)) and (ids == expected).all()
    assert (np.diff(scores) <= 0).all()
    heard_all, _ = ready.recommend(7, dataset.n_items)
    ids, _ = ready.recommend(7, 10, min_listeners=floor)
    assert (ids == heard_all[listeners[heard_all] >= floor][:10]).all()
    ids, _ = ready.recommend_history([1, 2, 3], 10, min_listeners=floor)
    assert (listeners[ids] >= floor).all() and len(ids) == 10


def test_zero_shows_everything(dataset):
    ready = get_model(dataset, "popularity")
    assert (ready.similar(0, 10, min_listeners=0)[0] == ready.similar(0, 10)[0]).all()


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_takes_min_listeners(capsys, cache_root, hetrec):
    args = ["--data", str(hetrec), "related", "radiohead", "--model", "cosine", "-n", "30",
            "--json"]
    code, out, _ = run_cli(capsys, *args, "--min-listeners", "0")
    assert code == 0
    assert min(row["listeners"] for row in json.loads(out)["results"]) < 5
    code, out, _ = run_cli(capsys, *args, "--min-listeners", "5")
    rows = json.loads(out)["results"]
    assert code == 0 and len(rows) == 30 and min(row["listeners"] for row in rows) >= 5
    code, _, err = run_cli(capsys, *args, "--min-listeners", "-1")
    assert code == 2 and "--min-listeners" in err and len(err.strip().splitlines()) == 1


async def test_f_cycles_the_floor_shown_in_the_header_and_the_lists_follow(tmp_path):
    from test_app import make_app, settle

    from tui_recs.defaults import MIN_LISTENERS, MIN_LISTENERS_STEPS

    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = app.screen.query_one("#view-model")
        assert app.min_listeners == MIN_LISTENERS
        assert f"≥{MIN_LISTENERS} listeners (f)" in str(header.render())
        await pilot.press("escape")
        seen = []
        for _ in MIN_LISTENERS_STEPS:
            await pilot.press("f")
            await pilot.pause()
            seen.append(app.min_listeners)
            table = app.screen.query_one("#related")
            listeners = [int(str(table.get_row_at(row)[3]).replace(",", ""))
                         for row in range(table.row_count)]
            assert table.row_count == 20 and min(listeners) >= app.min_listeners
            shown = str(header.render())
            assert (f"≥{app.min_listeners} listeners" in shown if app.min_listeners
                    else "listeners" not in shown)
        assert sorted(seen) == sorted(MIN_LISTENERS_STEPS) and seen[-1] == MIN_LISTENERS
