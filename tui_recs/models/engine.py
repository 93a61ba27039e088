"""Who trains a model: an engine takes an unfitted model and the users × items play counts and
returns the learned arrays, exactly those :meth:`Recommender.from_arrays` loads. The local
engine runs the model's own ``fit`` (Numba and BLAS in this process or its child); an external
one (Spark MLlib next) computes the same arrays elsewhere. Either way the result is cached,
indexed, queried and explored alike. The engine is part of a trained model's identity (and so
of its cache key): another engine may give other numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from tui_recs.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

    from tui_recs.models.base import FitCallback, Recommender


class Engine(ABC):
    """Trains models; ``name`` is recorded with each model it trained."""

    name: ClassVar[str]
    #: How it is named on screen.
    title: ClassVar[str]

    @abstractmethod
    def train(self, model: "Recommender", user_items: "sp.csr_matrix",
              callback: "FitCallback | None" = None) -> dict[str, "np.ndarray"]:
        """The arrays ``model`` (unfitted, with its hyperparameters) learns from
        ``user_items`` (users × items float32 CSR of plays); ``callback`` as for ``fit``."""


class LocalEngine(Engine):
    """The model's own ``fit``, here (Numba kernels and BLAS)."""

    name = "local"
    title = "local (Numba)"

    def train(self, model: "Recommender", user_items: "sp.csr_matrix",
              callback: "FitCallback | None" = None) -> dict[str, "np.ndarray"]:
        return model.fit(user_items, callback=callback).to_arrays()


#: Engines by name, or "module:Class" of those made on first use (Spark: the optional
#: pyspark, imported only then); the first is the default.
ENGINES: dict[str, "Engine | str"] = {LocalEngine.name: LocalEngine(),
                                      "spark": "tui_recs.spark.engine:SparkEngine"}
DEFAULT_ENGINE = LocalEngine.name


def engine(name: str) -> Engine:
    """The engine called ``name``."""
    try:
        found = ENGINES[name]
    except KeyError:
        raise ModelError(f"unknown engine {name!r}: choose from {', '.join(ENGINES)}") from None
    if isinstance(found, str):
        from importlib import import_module

        module, cls = found.split(":")
        found = ENGINES[name] = getattr(import_module(module), cls)()
    return found
