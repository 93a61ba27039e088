"""Text from data made safe to show: no terminal control codes, no Rich markup.

Artist names, listener ids and paths come from files nobody vetted. Written raw to a terminal,
an escape sequence in a name can clear the screen, set the window title or hide text (bidi
overrides reorder what follows); read as markup, ``[/]`` raises and ``[link=...]`` renders.
:func:`printable` is for plain-text output (stderr lines, Rich ``Text`` objects, which the
command line prints), :func:`markup_safe` for values spliced into Textual markup (the app).
"""

from __future__ import annotations

import re

#: What is replaced: C0 controls (tab and newline too: every shown value is one line), DEL,
#: C1 controls, and the Unicode bidi embeddings, overrides, isolates and marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Shown in place of each unsafe character.
REPLACEMENT = "\ufffd"


def printable(value: object) -> str:
    """``str(value)`` with each control or bidi-override character replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, str(value))


def markup_safe(value: object) -> str:
    """:func:`printable`, escaped for Textual markup: shows as itself wherever it is spliced.

    Every ``[`` is escaped (``textual.markup.escape`` leaves tags such as ``[$accent]`` and
    ``[B]`` alone); a trailing backslash, which would escape the tag that follows it, is
    followed by an invisible word joiner.
    """
    text = printable(value).replace("[", "\\[")
    return text + "\u2060" if text.endswith("\\") else text


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` with thousands separators and ``noun`` agreeing with it: "1 listener",
    "2,048 listeners", "1 entry" / "3 entries" (``plural`` where adding "s" is wrong)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
