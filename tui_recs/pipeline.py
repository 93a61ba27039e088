"""One call to get a ready model: from the cache, or built (weight → fit → index → store).

Both the CLI and the UI call :func:`get_model`; it reports progress stage by stage through a
callback and honours a cancel event between (and, for ALS, within) stages.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np

from tui_recs.cache.validate import check_rows
from tui_recs.errors import TuiRecsError
from tui_recs.index import (INDEX_FORMAT_VERSION, MIN_ITEMS_FOR_INDEX, FactorIndex,
                            RecommendMode, SimilarIndex, build_similar_index,
                            choose_recommend_mode, load_similar_index, save_similar_index)
from tui_recs.models import registry
from tui_recs.models.base import FactorModel, history_row
from tui_recs.models.engine import DEFAULT_ENGINE
from tui_recs.models.engine import engine as engine_named
from tui_recs.models.params import check_fits as check_shape
from tui_recs.models.params import key_params, resolve

if TYPE_CHECKING:
    from tui_recs.cache import ArtifactStore
    from tui_recs.data.dataset import Dataset
    from tui_recs.models.base import Recommender

#: Bump when the stored layout of models or indexes changes.
MODEL_FORMAT_VERSION = 1
RECOMMEND_INDEX_FILE = "recommend.ann"
#: ``build_index`` value: attach the indexes the cache holds, build none (exact search answers
#: in a few ms even at 290K artists; a first run answers without waiting for an index).
INDEX_IF_CACHED = "if-cached"


class Cancelled(TuiRecsError):
    """The caller cancelled a long operation; nothing half-done was stored."""


class CancelEvent(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Stage:
    """A progress report: which stage, how far through it (0..1), and a line for people."""

    name: str
    fraction: float
    message: str
    loss: float | None = None


Progress = Callable[[Stage], None]


@dataclass
class ReadyModel:
    """A trained model with its dataset, indexes and the facts about how it was built."""

    name: str
    model: "Recommender"
    dataset: "Dataset"
    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    #: The engine that trained it (see :mod:`tui_recs.models.engine`).
    engine: str = DEFAULT_ENGINE
    similar_index: SimilarIndex | None = None
    recommend_index: FactorIndex | None = None
    recommend_mode: RecommendMode | None = None

    @property
    def similar_mode(self) -> str:
        """How related artists are found: "exact", "annoy" or "cells"."""
        return self.similar_index.stats.kind if self.similar_index is not None else "exact"

    def describe_similar(self) -> str:
        """One line: how related artists are found, with the index's measured recall."""
        if self.similar_index is None:
            return (f"exact search ({self.dataset.n_items:,} artists; an index is built from "
                    f"{MIN_ITEMS_FOR_INDEX:,})")
        return self.similar_index.stats.describe()

    def similar(self, item: int, n: int = 10, exact: bool = False,
                exclude: tuple[int, ...] = (), min_listeners: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosines) of the artists most like ``item`` (itself and ``exclude`` left out,
        and artists with fewer than ``min_listeners`` listeners)."""
        def fetch(count: int) -> tuple[np.ndarray, np.ndarray]:
            if self.similar_index is None or exact:
                ids, scores = self.model.similar_items(item, count + len(exclude))
                keep = ~np.isin(ids, exclude)
                return ids[keep][:count], scores[keep][:count]
            query = self.model.normalized_item_factors[item]
            return self.similar_index.search(query, count, (item, *exclude))

        return self._with_listeners(fetch, n, min_listeners)

    def recommend(self, user: int, n: int = 10, exact: bool = False,
                  filter_already_listened: bool = True, min_listeners: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the best artists for listener row ``user`` of the dataset, those
        with fewer than ``min_listeners`` listeners left out."""
        user_items = self.dataset.user_items

        def fetch(count: int) -> tuple[np.ndarray, np.ndarray]:
            if self.recommend_index is None or exact:
                return self.model.recommend(user, user_items, count, filter_already_listened)
            vector = self.model.user_vectors(np.array([user]), user_items)[0]
            heard = user_items.indices[user_items.indptr[user]:user_items.indptr[user + 1]]
            return self.recommend_index.search(vector, count,
                                               heard if filter_already_listened else ())

        return self._with_listeners(fetch, n, min_listeners)

    def _with_listeners(self, fetch: Callable[[int], tuple[np.ndarray, np.ndarray]], n: int,
                        min_listeners: int) -> tuple[np.ndarray, np.ndarray]:
        """The first n of ``fetch(count)``'s ranked (ids, scores) whose artists have at least
        ``min_listeners`` listeners: the filter applies before the cut, and ``count`` grows
        (from n over the share of artists that pass, then fourfold) until n remain or the
        answer runs out (fewer than asked come back)."""
        if min_listeners <= 0:
            return fetch(n)
        passes = self.dataset.item_listeners >= min_listeners
        n_items = len(passes)
        count = min(n_items, int(np.ceil(n / max(passes.mean(), 1 / n_items))) + n)
        while True:
            ids, scores = fetch(count)
            keep = passes[ids]
            if keep.sum() >= n or len(ids) < count or count >= n_items:
                return ids[keep][:n], scores[keep][:n]
            count = min(n_items, count * 4)

    def recommend_history(self, items: Sequence[int], n: int = 10,
                          plays: Sequence[float] | None = None, min_listeners: int = 0
                          ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the best artists for a listener who is not in the data and played
        artist positions ``items`` (``plays`` each; default the dataset's typical plays per
        artist). ALS folds the listener in exactly, LSA projects them; always exact scoring,
        the picked artists left out, and artists with fewer than ``min_listeners`` listeners."""
        if plays is None:
            plays = [self.dataset.typical_plays] * len(items)
        if len(plays) != len(items):
            raise TuiRecsError(f"{len(items)} artists but {len(plays)} play counts")
        row = history_row(list(zip(items, plays)), self.dataset.n_items)
        return self._with_listeners(lambda count: self.model.recommend_history(row, count), n,
                                    min_listeners)


def model_inputs(dataset: "Dataset", name: str, params: dict[str, Any],
                 engine: str = DEFAULT_ENGINE) -> dict[str, Any]:
    """Everything that determines a trained model: the cache key's inputs (the parameters
    declared as changing the model, not those of speed or reporting; the engine that
    trains it)."""
    return {"dataset": dataset.fingerprint, "model": name, "version": MODEL_FORMAT_VERSION,
            "params": key_params(registry.model_class(name).PARAMS, params), "engine": engine}


def resolved_params(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Every hyperparameter of model ``name``: ``params`` over the declared defaults, checked
    (a ParameterError names a bad one)."""
    return resolve(registry.model_class(name).PARAMS, params or {}, name)


