"""The app under load, measured headless (run by hand).

    python benchmarks/bench_ui.py [--scale default|0.1|360k] [--data PATH] [--cache-dir DIR]
                                  [--rounds 3] [--quick] [--bundle DIR]

Each run is a fresh process (imports included) driving the real app with Textual's Pilot;
times are taken when the compositor hands a frame to the terminal (the headless driver then
writes nothing):

- ``first paint``: process start to the first frame painted (target ≤ 1.0 s);
- ``ready``: process start to the first frame painted once every start-up model is trained or
  loaded, the names searchable and the Artists view holds the related artists (from the
  cache: the second run; target ≤ 1.5 s), watched beside the typing;
- ``event-loop stalls``: a 10 ms timer on the UI thread records how late it fires while data
  loads and models train; a stall is the UI frozen for that long (target: none over 100 ms);
- ``keystroke``: a key typed into the artist search box to the first frame painted with its
  matches, while the models train and again when they are ready (target ≤ 50 ms at 290K
  names); once ready, also typed slowly enough for a match to be previewed (its related
  artists drawn) just before each next key, the worst case for the preview: after key i's
  matches show, match i is highlighted, so that each preview draws another artist (the
  report says how many artists were previewed).

Each round makes two runs: the first with whatever the cache holds (cold with the default
fresh temporary cache), the second from the cache. The verdicts come last: medians (with the
spread) of the first paints and of the ready times from the cache, the slowest keystroke and
the stalls of every run. The app's modules run from compiled bytecode, as installed
(PYTHONDONTWRITEBYTECODE is dropped for the runs: compiling them cost ~0.1 s). ``--quick``:
tiny data, one round.

``--bundle DIR``: the app opens the model bundle DIR instead (``tui-recs --bundle DIR``: its
model and popularity at start, nothing trained). A DIR without a manifest is made first, not
timed: the demo data at ``--scale`` and an ALS of ``--bundle-iterations`` sweeps (default 3:
the factors' quality does not change what is timed) trained here and written by tui-recs'
local bundle writer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _measure import QUICK_SCALE, median_spread, verdict

CHILD = r"""
import time
started = time.perf_counter()
import asyncio, json, pathlib, statistics, sys, tempfile

from tui_recs.app import leave_a_core_for_the_ui
leave_a_core_for_the_ui()
from tui_recs.app.main import TuiRecsApp
from tui_recs.app.views.artists import ArtistsScreen
from tui_recs.app.widgets.search import ArtistSearch

options = json.loads(sys.argv[1])
settings = tempfile.TemporaryDirectory()  # fresh, and the user's own settings left alone
app = TuiRecsApp(options["data"], cache_dir=options["cache_dir"], demo_options=options["demo"],
                 cursor_blink=False, fresh=True, bundles=options["bundles"],
                 config_path=pathlib.Path(settings.name) / "config.json")
TICK = 0.01
stalls = []          # (seconds late, what was running, seconds since process start)
keystrokes = {"training": [], "ready": [], "previewing": []}
frames = []          # perf_counter of every frame the compositor hands to the terminal
shown = {}           # query -> perf_counter once its matches (or "no match") are in the list
real_display = app._display
real_show = ArtistSearch._show


def display(screen, update):  # where Textual writes a frame (headless: writes nothing)
    if update is not None:
        frames.append(time.perf_counter())
    real_display(screen, update)


def show(search, query, found):  # where the search puts a query's matches in the list
    real_show(search, query, found)
    shown[query] = time.perf_counter()


app._display = display
ArtistSearch._show = show


async def next_frame(after, wait=0.5):
    # When the first frame after `after` was painted; `after` itself if none comes within
    # `wait` seconds (nothing on screen had changed: nothing was left to draw).
    while not (frames and frames[-1] > after) and time.perf_counter() - after < wait:
        await asyncio.sleep(0.0005)
    return next((at for at in frames if at > after), after)


def running():
    return ",".join(job.key for job in app.jobs.values() if job.running) or "idle"


