"""Keys for the artist lists of the Artists and Listeners views: copy the highlighted artist
(y), the whole list as TSV (Y), open the artist's Last.fm page (o)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote_plus, urlsplit

from textual.binding import Binding

from tui_recs.app.widgets.fitted import FittedTable, MatchList
from tui_recs.text import markup_safe, printable

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset

#: In the footer there is no room for them: the help screen lists them.
LIST_BINDINGS = [
    Binding("y", "copy_artist", "Copy the artist", id="list.copy", show=False),
    Binding("Y", "copy_list", "Copy the list (TSV)", id="list.copy-list", show=False),
    Binding("o", "open_artist_page", "Open on Last.fm", id="list.open", show=False),
]
#: Where an artist is looked up when the data has no page address for it.
LASTFM_SEARCH = "https://www.last.fm/search?q="


def artist_url(dataset: "Dataset", item: int) -> str:
    """The artist's page: the data's own address for it (hetrec's artists.dat has one) when
    it is a plain http(s) address, else the Last.fm search for its name. An address from
    the data is untrusted: any other scheme (file:, javascript:...) or a control character
    in it is not opened."""
    urls = dataset.item_meta.get("url")
    if urls is not None:
        url = str(urls[item]).strip()
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc and printable(url) == url \
                and " " not in url:
            return url
    return LASTFM_SEARCH + quote_plus(str(dataset.item_names[item]))


class ListKeys:
    """Mixin for a view with artist lists (tables keyed by artist, or search matches): the
    actions of :data:`LIST_BINDINGS`, on the list that has the focus."""

    def _focused_list(self) -> FittedTable | MatchList | None:
        focused = self.focused
        return focused if isinstance(focused, (FittedTable, MatchList)) else None

    def _highlighted_artist(self) -> int | None:
        """The artist highlighted in the focused list; None (with a notice) if there is none."""
        listed = self._focused_list()
        key = listed.highlighted_key if listed is not None else None
        if key is None:
            self.notify("Highlight an artist in a list first", severity="warning", timeout=3)
            return None
        return int(key)

    def action_copy_artist(self) -> None:
        item = self._highlighted_artist()
        if item is not None:
            name = printable(self.app.dataset.item_names[item])
            self.app.copy_to_clipboard(name)
            self.notify(f"Copied {markup_safe(name)}", timeout=3)

    def action_copy_list(self) -> None:
        listed = self._focused_list()
        rows = listed.row_total if listed is not None else 0
        if not rows:
            self.notify("No list to copy here", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(listed.as_tsv())
        self.notify(f"Copied {rows} row{'s' * (rows != 1)} as TSV (with a header line)",
                    timeout=3)

    def action_open_artist_page(self) -> None:
        item = self._highlighted_artist()
        if item is not None:
            url = artist_url(self.app.dataset, item)
            self.app.open_url(url)
            self.notify(f"Opened {markup_safe(url)}", timeout=5)
