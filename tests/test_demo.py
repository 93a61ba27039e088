"""The built-in demo data: deterministic, realistic in shape, with planted alias pairs."""

import re

import numpy as np
import pytest

from tui_recs.data import DataError, demo, load
from tui_recs.data.synthetic import alias_pairs, generate, scale_options, write_lastfm360k


@pytest.fixture(scope="module")
def default():
    return demo()


@pytest.fixture(scope="module")
def small():
    return generate(n_users=3000, n_items=800, seed=1)


def test_default_size_and_shape(default):
    assert default.n_users == 20_000 and 4_900 <= default.n_items <= 5_000
    per_listener = np.diff(default.user_items.indptr)
    # 20-60 picked, plus the signature artists fans of an aliased artist also play.
    assert per_listener.min() >= 20 and per_listener.max() <= 80
    assert np.mean(per_listener > 60) < 0.1
    assert 45 <= per_listener.mean() <= 52  # "top ~50 artists", like the 360K crawl


def test_deterministic(small):
    again = generate(n_users=3000, n_items=800, seed=1)
    assert (again.user_items != small.user_items).nnz == 0
    assert again.item_names.tolist() == small.item_names.tolist()
    assert again.user_ids.tolist() == small.user_ids.tolist()
    assert generate(n_users=3000, n_items=800, seed=2).fingerprint != small.fingerprint


def test_names_are_readable_and_unique(default):
    names = default.item_names.tolist()
    assert len(set(names)) == len(names)
    assert not any(re.search(r"artist_?\d", name, re.I) or "\t" in name for name in names)
    assert len({name.split()[0] for name in names}) > 100  # varied, not one template
    users = default.user_ids.tolist()
    assert len(set(users)) == len(users)
    assert all(re.fullmatch(r"[a-z]+_[a-z]+\d+", user) for user in users[:100])


def test_play_counts_are_heavy_tailed(default):
    plays = default.user_items.data
    assert plays.min() >= 1
    assert 70 <= np.median(plays) <= 140
    assert np.percentile(plays, 99) > 8 * np.median(plays)


def test_popularity_is_skewed(default):
    listeners = np.sort(default.item_listeners)[::-1]
    top_percent = listeners[:len(listeners) // 100].sum() / listeners.sum()
    assert top_percent > 0.1  # uniform would be 0.01
    assert listeners[0] > 50 * np.median(listeners)


def test_genres_shape_listening(small):
    genres = small.item_meta["genre"]
    assert len(set(genres.tolist())) >= 10
    # A listener's artists concentrate in few genres: the top genre holds most of them.
    matrix = small.user_items
    shares = []
    for user in range(200):
        mine = genres[matrix.indices[matrix.indptr[user]:matrix.indptr[user + 1]]]
        _, counts = np.unique(mine, return_counts=True)
        shares.append(counts.max() / counts.sum())
    assert np.mean(shares) > 0.4


def test_alias_pairs_have_disjoint_listeners(default):
    pairs = alias_pairs(default)
    assert len(pairs) == 10
    columns = default.user_items.tocsc()
    for first, second in pairs:
        a = set(columns.indices[columns.indptr[first]:columns.indptr[first + 1]].tolist())
        b = set(columns.indices[columns.indptr[second]:columns.indptr[second + 1]].tolist())
        assert len(a) > 100 and len(b) > 100 and not a & b
        assert default.item_meta["genre"][first] == default.item_meta["genre"][second]
        assert default.item_names[first] != default.item_names[second]


@pytest.mark.parametrize("text, expected", [
    ("default", {}), ("360k", {"n_users": 360_000, "n_items": 290_000}),
    ("0.1", {"n_users": 36_000, "n_items": 29_000}),
])
def test_scale_options(text, expected):
    assert scale_options(text) == expected


@pytest.mark.parametrize("bad", ["huge", "0", "-1", "2"])
def test_bad_scale(bad):
    with pytest.raises(DataError, match="bad --scale"):
        scale_options(bad)


def test_write_lastfm360k_round_trip(tmp_path):
    path = write_lastfm360k(tmp_path / "out", n_users=300, n_items=200, seed=3)
    assert path.name == "usersha1-artmbid-artname-plays.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = [line.split("\t") for line in lines]
    assert all(len(row) == 4 and re.fullmatch(r"[0-9a-f]{40}", row[0]) for row in fields)
    original = generate(n_users=300, n_items=200, seed=3)
    assert len(lines) == original.nnz
    assert sum(int(row[3]) for row in fields) == int(original.user_items.sum())
    assert 0.03 < sum(row[1] == "" for row in fields) / len(fields) < 0.25  # some MBIDs missing
    users = [row[0] for row in fields]
    assert users == sorted(users, key=users.index)  # rows grouped by listener
    loaded = load(path)
    assert (loaded.n_users, loaded.n_items, loaded.nnz) == (original.n_users, original.n_items, original.nnz)
    assert sorted(loaded.item_names.tolist()) == sorted(original.item_names.tolist())
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temp file left behind
