"""Reading delimited text into factorized columns, with precise diagnostics for bad input.

Every loader goes through :func:`read_factorized`: it turns each wanted column into integer
codes plus the distinct strings (so 17M rows of repeated artist names cost one int per row,
not one Python string). Well-formed files are read by PyArrow's multi-threaded parser
(:mod:`tui_recs.data.arrow_reader`); any other file by streaming it in chunks through pandas'
C parser, which records which physical lines were skipped and why. :func:`build_dataset` then validates plays and turns the
codes into a Dataset, raising a one-line :class:`DataError` or warning about skipped rows.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from tui_recs.data.arrow_reader import read_columns
from tui_recs.data.dataset import Dataset
from tui_recs.data.source import check_text, compression_of, find_undecodable_line, resolve_encoding
from tui_recs.errors import DataError

#: Rows parsed per chunk: bounds peak memory (~0.5 GB of strings per chunk at Last.fm widths).
CHUNK_ROWS = 2_000_000
#: A file may have this many bad rows (or 1% of rows, if more) before loading fails.
MAX_BAD_ROWS = 10
MAX_BAD_FRACTION = 0.01

_SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")
#: The largest play count a float32 matrix holds; larger counts (and sums) are refused.
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Column:
    """One factorized column: per-row integer codes (-1 where the cell was empty) and
    distinct values."""

    codes: np.ndarray
    values: list[str]

    def cleaned(self) -> "Column":
        """Values without surrounding whitespace or NUL characters; values that become equal
        are merged, and values that become empty count as missing."""
        cleaned = [value.replace("\0", "").strip() for value in self.values]
        if cleaned == self.values:
            return self
        import pandas as pd

        remap, uniques = pd.factorize(pd.Series(cleaned, dtype=object).replace("", None))
        remap = np.append(remap.astype(np.int64), -1)  # code -1 stays missing
        return Column(remap[self.codes], list(uniques))


@dataclass
class RawTable:
    """What :func:`read_factorized` read: columns by name plus the rows the parser skipped."""

    path: Path
    columns: dict[str, Column]
    n_rows: int
    first_data_line: int
    skipped_lines: dict[int, str] = field(default_factory=dict)

    def line_of_row(self, row: int) -> int:
        """Physical 1-based line number of parsed row ``row`` (skipped lines accounted for)."""
        line = self.first_data_line + row
        for skipped in sorted(self.skipped_lines):
            if skipped <= line:
                line += 1
        return line


class _Factorizer:
    """Assigns global codes to strings across chunks, in order of first appearance."""

    def __init__(self) -> None:
        self.codes_of: dict[str, int] = {}

    def encode(self, chunk_values) -> np.ndarray:
        import pandas as pd

        local_codes, uniques = pd.factorize(chunk_values, use_na_sentinel=True)
        codes_of = self.codes_of
        global_codes = np.fromiter((codes_of.setdefault(value, len(codes_of))
                                    for value in uniques.tolist()),
                                   dtype=np.int64, count=len(uniques))
        return np.where(local_codes >= 0, global_codes[local_codes], -1) if len(uniques) else \
            np.full(len(local_codes), -1, dtype=np.int64)

    @property
    def values(self) -> list[str]:
        return list(self.codes_of)


def read_factorized(path: Path, *, sep: str, n_fields: int, columns: Mapping[str, int],
                    skip_lines: int = 0, encoding: str | None = None) -> RawTable:
    """Stream a delimited file and factorize the wanted columns.

    Args:
        path: the file.
        sep: field delimiter. Tab-separated files are read without quote handling (Last.fm
            names contain stray quotes); other delimiters honour CSV quoting.
        n_fields: how many fields a well-formed row has; longer rows are skipped and recorded,
            shorter rows leave their missing cells empty (code -1).
        columns: name -> 0-based field position of each column to keep.
        skip_lines: header lines before the data.
        encoding: text encoding of the file (None: from its byte-order mark, else UTF-8).
            gzip, bz2 and xz files are decompressed on the fly.
    """
    encoding = resolve_encoding(path, encoding)
    check_text(path, encoding)
    fast = read_columns(path, sep=sep, n_fields=n_fields, columns=columns, skip_lines=skip_lines,
                        encoding=encoding)
    if fast is not None:
        read, n_rows = fast
        return RawTable(path=path, n_rows=n_rows, first_data_line=skip_lines + 1,
                        columns={name: Column(codes, values)
                                 for name, (codes, values) in read.items()})
    return _read_carefully(path, sep=sep, n_fields=n_fields, columns=columns,
                           skip_lines=skip_lines, encoding=encoding)


def _read_carefully(path: Path, *, sep: str, n_fields: int, columns: Mapping[str, int],
                    skip_lines: int, encoding: str) -> RawTable:
    """:func:`read_factorized` through pandas' C parser, in chunks: ragged rows are skipped
    and recorded by line, undecodable text and parse errors become one-line DataErrors."""
    import pandas as pd


    names = [f"field{i}" for i in range(n_fields)]
    factorizers = {name: _Factorizer() for name in columns}
    code_chunks: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    skipped: dict[int, str] = {}
    n_rows = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reader = pd.read_csv(
                path, sep=sep, header=None, names=names, skiprows=skip_lines, dtype=object,
                quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL,
                keep_default_na=False, na_values=[""], skip_blank_lines=False,
                on_bad_lines="warn", encoding=encoding, chunksize=CHUNK_ROWS, engine="c",
                compression=compression_of(path),
            )
            with reader:
                for chunk in reader:
                    n_rows += len(chunk)
                    for name, position in columns.items():
                        code_chunks[name].append(factorizers[name].encode(chunk[names[position]]))
        for warning in caught:
            for match in _SKIPPED_LINE.finditer(str(warning.message)):
                skipped[int(match.group(1))] = match.group(2).strip()
    except UnicodeDecodeError:
        line, where = find_undecodable_line(path, encoding)
        raise DataError(f"is not valid {encoding} text ({where})", path, line,
                        hint="re-save the file as UTF-8, or pass --encoding latin-1") from None
    except pd.errors.EmptyDataError:
        raise DataError("has no data rows", path) from None
    except (EOFError, OSError) as error:  # a truncated or damaged compressed file
        raise DataError(f"cannot be decompressed: {error}", path,
                        hint="the file is damaged or not what its first bytes say") from None
    except (pd.errors.ParserError, ValueError) as error:
        message = str(error).strip().splitlines()[-1]
        raise DataError(f"cannot be parsed as {'tab' if sep == chr(9) else repr(sep)}-separated "
                        f"text: {message}", path, hint="check --format") from None
    return RawTable(
        path=path,
        columns={name: Column(np.concatenate(code_chunks[name]) if code_chunks[name]
                              else np.empty(0, np.int64), factorizers[name].values)
                 for name in columns},
        n_rows=n_rows,
        first_data_line=skip_lines + 1,
        skipped_lines=skipped,
    )


#: Problem codes of :func:`_parse_plays` -> what the message says about the value.
_PLAY_PROBLEMS = ((1, "is not a number"), (2, "is negative"),
                  (3, f"is not finite or above the float32 maximum ({FLOAT32_MAX:.3g})"))


def _parse_plays(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct play strings -> (float64 plays, problem code): 0 ok, 1 not a number,
    2 negative, 3 infinite or too large for float32 (see ``_PLAY_PROBLEMS``)."""
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        np.float64, copy=True)
    problem = np.zeros(len(values), dtype=np.int8)
    problem[np.isnan(numbers)] = 1
    problem[~np.isnan(numbers) & (numbers < 0)] = 2
    problem[~np.isnan(numbers) & (numbers > FLOAT32_MAX)] = 3
    numbers[problem > 0] = 0.0
    return numbers, problem


