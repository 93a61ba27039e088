"""Register the models of ``--bundle`` and ``--model-file`` and open the bundle's data.

Each external model gets a registry entry (a subclass of its model class: the bundle's
"als", or :mod:`tui_recs.models.external`'s classes for model files) and an engine whose
"training" reads the arrays. The engine's name carries the content's SHA-256 (the bundle
manifest's, the model file's), so that the model cache and its index are keyed by content:
a second start reads nothing of the bundle but its manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tui_recs.bundle.format import MANIFEST, BundleError
from tui_recs.errors import TuiRecsError
from tui_recs.models import registry
from tui_recs.models.base import Capabilities
from tui_recs.models.engine import ENGINES, Engine

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

    from tui_recs.bundle.reader import Bundle
    from tui_recs.cache import ArtifactStore
    from tui_recs.data.dataset import Dataset
    from tui_recs.external.files import ModelFile
    from tui_recs.models.base import FitCallback, Recommender

#: Bump when what is cached from a bundle (its Dataset) is derived differently.
BUNDLE_READER_VERSION = 1


@dataclass
class ExternalModel:
    """A registered external model: its registry name, the engine that reads its arrays
    (named by their content), and the hyperparameters it was trained with (as declared by its
    class: a bundle's manifest params; none for model files)."""

    name: str
    title: str
    engine: str
    params: dict[str, Any] = field(default_factory=dict)


class ReadArrays(Engine):
    """An engine that trains nothing: it reads the arrays a model learned elsewhere."""

    def __init__(self, name: str, title: str, read: Callable[["sp.csr_matrix"], dict]) -> None:
        self.name, self.title, self._read = name, title, read

    def train(self, model: "Recommender", user_items: "sp.csr_matrix",
              callback: "FitCallback | None" = None) -> dict[str, "np.ndarray"]:
        arrays = self._read(user_items)
        if callback is not None:
            callback(1, 0.0, None)
        return arrays


def _register(cls: type, engine: ReadArrays) -> None:
    registry.unregister(cls.name)  # a previous session's model of that name (tests)
    registry.register(cls)
    ENGINES[engine.name] = engine


# ------------------------------------------------------------------------------- bundles
class BundleSource:
    """A bundle folder: its manifest checked at once (sizes only), checksums and tables on
    first real use (the cache remembers what was read, keyed by the manifest's SHA-256)."""

    def __init__(self, path: str | Path) -> None:
        from tui_recs.bundle import open_bundle

        self.bundle: "Bundle" = open_bundle(path, verified=True)
        self._verified = False
        self._dataset: "Dataset | None" = None
        self._factors: "tuple[np.ndarray, np.ndarray] | None" = None

    def verified(self) -> "Bundle":
        """The bundle with every file's checksum verified (once)."""
        if not self._verified:
            from tui_recs.bundle import open_bundle

            again = open_bundle(self.bundle.path)
            if again.manifest_sha256 != self.bundle.manifest_sha256:
                raise BundleError("changed while it was open", self.bundle.path / MANIFEST)
            self._verified = True
        return self.bundle

    def factors(self) -> tuple["np.ndarray", "np.ndarray"]:
        """(item_factors, user_factors), read and checked once."""
        if self._factors is None:
            self._factors = self.verified().factors()
        return self._factors

    def checked_dataset(self) -> "Dataset":
        """The bundle's data read from its tables, every table checked first (the factors
        too: a bundle is refused whole, never half-opened)."""
        self.factors()
        return self.verified().dataset()

    def dataset(self, store: "ArtifactStore | None") -> "Dataset":
        """The bundle's data (once per source; see :func:`bundle_dataset`)."""
        if self._dataset is None:
            self._dataset = bundle_dataset(self, store)
        return self._dataset


def _dataset_inputs(bundle: "Bundle") -> dict[str, Any]:
    from tui_recs.data.dataset import STORAGE_VERSION

    return {"bundle": bundle.manifest_sha256, "reader_version": BUNDLE_READER_VERSION,
            "storage_version": STORAGE_VERSION}


def bundle_dataset(source: BundleSource, store: "ArtifactStore | None") -> "Dataset":
    """The bundle's listeners, artists and plays as a Dataset, from the cache when it has
    them (then nothing but the manifest is read), else read, checked and stored."""
    from tui_recs.data.dataset import Dataset

    if store is None:
        return source.checked_dataset()

    def build(directory: Path) -> dict[str, Any]:
        made.append(source.checked_dataset())
        made[0].save(directory)
        return {}

    made: list[Dataset] = []
    return store.get_or_create(
        "dataset", _dataset_inputs(source.bundle), build=build,
        load=lambda directory: Dataset.load_saved(directory, mmap=True),
        unstored=lambda: made[0] if made else source.checked_dataset())


def bundle_cached(path: str | Path, store: "ArtifactStore | None") -> bool:
    """Whether the bundle's data is in the cache (cheap: its manifest and one lookup); False
    for a bundle that does not open (the loader reports why)."""
    if store is None:
        return False
    try:
        raw = (Path(path).expanduser() / MANIFEST).read_bytes()
    except OSError:
        return False
    from tui_recs.data.dataset import STORAGE_VERSION

    inputs = {"bundle": hashlib.sha256(raw).hexdigest(), "reader_version": BUNDLE_READER_VERSION,
              "storage_version": STORAGE_VERSION}
    return store.lookup("dataset", inputs) is not None


def _bundle_model(source: BundleSource, name: str, primary: Callable[[], "Dataset"],
                  store: "ArtifactStore | None") -> ExternalModel:
    """Register the bundle's model as ``name``: its model class, titled "ALS (spark bundle)"."""
    from tui_recs.models.base import FactorModel

    bundle = source.bundle
    base = registry.model_class(bundle.model)
    if not issubclass(base, FactorModel):
        raise BundleError(f"names model {bundle.model!r}, which is not a factor model",
                          bundle.path / MANIFEST)
    from tui_recs.models.params import ParameterError, resolve

    try:
        params = resolve(base.PARAMS, bundle.params, bundle.model)
    except ParameterError as error:
        raise BundleError(f"params: {error}", bundle.path / MANIFEST) from None
    title = f"{base.title} ({bundle.engine} bundle)"
    cls = type(f"Bundle{base.__name__}", (base,), {
        "name": name, "title": title, "trains_in_child": False, "source": str(bundle.path),
        "capabilities": Capabilities(**{**vars(base.capabilities), "loss": False})})

    def read(user_items: "sp.csr_matrix") -> dict[str, "np.ndarray"]:
        items, users = source.factors()
        own = source.dataset(store)
        data = primary()
        if own is not data:  # a second bundle: its positions mapped onto the first's by id
            items, users = _mapped(own, data, items, users, bundle.path)
        arrays = {"item_factors": items, "user_factors": users}
        from tui_recs.models.als import ALS

        if issubclass(cls, ALS):  # ALS keeps the artists' total plays (BM25 of a fold-in)
            from tui_recs.models.weighting import artist_lengths

            arrays["lengths"] = artist_lengths(user_items)
        return arrays

    engine = ReadArrays(f"bundle:{bundle.manifest_sha256[:16]}", f"{bundle.engine} bundle", read)
    _register(cls, engine)
    return ExternalModel(name, title, engine.name, params)


def _mapped(own: "Dataset", data: "Dataset", items: "np.ndarray", users: "np.ndarray",
            where: Path) -> tuple["np.ndarray", "np.ndarray"]:
    """Factors of a second bundle reordered to the first bundle's positions, matched by the
    artists' and listeners' ids (a comparison needs the same artists and listeners)."""
    import numpy as np

    out = []
    for factors, keys, index, what in ((items, own.item_ids, data.item_index, "artists"),
                                       (users, own.user_ids, data.user_index, "listeners")):
        positions = np.array([index.get(key, -1) for key in keys.tolist()], dtype=np.int64)
        if len(positions) != len(index) or (positions < 0).any():
            raise BundleError(f"has other {what} than the bundle opened first ({len(keys):,} vs "
                              f"{len(index):,}): compare bundles of the same data", where)
        ordered = np.empty_like(factors)
        ordered[positions] = factors
        out.append(ordered)
    return out[0], out[1]


# ----------------------------------------------------------------------------- model files
def _file_model(model_file: "ModelFile", dataset: Callable[[], "Dataset"]) -> ExternalModel:
    """Register the model of ``--model-file`` under its kind ("implicit-als")."""
    from tui_recs.external.files import read_model_file
    from tui_recs.models.external import ExternalFactors, ExternalSimilarity

    base = ExternalSimilarity if model_file.similarity else ExternalFactors
    capabilities = base.capabilities
    if not model_file.has_users:
        capabilities = Capabilities(recommend=False, fold_in=False)
    title = f"{model_file.kind} from {model_file.path}"
    cls = type(f"File{base.__name__}", (base,), {
        "name": model_file.kind, "title": title, "source": str(model_file.path),
        "capabilities": capabilities})
    engine = ReadArrays(f"file:{_content_sha256(model_file.path)[:16]}", f"file {model_file.path}",
                        lambda user_items: read_model_file(model_file, dataset()))
    _register(cls, engine)
    return ExternalModel(model_file.kind, title, engine.name)


def _content_sha256(path: Path) -> str:
    """SHA-256 over a file, or over a folder's factor files (names and contents); computed
    once per process for files of unchanged size and modification time (the command line
    registers the model before the app's session does again)."""
    files = [path] if not path.is_dir() else [
        file for file in sorted(path.iterdir())
        if file.stem in ("item_factors", "user_factors") and file.is_file()]
    return _hash_files(tuple((file, file.stat().st_size, file.stat().st_mtime_ns)
                             for file in files))


@lru_cache(maxsize=8)
def _hash_files(files: tuple[tuple[Path, int, int], ...]) -> str:
    from tui_recs.bundle.writer import file_sha256

    if len(files) == 1:
        return file_sha256(files[0][0])
    digest = hashlib.sha256()
    for file, _, _ in files:
        digest.update(file.name.encode() + b"\0" + file_sha256(file).encode())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ together
def open_externals(bundles: Sequence[str | Path], model_file: str | Path | None,
                   dataset: Callable[[], "Dataset"], store: "ArtifactStore | None"
                   ) -> tuple[list[BundleSource], dict[str, ExternalModel]]:
    """Open ``bundles`` (the first is the data; later ones are compared with it) and
    ``model_file``, and register their models: "bundle", "bundle2", ... and the model file's
    kind. ``dataset()`` is the session's data. Returns the bundle sources and the models by
    name, in that order."""
    from tui_recs.external.files import inspect_model_file

    sources = [BundleSource(path) for path in bundles]
    models: dict[str, ExternalModel] = {}
    for number, source in enumerate(sources, start=1):
        name = "bundle" if number == 1 else f"bundle{number}"
        models[name] = _bundle_model(source, name, dataset, store)
    if model_file is not None:
        external = _file_model(inspect_model_file(model_file), dataset)
        if external.name in models:
            raise TuiRecsError(f"two external models named {external.name}")
        models[external.name] = external
    return sources, models
