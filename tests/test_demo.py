"""The built-in demo data: deterministic, realistic in shape, with planted alias pairs, and
its export in the Last.fm 360K layout."""

import csv
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from tui_recs.data import Dataset, DataError, demo, load
from tui_recs.data.synthetic import GENRES, alias_pairs, generate, scale_options, write_lastfm360k
from tui_recs.data.synthetic_names import STYLES, artist_names

SMALL = {"n_users": 3000, "n_items": 800, "seed": 1}


@pytest.fixture(scope="module")
def default():
    return demo()


@pytest.fixture(scope="module")
def small():
    return generate(**SMALL)


def artists_per_listener(dataset) -> np.ndarray:
    return np.diff(dataset.user_items.indptr)


def listeners_of(dataset, item: int) -> set[int]:
    columns = dataset.user_items.tocsc()
    return set(columns.indices[columns.indptr[item]:columns.indptr[item + 1]].tolist())


# ------------------------------------------------------------------------------- shape
def test_default_size_and_shape(default):
    assert default.n_users == 20_000 and 4_900 <= default.n_items <= 5_000
    assert 900_000 <= default.nnz <= 1_100_000  # ~50 artists each: ALS trains in seconds
    assert default.user_items.dtype == np.float32
    assert default.source == "demo(n_users=20000, n_items=5000, seed=0)"
    per_listener = artists_per_listener(default)
    # 20-60 kept, plus the signature artists that fans of an aliased artist also play.
    assert per_listener.min() >= 20 and per_listener.max() <= 80
    assert np.mean(per_listener > 60) < 0.1
    assert 46 <= per_listener.mean() <= 52  # "top ~50 artists", like the 360K crawl
    assert np.std(per_listener) > 5  # varied, not everyone at 50


def test_a_scaled_360k_shape_keeps_the_crawl_density():
    options = scale_options("0.01")
    dataset = generate(**options)
    assert dataset.n_users == options["n_users"] == 3_600
    assert 0.9 * options["n_items"] <= dataset.n_items <= options["n_items"]
    assert 46 <= dataset.nnz / dataset.n_users <= 51  # 360K: 17.5M pairs / 360K listeners


def test_deterministic(small):
    again = generate(**SMALL)
    assert (again.user_items != small.user_items).nnz == 0
    assert np.array_equal(again.user_items.data, small.user_items.data)
    assert again.item_names.tolist() == small.item_names.tolist()
    assert again.user_ids.tolist() == small.user_ids.tolist()
    assert again.fingerprint == small.fingerprint
    other = generate(**{**SMALL, "seed": 2})
    assert other.fingerprint != small.fingerprint
    assert other.item_names.tolist() != small.item_names.tolist()


@pytest.mark.parametrize("size", [{"n_users": 5}, {"n_items": 50}, {"n_users": 10**9}])
def test_bad_sizes(size):
    with pytest.raises(DataError, match="demo data needs"):
        generate(**size)


# ------------------------------------------------------------------------------- names
def test_names_are_readable_and_unique(default):
    names = default.item_names.tolist()
    assert len(set(names)) == len(names)
    assert default.item_ids.tolist() == names
    assert not any(re.search(r"artist_?\d", name, re.I) for name in names)
    assert not any(re.search(r"[\t\n\r\0]", name) or name != name.strip() for name in names)
    assert len({name.split()[0] for name in names}) > 100  # varied, not one template
    assert any(" & The " in name for name in names)
    assert any(not name.isascii() for name in names)  # accents, as in real artist lists
    users = default.user_ids.tolist()
    assert len(set(users)) == len(users)
    assert all(re.fullmatch(r"[a-z]+_[a-z]+\d+", user) for user in users)


@pytest.mark.parametrize("styles", [tuple(STYLES), ("person",), ("ensemble", "band")])
def test_names_stay_unique_at_scale(styles):
    # "person" alone has only 3,600 first+last combinations: the roomy template takes over.
    names = artist_names(np.random.default_rng(0), [styles] * 50_000, set())
    assert len(set(names)) == len(names) == 50_000
    assert not any(re.search(r"\d", name) for name in names)


# ------------------------------------------------------------------------------- plays
def test_play_counts_are_heavy_tailed_whole_numbers(default):
    plays = default.user_items.data
    assert plays.min() >= 1 and np.all(plays == np.round(plays))
    assert 50 <= np.median(plays) <= 200
    assert np.percentile(plays, 99) > 8 * np.median(plays)
    assert plays.mean() > np.median(plays)  # a long right tail


