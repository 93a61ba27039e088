"""Artist-name matching: folding, ranking, resolving, errors."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recs.search import AmbiguousName, NameIndex, UnknownName, fold

NAMES = ["Guns N' Roses", "Beyoncé", "Air", "AIR", "Air Supply", "Arcade Fire",
         "The Arcade Fire", "Radiohead", "The Beatles", "Earth, Wind & Fire", "Motörhead",
         "Фактор-2", "Firehouse", "Bonfire"]
LISTENERS = np.array([50, 80, 40, 5, 30, 90, 20, 100, 120, 25, 35, 10, 15, 12])


@pytest.fixture(scope="module")
def index():
    return NameIndex(NAMES, LISTENERS)


@pytest.mark.parametrize("text, folded", [
    ("Guns N' Roses", "guns n roses"), ("Beyoncé", "beyonce"), ("  MOTÖRHEAD ", "motorhead"),
    ("Earth, Wind & Fire", "earth wind and fire"), ("AC/DC", "ac dc"), ("Фактор-2", "фактор 2"),
    ("Sigur Rós", "sigur ros"), ("multiple   spaces", "multiple spaces"), ("", ""),
])
def test_fold(text, folded):
    assert fold(text) == folded


def test_resolve_the_way_people_type(index):
    assert NAMES[index.resolve("guns n roses")] == "Guns N' Roses"
    assert NAMES[index.resolve("beyonce")] == "Beyoncé"
    assert NAMES[index.resolve("earth wind and fire")] == "Earth, Wind & Fire"
    assert NAMES[index.resolve("radioh")] == "Radiohead"  # the only name with this prefix
    assert NAMES[index.resolve("Air")] == "Air"  # two fold alike; the exact spelling wins
    assert NAMES[index.resolve("AIR")] == "AIR"


def test_ambiguous_and_unknown(index):
    with pytest.raises(AmbiguousName) as error:
        index.resolve("air")
    assert error.value.candidates[0] == "Air" and "be more specific" in str(error.value)
    with pytest.raises(AmbiguousName, match=r"'ai' matches 3 artists: Air, Air Supply, AIR;"):
        index.resolve("ai")
    assert NAMES[index.resolve("arcade")] == "Arcade Fire"  # the only name starting so
    with pytest.raises(UnknownName, match=r"no artist named 'radiohed'; did you mean: Radiohead"):
        index.resolve("radiohed")
    with pytest.raises(UnknownName) as error:
        index.resolve("zzzz qqqq")
    assert error.value.suggestions == []


def test_ranking_by_kind_then_popularity(index):
    hits = index.search("fire", limit=10)
    kinds = [hit.kind for hit in hits]
    assert kinds == sorted(kinds, key=["exact", "prefix", "word", "substring", "fuzzy"].index)
    names = [hit.name for hit in hits]
    assert names[0] == "Firehouse"  # the only name that starts with "fire"
    assert names.index("Arcade Fire") < names.index("The Arcade Fire")  # both words; more popular first
    assert "Bonfire" in names and [h.kind for h in hits if h.name == "Bonfire"] == ["substring"]
    assert [hit.name for hit in index.search("arcade fire", 2)] == ["Arcade Fire", "The Arcade Fire"]


def test_typos_and_empty_query(index):
    assert index.search("beetles", 3)[0].name == "The Beatles"
    assert index.search("radiohed", 3)[0].kind == "fuzzy"
    assert [hit.name for hit in index.search("", 3)] == ["The Beatles", "Radiohead", "Arcade Fire"]
    assert index.search("air", 0) == []


@settings(max_examples=200, deadline=None)
@given(query=st.text(max_size=20), limit=st.integers(min_value=0, max_value=30))
def test_search_never_fails(index, query, limit):
    hits = index.search(query, limit)
    assert len(hits) <= limit and len({hit.item for hit in hits}) == len(hits)
    assert all(0 <= hit.item < len(NAMES) and hit.name == NAMES[hit.item] for hit in hits)


HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011-2k"


@pytest.mark.skipif(not HETREC.is_dir(), reason=f"real hetrec data not found at {HETREC}")
def test_real_names():
    from tui_recs.data import load

    dataset = load(HETREC)
    index = NameIndex(dataset.item_names, dataset.item_listeners)
    assert dataset.item_names[index.resolve("arcade fire")] == "Arcade Fire"
    assert dataset.item_names[index.resolve("guns n roses")] == "Guns N' Roses"
    names = [hit.name for hit in index.search("arcade fire", 5)]
    assert names[:2] == ["Arcade Fire", "The Arcade Fire"]
