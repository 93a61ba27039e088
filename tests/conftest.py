"""Fixtures shared by the test modules: the real data, a private cache, small datasets, and
the test-only model registered for one test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: The real hetrec-2k data, beside the checkout (never copied into it).
HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the real data are marked ``realdata`` (``-m "not realdata"`` skips them)."""
    for item in items:
        if "hetrec" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def hetrec() -> Path:
    """The hetrec-2k folder; the test is skipped where it is not there."""
    if not HETREC.is_dir():
        pytest.skip(f"real hetrec data not found at {HETREC}")
    return HETREC


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, also the default for code that resolves it itself."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TUI_RECS_CACHE_DIR", str(root))
    return root


@pytest.fixture
def small_plays_csv(tmp_path: Path) -> Path:
    """A user,artist,plays CSV of 150 listeners × 60 artists (about 1,800 plays), seeded."""
    rng = np.random.default_rng(0)
    taste = rng.random((150, 60)) * rng.random(60)  # popular artists are played more often
    users, items = np.nonzero(taste > 0.3)
    plays = rng.integers(1, 50, size=len(users))
    path = tmp_path / "plays.csv"
    path.write_text("user,artist,plays\n" + "".join(
        f"u{user},artist {item},{count}\n" for user, item, count in zip(users, items, plays)),
        encoding="utf-8")
    return path


@pytest.fixture
def tiny_model():
    """The test-only model of tests/tiny_model.py, registered for this test only."""
    from tiny_model import Tiny
    from tui_recs.models import registry

    registry.register(Tiny)
    yield Tiny
    registry.unregister(Tiny.name)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """The one SparkSession of the test run: local[2], small memory, no UI, its log in a
    temporary folder. Without Java the Spark tests fail in CI (CI=true) and are skipped
    elsewhere, with what to install."""
    import os

    from tui_recs.spark.context import (SparkUnavailable, java_version, log_path, quiet_conf,
                                        quiet_pyspark_warnings, quiet_python_loggers,
                                        require_pyspark, stderr_to)

    try:
        java_version()
        quiet_pyspark_warnings()
        require_pyspark()
    except SparkUnavailable as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
    from pyspark.sql import SparkSession

    log = log_path(tmp_path_factory.mktemp("spark"))
    quiet_python_loggers(log)
    builder = SparkSession.builder.master("local[2]").appName("tui-recs-tests")
    for key, value in {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                       "spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "4",
                       "spark.default.parallelism": "2", **quiet_conf(log)}.items():
        builder = builder.config(key, value)
    with stderr_to(log):
        session = builder.getOrCreate()
    yield session
    session.stop()
