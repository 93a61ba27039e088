"""Listening data read by Spark itself, under the rules of the local loaders
(:mod:`tui_recs.data.loaders` and :func:`tui_recs.data.table.build_dataset`).

Formats: the Last.fm 360K TSV, the hetrec-2k folder (``user_artists.dat`` with names from
``artists.dat``), or a CSV/TSV; each may be a file, a directory or a glob of such files, at a
local path or any URI Spark's filesystems accept (``hdfs://``, ``s3a://`` with the connector).
Nothing goes through pandas on the driver: the driver reads 20 lines of a CSV to detect its
delimiter, header and columns, and the counts of dropped and bad rows.

The same rules as locally: keys lose surrounding whitespace and NULs (empty ones are missing);
360K rows without an artist name are dropped and counted; duplicates are summed; rows with a
missing field, plays that are not a non-negative float32 number, or too many fields are bad
(a few are skipped with a warning, more fail with one line); zero plays are dropped and
counted. Differences, by design of a distributed read: text is UTF-8 (others: convert first),
a bad row is named by its content, not its line number, and where a key has several names or
MBIDs the smallest wins (the local loader takes the first in file order).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_recs.data.loaders import (HETREC_ARTISTS, HETREC_PLAYS, LASTFM_360K_NAME, _column,
                                   _find_role, _looks_like_header, _sniff_delimiter)
from tui_recs.data.table import FLOAT32_MAX, MAX_BAD_FRACTION, MAX_BAD_ROWS, DataWarning
from tui_recs.errors import DataError
from tui_recs.text import printable

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

FORMATS = ("lastfm-360k", "hetrec-2k", "csv")
#: Lines of a CSV the driver reads to detect its layout (as the local loader does).
SAMPLE_LINES = 20


@dataclass
class Plays:
    """The data as Spark tables, positions assigned (0-based, keys in sorted order).

    ``history``: (user int, item int, plays float) one row per pair, duplicates summed;
    ``users``: (user int, user_id string); ``items``: (item int, artist_id string, name
    string, listeners long). The counts are computed once, on the driver.
    """

    history: "DataFrame"
    users: "DataFrame"
    items: "DataFrame"
    n_users: int
    n_items: int
    nnz: int
    source: str
    format: str
    dropped: dict[str, int] = field(default_factory=dict)
    #: The cached pairs behind the tables (see :meth:`release`).
    cached: "DataFrame | None" = None

    def release(self) -> None:
        """Drop the pairs cached for the tables (a later read of the same path must not be
        served them)."""
        if self.cached is not None:
            self.cached.unpersist()


def read_plays(spark: "SparkSession", source: str, format: str = "auto",
               strict: bool = False) -> Plays:
    """Read ``source`` (a path or URI, a directory or glob) into :class:`Plays`.

    Raises DataError (one line naming the source) where the local loader would.
    """
    files = _Files(spark)
    if format == "auto":
        format = _detect(spark, files, source)
    if format == "hetrec-2k":
        raw, names, what = _hetrec(spark, files, source)
    elif format == "lastfm-360k":
        raw, names, what = _lastfm_360k(spark, source), None, "a Last.fm 360K TSV"
    elif format == "csv":
        raw, names, what = _csv(spark, source)
    else:
        raise DataError(f"unknown format {format!r}", source,
                        hint=f"use one of: auto, {', '.join(FORMATS)}")
    kept, dropped = _validated(raw, source, what, strict,
                               drop_nameless=format == "lastfm-360k")
    return _indexed(kept, names, source, format, dropped)


class _Files:
    """The Hadoop FileSystem of a path, through the JVM (any scheme Spark can read)."""

    def __init__(self, spark: "SparkSession") -> None:
        self.jvm = spark.sparkContext._jvm
        self.conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, text: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(text)

    def is_dir(self, text: str) -> bool:
        path = self._path(text)
        system = path.getFileSystem(self.conf)
        return bool(system.exists(path) and system.getFileStatus(path).isDirectory())

    def matches(self, text: str) -> list[str]:
        """The files ``text`` names (itself, a directory's files, or a glob's matches)."""
        path = self._path(text)
        statuses = path.getFileSystem(self.conf).globStatus(path) or []
        found: list[str] = []
        for status in statuses:
            if status.isDirectory():
                found += [str(child.getPath()) for child in
                          path.getFileSystem(self.conf).listStatus(status.getPath())
                          if child.isFile() and not child.getPath().getName().startswith((".", "_"))]
            else:
                found.append(str(status.getPath()))
        return sorted(found)


def _name(path: str) -> str:
    """The file name of a path or URI, without a compression suffix."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    return name


