"""The one-line text input used everywhere in the app."""

from __future__ import annotations

from textual.widgets import Input


class TextBox(Input):
    """A compact Input whose cursor blinks only if the app says so (tests turn it off)."""

    def __init__(self, placeholder: str = "", *, value: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(value=value, placeholder=placeholder, compact=True,
                         select_on_focus=False, id=id, classes=classes)

    def on_mount(self) -> None:
        self.cursor_blink = self.app.cursor_blink
