"""Signal sources: where each combination's target changes come from, one symbol at a time.

:func:`computed_signals` is the backtest's source: the FeatureHub computes the plan's features once,
each distinct strategy point computes its signal once (settings grids reuse it), each distinct
classifier point fits once and gates or scales the strategies crossed with it. A replay's source
reads a signal store instead (``pipelines.engine.signal_store``). :func:`hold_signals` runs the
computed source once over every combination and symbol and keeps what it gave
(:class:`HeldSignals`): the source chunks of a plan fold, none of them computing a feature again.
Pure: no I/O (a caller may hand in features kept elsewhere, ``features=``).
"""
from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs
import numpy as np

from fp.classifiers import Regimes, classify, default_train_end
from fp.hub import compute_features, cross_symbol_features
from fp.regimes import ensemble_target, policy_factor
from fp.registry import BUILTINS, Registry, registry_of
from fp.strategies import held_targets, signal_changes
from state.errors import SpecError
from state.market import Bars, MarketData
from state.plan import Combination, FeatureKey, Plan

__all__ = ["NO_CHANGES", "ClassifierFit", "HeldSignals", "SignalSource", "SymbolSignals", "classifier_key",
           "computed_signals", "fitted", "from_bar", "hold_signals", "signal_key", "signal_of", "split_index",
           "with_market"]


@attrs.frozen
class SymbolSignals:
    """One symbol's signals: each combination's ``(bars, targets)`` changes, and its regime labels
    (``None`` without a classifier, or when the source does not know them)."""

    changes: Callable[[Combination], tuple[np.ndarray, np.ndarray]]
    labels: Callable[[Combination], np.ndarray | None] = lambda combo: None


#: Where a run's signals come from: ``source(plan, bars)`` gives one symbol's :class:`SymbolSignals`.
SignalSource = Callable[[Plan, Bars], SymbolSignals]


def signal_of(strategy_name: str, params: dict, features: dict, registry: Registry = BUILTINS) -> np.ndarray:
    """One strategy point's signal over the whole series, from the hub's computed features
    (``registry``: where names are looked up, the spec's custom components included)."""
    strategy = registry.strategy(strategy_name)
    refs = strategy.needs(params)
    values = {}
    for name, ref in refs.items():
        outputs = registry.feature(ref.key.name).outputs
        values[name] = features[ref.key][outputs.index(ref.output)]
    return np.asarray(strategy.signal(params, values), dtype=np.float64)


def split_index(split: tuple[str, object] | None, bars: Bars) -> int | None:
    """The first test bar of a ``data.split``: a fraction of the bars, or the bar after ``train_end``
    (a date: the last training trading day; a naive timestamp: a local time of the data; one with
    a UTC offset: an instant)."""
    if split is None:
        return None
    kind, value = split
    if kind == "train":
        return int(round(float(value) * len(bars)))
    text = str(value).strip()
    moment = datetime.fromisoformat(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # a date covers its whole trading day
        return int(np.searchsorted(bars.day, np.datetime64(moment.date(), "D").astype(np.int64), side="right"))
    if moment.tzinfo is not None:
        before = bars.time <= np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "ns")
    else:
        before = bars.local_time <= np.datetime64(moment, "ns")
    return int(np.flatnonzero(before)[-1]) + 1 if before.any() else 0


def classifier_key(combo: Combination) -> tuple:
    return combo.classifier, tuple(p for p in combo.classifier_params if p[0] != "regime_policy")


def signal_key(combo: Combination) -> tuple:
    """What a combination's signal depends on: its strategy and classifier points (not its
    settings: settings grids share one signal)."""
    return combo.strategy, combo.strategy_params, combo.classifier, combo.classifier_params


#: Where classifiers learn on one symbol: ``fit(bars) -> (first, train_end)``. A classifier sees the
#: bars from ``first`` on only, fits on bars ``[first, train_end)`` and labels from ``train_end``;
#: ``train_end`` ``None`` means its warm-up (:func:`fp.classifiers.default_train_end`) of the bars
#: it sees. Indices are of the bars the signal source is given.
ClassifierFit = Callable[[Bars], tuple[int, int | None]]


