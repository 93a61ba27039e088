"""What the stochastic-gradient factor models (BPR, logistic MF, SGD-MF) share: an epoch loop
that reports each epoch's loss and measures, honours cancellation and stops on divergence,
and a clear refusal where a model cannot fold in a new listener.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from tui_recs.errors import ModelError
from tui_recs.models.base import FactorModel, FitCallback
from tui_recs.models.params import Param

if TYPE_CHECKING:
    import scipy.sparse as sp

#: One epoch: ``step(epoch)`` -> (loss, {measure: value}) after updating the factors.
EpochStep = Callable[[int], "tuple[float, dict[str, float]]"]


def learning_rate(default: float) -> Param:
    return Param("learning_rate", float, default, "SGD step size", low=0, low_open=True,
                 high=100)


def epochs(default: int) -> Param:
    return Param("iterations", int, default, "epochs (passes over the observed plays)", low=1,
                 high=10_000)


class EpochModel(FactorModel):
    """A factor model trained epoch by epoch; after ``fit``, ``curves`` maps each measure
    ("loss" and the model's own, such as "correct" or "validation_rmse") to its value per
    epoch, and ``loss_history`` is [(epoch, loss)]."""

    iterations: int

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.curves: dict[str, list[float]] = {}
        self.loss_history: list[tuple[int, float]] = []

    def _run_epochs(self, step: EpochStep, callback: FitCallback | None, cancel: Any) -> None:
        """Run ``step`` for each epoch; ``callback(epoch, seconds, loss, measures)`` after
        each (returning False stops), as does ``cancel.is_set()``. A non-finite loss or
        factor is a ModelError naming the learning rate."""
        self.curves, self.loss_history = {}, []
        for epoch in range(1, self.iterations + 1):
            started = time.perf_counter()
            loss, measures = step(epoch)
            self.__dict__.pop("_normalized", None)  # the factors changed in place
            if not (np.isfinite(loss) and _finite(self.user_factors)
                    and _finite(self.item_factors)):
                raise ModelError(f"{self.title} diverged at epoch {epoch} (factors became NaN "
                                 f"or infinite): lower --learning-rate (now "
                                 f"{self.learning_rate:g})")
            self.loss_history.append((epoch, loss))
            for name, value in {"loss": loss, **measures}.items():
                self.curves.setdefault(name, []).append(float(value))
            seconds = time.perf_counter() - started
            if callback is not None and callback(epoch, seconds, loss, measures) is False:
                break
            if cancel is not None and cancel.is_set():
                break


class NoFoldIn:
    """Mixin of models whose listener vectors exist only for the listeners they were
    trained on: a new listener's vector would need an optimisation of its own (the
    per-listener objective has no closed form), which they do not run."""

    title: str

    def score_history(self, history: "sp.csr_matrix") -> np.ndarray:
        raise ModelError(f"{self.title} cannot recommend for a new listener (its listener "
                         "vectors are learned only for the listeners of the data): choose a "
                         "listener, or a model that folds listeners in (als, lsa, sgd-mf)")


def _finite(values: np.ndarray) -> bool:
    """No NaN or infinity, from the extremes (no boolean copy of the factors)."""
    return values.size == 0 or bool(np.isfinite(values.min()) and np.isfinite(values.max()))


def sorted_csr(user_items: "sp.csr_matrix") -> "sp.csr_matrix":
    """``user_items`` as CSR with sorted rows (a sorted copy when they are not)."""
    user_items = user_items.tocsr()
    return user_items if user_items.has_sorted_indices else user_items.sorted_indices()

