"""View 2: one listener's top artists, their recommendations and why; or a new listener."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterable

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from tui_recs.app.state import model_title
from tui_recs.app.views.base import ViewScreen, format_score
from tui_recs.app.views.lists import LIST_BINDINGS, ListKeys
from tui_recs.app.widgets.fitted import FittedTable, fit
from tui_recs.app.widgets.search import ArtistSearch
from tui_recs.app.widgets.textbox import TextBox
from tui_recs.errors import TuiRecsError
from tui_recs.text import counted, markup_safe

if TYPE_CHECKING:
    from tui_recs.pipeline import ReadyModel

#: Widths of the names and of the bars in the explanation.
NAME, BAR = 28, 16


class ListenersScreen(ListKeys, ViewScreen):
    """Pick a listener by id (or a random one): their top artists with plays, their
    recommendations (already-heard artists left out) and, for the highlighted one, the
    artists that led to it (ALS). ``n`` switches to a new listener built from picked artists."""

    VIEW = "listeners"
    AUTO_FOCUS = "#recommended"
    BINDINGS = [
        Binding("r", "random", "Random", id="listeners.random"),
        Binding("slash", "find", "Find id", id="listeners.find"),
        Binding("n", "new_listener", "New listener", id="listeners.new"),
        Binding("c", "compare", "Compare", id="listeners.compare"),
        Binding("delete,x", "remove_pick", "Remove pick", id="listeners.remove", key_display="del"),
        Binding("escape", "leave_box", "Leave box", id="listeners.leave"),
        *LIST_BINDINGS,
    ]
    #: Artists listed on each side.
    ROWS = 20
    #: Seconds typing in the id box rests before the listener typed so far is previewed.
    PREVIEW_DELAY = 0.15
    _preview_timer: Timer | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="listeners-body", classes="view-body"):
            with Horizontal(id="listener-bar"):
                yield Static("[b]Listener[/b] ", id="listener-label")
                yield TextBox("id + Enter", id="listener-id")
                yield Static(id="listener-summary")
            with Horizontal(id="listener-panes"):
                with ContentSwitcher(initial="history-pane", id="left-pane"):
                    with Vertical(id="history-pane"):
                        yield Static(id="history-title", classes="section-title")
                        yield FittedTable(id="history", cursor_type="row", zebra_stripes=True)
                    with Vertical(id="picker-pane"):
                        yield ArtistSearch("Add an artist you like…", id="pick-search")
                        yield Static(id="picks-title", classes="section-title")
                        yield FittedTable(id="picks", cursor_type="row")
                with Vertical(id="recs-pane"):
                    yield Static(id="recs-title", classes="section-title")
                    yield FittedTable(id="recommended", cursor_type="row", zebra_stripes=True)
            yield Static(id="explanation")

    # --------------------------------------------------------------------------- drawing
    def refresh_view(self) -> None:
        app = self.app
        if app.listener is None:
            app.listener = 0
        subject = tuple(app.picks) if app.new_listener else app.listener
        key = (app.new_listener, subject, app.models_version, app.preferred, app.min_listeners)
        if key == self._shown:
            return
        self._shown = key
        self.query_one("#left-pane", ContentSwitcher).current = (
            "picker-pane" if app.new_listener else "history-pane")
        self.query_one("#listener-id").display = not app.new_listener
        self.refresh_bindings()
        if app.new_listener:
            self._show_new_listener()
        else:
            self._show_listener(app.listener)

    def _show_listener(self, user: int) -> None:
        app = self.app
        dataset = app.dataset
        row = dataset.user_items[user]
        items, plays = app.session.listener_history(user, self.ROWS)
        self.query_one("#listener-label", Static).update("[b]Listener[/b] ")
        self.query_one("#listener-summary", Static).update(
            f" [b]{markup_safe(str(dataset.user_ids[user]))}[/b] · {counted(row.nnz, 'artist')}, "
            f"{counted(round(float(row.data.sum())), 'play')}")
        self.query_one("#history-title", Static).update("Top artists")
        self.query_one("#history", FittedTable).fill(
            [("#", 3), ("artist", None), ("plays", 7)], [(str(item), (str(rank), str(dataset.item_names[item]),
                                               f"{count:,.0f}"))
                    for rank, (item, count) in enumerate(zip(items.tolist(), plays.tolist()), start=1)])
        ready, note = app.answering_model(question="recommend")
        found = (self.ask(ready.recommend, user, self.ROWS, min_listeners=app.min_listeners)
                 if ready is not None else None)
        self._show_recommendations(ready, note, found, "Recommended")

    def _show_new_listener(self) -> None:
        app = self.app
        dataset = app.dataset
        self.query_one("#listener-label", Static).update("[b]New listener[/b] ")
        self.query_one("#listener-summary", Static).update(
            f" {len(app.picks)} artist{'s' if len(app.picks) != 1 else ''} picked "
            "[dim](n: back to the data's listeners)[/dim]")
        self.query_one("#picks-title", Static).update(
            "Your artists [dim](del removes)[/dim]" if app.picks else "Pick a few artists you like")
        self.query_one("#picks", FittedTable).fill(
            [("artist", None), ("listeners", 9)], [(str(item), (str(dataset.item_names[item]),
                                 f"{int(dataset.item_listeners[item]):,}")) for item in app.picks])
        ready, note = app.answering_model(question="recommend")
        if ready is not None and not ready.model.capabilities.fold_in:  # BPR, logistic MF
            self.discard("fold-in")
            self._show_recommendations(None, f"{model_title(ready.name)} cannot fold in a new "
                                       "listener: pick another model (m)", None,
                                       "Recommended by fold-in")
            return
        if ready is None or not app.picks:
            self.discard("fold-in")
            self._show_recommendations(ready, note, None, "Recommended by fold-in")
            return
        self.compute("fold-in", partial(ready.recommend_history, list(app.picks), self.ROWS,
                                        min_listeners=app.min_listeners),
                     partial(self._show_recommendations, ready, note, title="Recommended by fold-in"))

    def _show_recommendations(self, ready: "ReadyModel | None", note: str, found: tuple | None,
                              title: str) -> None:
        dataset = self.app.dataset
        table = self.query_one("#recommended", FittedTable)
        header = self.query_one("#recs-title", Static)
        if ready is None:
            header.update(f"{title} — {markup_safe(note)}")
        else:
            note = f" [dim]({markup_safe(note)})[/dim]" if note else ""
            header.update(f"{title} · {model_title(ready.name)}{note}")
        table.fill([("#", 3), ("artist", None), ("score", 7)], [] if found is None else [
            (str(item), (str(rank), str(dataset.item_names[item]), format_score(score)))
            for rank, (item, score) in enumerate(zip(*(part.tolist() for part in found)), start=1)])
        if not table.row_count:  # (otherwise the table's RowHighlighted explains its first row)
            self._explain(None)

    def _explain(self, item: str | None) -> None:
        """Why the highlighted recommendation: the listened artists that contribute most
        (computed in the background: ALS solves a system over every artist for it)."""
        app = self.app
        panel = self.query_one("#explanation", Static)
        ready, _ = app.answering_model(question="recommend")
        self.discard("explain")
        if item is None or ready is None:
            panel.update("")
        elif app.new_listener:
            panel.update(f"[dim]Recommendations for someone who likes these artists, folded into "
                         f"the {model_title(ready.name)} model.[/dim]")
        elif not hasattr(ready.model, "explain"):
            panel.update(f"[dim]“Because you listened to …” comes from ALS "
                         f"({model_title(ready.name)} cannot explain): press m.[/dim]")
        else:
            count = 3 if self.size.height < 30 else 5
            panel.update(self._because(int(item)) + " [dim]…[/dim]")
            self.compute("explain", partial(ready.model.explain, app.listener, int(item),
                                            app.dataset.user_items, count),
                         partial(self._show_explanation, int(item)))

    def _because(self, item: int) -> str:
        return f"Because you listened to … → [b]{markup_safe(str(self.app.dataset.item_names[item]))}[/b]"

    def _show_explanation(self, item: int, result: tuple) -> None:
        dataset = self.app.dataset
        items, contributions, total = result
        # Hu et al. explain a listener vector re-solved against the final artist factors: its
        # score differs a little from the list's, which uses the trained vector.
        lines = [f"{self._because(item)} [dim](score {total:.3f} when re-solved)[/dim]"]
        largest = max(contributions.max(initial=0.0), 1e-12)
        for other, contribution in zip(items.tolist(), contributions.tolist()):
            share = contribution / total if total > 0 else 0.0
            bar = "█" * max(0, round(contribution / largest * BAR))
            name = fit(str(dataset.item_names[other]), NAME, pad=True)
            lines.append(f"  {markup_safe(name)} "
                         f"[$accent]{bar:<{BAR}}[/] {share:>4.0%}")
        self.query_one("#explanation", Static).update("\n".join(lines))

    # --------------------------------------------------------------------------- events
    @on(DataTable.RowHighlighted, "#recommended")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.row_key.value)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        self.app.open_artist(int(event.row_key.value))

    @on(Input.Changed, "#listener-id")
    def _typed(self, event: Input.Changed) -> None:
        """Preview the listener whose id is typed so far, once typing rests a moment."""
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(self.PREVIEW_DELAY,
                                             partial(self._preview, event.value))

    def _preview(self, text: str) -> None:
        """Show the listener ``text`` names, if one does (quietly: the id may be half typed)."""
        self._preview_timer = None
        ids = self.app.listener_ids
        if ids is None or not text.strip() or self.app.new_listener:
            return
        try:
            user = ids.resolve(text)
        except TuiRecsError:
            return
        self._show(user)

    @on(Input.Submitted, "#listener-id")
    def _find(self, event: Input.Submitted) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        if self.app.listener_ids is None:
            self.notify("Listener ids are still being indexed: try again in a moment")
            return
        user = self.ask(self.app.listener_ids.resolve, event.value)
        if user is None:
            return
        self._show(user)
        self.query_one("#recommended", DataTable).focus()

    @on(ArtistSearch.Picked, "#pick-search")
    def _add_pick(self, event: ArtistSearch.Picked) -> None:
        if event.item not in self.app.picks:
            self.app.picks.append(event.item)
        self.refresh_view()

    def _show(self, user: int) -> None:
        self.app.new_listener = False
        self.app.listener = user
        self.refresh_view()

    # -------------------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "remove_pick":
            return self.app.new_listener
        if action in ("find", "compare"):
            return not self.app.new_listener
        if action == "leave_box":
            return isinstance(self.focused, TextBox)
        return True

    def action_random(self) -> None:
        self._show(self.app.rng.randrange(self.app.dataset.n_users))

    def action_find(self) -> None:
        self.query_one("#listener-id", TextBox).focus()

    def action_new_listener(self) -> None:
        self.app.new_listener = not self.app.new_listener
        self.refresh_view()
        if self.app.new_listener:
            self.query_one("#pick-search", ArtistSearch).box.focus()
        else:
            self.query_one("#recommended", DataTable).focus()

    def action_leave_box(self) -> None:
        self.query_one("#recommended", DataTable).focus()

    def action_remove_pick(self) -> None:
        picks = self.query_one("#picks", DataTable)
        if picks.row_count:
            item = int(picks.coordinate_to_cell_key((picks.cursor_row, 0)).row_key.value)
            self.app.picks.remove(item)
            self.refresh_view()

    def action_compare(self) -> None:
        self.app.compare("listener")
