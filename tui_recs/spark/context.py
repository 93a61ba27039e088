"""A SparkSession that keeps out of the terminal, and Spark's failures as one-line errors.

Spark's log (log4j2) goes to a file in the cache, ``<cache>/spark/logs/``; the JVM's own
start-up lines go there too (its stderr is that file). Errors name the log.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping

from tui_recs.errors import TuiRecsError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The oldest Java that pyspark 3.5 and 4 both run on.
MIN_JAVA = 17
DEFAULT_MASTER = "local[*]"
#: Settings of every session this module starts (``--spark-conf`` overrides them).
BASE_CONF = {
    "spark.ui.showConsoleProgress": "false",  # its progress bar would draw over ours
    "spark.sql.session.timeZone": "UTC",
}
#: A local master: local, local[N], local[*], local[N,F] (retries), local[*,F].
_LOCAL_MASTER = re.compile(r"local(?:\[(\d+|\*)(?:,\d+)?\])?")
#: The driver's share of the machine's memory in local mode, where it is also the executor.
LOCAL_MEMORY_SHARE = 0.25
_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n
"""


class SparkUnavailable(TuiRecsError):
    """Spark cannot start here: Java or pyspark is missing (the message says what to install)."""


class SparkJobError(TuiRecsError):
    """A Spark job failed; the message is Spark's first line and the log's path."""


def java_version(java: str | None = None) -> int:
    """The major version of ``java`` (default: $JAVA_HOME/bin/java, else the one on PATH);
    SparkUnavailable naming what to install when there is none or it is too old."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    install = (f"install Java {MIN_JAVA} or newer (e.g. apt install openjdk-{MIN_JAVA}-jre-headless) "
               f"and put it on PATH or set JAVA_HOME")
    if not java or not Path(java).exists():
        raise SparkUnavailable(f"Spark needs Java, and no java was found: {install}")
    try:
        banner = subprocess.run([java, "-version"], capture_output=True, text=True,
                                timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SparkUnavailable(f"{java} -version failed ({error}): {install}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if found is None:
        raise SparkUnavailable(f"{java} -version printed no version: {install}")
    major = int(found.group(2)) if found.group(1) == "1" else int(found.group(1))  # "1.8" -> 8
    if major < MIN_JAVA:
        raise SparkUnavailable(f"Spark needs Java {MIN_JAVA}+, {java} is Java {major}: {install}")
    return major


def require_pyspark() -> None:
    """SparkUnavailable naming the extra to install when pyspark cannot be imported."""
    try:
        import pyspark  # noqa: F401  (~1 s: only once Spark is asked for)
    except ImportError:
        raise SparkUnavailable("the Spark engine needs pyspark: pip install 'tui-recs[spark]'"
                               ) from None


def local_cores(master: str) -> int | None:
    """The cores a local master uses (``local``: 1, ``local[*]``: all), None for a cluster."""
    found = _LOCAL_MASTER.fullmatch(master)
    if found is None:
        return None
    count = found.group(1)
    return (os.cpu_count() or 1) if count == "*" else int(count or 1)


def local_conf(master: str, memory_bytes: int | None = None) -> dict[str, str]:
    """Settings for a local master, where Spark's defaults suit a cluster, not one machine
    (measured in docs/spark.md): ``spark.sql.shuffle.partitions`` 2 per core instead of 200
    (each shuffle of the read, the weighting and the bundle made 200 tasks of a few
    milliseconds each, and as many files per map task), and ``spark.driver.memory`` a quarter
    of the machine's memory instead of 1g (the driver JVM is also the executor: it holds the
    cached plays and MLlib's rating blocks). Empty for a cluster master. ``memory_bytes``:
    the machine's memory (default: read from the system)."""
    cores = local_cores(master)
    if cores is None:
        return {}
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    driver_mib = max(1024, int(memory_bytes * LOCAL_MEMORY_SHARE) >> 20)
    return {"spark.sql.shuffle.partitions": str(2 * cores),
            "spark.driver.memory": f"{driver_mib}m"}


