"""The component registry: every built-in component by kind and name, with its parameter schema.

Kinds: ``feature``, ``strategy``, ``classifier``, and the settings sections ``portfolio``, ``execution``,
``risk`` (whose parameters are gridable like a strategy's). ``lookup`` is pure; the spec loader
turns a missing name into an error naming the spec path.

Custom components (an author's own features, strategies and classifiers, see ``fp.components``)
travel as a value, never as global state: a :class:`Registry` is an immutable set of components
by kind and name, :data:`BUILTINS` holds the built-ins, and ``with_component`` returns a new
registry with one more. The spec loader resolves import paths (``mypkg.signals:ema_ribbon``) into
``Spec.components``; :func:`registry_of` turns those into the registry a run looks names up in.
"""
from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from fp.catalog import BUILTIN_FEATURES
from fp.classifiers import CLASSIFIERS, Classifier
from fp.features import Feature
from fp.objectives import Objective
from fp.sizing import SIZERS
from fp.strategies import STRATEGIES, Strategy
from fp.talib_features import is_talib_name
from fp.templates import TEMPLATES
from state.errors import AdmfError, ComponentError, UnknownComponentError
from state.orders import ORDER_TYPES
from state.params import Param

__all__ = ["BUILTINS", "BUILTIN_STRATEGIES", "COMPONENT_KINDS", "Registry", "SETTINGS", "Settings", "kinds", "lookup",
           "names", "registry_of"]

#: The record type of each component kind a :class:`Registry` holds.
COMPONENT_KINDS: Mapping[str, type] = MappingProxyType(
    {"feature": Feature, "strategy": Strategy, "classifier": Classifier, "objective": Objective})


@attrs.frozen(eq=False)
class Registry:
    """Features, strategies, classifiers and objectives by name: an immutable value (see the module
    docstring). There are no built-in objectives: a metric's name is an objective of its own.

    >>> BUILTINS.strategy("momentum").name
    'momentum'
    >>> custom = attrs.evolve(BUILTINS.strategy("momentum"), name="mypkg:fast_momentum")
    >>> registry = BUILTINS.with_component("strategy", custom)
    >>> registry.strategy("mypkg:fast_momentum") is custom, "mypkg:fast_momentum" in BUILTINS.strategies
    (True, False)
    """

    features: Mapping[str, Feature]
    strategies: Mapping[str, Strategy]
    classifiers: Mapping[str, Classifier]
    objectives: Mapping[str, Objective] = MappingProxyType({})

    def of(self, kind: str) -> Mapping[str, Any]:
        """The components of ``kind`` (``feature``, ``strategy``, ``classifier`` or ``objective``) by name."""
        if kind not in COMPONENT_KINDS:
            raise ComponentError(f"kind={kind!r}: must be one of {', '.join(COMPONENT_KINDS)}")
        return getattr(self, _FIELD[kind])

    def get(self, kind: str, name: str) -> Any:
        """The component ``name`` of ``kind``; :class:`UnknownComponentError` (a ``KeyError``) naming
        what is registered when there is none
        (for a ``talib.`` feature: TA-Lib's reason, or ``MissingExtraError`` without the ``ta`` extra)."""
        components = self.of(kind)
        try:
            return components[name]
        except AdmfError:
            raise
        except KeyError:
            known = [n for n in components if not is_talib_name(n)] if kind == "feature" else list(components)
            talib = ", and TA-Lib's functions as talib.<NAME> (the ta extra)" if kind == "feature" else ""
            raise UnknownComponentError(f"no {kind} {name!r} in the registry (it has {', '.join(sorted(known)) or 'none'}"
                                        f"{talib}); a custom {kind} is registered by its import path when a spec "
                                        "names it") from None

    def feature(self, name: str) -> Feature:
        return self.get("feature", name)

    def strategy(self, name: str) -> Strategy:
        return self.get("strategy", name)

    def classifier(self, name: str) -> Classifier:
        return self.get("classifier", name)

    def objective(self, name: str) -> Objective:
        return self.get("objective", name)

    def with_component(self, kind: str, component: Any) -> "Registry":
        """A new registry with ``component`` added under its name; this one is not modified.

        Adding the same record again is a no-op; a different record under a taken name is a
        :class:`ComponentError` (two components may not share a name, or a FeatureHub key would alias).
        """
        components = self.of(kind)
        expected = COMPONENT_KINDS[kind]
        if not isinstance(component, expected):
            raise ComponentError(f"a {kind} component must be a {expected.__name__} record; got "
                                 f"{type(component).__name__}")
        if kind == "feature" and is_talib_name(component.name):
            raise ComponentError(f"feature name {component.name!r} is reserved for TA-Lib's functions: give the custom "
                             "feature another name (its import path, 'module:attribute', is unique)")
        taken = components.get(component.name)
        if taken is component:
            return self
        if taken is not None:
            origin = "a built-in" if component.name in BUILTINS.of(kind) else "another"
            raise ComponentError(f"{kind} name {component.name!r} is already taken by {origin} {kind}: give the custom "
                             f"{kind} another name (its import path, 'module:attribute', is unique)")
        added = ChainMap({component.name: component}, components)  # the built-in features stay lazy
        return attrs.evolve(self, **{_FIELD[kind]: MappingProxyType(added)})

    def with_components(self, components: Iterable[tuple[str, str, Any]]) -> "Registry":
        """A new registry with every ``(kind, name, component)`` added (``name`` is the component's)."""
        registry = self
        for kind, name, component in components:
            if name != component.name:
                raise ComponentError(f"{kind} registered as {name!r} is named {component.name!r}")
            registry = registry.with_component(kind, component)
        return registry


