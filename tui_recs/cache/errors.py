"""What the artifact store raises and warns."""

from __future__ import annotations

from tui_recs.errors import TuiRecsError


class CacheError(TuiRecsError):
    """The cache cannot be used (not writable, disk full, no such entry); one line naming the
    path and how to fix it."""


class CacheWarning(UserWarning):
    """A cache entry was unusable and is rebuilt, or the cache could not be written and the
    artifact was built without it."""


class InvalidEntry(Exception):
    """Why an entry on disk cannot be trusted (internal: becomes a CacheWarning and a rebuild)."""
