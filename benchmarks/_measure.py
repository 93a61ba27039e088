"""Measurement helpers shared by the benchmarks: peak RSS, alternating A/B runs, verdicts.

Every benchmark ends with one verdict line per target, ``PASS figure (target …)`` or
``FAIL figure (target …)``; tests/test_benchmarks.py runs each one's ``--quick`` mode and
checks that those lines come out.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, TypeVar

T = TypeVar("T")

#: The data of every ``--quick`` run: 720 listeners × 580 artists in the 360K shape.
QUICK_SCALE = "0.002"


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    Read from VmHWM, which starts afresh at exec; ``ru_maxrss`` would report the parent's
    peak for a child started from a large benchmark process.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def alternating(runs: dict[str, Callable[[], T]], pairs: int = 3) -> dict[str, list[T]]:
    """Each of ``runs`` (two or more: name -> a measurement) ``pairs`` times, the order
    reversed every round (A B, B A, A B, ...), so that a machine getting busier or quieter
    over the run, or whichever runs first warming a cache, favours neither.

    Returns name -> the ``pairs`` results in the order they were taken.
    """
    if pairs < 3:
        raise ValueError(f"need at least 3 rounds of A/B pairs (got {pairs})")
    results: dict[str, list[T]] = {name: [] for name in runs}
    order = list(runs)
    for round_number in range(pairs):
        for name in order if round_number % 2 == 0 else order[::-1]:
            results[name].append(runs[name]())
    return results


def timed(run: Callable[[], T]) -> Callable[[], tuple[float, float, T]]:
    """``run`` as a measurement of (wall seconds, CPU seconds of this process, its result)."""
    def measurement() -> tuple[float, float, T]:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        return time.perf_counter() - started, time.process_time() - cpu_started, result
    return measurement


def median_spread(values: list[float], unit: str = "", digits: int = 3) -> str:
    """"median (spread low–high, n runs)" of ``values``."""
    return (f"{statistics.median(values):.{digits}g}{unit} (spread {min(values):.{digits}g}–"
            f"{max(values):.{digits}g}{unit}, {len(values)} runs)")


def verdict(what: str, figure: float, target: float, unit: str = "", at_least: bool = False,
            digits: int = 3) -> bool:
    """Print ``PASS what figure (target <= target)`` or ``FAIL ...`` (``>=`` with
    ``at_least``); returns whether it passed. A NaN figure fails."""
    passed = figure >= target if at_least else figure <= target
    sign = ">=" if at_least else "<="
    print(f"{'PASS' if passed else 'FAIL'} {what} {figure:.{digits}g}{unit} "
          f"(target {sign} {target:g}{unit})", flush=True)
    return passed


def trained_elsewhere(user_factors, item_factors):
    """A tui-recs factor model holding another library's factors (users × f and items × f),
    so that tui-recs' evaluation scores them with its own exact top-k."""
    from tui_recs.models.base import FactorModel  # tui-recs only for the benchmarks needing it

    class TrainedElsewhere(FactorModel):
        name = "reference"

        def __init__(self) -> None:
            self.user_factors, self.item_factors = user_factors, item_factors

        def fit(self, user_items, callback=None):
            return self

        def get_params(self):
            return {}

    return TrainedElsewhere()
