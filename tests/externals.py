"""Helpers of the bundle and model-file tests: forget the external models a test registered."""

from __future__ import annotations

import pytest

from tui_recs.models import registry
from tui_recs.models.engine import ENGINES


@pytest.fixture(autouse=True)
def forget_external_models():
    """External models register at run time: each test's are unregistered after it."""
    names, engines = set(registry.names()), set(ENGINES)
    yield
    for name in set(registry.names()) - names:
        registry.unregister(name)
    for name in set(ENGINES) - engines:
        del ENGINES[name]


def one_line_error(capsys, argv: list[str]) -> str:
    """Run the command line, expecting exit 1 and exactly one line on stderr; that line."""
    from tui_recs.cli import main

    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-recs: error: "), lines
    return lines[0]