_FIELD = {"feature": "features", "strategy": "strategies", "classifier": "classifiers", "objective": "objectives"}

#: Every built-in strategy: the basic four (``fp.strategies``) and the templates (``fp.templates``), a live view.
BUILTIN_STRATEGIES: Mapping[str, Strategy] = MappingProxyType(ChainMap(STRATEGIES, TEMPLATES))

#: The built-in components (read-only views of ``fp.catalog.BUILTIN_FEATURES`` — the basic
#: features, the native indicators, TA-Lib's functions — the strategies and ``CLASSIFIERS``).
BUILTINS = Registry(BUILTIN_FEATURES, BUILTIN_STRATEGIES, MappingProxyType(CLASSIFIERS))


def registry_of(components: Iterable[tuple[str, str, Any]] | Any) -> Registry:
    """The registry of a spec (or of its ``components``): the built-ins plus its custom components.

    >>> registry_of(()) is BUILTINS
    True
    """
    components = getattr(components, "components", components)
    return BUILTINS.with_components(components) if components else BUILTINS


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
            Param("sizing", "str", "all_in", choices=SIZERS,
                  doc="all_in invests all equity on a full signal; fixed_fraction a `fraction` of equity; "
                      "fixed_units `size` units; fixed_cash `size` in cash; volatility targets "
                      "`target_volatility` (annualised); atr risks `risk_per_trade` of equity over "
                      "`atr_multiple` ATRs; kelly bets `kelly_fraction` of the Kelly fraction (mean / variance "
                      "of returns) — the last three over `sizing_lookback` bars, capped at `size_cap` of equity"),
            Param("fraction", "float", 1.0, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="share of equity per position with sizing: fixed_fraction"),
            Param("size", "float", None, minimum=0.0, exclusive_minimum=True,
                  doc="units (fixed_units) or cash (fixed_cash) per full signal"),
            Param("target_volatility", "float", 0.15, minimum=0.0, exclusive_minimum=True,
                  doc="annualised volatility the volatility sizer aims for"),
            Param("risk_per_trade", "float", 0.01, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="share of equity the atr sizer risks over atr_multiple ATRs"),
            Param("atr_multiple", "float", 2.0, minimum=0.0, exclusive_minimum=True, doc="ATRs of risk per unit (atr sizer)"),
            Param("kelly_fraction", "float", 0.5, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="share of the Kelly fraction the kelly sizer bets (0.5 = half Kelly)"),
            Param("sizing_lookback", "int", 20, minimum=2, doc="bars the volatility, atr and kelly sizers look back"),
            Param("size_cap", "float", 1.0, minimum=0.0, exclusive_minimum=True,
                  doc="most equity (1 = 100 %) the volatility, atr and kelly sizers may ask for"),
            Param("fractional", "bool", False, doc="trade fractional units instead of whole ones"),
            Param("direction", "str", "long_only", choices=("long_only", "long_short"),
                  doc="long_only turns short signals into flat"),
            Param("shared_cash", "bool", False,
                  doc="one portfolio per combination trades every symbol of the data from one cash account "
                      "(sizing and risk see the whole portfolio); by default each symbol gets its own"),
        ), "Cash, sizing and direction of each lane's portfolio."),
        Settings("execution", (
            Param("fill", "str", "next_open", choices=("next_open", "close"),
                  doc="fill market orders at the next bar's open or at the signal bar's close"),
            Param("order_type", "str", "market", choices=ORDER_TYPES,
                  doc="how orders that open a position reach the market (closing orders are market orders)"),
            Param("limit_offset", "float", 0.0, minimum=0.0, maximum=0.5,
                  doc="a limit buy rests this fraction below the signal close (a stop-limit: above its stop)"),
            Param("stop_offset", "float", 0.0, minimum=0.0, maximum=0.5,
                  doc="a stop buy triggers this fraction above the signal close"),
            Param("time_in_force", "str", "gtc", choices=("gtc", "day"),
                  doc="an unfilled entry works until the next signal change (gtc) or for one trading day"),
            Param("commission", "float", 0.0, minimum=0.0, maximum=0.5,
                  doc="fraction of traded value paid on every fill (0.002 = 0.2 %)"),
            Param("commission_per_share", "float", 0.0, minimum=0.0, doc="commission per unit traded"),
            Param("commission_min", "float", 0.0, minimum=0.0, doc="minimum commission of a fill"),
            Param("commission_fixed", "float", 0.0, minimum=0.0, doc="fixed fee per fill"),
            Param("commission_tiers", "tiers", None,
                  doc="tiered commission by notional, replacing commission: [[0, 0.002], [100000, 0.001]]"),
            Param("slippage_bps", "float", 0.0, minimum=0.0, maximum=10_000.0,
                  doc="price moved against the trader, in basis points, clipped to the bar's range"),
            Param("slippage_fixed", "float", 0.0, minimum=0.0, doc="price moved against the trader per unit"),
            Param("impact", "float", 0.0, minimum=0.0,
                  doc="market impact: price moves impact × (order size / bar volume) against the trader"),
            Param("participation", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="most of a bar's volume one fill may take; the rest fills over the next bars"),
            Param("participation_bars", "int", 10, minimum=0,
                  doc="bars an order the participation cap left partly unfilled keeps working"),
        ), "How orders reach the market, fill and what they cost."),
        Settings("exits", (
            Param("stop_loss", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="exit when the price moves this fraction against the entry"),
            Param("take_profit", "float", None, minimum=0.0, exclusive_minimum=True,
                  doc="exit when the price moves this fraction in favour of the entry"),
            Param("trailing_stop", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="exit when the price falls this fraction from its best since the entry"),
            Param("stop_loss_atr", "float", None, minimum=0.0, exclusive_minimum=True,
                  doc="stop loss at this many ATRs from the entry"),
            Param("take_profit_atr", "float", None, minimum=0.0, exclusive_minimum=True,
                  doc="take profit at this many ATRs from the entry"),
            Param("trailing_stop_atr", "float", None, minimum=0.0, exclusive_minimum=True,
                  doc="trailing stop this many ATRs from the best price since the entry"),
            Param("atr_period", "int", 14, minimum=1, doc="ATR period of the *_atr exits"),
            Param("max_holding_bars", "int", None, minimum=1, doc="close the position this many bars after entry"),
            Param("exit_priority", "str", "stop_first", choices=("stop_first", "target_first"),
                  doc="which exit fills when one bar reaches both a stop and the take-profit"),
        ), "Exits of every position (a strategy entry's own exits replace these)."),
        Settings("risk", (
            Param("max_position", "float", None, minimum=0.0, doc="cap on the absolute units held (none by default)"),
            Param("max_position_value", "float", None, minimum=0.0, doc="cap on one position's value"),
            Param("max_position_pct", "float", None, minimum=0.0, doc="cap on one position's value / equity"),
            Param("max_gross_exposure", "float", None, minimum=0.0, doc="cap on the sum of absolute position values"),
            Param("max_net_exposure", "float", None, minimum=0.0, doc="cap on the absolute sum of position values"),
            Param("max_leverage", "float", None, minimum=0.0, doc="cap on gross exposure / equity"),
            Param("max_concentration", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="cap on one symbol's share of gross exposure beside the other holdings of a shared-cash "
                      "portfolio"),
            Param("daily_loss_limit", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="no new entries for the rest of the day once this fraction of the day's equity is lost"),
            Param("max_drawdown_limit", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="no new entries for the rest of the run once equity is this fraction below its peak"),
            Param("restricted", "symbols", (), doc="symbols that may not be traded"),
        ), "Limits every order is reviewed against."),
    )
}

_REGISTRY: dict[str, Mapping[str, Any]] = {
    "feature": BUILTIN_FEATURES,
    "strategy": BUILTIN_STRATEGIES,
    "classifier": CLASSIFIERS,
    **{name: {name: s} for name, s in SETTINGS.items()},
}


def kinds() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def names(kind: str) -> tuple[str, ...]:
    """Registered names of a kind, sorted.

    >>> names("strategy")[:4]
    ('bollinger_breakout', 'bollinger_reversion', 'breakout', 'donchian_breakout')
    """
    return tuple(sorted(_REGISTRY[kind]))


def lookup(kind: str, name: str) -> Any:
    """The component ``name`` of ``kind``; ``KeyError`` when there is none."""
    return _REGISTRY[kind][name]
