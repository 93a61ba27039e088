"""The Dataset: construction from codes, summaries, fingerprint, binary round trip."""

import numpy as np
import pytest

from tui_recs.data import Dataset


def small() -> Dataset:
    return Dataset.from_codes(
        user_codes=[0, 0, 1, 2, 2, 2, 3],
        item_codes=[0, 1, 1, 0, 2, 0, 3],
        plays=[5, 1, 2, 3, 4, 1, 0],
        user_ids=np.array(["u0", "u1", "u2", "u3"], dtype=object),
        item_ids=np.array(["a", "b", "c", "d"], dtype=object),
        item_names=np.array(["Air", "Björk", "Can", "Dead"], dtype=object),
        item_meta={"mbid": np.array(["m0", "", "m2", "m3"], dtype=object)},
        source="test",
        dropped={"bad rows": 1},
    )


def test_from_codes_sums_duplicates_and_compacts_empty_rows_and_columns():
    dataset = small()
    # u3's only play is 0 -> u3 and artist "d" vanish, with their names and metadata.
    assert dataset.user_ids.tolist() == ["u0", "u1", "u2"]
    assert dataset.item_names.tolist() == ["Air", "Björk", "Can"]
    assert dataset.item_meta["mbid"].tolist() == ["m0", "", "m2"]
    assert dataset.user_items.toarray().tolist() == [[5, 1, 0], [0, 2, 0], [4, 0, 4]]
    assert dataset.user_items.dtype == np.float32


def test_summaries():
    dataset = small()
    assert (dataset.n_users, dataset.n_items, dataset.nnz) == (3, 3, 5)
    assert dataset.density == pytest.approx(5 / 9)
    assert dataset.item_listeners.tolist() == [2, 2, 1]
    assert dataset.item_plays.tolist() == [9, 3, 4]
    assert dataset.user_plays.tolist() == [6, 2, 8]
    # Air and Björk have 2 listeners each; Air wins the tie on plays.
    assert dataset.top_items(2).tolist() == [0, 1]
    summary = dataset.summary(top=1)
    assert summary["top_artists"] == [{"rank": 1, "artist": "Air", "listeners": 2, "plays": 9.0}]
    assert summary["dropped_rows"] == {"bad rows": 1}


def test_top_items_equal_a_full_sort():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 50, 2000), rng.integers(0, 300, 2000)
    dataset = Dataset.from_codes(users, items, rng.integers(1, 4, 2000),
                                 np.array([f"u{i}" for i in range(50)], dtype=object),
                                 np.array([f"a{i}" for i in range(300)], dtype=object))
    full = np.lexsort((np.arange(dataset.n_items), -dataset.item_plays, -dataset.item_listeners))
    for n in (0, 1, 7, 50, dataset.n_items, dataset.n_items + 5):
        assert dataset.top_items(n).tolist() == full[:n].tolist()


def test_fingerprint_is_stable_and_content_sensitive():
    assert small().fingerprint == small().fingerprint
    assert len(small().fingerprint) == 16
    other = small()
    changed = Dataset(other.user_items * 2, other.user_ids, other.item_ids, other.item_names)
    assert changed.fingerprint != other.fingerprint


def test_save_and_load_round_trip(tmp_path):
    dataset = small()
    dataset.save(tmp_path / "d")
    for mmap in (False, True):
        loaded = Dataset.load_saved(tmp_path / "d", mmap=mmap)
        assert (loaded.user_items != dataset.user_items).nnz == 0
        for attribute in ("user_ids", "item_ids", "item_names"):
            assert getattr(loaded, attribute).tolist() == getattr(dataset, attribute).tolist()
        assert loaded.item_meta["mbid"].tolist() == ["m0", "", "m2"]
        assert loaded.fingerprint == dataset.fingerprint
        assert loaded.dropped == {"bad rows": 1} and loaded.source == "test"
        assert "item_plays" in loaded.__dict__, "the totals are read back, not counted again"
        assert loaded.item_plays.tolist() == dataset.item_plays.tolist()
        assert loaded.item_listeners.tolist() == dataset.item_listeners.tolist()


def test_item_ids_equal_to_the_names_are_stored_once(tmp_path):
    dataset = small()
    same = Dataset(dataset.user_items, dataset.user_ids, dataset.item_names, dataset.item_names)
    for saved, stored in ((dataset, True), (same, False)):
        directory = tmp_path / str(stored)
        saved.save(directory)
        assert (directory / "item_ids.npy").exists() == stored
        loaded = Dataset.load_saved(directory)
        assert loaded.item_ids.tolist() == saved.item_ids.tolist()
        assert loaded.fingerprint == saved.fingerprint


def test_a_saved_matrix_is_made_on_first_use_and_summaries_do_without_it(tmp_path):
    dataset = small()
    dataset.save(tmp_path / "d")
    loaded = Dataset.load_saved(tmp_path / "d", mmap=True)
    summaries = ((loaded.n_users, loaded.n_items, loaded.nnz), loaded.top_items(3).tolist(),
                 [part.tolist() for part in loaded.top_listeners(0, 5)])
    assert not hasattr(loaded.__dict__["_stored_plays"], "tocsr"), "no SciPy matrix made yet"
    assert summaries == ((3, 3, 5), dataset.top_items(3).tolist(),
                         [part.tolist() for part in dataset.top_listeners(0, 5)])
    matrix = loaded.user_items
    assert matrix.format == "csr" and loaded.user_items is matrix, "made once, then kept"
    assert matrix.toarray().tolist() == dataset.user_items.toarray().tolist()


def test_the_dataset_cache_says_what_it_holds(tmp_path):
    from tui_recs.data.store import is_dataset_cached, open_dataset

    source = tmp_path / "plays.csv"
    source.write_text("user,artist,plays\nu1,a,3\nu2,b,1\nu2,a,2\n", encoding="utf-8")
    cache = tmp_path / "cache"
    demo = dict(n_users=300, n_items=200)
    assert not is_dataset_cached(source, cache_dir=cache)
    assert not is_dataset_cached(None, cache_dir=cache, **demo)
    open_dataset(source, cache_dir=cache)
    open_dataset(None, cache_dir=cache, **demo)
    assert is_dataset_cached(source, cache_dir=cache)
    assert is_dataset_cached(None, cache_dir=cache, **demo)
    assert not is_dataset_cached(None, cache_dir=cache, n_users=301, n_items=200)
    source.write_text("user,artist,plays\nu1,a,4\n", encoding="utf-8")  # the file changed
    assert not is_dataset_cached(source, cache_dir=cache)
    assert not is_dataset_cached(tmp_path / "missing.csv", cache_dir=cache)


def test_mismatched_ids_are_rejected():
    dataset = small()
    with pytest.raises(ValueError, match="user_ids has 2 entries for 3 users"):
        Dataset(dataset.user_items, dataset.user_ids[:2], dataset.item_ids, dataset.item_names)


def test_top_listeners_of_an_artist():
    import scipy.sparse as sp

    plays = sp.csr_matrix(np.array([[5, 0, 1], [0, 0, 9], [7, 2, 0], [5, 0, 0]], dtype=np.float32))
    dataset = Dataset(plays, np.array(["a", "b", "c", "d"], dtype=object),
                      np.array(["x", "y", "z"], dtype=object), np.array(["X", "Y", "Z"], dtype=object))
    rows, counts = dataset.top_listeners(0, 5)
    assert rows.tolist() == [2, 0, 3] and counts.tolist() == [7, 5, 5]  # ties: lower row first
    assert dataset.top_listeners(2, 1)[0].tolist() == [1]
    assert dataset.top_listeners(1, 0)[0].tolist() == []
