"""Errors that reach users: each carries one line saying what went wrong, where, and how to fix it."""

from __future__ import annotations

from pathlib import Path


class TuiRecsError(Exception):
    """Base class for errors shown to users as a single line (never with a traceback)."""


class DataError(TuiRecsError):
    """A data file (or directory) could not be read into a Dataset.

    ``path`` and ``line`` (1-based, physical line in the file) are kept as attributes so that the
    UI can point at them; the message already contains them.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.hint = hint
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        text = f"{where}{message}"
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class ModelError(TuiRecsError):
    """A model could not be trained or queried (bad hyperparameters, divergence, unknown id)."""
