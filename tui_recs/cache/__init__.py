"""The artifact store: expensive results (parsed datasets, trained factors, Annoy indexes)
computed once and loaded instantly afterwards.

Modules, one job each: :mod:`.location` (where the cache lives), :mod:`.keys` (entry keys
from inputs), :mod:`.checksum` (file checksums), :mod:`.locking` (build locks),
:mod:`.manifest` (an entry's manifest, written and checked) and :mod:`.store` (the store).

Typical use::

    store = ArtifactStore(resolve_cache_dir(args.cache_dir))
    model = store.get_or_create("model", {"dataset": fp, "params": params, "version": 2},
                                build=lambda d: train_and_save(d), load=load_from_dir)
"""

from tui_recs.cache.errors import CacheError, CacheWarning
from tui_recs.cache.keys import FORMAT_VERSION, entry_key
from tui_recs.cache.location import ENV_VAR, resolve_cache_dir
from tui_recs.cache.manifest import MANIFEST
from tui_recs.cache.store import ArtifactStore, Entry

__all__ = ["ArtifactStore", "CacheError", "CacheWarning", "ENV_VAR", "Entry", "FORMAT_VERSION",
           "MANIFEST", "entry_key", "resolve_cache_dir"]