def check_fits(dataset: "Dataset", name: str, params: dict[str, Any]) -> None:
    """A ParameterError when ``params`` cannot work on ``dataset``'s shape (LSA factors at
    least the smaller side), before any training."""
    check_shape(registry.model_class(name).PARAMS, params, name, dataset.n_users,
                dataset.n_items)


def is_cached(dataset: "Dataset", name: str, params: dict[str, Any] | None,
              store: "ArtifactStore", engine: str = DEFAULT_ENGINE) -> bool:
    """Whether ``store`` holds model ``name`` with ``params`` for ``dataset``."""
    inputs = model_inputs(dataset, name, resolved_params(name, params), engine)
    return store.lookup("model", inputs) is not None


def get_model(dataset: "Dataset", name: str, params: dict[str, Any] | None = None, *,
              store: "ArtifactStore | None" = None, progress: Progress | None = None,
              cancel: CancelEvent | None = None, build_index: bool | str | None = None,
              engine: str = DEFAULT_ENGINE) -> ReadyModel:
    """A trained, indexed model for ``dataset``: loaded from ``store`` or built and stored.

    Args:
        dataset: the data (users × items).
        name: a registered model (see :mod:`tui_recs.models.registry`).
        params: hyperparameters (the declared defaults filled in).
        store: the artifact cache, or None to build in memory only.
        progress: called with a :class:`Stage` as work advances.
        cancel: checked between stages and ALS iterations; when set, :class:`Cancelled`.
        build_index: force (True) or skip (False) the indexes; ``INDEX_IF_CACHED``: use
            them if the cache holds them, never build them; default: build them when the
            catalogue has at least ``MIN_ITEMS_FOR_INDEX`` artists.
        engine: the engine that trains it (part of the cache key).
    """
    report = progress or (lambda stage: None)
    params = resolved_params(name, params)
    check_fits(dataset, name, params)
    trainer = engine_named(engine)
    model = registry.create(name, **params)
    inputs = model_inputs(dataset, name, params, engine)
    trained: dict[str, np.ndarray] = {}
    _check(cancel)

    def fit(directory: Path | None) -> dict[str, Any]:
        report(Stage("fit", 0.0, f"training {name} on {dataset.n_users:,} listeners × "
                                 f"{dataset.n_items:,} artists"))
        started = time.perf_counter()
        losses: list[float] = []
        curves: dict[str, list[float]] = {}  # per-epoch measures, by name (validation_rmse...)
        total = getattr(model, "iterations", 1) or 1

        def on_iteration(iteration: int, seconds: float, loss: float | None,
                         measures: dict[str, float] | None = None) -> bool:
            if loss is not None:
                losses.append(float(loss))
            for key, value in (measures or {}).items():
                curves.setdefault(key, []).append(float(value))
            loss_text = f", loss {loss:.5g}" if loss is not None else ""
            report(Stage("fit", iteration / total, f"{name} iteration {iteration}/{total} "
                                                   f"({seconds:.2f} s{loss_text})", loss))
            return not (cancel is not None and cancel.is_set())

        trained.update(trainer.train(model, dataset.user_items, callback=on_iteration))
        _check(cancel)
        info = {"fit_seconds": time.perf_counter() - started, "loss_history": losses,
                "curves": curves, "params": params, "engine": engine}
        if directory is not None:
            for key, array in trained.items():
                np.save(directory / f"{key}.npy", array, allow_pickle=False)
        return info

    entry_info: dict[str, Any] = {}

    def in_memory() -> "Recommender":
        """The model trained here (trained now if it was not), without the cache."""
        if not trained:
            entry_info.update(fit(None))
        # What an engine returns is all a model is, whichever engine trained it.
        return registry.model_class(name).from_arrays(params, trained)

    if store is None:
        fitted = in_memory()
        info = entry_info
    else:
        def build(directory: Path) -> dict[str, Any]:
            entry_info.update(fit(directory))
            return entry_info

        def load(directory: Path):
            arrays = {path.stem: np.load(path, mmap_mode="r") for path in directory.glob("*.npy")}
            check_rows(arrays, {"item_factors": dataset.n_items, "scores": dataset.n_items,
                                "user_factors": dataset.n_users})
            return registry.model_class(name).from_arrays(params, arrays)

        report(Stage("fit", 0.0, f"looking for a cached {name} model"))
        fitted = store.get_or_create("model", inputs, build=build, load=load,
                                     unstored=in_memory)
        entry = store.lookup("model", inputs)
        info = dict(entry.manifest.get("extra", entry_info)) if entry is not None else entry_info
        info["from_cache"] = not entry_info  # nothing was trained in this call
    ready = ReadyModel(name, fitted, dataset, params, info, engine=engine)
    if not isinstance(fitted, FactorModel):
        return ready
    if build_index == INDEX_IF_CACHED:
        build_index = (store is not None and dataset.n_items >= MIN_ITEMS_FOR_INDEX
                       and store.lookup("index", index_inputs(inputs)) is not None)
    if build_index is None:
        build_index = dataset.n_items >= MIN_ITEMS_FOR_INDEX
    if build_index:
        _check(cancel)
        _attach_indexes(ready, inputs, store, report)
    return ready


