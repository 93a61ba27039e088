"""A slopegraph of two rankings drawn with box-drawing characters.

Each artist ranked by both models gets a line from its rank on the left to its rank on the
right; an artist in only one list gets a short stub with a mark (× dropped, + new). Lines are
routed as a wiring diagram: they move one rank at a time, and two lines trading places cross
as an X (╲╱ over ╱╲), so a line's slope is its rank change and no two lines ever share a
cell. Where the lines do not fit, the two lists are stacked instead, each row saying where
its artist went.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tui_recs.app.widgets.fitted import fit

if TYPE_CHECKING:
    from tui_recs.compare import Comparison

DROPPED, ADDED = "×", "+"
#: Columns next to each list: a stub and a place for the × or + mark.
MARGIN = 2
LINE_STYLES = 4


@dataclass(frozen=True)
class Cell:
    """One character of the drawing and the line it belongs to (None: blank)."""

    char: str = " "
    line: int | None = None


BLANK = Cell()


def route(comparison: "Comparison") -> list[list[int]]:
    """The stages of adjacent swaps that take each left row's line to its row on the right
    (odd-even transposition; each stage lists the upper rows of its swapped pairs).

    Rows whose artist is in one list only are paired in order with the free rows on the
    other side; those lines are invisible, so that every visible line is a plain path.
    """
    n = comparison.n
    right_row = {item: rank - 1 for rank, item in enumerate(comparison.right, start=1)}
    shared = [comparison.left[row] in right_row if row < len(comparison.left) else False
              for row in range(n)]
    taken = {right_row[comparison.left[row]] for row in range(n) if shared[row]}
    free_right = iter(row for row in range(n) if row not in taken)
    target = [right_row[comparison.left[row]] if shared[row] else next(free_right)
              for row in range(n)]
    order = list(range(n))  # order[row] = the line now at this row
    stages: list[list[int]] = []
    for stage in range(n + 1):
        swaps = [row for row in range(stage % 2, n - 1, 2)
                 if target[order[row]] > target[order[row + 1]]]
        for row in swaps:
            order[row], order[row + 1] = order[row + 1], order[row]
        if swaps:
            stages.append(swaps)
    return stages


def draw_links(comparison: "Comparison", width: int) -> list[list[Cell]] | None:
    """The lines between the two lists, ``comparison.n`` rows of ``width`` cells, or None
    when the routing needs more columns than ``width``."""
    n = comparison.n
    stages = route(comparison)
    needed = 2 * MARGIN + 2 * len(stages)
    if width < needed:
        return None
    right_items = set(comparison.right)
    visible = [row < len(comparison.left) and comparison.left[row] in right_items
               for row in range(n)]
    # Spread spare columns as flat runs between the stages, so that lines slope gently.
    spare = width - needed
    gaps = [spare * (k + 1) // (len(stages) + 1) - spare * k // (len(stages) + 1)
            for k in range(len(stages) + 1)]
    columns: list[list[Cell]] = []

    def flat(order: list[int], count: int) -> None:
        for _ in range(count):
            columns.append([Cell("─", line) if visible[line] else BLANK for line in order])

    order = list(range(n))
    columns.append([Cell("─", row) if row < len(comparison.left) else BLANK for row in range(n)])
    columns.append([Cell("─", row) if visible[row] else
                    Cell(DROPPED, row) if row < len(comparison.left) else BLANK
                    for row in range(n)])
    flat(order, gaps[0])
    for stage, swaps in enumerate(stages):
        first = [Cell("─", line) if visible[line] else BLANK for line in order]
        second = list(first)
        for row in swaps:
            down, up = order[row], order[row + 1]
            first[row] = Cell("╲", down) if visible[down] else BLANK
            second[row + 1] = Cell("╲", down) if visible[down] else BLANK
            first[row + 1] = Cell("╱", up) if visible[up] else BLANK
            second[row] = Cell("╱", up) if visible[up] else BLANK
            order[row], order[row + 1] = up, down
        columns += [first, second]
        flat(order, gaps[stage + 1])
    columns.append([Cell("─", line) if visible[line] else
                    Cell(ADDED, line) if row < len(comparison.right) else BLANK
                    for row, line in enumerate(order)])
    columns.append([Cell("─", line) if row < len(comparison.right) else BLANK
                    for row, line in enumerate(order)])
    return [[column[row] for column in columns] for row in range(n)]


class Slopegraph(Widget):
    """Two ranked lists of artists with the rank changes between them."""

    COMPONENT_CLASSES = {
        "slopegraph--title", "slopegraph--rank", "slopegraph--only", "slopegraph--legend",
        *(f"slopegraph--line-{index}" for index in range(LINE_STYLES)),
    }
    DEFAULT_CSS = """
    Slopegraph { height: auto; }
    Slopegraph > .slopegraph--title { text-style: bold; }
    Slopegraph > .slopegraph--rank { color: $text-muted; }
    Slopegraph > .slopegraph--only { color: $text-muted; text-style: italic; }
    Slopegraph > .slopegraph--legend { color: $text-muted; }
    Slopegraph > .slopegraph--line-0 { color: $primary; }
    Slopegraph > .slopegraph--line-1 { color: $secondary; }
    Slopegraph > .slopegraph--line-2 { color: $accent; }
    Slopegraph > .slopegraph--line-3 { color: $success; }
    """

    #: Each list gets at least this many cells for "rank name" side by side.
    MIN_LABEL = 20

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._titles = ("", "")
        self._names: dict[int, str] = {}
        self._comparison: Comparison | None = None

    def show(self, left_title: str, right_title: str, comparison: "Comparison",
             names: dict[int, str]) -> None:
        """Draw ``comparison``; ``names`` maps its items to artist names."""
        self._titles = (left_title, right_title)
        self._comparison = comparison
        self._names = names
        self.refresh(layout=True)

    @property
    def stacked(self) -> bool:
        """Whether the lists are shown one above the other (too narrow for the lines)."""
        return self._links(self.size.width) is None

    def _links(self, width: int) -> tuple[int, list[list[Cell]]] | None:
        """(label width, drawing) for the side-by-side layout, or None if it does not fit."""
        if self._comparison is None:
            return None
        graph_width = max(width // 3, 2 * MARGIN + 2)
        label_width = (width - graph_width - 2) // 2
        if label_width < self.MIN_LABEL:
            return None
        grid = draw_links(self._comparison, graph_width)
        return None if grid is None else (label_width, grid)

    def get_content_height(self, container, viewport, width: int) -> int:
        comparison = self._comparison
        if comparison is None:
            return 1
        if self._links(width) is None:
            return len(comparison.left) + len(comparison.right) + 3
        return comparison.n + 2

    def render(self) -> Text:
        if self._comparison is None:
            return Text("")
        links = self._links(self.size.width)
        if links is None:
            return self._render_stacked(self._comparison, self.size.width)
        return self._render_side_by_side(self._comparison, *links)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"slopegraph--{name}", partial=True)

    def _line_style(self, line: int) -> Style:
        return self._style(f"line-{line % LINE_STYLES}")

    def _label(self, text: Text, rank: int, item: int | None, width: int, only: bool) -> None:
        """Append "rank name" for ``item`` in ``width`` cells (blank when there is none)."""
        if item is None:
            text.append(" " * width)
            return
        text.append(f"{rank:>2} ", self._style("rank"))
        text.append(fit(self._names.get(item, str(item)), width - 3, pad=True),
                    self._style("only") if only else Style())

    def _legend(self, text: Text) -> None:
        left, right = self._titles
        text.append(f"\n{DROPPED} only in {left}   {ADDED} only in {right}", self._style("legend"))

    def _render_side_by_side(self, comparison: "Comparison", label_width: int,
                             grid: list[list[Cell]]) -> Text:
        shared = set(comparison.left) & set(comparison.right)
        text = Text(no_wrap=True, overflow="crop")
        left_title, right_title = self._titles
        text.append(fit(left_title, label_width + len(grid[0]) + 2, pad=True), self._style("title"))
        text.append(fit(right_title, label_width, pad=True), self._style("title"))
        for row in range(comparison.n):
            left = comparison.left[row] if row < len(comparison.left) else None
            right = comparison.right[row] if row < len(comparison.right) else None
            text.append("\n")
            self._label(text, row + 1, left, label_width, left not in shared)
            text.append(" ")
            for cell in grid[row]:
                style = (self._style("only") if cell.char in (DROPPED, ADDED) else
                         self._line_style(cell.line) if cell.line is not None else Style())
                text.append(cell.char, style)
            text.append(" ")
            self._label(text, row + 1, right, label_width, right not in shared)
        self._legend(text)
        return text

    def _render_stacked(self, comparison: "Comparison", width: int) -> Text:
        """The left list, then the right one; each row says where its artist is on the other side."""
        text = Text(no_wrap=True, overflow="crop")
        left_title, right_title = self._titles
        left_rank = {item: rank for rank, item in enumerate(comparison.left, start=1)}
        right_rank = {item: rank for rank, item in enumerate(comparison.right, start=1)}
        for title, items, other, arrow, missing in (
                (left_title, comparison.left, right_rank, "→", DROPPED),
                (right_title, comparison.right, left_rank, "←", ADDED)):
            if text:
                text.append("\n")
            text.append(fit(title, width, pad=True), self._style("title"))
            for rank, item in enumerate(items, start=1):
                elsewhere = other.get(item)
                text.append("\n")
                self._label(text, rank, item, width - 5, elsewhere is None)
                if elsewhere is None:
                    text.append(f" {missing:>4}", self._style("only"))
                else:
                    text.append(f" {arrow}{elsewhere:>3}", self._line_style(left_rank[item] - 1))
        self._legend(text)
        return text