def computed_signals(plan: Plan, bars: Bars, market: MarketData | None = None, *,
                     fit: ClassifierFit | None = None, cross: Mapping | None = None,
                     features: Mapping[FeatureKey, tuple[np.ndarray, ...]] | None = None) -> SymbolSignals:
    """The backtest's signal source for one symbol.

    The FeatureHub computes the plan's features once (``market``: the other symbols that
    cross-symbol features read, ``fp.hub``); each distinct strategy point's signal is
    computed once (settings grids share it); each distinct classifier point is fitted once (one fit
    per classifier, parameters and symbol, shared by every strategy it is crossed with). A
    classified combination's target is the strategy's held target times its regime policy's factor.

    ``fit`` says where classifiers learn (see :data:`ClassifierFit`); by default, as in a backtest of
    the whole data, on the bars before the spec's ``data.split``, else on their warm-up. A workflow
    that evaluates parts of the data (train/test, walk-forward) always says where: the spec's split
    names bars of the whole data, not of the part a run is given.

    ``cross``: the other symbols' features, computed once for a run (``fp.hub.cross_symbol_features``;
    :func:`with_market` binds them), so that N symbols reading each other compute N features, not N².
    ``features``, when given, are the plan's features already computed on ``bars`` (the hub's
    output, :func:`fp.hub.compute_features`): they are used instead of computing them again.
    """
    registry = registry_of(plan.spec)
    first, train_end = fit(bars) if fit is not None else (0, split_index(plan.spec.data.split, bars))
    if train_end is None:
        _require_labels(plan, bars.slice(first, len(bars)), registry)
    if features is None:
        features = compute_features(bars, plan.features, registry=registry, market=market, cross=cross)
    held: dict[tuple, np.ndarray] = {}
    sparse: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    regimes: dict[tuple, Any] = {}

    def held_target(strategy: str, params: tuple) -> np.ndarray:
        if (strategy, params) not in held:
            held[(strategy, params)] = held_targets(signal_of(strategy, dict(params), features, registry),
                                                    registry.strategy(strategy).trigger)
        return held[(strategy, params)]

    def regime(combo: Combination):
        key = classifier_key(combo)
        if key not in regimes:
            name, params = key[0], dict(key[1])
            seen = bars.slice(first, len(bars))
            fitted_on = classify(registry.classifier(name), params, seen, None if train_end is None else train_end - first)
            regimes[key] = _from_bar_on(fitted_on, first)
        return regimes[key]

    def changes(combo: Combination) -> tuple[np.ndarray, np.ndarray]:
        key = signal_key(combo)
        if key in sparse:
            return sparse[key]
        if combo.classifier is None:
            signal = signal_of(combo.strategy, dict(combo.strategy_params), features, registry)
            sparse[key] = signal_changes(signal, registry.strategy(combo.strategy).trigger)
            return sparse[key]
        labels = regime(combo)
        if combo.strategy == "ensemble":
            members = [held_target(name, params) for name, params in dict(combo.strategy_params)["members"]]
            start = labels.train_end  # learn on the first learn_bars labelled bars, a window no later bar moves
            evaluate_from = min(start + dict(combo.strategy_params)["learn_bars"], len(bars))
            target = ensemble_target(members, labels.labels, bars.close, learn_start=start,
                                     evaluate_from=evaluate_from, n_states=labels.n_states)
        else:
            target = held_target(combo.strategy, combo.strategy_params)
        policy = dict(combo.classifier_params)["regime_policy"]
        target = target * policy_factor(policy, labels.labels) if combo.strategy != "ensemble" else target
        sparse[key] = signal_changes(target, "level")
        return sparse[key]

    def labels_of(combo: Combination) -> np.ndarray | None:
        return None if combo.classifier is None else regime(combo).labels

    return SymbolSignals(changes, labels_of)


@attrs.frozen(eq=False)
class HeldSignals:
    """Every combination's signal changes (or the error its components raised) and every
    classifier point's regime labels, per symbol, computed once and held: a :data:`SignalSource`
    that computes nothing.

    ``changes`` maps ``(signal_key(combo), symbol)`` to the ``(bars, targets)`` changes or the
    exception computing them raised (raised again when asked, so a chunk records the same error
    row as a whole run); ``labels`` maps ``(classifier_key(combo), symbol)`` to the labels.
    Changes are a few numbers per order: holding every lane's costs O(orders), never O(bars)
    per lane.
    """

    changes: Mapping[tuple[tuple, str], Any]
    labels: Mapping[tuple[tuple, str], np.ndarray]

    def __call__(self, plan: Plan, bars: Bars) -> SymbolSignals:
        def changes(combo: Combination) -> tuple[np.ndarray, np.ndarray]:
            held = self.changes[(signal_key(combo), bars.symbol)]
            if isinstance(held, BaseException):
                raise held
            return held

        def labels(combo: Combination) -> np.ndarray | None:
            return None if combo.classifier is None else self.labels[(classifier_key(combo), bars.symbol)]

        return SymbolSignals(changes, labels)

    def only(self, combos: Iterable[Combination]) -> "HeldSignals":
        """What ``combos`` read: the source of a chunk of them (small to send to a worker)."""
        signals = {signal_key(c) for c in combos}
        points = {classifier_key(c) for c in combos if c.classifier is not None}
        return HeldSignals({k: v for k, v in self.changes.items() if k[0] in signals},
                           {k: v for k, v in self.labels.items() if k[0] in points})

    def changes_of(self, combo: Combination, symbol: str) -> int:
        """How many changes ``combo``'s signal has on ``symbol`` (0 when it raised)."""
        held = self.changes[(signal_key(combo), symbol)]
        return 0 if isinstance(held, BaseException) else len(held[0])

    @property
    def nbytes(self) -> int:
        """The bytes the held arrays take."""
        arrays = [a for v in self.changes.values() if not isinstance(v, BaseException) for a in v]
        return sum(a.nbytes for a in arrays) + sum(a.nbytes for a in self.labels.values())


