"""The retrain dialog: a model's hyperparameters, editable, checked by the core before training."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from tui_recs.text import markup_safe
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from tui_recs.app.state import model_title
from tui_recs.app.widgets.textbox import TextBox
from tui_recs.errors import TuiRecsError
from tui_recs.models import registry

def editable(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The values of ``params`` that model ``name`` lets people set, in declaration order
    (not those the app sets itself, such as how often the loss is computed)."""
    return {param.name: params[param.name] for param in registry.model_class(name).PARAMS
            if param.effect != "reporting" and param.name in params}


class RetrainScreen(ModalScreen[dict[str, Any] | None]):
    """Edit ``params`` of model ``name``; dismisses with the new parameters (None: cancelled)."""

    BINDINGS = [
        Binding("escape", "dismiss_dialog", "Cancel", id="retrain.cancel"),
        Binding("ctrl+s", "submit", "Train", id="retrain.submit"),
    ]

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__()
        self.model_name = name
        self.params = editable(name, params)

    def compose(self) -> ComposeResult:
        with Vertical(id="retrain-dialog"):
            yield Static(f"[b]Retrain {model_title(self.model_name)}[/b] — in the background; "
                         "the current model stays in use until the new one is ready.",
                         classes="section-title")
            if self.params:
                with Grid(id="retrain-fields"):
                    for key, value in self.params.items():
                        yield Label(key)
                        yield TextBox(value="" if value is None else str(value), id=f"param-{key}")
            else:
                yield Static(f"{model_title(self.model_name)} has no hyperparameters.")
            yield Static(id="retrain-error")
            yield Static("[b]Enter[/b] or [b]ctrl+s[/b] train · [b]Esc[/b] cancel",
                         id="retrain-hint")
        yield Footer()

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        error = self.query_one("#retrain-error", Static)
        declared = {param.name: param for param in registry.model_class(self.model_name).PARAMS}
        params = {}
        for key in self.params:
            text = self.query_one(f"#param-{key}", TextBox).value
            try:
                params[key] = declared[key].parse(text)
            except ValueError:
                error.update(f"[b]{key}[/b] must be {markup_safe(declared[key].allowed)}, "
                             f"not {markup_safe(repr(text))}")
                return
        try:
            registry.create(self.model_name, **params)
        except TuiRecsError as failure:
            error.update(markup_safe(str(failure)))
            return
        self.dismiss(params)
