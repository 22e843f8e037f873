"""Strategy templates: the strategies researchers reach for first, ready to grid from a spec.

Each is a :class:`~fp.strategies.Strategy` like the basic four (registered beside them in
``fp.registry``; a grid for each in ``specs/``). Signals are targets: +1 long, -1 short, 0 flat,
NaN hold (see ``fp.strategies``).

* ``rsi_reversion(period, lower, upper, exit)`` — long while Wilder's RSI is below ``lower``,
  short while it is above ``upper``, flat once it is within ``exit`` of 50, hold otherwise.
* ``macd_cross(fast, slow, signal)`` — long when the MACD line crosses above its signal line,
  short when it crosses below (on the cross: trigger ``change``; a tie holds).
* ``bollinger_reversion(period, k, exit_k)`` — long below the lower Bollinger band (``k``
  standard deviations under the SMA), short above the upper one, flat once the close is within
  ``exit_k`` standard deviations of the SMA: ``mean_reversion`` stated in band terms (the same
  signal function).
* ``bollinger_breakout(period, k)`` — long on a close above the upper band, short on a close
  below the lower band, hold in between.
* ``donchian_breakout(period, exit_period, side)`` — the Turtle rules: with ``side: long``, long
  when the bar's high is the highest high of the last ``period`` bars (a new channel high), flat
  when its low is the lowest low of the last ``exit_period`` bars; ``side: short`` mirrors it.
  Stops come from the spec's ``exits`` (``stop_loss_atr: 2`` is the Turtles' 2N stop); after a
  stop the lane waits for the exit channel, then the next breakout.
* ``threshold(feature, lower, upper, mode)`` — any feature against two levels: ``reversion``
  goes long below ``lower`` and short above ``upper``, ``trend`` long above ``upper`` and short
  below ``lower``, hold in between. ``feature`` names any built-in feature, TA-Lib's included
  (``talib.CCI``), with ``.output`` for one of several outputs (``macd.hist``,
  ``talib.AROON.aroonup``); the feature's own parameters are given beside the strategy's
  (``timeperiod: [14, 20]``). This is how a spec uses any TA-Lib function by name.
* ``trend_filter(member, filter, filter_period, filter_level)`` — any built-in strategy
  (``member``, its parameters given beside) gated by the trend: ``filter: sma`` lets longs
  through only while the close is above the ``filter_period`` SMA and shorts only below it;
  ``filter: adx`` lets either side through only while ADX(``filter_period``) is at least
  ``filter_level``. A blocked entry is a hold (NaN), not a flat: the filter stops new trades
  against the trend and leaves open positions to the strategy's own exits (and the spec's
  ``exits``); a signal to go flat always passes. Nothing trades before the filter is defined.
  :func:`trend_filtered` gates an author's own strategy the same way.
* ``dual_momentum(universe, lookback, threshold)`` — Antonacci's dual momentum across the
  symbols of a universe: a lane is long while its own ``lookback``-bar return is the strongest of
  the universe (relative momentum) and above ``threshold`` (absolute momentum: it beats cash),
  flat otherwise. The other symbols' returns reach the lane as cross-symbol features (``fp.hub``:
  computed on each symbol's own bars, aligned as of the lane's bar, never later). An empty
  universe means every symbol of the run's data (the compiler fills it in). With
  ``portfolio: {shared_cash: true}`` one combination holds the strongest symbol from one account;
  without it each symbol's lane is long while that symbol leads.

Laws: every template obeys the laws of ``fp.testing`` (``admf check <name>`` runs them; a
cross-symbol one on a market of several symbols and calendars).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from fp.catalog import BUILTIN_FEATURES, NATIVE_FEATURES
from fp.features import Feature
from fp.strategies import STRATEGIES, Strategy, feature, reversion_signal
from fp.talib_features import TalibFeatureError, is_talib_name, talib_feature
from state.errors import ArgumentError
from state.params import Param

__all__ = ["TEMPLATES", "nested_component", "split_feature", "trend_filtered"]

Params = Mapping[str, Any]


# ---- reversion and breakout ---------------------------------------------------------------------

def _rsi_reversion_needs(p):
    return {"rsi": feature("rsi", period=p["period"])}


def _rsi_reversion(p, f):
    rsi = f["rsi"]
    return np.where(rsi < p["lower"], 1.0, np.where(rsi > p["upper"], -1.0,
                                                    np.where(np.abs(rsi - 50.0) < p["exit"], 0.0, np.nan)))


def _macd_cross_needs(p):
    return {"hist": feature("macd", fast=p["fast"], slow=p["slow"], signal=p["signal"], output="hist")}


def _macd_cross(p, f):
    hist = f["hist"]
    return np.where(hist == 0.0, np.nan, np.sign(hist))


def _bollinger_reversion_needs(p):
    return {"z": feature("zscore", period=p["period"])}


def _bollinger_reversion(p, f):
    return reversion_signal(f["z"], p["k"], p["exit_k"])


def _bollinger_breakout_needs(p):
    return {"close": feature("price"),
            "upper": feature("bollinger", period=p["period"], k=p["k"], output="upper"),
            "lower": feature("bollinger", period=p["period"], k=p["k"], output="lower")}


def _bollinger_breakout(p, f):
    close = f["close"]
    return np.where(close > f["upper"], 1.0, np.where(close < f["lower"], -1.0, np.nan))


def _donchian_breakout_needs(p):
    return {"high": feature("price", "high"), "low": feature("price", "low"),
            "entry_high": feature("donchian", period=p["period"], output="upper"),
            "entry_low": feature("donchian", period=p["period"], output="lower"),
            "exit_high": feature("donchian", period=p["exit_period"], output="upper"),
            "exit_low": feature("donchian", period=p["exit_period"], output="lower")}


def _donchian_breakout(p, f):
    high, low = f["high"], f["low"]
    if p["side"] == "long":
        return np.where(high >= f["entry_high"], 1.0, np.where(low <= f["exit_low"], 0.0, np.nan))
    return np.where(low <= f["entry_low"], -1.0, np.where(high >= f["exit_high"], 0.0, np.nan))


# ---- a feature against two levels ---------------------------------------------------------------

def split_feature(name: str) -> tuple[Feature, str]:
    """The feature record and output a ``threshold`` names: ``rsi`` (its only output),
    ``macd.hist``, ``talib.CCI``, ``talib.AROON.aroonup``; a ``ValueError`` (or
    ``MissingExtraError`` for TA-Lib without the ``ta`` extra) naming what is wrong.

    >>> record, output = split_feature("bollinger.upper")
    >>> record.name, output
    ('bollinger', 'upper')
    """
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"{name!r} is not a feature name: give one such as rsi, macd.hist or talib.CCI")
    base, _, output = name.rpartition(".")
    if name in BUILTIN_FEATURES:
        record, output = BUILTIN_FEATURES[name], ""
    elif base and base in BUILTIN_FEATURES:
        record = BUILTIN_FEATURES[base]
    elif is_talib_name(name):  # TA-Lib's own reason: no such function, a refused one, or no TA-Lib at all
        try:
            talib_feature(name if name.count(".") == 1 else base)
        except TalibFeatureError as e:
            raise ArgumentError(str(e)) from None
        raise ArgumentError(f"no TA-Lib feature {name!r}")  # pragma: no cover - the lookup above raised
    else:
        raise ArgumentError(f"no built-in feature {name!r}: name one of {', '.join(sorted(NATIVE_FEATURES))}, "
                         "TA-Lib's as talib.<NAME> (the ta extra), with .output for one of several outputs")
    if not output:
        output = record.outputs[0]
    elif output not in record.outputs:
        raise ArgumentError(f"feature {record.name!r} has no output {output!r}; it has {', '.join(record.outputs)}")
    return record, output


def _own(record: Any, p: Params) -> dict[str, Any]:
    """The nested record's parameters out of a strategy's, its defaults for those not given."""
    return {q.name: p.get(q.name, q.default) for q in record.params}


def _threshold_needs(p):
    record, output = split_feature(p["feature"])
    return {"value": feature(record.name, output=output, **_own(record, p))}


def _threshold(p, f):
    x, lower, upper = f["value"], p["lower"], p["upper"]
    if p["mode"] == "trend":
        return np.where(x > upper, 1.0, np.where(x < lower, -1.0, np.nan))
    return np.where(x < lower, 1.0, np.where(x > upper, -1.0, np.nan))


def _feature_choices() -> tuple[str, ...]:
    out = []
    for name, record in sorted(NATIVE_FEATURES.items()):
        out.append(name)
        if len(record.outputs) > 1:
            out += [f"{name}.{o}" for o in record.outputs]
    return tuple(out)


# ---- trend filter -------------------------------------------------------------------------------

_FILTER_PARAMS = (
    Param("filter", "str", "sma", choices=("sma", "adx"),
          doc="sma: longs only above the filter SMA, shorts only below; adx: trades only while ADX >= filter_level"),
    Param("filter_period", "int", 200, minimum=2, doc="bars of the filter's SMA or ADX"),
    Param("filter_level", "float", 25.0, minimum=0.0, maximum=100.0,
          doc="ADX at or above which the market trends enough to trade (filter: adx)"),
)


def _filter_needs(member: Strategy, p: Params) -> dict:
    refs = {f"member.{k}": r for k, r in member.needs(_own(member, p)).items()}
    if p["filter"] == "adx":
        refs["filter.adx"] = feature("adx", period=p["filter_period"], output="adx")
    else:
        refs["filter.close"] = feature("price")
        refs["filter.sma"] = feature("sma", period=p["filter_period"])
    return refs


def _filtered(member: Strategy, p: Params, f: Mapping, warm_up: float):
    """The member's signal with entries against the filter turned into holds (see the module docstring)."""
    signal = member.signal(_own(member, p), {k[len("member."):]: v for k, v in f.items() if k.startswith("member.")})
    if p["filter"] == "adx":
        level = f["filter.adx"]
        defined, long_ok = level == level, level >= p["filter_level"]
        short_ok = long_ok
    else:
        close, sma = f["filter.close"], f["filter.sma"]
        defined, long_ok, short_ok = sma == sma, close > sma, close < sma
    allowed = np.where(signal > 0.0, long_ok, np.where(signal < 0.0, short_ok, True))
    return np.where(defined, np.where(allowed, signal, np.nan), warm_up)


