"""How fast candidate checksums run here: ``python benchmarks/checksum_speed.py [MiB]``.

Prints MB/s for each over a page-cached temporary file (the warm-start situation); the
numbers behind the choice of CRC-32 in :mod:`tui_recs.cache.checksum`.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import sys
import tempfile
import time
import zlib

CANDIDATES = {
    "zlib.crc32": zlib.crc32,
    "zlib.adler32": zlib.adler32,
    "sha1": lambda view: hashlib.sha1(view).digest(),
    "sha256": lambda view: hashlib.sha256(view).digest(),
    "blake2b": lambda view: hashlib.blake2b(view).digest(),
    "md5": lambda view: hashlib.md5(view).digest(),
}


def measure(megabytes: int = 512, repeats: int = 3) -> dict[str, float]:
    """Best MB/s of each candidate over a memory map of a ``megabytes`` MiB file."""
    size = megabytes << 20
    best = {name: float("inf") for name in CANDIDATES}
    with tempfile.NamedTemporaryFile(prefix="tui-recs-checksum-") as file:
        block = os.urandom(1 << 20)
        for _ in range(megabytes):
            file.write(block)
        file.flush()
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for _ in range(repeats):
                for name, run in CANDIDATES.items():
                    started = time.perf_counter()
                    run(view)
                    best[name] = min(best[name], time.perf_counter() - started)
    return {name: size / seconds / 1e6 for name, seconds in best.items()}


if __name__ == "__main__":
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    for name, speed in measure(megabytes).items():
        print(f"{name:14} {speed:7.0f} MB/s  ({(megabytes << 20) / speed / 1e3:.0f} ms for "
              f"{megabytes} MiB, memory-mapped, page-cached)")
