"""tui-recs: explore music recommendations learned from implicit feedback (play counts).

The core (everything outside ``tui_recs.app``) never imports textual, so it can be used from
scripts, the CLI and tests without a terminal UI.
"""

import os

# NumPy asks the kernel for transparent huge pages on every array of 4 MiB or more. Where the
# kernel then compacts memory to find them (THP "defrag" on madvise, the common default), a
# page fault can wait 100 ms or more, and NumPy takes some of those faults holding the GIL:
# at the 360K shape the demo data took 18 s instead of 9-12 s to build, and the UI thread
# froze for up to 250 ms at a time beside it. Set before NumPy is first imported (every
# heavy import here is lazy), inherited by child processes; a value the user set wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