def trend_filtered(strategy: Strategy, *, name: str | None = None) -> Strategy:
    """``strategy`` gated by a trend filter (``trend_filter``'s rules): a new strategy taking its
    parameters and ``filter``, ``filter_period``, ``filter_level``, with its trigger.

    >>> gated = trend_filtered(STRATEGIES["momentum"])
    >>> [p.name for p in gated.params], gated.trigger
    (['lookback_period', 'signal_threshold', 'filter', 'filter_period', 'filter_level'], 'level')
    """
    taken = {p.name for p in strategy.params} & {p.name for p in _FILTER_PARAMS}
    if taken:
        raise ArgumentError(f"strategy {strategy.name!r} has a parameter named like the filter's: {sorted(taken)[0]!r}")
    return Strategy(name or f"trend_filtered_{strategy.name}", strategy.params + _FILTER_PARAMS,
                    functools.partial(_filter_needs, strategy), functools.partial(_gated_fixed, strategy),
                    trigger=strategy.trigger,
                    doc=f"{strategy.name} gated by a trend filter (an SMA side or an ADX level). {strategy.doc}")


def _gated_fixed(member: Strategy, p: Params, f: Mapping):
    return _filtered(member, p, f, np.nan)


def _trend_filter_needs(p):
    return _filter_needs(_MEMBERS[p["member"]], p)


