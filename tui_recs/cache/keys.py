"""Entry keys: a readable kind plus a hash of the canonical JSON of everything that changes the
artifact (callers' inputs and the store's own format version)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import PurePath
from typing import Any, Mapping

#: Bump when the store's layout (manifest fields, checksums) changes: every key changes with it,
#: and entries written under another version are rebuilt.
FORMAT_VERSION = 1
#: Hex digits of the hash in a key (64 bits).
HASH_CHARS = 16
KIND_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
KEY_PATTERN = re.compile(rf"(?P<kind>{KIND_PATTERN.pattern})-(?P<hash>[0-9a-f]{{{HASH_CHARS}}})")


def plain(value: Any) -> Any:
    """``value`` as plain JSON data, so that equal inputs give equal keys: numpy scalars and
    arrays become numbers and lists, tuples lists, sets sorted lists, paths strings.

    Anything else raises TypeError: a ``str()`` of an arbitrary object may differ from run to
    run (memory addresses), which would make every lookup miss without a word.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # JSON has no NaN/inf
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"cache inputs need string keys, got {list(value)!r}")
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "dtype") and hasattr(value, "tolist"):  # numpy scalar or array
        return plain(value.tolist())
    raise TypeError(f"cache inputs must be JSON-like; {type(value).__name__} is not: {value!r}")


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal inputs, equal text."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def check_kind(kind: str) -> str:
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"bad cache kind {kind!r}: letters, digits, '_', '.', '-' only")
    return kind


def entry_key(kind: str, inputs: Mapping[str, Any]) -> str:
    """``<kind>-<16 hex>``: blake2b of the canonical JSON of (kind, inputs, FORMAT_VERSION)."""
    text = canonical_json({"kind": check_kind(kind), "inputs": inputs, "format": FORMAT_VERSION})
    return f"{kind}-{hashlib.blake2b(text.encode(), digest_size=HASH_CHARS // 2).hexdigest()}"


def kind_of(key: str) -> str | None:
    """The kind part of a well-formed key, or None."""
    match = KEY_PATTERN.fullmatch(key)
    return match["kind"] if match else None
