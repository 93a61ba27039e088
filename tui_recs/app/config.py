"""The UI's settings file: ``<user config dir>/tui-recs/config.json``.

It holds the theme, optionally a keymap (binding id -> keys) for people who want other keys,
and where the last session left off (:mod:`tui_recs.app.memory`). A missing file means
defaults; so does a damaged or hostile one (not JSON, too large, nested too deep, not a
regular file), and its fields that fail their checks, each said in :attr:`Config.problems`.
Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tui_recs.app.memory import Remembered

#: A settings file larger than this is not read (it holds a few short fields).
MAX_BYTES = 1 << 20


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("tui-recs")) / "config.json"


@dataclass
class Config:
    """Settings that outlive a session."""

    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    session: Remembered = field(default_factory=Remembered)
    #: What was wrong with the file, one line each (not saved): the app shows them.
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "Config":
        """The settings at ``path``: defaults when the file is missing; when it is damaged,
        defaults too, with the reason in :attr:`problems` (as for each field dropped)."""
        try:
            if not path.exists():
                return cls()
            if not path.is_file():
                raise ValueError("not a regular file")
            if path.stat().st_size > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES // 1024} KB")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as error:
            return cls(problems=[f"{path} was ignored: {error}"])
        if not isinstance(data, dict):
            return cls(problems=[f"{path} was ignored: not a JSON object"])
        theme = data.get("theme")
        keymap = data.get("keymap")
        session, problems = Remembered.from_json(data.get("session") or {})
        return cls(theme=theme if isinstance(theme, str) else None,
                   keymap={str(k): str(v) for k, v in keymap.items()}
                   if isinstance(keymap, dict) else {}, session=session,
                   problems=[f"{path}: {problem} (ignored)" for problem in problems])

    def save(self, path: Path) -> None:
        """Write atomically; raises OSError when the directory is not writable."""
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"theme": self.theme, **({"keymap": self.keymap} if self.keymap else {}),
                    "session": self.session.to_json()}
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=2)
                file.write("\n")
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