def log_path(cache_root: Path) -> Path:
    """A new log file for one Spark session, under ``<cache_root>/spark/logs/``."""
    folder = cache_root / "spark" / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"spark-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def quiet_conf(log: Path) -> dict[str, str]:
    """The settings that send the driver's log4j2 output to ``log`` (a properties file is
    written beside it)."""
    properties = log.with_suffix(".log4j2.properties")
    properties.write_text(_LOG4J.format(path=log), encoding="utf-8")
    return {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={properties.as_uri()}"}


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """File descriptor 2 goes to ``path`` meanwhile: a JVM started now keeps writing there."""
    with open(path, "ab") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def active_session() -> "SparkSession | None":
    """The SparkSession already running in this process (the tests share one), if any."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


@contextlib.contextmanager
def spark_session(cache_root: Path, master: str | None = None,
                  conf: Mapping[str, str] | None = None
                  ) -> Iterator[tuple["SparkSession", Path | None]]:
    """(session, its log file) for the block: the active session when there is one (kept
    running, its log unknown here), else a new one on ``master`` with ``conf``, stopped after.
    A local master gets :func:`local_conf` under ``conf``; under spark-submit without
    ``master`` the session is spark-submit's, with its settings.
    """
    quiet_pyspark_warnings()
    require_pyspark()
    running = active_session()
    if running is not None:
        yield running, None
        return
    java_version()
    from pyspark.sql import SparkSession

    log = log_path(cache_root)
    quiet_python_loggers(log)
    builder = SparkSession.builder.appName("tui-recs")
    local: dict[str, str] = {}
    # Under spark-submit the JVM is up already, with its --master: keep it unless one is named.
    if master is not None or not os.environ.get("PYSPARK_GATEWAY_PORT"):
        master = master or DEFAULT_MASTER
        builder = builder.master(master)
        local = local_conf(master)
    settings = {**BASE_CONF, **local, **quiet_conf(log), **(conf or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with stderr_to(log):
            session = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: the reason is in the log
        raise SparkJobError(f"Spark did not start ({first_line(error)}); log: {log}") from None
    try:
        yield session, log
    finally:
        session.stop()


def quiet_pyspark_warnings() -> None:
    """pyspark warns about pandas versions it has not been tested with, on import; tui-recs
    never hands pandas objects to Spark."""
    warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support",
                            category=FutureWarning)


#: pyspark's own Python loggers, which write the errors tui-recs reports in one line (with
#: their Java stack) as JSON to stderr.
PYSPARK_LOGGERS = ("DataFrameQueryContextLogger", "SQLQueryContextLogger")


def quiet_python_loggers(log: Path | None) -> None:
    """pyspark's Python loggers write to ``log`` (None: nowhere) instead of stderr."""
    import logging

    try:
        from pyspark.logger import PySparkLogger  # pyspark 4; 3.5 has no such loggers
    except ImportError:
        return
    for name in PYSPARK_LOGGERS:
        logger = PySparkLogger.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.FileHandler(log, encoding="utf-8") if log is not None
                          else logging.NullHandler())
        logger.propagate = False


def first_line(error: BaseException) -> str:
    """The first meaningful line of a Spark/Py4J error (the Java exception's message)."""
    text = str(getattr(error, "java_exception", None) or error)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("An error occurred while calling", "at ")):
            return line[:300]
    return type(error).__name__


@contextlib.contextmanager
def spark_errors(log: Path | None, source: str | None = None) -> Iterator[None]:
    """Spark's and Py4J's exceptions in the block as one line: a path Spark cannot find is a
    DataError naming ``source``; anything else a SparkJobError naming the log."""
    from tui_recs.errors import DataError

    try:
        yield
    except TuiRecsError:
        raise
    except Exception as error:
        line = first_line(error)
        if "PATH_NOT_FOUND" in line or "Path does not exist" in line:
            raise DataError("does not exist (or matches no files)", source,
                            hint="check the path or URI") from None
        where = f"; Spark's log: {log}" if log is not None else ""
        raise SparkJobError(f"Spark failed: {line}{where}") from None
