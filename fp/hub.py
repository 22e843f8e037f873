"""The FeatureHub: every distinct feature computation of a run, done once and shared by all lanes.

Keys are :class:`state.FeatureKey` (feature, params, input); two strategies needing
``sma(period=20)@close`` share one array. ``compute_features`` is the batch form;
``FeatureStream`` steps the same features bar by bar (the reference form).

A key names its feature; ``registry`` (an :class:`fp.registry.Registry`, the built-ins by
default) says which record that name is, so an author's own features (named by their import
path) join the deduplication like the built-ins: two strategies asking for the same custom
feature with the same parameters share one computation.

**Cross-symbol features.** A key whose ``symbol`` names another symbol of the data (a reference
``feature("returns", period=63, symbol="SPY")``) reaches a lane of symbol A like this: the hub
computing A's features (given the run's ``market``) computes the key on the other symbol's own
bars — its own calendar and warm-up, only its bars up to A's last bar — and aligns it onto A's
timeline *as of* each bar: A's bar at time ``t`` gets the value of the other symbol's last bar at
or before ``t`` (NaN before that symbol's first bar), never a later one. Calendars may differ
(holidays, listings, frequencies): a bar of A on a day the other symbol did not trade sees the
other's previous value. Only market data crosses symbols: a lane reads other symbols' prices and
features, never another lane's signal or portfolio, so lanes stay isolated (lane i of a sweep
equals that combination run alone). Law (no look-ahead across symbols): changing any symbol's
bars after time ``t`` changes no value of A at or before ``t``; the streaming form steps the other
symbol's feature bar by bar as A's clock reaches its bars and equals the batch form.

**Cost in a universe.** When every one of N symbols reads the others' features (``dual_momentum``
over a universe), :func:`cross_symbol_features` computes each symbol's feature once for the whole
run (once per distinct cut: symbols that end earlier cut the others' bars earlier) and
``compute_features(..., cross=...)`` reuses it: N feature computations, not N². What stays N² is
inherent in reading N series on N timelines: the alignment (an identity, found by one comparison,
when two symbols share a calendar; one ``searchsorted`` per pair of symbols otherwise, shared by all
of a pair's keys) and the strategy's own work over the N series it reads.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from fp.features import Feature
from fp.registry import BUILTINS, Registry
from state.errors import ArgumentError
from state.market import Bars, MarketData
from state.plan import FeatureKey

__all__ = ["FeatureStream", "as_of", "compute_features", "cross_symbol_features", "feature_of", "inputs_of",
           "registry_for_refs", "source_bars"]


def feature_of(key: FeatureKey, registry: Registry = BUILTINS) -> Feature:
    """The declared feature a key computes."""
    return registry.feature(key.name)


def inputs_of(key: FeatureKey, bars: Bars, registry: Registry = BUILTINS) -> tuple[np.ndarray, ...]:
    """The input arrays a key reads from ``bars``."""
    f = feature_of(key, registry)
    fields = (key.input,) if f.single_input else f.inputs
    return tuple(bars.field(name) for name in fields)


def source_bars(key: FeatureKey, bars: Bars, market: MarketData | None) -> Bars:
    """The bars a key is computed on: ``bars`` themselves, or for a cross-symbol key the other
    symbol's bars up to the last time of ``bars`` (a ``ValueError`` without ``market`` or when it
    has no such symbol)."""
    return _source(key, bars, market, None if market is None else {b.symbol: b for b in market.bars})


def _source(key: FeatureKey, bars: Bars, market: MarketData | None, by_symbol: Mapping[str, Bars] | None) -> Bars:
    if not key.symbol or key.symbol == bars.symbol:
        return bars
    if market is None or by_symbol is None:
        raise ArgumentError(f"feature {key} reads symbol {key.symbol!r}: compute it with the run's market data "
                            "(compute_features(bars, keys, market=market))")
    if key.symbol not in by_symbol:
        raise ArgumentError(f"feature {key} reads symbol {key.symbol!r}, which the data does not have (its symbols: "
                         f"{', '.join(market.symbols)})")
    other = by_symbol[key.symbol]
    return other.slice(0, int(np.searchsorted(other.time, bars.time[-1], side="right")) if len(bars) else 0)


def as_of(times: np.ndarray, values: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """``values`` (at ``times``) on the timeline ``onto``: at each time the value of the last time
    at or before it, NaN before the first (``values`` itself when the two timelines are the same).

    >>> day = np.datetime64("2024-01-01", "ns") + np.arange(4) * np.timedelta64(1, "D")
    >>> as_of(day[[1, 2]], np.array([10.0, 20.0]), day).tolist()
    [nan, 10.0, 20.0, 20.0]
    """
    return _aligned(values, _as_of_index(times, onto))


def _as_of_index(times: np.ndarray, onto: np.ndarray) -> np.ndarray | None:
    """For each time of ``onto`` the index of the last of ``times`` at or before it (-1: none);
    ``None`` when the two timelines are the same (every index its own)."""
    if len(times) == len(onto) and np.array_equal(times, onto):
        return None
    return np.searchsorted(times, onto, side="right") - 1


def _aligned(values: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    """``values`` on another timeline (``index`` from :func:`_as_of_index`): the same array on the same one."""
    if index is None:
        return values
    out = np.full(len(index), np.nan)
    known = index >= 0
    out[known] = values[index[known]]
    return out


def cross_symbol_features(market: MarketData, keys: Iterable[FeatureKey], *,
                          registry: Registry = BUILTINS) -> dict[tuple[FeatureKey, int], tuple[np.ndarray, ...]]:
    """Each cross-symbol key's outputs (on its own symbol's bars, not aligned) for every cut a symbol
    of ``market`` reads it at, by ``(key, cut)``; ``cut`` is the count of the key symbol's bars at or
    before the reading symbol's last time (what :func:`source_bars` keeps). Each is computed once:
    ``compute_features(bars, keys, market=market, cross=...)`` reuses them, for a run's every symbol."""
    out: dict[tuple[FeatureKey, int], tuple[np.ndarray, ...]] = {}
    by_symbol = {b.symbol: b for b in market.bars}
    cuts: dict[str, list[int]] = {}  # each symbol's distinct cuts, over the symbols reading it
    for key in dict.fromkeys(keys):
        if not key.symbol or key.symbol not in by_symbol:
            continue
        own = by_symbol[key.symbol]
        if key.symbol not in cuts:
            ends = [reader.time[-1] for reader in market.bars if reader.symbol != key.symbol and len(reader)]
            cuts[key.symbol] = sorted(set(np.searchsorted(own.time, ends, side="right").tolist()))
        for cut in cuts[key.symbol]:
            source = own.slice(0, cut)
            out[(key, cut)] = feature_of(key, registry).compute(dict(key.params), inputs_of(key, source, registry),
                                                                source.price_precision)
    return out


