"""The UI's settings file: ``<user config dir>/tui-recs/config.json``.

It holds the theme and, optionally, a keymap (binding id -> keys) for people who want other
keys. A missing or unreadable file means defaults; writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("tui-recs")) / "config.json"


@dataclass
class Config:
    """Settings that outlive a session."""

    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "Config":
        """The settings at ``path``; defaults when the file is missing or not valid JSON."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        theme = data.get("theme")
        keymap = data.get("keymap")
        return cls(theme=theme if isinstance(theme, str) else None,
                   keymap={str(k): str(v) for k, v in keymap.items()}
                   if isinstance(keymap, dict) else {})

    def save(self, path: Path) -> None:
        """Write atomically; raises OSError when the directory is not writable."""
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"theme": self.theme, **({"keymap": self.keymap} if self.keymap else {})}
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=2)
                file.write("\n")
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
