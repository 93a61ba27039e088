"""Artist-name matching: folding, as-you-type ranking, resolving one name, errors."""

import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_recs import search
from tui_recs.errors import TuiRecsError
from tui_recs.search import (KINDS, POPULAR, AmbiguousName, IdIndex, NameIndex, UnknownId,
                             UnknownName, _fold_ascii, _fold_unicode, fold, fold_all)

LISTENERS = {
    "The Beatles": 120, "Radiohead": 100, "Arcade Fire": 90, "Beyoncé": 80, "Guns N' Roses": 50,
    "Air": 40, "Motörhead": 35, "Air Supply": 30, "Earth, Wind & Fire": 25, "The Arcade Fire": 20,
    "Firehouse": 15, "Bonfire": 12, "Фактор-2": 10, "Radio Dept.": 8, "AIR": 5, "!!!": 4,
    "Smiths": 3, "Fire": 2,
}
NAMES = list(LISTENERS)


@pytest.fixture(scope="module")
def index():
    return NameIndex(NAMES, np.array(list(LISTENERS.values())))


def names_of(hits):
    return [hit.name for hit in hits]


# --------------------------------------------------------------------------------- folding
@pytest.mark.parametrize("text, folded", [
    ("Beyoncé", "beyonce"), ("Motörhead", "motorhead"), ("Sigur Rós", "sigur ros"),  # accents
    ("Mø", "mo"), ("Straße", "strasse"), ("İstanbul", "istanbul"),  # letters spelled out
    ("ABBA", "abba"), ("ＲＥＤ", "red"),  # case, full-width forms
    ("Guns N' Roses", "guns n roses"), ("Guns N’ Roses", "guns n roses"), ("Don´t", "dont"),
    ("Earth, Wind & Fire", "earth wind and fire"), ("Simon&Garfunkel", "simon and garfunkel"),
    ("AC/DC", "ac dc"), ("t.A.T.u.", "t a t u"), ("blink-182", "blink 182"), ("P_O_D", "p o d"),
    ("  multiple \t  spaces\n", "multiple spaces"), ("", ""), ("!!!", ""),
    ("Фактор-2", "фактор 2"), ("Мумий Тролль", "мумий тролль"),  # Cyrillic kept (й too)
    ("ガゼット", "ガゼット"), ("ｶﾞｾﾞｯﾄ", "ガゼット"), ("宇多田ヒカル", "宇多田ヒカル"),  # Japanese
    ("김종국", "김종국"), ("Άννα Βισση", "άννα βισση"), ("हिन्दी", "हिन्दी"),  # Hangul, Greek, Devanagari
    ("Katy Perry\ue216", "katy perry"), ("soft\u00adhyphen", "softhyphen"),  # junk characters
])
def test_fold(text, folded):
    assert fold(text) == folded


def test_fold_all_is_fold_of_each():
    texts = ["Björk", "AC/DC", "", "two\nlines", "Фактор-2", "!!!", " x "]
    assert fold_all(texts) == [fold(text) for text in texts]
    assert fold_all([]) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\n")),
                max_size=5))
def test_ascii_shortcut_folds_like_the_unicode_path(lines):
    assert _fold_ascii(lines) == _fold_unicode(lines)


# ---------------------------------------------------------------------------------- search
def test_kinds_rank_in_order_then_by_popularity(index):
    hits = index.search("fire", limit=30)
    assert [hit.kind for hit in hits] == ["exact", "prefix", "word", "word", "word", "substring"]
    assert names_of(hits) == ["Fire", "Firehouse", "Arcade Fire", "Earth, Wind & Fire",
                              "The Arcade Fire", "Bonfire"]
    assert names_of(index.search("arcade fire", 2)) == ["Arcade Fire", "The Arcade Fire"]
    assert all(0 <= hit.score <= 1 for hit in hits)


def test_typed_forms_find_the_name(index):
    assert names_of(index.search("guns n roses", 1)) == ["Guns N' Roses"]
    assert names_of(index.search("BEYONCE", 1)) == ["Beyoncé"]
    assert names_of(index.search("earth wind and fire", 1)) == ["Earth, Wind & Fire"]
    assert names_of(index.search("фактор", 1)) == ["Фактор-2"]
    assert names_of(index.search("!!", 1)) == ["!!!"]  # all-punctuation names are findable


