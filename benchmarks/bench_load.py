"""Cold and warm load of a Last.fm-360K-shape TSV (run by hand).

    python benchmarks/bench_load.py [--scale 360k] [--work DIR] [--pairs 3] [--quick]

Writes the demo data as a ``usersha1-artmbid-artname-plays.tsv`` once (kept in --work for
later runs), fills the artifact cache once (untimed), then in fresh processes measures cold
loads (parse the TSV) and warm loads (the parsed Dataset reused from the cache) in
alternating pairs (cold warm, warm cold, ...). Prints the median and spread of each, and
verdicts on the medians: cold <= 60 s, peak RSS <= 6 GiB, warm <= 1.5 s and cold / warm
>= 30x. ``--quick``: tiny data in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import QUICK_SCALE, alternating, median_spread, verdict

MEASURE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
from _measure import peak_rss_mib
start = time.perf_counter()
from tui_recs.data.store import load_cached
dataset = load_cached(sys.argv[1], cache_dir=sys.argv[2], use_cache=sys.argv[3] == "1")
loaded = time.perf_counter() - start
print(json.dumps({"seconds": loaded, "users": dataset.n_users, "items": dataset.n_items,
                  "nnz": dataset.nnz, "peak_rss_gib": peak_rss_mib() / 1024}))
"""


def measure(tsv: Path, cache_dir: Path, use_cache: bool) -> dict:
    """Load in a fresh interpreter (imports included) and return its figures."""
    result = subprocess.run([sys.executable, "-P", "-c", MEASURE, str(tsv), str(cache_dir),
                             "1" if use_cache else "0", str(Path(__file__).parent)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k", help="demo scale (see tui-recs demo-data)")
    parser.add_argument("--work", type=Path, default=Path("bench-out"),
                        help="where the TSV is written once and reused")
    parser.add_argument("--pairs", type=int, default=3, help="cold/warm pairs (at least 3)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny data (scale {QUICK_SCALE}) in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as temporary:
        work, scale = (Path(temporary), QUICK_SCALE) if args.quick else (args.work, args.scale)
        run(work, scale, args.pairs)


def run(work: Path, scale: str, pairs: int) -> None:
    from tui_recs.data.synthetic import scale_options, write_lastfm360k

    work.mkdir(parents=True, exist_ok=True)
    tsv = work / f"demo-{scale}" / "usersha1-artmbid-artname-plays.tsv"
    if not tsv.exists():
        started = time.perf_counter()
        write_lastfm360k(tsv.parent, **scale_options(scale))
        print(f"wrote {tsv} ({tsv.stat().st_size / 2**20:,.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-load-cache-") as cache_dir:
        measure(tsv, Path(cache_dir), use_cache=True)  # fills the cache
        runs = alternating({"cold": lambda: measure(tsv, Path(cache_dir), use_cache=False),
                            "warm": lambda: measure(tsv, Path(cache_dir), use_cache=True)}, pairs)
    first = runs["cold"][0]
    print(f"data: {first['users']:,} listeners x {first['items']:,} artists, {first['nnz']:,} plays")
    seconds = {kind: [r["seconds"] for r in results] for kind, results in runs.items()}
    rss = {kind: max(r["peak_rss_gib"] for r in results) for kind, results in runs.items()}
    for kind in ("cold", "warm"):
        print(f"{kind} load: {median_spread(seconds[kind], ' s')}, peak RSS {rss[kind]:.2f} GiB")
    cold, warm = statistics.median(seconds["cold"]), statistics.median(seconds["warm"])
    verdict("cold load, median", cold, 60, " s")
    verdict("cold load, peak RSS", rss["cold"], 6, " GiB")
    verdict("warm load, median", warm, 1.5, " s")
    verdict("cold / warm, medians", cold / warm, 30, "x", at_least=True)


if __name__ == "__main__":
    main()
