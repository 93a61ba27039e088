"""The bundle layout, format version 1 (the reference is docs/bundle.md): names and columns
shared by the writer and the reader."""

from __future__ import annotations

from tui_recs.errors import DataError

FORMAT = "tui-recs-bundle"
VERSION = 1
MANIFEST = "manifest.json"
#: The tables, each a directory of Parquet part files, and the columns each must have.
TABLES = {
    "items": ("item", "artist_id", "name", "listeners", "factors"),
    "users": ("user", "user_id", "factors"),
    "history": ("user", "item", "plays"),
}
#: Manifest keys a reader needs.
REQUIRED_KEYS = ("format", "version", "model", "engine", "params", "shape", "files")
SHAPE_KEYS = ("users", "items", "factors", "plays")


class BundleError(DataError):
    """A bundle that cannot be opened: one line naming the file and what is wrong with it."""