def test_typos_are_found_last(index):
    hits = index.search("radiohed", 5)
    assert hits[0].name == "Radiohead" and hits[0].kind == "fuzzy"
    assert index.search("beetles", 3)[0].name == "The Beatles"
    assert index.search("motrhead", 3)[0].name == "Motörhead"
    assert [hit.kind for hit in index.search("arcade", 5)] == ["prefix", "word"]  # no far-fetched guesses
    hits = NameIndex(["Beetles", "The Beatles", "Beatles Revival"]).search("beatle")
    assert [(hit.name, hit.kind) for hit in hits] == [
        ("Beatles Revival", "prefix"), ("The Beatles", "word"), ("Beetles", "fuzzy")]
    assert index.search("ai", 10)[-1].kind != "fuzzy"  # too short to guess typos


def test_empty_query_lists_the_most_popular(index):
    hits = index.search("", 3)
    assert names_of(hits) == ["The Beatles", "Radiohead", "Arcade Fire"]
    assert {hit.kind for hit in hits} == {POPULAR}
    assert names_of(index.search("  ", 1)) == ["The Beatles"]
    assert index.search("air", 0) == []


def test_without_popularity_ties_keep_the_given_order():
    index = NameIndex(["Bonfire", "Fire", "Firehouse"])
    assert names_of(index.search("fire")) == ["Fire", "Firehouse", "Bonfire"]
    assert names_of(index.search("")) == ["Bonfire", "Fire", "Firehouse"]


def test_an_empty_index_finds_nothing():
    index = NameIndex([])
    assert index.search("radiohead") == [] and index.search("") == []
    with pytest.raises(UnknownName):
        index.resolve("radiohead")


def test_typo_index_can_be_built_in_the_background(index):
    fresh = NameIndex(NAMES, np.array(list(LISTENERS.values())))
    builder = threading.Thread(target=fresh.prepare)
    builder.start()
    assert fresh.search("radiohed", 5) == index.search("radiohed", 5)
    builder.join()


def test_quick_search_answers_as_search_does_or_not_at_all(monkeypatch):
    """Only from the most popular names (the first QUICK_SPAN characters), once prepared."""
    names = ["AC/DC", "Air", "ACDC Tribute", "AIR"] + [f"Band {number}" for number in range(300)]
    index = NameIndex(names, np.arange(len(names))[::-1])  # the first the most popular
    assert index.quick_search("band", 5) is None, "not before prepare()"
    index.prepare()
    monkeypatch.setattr("tui_recs.search.QUICK_SPAN", 200)  # ~25 names
    assert index.quick_search("band", 5) == index.search("band", 5)
    assert index.quick_search("band 299", 1) is None, "its exact match is beyond the span"
    assert index.quick_search("radiohed", 5) is None, "a typo"
    assert index.quick_search("air", 0) == []
    for query in ["", "band 2", "band 1", "acdc", "ac dc", "air", "b", "zz", "!!"]:
        for limit in (1, 2, 5, 40):
            quick = index.quick_search(query, limit)
            assert quick is None or quick == index.search(query, limit), (query, limit)


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=20), limit=st.integers(min_value=-1, max_value=30))
def test_search_never_fails(index, query, limit):
    hits = index.search(query, limit)
    assert len(hits) <= max(limit, 0) and len({hit.item for hit in hits}) == len(hits)
    assert all(0 <= hit.item < len(NAMES) and hit.name == NAMES[hit.item] for hit in hits)
    assert all(hit.kind in KINDS or hit.kind == POPULAR for hit in hits)
    ranks = [KINDS.index(hit.kind) for hit in hits if hit.kind in KINDS]
    assert ranks == sorted(ranks)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_every_name_finds_itself_first(names):
    index = NameIndex(names)
    for item, name in enumerate(names):
        hits = index.search(name, len(names))
        if name.strip():
            assert hits[0].kind == "exact" and fold(hits[0].name) == fold(name)
            assert item in [hit.item for hit in hits if hit.kind == "exact"]


# --------------------------------------------------------------------------------- resolve
def test_resolve_the_way_people_type(index):
    assert NAMES[index.resolve("guns n roses")] == "Guns N' Roses"
    assert NAMES[index.resolve("beyonce")] == "Beyoncé"
    assert NAMES[index.resolve("MOTORHEAD")] == "Motörhead"
    assert NAMES[index.resolve("earth wind and fire")] == "Earth, Wind & Fire"
    assert NAMES[index.resolve("!!!")] == "!!!"


def test_resolve_rules_in_order(index):
    assert NAMES[index.resolve("Air")] == "Air"  # folds like "AIR": the exact spelling wins
    assert NAMES[index.resolve("AIR")] == "AIR"
    assert NAMES[index.resolve("arcade fire")] == "Arcade Fire"  # exact beats "The Arcade Fire"
    assert NAMES[index.resolve("beatles")] == "The Beatles"  # a leading "the" is optional
    assert NAMES[index.resolve("the smiths")] == "Smiths"
    assert NAMES[index.resolve("radioh")] == "Radiohead"  # the only name starting so
    assert NAMES[index.resolve("arcade f")] == "Arcade Fire"
    assert NAMES[index.resolve("supply")] == "Air Supply"  # the only name with such a word


