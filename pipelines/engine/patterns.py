"""Patterns: a workflow's graph of stages as data, validated before anything runs.

A :class:`Stage` says which event kinds it consumes and produces, whether it is shared by all
lanes or per lane, and whether it is *dense* (a batch function over the time axis: data,
features, signals) or *sparse* (step handlers folded over the few events where something
changes). ``validate`` refuses, with the reason, a pattern where

* a stage consumes a kind no stage produces,
* a stage produces a kind nobody consumes and the pattern does not sink,
* a sparse stage lacks a handler for a kind it consumes, or two sparse stages consume one kind,
* dense work feeding the fold depends on anything the fold produces (a dense stage that
  consumes sparse output — the ledger — must not produce what reaches a sparse stage, directly
  or through other dense stages),
* the routes form a cycle other than through the declared feedback kinds (fills, rejections).

``container_for`` turns a valid pattern's sparse stages into the :class:`Container` the
runner folds.
"""
from __future__ import annotations

from collections.abc import Callable

import attrs
import toolz

from fp import execution, portfolio, risk
from pipelines.engine.container import Container
from state.errors import PatternError
from state.events import (
    FeaturesComputed,
    FillQuote,
    OrderApproved,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    SignalChanged,
)
from state.ledger import Trades
from state.market import BarClosed

__all__ = ["FULL_BACKTEST", "PATTERNS", "SIGNAL_GENERATION", "SIGNAL_REPLAY", "Pattern", "Stage", "container_for",
           "validate"]


@attrs.frozen
class Stage:
    """One stage of a pattern (see the module docstring)."""

    name: str
    scope: str = attrs.field(validator=attrs.validators.in_(("shared", "lane")))
    form: str = attrs.field(validator=attrs.validators.in_(("dense", "sparse")))
    consumes: tuple[type, ...] = ()
    produces: tuple[type, ...] = ()
    handlers: tuple[tuple[type, Callable], ...] = ()
    doc: str = ""


@attrs.frozen
class Pattern:
    """A named graph of stages; ``sinks`` leave as results, ``feedback`` may close a cycle."""

    name: str
    stages: tuple[Stage, ...]
    sinks: tuple[type, ...] = ()
    feedback: tuple[type, ...] = ()
    doc: str = ""

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def shared(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.scope == "shared")

    @property
    def per_lane(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.scope == "lane")


def _kind(k: type) -> str:
    return k.__name__


def validate(pattern: Pattern) -> Pattern:
    """``pattern`` itself when it is well formed, else :class:`PatternError` with the reason."""
    where = f"pattern {pattern.name!r}"
    names = [s.name for s in pattern.stages]
    if len(set(names)) != len(names):
        raise PatternError(f"{where}: stage names repeat: {names}")
    producers = toolz.valmap(lambda pairs: [s for _, s in pairs],
                             toolz.groupby(0, [(k, s) for s in pattern.stages for k in s.produces]))
    consumers = toolz.valmap(lambda pairs: [s for _, s in pairs],
                             toolz.groupby(0, [(k, s) for s in pattern.stages for k in s.consumes]))
    for s in pattern.stages:
        for k in s.consumes:
            if k not in producers:
                raise PatternError(f"{where}: stage {s.name!r} consumes {_kind(k)}, which no stage produces")
    feeding = _feeding_the_fold(pattern, consumers)
    for s in pattern.stages:
        feeds_fold = s.name in feeding
        for k in s.consumes:
            if s.form == "dense" and feeds_fold and any(p.form == "sparse" for p in producers[k]):
                raise PatternError(
                    f"{where}: dense stage {s.name!r} feeds the fold but consumes {_kind(k)} from it; "
                    "dense work before the fold may depend on market data only")
    for s in pattern.stages:
        for k in s.produces:
            if k not in consumers and k not in pattern.sinks:
                raise PatternError(f"{where}: stage {s.name!r} produces {_kind(k)}, which nothing consumes or sinks")
    for s in pattern.stages:
        if s.form == "sparse":
            handled = {k for k, _ in s.handlers}
            missing = [k for k in s.consumes if k not in handled]
            if missing:
                raise PatternError(f"{where}: sparse stage {s.name!r} has no handler for {_kind(missing[0])}")
    for k, cs in consumers.items():
        sparse = [c.name for c in cs if c.form == "sparse"]
        if len(sparse) > 1:
            raise PatternError(f"{where}: {_kind(k)} is consumed by several sparse stages {sparse}; route it to one")
    _refuse_cycles(pattern, producers, where)
    return pattern