def test_popularity_is_skewed(default):
    listeners = np.sort(default.item_listeners)[::-1]
    top_percent = listeners[:len(listeners) // 100].sum() / listeners.sum()
    assert top_percent > 0.1  # uniform would be 0.01
    assert listeners[0] > 50 * np.median(listeners)
    assert listeners[0] < 0.5 * default.n_users  # no artist everyone plays


# ------------------------------------------------------------------------------ genres
def test_every_artist_has_a_genre(default):
    genres = default.item_meta["genre"]
    assert set(genres.tolist()) == set(GENRES) and len(GENRES) >= 12


def test_listeners_concentrate_in_few_genres(small):
    genres = small.item_meta["genre"]
    matrix = small.user_items
    shares = []
    for user in range(300):
        mine = genres[matrix.indices[matrix.indptr[user]:matrix.indptr[user + 1]]]
        _, counts = np.unique(mine, return_counts=True)
        shares.append(counts.max() / counts.sum())
    assert np.mean(shares) > 0.4  # spread evenly over 16 genres it would be ~0.15
    assert np.mean(np.array(shares) < 1) > 0.9  # but most explore beyond their top genre


# ----------------------------------------------------------------------------- aliases
def variant_kind(first: str, second: str) -> str | None:
    """How the second label of a pair differs from the first."""
    if unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode() == second != first:
        return "accent"
    if first.replace(" & The ", " and the ") == second != first:
        return "and"
    if first == f"The {second}" or second == f"The {first}":
        return "the"
    return None


def test_alias_pairs_have_disjoint_listeners(default):
    pairs = alias_pairs(default)
    assert len(pairs) == 10
    alias_of = default.item_meta["alias_of"]
    assert sum(bool(value) for value in alias_of.tolist()) == 10
    for first, second in pairs:
        a, b = listeners_of(default, first), listeners_of(default, second)
        assert len(a) > 100 and len(b) > 100 and not a & b
        assert 0.7 < len(a) / len(b) < 1.4  # a coin flip per listener
        assert alias_of[second] == default.item_ids[first] and alias_of[first] == ""
        assert default.item_meta["genre"][first] == default.item_meta["genre"][second]


def test_alias_labels_are_the_usual_variants(default):
    kinds = [variant_kind(default.item_names[first], default.item_names[second])
             for first, second in alias_pairs(default)]
    assert None not in kinds
    assert set(kinds) == {"accent", "and", "the"}


def test_small_data_has_fewer_alias_pairs_and_real_data_none():
    dataset = generate(n_users=300, n_items=250)
    assert len(alias_pairs(dataset)) == 2
    without_meta = Dataset(dataset.user_items, dataset.user_ids, dataset.item_ids, dataset.item_names)
    assert alias_pairs(without_meta) == []


# ------------------------------------------------------------------------------ --scale
@pytest.mark.parametrize("text, expected", [
    ("default", {}), ("360k", {"n_users": 360_000, "n_items": 290_000}),
    (" 360K ", {"n_users": 360_000, "n_items": 290_000}),
    ("0.1", {"n_users": 36_000, "n_items": 29_000}), ("1", {"n_users": 360_000, "n_items": 290_000}),
    ("0.0001", {"n_users": 200, "n_items": 200}),
])
def test_scale_options(text, expected):
    assert scale_options(text) == expected


@pytest.mark.parametrize("bad", ["huge", "", "0", "-1", "2", "nan", "inf", "1e"])
def test_bad_scale(bad):
    with pytest.raises(DataError, match="bad --scale") as error:
        scale_options(bad)
    message = str(error.value)
    assert "\n" not in message and "'default'" in message and "'360k'" in message


# ---------------------------------------------------------------------------- TSV export
def test_write_lastfm360k_round_trip(tmp_path):
    options = {"n_users": 300, "n_items": 200, "seed": 3}
    path = write_lastfm360k(tmp_path / "new" / "out", **options)
    assert path == tmp_path / "new" / "out" / "usersha1-artmbid-artname-plays.tsv"
    original = generate(**options)
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = [line.split("\t") for line in lines]
    assert len(lines) == original.nnz
    assert all(len(row) == 4 and re.fullmatch(r"[0-9a-f]{40}", row[0]) for row in fields)
    assert all(re.fullmatch(r"[1-9]\d*", row[3]) for row in fields)  # no header, whole plays
    assert sum(int(row[3]) for row in fields) == int(original.user_items.sum())
    mbids = [row[1] for row in fields]
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", m) for m in mbids if m)
    missing = {row[2] for row in fields if not row[1]}
    assert 0.03 < len(missing) / original.n_items < 0.2  # like the crawl: ~10% without MBID
    users = [row[0] for row in fields]
    runs = 1 + sum(a != b for a, b in zip(users, users[1:]))
    assert runs == len(set(users)) == original.n_users  # rows grouped by listener
    assert sorted({row[2] for row in fields}) == sorted(original.item_names.tolist())
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_exported_tsv_reads_back_with_pandas_and_the_loader(tmp_path):
    options = {"n_users": 400, "n_items": 300, "seed": 4}
    path = write_lastfm360k(tmp_path, **options)
    original = generate(**options)
    table = pd.read_csv(path, sep="\t", header=None, quoting=csv.QUOTE_NONE, dtype=str,
                        keep_default_na=False)
    assert table.shape == (original.nnz, 4)
    assert table[3].astype(int).sum() == int(original.user_items.sum())
    assert table[0].nunique() == original.n_users
    loaded = load(path)
    assert (loaded.n_users, loaded.n_items, loaded.nnz) == (original.n_users, original.n_items,
                                                            original.nnz)
    assert loaded.user_items.sum() == original.user_items.sum()
    assert sorted(loaded.item_names.tolist()) == sorted(original.item_names.tolist())


def test_export_replaces_an_existing_file(tmp_path):
    first = write_lastfm360k(tmp_path, n_users=100, n_items=200, seed=5)
    size = first.stat().st_size
    second = write_lastfm360k(tmp_path, n_users=200, n_items=200, seed=5)
    assert second == first and second.stat().st_size > size
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
