"""How many colours a terminal declares in the terminfo database (``tput colors``).

Read from the compiled entry directly: Python's ``curses.setupterm`` works once per process
(later calls keep the first terminal) and needs a terminal to describe.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Iterator, Mapping

#: Where ncurses looks after $TERMINFO, ~/.terminfo and $TERMINFO_DIRS.
SYSTEM_DIRS = ("/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo",
               "/usr/local/share/terminfo", "/opt/homebrew/share/terminfo")
#: The compiled format's magic numbers: 16-bit numbers (legacy), 32-bit numbers (ncurses 6.1).
MAGIC_16, MAGIC_32 = 0o432, 0o1036
#: max_colors is the 14th numeric capability of the compiled format.
MAX_COLORS = 13
#: Entries are a few KiB; anything much bigger is not one.
MAX_ENTRY_BYTES = 1 << 16


def terminfo_colours(term: str, env: Mapping[str, str]) -> int | None:
    """The ``colors`` capability of terminal ``term`` (0 when the entry has none, as vt100);
    None when no readable entry describes ``term``."""
    if not term or "/" in term or term.startswith("."):
        return None
    for path in _candidates(term, env):
        try:
            with path.open("rb") as file:
                data = file.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            continue
        colours = parse_colours(data) if len(data) <= MAX_ENTRY_BYTES else None
        if colours is not None:
            return colours
    return None


def parse_colours(entry: bytes) -> int | None:
    """The ``colors`` number of a compiled terminfo entry (0 when absent or cancelled); None
    when ``entry`` is not one."""
    if len(entry) < 12:
        return None
    magic, names, booleans, numbers, _, _ = struct.unpack_from("<6h", entry)
    if magic not in (MAGIC_16, MAGIC_32) or min(names, booleans, numbers) < 0:
        return None
    if numbers <= MAX_COLORS:
        return 0
    size, code = (4, "<i") if magic == MAGIC_32 else (2, "<h")
    start = 12 + names + booleans
    start += start % 2  # numbers start on an even byte
    offset = start + MAX_COLORS * size
    if offset + size > len(entry):
        return None
    return max(0, struct.unpack_from(code, entry, offset)[0])


def _candidates(term: str, env: Mapping[str, str]) -> Iterator[Path]:
    dirs = [env.get("TERMINFO", "")]
    if env.get("HOME"):
        dirs.append(os.path.join(env["HOME"], ".terminfo"))
    # An empty element of TERMINFO_DIRS stands for the system directories.
    for entry in env.get("TERMINFO_DIRS", "").split(os.pathsep):
        dirs.extend(SYSTEM_DIRS if not entry else [entry])
    dirs.extend(SYSTEM_DIRS)
    for directory in dict.fromkeys(d for d in dirs if d):
        # Linux keeps entries under their first letter, macOS under its hex code.
        yield Path(directory, term[0], term)
        yield Path(directory, f"{ord(term[0]):x}", term)
