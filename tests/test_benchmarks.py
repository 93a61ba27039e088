"""Every benchmark's --quick mode runs on tiny data and ends with its verdict lines, so that
none of them rots between the runs by hand (the figures of a quick run mean nothing)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: The targets each benchmark gives a verdict on in --quick mode.
VERDICTS = {
    "bench_load.py": ["cold load, median", "cold load, peak RSS", "warm load, median",
                      "cold / warm, medians"],
    "bench_first_run.py": ["parse + cache / pandas C read + codes, medians",
                           "parse + cache, peak RSS", "ALS + indexes / implicit 15-iteration fit",
                           "ALS index build / ALS + indexes", "CLI related from nothing",
                           "CLI related equals the trained model's exact answer",
                           "app first related answer", "app all start-up models"],
    "bench_warm.py": ["warm start, median wall", "warm runs that trained or indexed"],
    "bench_search.py": ["slowest keystroke"],
    "bench_index.py": [f"{kind}: {target}" for kind in ("cells", "annoy") for target in (
        "build and tune", "recall@10 on fresh queries", "p50 latency",
        "speed-up over exact, p50")],
    "bench_lsa.py": ["LSA fit (lanczos) / plain arpack float32, medians"],
    "bench_factor_models.py": [
        f"360k×0.002 f=16 {model}: seconds per epoch tui-recs / implicit, medians"
        for model in ("bpr", "lmf")] + [
        f"360k {model} f=16 {metric}@10, tui-recs / implicit"
        for model in ("bpr", "lmf") for metric in ("precision", "ndcg")],
    "bench_als.py": ["360k×0.002 f=16 cg: wall time tui-recs / implicit, medians",
                     "360k×0.002 f=16 cg: peak RSS tui-recs / implicit",
                     "360k f=16 precision@10, tui-recs / implicit",
                     "360k f=16 ndcg@10, tui-recs / implicit"],
    "bench_models.py": [f"item-kNN {name} 360k×0.002 K=10: {target}" for name in (
        "bm25", "cosine", "tfidf") for target in (
        "fit wall time tui-recs / implicit, medians", "top-10 overlap with implicit")],
    "bench_spark.py": ["360k×0.002 precision@10 spark / local",
                       "360k×0.002 s/iteration spark / local, medians"],
    "bench_ui.py": ["first paint, median", "ready from the cache, median",
                    "slowest keystroke to its matches on screen", "event-loop stalls over 100 ms"],
}
VERDICT = re.compile(r"(PASS|FAIL) (?P<what>.+) [-+0-9.e]+(inf|nan)?( ?[a-zA-Z]+)? "
                     r"\(target [<>]= [-+0-9.e]+( ?[a-zA-Z]+)?\)")


def test_every_benchmark_is_covered():
    assert sorted(VERDICTS) == sorted(path.name for path in BENCHMARKS.glob("bench_*.py"))


def run_quick(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TUI_RECS_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *args],
                            cwd=tmp_path, capture_output=True, text=True, env=environment,
                            # Spark: a JVM start and 7 small Spark jobs on a busy machine
                            timeout=300 if script == "bench_spark.py" else 120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("script", sorted(VERDICTS))
def test_quick_mode_ends_with_a_verdict_per_target(script, tmp_path):
    result = run_quick(script, tmp_path)
    lines = result.stdout.splitlines()
    verdicts = [match["what"] for match in map(VERDICT.fullmatch, lines) if match]
    assert verdicts == VERDICTS[script], result.stdout[-3000:]
    assert VERDICT.fullmatch(lines[-1])  # the verdicts come last


def test_bench_ui_opens_a_bundle_in_quick_mode(tmp_path):
    result = run_quick("bench_ui.py", tmp_path, "--bundle", str(tmp_path / "bundle"))
    assert "making the bundle" in result.stdout and (tmp_path / "bundle" / "manifest.json").exists()
    assert "ready from the cache, median" in result.stdout.splitlines()[-3]


def test_tune_defaults_quick_mode_reports_on_held_out_splits(tmp_path):
    from tui_recs.data.synthetic import scale_options, write_lastfm360k

    data = write_lastfm360k(tmp_path / "data", **scale_options("0.002"))
    result = run_quick("tune_defaults.py", tmp_path, "--data", str(data))
    assert "## als: best" in result.stdout and "## lsa: best" in result.stdout
    held_out = result.stdout[result.stdout.index("## On held-out splits"):]
    assert len(re.findall(r"^\| (als|lsa) \| [123] \| 0\.\d{4} \| 0\.\d{4} \|$", held_out,
                          re.MULTILINE)) == 6
    assert list(tmp_path.glob("**/*.md")) == []  # printed, not written
