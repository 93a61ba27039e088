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

    @property
    def content_width(self) -> int:
        """The width the text scrolls in, in cells: the text's (and the cursor's) where it
        overflows the box, else the box's own. Input makes it its virtual size at every
        change, and a new virtual size lays the whole screen out again (3-25 ms a key at
        360K artists); text that fits in the box now leaves it unchanged."""
        return max(super().content_width, self.scrollable_content_region.width)
