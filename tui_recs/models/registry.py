"""The models by name: an open registry that the command line, the app, the pipeline and
evaluation read (none of them names a model).

A model is one module whose Recommender subclass declares itself (name, title, ``PARAMS``,
capabilities, ``trains_in_child``; see :class:`tui_recs.models.base.Recommender`), plus one
registration line: an entry of ``BUILT_IN`` here for the models that ship with tui-recs, or
a :func:`register` call. Entries are "module:Class" and imported on first use: the model
modules load numpy, which the command line must not do before it has parsed its arguments
(and the app before it has capped the BLAS threads).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tui_recs.errors import ModelError

if TYPE_CHECKING:
    from tui_recs.models.base import Recommender

#: The models that ship with tui-recs, in the order front ends list them (the default first).
BUILT_IN = {
    "als": "tui_recs.models.als:ALS",
    "lsa": "tui_recs.models.lsa:LSA",
    "popularity": "tui_recs.models.popularity:Popularity",
    "bm25": "tui_recs.models.itemknn:BM25KNN",
    "tfidf": "tui_recs.models.itemknn:TFIDFKNN",
    "cosine": "tui_recs.models.itemknn:CosineKNN",
    "bpr": "tui_recs.models.bpr:BPR",
    "lmf": "tui_recs.models.lmf:LMF",
    "sgd-mf": "tui_recs.models.sgd_mf:SGDMF",
}

#: The model answering each question when none is named, chosen by measurement on hetrec
#: (docs/defaults.md, benchmarks/choose_defaults.py): item-kNN BM25's related artists are
#: the most often played by listeners of the query artist among lists not dominated by
#: popularity; ALS ranks recommendations best (NDCG@10).
DEFAULTS = {"related": "bm25", "recommend": "als"}

#: name -> the class, or where to import it from.
_models: dict[str, "str | type[Recommender]"] = dict(BUILT_IN)


def register(model: "type[Recommender] | str", name: str | None = None) -> None:
    """Make a model known by its name, listed after those registered before it: a class, or
    "module:Class" with its ``name`` (imported on first use)."""
    if isinstance(model, str):
        if name is None:
            raise ModelError(f"registering {model!r} needs the model's name")
    else:
        name = model.name
    if name in _models and _models[name] != model:
        raise ModelError(f"a model named {name!r} is registered already")
    _models[name] = model


def unregister(name: str) -> None:
    """Forget model ``name`` (tests register models of their own)."""
    _models.pop(name, None)


def names() -> list[str]:
    """Every registered model's name, in registration order (nothing is imported)."""
    return list(_models)


def default_name() -> str:
    """The model answering when none is named: the first registered."""
    return next(iter(_models))


def default_for(question: str) -> str:
    """The model answering ``question`` ("related" or "recommend") when none is named: the
    measured choice of DEFAULTS while it is registered, else :func:`default_name`."""
    chosen = DEFAULTS.get(question)
    return chosen if chosen in _models else default_name()


def model_class(name: str) -> "type[Recommender]":
    """The Recommender class registered as ``name``."""
    try:
        entry = _models[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}: choose from {', '.join(_models)}") from None
    if isinstance(entry, str):
        module, cls = entry.split(":")
        entry = _models[name] = getattr(import_module(module), cls)
    return entry


def title(name: str) -> str:
    """How model ``name`` is named on screen ("als" -> "ALS"; an unknown name as is)."""
    return model_class(name).title if name in _models else name


def create(name: str, **params: Any) -> "Recommender":
    """A new, unfitted model; an unknown or invalid hyperparameter is a ModelError naming it."""
    return model_class(name)(**params)
