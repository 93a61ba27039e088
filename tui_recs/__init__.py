"""tui-recs: explore music recommendations learned from implicit feedback (play counts).

The core (everything outside ``tui_recs.app``) never imports textual, so it can be used from
scripts, the CLI and tests without a terminal UI.
"""

__version__ = "0.1.0"