def _detect(spark: "SparkSession", files: _Files, source: str) -> str:
    """hetrec-2k for its folder or user_artists.dat, lastfm-360k by name or by its first line
    (4 tab-separated fields, a SHA-1 first, a count last), else csv."""
    if _name(source) == HETREC_PLAYS or (files.is_dir(source) and files.matches(
            f"{source.rstrip('/')}/{HETREC_PLAYS}")):
        return "hetrec-2k"
    matched = files.matches(source)
    if not matched:
        raise DataError("does not exist (or matches no files)", source,
                        hint="check the path or URI")
    if all(_name(path) == LASTFM_360K_NAME for path in matched):
        return "lastfm-360k"
    first = _first_lines(spark, matched[0], 1)
    fields = first[0].split("\t") if first else []
    if (len(fields) == 4 and len(fields[0]) == 40 and all(c in "0123456789abcdef" for c in fields[0])
            and fields[3].strip().isdigit()):
        return "lastfm-360k"
    return "csv"


def _first_lines(spark: "SparkSession", path: str, count: int) -> list[str]:
    """The first ``count`` non-blank lines of one file (UTF-8, a byte-order mark dropped)."""
    rows = spark.read.text(path).limit(count + 5).collect()
    lines = [row[0] for row in rows if row[0]]
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines[:count]


