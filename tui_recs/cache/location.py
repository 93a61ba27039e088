"""Where the cache lives."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the cache directory (below --cache-dir, above the defaults).
ENV_VAR = "TUI_RECS_CACHE_DIR"
#: A folder of this name in the working directory is used when neither of the above is given.
LOCAL_DIR = "cache"


def resolve_cache_dir(explicit: str | Path | None = None) -> Path:
    """The cache directory: ``explicit`` (``--cache-dir``), else ``$TUI_RECS_CACHE_DIR``, else
    ``./cache/`` when such a folder exists in the working directory, else the user cache dir
    (``platformdirs.user_cache_dir("tui-recs")``). Returned absolute, created if missing.

    A directory that cannot be created is still returned: the store reports it when it first
    needs to write (see :meth:`ArtifactStore.get_or_create`), so that reading needs no rights.
    """
    if explicit is not None and str(explicit) != "":
        root = Path(explicit).expanduser()
    elif os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR]).expanduser()
    elif (Path.cwd() / LOCAL_DIR).is_dir():
        root = Path.cwd() / LOCAL_DIR
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("tui-recs"))
    root = root.absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return root
