"""Model bundles (format version 1, docs/bundle.md): a trained factor model with its artists,
listeners and play history, as Parquet tables plus a checksummed manifest. Spark writes them
(``train --engine spark``), :func:`write_bundle` writes them locally, :func:`open_bundle`
reads and checks either."""

from tui_recs.bundle.format import BundleError
from tui_recs.bundle.reader import Bundle, open_bundle
from tui_recs.bundle.writer import write_bundle

__all__ = ["Bundle", "BundleError", "open_bundle", "write_bundle"]
