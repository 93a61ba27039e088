"""The terminal UI, driven with Textual's Pilot: every flow a user goes through.

Tests run on a small demo dataset with small models, a private cache and config, and no
blinking or animation; the helpers here are shared with test_app_snapshots.py.
"""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from tui_recs.app.main import TuiRecsApp
from tui_recs.app.state import AUTO, VIEWS
from tui_recs.app.widgets.textbox import TextBox
from tui_recs.models import registry

#: Small and fast: a few ALS iterations on one thread (deterministic for snapshots).
SMALL_MODELS = {"als": {"factors": 16, "iterations": 3, "num_threads": 1}, "lsa": {"factors": 16},
                "bpr": {"factors": 8, "iterations": 3, "num_threads": 1},
                "lmf": {"factors": 8, "iterations": 2, "neg_prop": 3, "num_threads": 1},
                "sgd-mf": {"factors": 8, "iterations": 3, "num_threads": 1}}


@lru_cache(maxsize=1)
def small_demo():
    from tui_recs.data import demo

    return demo(n_users=2000, n_items=500)


def make_app(root: Path, **options) -> TuiRecsApp:
    """An app on the small demo data with its cache and config under ``root``; ``fresh``
    (not where the last test's app left off) unless asked otherwise."""
    settings = dict(dataset_factory=small_demo, model_params=SMALL_MODELS, cache_dir=root / "cache",
                    config_path=root / "config.json", cursor_blink=False, seed=0, fresh=True)
    settings.update(options)
    app = TuiRecsApp(**settings)
    app.animation_level = "none"
    return app