def _overflowing_pairs(user_codes: np.ndarray, item_codes: np.ndarray, plays: np.ndarray,
                       rows: np.ndarray) -> np.ndarray:
    """Mask over all rows: the ``rows`` whose (listener, artist) pair sums past FLOAT32_MAX.
    Free unless the plays of all ``rows`` together could overflow (one float64 sum)."""
    bad = np.zeros(len(plays), dtype=bool)
    if float(plays[rows].sum(dtype=np.float64)) <= FLOAT32_MAX:
        return bad
    positions = np.flatnonzero(rows)
    pairs = (user_codes[positions].astype(np.int64) * (int(item_codes.max()) + 1)
             + item_codes[positions])
    _, group = np.unique(pairs, return_inverse=True)
    sums = np.bincount(group, weights=plays[positions])
    bad[positions[sums[group] > FLOAT32_MAX]] = True
    return bad


def build_dataset(table: RawTable, *, user: str, item: str, plays: str | None,
                  item_names: Mapping[str, str] | None = None,
                  drop_empty: Mapping[str, str] | None = None,
                  item_meta_columns: tuple[str, ...] = (),
                  item_meta_values: Mapping[str, Mapping[str, str]] | None = None,
                  source: str = "",
                  what: str = "listening data", strict: bool = False) -> Dataset:
    """Validate a RawTable and turn it into a Dataset.

    Args:
        table: what :func:`read_factorized` returned.
        user, item: names of the listener and artist-key columns (required in every row).
        plays: name of the play-count column, or None to count each row as one play.
        item_names: artist key -> display name, where names live outside the table.
        drop_empty: column -> reason for columns whose empty cells drop the row *expectedly*
            (counted in ``Dataset.dropped``, not treated as bad rows).
        item_meta_columns: columns kept as per-artist metadata (first non-empty value wins).
        item_meta_values: per-artist metadata that lives outside the table: name -> (artist
            key -> value); an artist it does not list gets "".
        source: provenance string stored in the Dataset.
        what: how to describe the data in messages.
        strict: any bad row is an error (default: a few are skipped with a warning).
    """
    path = table.path
    n_rows = table.n_rows
    for name in (user, item):
        table.columns[name] = table.columns[name].cleaned()
    reasons: list[tuple[np.ndarray, str]] = []  # (bad mask over rows, what is wrong)
    user_codes, item_codes = table.columns[user].codes, table.columns[item].codes
    cell_counts = np.zeros(n_rows, dtype=np.int8)  # at most the few columns read
    for column in table.columns.values():
        cell_counts += column.codes >= 0
    blank = cell_counts == 0
    dropped: dict[str, int] = {}
    expected_drop = np.zeros(n_rows, dtype=bool)
    for name, reason in (drop_empty or {}).items():
        mask = (table.columns[name].codes < 0) & ~blank
        if mask.any():
            dropped[reason] = int(mask.sum())
        expected_drop |= mask
    considered = ~blank & ~expected_drop
    reasons.append((considered & (user_codes < 0), f"the {user} field is missing"))
    reasons.append((considered & (item_codes < 0), f"the {item} field is missing"))
    if plays is None:
        play_values = np.ones(n_rows, dtype=np.float64)
    else:
        play_codes = table.columns[plays].codes
        reasons.append((considered & (play_codes < 0), f"the {plays} field is missing"))
        numbers, problem = _parse_plays(table.columns[plays].values)
        # A trailing sentinel lets code -1 (empty cell) index "0 plays, no problem".
        row_problem = np.append(problem, 0)[play_codes]
        play_values = np.append(numbers, 0.0)[play_codes]
        for code, text in _PLAY_PROBLEMS:
            mask = considered & (row_problem == code)
            if mask.any():
                first_value = table.columns[plays].values[play_codes[np.flatnonzero(mask)[0]]]
                reasons.append((mask, f"{plays} {first_value!r} {text}"))
    bad = np.zeros(n_rows, dtype=bool)
    for mask, _ in reasons:
        bad |= mask
    overflow = _overflowing_pairs(user_codes, item_codes, play_values, considered & ~bad)
    if overflow.any():
        reasons.append((overflow, f"the {plays} of one listener and artist sum past the float32 "
                                  f"maximum ({FLOAT32_MAX:.3g})"))
        bad |= overflow
    n_bad = int(bad.sum()) + len(table.skipped_lines)
    first_bad = _first_problem(table, reasons)
    if n_bad:
        total = n_rows + len(table.skipped_lines)
        line, reason = first_bad
        if strict or n_bad > max(MAX_BAD_ROWS, MAX_BAD_FRACTION * total) or 2 * n_bad > total:
            raise DataError(f"{reason} ({n_bad:,} of {total:,} rows are bad)", path, line,
                            hint=f"is this really {what}? check --format and the file's columns")
        warnings.warn(DataWarning(f"{path}: skipped {n_bad:,} bad row{'s' * (n_bad != 1)} "
                                  f"(first at line {line}: {reason})"), stacklevel=2)
        dropped["bad rows"] = n_bad
    keep = ~bad & ~blank & ~expected_drop
    if not keep.any():
        raise DataError("has no usable rows (a header, blank lines or dropped rows only)", path,
                        hint=f"expected {what}")
    # Compared as stored: plays below float32's smallest value (1e-300) become 0 there.
    zero = keep & (play_values.astype(np.float32) == 0)
    if not (keep & ~zero).any():
        raise DataError(f"has nothing left to learn from: all {int(keep.sum()):,} usable rows "
                        f"have 0 plays (or plays too small for float32, below "
                        f"{float(np.finfo(np.float32).smallest_subnormal):.3g})", path,
                        hint=f"expected {what} with positive play counts")
    if zero.any():
        dropped["zero plays"] = int(zero.sum())
    item_keys = table.columns[item].values
    names = item_keys if item_names is None else [item_names.get(key, key) for key in item_keys]
    meta = {name: _first_value_per_item(item_codes[keep], table.columns[name], len(item_keys), keep)
            for name in item_meta_columns}
    for name, by_key in (item_meta_values or {}).items():
        meta[name] = np.asarray([by_key.get(key, "") for key in item_keys], dtype=object)
    return Dataset.from_codes(
        user_codes[keep], item_codes[keep], play_values[keep].astype(np.float32),
        user_ids=np.asarray(table.columns[user].values, dtype=object),
        item_ids=np.asarray(item_keys, dtype=object),
        item_names=np.asarray(names, dtype=object),
        item_meta=meta, source=source, dropped=dropped,
    )