def test_case_only_spelling_settles_a_tie():
    index = NameIndex(["Rihanna", "Rihannà"], np.array([1, 100]))
    assert index.resolve("rihanna") == 0
    assert index.resolve("Rihannà") == 1


def test_ambiguous_names_list_candidates(index):
    with pytest.raises(AmbiguousName) as error:
        index.resolve("air")
    assert error.value.candidates == ["Air", "AIR"] and error.value.total == 2
    assert str(error.value) == "'air' matches 2 artists: Air, AIR; type one exactly as written"
    with pytest.raises(AmbiguousName) as error:
        index.resolve("radio")
    assert str(error.value) == "'radio' matches 2 artists: Radiohead, Radio Dept.; be more specific"
    with pytest.raises(AmbiguousName,  # names starting so, before names with a word starting so
                       match=r"^'a' matches 4 artists: Arcade Fire, Air, Air Supply, AIR; be more"):
        index.resolve("a")
    big = NameIndex([f"Band {i}" for i in range(12)])
    with pytest.raises(AmbiguousName, match=r"Band 4 and 7 more; be more specific$"):
        big.resolve("band")


def test_unknown_names_suggest_the_closest(index):
    with pytest.raises(UnknownName) as error:
        index.resolve("radiohed")
    assert error.value.suggestions[0] == "Radiohead"
    assert str(error.value).startswith("no artist named 'radiohed'; did you mean: Radiohead")
    assert str(error.value).endswith("?") and "\n" not in str(error.value)
    with pytest.raises(UnknownName) as error:
        index.resolve("zzzz qqqq")
    assert error.value.suggestions == [] and str(error.value) == "no artist named 'zzzz qqqq'"
    assert isinstance(error.value, TuiRecsError)
    with pytest.raises(UnknownName):
        index.resolve("   ")


@pytest.mark.parametrize("piece", [2, search.PIECE])
def test_punctuation_inside_a_word_may_be_left_out(piece, monkeypatch):
    """"acdc" finds AC/DC as "ac/dc" and "ac dc" do; the joined form is a second spelling of
    the same artist (listed once), and survives the trip through arrays. Names are scanned
    a piece at a time: pieces of 2 names put the ones to join in every position of one."""
    monkeypatch.setattr(search, "PIECE", piece)
    listeners = {"AC/DC": 90, "Jay-Z": 80, "a-ha": 70, "ACDC Tribute": 5, "Фактор-2": 3}
    names = list(listeners)
    index = NameIndex(names, np.array(list(listeners.values())))
    for query in ("acdc", "ac/dc", "AC-DC", "ac dc"):
        assert names_of(index.search(query, 1)) == ["AC/DC"], query
        assert names[index.resolve(query)] == "AC/DC", query
    assert names_of(index.search("acd", 5))[:2] == ["AC/DC", "ACDC Tribute"]  # once each
    assert names[index.resolve("jayz")] == "Jay-Z" and names[index.resolve("jay z")] == "Jay-Z"
    assert names[index.resolve("aha")] == "a-ha" and names[index.resolve("фактор2")] == "Фактор-2"
    again = NameIndex.from_arrays(names, index.to_arrays())
    assert again.search("acdc", 5) == index.search("acdc", 5)
    arrays = {**index.to_arrays(), "lines.owners": np.array([0, 1, 2, 3, 4, 9, 9, 9])}
    with pytest.raises(ValueError, match="line owners that are not lines"):
        NameIndex.from_arrays(names, arrays)


# ------------------------------------------------------------------------------- real data
def read_hetrec_names(folder: Path) -> list[str]:
    """The name column of artists.dat (tab-separated, a header line, UTF-8)."""
    lines = (folder / "artists.dat").read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[1] for line in lines[1:] if line]


