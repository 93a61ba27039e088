"""Loaders: real formats, detection, and every kind of bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_recs.data import DataError, Dataset, load
from tui_recs.data.loaders import detect_format
from tui_recs.data.table import DataWarning

SHA_A, SHA_B = "a" * 40, "b" * 40


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def assert_consistent(dataset: Dataset) -> None:
    matrix = dataset.user_items
    assert matrix.format == "csr" and matrix.dtype == np.float32
    assert matrix.has_sorted_indices and matrix.has_canonical_format
    assert dataset.nnz > 0 and np.all(matrix.data > 0) and np.all(np.isfinite(matrix.data))
    assert len(set(dataset.user_ids.tolist())) == dataset.n_users
    assert len(set(dataset.item_ids.tolist())) == dataset.n_items
    assert np.all(np.diff(matrix.indptr) > 0), "every listener has plays"
    assert np.all(dataset.item_listeners > 0), "every artist has listeners"
    for names in (dataset.user_ids, dataset.item_ids, dataset.item_names):
        assert all(isinstance(name, str) and name and "\0" not in name for name in names)


# ----------------------------------------------------------------------------- real data
def test_hetrec_real_figures(hetrec):
    dataset = load(hetrec)
    assert (dataset.n_users, dataset.n_items, dataset.nnz) == (1892, 17632, 92834)
    assert_consistent(dataset)
    assert dataset.dropped == {}
    names = set(dataset.item_names.tolist())
    assert {"Arcade Fire", "The Arcade Fire", "Beyoncé"} <= names  # non-ASCII survives
    by_name = {name: i for i, name in enumerate(dataset.item_names)}
    assert dataset.item_listeners[by_name["Lady Gaga"]] == 611
    assert dataset.item_ids[by_name["MALICE MIZER"]] == "1"  # keyed by the source's id
    assert dataset.item_meta["url"][by_name["MALICE MIZER"]] == \
        "http://www.last.fm/music/MALICE+MIZER"  # artists.dat's page address, kept
    assert load(hetrec / "user_artists.dat").fingerprint == dataset.fingerprint
    assert detect_format(hetrec) == "hetrec-2k"


# -------------------------------------------------------------------------- lastfm-360k
def test_lastfm_360k_parses_sums_duplicates_and_drops_missing_names(tmp_path):
    path = write(tmp_path / "plays.tsv",
                 f"{SHA_A}\tmbid-1\tThe Beatles\t10\n"
                 f"{SHA_A}\t\tRadiohead\t5\n"
                 f"{SHA_A}\tmbid-1\tThe Beatles\t2\n"
                 f"{SHA_B}\tmbid-2\t\t7\n"
                 f"{SHA_B}\t\t\"Weird\" Al Yankovic\t3\n")
    assert detect_format(path) == "lastfm-360k"
    dataset = load(path)
    assert_consistent(dataset)
    beatles = dataset.item_index["The Beatles"]
    assert dataset.user_items[dataset.user_index[SHA_A], beatles] == 12
    assert dataset.item_meta["mbid"][beatles] == "mbid-1"
    assert '"Weird" Al Yankovic' in dataset.item_index  # quotes are literal in TSV
    assert dataset.dropped == {"missing artist name": 1}


def test_crlf_and_no_final_newline(tmp_path):
    path = write(tmp_path / "plays.tsv", f"{SHA_A}\t\tAir\t3\r\n{SHA_B}\t\tAir\t4")
    dataset = load(path, format="lastfm-360k")
    assert dataset.nnz == 2 and dataset.item_ids.tolist() == ["Air"]


def test_ids_are_kept_verbatim(tmp_path):
    path = write(tmp_path / "p.csv", "user,artist,plays\n007,311,1\n008,0311,2\n")
    dataset = load(path)
    assert dataset.user_ids.tolist() == ["007", "008"]
    assert dataset.item_ids.tolist() == ["311", "0311"]


# --------------------------------------------------------------------------------- csv
def test_csv_with_header_names_quotes_and_name_column(tmp_path):
    path = write(tmp_path / "p.csv",
                 'listener_id,artist_id,artist_name,play_count\n'
                 'u1,a1,"Earth, Wind & Fire",10\n'
                 'u2,a1,"Earth, Wind & Fire",1\n'
                 'u2,a2,Björk,4\n')
    dataset = load(path)
    assert_consistent(dataset)
    assert dataset.item_names.tolist() == ["Earth, Wind & Fire", "Björk"]
    assert dataset.user_items.sum() == 15


def test_csv_positions_delimiter_and_no_plays_column(tmp_path):
    path = write(tmp_path / "p.txt", "x;u1;a1\nx;u1;a1\nx;u2;a2\n")
    dataset = load(path, format="csv", user=1, item=2, plays=None)
    assert dataset.user_items.toarray().tolist() == [[2, 0], [0, 1]]


def test_csv_unknown_column_name(tmp_path):
    path = write(tmp_path / "p.csv", "user,artist,plays\nu,a,1\n")
    with pytest.raises(DataError, match=r"p.csv:1: has no column named 'listens' for plays"):
        load(path, plays="listens")


def test_whitespace_and_nul_in_names_merge(tmp_path):
    path = write(tmp_path / "p.tsv", "u1\tAir \t1\nu1\tAir\x00\t2\nu2\t Air\t3\n")
    dataset = load(path, format="csv")
    assert dataset.item_ids.tolist() == ["Air"] and dataset.user_items.sum() == 6


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.tsv", r"missing.tsv: no such file or directory"),
    (lambda d: write(d / "empty.tsv", ""), r"empty.tsv: is empty"),
    (lambda d: write(d / "header.csv", "user,artist,plays\n"), r"header.csv: has no usable rows"),
    (lambda d: write(d / "blank.csv", "\n\n\n"), r"blank.csv: has no data rows"),
])
def test_unusable_files(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load(make(tmp_path))


def test_hetrec_keeps_each_artists_url_and_the_cache_keeps_it_too(tmp_path):
    from tui_recs.data.store import load_cached

    folder = tmp_path / "hetrec"
    folder.mkdir()
    write(folder / "user_artists.dat", "userID\tartistID\tweight\n2\t51\t13\n2\t52\t7\n"
                                       "3\t53\t4\n")
    write(folder / "artists.dat", "id\tname\turl\tpictureURL\n"
                                  "51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\tp\n"
                                  "52\tMorcheeba\t\t\n")  # no url; 53 not listed at all
    dataset = load(folder)
    urls = dict(zip(dataset.item_ids.tolist(), dataset.item_meta["url"].tolist()))
    assert urls == {"51": "http://www.last.fm/music/Duran+Duran", "52": "", "53": ""}
    for _ in range(2):  # stored, then read back from the cache
        cached = load_cached(folder, cache_dir=tmp_path / "cache")
        assert cached.item_meta["url"].tolist() == dataset.item_meta["url"].tolist()


def test_directory_without_hetrec_files(tmp_path):
    with pytest.raises(DataError, match=r"has no user_artists.dat"):
        load(tmp_path)


def test_wrong_format_named(tmp_path):
    path = write(tmp_path / "p.csv", "user,artist,plays\nu,a,1\n")
    with pytest.raises(DataError, match=r"p.csv:1: line has 1 tab-separated field, expected 4"):
        load(path, format="lastfm-360k")
    with pytest.raises(DataError, match=r"unknown format 'parquet'"):
        load(path, format="parquet")
    with pytest.raises(DataError, match=r"option 'delimiter' does not apply"):
        load(path, format="lastfm-360k", delimiter=",")


def test_wrong_hetrec_header(tmp_path):
    write(tmp_path / "user_artists.dat", "a\tb\tc\n1\t2\t3\n")
    with pytest.raises(DataError, match=r"user_artists.dat:1: header is 'a b c'"):
        load(tmp_path)


@pytest.mark.parametrize("plays, reason", [("abc", "plays 'abc' is not a number"),
                                           ("-3", "plays '-3' is negative"),
                                           ("", "the plays field is missing")])
def test_mostly_bad_plays_is_an_error_naming_the_line(tmp_path, plays, reason):
    rows = "".join(f"u{i}\ta\t{plays}\n" for i in range(20))
    path = write(tmp_path / "p.tsv", f"user\tartist\tplays\nu\ta\t1\n{rows}")
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}:3: {reason} (20 of 21 rows are bad)")
    assert error.value.line == 3


def test_a_few_bad_rows_are_skipped_with_a_warning(tmp_path):
    good = "".join(f"u{i}\ta{i % 7}\t{i + 1}\n" for i in range(200))
    path = write(tmp_path / "p.tsv", f"user\tartist\tplays\n{good}u\ta\tlots\nu\ta\t1\textra\n{good}")
    with pytest.warns(DataWarning, match=r"p.tsv: skipped 2 bad rows \(first at line 202: "
                                         r"plays 'lots' is not a number\)"):
        dataset = load(path)
    assert dataset.dropped == {"bad rows": 2}
    assert dataset.user_items.sum() == 2 * sum(range(1, 201))
    with pytest.raises(DataError, match=r"p.tsv:202: plays 'lots'"):
        load(path, strict=True)


def test_ragged_rows_report_their_line(tmp_path):
    rows = "".join(f"u{i}\ta\t1\tx\ty\n" for i in range(30))
    path = write(tmp_path / "p.tsv", f"u\ta\t1\n{rows}")
    with pytest.raises(DataError, match=r"p.tsv:2: ragged row: expected 3 fields, saw 5"):
        load(path, format="csv")


def test_non_utf8_names_the_line(tmp_path):
    path = write(tmp_path / "p.tsv", f"{SHA_A}\t\tAir\t1\n".encode() * 3 +
                 f"{SHA_A}\t\tMot\xf6rhead\t1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"p.tsv:4: is not valid utf-8 text \(byte 0xf6 at column "
                                        r"46\) \(re-save the file as UTF-8"):
        load(path)
    dataset = load(path, encoding="latin-1")
    assert "Motörhead" in dataset.item_index


def test_binary_garbage(tmp_path):
    path = write(tmp_path / "p.bin", bytes(range(256)) * 4)
    with pytest.raises(DataError):
        load(path)


def test_no_partial_state_on_error(tmp_path):
    """A failing load raises before returning anything; a later good load is unaffected."""
    bad = write(tmp_path / "bad.tsv", "".join(f"u{i}\ta\tx\n" for i in range(50)))
    good = write(tmp_path / "good.tsv", "u\ta\t1\n")
    with pytest.raises(DataError):
        load(bad, format="csv")
    assert load(good, format="csv").nnz == 1


# ---------------------------------------------------------------------------- fuzzing
_cell = st.text(alphabet=st.sampled_from(list("ab1 -.,;\t\"'é\x00")), max_size=4)
_row = st.lists(_cell, min_size=0, max_size=5).map("\t".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=12), fmt=st.sampled_from(["auto", "csv", "lastfm-360k"]),
       ending=st.sampled_from(["\n", "\r\n", ""]))
def test_fuzz_rows_give_a_dataset_or_a_clean_error(tmp_path, rows, fmt, ending):
    path = write(tmp_path / "fuzz.tsv", ending.join(rows) + (ending if rows else ""))
    _load_or_clean_error(path, fmt)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["auto", "csv", "lastfm-360k", "hetrec-2k"]))
def test_fuzz_bytes_give_a_dataset_or_a_clean_error(tmp_path, data, fmt):
    target = tmp_path / ("user_artists.dat" if fmt == "hetrec-2k" else "fuzz.bin")
    _load_or_clean_error(write(target, data), fmt)


def _load_or_clean_error(path: Path, fmt: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        try:
            dataset = load(path, format=fmt)
        except DataError as error:
            assert "\n" not in str(error) and str(path) in str(error)
            return
    assert_consistent(dataset)
