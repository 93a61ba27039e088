"""One headless session under both front ends: the command line and the app are thin faces
over it, so that nothing one of them answers is computed by a second code path in the other.

A :class:`Session` is built once from the settings (data, format, cache); the cache root is
resolved once, here, and the one artifact store is built from it. It opens the dataset on
first use, and answers from the registered models by name. No textual here (see the import
contracts in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tui_recs.cache import ArtifactStore, resolve_cache_dir
from tui_recs.defaults import MIN_LISTENERS
from tui_recs.errors import TuiRecsError
from tui_recs.models.engine import DEFAULT_ENGINE

if TYPE_CHECKING:
    import numpy as np

    from tui_recs.compare import Comparison
    from tui_recs.data.dataset import Dataset
    from tui_recs.external import ExternalModel
    from tui_recs.external.sources import BundleSource
    from tui_recs.pipeline import CancelEvent, Progress, ReadyModel
    from tui_recs.search import IdIndex, NameIndex


class Session:
    """The dataset, the artifact store, the name and listener indexes, and the models.

    Args:
        data, format, encoding: as ``--data``, ``--format`` and ``--encoding`` (None:
            UTF-8, or UTF-16/32 by a byte-order mark); ``data`` None is the built-in demo data
            (``demo_options`` go to its generator).
        cache_dir, use_cache: as ``--cache-dir`` and ``--no-cache``.
        dataset_factory: builds the dataset instead (tests pass a small demo dataset).
        bundles, model_file: as ``--bundle`` (the first bundle is the data then) and
            ``--model-file``: models trained elsewhere (see :attr:`external_models`).
    """

    def __init__(self, data: str | Path | None = None, format: str = "auto",
                 cache_dir: str | Path | None = None, use_cache: bool = True, *,
                 encoding: str | None = None,
                 demo_options: Mapping[str, Any] | None = None,
                 dataset_factory: Callable[[], "Dataset"] | None = None,
                 bundles: Sequence[str | Path] = (),
                 model_file: str | Path | None = None) -> None:
        if bundles and (data is not None or dataset_factory is not None):
            raise TuiRecsError("a bundle brings its own data: give --bundle or --data, not both")
        self.bundles = [Path(path) for path in bundles]
        self.model_file = model_file
        self._externals: tuple[list[BundleSource], dict[str, ExternalModel]] | None = None
        self.data = data
        self.format = format
        self.encoding = encoding
        self.demo_options = dict(demo_options or {}) if data is None else {}
        self.dataset_factory = dataset_factory
        #: The cache directory, resolved once (None: no cache).
        self.cache_root: Path | None = resolve_cache_dir(cache_dir) if use_cache else None
        self.store: ArtifactStore | None = (ArtifactStore(self.cache_root)
                                            if self.cache_root is not None else None)
        self._dataset: Dataset | None = None
        self._indexes: tuple[NameIndex, IdIndex] | None = None

    # -------------------------------------------------------------------------- the data
    @property
    def dataset(self) -> "Dataset":
        """The dataset, opened (through the cache) on first use."""
        if self._dataset is None:
            if self.bundles:
                self._dataset = self._open_externals()[0][0].dataset(self.store)
            elif self.dataset_factory is not None:
                self._dataset = self.dataset_factory()
            else:
                from tui_recs.data.store import open_dataset

                options = dict(self.demo_options)
                if self.encoding is not None:
                    options["encoding"] = self.encoding
                self._dataset = open_dataset(self.data, format=self.format,
                                             cache_dir=self.cache_root,
                                             use_cache=self.store is not None, **options)
        return self._dataset

    # ------------------------------------------------------------- models trained elsewhere
    def _open_externals(self) -> tuple[list["BundleSource"], dict[str, "ExternalModel"]]:
        if self._externals is None:
            from tui_recs.external import open_externals  # pyarrow, only with those options

            self._externals = open_externals(self.bundles, self.model_file,
                                             lambda: self.dataset, self.store)
        return self._externals

    @property
    def external_models(self) -> dict[str, "ExternalModel"]:
        """The models of ``bundles`` and ``model_file`` by registry name ("bundle",
        "bundle2", "implicit-als", ...), registered on first use; empty without them."""
        if not self.bundles and self.model_file is None:
            return {}
        return self._open_externals()[1]

    def indexes(self) -> tuple["NameIndex", "IdIndex"]:
        """The artist-name and listener-id indexes (read from the cache when it has them)."""
        if self._indexes is None:
            from tui_recs.search import name_indexes  # numpy: not for `cache` commands

            self._indexes = name_indexes(self.dataset, self.store)
        return self._indexes

    def artist(self, text: str) -> int:
        """The artist position a loosely typed name refers to (errors list candidates)."""
        return self.indexes()[0].resolve(text)

    def user(self, text: str) -> int:
        """The listener row of a dataset id (an unknown id suggests a few real ones)."""
        row = self.dataset.user_index.get(text.strip())
        if row is None:
            row = self.indexes()[1].resolve(text, self.dataset.source)
        return row

    def listener_history(self, user: int, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(artist positions, plays) of listener row ``user``, most played first (ties in
        artist order), at most ``n`` of them."""
        import numpy as np  # ~70 ms of import: the command line parses, the app paints first

        row = self.dataset.user_items[user]
        order = (-row.data).argsort(kind="stable")[:n]
        return row.indices[order].astype(np.int64), row.data[order].astype(np.float64)

    # ------------------------------------------------------------------------ the models
    def model(self, name: str, *, progress: "Progress | None" = None,
              cancel: "CancelEvent | None" = None, build_index: bool | str | None = None,
              isolated: bool = False, engine: str = DEFAULT_ENGINE,
              **overrides: Any) -> "ReadyModel":
        """Model ``name`` trained by ``engine`` on the dataset with ``overrides`` of its
        declared defaults: from the cache, or trained (and stored). ``isolated``: train a
        model that declares ``trains_in_child`` in a child process (the app's UI thread stays
        responsive). An external model (:attr:`external_models`) is read, never trained:
        hyperparameters other than its own are refused."""
        external = self.external_models.get(name)
        if external is not None:
            changed = sorted(key for key, value in overrides.items()
                             if key in external.params and external.params[key] != value
                             or key not in external.params and value is not None)
            if changed:
                raise TuiRecsError(f"{external.title} was trained elsewhere: its "
                                   f"hyperparameters ({', '.join(changed)}) cannot change "
                                   "(they apply to models trained here)")
            from tui_recs.pipeline import get_model  # numpy and annoy, as below

            return get_model(self.dataset, name, external.params, store=self.store,
                             progress=progress, cancel=cancel, build_index=build_index,
                             engine=external.engine)
        if isolated:
            from tui_recs.isolated import get_model_isolated  # only for the app

            return get_model_isolated(self.dataset, name, overrides, store=self.store,
                                      progress=progress, cancel=cancel, engine=engine)
        from tui_recs.pipeline import get_model  # numpy and annoy: not for `cache` commands

        return get_model(self.dataset, name, overrides, store=self.store, progress=progress,
                         cancel=cancel, build_index=build_index, engine=engine)

    def evaluate(self, params: Mapping[str, Mapping[str, Any]], k: int = 10, *,
                 split: str = "holdout", test_fraction: float = 0.2, leave_out: int = 1,
                 seed: int = 0, isolated: bool = False, cancel: "CancelEvent | None" = None,
                 engine: str = DEFAULT_ENGINE) -> tuple[list[dict[str, Any]], str]:
        """The evaluation table (rows, split description) of models ``params`` (name ->
        hyperparameter overrides) on a seeded split, the popularity baseline included;
        ``isolated``: computed in a child process (cancellable there); ``engine`` trains the
        models (not in a child process).

        External models are not refitted: they are measured as they are on the same split,
        and their rows say that their scores are optimistic (they learned from the held-out
        plays too, as far as tui-recs can tell)."""
        external = [name for name in params if name in self.external_models]
        local = {name: dict(values) for name, values in params.items() if name not in external}
        if isolated and engine == DEFAULT_ENGINE:
            from tui_recs.isolated import evaluate_isolated  # only for the app

            rows, description = evaluate_isolated(
                self.dataset, local, k, seed=seed, split=split, test_fraction=test_fraction,
                leave_out=leave_out, cancel=cancel)
            chosen = None
        else:
            from tui_recs.evaluation import evaluate_registered, split_plays  # numpy, as above

            chosen = split_plays(self.dataset.user_items, split, test_fraction, leave_out, seed)
            rows, description = (evaluate_registered(local, chosen, k, engine=engine),
                                 chosen.description)
        if external:
            from tui_recs.evaluation import BASELINE, evaluate, split_plays

            if chosen is None:  # the same seeded split the child used
                chosen = split_plays(self.dataset.user_items, split, test_fraction, leave_out,
                                     seed)
            measured = []
            for name in external:
                row = evaluate(self.model(name, cancel=cancel).model, chosen, k, fit=False)
                row["model"] = f"{name} (optimistic: trained on all plays)"
                measured.append(row)
            at = next((i for i, row in enumerate(rows) if row["model"] == BASELINE.name),
                      len(rows))
            rows[at:at] = measured
        return rows, description

    def related(self, ready: "ReadyModel", item: int, n: int = 10, exact: bool = False,
                min_listeners: int = MIN_LISTENERS) -> tuple["np.ndarray", "np.ndarray", str]:
        """(ids, similarities, how they were found) of the n artists most like ``item`` with
        at least ``min_listeners`` listeners."""
        ids, scores = ready.similar(item, n, exact=exact, min_listeners=min_listeners)
        return ids, scores, "exact" if exact else ready.similar_mode

    def recommend(self, ready: "ReadyModel", user: int, n: int = 10, exact: bool = False,
                  min_listeners: int = MIN_LISTENERS) -> tuple["np.ndarray", "np.ndarray", str]:
        """(ids, scores, how they were found) of the n best new artists for listener row
        ``user`` with at least ``min_listeners`` listeners."""
        if not ready.model.capabilities.recommend:
            raise TuiRecsError(f"{ready.model.title} cannot recommend: it has no listener "
                               "factors (ask it for related artists)")
        ids, scores = ready.recommend(user, n, exact=exact, min_listeners=min_listeners)
        mode = "exact" if exact or ready.recommend_mode is None else ready.recommend_mode.mode
        return ids, scores, mode

    def compare(self, left: "ReadyModel", right: "ReadyModel", *, artist: int | None = None,
                user: int | None = None, n: int = 10, min_listeners: int = MIN_LISTENERS
                ) -> tuple["Comparison", tuple[np.ndarray, np.ndarray],
                           tuple[np.ndarray, np.ndarray]]:
        """Two models' related artists of ``artist`` (or recommendations for listener row
        ``user``) side by side, artists with fewer than ``min_listeners`` listeners left out:
        (comparison, left (ids, scores), right (ids, scores))."""
        from tui_recs.compare import compare_rankings  # numpy, as above

        if (artist is None) == (user is None):
            raise TuiRecsError("compare an artist or a listener (one of them)")
        if artist is not None:
            left_answer, right_answer = (model.similar(artist, n, min_listeners=min_listeners)
                                         for model in (left, right))
        else:
            left_answer, right_answer = (model.recommend(user, n, min_listeners=min_listeners)
                                         for model in (left, right))
        return compare_rankings(left_answer[0], right_answer[0]), left_answer, right_answer
