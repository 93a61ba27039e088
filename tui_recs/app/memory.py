"""Where the last session left off, kept in the settings file and restored on the next start:
the view, the artist and the listener shown (by name and id, and only on the same data), the
model in use and the hyperparameters edited for each model.

The file is untrusted (anyone who can write it can put anything there): every field is checked
for its type, a view or model that exists, hyperparameters against their declarations (finite,
in range); what fails is dropped, and said once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from tui_recs.app.state import AUTO, VIEWS
from tui_recs.errors import TuiRecsError
from tui_recs.models import registry
from tui_recs.models.params import resolve

if TYPE_CHECKING:
    from tui_recs.data.dataset import Dataset

#: Longest artist name or listener id kept (longer ones are not names: dropped).
MAX_TEXT = 1000


@dataclass
class Remembered:
    """The last session, as saved."""

    #: Which data it explored ("demo", or the data path as given).
    source: str | None = None
    view: str | None = None
    artist: str | None = None
    listener: str | None = None
    model: str | None = None
    #: Model name -> hyperparameters set for it (not the declared defaults).
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "view": self.view, "artist": self.artist,
                "listener": self.listener, "model": self.model, "params": self.params}

    @classmethod
    def from_json(cls, document: Any) -> tuple["Remembered", list[str]]:
        """The fields of ``document`` that pass their checks, and a line per field dropped."""
        if not isinstance(document, dict):
            return cls(), ["'session' is not an object"]
        problems: list[str] = []

        def text(key: str, allowed: Any = None) -> str | None:
            value = document.get(key)
            if value is None:
                return None
            if not isinstance(value, str) or len(value) > MAX_TEXT or (
                    allowed is not None and value not in allowed):
                problems.append(f"session {key} {_shown(value)} is not "
                                + ("one of " + ", ".join(allowed) if allowed else "a short text"))
                return None
            return value

        remembered = cls(source=text("source"), view=text("view", list(VIEWS)),
                         artist=text("artist"), listener=text("listener"),
                         model=text("model", [AUTO, *registry.names()]))
        params = document.get("params") or {}
        if not isinstance(params, dict):
            problems.append("session params is not an object")
            params = {}
        for name, values in params.items():
            checked = checked_params(name, values)
            if isinstance(checked, str):
                problems.append(checked)
            else:
                remembered.params[name] = checked
        return remembered, problems


def checked_params(name: Any, values: Any) -> dict[str, Any] | str:
    """``values`` as hyperparameters of model ``name``, each checked against its declaration;
    or why they are not (an unknown model or parameter, a value out of range or not finite)."""
    if not isinstance(name, str) or name not in registry.names():
        return f"session params for {_shown(name)}: no such model"
    if not isinstance(values, dict):
        return f"session params for {name} are not an object"
    try:
        declared = resolve(registry.model_class(name).PARAMS, values, name)
    except TuiRecsError as error:
        return f"session params: {error}"
    return {key: declared[key] for key in values}


def _shown(value: Any) -> str:
    """A value from the file, short, for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def find_artist(dataset: "Dataset", name: str | None) -> int | None:
    """The position of the artist named exactly ``name`` (the most popular if several)."""
    if name is None:
        return None
    import numpy as np  # loaded with the data by now

    found = np.flatnonzero(dataset.item_names == name)
    if not len(found):
        return None
    return int(found[np.argmax(dataset.item_listeners[found])])


def find_listener(dataset: "Dataset", user_id: str | None) -> int | None:
    """The row of the listener whose id is ``user_id``."""
    if user_id is None:
        return None
    import numpy as np  # as above

    found = np.flatnonzero(dataset.user_ids == user_id)
    return int(found[0]) if len(found) else None


def merged_params(remembered: Mapping[str, Mapping[str, Any]],
                  given: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Hyperparameters per model: the remembered ones, under those given for this start."""
    names = {*remembered, *given}
    return {name: {**remembered.get(name, {}), **given.get(name, {})} for name in names}
