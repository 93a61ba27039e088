"""A model bundle (format 1, docs/bundle.md) written by Spark: its three tables as DataFrame
writes (Parquet directories of part files), then the manifest with each part file's size and
SHA-256.

Nothing half-written: the tables and the manifest go to a staging directory beside DIR
(``.DIR.partial-<id>``), the manifest last (to a temporary name, then renamed), and the staging
directory is renamed to DIR at the end; on an error or cancel it is deleted. Every file
operation goes through Hadoop's FileSystem API (via the JVM), so DIR may be any URI Spark
writes to. On HDFS and local disks a rename is atomic; on object stores (s3a://) it is a copy,
so a reader may briefly see DIR without its manifest, which readers refuse.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import TYPE_CHECKING, Any

from tui_recs.bundle.format import FORMAT, MANIFEST, VERSION
from tui_recs.errors import TuiRecsError

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame, SparkSession

    from tui_recs.spark.read import Plays

#: Rows per part file at most: keeps each under the 2 GiB that Spark's binaryFile source
#: (the checksums) reads at once (history rows are ~12 bytes, factor rows ~F·4 + 20).
MAX_ROWS_PER_FILE = 5_000_000


class BundleExists(TuiRecsError):
    """The output directory exists already."""


class FileSystem:
    """Hadoop's FileSystem of one directory, through the JVM gateway."""

    def __init__(self, spark: "SparkSession", directory: str) -> None:
        self.jvm = spark.sparkContext._jvm
        self.root = self.jvm.org.apache.hadoop.fs.Path(directory)
        self.system = self.root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self.system.setWriteChecksum(False)  # no .crc files beside the manifest on local disks
        #: DIR as Hadoop names it (a local path becomes file:/...).
        self.uri = str(self.system.makeQualified(self.root))

    def path(self, *parts: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path("/".join([self.uri.rstrip("/"), *parts]))

    def exists(self, *parts: str) -> bool:
        return bool(self.system.exists(self.path(*parts)))

    def write_bytes(self, data: bytes, *parts: str) -> None:
        stream = self.system.create(self.path(*parts), True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def rename(self, source: Any, target: Any) -> None:
        if not self.system.rename(source, target):
            raise TuiRecsError(f"could not rename {source} to {target}")

    def delete(self, path: Any) -> None:
        self.system.delete(path, True)


def output_problem(spark: "SparkSession", directory: str) -> str | None:
    """Why ``directory`` cannot receive a bundle (it exists), or None."""
    files = FileSystem(spark, directory)
    if files.exists():
        complete = " (a complete bundle)" if files.exists(MANIFEST) else ""
        return f"{directory} exists already{complete}: remove it or choose another --output"
    return None


def write_bundle(spark: "SparkSession", directory: str, plays: "Plays", model: "ALSModel",
                 manifest: dict[str, Any]) -> dict[str, Any]:
    """Write ``plays`` and ``model``'s factors as a bundle at ``directory`` (which must not
    exist); ``manifest``: its fields model, params, spark and source (the rest are added).
    Returns the manifest written."""
    from pyspark.sql import functions as F  # noqa: N812  (pyspark only in tui_recs.spark)

    problem = output_problem(spark, directory)
    if problem:
        raise BundleExists(problem)
    target = FileSystem(spark, directory)
    name = target.uri.rstrip("/").rsplit("/", 1)[-1]
    staging_uri = target.uri.rstrip("/")[:-len(name)] + f".{name}.partial-{uuid.uuid4().hex[:8]}"
    staging = FileSystem(spark, staging_uri)
    rank = model.rank
    zeros = F.array_repeat(F.lit(0.0).cast("float"), rank)

    def with_factors(table: "DataFrame", key: str, factors: "DataFrame") -> "DataFrame":
        joined = table.join(factors.withColumnRenamed("id", key), key, "left")
        return joined.withColumn("factors", F.coalesce(F.col("features"), zeros)).drop("features")

    tables = {
        "items": with_factors(plays.items, "item", model.itemFactors).select(
            F.col("item").cast("int"), "artist_id", "name", F.col("listeners").cast("long"),
            "factors"),
        "users": with_factors(plays.users, "user", model.userFactors).select(
            F.col("user").cast("int"), "user_id", "factors"),
        "history": plays.history.select(F.col("user").cast("int"), F.col("item").cast("int"),
                                        F.col("plays").cast("float")),
    }
    try:
        for table, frame in tables.items():
            (frame.write.option("maxRecordsPerFile", MAX_ROWS_PER_FILE)
             .parquet(f"{staging.uri}/{table}"))
        files = _checksums(spark, staging.uri)
        document = {"format": FORMAT, "version": VERSION, **manifest,
                    "shape": {"users": plays.n_users, "items": plays.n_items, "factors": rank,
                              "plays": plays.nnz},
                    "files": files,
                    "created": datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "tui_recs_version": _version()}
        staging.write_bytes(json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
                            MANIFEST + ".tmp")
        staging.rename(staging.path(MANIFEST + ".tmp"), staging.path(MANIFEST))
        staging.rename(staging.root, target.root)
    except BaseException:
        staging.delete(staging.root)
        raise
    return document


def _checksums(spark: "SparkSession", directory: str) -> dict[str, dict[str, Any]]:
    """Every ``*.parquet`` file under ``directory``: relative path -> bytes and SHA-256,
    computed by Spark where the files are (binaryFile source)."""
    from pyspark.sql import functions as F  # noqa: N812

    found = (spark.read.format("binaryFile").option("pathGlobFilter", "*.parquet")
             .option("recursiveFileLookup", "true").load(directory)
             .select("path", "length", F.sha2(F.col("content"), 256).alias("sha256")))
    files = {}
    for row in found.toLocalIterator():
        files[_relative(row["path"], directory)] = {"bytes": int(row["length"]),
                                                    "sha256": row["sha256"]}
    return dict(sorted(files.items()))


def _relative(path: str, directory: str) -> str:
    """``path`` relative to ``directory`` with "/" separators, whichever way Hadoop spelled
    the scheme of each (file:/x or file:///x)."""
    def strip(text: str) -> str:
        return text.split(":", 1)[1].lstrip("/") if "://" in text or text.startswith("file:") \
            else text.lstrip("/")

    full, base = strip(path), strip(directory).rstrip("/")
    if not full.startswith(base + "/"):
        raise TuiRecsError(f"{path} is not inside {directory}")
    return full[len(base) + 1:]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tui-recs")
    except PackageNotFoundError:
        return "unknown"