def compute_features(bars: Bars, keys: Iterable[FeatureKey], *, registry: Registry = BUILTINS,
                     market: MarketData | None = None,
                     cross: Mapping[tuple[FeatureKey, int], tuple[np.ndarray, ...]] | None = None,
                     ) -> dict[FeatureKey, tuple[np.ndarray, ...]]:
    """Each distinct key's outputs over the whole series of ``bars``, computed once (batch form);
    ``market`` supplies the other symbols' bars of cross-symbol keys (see the module docstring),
    ``cross`` their outputs when already computed (:func:`cross_symbol_features`: the same values)."""
    out: dict[FeatureKey, tuple[np.ndarray, ...]] = {}
    alignments: dict[str, np.ndarray | None] = {}  # another symbol's timeline onto this one's, once per symbol
    by_symbol = None if market is None else {b.symbol: b for b in market.bars}
    for key in keys:
        if key in out:
            continue
        source = _source(key, bars, market, by_symbol)
        known = None if source is bars or cross is None else cross.get((key, len(source)))
        values = known if known is not None else feature_of(key, registry).compute(
            dict(key.params), inputs_of(key, source, registry), source.price_precision)
        if source is bars:
            out[key] = values
            continue
        if source.symbol not in alignments:
            alignments[source.symbol] = _as_of_index(source.time, bars.time)
        out[key] = tuple(_aligned(v, alignments[source.symbol]) for v in values)
    return out


def registry_for_refs(refs: Iterable[Mapping], base: Registry = BUILTINS) -> Registry:
    """``base`` with the custom features the given ``needs`` mappings (name -> FeatureRef) carry.

    What a caller holding strategies (not a spec) uses to compute their features.

    >>> from fp.strategies import feature
    >>> registry_for_refs([{"fast": feature("sma", period=3)}]) is BUILTINS
    True
    """
    registry = base
    for needs in refs:
        for ref in needs.values():
            if ref.feature is not None:
                registry = registry.with_component("feature", ref.feature)
    return registry


class FeatureStream:
    """The streaming form of a set of keys: ``step(t)`` returns every key's outputs at bar ``t``.

    Holds the per-key states between steps; used by the bar-by-bar reference backtest and tests.
    A cross-symbol key steps the other symbol's feature over that symbol's bars as the clock of
    ``bars`` reaches them (each of its bars at or before ``bars.time[t]``), so bar ``t`` sees the
    value of its last bar: the batch form's ``as_of`` alignment, bar by bar.
    """

    def __init__(self, bars: Bars, keys: Iterable[FeatureKey], *, registry: Registry = BUILTINS,
                 market: MarketData | None = None) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self._clock = bars.time
        self._features = [feature_of(k, registry) for k in self.keys]
        self._params = [dict(k.params) for k in self.keys]
        sources = [source_bars(k, bars, market) for k in self.keys]
        self._own = [source is bars for source in sources]
        self._times = [source.time for source in sources]
        self._states = [f.init(p, s.price_precision) for f, p, s in zip(self._features, self._params, sources)]
        self._inputs = [[x.tolist() for x in inputs_of(k, s, registry)] for k, s in zip(self.keys, sources)]
        self._next = [0] * len(self.keys)  # a cross-symbol key's next bar of its own symbol
        self._last = [(float("nan"),) * len(f.outputs) for f in self._features]

    def step(self, t: int) -> dict[FeatureKey, tuple[float, ...]]:
        values = {}
        for i, key in enumerate(self.keys):
            if self._own[i]:
                self._last[i] = self._advance(i, t)
            else:
                while self._next[i] < len(self._times[i]) and self._times[i][self._next[i]] <= self._clock[t]:
                    self._last[i] = self._advance(i, self._next[i])
                    self._next[i] += 1
            values[key] = self._last[i]
        return values

    def _advance(self, i: int, bar: int) -> tuple[float, ...]:
        x = tuple(column[bar] for column in self._inputs[i])
        self._states[i], out = self._features[i].step(self._params[i], self._states[i], x)
        return out
