"""Lists that fit their width: a table whose one flexible column takes the room the others
leave, and the search matches (name, then listeners right-aligned). Both lay their rows out
again when their own width changes, e.g. when a breakpoint docks a side panel beside them:
they never need sideways scrolling and never hide a column."""

from __future__ import annotations

from typing import Iterator, Sequence

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.content import Content
from textual.css.styles import RulesMap
from textual.geometry import Region
from textual.reactive import Reactive
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import DataTable, OptionList
from textual.widgets.option_list import Option

from tui_recs.text import printable

#: Width assumed before the widget has been laid out.
DEFAULT_WIDTH = 30
#: A flexible column is never narrower than this.
MIN_FLEXIBLE = 8


def fit(text: str, width: int, pad: bool = False) -> str:
    """``text`` in at most ``width`` terminal cells (wide characters count two), cut with an
    ellipsis when longer; with ``pad``, padded with spaces to exactly ``width``. Control and
    bidi-override characters are replaced (see :func:`tui_recs.text.printable`): every cell
    of the app's tables and lists passes here."""
    text = printable(text)
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width) if pad else text


def _tsv(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Lines of tab-separated cells, each made printable (a tab in a name is replaced)."""
    return "".join("\t".join(printable(cell) for cell in cells) + "\n"
                   for cells in (headings, *rows))


class Cell:
    """A table cell's text, fitted to its column already, drawn as one segment: not a str,
    which DataTable reads as markup ("[unknown]" vanished, a name holding "[/...]" raised),
    nor a Text, which Rich wraps and measures for every cell of every repaint (a fifth of
    a 20-row table's)."""

    __slots__ = ("plain",)

    def __init__(self, plain: str) -> None:
        self.plain = plain

    def __str__(self) -> str:
        return self.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        yield Segment(self.plain)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(cell_len(self.plain), cell_len(self.plain))


class FittedTable(DataTable):
    """A DataTable filled with :meth:`fill`: columns are (heading, width), and the one with
    width None takes the room the others leave (its cells cut with an ellipsis). Cells are
    plain text, never markup: artist names such as "[unknown]" show as they are."""

    # The room for the scrollbar is kept whether or not it shows: a scrollbar appearing
    # changes no size (no resize event), so it must not change the width rows are laid out for.
    DEFAULT_CSS = "FittedTable { scrollbar-gutter: stable; }"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._columns: list[tuple[str, int | None]] = []
        self._rows: list[tuple[str, Sequence[str]]] = []
        self._laid_out_for = -1
        self._repaint_style: RichStyle | None = None

    @property
    def rich_style(self) -> RichStyle:
        """The widget's style: while a repaint runs, the one worked out as it began."""
        return super().rich_style if self._repaint_style is None else self._repaint_style

    def render_lines(self, crop: Region) -> list[Strip]:
        # DataTable asks for the widget's style once per line drawn, and each time it walks
        # every ancestor, blending their backgrounds: a fifth of a 20-row table's repaint.
        self._repaint_style = super().rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._repaint_style = None

    def fill(self, columns: Sequence[tuple[str, int | None]],
             rows: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Replace the columns and the rows; rows are (key, cells), cursor back at the top."""
        self._columns, self._rows = list(columns), list(rows)
        self._lay_out(keep_cursor=False)

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value

    @property
    def row_total(self) -> int:
        return len(self._rows)

    def as_tsv(self) -> str:
        """The headings and every row, whole (not cut to the width), tab-separated, one line
        each; control characters (tabs and newlines too) in a cell are replaced."""
        return _tsv([heading for heading, _ in self._columns],
                    [cells for _, cells in self._rows])

    def on_resize(self) -> None:
        if self._columns and self.scrollable_content_region.width != self._laid_out_for:
            self._lay_out(keep_cursor=True)

    def _lay_out(self, keep_cursor: bool) -> None:
        room = self.scrollable_content_region.width
        self._laid_out_for = room
        padding = 2 * self.cell_padding
        fixed = sum(width + padding for _, width in self._columns if width is not None)
        flexible = max(MIN_FLEXIBLE, room - fixed - padding - 1) if room else DEFAULT_WIDTH
        widths = [flexible if width is None else width for _, width in self._columns]
        cursor = self.cursor_row
        self.clear(columns=True)
        for (heading, _), width in zip(self._columns, widths):
            self.add_column(heading, width=width, key=heading)
        for key, cells in self._rows:
            self.add_row(*(Cell(fit(cell, width)) for cell, width in zip(cells, widths)), key=key)
        if keep_cursor and self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1), animate=False)


#: The listeners beside a match.
DIM = Style(dim=True)


class MatchRow(Visual):
    """One line of the search matches: the name, fitted to its room already, then the
    listeners, dimmed. Drawn straight to two segments: as Content, each match was laid out
    again (wrapped, formatted) at every keystroke, which took a third of the repaint of 40
    matches."""

    def __init__(self, name: str, listeners: str) -> None:
        self.name = name
        self.listeners = listeners
        self.width = cell_len(name) + cell_len(listeners)

    @property
    def plain(self) -> str:
        """The line's text (as Content's ``plain``)."""
        return self.name + self.listeners

    def render_strips(self, width: int, height: int | None, style: Style,
                      options: RenderOptions) -> list[Strip]:
        return [Strip([Segment(self.name, style.rich_style),
                       Segment(self.listeners, (style + DIM).rich_style)], self.width)]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1


class MatchList(OptionList):
    """Search matches, each a name and its listeners, right-aligned; option ids are the
    artists' positions."""

    DEFAULT_CSS = "MatchList { scrollbar-gutter: stable; }"  # see FittedTable
    #: No links in names: Textual would otherwise work out a link style for every line drawn.
    auto_links = Reactive(False)

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._matches: list[tuple[int, str, int]] = []
        self._laid_out_for = -1

    def show(self, matches: Sequence[tuple[int, str, int]]) -> None:
        """Replace the options with (item, name, listeners) matches, the first highlighted."""
        self._matches = list(matches)
        self._lay_out(highlighted=0)

    def show_note(self, note: str) -> None:
        """One dim line that cannot be picked (e.g. while the names are being indexed)."""
        self._matches = []
        self.clear_options()
        self.add_option(Option(Content.styled(note, "dim"), disabled=True))

    @property
    def highlighted_key(self) -> str | None:
        """The highlighted match's artist position, as a string (None without matches)."""
        if not self._matches or self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id

    @property
    def row_total(self) -> int:
        return len(self._matches)

    def as_tsv(self) -> str:
        """The matches as TSV: artist and listeners, under a header line."""
        return _tsv(["artist", "listeners"], [(name, str(listeners))
                                              for _, name, listeners in self._matches])

    def on_resize(self) -> None:
        if self._matches and self.scrollable_content_region.width != self._laid_out_for:
            self._lay_out(highlighted=self.highlighted)

    def _lay_out(self, highlighted: int | None) -> None:
        width = self.scrollable_content_region.width
        self._laid_out_for = width
        width = width or DEFAULT_WIDTH
        # Replaced in one step: clearing first emptied the list for a moment, which hid its
        # scrollbar and changed its virtual size twice, each a layout of the whole screen
        # (~30 ms at 120×40) on every keystroke.
        self.set_options(Option(self._row(name, listeners, width), id=str(item))
                         for item, name, listeners in self._matches)
        if self._matches and highlighted is not None:
            self.highlighted = min(highlighted, len(self._matches) - 1)

    @staticmethod
    def _row(name: str, listeners: int, width: int) -> MatchRow:
        count = f" {listeners:,}"
        return MatchRow(fit(name, max(4, width - len(count)), pad=True), count)
