"""The component registry: every built-in component by kind and name, with its parameter schema.

Kinds: ``feature``, ``strategy``, ``classifier``, and the settings sections ``portfolio``, ``execution``,
``risk`` (whose parameters are gridable like a strategy's). ``lookup`` is pure; the spec loader
turns a missing name into an error naming the spec path.
"""
from __future__ import annotations

from typing import Any

from fp.classifiers import CLASSIFIERS
from fp.features import FEATURES
from fp.strategies import STRATEGIES
from state.params import Param

__all__ = ["SETTINGS", "Settings", "kinds", "lookup", "names"]


class Settings:
    """A settings section's schema (``portfolio``, ``execution``, ``risk``)."""

    def __init__(self, name: str, params: tuple[Param, ...], doc: str) -> None:
        self.name, self.params, self.doc = name, params, doc

    def __repr__(self) -> str:
        return f"Settings({self.name!r})"


SETTINGS: dict[str, Settings] = {
    s.name: s
    for s in (
        Settings("portfolio", (
            Param("initial_cash", "float", 10_000.0, minimum=0.0, exclusive_minimum=True, doc="starting cash"),
            Param("sizing", "str", "all_in", choices=("all_in", "fixed_fraction"),
                  doc="all_in invests all equity on a full signal; fixed_fraction invests `fraction` of it"),
            Param("fraction", "float", 1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="share of equity per position with sizing: fixed_fraction"),
            Param("fractional", "bool", False, doc="trade fractional units instead of whole ones"),
            Param("direction", "str", "long_only", choices=("long_only", "long_short"),
                  doc="long_only turns short signals into flat"),
        ), "Cash, sizing and direction of each lane's portfolio."),
        Settings("execution", (
            Param("fill", "str", "next_open", choices=("next_open", "close"),
                  doc="fill market orders at the next bar's open or at the signal bar's close"),
            Param("commission", "float", 0.0, minimum=0.0, maximum=0.5,
                  doc="fraction of traded value paid on every fill (0.002 = 0.2 %)"),
            Param("slippage_bps", "float", 0.0, minimum=0.0, maximum=10_000.0,
                  doc="price moved against the trader, in basis points, clipped to the bar's range"),
        ), "How orders fill and what they cost."),
        Settings("risk", (
            Param("max_position", "float", None, minimum=0.0, doc="cap on the absolute units held (none by default)"),
        ), "Limits every order is reviewed against."),
    )
}

_REGISTRY: dict[str, dict[str, Any]] = {
    "feature": FEATURES,
    "strategy": STRATEGIES,
    "classifier": CLASSIFIERS,
    **{name: {name: s} for name, s in SETTINGS.items()},
}


def kinds() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def names(kind: str) -> tuple[str, ...]:
    """Registered names of a kind, sorted.

    >>> names("strategy")
    ('breakout', 'mean_reversion', 'momentum', 'sma_crossover')
    """
    return tuple(sorted(_REGISTRY[kind]))


def lookup(kind: str, name: str) -> Any:
    """The component ``name`` of ``kind``; ``KeyError`` when there is none."""
    return _REGISTRY[kind][name]
