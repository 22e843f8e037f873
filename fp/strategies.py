"""Strategies: stateless functions from feature values to a target position.

A :class:`Strategy` declares its parameters and the features it needs (``needs(params)`` maps
local names to :class:`FeatureRef`), and ``signal(params, features)`` returns the target: a
signed fraction of equity (+1 long, -1 short, 0 flat) or NaN meaning *hold* (keep the last
target). ``signal`` is written once with numpy operations that work element-wise, so the same
definition runs on whole arrays (batch) and on one bar's values (streaming).

``trigger`` says when a target acts. ``level``: the held target is the position from the first
bar on (a momentum strategy already above its threshold at warm-up goes long at once).
``change``: the first defined value is only the reference state and positions change when the
signal changes (a crossover enters on a cross, not on the side found at warm-up), the peers'
semantics.

Laws: no look-ahead (target ``t`` depends on bars ``0..t`` only, because features do);
streaming ≡ batch (``signal`` on one bar's values equals the batch row).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from fp.catalog import BUILTIN_FEATURES, NATIVE_FEATURES
from fp.features import Feature
from fp.talib_features import TalibFeatureError, is_talib_name
from state.errors import ArgumentError
from state.params import Param
from state.plan import FeatureKey

__all__ = ["STRATEGIES", "FeatureRef", "Strategy", "expand_changes", "feature", "held_targets", "reversion_signal",
           "signal_changes"]

Params = Mapping[str, Any]


@attrs.frozen(order=True)
class FeatureRef:
    """One output of one FeatureHub computation.

    ``feature`` is the referenced :class:`Feature` record when it is a custom one (see
    ``fp.components``), so the record travels with the reference and whoever computes the key can
    register it; it takes no part in equality: two references are equal when their keys and
    outputs are.
    """

    key: FeatureKey
    output: str = "value"
    feature: Feature | None = attrs.field(default=None, eq=False, order=False, repr=False)


def feature(name: str | Feature, input: str = "close", output: str = "value", *, registry: Any = None,
            symbol: str = "", **params: Any) -> FeatureRef:
    """A reference to a feature with defaults filled in, so equal requests share a key.

    ``name`` is a built-in feature's name (a basic one, a native indicator, or a TA-Lib function
    ``talib.<NAME>`` with the ``ta`` extra), a :class:`Feature` record (an author's own feature:
    its key is named after the record, and the record travels with the reference), or the name of
    a feature in ``registry`` (an ``fp.registry.Registry``). ``output`` defaults to the feature's
    only output, or must name one of its outputs (``talib.MACD``: ``macd``, ``macdsignal``,
    ``macdhist``). ``symbol`` names another symbol of the data whose feature the lane reads
    (a cross-symbol reference, see ``fp.hub``); empty, the lane's own symbol.

    >>> feature("sma", period=20) == feature("sma", "close", period=20)
    True
    >>> str(feature("bollinger", period=10, output="upper").key)
    'bollinger(period=10, k=2.0)@close'
    >>> str(feature("returns", period=63, symbol="SPY").key)
    'returns(period=63)@SPY.close'
    """
    if isinstance(name, Feature):
        f, custom = name, (None if _builtin(name.name) is name else name)
    elif registry is not None:
        f = registry.feature(name)
        custom = None if _builtin(name) is f else f
    else:
        f, custom = _builtin_feature(name), None
    name = f.name
    declared = {p.name: p for p in f.params}
    unknown = set(params) - set(declared)
    if unknown:
        raise ArgumentError(f"feature {name!r} has no parameter {sorted(unknown)[0]!r}; it takes {sorted(declared)}")
    if output == "value" and "value" not in f.outputs and len(f.outputs) == 1:
        output = f.outputs[0]  # a TA-Lib function's one output is named real or integer
    if output not in f.outputs:
        raise ArgumentError(f"feature {name!r} has no output {output!r}; it has {list(f.outputs)}")
    if not isinstance(symbol, str):
        raise ArgumentError(f"symbol={symbol!r}: must be a symbol name, or empty for the lane's own symbol")
    values = tuple((p.name, p.check(params.get(p.name, p.default), f"{name}.{p.name}")) for p in f.params)
    return FeatureRef(FeatureKey(name, values, input if f.single_input else "bar", symbol), output, custom)


def _builtin(name: str) -> Feature | None:
    return BUILTIN_FEATURES.get(name) if not is_talib_name(name) or name in BUILTIN_FEATURES else None


def _builtin_feature(name: str) -> Feature:
    """The built-in feature ``name``; a ``ValueError`` naming the choices when there is none
    (``MissingExtraError`` for a TA-Lib name without the ``ta`` extra)."""
    try:
        return BUILTIN_FEATURES[name]
    except TalibFeatureError as e:
        raise ArgumentError(str(e)) from None
    except KeyError:
        raise ArgumentError(f"no built-in feature {name!r} (the built-ins are {', '.join(sorted(NATIVE_FEATURES))}, and "
                         "TA-Lib's functions as talib.<NAME> with the ta extra); for your own feature pass its "
                         "Feature record: feature(my_feature, ...)") from None


@attrs.frozen
class Strategy:
    """A strategy's declaration: parameters, features needed, the signal function and its trigger.

    ``nests`` is ``(parameter, kind)`` for a strategy built around another component: the value
    of that parameter names a ``strategy`` or a ``feature`` whose own parameters this strategy
    takes too (``trend_filter``'s ``member``, ``threshold``'s ``feature``; see ``fp.templates``).
    A spec gives them beside the strategy's own; ``needs`` and ``signal`` read them with the
    nested component's defaults for any not given.
    """

    name: str
    params: tuple[Param, ...]
    needs: Callable[[Params], Mapping[str, FeatureRef]]
    signal: Callable[[Params, Mapping[str, Any]], Any]
    trigger: str = "level"
    doc: str = ""
    nests: tuple[str, str] | None = None


def _sma_crossover_needs(p):
    return {"fast": feature("sma", period=p["fast_period"]), "slow": feature("sma", period=p["slow_period"])}


def _sma_crossover(p, f):
    signal = np.asarray(f["fast"] - f["slow"], dtype=float)  # a bar's scalars too (the streaming form)
    equal = signal == 0.0
    np.sign(signal, out=signal)  # in place: a grid computes this for every point, on every bar
    if equal.any():
        np.copyto(signal, np.nan, where=equal)
    return signal


def _momentum_needs(p):
    return {"ret": feature("returns", period=p["lookback_period"])}


def _momentum(p, f):
    ret, threshold = f["ret"], p["signal_threshold"]
    return np.where(ret > threshold, 1.0, np.where(ret < -threshold, -1.0, np.nan))


def _mean_reversion_needs(p):
    return {"z": feature("zscore", period=p["period"])}


def reversion_signal(z, entry: float, exit_: float):
    """Long below ``-entry``, short above ``entry``, flat once ``|z| < exit_``, hold otherwise.

    >>> reversion_signal(np.array([-3.0, -1.0, 0.2, 2.5]), 2.0, 0.5).tolist()
    [1.0, nan, 0.0, -1.0]
    """
    return np.where(z < -entry, 1.0, np.where(z > entry, -1.0, np.where(np.abs(z) < exit_, 0.0, np.nan)))


def _mean_reversion(p, f):
    return reversion_signal(f["z"], p["entry_z"], p["exit_z"])


def _breakout_needs(p):
    return {
        "close": feature("price"),
        "upper": feature("highest", period=p["period"]),
        "lower": feature("lowest", period=p["period"]),
    }


def _breakout(p, f):
    close = f["close"]
    return np.where(close >= f["upper"], 1.0, np.where(close <= f["lower"], -1.0, np.nan))


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "sma_crossover",
            (Param("fast_period", "int", 10, minimum=1, doc="fast SMA window"),
             Param("slow_period", "int", 20, minimum=1, doc="slow SMA window")),
            _sma_crossover_needs, _sma_crossover, trigger="change",
            doc="Long when the fast SMA crosses above the slow one, short/flat when it crosses below "
                "(a tie keeps the last side).",
        ),
        Strategy(
            "momentum",
            (Param("lookback_period", "int", 20, minimum=1, doc="bars of the lookback return"),
             Param("signal_threshold", "float", 0.0, minimum=0.0, doc="return needed to act")),
            _momentum_needs, _momentum,
            doc="Long when the lookback return exceeds the threshold, short/flat when it is below minus "
                "the threshold, hold in between.",
        ),
        Strategy(
            "mean_reversion",
            (Param("period", "int", 20, minimum=2, doc="z-score window"),
             Param("entry_z", "float", 2.0, minimum=0.0, exclusive_minimum=True, doc="|z| that opens a position"),
             Param("exit_z", "float", 0.5, minimum=0.0, doc="|z| under which the position closes")),
            _mean_reversion_needs, _mean_reversion,
            doc="Bollinger z-score reversion: long below -entry_z, short above entry_z, flat once |z| < exit_z.",
        ),
        Strategy(
            "breakout",
            (Param("period", "int", 20, minimum=2, doc="Donchian channel window"),),
            _breakout_needs, _breakout,
            doc="Donchian channel on closes: long at a new period-bar closing high, short at a new low, "
                "hold in between.",
        ),
    )
}


def held_targets(signal: np.ndarray, trigger: str) -> np.ndarray:
    """The target in force at each bar: NaN (hold) replaced by the last defined value.

    Before the first defined value (and, for ``change``, until the signal first changes) the
    target is flat.

    >>> held_targets(np.array([np.nan, 1.0, np.nan, -1.0]), "level").tolist()
    [0.0, 1.0, 1.0, -1.0]
    >>> held_targets(np.array([np.nan, 1.0, np.nan, -1.0]), "change").tolist()
    [0.0, 0.0, 0.0, -1.0]
    """
    return expand_changes(*signal_changes(signal, trigger), len(signal))


def expand_changes(bars: np.ndarray, targets: np.ndarray, n: int) -> np.ndarray:
    """The target in force at each of ``n`` bars, from its changes (flat before the first).

    Law: ``expand_changes(*signal_changes(s, trigger), len(s)) == held_targets(s, trigger)``; a sparse
    signal store expands back to the dense signal.

    >>> expand_changes(np.array([1, 3]), np.array([1.0, -1.0]), 5).tolist()
    [0.0, 1.0, 1.0, -1.0, -1.0]
    """
    out = np.zeros(n)
    if len(bars):
        lengths = np.diff(np.concatenate((bars, [n])))
        out[bars[0]:] = np.repeat(targets, lengths)
    return out


def signal_changes(signal: np.ndarray, trigger: str) -> tuple[np.ndarray, np.ndarray]:
    """The bars where the held target changes and the new targets: the sparse events of a signal.

    >>> bars, targets = signal_changes(np.array([np.nan, -1.0, np.nan, 1.0, 1.0, -1.0]), "change")
    >>> bars.tolist(), targets.tolist()
    ([3, 5], [1.0, -1.0])
    >>> signal_changes(np.array([np.nan, -1.0, np.nan, 1.0]), "level")[0].tolist()
    [1, 3]
    """
    defined = signal == signal  # not NaN
    first = int(np.argmax(defined)) if len(signal) else 0
    if len(signal) and defined[first] and defined[first:].all():
        # the common case: NaN only while warming up, so compare neighbours in place
        values = signal[first:]
        reference = values[:-1] if trigger == "change" else np.concatenate(([0.0], values[:-1]))
        offset = 1 if trigger == "change" else 0
        moved = np.flatnonzero(values[offset:] != reference) + offset
        return moved + first, values[moved]
    defined = np.flatnonzero(defined)
    values = signal[defined]
    if trigger == "change":
        moved = np.flatnonzero(values[1:] != values[:-1]) + 1
    else:
        moved = np.flatnonzero(values != np.concatenate(([0.0], values[:-1])))
    return defined[moved], values[moved]
