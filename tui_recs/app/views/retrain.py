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

#: Set by the app itself (the loss is always shown), so not offered for editing.
MANAGED = frozenset({"calculate_loss_every"})


def parse_value(text: str, current: Any) -> Any:
    """``text`` as the type of ``current`` (blank is None where the current value is None)."""
    text = text.strip()
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if current is None:
        if not text:
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
    return text


class RetrainScreen(ModalScreen[dict[str, Any] | None]):
    """Edit ``params`` of model ``name``; dismisses with the new parameters (None: cancelled)."""

    BINDINGS = [
        Binding("escape", "dismiss_dialog", "Cancel", id="retrain.cancel"),
        Binding("ctrl+s", "submit", "Train", id="retrain.submit"),
    ]

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        super().__init__()
        self.model_name = name
        self.params = {key: value for key, value in params.items() if key not in MANAGED}

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
        from tui_recs.errors import TuiRecsError
        from tui_recs.models.registry import create

        error = self.query_one("#retrain-error", Static)
        params = {}
        for key, current in self.params.items():
            text = self.query_one(f"#param-{key}", TextBox).value
            try:
                params[key] = parse_value(text, current)
            except ValueError:
                error.update(f"[b]{key}[/b]: {markup_safe(repr(text))} is not a "
                             f"{type(current).__name__}")
                return
        try:
            create(self.model_name, **params)
        except TuiRecsError as failure:
            error.update(markup_safe(str(failure)))
            return
        self.dismiss(params)