async def type_query(pilot, query, phase, gap=0.0, previewed=None):
    # With `previewed` (a set), match number i is highlighted after key i's matches show, so
    # that each key's wait previews another artist (the same one again draws nothing new).
    search = app.screen.query_one(ArtistSearch)
    search.box.focus()
    search.box.value = ""
    await pilot.pause()
    for char in query:
        shown.clear()
        pressed = time.perf_counter()
        search.box.insert_text_at_cursor(char)  # as a key press does, without Pilot's waits
        typed = search.box.value
        # Not search.pending(): the search starts only once the box's Changed message is
        # handled, and a frame painted meanwhile (the box's own) is not the matches.
        while typed not in shown:
            await asyncio.sleep(0.0005)
        drawn = await next_frame(shown[typed])  # the first frame with its matches
        keystrokes[phase].append((drawn - pressed) * 1000)
        if previewed is not None:
            search.action_move(len(keystrokes[phase]) - 1)
        await asyncio.sleep(gap)
        if previewed is not None:
            previewed.add(app.screen.shown_item)


async def main():
    result = {}
    async with app.run_test(size=(120, 40), headless=True) as pilot:
        while not frames:
            await asyncio.sleep(0.001)
        result["first_paint_s"] = frames[0] - started
        last = time.perf_counter()

        def tick():
            nonlocal last
            now = time.perf_counter()
            late = now - last - TICK
            if late > 0.05:
                stalls.append((late, running(), now - started))
            last = now

        app.set_interval(TICK, tick)

        def drawn():  # (the Artists view is composed when first shown: no table before)
            tables = app.screen.query("#related") if app.current_mode == "artists" else []
            return bool(tables) and tables.first().row_count > 0

        async def watch_ready():  # beside the typing below, which must not delay the reading
            while (any(job.running for job in app.jobs.values()) or app.names is None
                   or not drawn()):
                await asyncio.sleep(0.005)
            result["ready_s"] = await next_frame(time.perf_counter()) - started  # on screen

        ready = asyncio.create_task(watch_ready())
        while app.dataset is None:
            await asyncio.sleep(0.01)
        result["data_s"] = time.perf_counter() - started
        names = app.dataset.item_names
        query = str(names[int(app.dataset.top_items(3)[2])])[:8].lower()
        while app.names is None:
            await asyncio.sleep(0.01)
        if any(job.running for job in app.jobs.values()):
            app.explore()
            await pilot.pause()
            await type_query(pilot, query, "training")
        await ready
        await pilot.pause(0.2)
        await type_query(pilot, query, "ready")
        # Each key 20 ms after the preview of another artist began drawing.
        previewed = set()
        await type_query(pilot, query, "previewing", ArtistsScreen.PREVIEW_DELAY + 0.02,
                         previewed)
        result["previewed"] = len(previewed)
        result["trained"] = {key: job.message for key, job in app.jobs.items()}
        result["artists"] = app.dataset.n_items
        result["query"] = query
    result["stalls"] = sorted(stalls, reverse=True)
    result["keystrokes"] = keystrokes
    print(json.dumps(result))


