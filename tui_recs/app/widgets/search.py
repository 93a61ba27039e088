"""As-you-type artist search: a box, and the best matches under it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tui_recs.app.background import Background
from tui_recs.app.widgets.fitted import MatchList
from tui_recs.app.widgets.textbox import TextBox
from tui_recs.text import markup_safe, printable

if TYPE_CHECKING:
    from tui_recs.search import Hit, NameIndex
    from tui_recs.session import Session

#: The shortest beginning of a query that nothing matches which is still worth suggesting from.
MIN_SUGGESTION_PREFIX = 2


def closest_name(session: "Session", names: "NameIndex", query: str) -> str | None:
    """The name to suggest for ``query`` when no artist matches it: the core's first
    suggestion (as the command line's "did you mean"), else the best match of the longest
    beginning of the query that has one ("zzqxv" -> "ZZ Top", from "zz"); None if nothing.
    Runs in a worker thread (one search per character dropped)."""
    from tui_recs.search import UnknownName  # the core's search module: numpy, loaded by now

    try:
        session.artist(query)
    except UnknownName as unknown:
        if unknown.suggestions:
            return unknown.suggestions[0]
    except Exception:  # several artists match, or none can be named: no single suggestion
        return None
    for end in range(len(query.rstrip()) - 1, MIN_SUGGESTION_PREFIX - 1, -1):
        hits = names.search(query[:end], 1)
        if hits:
            return hits[0].name
    return None


def no_match_text(query: str, suggestion: str | None) -> str:
    """"No artist matches 'zzqxv' — did you mean ZZ Top?" (plain text: no markup)."""
    text = f"No artist matches {printable(repr(query.strip()))}"
    return text + (f" — did you mean {printable(suggestion)}?" if suggestion else "")


class ArtistSearch(Background, Vertical):
    """A search box over every artist name, matches ranked by the core's NameIndex.

    Matching that may take a while (typos, rare names, an index still being built) runs in
    a thread worker, so typing never waits for it. Typing stays in the box: Up and Down move the
    highlight through the matches and Enter picks it (:class:`Picked` is posted).
    """

    BINDINGS = [
        Binding("down", "move(1)", "Next match", show=False, id="search.next"),
        Binding("up", "move(-1)", "Previous match", show=False, id="search.previous"),
        Binding("pagedown", "move(10)", "Next page", show=False, id="search.next-page"),
        Binding("pageup", "move(-10)", "Previous page", show=False, id="search.previous-page"),
    ]
    #: Matches listed under the box.
    LIMIT = 40

    class Picked(Message):
        """The user chose an artist."""

        def __init__(self, search: "ArtistSearch", item: int) -> None:
            super().__init__()
            self.search = search
            self.item = item

        @property
        def control(self) -> "ArtistSearch":
            return self.search

    def __init__(self, placeholder: str = "Search artists…", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._placeholder = placeholder
        #: Enter was pressed before the newest matches arrived: pick when they do.
        self._pick_when_shown = False
        #: What the list says when nothing matches the query ("" while something does).
        self.no_match = ""

    def compose(self) -> ComposeResult:
        yield TextBox(self._placeholder)
        yield MatchList()

    def on_mount(self) -> None:
        # Runs now, and again once the names are indexed (a moment after the data loads).
        self.watch(self.app, "names_version", lambda: self.search(self.box.value))

    @property
    def box(self) -> Input:
        return self.query_one(Input)

    @property
    def matches(self) -> MatchList:
        return self.query_one(MatchList)

    def search(self, query: str) -> None:
        """Show ``query``'s matches: at once where the most popular names hold them all
        (then the key's echo and its matches share one frame), else once a worker has looked
        them up; the newest query's matches win."""
        names = self.app.names
        if names is None:
            self.discard("matches")
            self.matches.show_note("indexing artist names…")
            return
        hits = names.quick_search(query, self.LIMIT)
        if hits:
            self.discard("matches")
            self._show(query, (hits, None))
            return
        self.compute("matches", partial(self._find, self.app.session, names, query),
                     partial(self._show, query))

    def _find(self, session: "Session", names: "NameIndex", query: str
              ) -> tuple[list["Hit"], str | None]:
        """(matches, a name to suggest when there are none); in a worker thread."""
        hits = names.search(query, self.LIMIT)
        if hits or not query.strip():
            return hits, None
        return hits, closest_name(session, names, query)

    def _show(self, query: str, found: tuple[list["Hit"], str | None]) -> None:
        hits, suggestion = found
        listeners = self.app.dataset.item_listeners
        self.no_match = "" if hits else no_match_text(query, suggestion)
        if hits:
            self.matches.show([(hit.item, hit.name, int(listeners[hit.item])) for hit in hits])
        else:
            self.matches.show_note(self.no_match)
        if self._pick_when_shown:
            self._pick_when_shown = False
            self._pick_highlighted()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.pending("matches"):
            self._pick_when_shown = True
        else:
            self._pick_highlighted()

    def _pick_highlighted(self) -> None:
        matches = self.matches
        if self.app.names is None:
            self.app.notify("Artist names are still being indexed: try again in a moment")
            return
        if self.no_match or not matches.option_count:
            self.app.notify(markup_safe(self.no_match or no_match_text(self.box.value, None)),
                            severity="warning")
            return
        index = matches.highlighted if matches.highlighted is not None else 0
        self._pick(matches.get_option_at_index(index))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option)

    def _pick(self, option: Option) -> None:
        self.post_message(self.Picked(self, int(option.id)))

    def action_move(self, steps: int) -> None:
        matches = self.matches
        if matches.option_count:
            current = matches.highlighted or 0
            matches.highlighted = max(0, min(matches.option_count - 1, current + steps))
