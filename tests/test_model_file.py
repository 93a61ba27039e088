"""--model-file: implicit 0.7.3's saved models and plain factor files, opened against the data
they were trained on. Rankings equal implicit's own; bad files are one-line errors."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from externals import forget_external_models, one_line_error  # noqa: F401 (autouse fixture)
from tui_recs.session import Session

implicit = pytest.importorskip("implicit")  # the test extra installs implicit==0.7.3


@pytest.fixture(scope="module")
def saved(hetrec, tmp_path_factory):
    """hetrec's plays and implicit models trained on them, saved by ``model.save()``."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.cpu.lmf import LogisticMatrixFactorization
    from implicit.nearest_neighbours import CosineRecommender

    from tui_recs.data import load

    folder = tmp_path_factory.mktemp("implicit")
    dataset = load(hetrec)
    user_items = dataset.user_items.astype(np.float32).tocsr()
    models = {
        "implicit-als": AlternatingLeastSquares(factors=16, iterations=3, random_state=0),
        "implicit-bpr": BayesianPersonalizedRanking(factors=16, iterations=5, random_state=0),
        "implicit-lmf": LogisticMatrixFactorization(factors=16, iterations=3, random_state=0),
        "implicit-item-item": CosineRecommender(K=50),
    }
    for kind, model in models.items():
        model.fit(user_items, show_progress=False)
        model.save(folder / f"{kind}.npz")
    swapped = AlternatingLeastSquares(factors=8, iterations=1, random_state=0)
    swapped.fit(user_items.T.tocsr(), show_progress=False)
    swapped.save(folder / "swapped.npz")
    return dataset, models, folder


def session_for(hetrec, path, tmp_path) -> Session:
    return Session(hetrec, cache_dir=tmp_path / "cache", model_file=path)


def same_ranking(ours: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray]):
    """Equal lists, up to the order of (near-)ties, which float sums may break either way (a
    tie at the end of the list may bring in another artist of equal score)."""
    our_ids, our_scores = ours
    their_ids, their_scores = np.asarray(theirs[0]), np.asarray(theirs[1], dtype=np.float64)
    assert len(our_ids) == len(their_ids)
    np.testing.assert_allclose(our_scores, their_scores, rtol=1e-4, atol=1e-5)
    for rank, (ours_id, theirs_id) in enumerate(zip(our_ids, their_ids)):
        if ours_id != theirs_id:  # only a tie may swap places
            tied = np.isclose(their_scores, their_scores[rank], rtol=1e-4, atol=1e-5)
            assert ours_id in their_ids[tied] or (tied.sum() > 1 and tied[-1]), (
                rank, ours_id, theirs_id)


@pytest.mark.parametrize("kind", ["implicit-als", "implicit-bpr", "implicit-lmf",
                                  "implicit-item-item"])
def test_related_and_recommendations_equal_implicits_own(saved, hetrec, tmp_path, kind):
    dataset, models, folder = saved
    model = models[kind]
    session = session_for(hetrec, folder / f"{kind}.npz", tmp_path)
    assert list(session.external_models) == [kind]
    ready = session.model(kind)
    assert ready.model.title == f"{kind} from {folder / f'{kind}.npz'}"
    user_items = dataset.user_items.astype(np.float32).tocsr()
    for item in (session.artist("the beatles"), 0, 1234):
        their_ids, their_scores = model.similar_items(item, N=11)
        keep = their_ids != item  # implicit lists the artist itself first
        n = int(keep.sum()) if kind == "implicit-item-item" else 10
        ours = session.related(ready, item, n, min_listeners=0)[:2]
        same_ranking(ours, (their_ids[keep][:n], their_scores[keep][:n]))
    for user in (0, 5, 1000):
        their_ids, their_scores = model.recommend(user, user_items[user], N=10,
                                                  filter_already_liked_items=True)
        same_ranking(session.recommend(ready, user, len(their_ids), min_listeners=0)[:2],
                     (their_ids, their_scores))


def test_the_model_is_cached_compared_and_evaluated_as_optimistic(saved, hetrec, tmp_path,
                                                                   capsys):
    from tui_recs.cli import main

    _, _, folder = saved
    path = folder / "implicit-als.npz"
    argv = ["--data", str(hetrec), "--cache-dir", str(tmp_path / "cache"), "--model-file",
            str(path)]
    assert main([*argv, "compare", "the beatles", "--models", "implicit-als,lsa", "-n", "5",
                 "--json"]) == 0
    assert "implicit-als" in capsys.readouterr().out
    session = session_for(hetrec, path, tmp_path)
    assert session.store.lookup("model", _inputs(session, "implicit-als")) is not None
    rows, _ = session.evaluate({"implicit-als": {}}, 10)
    assert [row["model"] for row in rows] == ["implicit-als (optimistic: trained on all plays)",
                                              "popularity"]
    assert rows[0]["fit_seconds"] == 0.0 and 0 < rows[0]["ndcg"] < 1  # measured, not refitted


