"""The headless session both front ends are thin faces over."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.slow
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


def test_a_model_trained_by_another_engine_is_cached_and_answers_alike(cache_root,
                                                                        small_plays_csv,
                                                                        monkeypatch):
    """An engine returns the arrays from_arrays loads: a model trained elsewhere is stored
    under a key of its own (the engine is part of it) and queried like a local one."""
    from tui_recs.models import engine as engines
    from tui_recs.models import registry
    from tui_recs.pipeline import model_inputs

    class Elsewhere(engines.Engine):
        name, title = "elsewhere", "a test engine"
        calls = 0

        def train(self, model, user_items, callback=None):
            Elsewhere.calls += 1  # what a remote engine would compute, from a copy
            twin = registry.create(model.name, **model.get_params())
            return {key: np.array(value) for key, value in
                    twin.fit(user_items.copy(), callback=callback).to_arrays().items()}

    monkeypatch.setitem(engines.ENGINES, "elsewhere", Elsewhere())
    session = Session(small_plays_csv)
    local = session.model("lsa", factors=4)
    remote = session.model("lsa", factors=4, engine="elsewhere")
    assert (remote.engine, local.engine) == ("elsewhere", "local") and Elsewhere.calls == 1
    keys = {session.store.lookup("model", model_inputs(session.dataset, "lsa", ready.params,
                                                       ready.engine)).key
            for ready in (local, remote)}
    assert len(keys) == 2
    assert remote.similar(0, 5)[0].tolist() == local.similar(0, 5)[0].tolist()
    assert session.model("lsa", factors=4, engine="elsewhere").engine == "elsewhere"
    assert Elsewhere.calls == 1  # the second time from the cache
