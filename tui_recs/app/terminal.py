"""Whether the UI may start on this terminal, and with which colours: pure functions of the
environment, decided before textual is imported (it reads its colour system at import).

Without a terminal (``ssh host tui-recs``, no ``-t``) textual would draw into a pipe and spin
on its end; left to itself it sends colour to a vt100 and 24-bit colour to ``TERM=dumb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

NO_TERMINAL = ("tui-recs needs a terminal: use `ssh -t`, or a subcommand such as "
               "`tui-recs related`")
DUMB_TERMINAL = ("tui-recs needs a terminal that can draw a screen, and TERM=dumb cannot: set "
                 "TERM to your terminal's name (e.g. TERM=xterm-256color), or use a subcommand "
                 "such as `tui-recs related`")

#: Rich's colour systems, as textual's TEXTUAL_COLOR_SYSTEM takes them; None: no colour.
ColourSystem = Literal["truecolor", "256", "standard"]
#: Terminals known to have no colour, for a TERM that the terminfo database lacks.
COLOURLESS_TERMINALS = frozenset({"vt52", "vt100", "vt102", "vt220", "vt320", "vt420", "vt520"})


def refusal(stdin_is_tty: bool, stdout_is_tty: bool, env: Mapping[str, str]) -> str | None:
    """The one-line reason the UI must not start here, or None when it may."""
    if not (stdin_is_tty and stdout_is_tty):
        return NO_TERMINAL
    if env.get("TERM", "").strip().lower() == "dumb":
        return DUMB_TERMINAL
    return None


@dataclass(frozen=True)
class Display:
    """How the UI draws on this terminal."""

    #: Colours the terminal shows; None: none (only bold, reverse, underline...).
    colours: ColourSystem | None
    #: The user asked for no colour (NO_COLOR): textual draws in greys.
    no_color: bool = False

    @property
    def plain_highlight(self) -> bool:
        """Whether a highlighted row must stand out without colour (reverse video): with no
        colour or greys only, and with 16 colours, where the theme's shades of the background
        all become the same black."""
        return self.no_color or self.colours in (None, "standard")

    @property
    def textual_colour_system(self) -> ColourSystem:
        """The value for TEXTUAL_COLOR_SYSTEM (textual has no "none": colour is then filtered
        out of what it draws instead)."""
        return self.colours or "standard"


def display_for(env: Mapping[str, str], terminfo_colours: int | None) -> Display:
    """What the terminal declares: COLORTERM=truecolor/24bit (forwarded over SSH when the
    client sends it) wins, then the terminfo entry's colour count (``terminfo_colours``; None
    when TERM has no entry), then what TERM's name says. TEXTUAL_COLOR_SYSTEM, when set,
    overrides all of them. NO_COLOR counts when present at all, as textual reads it."""
    no_color = "NO_COLOR" in env
    forced = env.get("TEXTUAL_COLOR_SYSTEM", "").strip().lower()
    if forced in ("truecolor", "256", "standard"):
        return Display(forced, no_color)  # type: ignore[arg-type]
    if env.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return Display("truecolor", no_color)
    if terminfo_colours is not None:
        return Display(_from_count(terminfo_colours), no_color)
    return Display(_from_name(env.get("TERM", "")), no_color)


def _from_count(colours: int) -> ColourSystem | None:
    if colours >= 1 << 24:  # a "direct colour" entry such as xterm-direct
        return "truecolor"
    if colours >= 256:
        return "256"
    if colours >= 8:
        return "standard"
    return None


def _from_name(term: str) -> ColourSystem | None:
    term = term.strip().lower()
    base, _, variant = term.partition("-")
    if base in COLOURLESS_TERMINALS or variant in ("m", "mono"):
        return None
    if term.endswith("-direct") or term.endswith("-truecolor"):
        return "truecolor"
    if term.endswith("-256color"):
        return "256"
    return "standard"
