"""Data layer: loaders for real listening data, the built-in demo data, and the Dataset.

Entry points: :func:`load` (a file or folder -> Dataset) and :func:`demo` (synthetic data).
Heavy libraries (pandas, scipy) are imported inside the functions that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_recs.errors import DataError

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset

__all__ = ["Dataset", "DataError", "load", "demo", "FORMATS"]

#: Format names accepted by :func:`load` (plus "auto").
FORMATS = ("lastfm-360k", "hetrec-2k", "csv")


def __getattr__(name: str) -> Any:
    # Dataset (and numpy with it) loads on first use: the command line reads FORMATS at start.
    if name == "Dataset":
        from tui_recs.data.dataset import Dataset

        return Dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(path: str | Path, format: str = "auto", **options: Any) -> "Dataset":
    """Read listening data at ``path`` into a Dataset (see ``tui_recs.data.loaders``)."""
    from tui_recs.data.loaders import load as load_file  # numpy and scipy: not before argparse

    return load_file(path, format=format, **options)


def demo(**options: Any) -> "Dataset":
    """The built-in synthetic dataset (see ``tui_recs.data.synthetic``)."""
    from tui_recs.data.synthetic import generate  # numpy and scipy: not before argparse

    return generate(**options)
