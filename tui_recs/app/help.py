"""The help screen (F1 or ?): what each view does and its keys, read from the bindings."""

from __future__ import annotations

from typing import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer

from tui_recs.app.state import AUTO, VIEWS, model_for, model_title
from tui_recs.models import registry

INTRO = """\
## tui-recs

Explore music recommendations learned from play counts. By default (**auto**) related
artists come from **{related}** and recommendations from **{recommend}**, the models measured
best at each; they train in the background at start, or load from the cache. **m** steps
through every model ({models}): one not trained yet trains then, and until a model is ready
the views answer with one that is, and say so. **f** changes the minimum number of listeners
an artist needs to be shown.

Switch views with **1**–**4** (or click them at the top); **ctrl+p** opens the command palette:
type an artist's name or a listener id to go there, or a command (use a model, retrain,
evaluate, change the theme). In a search box, **↑**/**↓** choose a match (its related artists
show as the highlight rests on it) and **Enter** opens it; **Esc** leaves the box, so that
the keys below work again. **Tab** moves between the parts of a view. In a list, **y** copies the highlighted artist, **Y** the whole
list as TSV, **o** opens the artist's Last.fm page.
"""

OUTRO = """\
### Good to know

- Training, evaluation and loading run in the background; the line above the footer shows
  them, and the Models view has the details. A retrained model replaces the old one when
  it is ready.
- The next start opens where you left off: the view, the artist and listener, the model and
  the hyperparameters you set (`tui-recs --fresh` starts clean).
- The theme you pick (palette → *Theme*) is remembered. Keys can be changed in the config
  file (`keymap`: binding id → key), e.g. `{"keymap": {"artists.back": "left"}}`.
- Start with `--no-mouse` to leave the mouse to your terminal (text selection over SSH).
"""


def _keys_table(bindings: list[Binding], key_display: Callable[[Binding], str]) -> str:
    rows = [f"| `{key_display(binding)}` | {binding.description} | `{binding.id}` |"
            for binding in bindings if binding.description]
    return "| key | does | id |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def help_markdown(app: App) -> str:
    """The help text: the intro, each view's purpose and keys, and the app's keys, each key
    written as ``app`` shows it (following the user's keymap)."""
    key_display = app.get_key_display
    sections = [INTRO.format(
        related=model_title(model_for(AUTO, "related")),
        recommend=model_title(model_for(AUTO, "recommend")),
        models=", ".join(model_title(name) for name in registry.names()))]
    for number, (view, title) in enumerate(VIEWS.items(), start=1):
        screen = app.MODES[view]
        purpose = " ".join((screen.__doc__ or "").split())
        sections.append(f"### {number} · {title}\n\n{purpose}\n\n"
                        f"{_keys_table(screen.BINDINGS, key_display)}")
    sections.append(f"### Everywhere\n\n{_keys_table(app.BINDINGS, key_display)}")
    sections.append(OUTRO)
    return "\n".join(sections)


class HelpScreen(ModalScreen[None]):
    """Help over the current view; Esc, F1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # imported on first use: it is slow to import

        with VerticalScroll(id="help-panel"):
            yield Markdown(help_markdown(self.app))
        yield Footer()