def _trend_filter(p, f):
    member = _MEMBERS[p["member"]]
    # the record's trigger is `change`; a `level` member's first value must act, so the bars
    # before the filter is defined are flat (the reference a change is measured from), not unknown
    return _filtered(member, p, f, 0.0 if member.trigger == "level" else np.nan)


# ---- dual momentum ------------------------------------------------------------------------------

def _dual_momentum_needs(p):
    refs = {"own": feature("returns", period=p["lookback"])}
    refs.update({f"universe.{s}": feature("returns", period=p["lookback"], symbol=s) for s in p["universe"]})
    return refs


def _dual_momentum(p, f):
    own = f["own"]
    best = functools.reduce(np.fmax, [v for k, v in f.items() if k.startswith("universe.")], own)
    return np.where(own != own, np.nan, np.where((own > p["threshold"]) & (own >= best), 1.0, 0.0))


# ---- the templates ------------------------------------------------------------------------------

_SINGLE = (
    Strategy(
        "rsi_reversion",
        (Param("period", "int", 14, minimum=2, doc="bars of Wilder's RSI"),
         Param("lower", "float", 30.0, minimum=0.0, maximum=100.0, doc="RSI under which to go long"),
         Param("upper", "float", 70.0, minimum=0.0, maximum=100.0, doc="RSI over which to go short"),
         Param("exit", "float", 5.0, minimum=0.0, maximum=50.0, doc="flat once the RSI is within this of 50")),
        _rsi_reversion_needs, _rsi_reversion,
        doc="RSI reversion: long below lower, short above upper, flat once the RSI is back within exit of 50.",
    ),
    Strategy(
        "macd_cross",
        (Param("fast", "int", 12, minimum=2, doc="bars of the fast EMA"),
         Param("slow", "int", 26, minimum=2, doc="bars of the slow EMA"),
         Param("signal", "int", 9, minimum=1, doc="bars of the signal line")),
        _macd_cross_needs, _macd_cross, trigger="change",
        doc="MACD crossover: long when the MACD line crosses above its signal line, short when it crosses below.",
    ),
    Strategy(
        "bollinger_reversion",
        (Param("period", "int", 20, minimum=2, doc="bars of the bands' SMA and standard deviation"),
         Param("k", "float", 2.0, minimum=0.0, exclusive_minimum=True, doc="band width in standard deviations"),
         Param("exit_k", "float", 0.5, minimum=0.0, doc="flat once the close is within this many deviations of "
                                                        "the SMA (0: never flat, a reversal at the other band)")),
        _bollinger_reversion_needs, _bollinger_reversion,
        doc="Bollinger reversion: long below the lower band, short above the upper band, flat back near the SMA.",
    ),
    Strategy(
        "bollinger_breakout",
        (Param("period", "int", 20, minimum=2, doc="bars of the bands' SMA and standard deviation"),
         Param("k", "float", 2.0, minimum=0.0, exclusive_minimum=True, doc="band width in standard deviations")),
        _bollinger_breakout_needs, _bollinger_breakout,
        doc="Bollinger breakout: long on a close above the upper band, short below the lower band, hold in between.",
    ),
    Strategy(
        "donchian_breakout",
        (Param("period", "int", 20, minimum=2, doc="bars of the entry channel (a new high of this many bars enters)"),
         Param("exit_period", "int", 10, minimum=2, doc="bars of the exit channel (a new low of this many bars "
                                                        "exits a long)"),
         Param("side", "str", "long", choices=("long", "short"), doc="long: enter on highs, exit on lows; short: "
                                                                       "mirrored")),
        _donchian_breakout_needs, _donchian_breakout,
        doc="Turtle breakout: enter on a new period-bar high (low), exit on a new exit_period-bar low (high); "
            "stops from the spec's exits (stop_loss_atr).",
    ),
)