async def until(pilot, condition, timeout: float = 60.0) -> None:
    """Let workers and messages run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if condition():
            await pilot.pause()
            return
    raise AssertionError("condition not reached in time")


async def quiet(pilot) -> None:
    """Let background queries (search, explanations, fold-in) finish and show their results,
    including queries that showing a result starts."""
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return


async def settle(pilot, timeout: float = 60.0) -> None:
    """Wait until the data is loaded, no job runs, and the views are showing."""
    app = pilot.app
    await until(pilot, lambda: app.dataset is not None and app.current_mode != "loading"
                and not any(job.running for job in app.jobs.values()), timeout)
    await quiet(pilot)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(char, char) for char in text])


def distinct_artists(count: int) -> list[tuple[int, str]]:
    """Popular demo artists whose names no other name contains (so typing one finds it
    first), as (item, name)."""
    names = [str(name) for name in small_demo().item_names.tolist()]
    lowered = [name.lower() for name in names]
    found = []
    for item in small_demo().top_items(100).tolist():
        name = lowered[item]
        if not name.startswith("the ") and sum(name in other for other in lowered) == 1:
            found.append((item, names[item]))
            if len(found) == count:
                return found
    raise AssertionError("the demo data has too few distinct names")


def stalled_until(release: threading.Event):
    """A dataset factory that loads small_demo() only once ``release`` is set (at most 10 s)."""

    def stalled():
        release.wait(10)
        return small_demo()

    return stalled


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """One cache for the module: models trained by one test load from the cache in the next."""
    return tmp_path_factory.mktemp("app")


# ------------------------------------------------------------------------------ start-up
def modes_seen(app: TuiRecsApp) -> list[str]:
    """The modes (views) the app shows, in order, from its first one (call before it runs;
    filled in while it runs)."""
    seen = [app.current_mode]
    switch_mode = app.switch_mode

    def recording(mode: str):
        if mode != seen[-1]:
            seen.append(mode)
        return switch_mode(mode)

    app.switch_mode = recording
    return seen


def notifications_seen(app: TuiRecsApp) -> list[str]:
    """The messages of the notifications (toasts) the app raises, in order (call before it
    runs; filled in while it runs). Views notify through ``app.notify``."""
    seen: list[str] = []
    notify = app.notify

    def recording(message: str, **options):
        seen.append(message)
        return notify(message, **options)

    app.notify = recording
    return seen


async def test_the_loading_view_takes_over_while_models_train_then_gives_way_to_artists(root):
    app = make_app(root)
    seen = modes_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "data" in app.jobs)  # started as the app mounts
        await until(pilot, lambda: app.current_mode == "loading")
        await settle(pilot)
        assert seen == ["loading", "artists"], "data that is not cached opens on the loading view"
        assert app.current_mode == "artists"
        # The light models and the measured defaults; the other heavy ones wait to be chosen.
        assert set(app.models) == set(app.startup_models) == {"popularity", "bm25", "als"}
        assert app.models["als"].info["loss_history"], "the ALS loss is recorded per iteration"
        assert app.history.current == int(small_demo().top_items(1)[0])
        assert app.screen.query_one("#related").row_count == 20


async def test_from_the_cache_the_app_opens_on_artists_without_the_loading_view(root):
    demo = dict(n_users=2000, n_items=500)  # small_demo's data, through the dataset cache
    for run in ("dataset generated", "everything cached"):
        app = make_app(root, dataset_factory=None, demo_options=demo)
        seen = modes_seen(app)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.dataset.fingerprint == small_demo().fingerprint
            if run == "everything cached":
                assert seen == ["artists"], "from the cache the loading view never shows"
                assert app.screen.query_one("#related").row_count == 20
            else:
                assert seen == ["loading", "artists"]


def test_a_failing_cache_lookup_opens_the_loading_view_rather_than_crashing(root, monkeypatch):
    """The first view is chosen before the app runs: a cache that cannot be read must not
    stop it starting (the loader then reports the problem on the loading view)."""
    from tui_recs.data import store

    def unreadable(*args, **kwargs):
        raise PermissionError("cache manifest: permission denied")

    monkeypatch.setattr(store, "is_dataset_cached", unreadable)
    app = make_app(root, dataset_factory=None, demo_options=dict(n_users=2000, n_items=500))
    assert app.DEFAULT_MODE == "loading"


async def test_the_heap_is_frozen_while_the_app_runs_and_released_after(root):
    """Full garbage collections froze the UI for up to 70 ms: the app's long-lived objects
    are left out of them while it runs, and can be collected once it has exited."""
    import gc

    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_cancel_training_at_start_keeps_the_app_usable(root):
    slow = {**SMALL_MODELS, "als": {"factors": 32, "iterations": 10_000, "num_threads": 1}}
    app = make_app(root, model_params=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.jobs.get("als") is not None and app.jobs["als"].losses)
        assert app.current_mode == "loading"
        await pilot.press("escape")
        await settle(pilot)
        assert app.jobs["als"].status == "cancelled"
        assert "als" not in app.models
        assert app.current_mode == "artists"
        related_title = str(app.screen.query_one("#related-title").render())
        # Esc cancels every model still training: BM25 too, unless it was done already.
        stand_in = "BM25 kNN" if "bm25" in app.models else "popularity"
        if stand_in == "popularity":
            assert "BM25 kNN is not trained (cancelled): showing popularity" in related_title
        assert app.screen.query_one("#related").row_count == 20
        await pilot.press("escape", "2")
        await settle(pilot)
        recommended = str(app.screen.query_one("#recs-title").render())
        assert f"ALS is not trained (cancelled): showing {stand_in}" in recommended
        assert app.screen.query_one("#recommended").row_count


async def test_escape_while_the_data_loads_quits(root):
    release = threading.Event()
    stalled = stalled_until(release)
    app = make_app(root, dataset_factory=stalled)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "data" in app.jobs)
            assert app.jobs["data"].running
            await pilot.press("escape")
            await pilot.pause()
    finally:
        release.set()
    assert app.return_code == 0 and app.dataset is None


async def test_the_loading_view_lists_the_models_waiting_for_the_data(root):
    """Rows for the models are there from the start (no layout of the whole view when the
    data lands), each saying what it waits for, then following its job."""
    from tui_recs.app.widgets.progress import JobProgress

    release = threading.Event()
    stalled = stalled_until(release)
    app = make_app(root, dataset_factory=stalled)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.current_mode == "loading")
            rows = {row.key: row for row in app.screen.query(JobProgress)}
            assert set(rows) == {"data", "popularity", "bm25", "als"}
            for name in ("popularity", "bm25", "als"):
                assert rows[name].display
                assert "waits for the data" in str(rows[name].query_one(".job-message").render())
            release.set()
            await until(pilot, lambda: app.dataset is not None)
            assert "waits" not in str(rows["als"].query_one(".job-message").render())
            await pilot.press("escape", "q")
    finally:
        release.set()


async def test_quitting_after_a_data_error_exits_with_1(root, tmp_path):
    missing = tmp_path / "nowhere.tsv"
    app = make_app(root, data=missing, dataset_factory=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.load_error is not None)
        assert "no such file" in app.load_error
        await pilot.press("q")
    assert app.return_code == 1


async def test_a_bad_data_file_is_an_error_on_screen_not_a_crash(root, monkeypatch, tmp_path):
    bad = tmp_path / "plays.csv"
    bad.write_text("user,artist,plays\nu1,a,lots\nu2,b,many\nu3,c,x\n" * 10, encoding="utf-8")
    app = make_app(root, data=bad, dataset_factory=None)
    notifications = notifications_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.load_error is not None)
        assert app.current_mode == "loading"
        assert "plays.csv" in app.load_error
        assert not notifications  # the view shows the error: no toast repeats it
        assert "Could not load the data" in str(app.screen.query_one("#loading-hint").render())
        assert "plays.csv" in str(app.screen.query_one(".job-message").render())
        # d opens the demo data instead (small here, to stay fast).
        from tui_recs.app.views import loading

        monkeypatch.setattr(loading, "_open_demo", lambda cache_dir, use_cache: small_demo())
        await pilot.press("d")
        await settle(pilot)
        assert app.dataset is small_demo()
        assert app.current_mode == "artists"
        await pilot.press("escape", "q")
    assert app.return_code == 0


async def test_the_loading_view_never_goes_back_a_stage(root):
    """A model trained in a child process is then looked up in the cache: the row stays at
    its last iteration rather than going back to "looking for a cached als model"."""
    from tui_recs.app.messages import JobProgressed
    from tui_recs.app.state import Job
    from tui_recs.app.widgets.progress import JobProgress
    from tui_recs.pipeline import Stage

    release = threading.Event()
    app = make_app(root, dataset_factory=stalled_until(release))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.current_mode == "loading")
            job = Job("als", "ALS", 0.0)
            app.jobs["als"] = job
            row = next(row for row in app.screen.query(JobProgress) if row.key == "als")
            reports = [Stage("fit", 0.0, "looking for a cached als model"),
                       Stage("fit", 0.5, "als iteration 1/2"),
                       Stage("fit", 1.0, "als iteration 2/2", 0.5),
                       Stage("fit", 0.0, "looking for a cached als model"),
                       Stage("fit", 0.5, "als iteration 1/2")]
            for stage in reports:
                app.post_message(JobProgressed(job, stage))
            await pilot.pause()
            await pilot.pause()
            assert (job.fraction, job.message, job.losses) == (1.0, "als iteration 2/2", [0.5])
            assert "iteration 2/2" in str(row.query_one(".job-message").render())
            app.post_message(JobProgressed(job, Stage("index", 0.0, "building the index")))
            await pilot.pause()
            assert "building the index" in str(row.query_one(".job-message").render())
            job.finish("cancelled", 0.0)
            await pilot.press("escape")
    finally:
        release.set()


# -------------------------------------------------------------------------------- artists
async def test_search_and_open_an_artist(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, TextBox)
        [(item, name)] = distinct_artists(1)
        await type_text(pilot, name.lower())
        await quiet(pilot)
        matches = app.screen.query_one("#artist-search OptionList")
        assert matches.get_option_at_index(0).id == str(item)
        await pilot.press("enter")
        await pilot.pause()
        assert app.history.current == item
        assert name in str(app.screen.query_one("#artist-info").render())
        assert "listeners" in str(app.screen.query_one("#artist-info").render())
        assert app.focused.id == "related"
        assert app.screen.query_one("#related").row_count == 20


async def test_the_related_artists_follow_the_highlighted_match(root):
    """Preview as you move: the highlighted match's related artists show once the highlight
    rests; Enter opens it (the back history only records what was opened)."""
    app = make_app(root)
    dataset = small_demo()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.history.current
        await type_text(pilot, "the")
        await quiet(pilot)
        matches = app.screen.query_one("#artist-search OptionList")
        second = int(matches.get_option_at_index(1).id)
        await pilot.press("down")
        await pilot.pause(0.05)
        title = app.screen.query_one("#related-title")
        assert str(dataset.item_names[second]) not in str(title.render()), "not at once"
        await until(pilot, lambda: str(dataset.item_names[second]) in str(title.render()))
        assert "preview" in str(title.render()) and app.history.current == first
        related = app.screen.query_one("#related")
        answering, _ = app.answering_model()
        assert answering.name == "bm25"  # auto: the measured default for related artists
        assert [int(key.value) for key in related.rows] == \
            answering.similar(second, 20, min_listeners=app.min_listeners)[0].tolist()
        await pilot.press("enter")
        assert app.history.current == second and "preview" not in str(title.render())
        await pilot.press("b")
        assert app.history.current == first


async def test_a_previews_top_listeners_wait_for_the_highlight_to_rest(root):
    """Their pass over every play is put off LISTENERS_DELAY, so that typing on never waits."""
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        second = int(app.screen.query_one("#artist-search OptionList").get_option_at_index(1).id)
        info = app.screen.query_one("#artist-info")
        await until(pilot, lambda: app.screen.shown_item == second)
        assert "Top listeners" not in str(info.render())
        await until(pilot, lambda: "Top listeners" in str(info.render()))


async def test_leaving_the_search_opens_the_previewed_match(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.history.current
        await pilot.press("down", "down")
        matches = app.screen.query_one("#artist-search OptionList")
        third = int(matches.get_option_at_index(2).id)
        await until(pilot, lambda: app.screen.shown_item == third)
        await pilot.press("escape")
        assert app.history.current == third and app.focused.id == "related"
        await pilot.press("b")
        assert app.history.current == first


async def test_the_recommendations_follow_the_listener_id_typed(root):
    app = make_app(root)
    dataset = small_demo()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2", "slash")
        await type_text(pilot, str(dataset.user_ids[7])[:-1])
        await pilot.pause(0.3)
        assert app.listener == 0, "a half-typed id previews nothing"
        await type_text(pilot, str(dataset.user_ids[7])[-1])
        await until(pilot, lambda: app.listener == 7)
        assert isinstance(app.focused, TextBox), "typing goes on in the box"
        assert app.screen.query_one("#recommended").row_count == 20


async def test_an_unknown_name_says_so_and_suggests_the_closest(root):
    app = make_app(root)
    notifications = notifications_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.history.current
        [(_, name)] = distinct_artists(1)
        # Its start matches; nothing matches it all, nor shares a third of its trigrams.
        typed = name.lower() + "qjxzvkwpfbgqmxjzvwkqpfyxbjgzmqvh"
        await type_text(pilot, typed)
        await quiet(pilot)
        matches = app.screen.query_one("#artist-search OptionList")
        expected = f"No artist matches '{typed}' — did you mean {name}?"
        assert matches.option_count == 1
        assert matches.get_option_at_index(0).prompt.plain == expected
        await pilot.press("enter")
        assert expected in notifications and app.history.current == first


async def test_search_folds_case_accents_and_punctuation(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        [(item, name)] = distinct_artists(1)
        typed = name.upper().replace(" ", "-").replace("E", "É").replace("A", "Ä")
        await type_text(pilot, typed)
        await quiet(pilot)
        matches = app.screen.query_one("#artist-search OptionList")
        assert matches.get_option_at_index(0).id == str(item)


async def test_names_that_look_like_markup_show_as_they_are(tmp_path):
    """Last.fm has an artist called "[unknown]"; a DataTable reads str cells as markup, so
    the tables must be given plain text (a name with "[/...]" used to raise)."""
    from tui_recs.data.dataset import Dataset

    demo = small_demo()
    names = np.array([f"[{name}]" if item % 2 else f"{name} [/live]"
                      for item, name in enumerate(demo.item_names.tolist())], dtype=object)
    odd = Dataset(user_items=demo.user_items, user_ids=demo.user_ids, item_ids=names,
                  item_names=names)
    app = make_app(tmp_path, dataset_factory=lambda: odd)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#related")
        shown = [str(table.get_row_at(row)[1]) for row in range(table.row_count)]
        expected = [str(names[int(key.value)]) for key in table.rows]
        assert shown == expected and any("[/live]" in name for name in shown)
        assert "[/live]" in app.export_screenshot()  # drawn, not only stored


async def test_walk_related_artists_and_back(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.history.current
        await pilot.press("escape")  # leave the search box for the related artists
        assert app.focused.id == "related"
        await pilot.press("down", "enter")
        second = app.history.current
        assert second != first
        await pilot.press("down", "down", "down", "enter")
        third = app.history.current
        assert third not in (first, second)
        table = app.screen.query_one("#related")
        assert table.cursor_row == 0
        await pilot.press("b")
        assert app.history.current == second
        await pilot.pause()
        assert table.cursor_row == 3, "back puts the cursor on the row you left"
        await pilot.press("b")
        assert app.history.current == first
        await pilot.pause()
        assert table.cursor_row == 1
        await pilot.press("b")  # nothing earlier: a notice, not an error
        assert app.history.current == first


async def test_copy_an_artist_or_the_list_and_open_its_page(root):
    app = make_app(root)
    notifications = notifications_seen(app)
    opened: list[str] = []
    app.open_url = lambda url, **options: opened.append(url)
    dataset = small_demo()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "down", "y")
        table = app.screen.query_one("#related")
        second = int(table.coordinate_to_cell_key((1, 0)).row_key.value)
        name = str(dataset.item_names[second])
        assert app.clipboard == name and f"Copied {name}" in notifications
        await pilot.press("Y")
        lines = app.clipboard.splitlines()
        assert lines[0] == "#\tartist\tsimilarity\tlisteners" and len(lines) == 21
        assert lines[2].split("\t")[:2] == ["2", name]
        assert "Copied 20 rows as TSV" in notifications[-1]
        await pilot.press("o")
        from urllib.parse import quote_plus

        assert opened == ["https://www.last.fm/search?q=" + quote_plus(name)]
        assert notifications[-1] == f"Opened {opened[0]}"


def test_an_artist_page_comes_from_the_data_when_it_is_a_web_address():
    from tui_recs.app.views.lists import artist_url
    from tui_recs.data.dataset import Dataset

    demo = small_demo()
    urls = np.array(["http://www.last.fm/music/First", "javascript:alert(1)",
                     "https://x.test/a\x1b[2J"] + [""] * (demo.n_items - 3), dtype=object)
    names = demo.item_names.copy()
    names[1] = "AC/DC & Friends"
    data = Dataset(user_items=demo.user_items, user_ids=demo.user_ids, item_ids=demo.item_ids,
                   item_names=names, item_meta={"url": urls})
    assert artist_url(data, 0) == "http://www.last.fm/music/First"
    assert artist_url(data, 1) == "https://www.last.fm/search?q=AC%2FDC+%26+Friends"
    assert artist_url(data, 2).startswith("https://www.last.fm/search?q=")


def test_o_opens_a_hetrec_artists_own_lastfm_page(hetrec):
    from tui_recs.app.views.lists import artist_url
    from tui_recs.data import load

    data = load(hetrec)
    by_name = {name: item for item, name in enumerate(data.item_names.tolist())}
    assert artist_url(data, by_name["Diary of Dreams"]) == \
        "http://www.last.fm/music/Diary+of+Dreams"


async def test_m_steps_from_the_defaults_through_the_models_training_them_when_chosen(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        title = app.screen.query_one("#related-title")
        bar = app.screen.query_one("#view-model")
        assert app.preferred == AUTO and "BM25 kNN" in str(title.render())
        assert "BM25 kNN auto" in str(bar.render())
        await pilot.press("escape", "2")
        assert "ALS auto" in str(app.screen.query_one("#view-model").render())
        await pilot.press("1", "m")
        assert app.preferred == "als" and "ALS" in str(title.render())
        assert "lsa" not in app.models and "lsa" not in app.jobs  # not trained at start
        await pilot.press("m")
        assert app.preferred == "lsa" and app.jobs["lsa"].running
        assert "LSA is still training: showing" in str(title.render())
        await until(pilot, lambda: "lsa" in app.models)
        await settle(pilot)
        assert "LSA" in str(title.render()) and "training" not in str(title.render())
        assert "model LSA" in str(app.screen.query_one("#view-model").render())


# ------------------------------------------------------------------------------ listeners
async def test_pick_a_listener_and_read_the_explanation(root):
    app = make_app(root)
    dataset = small_demo()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2")
        assert app.current_mode == "listeners"
        assert app.focused.id == "recommended"
        await pilot.press("slash")
        await type_text(pilot, dataset.user_ids[7])
        await pilot.press("enter")
        assert app.listener == 7
        screen = app.screen
        history, recommended = screen.query_one("#history"), screen.query_one("#recommended")
        assert history.row_count == min(20, dataset.user_items[7].nnz)
        assert recommended.row_count == 20
        heard = {int(key.value) for key in history.rows}
        recommended_items = [int(key.value) for key in recommended.rows]
        assert not heard & set(recommended_items), "already-heard artists are left out"
        await pilot.press("down")
        await quiet(pilot)  # explanations are computed in the background
        explanation = str(screen.query_one("#explanation").render())
        assert "Because you listened to" in explanation
        assert str(dataset.item_names[recommended_items[1]]) in explanation
        await pilot.press("r")
        assert app.listener != 7


async def test_an_unknown_listener_id_is_a_notification(root):
    app = make_app(root)
    notifications = notifications_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2", "slash")
        await type_text(pilot, "nobody-here")
        await pilot.press("enter")
        assert app.listener == 0
        assert any("no listener with id 'nobody-here' (ids look like:" in message
                   for message in notifications)


async def test_a_new_listener_gets_recommendations_by_fold_in(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2", "n")
        assert app.new_listener
        liked = distinct_artists(2)
        for _, name in liked:
            await type_text(pilot, name.lower())
            await quiet(pilot)
            await pilot.press("enter")
            await pilot.press(*["backspace"] * len(name))
        await quiet(pilot)  # fold-in runs in the background
        assert app.picks == [item for item, _ in liked]
        recommended = app.screen.query_one("#recommended")
        assert recommended.row_count == 20
        assert not set(app.picks) & {int(key.value) for key in recommended.rows}
        assert "fold-in" in str(app.screen.query_one("#recs-title").render())
        await pilot.press("escape")  # out of the search box; then remove the highlighted pick
        app.screen.query_one("#picks").focus()
        await pilot.press("delete")
        assert app.picks == [liked[1][0]]


# -------------------------------------------------------------------------------- compare
async def test_compare_any_two_models(root):
    """Compare opens on the two measured defaults; [ and ] pick any other model for a side
    (trained then if it was not), s swaps, t switches to a listener, +/- the length."""
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "3")
        screen = app.screen

        def stats() -> str:
            return str(screen.query_one("#compare-stats").render())

        graph = screen.query_one("#slopegraph")
        assert "BM25 kNN vs ALS" in stats() and "overlap@10" in stats()
        assert "rank correlation" in stats() and not graph.stacked
        drawing = str(graph.render())
        assert "─" in drawing and "only in BM25 kNN" in drawing
        await pilot.press("right_square_bracket")
        assert app.compare_pair == ["bm25", "lsa"] and "lsa" in app.jobs
        await until(pilot, lambda: "BM25 kNN vs LSA" in stats())
        await pilot.press("left_square_bracket")
        assert app.compare_pair == ["tfidf", "lsa"]
        await until(pilot, lambda: "TF-IDF kNN vs LSA" in stats())
        assert "only in TF-IDF kNN" in str(graph.render())
        await pilot.press("s")
        assert app.compare_pair == ["lsa", "tfidf"] and "LSA vs TF-IDF kNN" in stats()
        await pilot.press("t")
        assert app.compare_subject == "listener"
        assert "Recommended for listener" in str(screen.query_one("#compare-title").render())
        await pilot.press("plus")
        assert screen.length == 15


async def test_compare_stacks_the_lists_on_a_narrow_terminal(root):
    app = make_app(root)
    async with app.run_test(size=(56, 40)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "3")
        graph = app.screen.query_one("#slopegraph")
        assert graph.stacked
        drawing = str(graph.render())
        assert drawing.index("BM25 kNN") < drawing.index("ALS")  # one list above the other
        assert "→" in drawing or "×" in drawing


async def test_below_80_columns_the_artists_view_stacks_and_names_get_the_width(root):
    app = make_app(root)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        search, related = app.screen.query_one("#artist-search"), app.screen.query_one("#related")
        assert search.region.width == 60 and related.region.y > search.region.y
        assert search.region.height == 5, "the matches show while the search has the focus"
        await pilot.press("escape")
        await pilot.pause()
        assert search.region.height == 1, "then only its box"
        artist_column = related.columns["artist"].get_render_width(related)
        assert artist_column >= 30 and related.row_count == 20


async def test_below_80_columns_the_listeners_view_stacks_its_panes(root):
    app = make_app(root)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2")
        await quiet(pilot)
        history, recommended = (app.screen.query_one(f"#{name}")
                                for name in ("history", "recommended"))
        assert history.region.width == recommended.region.width == 60
        assert recommended.region.y > history.region.bottom, "one above the other"
        assert recommended.row_count > 0 and recommended.region.height >= 5
        assert recommended.columns["artist"].get_render_width(recommended) >= 30
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:  # from 80 columns: side by side
        await settle(pilot)
        await pilot.press("escape", "2")
        await quiet(pilot)
        history, recommended = (app.screen.query_one(f"#{name}")
                                for name in ("history", "recommended"))
        assert history.region.y == recommended.region.y and recommended.region.x > 30


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 50)])
async def test_lists_fit_their_width_at_every_size(root, size):
    """No column pushed out of sight, whatever the breakpoint docks beside the tables."""
    app = make_app(root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("escape", "2")
        await quiet(pilot)
        await pilot.press("1")
        await quiet(pilot)
        for view, ids in (("artists", ["#related"]), ("listeners", ["#history", "#recommended"])):
            await pilot.press(str(list(VIEWS).index(view) + 1))
            await quiet(pilot)
            for table_id in ids:
                table = app.screen.query_one(table_id)
                used = sum(column.get_render_width(table) for column in table.columns.values())
                assert 0 < used <= table.scrollable_content_region.width, (view, table_id)
        await pilot.press("1")
        matches = app.screen.query_one("MatchList")
        first = matches.get_option_at_index(0).prompt.plain
        assert len(first) == matches.scrollable_content_region.width and first[-1].isdigit()


def test_slopegraph_lines_never_share_a_cell():
    from tui_recs.app.widgets.slopegraph import draw_links
    from tui_recs.compare import compare_rankings

    comparison = compare_rankings([1, 2, 3, 4, 5, 6], [2, 1, 7, 6, 5, 3])
    grid = draw_links(comparison, 24)
    rows = ["".join(cell.char for cell in row) for row in grid]
    assert rows[0].startswith("──") and "╲╱" in rows[0] and "╱╲" in rows[1]  # 1 and 2 swap
    assert rows[3].startswith("─×")  # 4 is only on the left
    assert rows[2].rstrip().endswith("+─")  # 7 is only on the right
    assert draw_links(comparison, 4) is None  # too narrow: the caller stacks the lists


# --------------------------------------------------------------------------------- models
async def test_retrain_with_new_hyperparameters(root):
    app = make_app(root)
    notifications = notifications_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        old = app.models["als"]
        await pilot.press("escape", "4")
        assert app.screen.selected == "als"
        await pilot.press("t")
        assert app.screen.__class__.__name__ == "RetrainScreen"
        started = []
        train = app.train

        def watch_train(name, params=None):
            train(name, params)
            started.append((app.jobs[name].running, app.models[name] is old))

        app.train = watch_train
        app.screen.query_one("#param-iterations").value = "60"
        factors = app.screen.query_one("#param-factors")
        factors.value = "8"
        factors.focus()
        await pilot.press("enter")
        assert started == [(True, True)], "the old model stays in use while the new one trains"
        await until(pilot, lambda: app.models["als"] is not old)
        assert app.screen.__class__.__name__ == "ModelsScreen"
        assert app.models["als"].params["factors"] == 8
        assert len(app.models["als"].info["loss_history"]) == 60
        assert any("retrained" in message for message in notifications)


async def test_retrain_rejects_a_bad_value_in_the_dialog(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "4", "t")
        dialog = app.screen
        dialog.query_one("#param-factors").value = "many"
        await pilot.press("ctrl+s")
        assert app.screen is dialog
        assert "factors" in str(dialog.query_one("#retrain-error").render())
        dialog.query_one("#param-factors").value = "0"
        await pilot.press("ctrl+s")
        assert "factors must be an integer from 1 to 1024" in str(dialog.query_one("#retrain-error").render())
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ModelsScreen"
        assert not app.jobs["als"].running


async def test_run_the_evaluation(root):
    app = make_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "4", "e")
        # Every registered model is refitted in a child process (Numba compiles each there).
        await until(pilot, lambda: app.evaluation is not None, timeout=300)
        models = [row["model"] for row in app.evaluation.rows]
        assert models == [name for name in registry.names() if name != "popularity"] + [
            "popularity"]
        table = app.screen.query_one("#evaluation")
        assert table.row_count == len(registry.names()) and table.display
        rmse = [table.get_row_at(row)[-1] for row in range(table.row_count)]  # SGD-MF's alone
        assert [bool(cell) for cell in rmse] == [name == "sgd-mf" for name in models]


async def test_use_a_model_from_the_models_view(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "4", "down", "u")
        assert app.preferred == "lsa"


# ------------------------------------------------------------------------------ the rest
async def test_command_palette_goes_to_an_artist(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        [(item, name)] = distinct_artists(1)
        await pilot.press("escape", "2", "ctrl+p")
        await type_text(pilot, name.lower())
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "artists")
        assert app.history.current == item


async def test_command_palette_offers_a_listener_id_first(tmp_path):
    """A number that is a listener id is that listener, before artists with the number in
    their names ("Haircut 100") and before the ids that start with it (1000...)."""
    from tui_recs.data.dataset import Dataset

    demo = small_demo()
    user_ids = np.array([str(row + 2) for row in range(demo.n_users)], dtype=object)
    names = demo.item_names.copy()
    names[:3] = ["Haircut 100", "100 Bitches", "Ugly Kid 1000"]
    numbered = Dataset(user_items=demo.user_items, user_ids=user_ids, item_ids=demo.item_ids,
                       item_names=names)
    app = make_app(tmp_path, dataset_factory=lambda: numbered)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "ctrl+p")
        await type_text(pilot, "100")
        await pilot.pause(0.5)
        offered = app.screen.query_one("CommandList")
        prompts = [str(offered.get_option_at_index(index).prompt)
                   for index in range(offered.option_count)]
        assert "Go to listener: 100" in prompts[0]
        assert any("Haircut 100" in prompt for prompt in prompts[1:])
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "listeners")
        assert app.listener == 98


async def test_command_palette_switches_the_model(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "ctrl+p")
        await type_text(pilot, "use model: lsa")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.preferred == "lsa")


async def test_command_palette_goes_to_a_listener(root):
    app = make_app(root)
    user_id = str(small_demo().user_ids[5])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "ctrl+p")
        await type_text(pilot, user_id)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "listeners")
        assert app.listener == 5


async def test_command_palette_opens_the_retrain_dialog(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "ctrl+p")
        await type_text(pilot, "retrain lsa")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.__class__.__name__ == "RetrainScreen")
        assert app.screen.model_name == "lsa"
        assert app.current_mode == "models"


async def test_keys_can_be_changed_in_the_config(root, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"keymap": {"artists.back": "z"}}))
    app = make_app(root, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.history.current
        await pilot.press("escape", "enter")
        assert app.history.current != first
        await pilot.press("z")
        assert app.history.current == first


async def test_help_screen(root):
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "ArtistsScreen"
        await pilot.press("escape", "question_mark")  # ? too, once out of the search box
        assert app.screen.__class__.__name__ == "HelpScreen"


async def test_the_theme_is_remembered(root, tmp_path):
    config = tmp_path / "config.json"
    app = make_app(root, config_path=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.theme = "nord"
        await pilot.pause()
    assert json.loads(config.read_text())["theme"] == "nord"
    again = make_app(root, config_path=config)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"


async def test_the_next_start_opens_where_the_session_left_off(root, tmp_path):
    config = tmp_path / "config.json"
    dataset = small_demo()
    app = make_app(root, config_path=config, fresh=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "down", "enter", "m", "m", "2", "slash")
        walked = app.history.current
        await type_text(pilot, str(dataset.user_ids[7]))
        await pilot.press("enter")
        assert app.listener == 7
    saved = json.loads(config.read_text())["session"]
    assert saved["view"] == "listeners" and saved["model"] == "lsa"
    assert saved["artist"] == str(dataset.item_names[walked])
    assert saved["params"]["als"]["factors"] == SMALL_MODELS["als"]["factors"]

    again = make_app(root, config_path=config, fresh=False, model_params=None)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.current_mode == "listeners" and again.listener == 7
        assert again.history.current == walked and again.preferred == "lsa"
        assert "lsa" in again.startup_models  # the model in use trains (loads) at start
        assert again.model_params["als"]["factors"] == SMALL_MODELS["als"]["factors"]
        assert "LSA" in str(again.screen.query_one("#recs-title").render())

    clean = make_app(root, config_path=config, fresh=True)
    async with clean.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert clean.current_mode == "artists" and clean.preferred == AUTO
        assert clean.history.current == int(dataset.top_items(1)[0])


@pytest.mark.parametrize("content", [
    "{not json", "[" * 100_000 + "]" * 100_000, '"just a string"', " " * (2 << 20),
    json.dumps({"session": {"view": "loading", "model": "rm -rf /", "artist": 5,
                            "params": {"als": {"alpha": float("nan")}, "evil": {},
                                       "lsa": {"factors": 10**9}, "popularity": "x"}}}),
], ids=["not-json", "too-deep", "not-an-object", "too-large", "hostile-fields"])
async def test_a_damaged_or_hostile_config_is_ignored_with_a_notification(root, tmp_path,
                                                                          content):
    config = tmp_path / "config.json"
    config.write_text(content, encoding="utf-8")
    app = make_app(root, config_path=config, fresh=False, model_params=None)
    notifications = notifications_seen(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "artists" and app.preferred == AUTO
        assert not any(app.model_params.values()), "nothing of it is used"
        assert any(str(config) in message and "ignored" in message
                   for message in notifications), notifications


def test_every_binding_has_an_id():
    from textual.binding import Binding

    from tui_recs.app.help import HelpScreen
    from tui_recs.app.views.retrain import RetrainScreen
    from tui_recs.app.widgets.search import ArtistSearch

    owners = [TuiRecsApp, HelpScreen, RetrainScreen, ArtistSearch, *TuiRecsApp.MODES.values()]
    missing = [f"{owner.__name__}: {binding.key}" for owner in owners
               for binding in owner.BINDINGS if isinstance(binding, Binding) and not binding.id]
    assert missing == []


def test_run_passes_the_mouse_setting_and_returns_the_exit_code(monkeypatch):
    import tui_recs.app

    seen = {}

    def fake_run(self, mouse=True, **options):
        seen["mouse"] = mouse
        self._return_code = 3

    environment: dict[str, str] = {}
    monkeypatch.setattr(tui_recs.app.os, "environ", environment)
    monkeypatch.setattr(TuiRecsApp, "run", fake_run)
    assert tui_recs.app.run(mouse=False) == 3
    assert seen == {"mouse": False}
    assert environment["NUMBA_NUM_THREADS"] == environment["OPENBLAS_NUM_THREADS"]
    assert int(environment["NUMBA_NUM_THREADS"]) >= 1  # a core is left for the UI


@pytest.mark.parametrize("argv, fresh", [([], False), (["--fresh"], True)])
def test_fresh_on_the_command_line_starts_the_app_clean(monkeypatch, argv, fresh):
    import tui_recs.app
    import tui_recs.app.terminal
    from tui_recs.cli import main

    seen = {}
    monkeypatch.setattr(tui_recs.app.terminal, "refusal", lambda *args: "")
    monkeypatch.setattr(tui_recs.app, "run", lambda **options: seen.update(options) or 0)
    assert main(argv) == 0
    assert seen["fresh"] is fresh


def test_importing_the_app_package_is_cheap():
    import subprocess
    import sys

    code = "import sys, tui_recs.app; print('textual' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