def test_real_names(hetrec):
    names = read_hetrec_names(hetrec)
    index = NameIndex(names)
    assert names[index.resolve("arcade fire")] == "Arcade Fire"
    assert names[index.resolve("guns n roses")] == "Guns N' Roses"
    assert names[index.resolve("beyonce")] == "Beyoncé"
    assert names[index.resolve("bjork")] == "Björk"
    assert names[index.resolve("rihanna")] == "Rihanna"  # "Rihannà" folds alike
    assert {"Arcade Fire", "The Arcade Fire"} <= set(names_of(index.search("arcade fire", 5)))
    assert index.search("radiohed", 5)[0].name == "Radiohead"
    assert names[index.resolve("air")] == "Air"
    with pytest.raises(AmbiguousName, match="matches 3 artists: .*; type one exactly as written"):
        index.resolve("гости из будущего")  # three spellings that differ in case only
    assert names[index.resolve("the")] == "The The"  # "the" + "the", the article left out
    assert names[index.resolve("acdc")] == names[index.resolve("ac/dc")] == "AC/DC"
    with pytest.raises(AmbiguousName, match="'the b' matches .* be more specific"):
        index.resolve("the b")


LISTENER_IDS = ["user_10", "User_2", "user_3", "admin", "USER_20", "bob"]


def test_listener_ids_by_prefix_any_case():
    ids = IdIndex(LISTENER_IDS)
    assert [LISTENER_IDS[row] for row in ids.with_prefix("USER_", 10)] == [
        "user_10", "User_2", "user_3", "USER_20"]
    assert [LISTENER_IDS[row] for row in ids.with_prefix("user_2", 10)] == ["User_2", "USER_20"]
    assert ids.with_prefix("user_", 2) == [0, 1] and ids.with_prefix("zed", 5) == []


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), min_size=1,
                        max_size=6), max_size=30), st.text(max_size=4))
def test_prefix_lookup_equals_a_linear_scan(ids, prefix):
    expected = [row for row, user_id in enumerate(ids)
                if user_id.lower().startswith(prefix.strip().lower())]
    assert IdIndex(ids).with_prefix(prefix, 1000) == expected


def test_resolve_a_listener_id():
    ids = IdIndex(LISTENER_IDS)
    assert ids.resolve(" bob ") == 5 and ids.resolve("ADMIN") == 3
    with pytest.raises(UnknownId, match=r"no listener with id 'user_' in demo \(ids look like: "
                                        r"user_10, User_2, user_3, USER_20\)"):
        ids.resolve("user_", "demo")
    with pytest.raises(UnknownId, match=r"ids look like: user_10, User_2, user_3"):
        ids.resolve("zzz")


def test_a_typo_prefers_the_popular_name_that_holds_as_much_of_it():
    hits = NameIndex(["Rikoli", "Risali Stars"], np.array([100, 3776])).search("riasli", 2)
    assert [hit.name for hit in hits] == ["Risali Stars", "Rikoli"]


# ----------------------------------------------------------------------------- cached indexes
QUERIES = ["", "fire", "the arcade fire", "AIR", "radiohed", "beyonce", "фактор", "!!!", "zz"]


def test_an_index_read_back_from_arrays_answers_as_the_one_built(index):
    again = NameIndex.from_arrays(NAMES, index.to_arrays())
    for query in QUERIES:
        assert again.search(query, 10) == index.search(query, 10), query
    assert again.resolve("beatles") == index.resolve("beatles") == NAMES.index("The Beatles")
    ids = IdIndex.from_arrays(np.array(LISTENER_IDS, dtype=object),
                              IdIndex(LISTENER_IDS).to_arrays())
    assert ids.resolve("ADMIN") == 3 and ids.with_prefix("user_2", 10) == [1, 4]
    empty = NameIndex.from_arrays([], NameIndex([]).to_arrays())
    assert empty.search("air") == [] and empty.search("") == []
    with pytest.raises(ValueError, match="a name index of 18 names for 3"):
        NameIndex.from_arrays(NAMES[:3], index.to_arrays())


def test_name_indexes_are_built_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from tui_recs.cache import ArtifactStore
    from tui_recs.data import demo
    from tui_recs.search import name_indexes

    dataset = demo(n_users=300, n_items=200)
    store = ArtifactStore(tmp_path)
    fresh_names, fresh_ids = name_indexes(dataset)  # no store: built here
    built_names, built_ids = name_indexes(dataset, store)
    monkeypatch.setattr(NameIndex, "__init__", lambda *args: pytest.fail("built again"))
    names, ids = name_indexes(dataset, store)
    assert names.typo_index_ready, "the typo index comes with it"
    queries = [*QUERIES, *(str(name)[:5] for name in dataset.item_names[:20]), "zqxj"]
    for query in queries:
        assert names.search(query, 10) == fresh_names.search(query, 10) == \
            built_names.search(query, 10), query
    user = str(dataset.user_ids[7])
    assert ids.resolve(user.upper()) == fresh_ids.resolve(user) == 7
    assert ids.with_prefix(user[:4], 5) == fresh_ids.with_prefix(user[:4], 5)
