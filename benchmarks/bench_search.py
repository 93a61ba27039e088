"""As-you-type artist search at Last.fm 360K scale (290K artist names; run by hand).

    python benchmarks/bench_search.py [--names 290000] [--repeat 5] [--quick]

The names are realistic: the hetrec artists.dat names when /work/shared/data has them (with
their listener counts, so they are the popular head), then generated band names with
accents, Cyrillic and Japanese names, punctuation and case-only duplicates mixed in, all
with Zipf-distributed listener counts. Prints the index build time, the trigram (typo)
index build time, the milliseconds of every keystroke of a few typed queries (best of
``--repeat``), and the time :meth:`resolve` takes (for the CLI) on a few names, ambiguous
and unknown ones included. Verdict: the slowest keystroke against the 50 ms target.
``--quick``: 2,000 names, 3 repeats.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _measure import verdict

HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"
RESOLVED = ("radiohead", "beatles", "radioh", "e", "lonly lovers")
QUERIES = ("radiohead", "the beatles", "radiohed", "beetles", "guns n roses", "velvet foxes",
           "bjork", "acdc", "zzqx")
ACCENTED = str.maketrans("aeiouc", "áéíöüç")
CYRILLIC = str.maketrans("abvgdeziklmnoprstufAVGDEZIKLMNOPRSTUF",
                         "абвгдезиклмнопрстуфАВГДЕЗИКЛМНОПРСТУФ")
KANA = list("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン")


def hetrec_names() -> tuple[list[str], list[int]]:
    """artists.dat names and their listener counts (none when the data is absent)."""
    if not (HETREC / "artists.dat").is_file():
        return [], []
    rows = (HETREC / "artists.dat").read_text(encoding="utf-8").splitlines()[1:]
    ids = {row.split("\t")[0]: position for position, row in enumerate(rows)}
    listeners = [0] * len(rows)
    for row in (HETREC / "user_artists.dat").read_text(encoding="utf-8").splitlines()[1:]:
        listeners[ids[row.split("\t")[1]]] += 1
    return [row.split("\t")[1] for row in rows], listeners


def generated_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` band-like names, a few percent decorated the way real artist lists are."""
    from tui_recs.data.synthetic_names import STYLES, artist_names

    names = artist_names(rng, [tuple(STYLES)] * count, set())
    roll = rng.random(count)
    for i in np.flatnonzero(roll < 0.06):
        names[i] = names[i].translate(ACCENTED)
    for i in np.flatnonzero((roll >= 0.06) & (roll < 0.08)):
        names[i] = names[i].translate(CYRILLIC)
    for i in np.flatnonzero((roll >= 0.08) & (roll < 0.09)):
        names[i] = "".join(rng.choice(KANA, rng.integers(2, 7)))
    for i in np.flatnonzero((roll >= 0.09) & (roll < 0.12)):
        names[i] = f"{names[i]} feat. {names[(i + 1) % count]}"
    for i in np.flatnonzero((roll >= 0.12) & (roll < 0.14)):
        names[i] = f"{names[i]} & The {names[(i + 7) % count].split()[-1]}'s!"
    for i in np.flatnonzero((roll >= 0.14) & (roll < 0.15)):
        names[i] = names[(i + 3) % count].upper()
    return names


def realistic_names(count: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``count`` names and Zipf listener counts (the real names, if any, most popular)."""
    real, real_listeners = hetrec_names()
    real, real_listeners = real[:count], real_listeners[:count]
    rng = np.random.default_rng(seed)
    extra = count - len(real)
    zipf = (1e6 / np.arange(1, count + 1) ** 1.1).astype(np.int64) + 1
    listeners = np.empty(count, dtype=np.int64)
    order = np.argsort(-np.asarray(real_listeners, dtype=np.int64), kind="stable")
    listeners[order] = zipf[:len(real)]
    listeners[len(real):] = rng.permutation(zipf[len(real):])
    return real + generated_names(rng, extra), listeners


def keystroke_ms(index, query: str, repeat: int) -> list[float]:
    """Best-of-``repeat`` milliseconds of ``index.search`` for each prefix of ``query``."""
    times = []
    for end in range(1, len(query) + 1):
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            index.search(query[:end], 20)
            best = min(best, time.perf_counter() - started)
        times.append(best * 1000)
    return times


def main() -> None:
    from tui_recs.errors import TuiRecsError
    from tui_recs.search import NameIndex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=290_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2,000 names, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.names, args.repeat = 2000, 3
    names, listeners = realistic_names(args.names)
    started = time.perf_counter()
    index = NameIndex(names, listeners)
    build = time.perf_counter() - started
    started = time.perf_counter()
    index.prepare()
    trigrams = time.perf_counter() - started
    print(f"{len(names):,} names ({sum(not name.isascii() for name in names):,} non-ASCII): "
          f"index built in {build:.2f} s, trigram index for typos in {trigrams:.2f} s")
    worst = []
    for query in QUERIES:
        times = keystroke_ms(index, query, args.repeat)
        worst.append(max(times))
        top = [hit.name for hit in index.search(query, 3)]
        print(f"{query!r:>15}: " + " ".join(f"{ms:.1f}" for ms in times) + f" ms  -> {top}")
    for query in RESOLVED:
        started = time.perf_counter()
        try:
            outcome = names[index.resolve(query)]
        except TuiRecsError as error:
            outcome = str(error)
        print(f"resolve({query!r}): {(time.perf_counter() - started) * 1000:.1f} ms -> {outcome[:90]}")
    verdict("slowest keystroke", max(worst), 50, " ms")

if __name__ == "__main__":
    main()