class DataWarning(UserWarning):
    """A recoverable oddity in input data (rows skipped); the message names file and line."""


def _first_problem(table: RawTable, reasons: list[tuple[np.ndarray, str]]) -> tuple[int, str]:
    """(line, reason) of the earliest bad row, parsed or skipped by the parser."""
    candidates = [(table.line_of_row(int(np.flatnonzero(mask)[0])), text)
                  for mask, text in reasons if mask.any()]
    candidates += [(line, f"ragged row: {text}") for line, text in table.skipped_lines.items()]
    return min(candidates) if candidates else (0, "")


def _first_value_per_item(item_codes: np.ndarray, column: Column, n_items: int,
                          keep: np.ndarray) -> np.ndarray:
    """(n_items,) object array: each artist's first non-empty value in ``column`` ('' if none)."""
    values = np.full(n_items, "", dtype=object)
    codes = column.codes[keep]
    rows = np.flatnonzero(codes >= 0)
    # The first row of each artist: one linear pass (np.unique's sort took 4 s at 17M rows).
    first = np.full(n_items, len(codes), dtype=np.int64)
    np.minimum.at(first, item_codes[rows], rows)
    found = np.flatnonzero(first < len(codes))
    lookup = np.asarray(column.values, dtype=object)
    values[found] = lookup[codes[first[found]]]
    return values