#: The built-in strategies a ``trend_filter`` can gate.
_MEMBERS: Mapping[str, Strategy] = MappingProxyType({**STRATEGIES, **{s.name: s for s in _SINGLE}})

_COMPOSED = (
    Strategy(
        "threshold",
        (Param("feature", "str", "rsi", choices=_feature_choices(),
               doc="the feature (name, or name.output) whose value is compared; a spec may also name TA-Lib's "
                   "talib.<NAME>[.output]; its parameters are given beside these"),
         Param("lower", "float", 30.0, doc="lower level"),
         Param("upper", "float", 70.0, doc="upper level"),
         Param("mode", "str", "reversion", choices=("reversion", "trend"),
               doc="reversion: long below lower, short above upper; trend: long above upper, short below lower")),
        _threshold_needs, _threshold, nests=("feature", "feature"),
        doc="Any feature (TA-Lib's included) against two levels, as reversion or trend; hold in between.",
    ),
    Strategy(
        "trend_filter",
        (Param("member", "str", "sma_crossover", choices=tuple(sorted(_MEMBERS)),
               doc="the strategy to gate (its parameters are given beside these)"),) + _FILTER_PARAMS,
        _trend_filter_needs, _trend_filter, trigger="change", nests=("member", "strategy"),
        doc="A built-in strategy gated by a trend filter: entries only with the SMA's side or a strong ADX.",
    ),
    Strategy(
        "dual_momentum",
        (Param("universe", "symbols", (), doc="the symbols to compare (empty: every symbol of the data)"),
         Param("lookback", "int", 63, minimum=1, doc="bars of the momentum return"),
         Param("threshold", "float", 0.0, minimum=-1.0,
               doc="return the strongest symbol must exceed to be held (absolute momentum; 0 beats cash)")),
        _dual_momentum_needs, _dual_momentum,
        doc="Dual momentum: long while this symbol's lookback return leads the universe and beats the threshold.",
    ),
)

#: Every strategy template by name (read-only).
TEMPLATES: Mapping[str, Strategy] = MappingProxyType({s.name: s for s in (*_SINGLE, *_COMPOSED)})


def nested_component(strategy: Strategy, value: Any) -> Feature | Strategy:
    """The component a nesting strategy's parameter names (see ``Strategy.nests``): a built-in
    strategy for ``trend_filter``, a feature for ``threshold``; a ``ValueError`` (or
    ``MissingExtraError``) naming what is wrong.

    >>> nested_component(TEMPLATES["trend_filter"], "rsi_reversion").name
    'rsi_reversion'
    """
    parameter, kind = strategy.nests
    if kind == "feature":
        return split_feature(value)[0]
    if value not in _MEMBERS:
        raise ArgumentError(f"{value!r} is not a strategy {strategy.name} can gate: one of {', '.join(sorted(_MEMBERS))}; "
                         "gate your own strategy in code with fp.templates.trend_filtered(my_strategy)")
    return _MEMBERS[value]
