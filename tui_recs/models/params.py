"""Hyperparameters declared as data: each model lists its :class:`Param` once, and the
constructor, validation, ``get_params``, the cache key, the command-line flags, the app's
retrain form, the Models view and the parameter table in docs/ all read that list.

No numpy here: the command line and the app read declarations before any data is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from tui_recs.errors import ModelError

#: What a parameter changes: the learned model (part of the cache key), only the speed of
#: training (threads), or only what training reports (set by the front ends themselves).
Effect = Literal["model", "speed", "reporting"]
#: The largest seed: numpy seeds any non-negative integer, this keeps seeds portable (uint32).
MAX_SEED = 2**32 - 1


class ParameterError(ModelError):
    """A hyperparameter value outside its declared type, range or choices."""

    def __init__(self, param: "Param", value: Any, model: str, allowed: str | None = None) -> None:
        self.param, self.value, self.model = param, value, model
        self.allowed = allowed or param.allowed
        super().__init__(f"{model} {param.name} must be {self.allowed} (got {value!r})")

    def for_flag(self) -> str:
        """The same complaint naming the command-line flag: "--alpha must be ... (got nan)"."""
        value = self.value if isinstance(self.value, str) else repr(self.value)
        return f"{self.param.flag} must be {self.allowed} for {self.model} (got {value})"


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, default, allowed values and meaning.

    Numbers must be finite and within [low, high] (``low_open``: strictly above ``low``);
    strings one of ``choices``. ``optional``: None is allowed too (``none_means`` says what
    it stands for). ``below_data_side``: the value must be below the smaller side of the
    users × items matrix (checked once the data is known, see :func:`check_fits`).
    """

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    none_means: str = ""
    effect: Effect = "model"
    #: The command-line flag without dashes (default: the name with "-" for "_").
    cli_name: str | None = None
    below_data_side: bool = False

    @property
    def flag(self) -> str:
        return "--" + (self.cli_name or self.name.replace("_", "-"))

    @property
    def in_key(self) -> bool:
        """Whether the parameter changes the learned model (and so the cache key)."""
        return self.effect == "model"

    @property
    def allowed(self) -> str:
        """The allowed values in words: "one of cg, cholesky", "an integer from 1 to 1024"."""
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        elif self.kind is str:
            text = "text"
        elif self.kind is int:
            text = f"an integer from {_number(self.low)} to {_number(self.high)}"
        else:
            above = ">" if self.low_open else ">="
            text = f"a finite number {above} {_number(self.low)} and <= {_number(self.high)}"
        if self.below_data_side:
            text += ", below the smaller side of the data"
        return text + (f", or none ({self.none_means})" if self.optional else "")

    def parse(self, text: str) -> Any:
        """``text`` as this parameter's type (a blank or "none" is None where allowed);
        ValueError when it is not one. Range checks are :meth:`check`'s."""
        text = text.strip()
        if self.optional and text.lower() in ("", "none"):
            return None
        if self.kind is int:
            return int(text)
        if self.kind is float:
            return float(text)
        return text

    def check(self, value: Any, model: str) -> Any:
        """``value`` converted to this parameter's type; ParameterError when it is of another
        type, not finite, out of range or not a choice."""
        if value is None and self.optional:
            return None
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ParameterError(self, value, model)
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(self, value, model)
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ParameterError(self, value, model)
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value) or (self.low is not None and (
                value <= self.low if self.low_open else value < self.low)) or (
                self.high is not None and value > self.high):
            raise ParameterError(self, value, model)
        return value


def _number(value: float | None) -> str:
    if value is None:
        return "any"
    if float(value).is_integer() and abs(value) < 1e10:
        return f"{int(value)}"
    return f"{value:g}"


def resolve(params: Sequence[Param], given: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Every parameter of ``params``: ``given`` over the defaults, each value checked.
    A name not declared is a ModelError naming the ones that are."""
    declared = {param.name: param for param in params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        accepted = ", ".join(declared) or "none"
        raise ModelError(f"{model} has no hyperparameter {unknown[0]!r} (it takes: {accepted})")
    return {name: param.check(given.get(name, param.default), model)
            for name, param in declared.items()}


def check_fits(params: Sequence[Param], values: Mapping[str, Any], model: str,
               n_users: int, n_items: int) -> None:
    """ParameterError when a value that must stay below the smaller side of the users × items
    matrix (LSA's factors) does not."""
    limit = min(n_users, n_items)
    for param in params:
        value = values.get(param.name)
        if param.below_data_side and value is not None and value >= limit:
            raise ParameterError(param, value, model, allowed=(
                f"below {limit:,}, the smaller side of the data ({n_users:,} listeners × "
                f"{n_items:,} artists)"))


def key_params(params: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that change the learned model (the cache key's), sorted by name."""
    return {param.name: values[param.name] for param in sorted(params, key=lambda p: p.name)
            if param.in_key and param.name in values}


#: Every model's seed: a fixed default so that the same command gives the same numbers.
SEED = Param("random_state", int, 0, "random seed", low=0, high=MAX_SEED, cli_name="seed")
#: Numba threads during training (a speed setting: not in the cache key).
THREADS = Param("num_threads", int, None, "threads for training", low=1, high=1024,
                optional=True, none_means="all cores", effect="speed", cli_name="threads")