def _delimited(spark: "SparkSession", source: str, sep: str, n_fields: int, header: bool,
               quoting: bool) -> "DataFrame":
    """Columns f0..f{n_fields-1} of each row (empty cells null) and ``extra``: not null on a row
    with more fields than ``n_fields``. Tab-separated files are read without quote handling
    (Last.fm names contain stray quotes), others with CSV quoting, as locally."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(f"f{i}", StringType()) for i in range(n_fields)]
                        + [StructField("extra", StringType())])
    reader = (spark.read.schema(schema).option("sep", sep).option("header", header)
              .option("mode", "PERMISSIVE").option("encoding", "UTF-8")
              .option("ignoreLeadingWhiteSpace", False).option("ignoreTrailingWhiteSpace", False))
    reader = reader.option("quote", '"').option("escape", '"') if quoting else \
        reader.option("quote", "")
    return reader.csv(source)


def _clean(column: "Column") -> "Column":
    """A key without NULs and surrounding whitespace; empty -> null."""
    from pyspark.sql import functions as F  # noqa: N812

    text = F.regexp_replace(F.regexp_replace(column, "\u0000", ""), r"(?U)^\s+|\s+$", "")
    return F.when(text == "", None).otherwise(text)


def _hetrec(spark: "SparkSession", files: _Files, source: str
            ) -> tuple["DataFrame", "DataFrame | None", str]:
    from pyspark.sql import functions as F  # noqa: N812

    folder = source.rstrip("/").removesuffix(HETREC_PLAYS).rstrip("/") \
        if _name(source) == HETREC_PLAYS else source.rstrip("/")
    plays_path, artists_path = f"{folder}/{HETREC_PLAYS}", f"{folder}/{HETREC_ARTISTS}"
    if not files.matches(plays_path):
        raise DataError(f"has no {HETREC_PLAYS}", folder,
                        hint="point --data at the hetrec2011-lastfm-2k folder")
    _expect_header(spark, plays_path, ("userID", "artistID", "weight"))
    rows = _delimited(spark, plays_path, "\t", 3, header=True, quoting=False)
    raw = rows.select(F.col("f0").alias("user"), F.col("f1").alias("item"),
                      F.col("f2").alias("plays"), F.lit(None).cast("string").alias("name"),
                      F.lit(None).cast("string").alias("artist_id"), "extra")
    names = None
    if files.matches(artists_path):
        _expect_header(spark, artists_path, ("id", "name"))
        artists = _delimited(spark, artists_path, "\t", 4, header=True, quoting=False)
        names = (artists.where(F.col("f0").isNotNull() & F.col("f1").isNotNull())
                 .groupBy(F.col("f0").alias("item")).agg(F.min("f1").alias("listed_name")))
    return raw, names, "hetrec-2k user_artists.dat"


def _expect_header(spark: "SparkSession", path: str, expected: tuple[str, ...]) -> None:
    lines = _first_lines(spark, path, 1)
    found = tuple(field.strip() for field in lines[0].split("\t")) if lines else ()
    if found[:len(expected)] != expected:
        raise DataError(f"header is {' '.join(found) or 'empty'!r}, expected "
                        f"{' '.join(expected)!r}", path, 1,
                        hint="is this the hetrec2011-lastfm-2k data? else use --format csv")


def _lastfm_360k(spark: "SparkSession", source: str) -> "DataFrame":
    from pyspark.sql import functions as F  # noqa: N812

    rows = _delimited(spark, source, "\t", 4, header=False, quoting=False)
    # Artists are keyed by name (their name is the key); the MBID is kept as their id.
    return rows.select(F.col("f0").alias("user"), F.col("f2").alias("item"),
                       F.col("f3").alias("plays"), F.lit(None).cast("string").alias("name"),
                       F.col("f1").alias("artist_id"), "extra")


def _csv(spark: "SparkSession", source: str) -> tuple["DataFrame", None, str]:
    """A CSV/TSV: delimiter, header and columns detected from its first lines, as locally."""
    from pyspark.sql import functions as F  # noqa: N812

    matched = _Files(spark).matches(source)
    if not matched:
        raise DataError("does not exist (or matches no files)", source, hint="check the path")
    path = Path(matched[0])
    lines = _first_lines(spark, matched[0], SAMPLE_LINES)
    if not lines:
        raise DataError("has no data rows", matched[0])
    delimiter = _sniff_delimiter(lines, path)
    first = [field.strip().strip('"') for field in lines[0].split(delimiter)]
    n_fields = len(first)
    header = _looks_like_header(first, lines[1].split(delimiter) if len(lines) > 1 else None)
    headings = first if header else []
    roles = {"user": _column(None, "user", headings, n_fields, path, default=0),
             "item": _column(None, "item", headings, n_fields, path, default=1)}
    plays = _column(None, "plays", headings, n_fields, path,
                    default=2 if n_fields > 2 else None)
    if plays is not None:
        roles["plays"] = plays
    if header and _find_role("name", headings, exclude=roles.values()) is not None:
        roles["name"] = _column(None, "name", headings, n_fields, path, default=None,
                                exclude=roles.values())
    if len(set(roles.values())) != len(roles):
        raise DataError(f"columns overlap: {roles}", matched[0], hint="name distinct columns")
    rows = _delimited(spark, source, delimiter, n_fields, header=header,
                      quoting=delimiter != "\t")

    def column(role: str, otherwise: Any) -> "Column":
        return F.col(f"f{roles[role]}") if role in roles else otherwise

    raw = rows.select(column("user", None).alias("user"), column("item", None).alias("item"),
                      column("plays", F.lit("1")).alias("plays"),
                      column("name", F.lit(None).cast("string")).alias("name"),
                      F.lit(None).cast("string").alias("artist_id"), "extra")
    return raw, None, "user, item, plays rows"


def _validated(raw: "DataFrame", source: str, what: str, strict: bool, drop_nameless: bool
               ) -> tuple["DataFrame", dict[str, int]]:
    """(user, item, plays double, name, artist_id) of the rows kept; the drop counts. Bad rows
    are counted (and, beyond what the local loader tolerates, a DataError); ``drop_nameless``:
    rows without an artist are dropped and counted instead (Last.fm 360K)."""
    from pyspark.sql import functions as F  # noqa: N812

    cleaned = raw.withColumn("user", _clean(F.col("user"))).withColumn("item", _clean(F.col("item")))
    number = F.expr("try_cast(plays AS DOUBLE)")  # null where not a number (ANSI mode too)
    blank = F.coalesce(*(F.col(name) for name in ("user", "item", "plays", "name", "artist_id",
                                                   "extra"))).isNull()
    nameless = ~blank & F.col("item").isNull() if drop_nameless else F.lit(False)
    reasons = [
        (F.col("extra").isNotNull(), "ragged row: more fields than the first line"),
        (F.col("user").isNull(), "the user field is missing"),
        (F.col("item").isNull(), "the artist field is missing"),
        (F.col("plays").isNull(), "the plays field is missing"),
        (number.isNull() | F.isnan(number), "plays is not a number"),
        (number < 0, "plays is negative"),
        (number > FLOAT32_MAX, f"plays is not finite or above the float32 maximum "
                               f"({FLOAT32_MAX:.3g})"),
    ]
    considered = ~blank & ~nameless
    problem = F.lit(None).cast("string")
    for condition, text in reversed(reasons):
        problem = F.when(considered & condition, F.lit(text)).otherwise(problem)
    # Not cached: the input is read once for these counts and once more for the rows kept
    # (a cache would outlive the call, and serve a changed file's old rows to the next one).
    checked = cleaned.withColumn("problem", problem).withColumn("number", number)
    example = F.concat_ws(": ", F.col("problem"), F.concat_ws(
        ", ", *(F.coalesce(F.col(name), F.lit("")) for name in ("user", "item", "plays"))))
    counts = checked.agg(
        F.count(F.when(~blank, 1)).alias("total"),
        F.count(F.when(nameless, 1)).alias("nameless"),
        F.count("problem").alias("bad"),
        F.min(F.when(F.col("problem").isNotNull(), example)).alias("example"),
        F.count(F.when(F.col("problem").isNull() & considered
                       & (F.col("number").cast("float") == 0), 1)).alias("zero"),
    ).first()
    total, n_bad = counts["total"], counts["bad"]
    dropped: dict[str, int] = {}
    if counts["nameless"]:
        dropped["missing artist name"] = counts["nameless"]
    if n_bad:
        reason = printable(counts["example"])[:200]
        if strict or n_bad > max(MAX_BAD_ROWS, MAX_BAD_FRACTION * total) or 2 * n_bad > total:
            raise DataError(f"{reason} ({n_bad:,} of {total:,} rows are bad)", source,
                            hint=f"expected {what}")
        warnings.warn(DataWarning(f"{source}: skipped {n_bad:,} bad row{'s' * (n_bad != 1)} "
                                  f"(e.g. {reason})"), stacklevel=2)
        dropped["bad rows"] = n_bad
    usable = total - n_bad - counts["nameless"]
    if usable <= 0:
        raise DataError("has no usable rows (a header, blank lines or dropped rows only)",
                        source, hint=f"expected {what}")
    if counts["zero"] >= usable:
        raise DataError(f"has nothing left to learn from: all {usable:,} usable rows have 0 "
                        f"plays", source, hint=f"expected {what} with positive play counts")
    if counts["zero"]:
        dropped["zero plays"] = counts["zero"]
    kept = checked.where(considered & F.col("problem").isNull()
                         & (F.col("number").cast("float") != 0))
    return kept.select("user", "item", F.col("number").alias("plays"), "name",
                       "artist_id"), dropped


def _indexed(kept: "DataFrame", names: "DataFrame | None", source: str, format: str,
             dropped: dict[str, int]) -> Plays:
    """Positions for listeners and artists (StringIndexer, keys in sorted order: the labels
    are collected to the driver, a few bytes per key), pairs summed."""
    from pyspark.ml.feature import StringIndexer
    from pyspark.sql import functions as F  # noqa: N812

    pairs = kept.groupBy("user", "item").agg(F.sum("plays").alias("plays"))
    indexer = StringIndexer(inputCols=["user", "item"], outputCols=["user_pos", "item_pos"],
                            stringOrderType="alphabetAsc").fit(pairs)
    positioned = indexer.transform(pairs).select(
        F.col("user_pos").cast("int").alias("user"), F.col("item_pos").cast("int").alias("item"),
        F.col("plays"), F.col("user").alias("user_id"), F.col("item").alias("key")).cache()
    overflow = positioned.where(F.col("plays") > FLOAT32_MAX).count()
    if overflow:
        raise DataError(f"the plays of {overflow:,} listener and artist pairs sum past the "
                        f"float32 maximum ({FLOAT32_MAX:.3g})", source,
                        hint="are these play counts?")
    history = positioned.select("user", "item", F.col("plays").cast("float").alias("plays"))
    users = positioned.select("user", "user_id").distinct()
    item_names = kept.groupBy(F.col("item").alias("key")).agg(
        F.min("name").alias("name"), F.min(F.when(F.col("artist_id") != "", F.col("artist_id")))
        .alias("artist_id"))
    items = (positioned.groupBy("item", "key").agg(F.count(F.lit(1)).alias("listeners"))
             .join(item_names, "key"))
    if names is not None:  # hetrec: names from artists.dat, else the id, as locally
        items = items.join(names.withColumnRenamed("item", "key"), "key", "left") \
            .withColumn("name", F.col("listed_name"))
    items = items.select("item", F.coalesce("artist_id", "key", F.lit("")).alias("artist_id"),
                         F.regexp_replace(F.coalesce("name", "key"), "\u0000", "").alias("name"),
                         F.col("listeners").cast("long"))
    labels = indexer.labelsArray
    return Plays(history=history, users=users, items=items, n_users=len(labels[0]),
                 n_items=len(labels[1]), nnz=positioned.count(), source=source, format=format,
                 dropped=dropped, cached=positioned)