def _feeding_the_fold(pattern: Pattern, consumers: dict) -> set[str]:
    """Dense stages whose output reaches a sparse stage, directly or through other dense stages."""
    feeding: set[str] = set()
    changed = True
    while changed:
        changed = False
        for s in pattern.stages:
            if s.form == "dense" and s.name not in feeding and any(
                    c.form == "sparse" or c.name in feeding for out in s.produces for c in consumers.get(out, ())):
                feeding.add(s.name)
                changed = True
    return feeding


def _refuse_cycles(pattern: Pattern, producers: dict, where: str) -> None:
    edges: dict[str, set[str]] = {s.name: set() for s in pattern.stages}
    for s in pattern.stages:
        for k in s.consumes:
            if k in pattern.feedback:
                continue
            for p in producers.get(k, ()):
                edges[p.name].add(s.name)
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                raise PatternError(f"{where}: cycle {' -> '.join(cycle)} is not through a feedback kind")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for s in pattern.stages:
        if s.name not in state:
            visit(s.name, [s.name])


def container_for(pattern: Pattern) -> Container:
    """The reducer folding a valid pattern's sparse stages: each consumed kind routed to its handler."""
    validate(pattern)
    routes = {k: h for s in pattern.stages if s.form == "sparse" for k, h in s.handlers}
    return Container(pattern.name, routes)


_DATA = Stage("data", "shared", "dense", produces=(BarClosed,), doc="market data: bars")
_FEATURE_HUB = Stage("feature_hub", "shared", "dense", consumes=(BarClosed,), produces=(FeaturesComputed,),
                     doc="each distinct feature computed once")
_STRATEGY = Stage("strategy", "lane", "dense", consumes=(FeaturesComputed,), produces=(SignalChanged,),
                  doc="stateless signals; only changes leave the stage")
_ORDERS = Stage("orders", "lane", "dense", consumes=(SignalChanged, BarClosed),
                produces=(OrderSubmitted, FillQuote, OrderExpired),
                doc="signal changes and exits become orders with the bar and price they fill at "
                    "(first-passage searches over the bars)")
_PORTFOLIO = Stage("portfolio", "lane", "sparse", consumes=(OrderFilled,),
                   handlers=((OrderFilled, portfolio.apply_fill),), doc="pays for fills")
_RISK = Stage("risk", "lane", "sparse", consumes=(OrderSubmitted,), produces=(OrderApproved,),
              handlers=((OrderSubmitted, risk.review_order),),
              doc="direction policy, restrictions and position caps (the other limits when orders are sized)")
_EXECUTION = Stage("execution", "shared", "sparse", consumes=(OrderApproved, FillQuote),
                   produces=(OrderFilled, OrderRejected),
                   handlers=((OrderApproved, execution.accept_order), (FillQuote, execution.fill_pending)),
                   doc="one fill model; a book of pending orders per lane")
_LEDGER = Stage("ledger", "lane", "dense", consumes=(OrderFilled,), produces=(Trades,),
                doc="equity marked at every close, trades matched first in, first out")

FULL_BACKTEST = validate(Pattern(
    "full_backtest",
    (_DATA, _FEATURE_HUB, _STRATEGY, _ORDERS, _RISK, _EXECUTION, _PORTFOLIO, _LEDGER),
    sinks=(OrderRejected, OrderExpired, Trades),
    feedback=(OrderFilled,),
    doc="data → FeatureHub → strategies → orders → risk → execution → portfolios → ledger",
))

SIGNAL_GENERATION = validate(Pattern(
    "signal_generation",
    (Stage("data", "shared", "dense", produces=(BarClosed,), doc="market data"), _FEATURE_HUB, _STRATEGY),
    sinks=(SignalChanged,),
    doc="data → FeatureHub → strategies → signal store (only the bars where a signal changes)",
))

SIGNAL_REPLAY = validate(Pattern(
    "signal_replay",
    (Stage("signal_store", "shared", "dense", produces=(SignalChanged,), doc="stored signal changes, read back"),
     _DATA, _ORDERS, _RISK, _EXECUTION, _PORTFOLIO, _LEDGER),
    sinks=(OrderRejected, OrderExpired, Trades),
    feedback=(OrderFilled,),
    doc="signal store → orders → risk → execution → portfolios → ledger (no features, no strategies)",
))

PATTERNS: dict[str, Pattern] = {p.name: p for p in (FULL_BACKTEST, SIGNAL_GENERATION, SIGNAL_REPLAY)}
