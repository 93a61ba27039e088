"""The models by name: an open registry that the command line, the app, the pipeline and
evaluation read (none of them names a model).

A model is one module whose Recommender subclass declares itself (name, title, ``PARAMS``,
capabilities, ``trains_in_child``; see :class:`tui_recs.models.base.Recommender`), plus one
:func:`register` call: a line of ``BUILT_IN`` here for the models that ship with tui-recs.
"""

from __future__ import annotations

from typing import Any

from tui_recs.errors import ModelError
from tui_recs.models.als import ALS
from tui_recs.models.base import Recommender
from tui_recs.models.lsa import LSA
from tui_recs.models.popularity import Popularity

#: The models that ship with tui-recs, in the order front ends list them (the default first).
BUILT_IN: tuple[type[Recommender], ...] = (ALS, LSA, Popularity)

_models: dict[str, type[Recommender]] = {}


def register(model: type[Recommender]) -> type[Recommender]:
    """Make ``model`` known by its ``name`` (listed after those registered before it);
    returns it, so that it can decorate the class."""
    if model.name in _models and _models[model.name] is not model:
        raise ModelError(f"a model named {model.name!r} is registered already")
    _models[model.name] = model
    return model


def unregister(name: str) -> None:
    """Forget model ``name`` (tests register models of their own)."""
    _models.pop(name, None)


def names() -> list[str]:
    """Every registered model's name, in registration order."""
    return list(_models)


def default_name() -> str:
    """The model answering when none is named: the first registered."""
    return next(iter(_models))


def model_class(name: str) -> type[Recommender]:
    """The Recommender class registered as ``name``."""
    try:
        return _models[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}: choose from {', '.join(_models)}") from None


def title(name: str) -> str:
    """How model ``name`` is named on screen ("als" -> "ALS"; an unknown name as is)."""
    model = _models.get(name)
    return model.title if model is not None else name


def create(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; an unknown or invalid hyperparameter is a ModelError naming it."""
    return model_class(name)(**params)


for _model in BUILT_IN:
    register(_model)