def _inputs(session: Session, name: str) -> dict:
    from tui_recs.pipeline import model_inputs

    return model_inputs(session.dataset, name, {}, session.external_models[name].engine)


def test_a_new_listener_is_refused_not_answered_as_another(saved, hetrec, tmp_path, capsys):
    _, _, folder = saved
    from tui_recs.cli import main

    assert main(["--data", str(hetrec), "--cache-dir", str(tmp_path / "c"), "--model-file",
                 str(folder / "implicit-als.npz"), "recommend", "--like", "the beatles"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "needs a model that folds in a new listener" in lines[0], lines
    assert "implicit-als cannot" in lines[0] and "choose from als" in lines[0]


@pytest.mark.slow
async def test_the_app_answers_with_the_model_file(saved, hetrec, tmp_path):
    from tui_recs.app.main import TuiRecsApp
    from tui_recs.app.state import model_title

    _, _, folder = saved
    path = folder / "implicit-item-item.npz"
    app = TuiRecsApp(hetrec, cache_dir=tmp_path / "cache", config_path=tmp_path / "c.json",
                     cursor_blink=False, seed=0, model_file=path)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(600):
            if "implicit-item-item" in app.models:
                break
            await pilot.pause(0.1)
        assert app.preferred == "implicit-item-item"
        assert model_title(app.preferred) == f"implicit-item-item from {path}"
        assert app.answering_model()[0] is app.models["implicit-item-item"]


def test_a_factor_folder_matched_by_artist_id_or_position(saved, hetrec, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset, models, _ = saved
    als = models["implicit-als"]
    folder = tmp_path / "factors"
    folder.mkdir()
    order = np.random.default_rng(0).permutation(dataset.n_items)  # rows in another order
    pq.write_table(pa.table({
        "artist_id": pa.array([str(key) for key in dataset.item_ids[order]]),
        "factors": pa.array(list(als.item_factors[order]), pa.list_(pa.float32()))}),
        folder / "item_factors.parquet")
    np.save(folder / "user_factors.npy", als.user_factors)
    session = session_for(hetrec, folder, tmp_path)
    ready = session.model("factors")
    beatles = session.artist("the beatles")
    ids, scores = als.similar_items(beatles, N=11)
    same_ranking(session.related(ready, beatles, 10, min_listeners=0)[:2], (ids[1:], scores[1:]))
    (folder / "user_factors.npy").unlink()
    line = one_line_error(capsys, ["--data", str(hetrec), "--cache-dir", str(tmp_path / "c2"),
                                   "--model-file", str(folder), "recommend", "2"])
    assert "cannot recommend" in line


def test_bad_files_are_one_line_errors(saved, hetrec, tmp_path, capsys):
    dataset, models, folder = saved
    argv = ["--data", str(hetrec), "--cache-dir", str(tmp_path / "cache"), "--model-file"]
    good = folder / "implicit-als.npz"

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "not a readable .npz" in one_line_error(capsys, [*argv, str(truncated), "info"])

    # An object array: unpickling it would create `marker`; it must never be loaded.
    marker = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = _Touch(marker)
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as archive:
        for key, array in (("item_factors", evil), ("user_factors", evil)):
            with archive.open(f"{key}.npy", "w") as handle:
                np.lib.format.write_array(handle, array, allow_pickle=True)
    line = one_line_error(capsys, [*argv, str(tmp_path / "pickled.npz"), "related", "beatles"])
    assert "object array" in line and not marker.exists()

    neither = tmp_path / "neither.npz"
    np.savez(neither, item_factors=np.ones((10, 4), np.float32),
             user_factors=np.ones((7, 4), np.float32))
    line = one_line_error(capsys, [*argv, str(neither), "related", "beatles"])
    assert "has 10 artists and 7 listeners; the data has" in line

    nan = tmp_path / "nan.npz"
    item_factors = models["implicit-als"].item_factors.copy()
    item_factors[3, 2] = np.nan
    np.savez(nan, item_factors=item_factors, user_factors=models["implicit-als"].user_factors,
             use_cg=True)
    assert "NaN" in one_line_error(capsys, [*argv, str(nan), "related", "beatles"])

    line = one_line_error(capsys, [*argv, str(folder / "swapped.npz"), "related", "beatles"])
    assert "users and items are swapped" in line


class _Touch:
    """Pickles as a call that creates a file: proof of whether a pickle was ever loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_never_pickle(tmp_path):
    """The proof above works: loading the object array with pickle would create the file."""
    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(_Touch(marker)))
    assert marker.exists()
