"""Warm loading: a parsed Dataset is kept in the artifact cache and reused while its source
file is unchanged (same size, modification time and sampled content hash); the generated
demo data is kept the same way, keyed by its options and the generator's version."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from tui_recs.cache import ArtifactStore, resolve_cache_dir
from tui_recs.data.dataset import STORAGE_VERSION, Dataset
from tui_recs.data.loaders import detect_format, load
from tui_recs.data.source import check_source
from tui_recs.errors import DataError

#: Bump a format's version when its loader's output changes for the same input file (per
#: format, so that a change to one loader keeps the others' large caches valid).
LOADER_VERSIONS = {"lastfm-360k": 1, "hetrec-2k": 2, "csv": 1}  # hetrec 2: artists' urls
#: Bytes hashed from each of the start, middle and end of a source file.
SAMPLE_BYTES = 1 << 20


def source_signature(path: Path) -> dict[str, Any]:
    """Identity of a source file or folder: size, mtime (ns) and a hash of three 1 MiB samples
    of each file. Cheap at any size; changes whenever the content plausibly changed."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    signature: dict[str, Any] = {"path": str(path.resolve()), "files": []}
    for file in files:
        stat = file.stat()
        digest = hashlib.blake2b(digest_size=8)
        with file.open("rb") as handle:
            for offset in sorted({0, max(0, stat.st_size // 2 - SAMPLE_BYTES // 2),
                                  max(0, stat.st_size - SAMPLE_BYTES)}):
                handle.seek(offset)
                digest.update(handle.read(SAMPLE_BYTES))
        signature["files"].append([file.name, stat.st_size, stat.st_mtime_ns, digest.hexdigest()])
    return signature


def open_dataset(path: str | Path | None = None, format: str = "auto",
                 cache_dir: str | Path | None = None, use_cache: bool = True,
                 **options: Any) -> Dataset:
    """The dataset the CLI and the UI work on: the file or folder at ``path``, or the built-in
    demo data when ``path`` is None (``options`` then go to the generator), via the cache."""
    if path is not None:
        return load_cached(path, format=format, cache_dir=cache_dir, use_cache=use_cache, **options)
    from tui_recs.data.synthetic import generate  # the demo generator (~14 ms): demo data only
    if not use_cache:
        return generate(**options)
    return _through_cache(cache_dir, _cache_inputs(None, format, options),
                          lambda: generate(**options))


def load_cached(path: str | Path, format: str = "auto", cache_dir: str | Path | None = None,
                use_cache: bool = True, **options: Any) -> Dataset:
    """:func:`tui_recs.data.load`, through the artifact cache.

    The first load parses the file and stores the Dataset as binary arrays; later loads of the
    unchanged file read those arrays instead (memory-mapped matrix), typically 30-100x faster.
    """
    path = _existing(path)
    if not use_cache:
        return load(path, format=format, **options)
    inputs = _cache_inputs(path, format, options)
    return _through_cache(cache_dir, inputs,
                          lambda: load(path, format=inputs["format"], **options))


def is_dataset_cached(path: str | Path | None = None, format: str = "auto",
                      cache_dir: str | Path | None = None, **options: Any) -> bool:
    """Whether :func:`open_dataset` with these arguments would read the cache rather than
    parse the file or generate the demo data (cheap: file signatures and one manifest)."""
    try:
        inputs = _cache_inputs(None if path is None else _existing(path), format, options)
    except DataError:
        return False
    return ArtifactStore(resolve_cache_dir(cache_dir)).lookup("dataset", inputs) is not None


def _existing(path: str | Path) -> Path:
    """``path`` once it is a readable regular file or folder: checked before the signature
    reads it (a FIFO would block it, an unreadable file raise)."""
    return check_source(Path(path).expanduser())


def _cache_inputs(path: Path | None, format: str, options: dict[str, Any]) -> dict[str, Any]:
    """The dataset cache key's inputs: the source file's signature and loader (or the demo
    generator's options), and the versions that change what is stored."""
    if path is None:
        from tui_recs.data.synthetic import GENERATOR_VERSION  # ~14 ms: demo data only

        return {"demo": options, "generator_version": GENERATOR_VERSION,
                "storage_version": STORAGE_VERSION}
    format = detect_format(path) if format == "auto" else format
    return {"source": source_signature(path), "format": format, "options": options,
            "loader_version": LOADER_VERSIONS[format], "storage_version": STORAGE_VERSION}


def _through_cache(cache_dir: str | Path | None, inputs: dict[str, Any],
                   make: Callable[[], Dataset]) -> Dataset:
    """The dataset entry for ``inputs``, ``make()`` and stored first if it is missing; the
    made Dataset itself when the cache cannot hold it (a full disk)."""
    made: list[Dataset] = []

    def in_memory() -> Dataset:
        if not made:
            made.append(make())
        return made[0]

    def build(directory: Path) -> dict[str, Any]:
        in_memory().save(directory)
        return {}

    return ArtifactStore(resolve_cache_dir(cache_dir)).get_or_create(
        "dataset", inputs, build=build, load=_load_entry, unstored=in_memory)


def _load_entry(directory: Path) -> Dataset:
    return Dataset.load_saved(directory, mmap=True)
