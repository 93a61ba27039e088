"""Cold and warm load of a Last.fm-360K-shape TSV (run by hand).

    python benchmarks/bench_load.py [--scale 360k] [--work DIR]

Writes the demo data as a ``usersha1-artmbid-artname-plays.tsv`` once (kept in --work for
later runs), then in fresh processes measures: the cold load (parse the TSV), and the warm
load (the parsed Dataset reused from the artifact cache). Prints seconds, peak RSS and the
warm/cold ratio next to the targets (cold <= 60 s, peak RSS <= 6 GiB, warm <= 1.5 s and
>= 30x faster than cold).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, str(tsv), str(cache_dir),
                             "1" if use_cache else "0", str(Path(__file__).parent)], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="360k", help="demo scale (see tui-recs demo-data)")
    parser.add_argument("--work", type=Path, default=Path("bench-out"),
                        help="where the TSV is written once and reused")
    args = parser.parse_args()

    from tui_recs.data.synthetic import scale_options, write_lastfm360k

    args.work.mkdir(parents=True, exist_ok=True)
    tsv = args.work / f"demo-{args.scale}" / "usersha1-artmbid-artname-plays.tsv"
    if not tsv.exists():
        started = time.perf_counter()
        write_lastfm360k(tsv.parent, **scale_options(args.scale))
        print(f"wrote {tsv} ({tsv.stat().st_size / 2**20:,.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-load-cache-") as cache_dir:
        cold = measure(tsv, Path(cache_dir), use_cache=False)
        measure(tsv, Path(cache_dir), use_cache=True)  # fills the cache
        warm = measure(tsv, Path(cache_dir), use_cache=True)
    print(f"data: {cold['users']:,} listeners x {cold['items']:,} artists, {cold['nnz']:,} plays")
    print(f"cold load: {cold['seconds']:6.2f} s  peak RSS {cold['peak_rss_gib']:.2f} GiB  "
          f"(targets: <= 60 s, <= 6 GiB)")
    print(f"warm load: {warm['seconds']:6.2f} s  peak RSS {warm['peak_rss_gib']:.2f} GiB  "
          f"process {warm['process_seconds']:.2f} s  (target: <= 1.5 s)")
    print(f"warm / cold: {warm['seconds'] / cold['seconds']:.4f}  "
          f"(cold is {cold['seconds'] / warm['seconds']:.0f}x slower; target >= 30x)")


if __name__ == "__main__":
    main()
