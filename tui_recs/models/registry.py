"""Algorithms by name, imported only when used (numba and scipy load on demand)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tui_recs.errors import ModelError
from tui_recs.models.base import Recommender

#: Command-line name -> "module:class".
ALGORITHMS = {
    "als": "tui_recs.models.als:ALS",
    "lsa": "tui_recs.models.lsa:LSA",
    "popularity": "tui_recs.models.popularity:Popularity",
}


def model_class(name: str) -> type[Recommender]:
    """The Recommender class registered as ``name``."""
    try:
        module, cls = ALGORITHMS[name].split(":")
    except KeyError:
        raise ModelError(f"unknown model {name!r}: choose from {', '.join(ALGORITHMS)}") from None
    return getattr(import_module(module), cls)


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; an unknown hyperparameter is a ModelError naming it."""
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError as error:
        raise ModelError(f"bad hyperparameter for {name}: {error}") from None
