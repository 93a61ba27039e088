"""View 3: two models' answers to one question, side by side, with a slopegraph."""

from __future__ import annotations

from typing import Iterable

from textual.binding import Binding
from textual.containers import VerticalScroll
from tui_recs.text import markup_safe
from textual.widget import Widget
from textual.widgets import Static

from tui_recs.app.state import model_title
from tui_recs.models import registry
from tui_recs.app.views.base import ViewScreen
from tui_recs.app.widgets.slopegraph import Slopegraph
from tui_recs.compare import compare_rankings

PAIR_KEYS = Binding.Group("Models", compact=True)
LENGTH_KEYS = Binding.Group("Length", compact=True)
#: Shortest and longest lists compared, and the step of + and -.
MIN_LENGTH, MAX_LENGTH, LENGTH_STEP = 5, 20, 5


class CompareScreen(ViewScreen):
    """The related artists of the current artist (or the recommendations of the current
    listener) from two models, with a line from each artist's rank on the left to its rank on
    the right, overlap@n and the rank correlation. Default pair: ALS vs LSA; any pair."""

    VIEW = "compare"
    #: How many artists each model lists.
    length = 10
    BINDINGS = [
        Binding("t", "toggle_subject", "Artist/listener", id="compare.subject"),
        Binding("left_square_bracket", "cycle('left')", "Left model", key_display="[",
                id="compare.left", group=PAIR_KEYS),
        Binding("right_square_bracket", "cycle('right')", "Right model", key_display="]",
                id="compare.right", group=PAIR_KEYS),
        Binding("s", "swap", "Swap", id="compare.swap"),
        Binding("plus,equals_sign", "length(1)", "Longer", key_display="+", id="compare.longer",
                group=LENGTH_KEYS),
        Binding("minus", "length(-1)", "Shorter", key_display="-", id="compare.shorter",
                group=LENGTH_KEYS),
    ]

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="compare-body", classes="view-body"):
            yield Static(id="compare-title", classes="section-title")
            yield Static(id="compare-stats")
            yield Slopegraph(id="slopegraph")

    def refresh_view(self) -> None:
        app = self.app
        dataset = app.dataset
        left, right = app.compare_pair
        if app.compare_subject == "artist":
            subject = app.history.current
            title = f"Related to [b]{markup_safe(str(dataset.item_names[subject]))}[/b]"
        else:
            if app.listener is None:
                app.listener = 0
            subject = app.listener
            title = f"Recommended for listener [b]{markup_safe(str(dataset.user_ids[subject]))}[/b]"
        key = (app.compare_subject, subject, left, right, self.length, app.models_version,
               app.min_listeners)
        if key == self._shown:
            return
        self._shown = key
        self.query_one("#compare-title", Static).update(
            f"{title} [dim](t: compare {'a listener' if app.compare_subject == 'artist' else 'an artist'})[/dim]")
        stats = self.query_one("#compare-stats", Static)
        graph = self.query_one(Slopegraph)
        waiting = [name for name in (left, right) if name not in app.models]
        if waiting:
            for name in waiting:
                app.ensure_model(name)
            stats.update(" · ".join(app.why_not_ready(name) for name in waiting)
                         + " — the comparison appears when it is ready.")
            graph.display = False
            return
        lists = [self.ask(self._answer, app.models[name], subject) for name in (left, right)]
        if None in lists:
            return
        comparison = compare_rankings(*lists)
        rho = comparison.rank_correlation
        shared = len(set(lists[0]) & set(lists[1]))
        correlation = ("n/a [dim](fewer than 2 shared)[/dim]" if rho is None else
                       f"[b]{rho:.2f}[/b] [dim](over the {shared} shared)[/dim]")
        stats.update(f"[b]{model_title(left)}[/b] vs [b]{model_title(right)}[/b] · "
                     f"overlap@{self.length} [b]{comparison.overlap:.0%}[/b] · "
                     f"rank correlation {correlation}")
        names = {item: str(dataset.item_names[item]) for item in {*lists[0], *lists[1]}}
        graph.display = True
        graph.show(model_title(left), model_title(right), comparison, names)

    def _answer(self, ready, subject: int) -> list[int]:
        if self.app.compare_subject == "artist":
            ids, _ = ready.similar(subject, self.length, min_listeners=self.app.min_listeners)
        else:
            ids, _ = ready.recommend(subject, self.length, min_listeners=self.app.min_listeners)
        return ids.tolist()

    def action_toggle_subject(self) -> None:
        app = self.app
        app.compare_subject = "listener" if app.compare_subject == "artist" else "artist"
        self.refresh_view()

    def action_cycle(self, side: str) -> None:
        """Give ``side`` the next model (never the one on the other side)."""
        pair = self.app.compare_pair
        index = 0 if side == "left" else 1
        names = registry.names()
        name = pair[index]
        for _ in names:
            name = names[(names.index(name) + 1) % len(names)]
            if name != pair[1 - index]:
                break
        pair[index] = name
        self.refresh_view()

    def action_swap(self) -> None:
        self.app.compare_pair.reverse()
        self.refresh_view()

    def action_length(self, direction: int) -> None:
        self.length = max(MIN_LENGTH, min(MAX_LENGTH, self.length + direction * LENGTH_STEP))
        self.refresh_view()