def hold_signals(plan: Plan, market: MarketData, *,
                 features: Callable[[Bars], Mapping[Any, tuple[np.ndarray, ...]] | None] | None = None) -> HeldSignals:
    """Run :func:`computed_signals` once over every combination of ``plan`` on every symbol of
    ``market`` and hold what it gives. ``features(bars)`` may hand in each symbol's features
    computed already (``None``: compute them); a symbol's features are dropped before the next
    symbol's are read. Law: a run reading the held signals equals a run computing them."""
    changes: dict[tuple[tuple, str], Any] = {}
    labels: dict[tuple[tuple, str], np.ndarray] = {}
    for bars in market.bars:
        source = computed_signals(plan, bars, market, features=None if features is None else features(bars))
        for combo in plan.combos:
            key = (signal_key(combo), bars.symbol)
            if key not in changes:
                try:
                    changes[key] = source.changes(combo)
                except Exception as exc:  # a failing component is data: its lane becomes an error row
                    changes[key] = exc
            if combo.classifier is not None and not isinstance(changes[key], BaseException):
                labels.setdefault((classifier_key(combo), bars.symbol), source.labels(combo))
    return HeldSignals(changes, labels)


def _require_labels(plan: Plan, bars: Bars, registry: Registry) -> None:
    """Refuse a classifier point whose warm-up (``fp.classifiers.default_train_end``) takes every
    bar of ``bars``: it would label no bar, and every combination with it would stay flat."""
    for name, params in dict.fromkeys(classifier_key(c) for c in plan.combos if c.classifier is not None):
        warm_up = default_train_end(dict(params), registry.classifier(name), sys.maxsize)
        if warm_up < len(bars):
            continue
        index = next((i for i, entry in enumerate(plan.spec.classifiers) if entry.type == name), None)
        where = f"classifiers[{index}]" if index is not None else f"classifier {name}"
        args = ", ".join(f"{k}={v}" for k, v in params)
        raise SpecError(where, f"{name}({args}) fits on its first {warm_up} bars (max(252, 4 × its window)) and "
                               f"labels only the bars after them, but {bars.symbol} has {len(bars)} bars: it would "
                               "label none and every combination with it would stay flat; give it more than "
                               f"{warm_up} bars of data" + (", or a shorter window" if warm_up > 252 else ""))


def _from_bar_on(regimes: Regimes, first: int) -> Regimes:
    """Regimes of the bars from ``first`` on as regimes of all the bars (unknown before ``first``)."""
    if first == 0:
        return regimes
    labels = np.concatenate((np.full(first, np.nan), regimes.labels))
    labels.setflags(write=False)
    return attrs.evolve(regimes, labels=labels, train_end=regimes.train_end + first)


def fitted(fit: ClassifierFit) -> SignalSource:
    """The computed signal source with classifiers learning where ``fit`` says."""
    return functools.partial(computed_signals, fit=fit)


def with_market(signals: SignalSource, market: MarketData, plan: Plan) -> SignalSource:
    """``signals`` bound to ``market`` when it is the computed source (its features may read the
    other symbols of the market, ``fp.hub``), with the cross-symbol features of ``plan`` computed
    once for every symbol; any other source as it is."""
    bound = signals is computed_signals or (
        isinstance(signals, functools.partial) and signals.func is computed_signals and "market" not in signals.keywords)
    if not bound:
        return signals
    cross = cross_symbol_features(market, plan.features, registry=registry_of(plan.spec))
    return functools.partial(signals, market=market, cross=cross)


NO_CHANGES = (np.empty(0, np.int64), np.empty(0))


def from_bar(changes: tuple[np.ndarray, np.ndarray], start: int) -> tuple[np.ndarray, np.ndarray]:
    """Changes of a held target, flat before bar ``start``: a lane entering a window at ``start``
    takes the target its strategy holds there.

    >>> from_bar((np.array([2, 5, 9]), np.array([1.0, -1.0, 1.0])), 6)
    (array([6, 9]), array([-1.,  1.]))
    """
    if start <= 0:
        return changes
    bars, targets = changes
    i = int(np.searchsorted(bars, start))
    held = targets[i - 1] if i > 0 else 0.0
    if held != 0.0 and (i == len(bars) or bars[i] != start):
        return np.concatenate(([start], bars[i:])), np.concatenate(([held], targets[i:]))
    return bars[i:], targets[i:]
