"""Models trained elsewhere, opened like the ones tui-recs trains: bundles (``--bundle DIR``,
see docs/bundle.md) and implicit's saved models or plain factor files (``--model-file PATH``).
Each is registered at run time as an external model, served through an engine that reads its
arrays (so it is cached and indexed like any other model), and evaluated without refitting.
"""

from tui_recs.external.sources import (ExternalModel, bundle_cached, bundle_dataset,
                                       open_externals)

__all__ = ["ExternalModel", "bundle_cached", "bundle_dataset", "open_externals"]
