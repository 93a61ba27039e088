"""Command palette providers: go to an artist or a listener, and the app's actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tui_recs.app.state import AUTO, VIEWS, model_for, model_title
from tui_recs.models import registry
from tui_recs.text import counted, printable

if TYPE_CHECKING:
    from tui_recs.app.main import TuiRecsApp

#: Hits each provider offers for one query.
LIMIT = 12
#: The palette lists hits by score, highest first: a listener whose id is the query exactly
#: outranks every artist ("2100" is listener 2100 before "Haircut 100"), artists (at most
#: ARTIST_TOP) outrank listener ids that merely start with the query.
EXACT_ID, ARTIST_TOP, ID_PREFIX = 1.0, 0.95, 0.5


class ArtistCommands(Provider):
    """"Go to artist": the artist search, inside the palette."""

    async def search(self, query: str) -> Hits:
        app: TuiRecsApp = self.app
        if app.names is None or not query.strip():
            return
        listeners = app.dataset.item_listeners
        for rank, hit in enumerate(app.names.search(query, LIMIT)):
            text = printable(f"Go to artist: {hit.name}")
            yield Hit(ARTIST_TOP * (1.0 - rank / (2 * LIMIT)), Content(text),
                      partial(app.open_artist, hit.item),
                      text=text, help=counted(int(listeners[hit.item]), "listener"))


class ListenerCommands(Provider):
    """"Go to listener": the listener whose id is the query first, then ids starting with it."""

    async def search(self, query: str) -> Hits:
        app: TuiRecsApp = self.app
        prefix = query.strip()
        if app.listener_ids is None or not prefix:
            return
        for row in app.listener_ids.with_prefix(prefix, LIMIT):
            user_id = str(app.dataset.user_ids[row])
            text = printable(f"Go to listener: {user_id}")
            yield Hit(EXACT_ID if user_id.lower() == prefix.lower() else ID_PREFIX, Content(text),
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
        commands.append(("Use model: auto (measured defaults)", partial(app.use_model, AUTO),
                         f"related artists {model_title(model_for(AUTO, 'related'))}, "
                         f"recommendations {model_title(model_for(AUTO, 'recommend'))}"))
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
