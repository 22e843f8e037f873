"""Parameter schemas: what a component accepts, checked at the boundary with precise errors."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from state.errors import SpecError

__all__ = ["LIST_KINDS", "REQUIRED", "Param"]

#: Value kinds. ``symbols`` (a list of names) and ``tiers`` (a list of ``[bound, rate]`` pairs,
#: bounds from 0 ascending) are list-valued: one value each, never a grid.
_KINDS = ("int", "float", "str", "bool", "symbols", "tiers")
LIST_KINDS = ("symbols", "tiers")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a parameter that has none: the spec must give a value.
REQUIRED: Any = _Required()


@attrs.frozen
class Param:
    """One declared parameter: its type, bounds or choices, default and meaning.

    A parameter whose default is ``None`` is optional and accepts ``None`` (unset).

    >>> Param("period", "int", 20, minimum=1).check(5, "p")
    5
    >>> Param("period", "int", 20, minimum=1).check(0, "strategies[0].parameters.period")
    Traceback (most recent call last):
    ...
    state.errors.SpecError: strategies[0].parameters.period=0: must be an integer >= 1
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(_KINDS))
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        """Human-readable constraint, e.g. ``an integer >= 1`` or ``one of 'a', 'b'``."""
        noun = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                "symbols": "a list of symbols, e.g. [BTCUSD]",
                "tiers": "a list of [notional, rate] pairs from 0 up, e.g. [[0, 0.002], [100000, 0.001]]"}[self.kind]
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {_fmt(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"<= {_fmt(self.maximum)}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def check(self, value: Any, path: str) -> Any:
        """``value`` coerced to this parameter's type, or a :class:`SpecError` naming ``path``."""
        if value is None and self.default is None:
            return None
        given = value

        def bad() -> SpecError:  # built only when raised: describing the range costs more than checking it
            return SpecError(f"{path}={given!r}" if path else repr(given), f"must be {self.describe()}")
        if self.kind in LIST_KINDS:
            return _list_value(self.kind, value, bad)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad()
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise bad()
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        elif self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad()
                value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad()
        if self.choices is not None and value not in self.choices:
            raise bad()
        if self.minimum is not None:
            if value < self.minimum or (self.exclusive_minimum and value == self.minimum):
                raise bad()
        if self.maximum is not None and value > self.maximum:
            raise bad()
        return value


def _list_value(kind: str, value: Any, bad: Callable[[], SpecError]) -> tuple:
    if kind == "symbols":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) and x for x in items):
            raise bad()
        return tuple(sorted(set(items)))
    if not isinstance(value, (list, tuple)) or not value:
        raise bad()
    pairs = []
    for pair in value:
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in pair)
                or pair[1] < 0):
            raise bad()
        pairs.append((float(pair[0]), float(pair[1])))
    bounds = [b for b, _ in pairs]
    if bounds[0] != 0.0 or any(b >= c for b, c in zip(bounds, bounds[1:])):
        raise bad()
    return tuple(pairs)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
