"""The headless session both front ends are thin faces over."""

from __future__ import annotations

import numpy as np

from tui_recs.session import Session


def test_the_cache_root_is_resolved_once_and_the_dataset_opened_once(cache_root,
                                                                       small_plays_csv):
    session = Session(small_plays_csv)
    assert session.cache_root == cache_root.absolute()
    assert session.store is not None and session.store.root == session.cache_root
    assert session.dataset is session.dataset
    assert Session(small_plays_csv, use_cache=False).store is None


def test_listener_history_is_most_played_first(cache_root, small_plays_csv):
    session = Session(small_plays_csv)
    row = session.dataset.user_items[3]
    items, plays = session.listener_history(3)
    assert sorted(items.tolist()) == sorted(row.indices.tolist())
    assert np.all(np.diff(plays) <= 0) and plays.sum() == row.data.sum()
    assert len(session.listener_history(3, n=2)[0]) == 2


def test_models_answer_and_compare_by_name(cache_root, small_plays_csv):
    session = Session(small_plays_csv)
    artist = session.artist(str(session.dataset.item_names[0]))
    als = session.model("als", factors=4, iterations=2)
    popularity = session.model("popularity")
    ids, scores, mode = session.related(als, artist, n=5)
    assert len(ids) == 5 and artist not in ids.tolist() and mode == "exact"
    comparison, left, right = session.compare(als, popularity, user=0, n=5)
    assert list(comparison.left) == left[0].tolist() and list(comparison.right) == right[0].tolist()


def test_evaluation_in_a_child_process_gives_the_same_table(cache_root, small_plays_csv):
    session = Session(small_plays_csv)
    params = {"lsa": {"factors": 4}}
    here, description = session.evaluate(params, k=5)
    there, _ = session.evaluate(params, k=5, isolated=True)
    assert [row["model"] for row in here] == ["lsa", "popularity"]
    assert description.startswith("holdout 0.2, seed 0")
    timing = ("fit_seconds", "query_ms")
    assert ([{k: v for k, v in row.items() if k not in timing} for row in here]
            == [{k: v for k, v in row.items() if k not in timing} for row in there])