asyncio.run(main())
"""


def run(options: dict) -> dict:
    environment = {key: value for key, value in os.environ.items()
                   if key != "PYTHONDONTWRITEBYTECODE"}
    completed = subprocess.run([sys.executable, "-P", "-c", CHILD, json.dumps(options)],
                               capture_output=True, text=True, env=environment)
    if completed.returncode:
        sys.exit(f"bench_ui: the app run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(title: str, result: dict) -> None:
    stalls = result["stalls"]
    print(f"{title}: {result['artists']:,} artists; typed {result['query']!r}")
    print(f"  first paint  {result['first_paint_s']:6.2f} s")
    print(f"  data loaded  {result['data_s']:6.2f} s")
    print(f"  ready        {result['ready_s']:6.2f} s")
    for phase, times in result["keystrokes"].items():
        if times:
            drawn = f" ({result['previewed']} artists previewed)" if phase == "previewing" else ""
            print(f"  keystroke while {phase:10s} p50 {percentile(times, 0.5):6.1f} ms, "
                  f"max {max(times):6.1f} ms{drawn}")
    over = [late for late, _, _ in stalls if late > 0.1]
    worst = ", ".join(f"{late * 1000:.0f} ms at {at:.2f} s ({what})"
                      for late, what, at in stalls[:5]) or "none"
    print(f"  stalls > 50 ms: {len(stalls)}, > 100 ms: {len(over)}; worst: {worst}")


def verdicts(first_runs: list[dict], second_runs: list[dict]) -> None:
    """Medians over the runs (first paint: all of them; ready: those from the cache), the
    slowest keystroke and the stalls over 100 ms of every run, against the targets."""
    every = first_runs + second_runs
    paints, ready = [r["first_paint_s"] for r in every], [r["ready_s"] for r in second_runs]
    keystrokes = [ms for r in every for times in r["keystrokes"].values() for ms in times]
    print(f"first paint: {median_spread(paints, ' s')}; ready from the cache: "
          f"{median_spread(ready, ' s')}")
    verdict("first paint, median", statistics.median(paints), 1.0, " s")
    verdict("ready from the cache, median", statistics.median(ready), 1.5, " s")
    verdict("slowest keystroke to its matches on screen", max(keystrokes), 50, " ms")
    verdict("event-loop stalls over 100 ms",
            sum(late > 0.1 for r in every for late, _, _ in r["stalls"]), 0)


def make_bundle(directory: str, scale: str, iterations: int) -> None:
    """A bundle of the demo data at ``scale`` and an ALS trained on it, unless ``directory``
    holds one already."""
    from pathlib import Path

    from tui_recs.bundle import write_bundle
    from tui_recs.data.synthetic import generate, scale_options
    from tui_recs.models.als import ALS

    if (Path(directory) / "manifest.json").exists():
        return
    dataset = generate(**scale_options(scale))
    print(f"making the bundle {directory}: {dataset.n_users:,} listeners × {dataset.n_items:,} "
          f"artists, ALS with {iterations} iterations (not timed)", flush=True)
    write_bundle(directory, dataset, ALS(iterations=iterations).fit(dataset.user_items))


def main() -> None:
    from tui_recs.data.synthetic import scale_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="default", help="demo data scale (default|0.1|360k)")
    parser.add_argument("--data", help="a data file instead of the demo data")
    parser.add_argument("--cache-dir", help="the cache to use (default: a new temporary one "
                                            "per round)")
    parser.add_argument("--rounds", type=int, default=3, help="first and second runs, each")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny data (scale {QUICK_SCALE}), one round")
    parser.add_argument("--bundle", metavar="DIR",
                        help="open this bundle (made from the demo data at --scale if missing)")
    parser.add_argument("--bundle-iterations", type=int, default=3,
                        help="ALS sweeps of a bundle made here (default 3)")
    args = parser.parse_args()
    scale = QUICK_SCALE if args.quick else args.scale
    rounds = 1 if args.quick else args.rounds
    if args.bundle:
        make_bundle(args.bundle, scale, args.bundle_iterations)
    first_runs, second_runs = [], []
    for round_number in range(1, rounds + 1):
        with tempfile.TemporaryDirectory(prefix="bench-ui-") as temporary:
            # The demo generator's options are worked out here: importing it in the measured
            # process would add NumPy's import before the app starts, which the app does not do.
            options = {"demo": None if args.data or args.bundle else scale_options(scale),
                       "data": args.data, "cache_dir": args.cache_dir or temporary,
                       "bundles": [args.bundle] if args.bundle else []}
            first_runs.append(run(options))
            report(f"round {round_number}, first run", first_runs[-1])
            second_runs.append(run(options))
            report(f"round {round_number}, second run (from the cache)", second_runs[-1])
    verdicts(first_runs, second_runs)


if __name__ == "__main__":
    main()