def _attach_indexes(ready: ReadyModel, inputs: dict[str, Any], store: "ArtifactStore | None",
                    report: Progress) -> None:
    """Build (or load) the related-artists index and decide how recommendations are served."""
    model = ready.model
    normalized = model.normalized_item_factors
    item_factors = np.asarray(model.item_factors)

    def on_progress(fraction: float, message: str) -> None:
        report(Stage("index", fraction, message))

    computed: dict[str, Any] = {}

    def in_memory() -> dict[str, Any]:
        """Build the indexes into ``ready`` (once); what the manifest records of them."""
        if computed:
            return computed
        similar = build_similar_index(normalized, progress=on_progress)
        sample = np.random.default_rng(0).choice(ready.dataset.n_users,
                                                 size=min(200, ready.dataset.n_users), replace=False)
        user_vectors = model.user_vectors(sample, ready.dataset.user_items)
        mode, recommend = choose_recommend_mode(item_factors, user_vectors, progress=on_progress)
        ready.similar_index, ready.recommend_index, ready.recommend_mode = similar, recommend, mode
        computed.update({"similar": asdict(similar.stats), "recommend_mode": asdict(mode),
                         "recommend": asdict(recommend.stats) if recommend is not None else None})
        return computed

    def build(directory: Path) -> dict[str, Any]:
        info = in_memory()
        save_similar_index(ready.similar_index, directory)
        if ready.recommend_index is not None:
            ready.recommend_index.save(directory / RECOMMEND_INDEX_FILE)
        return info

    if store is None:
        ready.info["index"] = in_memory()
        return

    def load(directory: Path) -> dict[str, Any]:
        manifest = store.lookup("index", index_inputs(inputs))
        info = manifest.manifest["extra"] if manifest is not None else {}
        if ready.similar_index is None:  # loaded from the cache rather than just built
            ready.similar_index = load_similar_index(directory, normalized, info["similar"])
            ready.recommend_mode = RecommendMode(**info["recommend_mode"])
            if info.get("recommend"):
                ready.recommend_index = FactorIndex.load(directory / RECOMMEND_INDEX_FILE,
                                                         item_factors, info["recommend"])
        return info

    ready.info["index"] = store.get_or_create("index", index_inputs(inputs), build=build,
                                              load=load, unstored=in_memory)


def index_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """The cache key's inputs of the indexes of the model whose inputs are ``inputs``."""
    return {"model": inputs, "index_version": MODEL_FORMAT_VERSION,
            "index_format": INDEX_FORMAT_VERSION}


def needs_index(ready: ReadyModel) -> bool:
    """Whether ``ready`` answers exactly only because its indexes are not built yet."""
    return (isinstance(ready.model, FactorModel) and ready.similar_index is None
            and ready.dataset.n_items >= MIN_ITEMS_FOR_INDEX)


def adopt_indexes(ready: ReadyModel, indexed: ReadyModel) -> None:
    """Give ``ready`` the indexes of ``indexed`` (the same model, loaded with them): queries
    made meanwhile were answered exactly; each attribute switches in one assignment."""
    ready.recommend_mode = indexed.recommend_mode
    ready.recommend_index = indexed.recommend_index
    ready.info["index"] = indexed.info.get("index")
    ready.similar_index = indexed.similar_index


def _check(cancel: CancelEvent | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled; nothing was stored")
