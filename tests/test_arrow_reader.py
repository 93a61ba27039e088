"""The fast (PyArrow) reader reads exactly what the careful (pandas) reader reads, and hands
every file it cannot read that way back to it."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest

from tui_recs.data.arrow_reader import read_columns
from tui_recs.data.table import _read_carefully

SHA_A, SHA_B = "a" * 40, "b" * 40
TSV = (f"{SHA_A}\tm-1\tThe Beatles\t10\n{SHA_A}\t\tRadiohead\t5\n\n"
       f"{SHA_B}\tm-1\tThe Beatles\t2\n{SHA_B}\t\t\"Weird\" Al\tNA\n{SHA_B}\tm-2\t\t7\n"
       f"{SHA_A}\t\tBjörk \t-3\n")
COLUMNS = {"user": 0, "mbid": 1, "artist": 2, "plays": 3}


def both(path: Path, sep: str = "\t", n_fields: int = 4, columns=COLUMNS, skip_lines: int = 0,
         encoding: str = "utf-8"):
    fast = read_columns(path, sep=sep, n_fields=n_fields, columns=columns,
                        skip_lines=skip_lines, encoding=encoding)
    careful = _read_carefully(path, sep=sep, n_fields=n_fields, columns=columns,
                              skip_lines=skip_lines, encoding=encoding)
    return fast, careful


def assert_same(fast, careful) -> None:
    assert fast is not None
    read, n_rows = fast
    assert n_rows == careful.n_rows and not careful.skipped_lines
    for name, (codes, values) in read.items():
        assert values == careful.columns[name].values, name
        np.testing.assert_array_equal(codes, careful.columns[name].codes, err_msg=name)


@pytest.mark.parametrize("encoding, compress", [
    ("utf-8", None), ("utf-8", gzip.compress), ("utf-8", bz2.compress),
    ("latin-1", None), ("utf-16", None)])
def test_well_formed_tsv_reads_the_same(tmp_path, encoding, compress):
    data = TSV.encode(encoding)
    path = tmp_path / "plays.tsv"
    path.write_bytes(compress(data) if compress else data)
    assert_same(*both(path, encoding=encoding))


def test_csv_quotes_header_and_byte_order_mark_read_the_same(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes('\ufeffuser,artist,plays\nu1,"Earth, Wind & Fire",1\nu2,"",2\n'
                     'u1,"say ""hi""",3\n'.encode("utf-8"))
    fast, careful = both(path, sep=",", n_fields=3, columns={"user": 0, "item": 1, "plays": 2},
                         skip_lines=1, encoding="utf-8-sig")
    assert_same(fast, careful)
    assert fast[0]["item"][1] == ["Earth, Wind & Fire", 'say "hi"']


@pytest.mark.parametrize("content", [
    f"{SHA_A}\t\tAir\t1\n{SHA_B}\t\tAir\t2\t9\n".encode(),  # a ragged row
    f"{SHA_A}\t\tAir\t1\n{SHA_B}\t\tAir\n".encode(),  # a short row
    f"{SHA_A}\t\tAir\t1\n{SHA_B}\t\t\xff\t2\n".encode("latin-1"),  # not UTF-8
    b"\n\n\n",  # nothing but blank lines
    gzip.compress(TSV.encode())[:-9],  # a truncated gzip file
])
def test_what_it_cannot_read_exactly_goes_to_the_careful_reader(tmp_path, content):
    path = tmp_path / "plays.tsv"
    path.write_bytes(content)
    assert read_columns(path, sep="\t", n_fields=4, columns=COLUMNS, skip_lines=0,
                        encoding="utf-8") is None


def test_quoted_line_break_is_read_the_same(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('u1,"two\nlines",1\nu2,b,2\n')
    assert_same(*both(path, sep=",", n_fields=3, columns={"user": 0, "item": 1, "plays": 2}))
