"""View 1: find an artist and walk its related artists."""

from __future__ import annotations

from functools import partial
from typing import Iterable

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from tui_recs.text import counted, markup_safe
from textual.widget import Widget
from textual.timer import Timer
from textual.widgets import DataTable, OptionList, Static

from tui_recs.app.state import model_title
from tui_recs.app.views.base import ViewScreen, format_score, lookup_label
from tui_recs.app.views.lists import LIST_BINDINGS, ListKeys
from tui_recs.app.widgets.fitted import FittedTable
from tui_recs.app.widgets.search import ArtistSearch


class ArtistsScreen(ListKeys, ViewScreen):
    """A search box with as-you-type matches; the chosen artist's related artists from the
    model in use, and its listeners and plays. Enter on a related artist goes to it; b goes
    back."""

    VIEW = "artists"
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="artists.search"),
        Binding("b,backspace", "back", "Back", id="artists.back", key_display="b"),
        Binding("c", "compare", "Compare models", id="artists.compare"),
        Binding("escape", "leave_search", "Leave search", id="artists.leave"),
        *LIST_BINDINGS,
    ]
    #: Related artists listed.
    RELATED = 20
    #: Listeners listed beside an artist (most plays first).
    TOP_LISTENERS = 12
    #: Seconds the highlight rests on a search match before the match is previewed: typing,
    #: or holding a key down, passes matches by without drawing each one.
    PREVIEW_DELAY = 0.15
    #: Seconds a preview rests before its top listeners are looked up (one pass over every
    #: play, 10-20 ms of a core at 360K, then the pane drawn again): a key typed sooner puts
    #: it off, so that typing never competes with it.
    LISTENERS_DELAY = 0.5
    #: The match previewed while the search box has the focus (None: the current artist),
    #: and the current artist it was previewed from.
    _preview: int | None = None
    _preview_from: int | None = None
    _preview_timer: Timer | None = None
    #: The artist drawn whose top listeners are still to be looked up, with its facts.
    _unlisted: tuple[int, list[str]] | None = None
    _listeners_timer: Timer | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(id="artists-body", classes="view-body"):
            yield ArtistSearch(id="artist-search")
            with Vertical(id="artist-main"):
                yield Static(f"[dim]loading {markup_safe(self.app.source_label)}…[/dim]",
                             id="artist-info")
                yield Static(id="related-title", classes="section-title")
                yield FittedTable(id="related", cursor_type="row", zebra_stripes=True)

    @property
    def shown_item(self) -> int | None:
        """The artist drawn: the previewed match, else the current artist. A preview ends
        when another artist becomes the current one (the palette, a walk)."""
        if self._preview is not None and self._preview_from != self.app.history.current:
            self._preview = None
        return self.app.history.current if self._preview is None else self._preview

    def refresh_view(self) -> None:
        app = self.app
        item = self.shown_item
        ready, note = app.answering_model()
        # While the model waits for one loading from the cache, others arriving change nothing
        # here (each redraw lays the view out again: ~0.1 s at start-up).
        key = (item, self._preview is not None, app.preferred, note,
               None if ready is None else app.models_version, app.min_listeners)
        if key == self._shown:
            return
        self._shown = key
        self._show_info(item)
        self._show_related(item)

    def _show_info(self, item: int) -> None:
        dataset = self.app.dataset
        listeners = int(dataset.item_listeners[item])
        rank = int((dataset.item_listeners > listeners).sum()) + 1
        lines = [f"[b]{markup_safe(str(dataset.item_names[item]))}[/b]",
                 counted(listeners, "listener"),
                 counted(round(float(dataset.item_plays[item])), "play"),
                 f"[dim]#{rank:,} of {dataset.n_items:,} by listeners[/dim]"]
        lines += [f"[dim]{markup_safe(key)}:[/dim] {markup_safe(str(values[item]))}"
                  for key, values in dataset.item_meta.items() if str(values[item])]
        self.query_one("#artist-info", Static).update("\n".join(lines))
        self._stop_listeners()
        self._unlisted = item, lines
        if self._preview is None:
            self._find_listeners()
        else:
            self._listeners_timer = self.set_timer(self.LISTENERS_DELAY, self._find_listeners)

    def _find_listeners(self) -> None:
        """Look up the top listeners of the artist drawn (in a worker)."""
        self._listeners_timer = None
        if self._unlisted is None:
            return
        (item, lines), self._unlisted = self._unlisted, None
        self.compute("listeners", partial(self.app.dataset.top_listeners, item, self.TOP_LISTENERS),
                     partial(self._show_listeners, lines))

    def _stop_listeners(self) -> None:
        """Put off the lookup of the top listeners, if one is waiting."""
        if self._listeners_timer is not None:
            self._listeners_timer.stop()
            self._listeners_timer = None

    def _show_listeners(self, lines: list[str], found: tuple) -> None:
        """The artist's top listeners under its facts (seen where the panel is tall enough)."""
        dataset = self.app.dataset
        rows, plays = found
        listed = [f"{markup_safe(str(dataset.user_ids[row]))} [dim]{count:,.0f}[/dim]"
                  for row, count in zip(rows.tolist(), plays.tolist())]
        self.query_one("#artist-info", Static).update(
            "\n".join([*lines, "", "[b]Top listeners[/b] [dim](plays)[/dim]", *listed]))

    def _show_related(self, item: int) -> None:
        app = self.app
        dataset = app.dataset
        ready, note = app.answering_model()
        name = markup_safe(str(dataset.item_names[item]))
        title = self.query_one("#related-title", Static)
        found = (self.ask(ready.similar, item, self.RELATED, min_listeners=app.min_listeners)
                 if ready is not None else None)
        preview = " [dim](preview: Enter opens)[/dim]" if self._preview is not None else ""
        if ready is None:
            title.update(f"Related to [b]{name}[/b]{preview} — {markup_safe(note)}")
        else:
            note = f" [dim]({markup_safe(note)})[/dim]{preview}" if note else preview
            title.update(f"Related to [b]{name}[/b] · {model_title(ready.name)} · "
                         f"{lookup_label(ready)}{note}")
        rows = [] if found is None else [
            (str(other), (str(rank), str(dataset.item_names[other]), format_score(score),
                          f"{int(dataset.item_listeners[other]):,}"))
            for rank, (other, score) in enumerate(zip(*(part.tolist() for part in found)), start=1)]
        self.query_one("#related", FittedTable).fill(
            [("#", 3), ("artist", None), ("similarity", 10), ("listeners", 9)], rows)

    @on(ArtistSearch.Picked)
    def _picked(self, event: ArtistSearch.Picked) -> None:
        self._end_preview()
        self.app.open_artist(event.item)
        self.query_one("#related", DataTable).focus()

    @on(OptionList.OptionHighlighted, "#artist-search MatchList")
    def _match_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Preview the highlighted match once the highlight has rested on it a moment."""
        if event.option.id is None:  # a note ("No artist matches ..."), not an artist
            return
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._stop_listeners()
        self._preview_timer = self.set_timer(self.PREVIEW_DELAY,
                                             partial(self._show_preview, int(event.option.id)))

    def _show_preview(self, item: int) -> None:
        self._preview_timer = None
        if not self.query_one(ArtistSearch).box.has_focus or self.app.dataset is None:
            return  # the search was left meanwhile (Enter, Esc): no preview
        current = self.app.history.current
        self._preview, self._preview_from = (None if item == current else item), current
        self.refresh_view()
        if self._unlisted is not None and self._listeners_timer is None:
            # The same artist as before (nothing drawn again), its lookup put off by a key.
            self._listeners_timer = self.set_timer(self.LISTENERS_DELAY, self._find_listeners)

    def _end_preview(self) -> int | None:
        """Stop previewing; returns the artist that was previewed, if any."""
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        previewed = self.shown_item if self._preview is not None else None
        self._preview = None
        return previewed

    @on(DataTable.RowSelected, "#related")
    def _go_to_related(self, event: DataTable.RowSelected) -> None:
        self.app.open_artist(int(event.row_key.value))

    @on(DataTable.RowHighlighted, "#related")
    def _note_row(self, event: DataTable.RowHighlighted) -> None:
        # Reports of a list since replaced (a walk re-fills the table) say nothing of this one.
        if event.row_key.value is not None and self._shown is not None and (
                self._shown[0] == self.app.history.current):
            self.app.history.note_row(event.cursor_row)

    def action_focus_search(self) -> None:
        self.query_one(ArtistSearch).box.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_search":
            return self.query_one(ArtistSearch).box.has_focus
        return True

    def action_leave_search(self) -> None:
        """Leave the search box for the related artists of what it shows: a previewed match
        becomes the current artist (b goes back from it)."""
        previewed = self._end_preview()
        if previewed is not None:
            self.app.open_artist(previewed)
        self.query_one("#related", DataTable).focus()

    def action_back(self) -> None:
        """Go back to the artist before, the cursor on the row it was left from."""
        history = self.app.history
        if history.back() is None:
            self.notify("This is the first artist you opened", timeout=3)
            return
        row = history.row
        self.refresh_view()
        table = self.query_one("#related", DataTable)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)

    def action_compare(self) -> None:
        self.app.compare("artist")
