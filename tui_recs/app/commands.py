"""Command palette providers: go to an artist or a listener, and the app's actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tui_recs.app.state import VIEWS, model_title
from tui_recs.models import registry
from tui_recs.text import counted, printable

if TYPE_CHECKING:
    from tui_recs.app.main import TuiRecsApp

#: Hits each provider offers for one query.
LIMIT = 12


class ArtistCommands(Provider):
    """"Go to artist": the artist search, inside the palette."""

    async def search(self, query: str) -> Hits:
        app: TuiRecsApp = self.app
        if app.names is None or not query.strip():
            return
        listeners = app.dataset.item_listeners
        for rank, hit in enumerate(app.names.search(query, LIMIT)):
            text = printable(f"Go to artist: {hit.name}")
            yield Hit(1.0 - rank / (2 * LIMIT), Content(text), partial(app.open_artist, hit.item),
                      text=text, help=counted(int(listeners[hit.item]), "listener"))


class ListenerCommands(Provider):
    """"Go to listener": listener ids starting with the query."""

    async def search(self, query: str) -> Hits:
        app: TuiRecsApp = self.app
        prefix = query.strip()
        if app.listener_ids is None or not prefix:
            return
        for row in app.listener_ids.with_prefix(prefix, LIMIT):
            user_id = str(app.dataset.user_ids[row])
            text = printable(f"Go to listener: {user_id}")
            yield Hit(0.9 if len(prefix) == len(user_id) else 0.6, Content(text),
                      partial(app.open_listener, row), text=text)


class ActionCommands(Provider):
    """Views, the model in use, retraining, evaluation, help."""

    def commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: TuiRecsApp = self.app
        if app.dataset is None:
            return [("Help", app.action_help, "Keys and views")]
        commands: list[tuple[str, Callable[[], object], str]] = [
            (f"View: {title}", partial(app.switch_mode, view), f"key {number}")
            for number, (view, title) in enumerate(VIEWS.items(), start=1)]
        commands += [(f"Use model: {model_title(name)}", partial(app.use_model, name),
                      "answer related artists and recommendations with it")
                     for name in registry.names()]
        commands += [(f"Retrain {model_title(name)}…", partial(self._retrain, name),
                      "edit hyperparameters, train in the background")
                     for name in registry.names()]
        commands += [
            ("Run evaluation", app.evaluate, "precision, recall, NDCG… against popularity"),
            ("Compare models on this artist", partial(app.compare, "artist"), "slopegraph"),
            ("Compare models on this listener", partial(app.compare, "listener"), "slopegraph"),
            ("Cancel training", app.cancel_jobs, "stop every running training job"),
            ("Help", app.action_help, "keys and views"),
        ]
        return commands

    def _retrain(self, name: str) -> None:
        app: TuiRecsApp = self.app
        app.switch_mode("models")
        app.call_later(app.screen_stack[0].retrain, name)

    async def discover(self) -> Hits:
        for text, command, help_text in self.commands():
            yield DiscoveryHit(text, command, text=text, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
