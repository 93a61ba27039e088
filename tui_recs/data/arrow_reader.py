"""The fast reader: PyArrow's multi-threaded CSV parser, straight into factorized columns.

Each wanted column is parsed as a dictionary column (per-row int32 codes plus the distinct
strings), so 17M rows of repeated artist names never exist as Python strings nor as a frame
of strings: the peak is the codes (4 bytes a row a column) plus the distinct values. The
chunks' dictionaries are unified in file order, so codes come in order of first appearance,
as :class:`tui_recs.data.table._Factorizer` gives them.

It reads only files it can read exactly as :func:`tui_recs.data.table.read_factorized`'s
careful reader would: every row with ``n_fields`` fields (blank lines are rows of empty
cells, as there). Anything else -- a ragged row, undecodable text, a damaged compressed
file, nothing but blank lines -- returns None, and the careful reader
(which names the line and the problem) reads the file instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from tui_recs.data.source import compression_of, open_binary

#: Encodings PyArrow decodes natively (a UTF-8 byte-order mark is skipped); others are
#: transcoded through Python's codecs as the file streams in.
_NATIVE_ENCODINGS = {"utf8", "utf8sig"}
#: Bytes per parse block, each parsed by one thread. PyArrow's default (1 MiB) makes ~1,000
#: blocks of a 1 GB file whose dictionaries then cost seconds to unify; 32 MiB blocks halve
#: the time of the whole read and its peak memory (1.0 GiB at 17.6M rows) on 2 cores.
BLOCK_BYTES = 32 << 20


def read_columns(path: Path, *, sep: str, n_fields: int, columns: Mapping[str, int],
                 skip_lines: int, encoding: str) -> tuple[dict[str, tuple[np.ndarray, list[str]]],
                                                         int] | None:
    """({name: (codes, values)}, n_rows) for the ``columns`` (name -> 0-based field) of the
    delimited file ``path``, or None where the careful reader must read it.

    ``codes`` is (n_rows,) int32, -1 where the cell is empty; ``values`` the distinct strings
    in order of first appearance. Tab-separated files are read without quote handling, other
    delimiters honour CSV quoting (as the careful reader does).
    """
    import pyarrow as pa  # ~0.1 s: only when a file is parsed
    import pyarrow.compute as pc
    import pyarrow.csv as csv

    names = [f"field{i}" for i in range(n_fields)]
    wanted = sorted(set(columns.values()))

    normalized = encoding.lower().replace("-", "").replace("_", "")
    read_options = csv.ReadOptions(
        column_names=names, skip_rows=skip_lines, block_size=BLOCK_BYTES, use_threads=True,
        encoding="utf8" if normalized in _NATIVE_ENCODINGS else encoding)
    parse_options = csv.ParseOptions(
        delimiter=sep, quote_char=False if sep == "\t" else '"', double_quote=True,
        escape_char=False, newlines_in_values=False, ignore_empty_lines=False)
    convert_options = csv.ConvertOptions(
        include_columns=[names[i] for i in wanted], null_values=[""], strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        column_types={names[i]: pa.dictionary(pa.int32(), pa.string()) for i in wanted})
    try:  # a ragged row or bad text raises: the careful reader reads the file
        # A plain file is read by Arrow's own I/O; a compressed one decompressed in Python.
        with (open_binary(path) if compression_of(path) else pa.OSFile(str(path))) as source:
            table = csv.read_csv(source, read_options=read_options, parse_options=parse_options,
                                 convert_options=convert_options)
        table = table.unify_dictionaries()
    except (pa.ArrowException, EOFError, OSError, ValueError, UnicodeError):
        return None
    read: dict[str, tuple[np.ndarray, list[str]]] = {}
    for position in wanted:
        chunks = table.column(names[position]).chunks
        codes, start = np.empty(table.num_rows, dtype=np.int32), 0
        for chunk in chunks:  # each chunk's codes copied in place, empty cells -1
            codes[start:start + len(chunk)] = pc.fill_null(chunk.indices, -1).to_numpy()
            start += len(chunk)
        values = chunks[0].dictionary.to_pylist() if chunks else []
        read[names[position]] = (codes, values)
    n_rows = table.num_rows
    del table
    pa.default_memory_pool().release_unused()  # the parsed blocks, before the Dataset is built
    if not any((codes >= 0).any() for codes, _ in read.values()):
        return None  # blank lines only: the careful reader says what the file lacks
    return {name: read[names[position]] for name, position in columns.items()}, n_rows
