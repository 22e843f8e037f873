"""Momentum oscillators: ``macd``, ``roc``, ``stochastic``, ``stoch_rsi``, ``williams_r``, ``cci``.

Each equals TA-Lib's function to 1e-9 from TA-Lib's first output bar on, and is NaN before it
(every output of an indicator starts where TA-Lib's does, so the two are defined on the same bars):

* ``macd(fast, slow, signal)`` — ``macd = EMA_fast(x) - EMA_slow(x)``, ``signal = EMA_signal(macd)``,
  ``hist = macd - signal``, with ``alpha = 2/(period+1)``. TA-Lib's seeding, matched on purpose:
  the slow EMA starts as the mean of the first ``slow`` bars and the fast EMA as the mean of the
  ``fast`` bars *ending on that same bar* (not the first ``fast`` bars); the signal line starts as
  the mean of the first ``signal`` MACD values. All three outputs are defined from bar
  ``slow + signal - 2``. ``fast > slow`` is swapped, as TA-Lib does (MACD ``MACD``).
* ``roc(period)`` — ``(x[t] / x[t-period] - 1) × 100``, 0 when ``x[t-period]`` is 0 (TA-Lib ``ROC``).
* ``stochastic(period, smooth_k, smooth_d)`` — fast %K ``= 100·(close - LL)/(HH - LL)`` over
  ``period`` bars (0 when the range is flat: ``|HH - LL| ≤ 1e-14·(|HH| + |LL|)``, TA-Lib's band),
  ``k`` = its ``smooth_k``-bar SMA (the slow %K), ``d`` = the ``smooth_d``-bar SMA of ``k``; both
  from bar ``period + smooth_k + smooth_d - 3`` (TA-Lib ``STOCH`` with SMA smoothing).
* ``stoch_rsi(period, stoch_period, smooth_d)`` — the fast stochastic of Wilder's RSI: ``k`` =
  ``100·(RSI - min RSI)/(max RSI - min RSI)`` over ``stoch_period`` RSI values, ``d`` its
  ``smooth_d``-bar SMA (TA-Lib ``STOCHRSI``). Its RSI is TA-Lib's to the last bit, unlike the
  ``rsi`` feature: 0 (not 50) while the average gain and loss are both zero, and scaled by ``1/n``
  where ``rsi`` divides by ``n`` — on a flat stretch the RSI repeats up to one rounding, and the
  stochastic of such a window turns that rounding into 0 or 100, so only TA-Lib's exact
  arithmetic gives TA-Lib's values there.
* ``williams_r(period)`` — ``-100·(HH - close)/(HH - LL)`` over ``period`` bars, 0 when the range
  is flat (TA-Lib ``WILLR``).
* ``cci(period)`` — ``(tp - SMA(tp)) / (0.015 · mean |tp - SMA(tp)|)`` over ``period`` bars of the
  typical price ``tp = (high + low + close)/3``; 0 when the distance or the mean deviation is
  within 1e-14 × |SMA| of 0 (TA-Lib ``CCI``: a flat window leaves rounding residue, not a signal).

Wilder's smoothing (the RSI inside ``stoch_rsi``) is ``avg = (avg·(n-1) + today)/n`` seeded with
the plain mean of the first ``n`` values, as Wilder and TA-Lib do (see ``fp.features.wilder_averages``).
"""
from __future__ import annotations

import numpy as np

from fp.features import WILDER_START, Feature, wilder_averages, window_extreme
from fp.indicators._common import NAN, TA_EPSILON, is_zero, mean_of, nans, push, window_mean
from state.params import Param

__all__ = ["MOMENTUM"]


# ---- macd ---------------------------------------------------------------------------------------

def _macd_periods(p) -> tuple[int, int, int]:
    fast, slow = sorted((p["fast"], p["slow"]))  # TA-Lib swaps a slow period shorter than the fast one
    return fast, slow, p["signal"]


def _macd_init(p, precision):
    return (0, (), NAN, NAN, 0.0, NAN)  # (bar, first slow prices, fast EMA, slow EMA, signal seed sum, signal)


def _macd_step(p, state, x):
    fast, slow, signal = _macd_periods(p)
    t, seed, fast_ema, slow_ema, total, line = state
    v = x[0]
    if t < slow - 1:
        return (t + 1, seed + (v,), fast_ema, slow_ema, total, line), nans(3)
    if t == slow - 1:  # both price EMAs start on this bar: the fast one from the last `fast` bars only
        seed += (v,)
        slow_sum = 0.0
        for w in seed[:slow - fast]:
            slow_sum += w
        fast_sum = 0.0
        for w in seed[slow - fast:]:
            fast_sum += w
            slow_sum += w
        fast_ema, slow_ema = fast_sum / fast, slow_sum / slow
        seed = ()
    else:
        fast_ema = (v - fast_ema) * (2.0 / (fast + 1)) + fast_ema
        slow_ema = (v - slow_ema) * (2.0 / (slow + 1)) + slow_ema
    macd = fast_ema - slow_ema
    first = slow + signal - 2  # the bar the signal line starts on
    if t < first:
        return (t + 1, seed, fast_ema, slow_ema, total + macd, line), nans(3)
    if t == first:
        line = (total + macd) / signal
    else:
        line = (macd - line) * (2.0 / (signal + 1)) + line
    return (t + 1, seed, fast_ema, slow_ema, total, line), (macd, line, macd - line)


# ---- roc ----------------------------------------------------------------------------------------

def _roc_value(now: float, then: float) -> float:
    return (now / then - 1.0) * 100.0 if then != 0.0 else 0.0


def _roc_step(p, window, x):
    n = p["period"]
    window = push(window, x[0], n + 1)
    return window, (_roc_value(window[-1], window[0]) if len(window) == n + 1 else NAN,)


def _roc_batch(p, inputs, precision):
    x, n = inputs[0], p["period"]
    out = np.full(len(x), np.nan)
    if len(x) > n:
        then = x[:-n]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[n:] = np.where(then != 0.0, (x[n:] / then - 1.0) * 100.0, 0.0)
    return (out,)


# ---- stochastics --------------------------------------------------------------------------------

def _flat(highest, lowest):
    """TA-Lib's flat range: ``|highest - lowest| ≤ 1e-14·(|highest| + |lowest|)`` (rounding, not a move)."""
    return abs(highest - lowest) <= TA_EPSILON * (abs(highest) + abs(lowest))


def _fast_k(value: float, highest: float, lowest: float) -> float:
    """100·(value - lowest)/(highest - lowest), as TA-Lib divides it; 0 on a flat range."""
    return (value - lowest) / ((highest - lowest) / 100.0) if not _flat(highest, lowest) else 0.0


def _fast_k_array(value: np.ndarray, highest: np.ndarray, lowest: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(_flat(highest, lowest), 0.0, (value - lowest) / ((highest - lowest) / 100.0))
    return np.where(np.isnan(highest), np.nan, k)


def _stochastic_step(p, state, x):
    n, sk, sd = p["period"], p["smooth_k"], p["smooth_d"]
    ranges, fast, slow = state
    high, low, close = x
    ranges = push(ranges, (high, low), n)
    if len(ranges) < n:
        return (ranges, fast, slow), nans(2)
    fast = push(fast, _fast_k(close, max(h for h, _ in ranges), min(lo for _, lo in ranges)), sk)
    if len(fast) < sk:
        return (ranges, fast, slow), nans(2)
    slow = push(slow, mean_of(fast), sd)
    if len(slow) < sd:
        return (ranges, fast, slow), nans(2)
    return (ranges, fast, slow), (slow[-1], mean_of(slow))


def _stochastic_batch(p, inputs, precision):
    high, low, close = inputs
    n, sk, sd = p["period"], p["smooth_k"], p["smooth_d"]
    fast = _fast_k_array(close, window_extreme(high, n, np.maximum), window_extreme(low, n, np.minimum))
    k = window_mean(fast, sk)
    d = window_mean(k, sd)
    return (np.where(np.isnan(d), np.nan, k), d)


def _stoch_rsi_init(p, precision):
    return (WILDER_START, (), ())  # (Wilder averages, last RSI values, last fast %K values)


def _stoch_rsi_step(p, state, x):
    averages, rsis, fast = state
    averages, ready = wilder_averages(p["period"], averages, x[0], reciprocal=True)
    if not ready:
        return (averages, rsis, fast), nans(2)
    gain, loss = averages[2], averages[3]
    total = gain + loss
    rsi = 100.0 * (gain / total) if not is_zero(total) else 0.0  # TA-Lib's RSI: 0 while nothing moved
    rsis = push(rsis, rsi, p["stoch_period"])
    if len(rsis) < p["stoch_period"]:
        return (averages, rsis, fast), nans(2)
    fast = push(fast, _fast_k(rsi, max(rsis), min(rsis)), p["smooth_d"])
    if len(fast) < p["smooth_d"]:
        return (averages, rsis, fast), nans(2)
    return (averages, rsis, fast), (fast[-1], mean_of(fast))


# ---- williams %R and CCI ------------------------------------------------------------------------

def _williams_value(close: float, highest: float, lowest: float) -> float:
    return (highest - close) / ((highest - lowest) / -100.0) if not _flat(highest, lowest) else 0.0


def _williams_step(p, window, x):
    n = p["period"]
    high, low, close = x
    window = push(window, (high, low), n)
    if len(window) < n:
        return window, (NAN,)
    return window, (_williams_value(close, max(h for h, _ in window), min(lo for _, lo in window)),)


def _williams_batch(p, inputs, precision):
    high, low, close = inputs
    n = p["period"]
    highest, lowest = window_extreme(high, n, np.maximum), window_extreme(low, n, np.minimum)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(_flat(highest, lowest), 0.0, (highest - close) / ((highest - lowest) / -100.0))
    return (np.where(np.isnan(highest), np.nan, r),)


def _typical(high, low, close):
    return (high + low + close) / 3.0


def _cci_value(tp: float, average: float, deviation: float, n: int) -> float:
    distance, deviation = tp - average, deviation / n
    flat = TA_EPSILON * abs(average)  # TA-Lib's flatness band, relative to the window's price level
    return distance / (0.015 * deviation) if abs(distance) > flat and abs(deviation) > flat else 0.0


def _cci_step(p, window, x):
    n = p["period"]
    window = push(window, _typical(*x), n)
    if len(window) < n:
        return window, (NAN,)
    average = mean_of(window)
    deviation = 0.0
    for v in window:
        deviation += abs(v - average)
    return window, (_cci_value(window[-1], average, deviation, n),)


def _cci_batch(p, inputs, precision):
    n = p["period"]
    tp = _typical(*inputs)
    out = np.full(len(tp), np.nan)
    m = len(tp) - n + 1
    if m <= 0:
        return (out,)
    average = window_mean(tp, n)[n - 1:]
    deviation = np.zeros(m)
    for k in range(n):
        deviation += np.abs(tp[k:k + m] - average)
    distance, deviation = tp[n - 1:] - average, deviation / n
    flat = TA_EPSILON * np.abs(average)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[n - 1:] = np.where((np.abs(distance) > flat) & (np.abs(deviation) > flat),
                               distance / (0.015 * deviation), 0.0)
    return (out,)


_HLC = ("high", "low", "close")

MOMENTUM = (
    Feature("macd", (Param("fast", "int", 12, minimum=2, doc="bars of the fast EMA"),
                     Param("slow", "int", 26, minimum=2, doc="bars of the slow EMA"),
                     Param("signal", "int", 9, minimum=1, doc="bars of the signal line's EMA of the MACD line")),
            ("x",), ("macd", "signal", "hist"), _macd_init, _macd_step, None,
            doc="MACD: fast EMA - slow EMA, its signal EMA and the histogram (their difference), seeded as "
                "TA-Lib MACD."),
    Feature("roc", (Param("period", "int", 10, minimum=1, doc="bars back"),), ("x",), ("value",),
            lambda p, pr: (), _roc_step, _roc_batch,
            doc="Rate of change in percent: (x[t] / x[t-period] - 1) × 100 (TA-Lib ROC)."),
    Feature("stochastic", (Param("period", "int", 14, minimum=1, doc="bars of the high-low range (fast %K)"),
                           Param("smooth_k", "int", 3, minimum=1, doc="bars of the SMA turning fast %K into %K"),
                           Param("smooth_d", "int", 3, minimum=1, doc="bars of the SMA of %K giving %D")),
            _HLC, ("k", "d"), lambda p, pr: ((), (), ()), _stochastic_step, _stochastic_batch,
            doc="Slow stochastic oscillator %K and %D (0..100) with SMA smoothing (TA-Lib STOCH)."),
    Feature("stoch_rsi", (Param("period", "int", 14, minimum=2, doc="bars of Wilder's RSI"),
                          Param("stoch_period", "int", 14, minimum=1, doc="RSI values of the stochastic's range"),
                          Param("smooth_d", "int", 3, minimum=1, doc="bars of the SMA of %K giving %D")),
            ("x",), ("k", "d"), _stoch_rsi_init, _stoch_rsi_step, None,
            doc="Stochastic RSI: the fast stochastic %K of Wilder's RSI and its SMA %D, 0..100 (TA-Lib STOCHRSI)."),
    Feature("williams_r", (Param("period", "int", 14, minimum=2, doc="bars of the high-low range"),), _HLC,
            ("value",), lambda p, pr: (), _williams_step, _williams_batch,
            doc="Williams %R: -100 × (highest high - close) / (highest high - lowest low), -100..0 (TA-Lib WILLR)."),
    Feature("cci", (Param("period", "int", 20, minimum=2, doc="bars of the typical price's mean and deviation"),),
            _HLC, ("value",), lambda p, pr: (), _cci_step, _cci_batch,
            doc="Commodity channel index: (typical price - its SMA) / (0.015 × mean absolute deviation) "
                "(TA-Lib CCI)."),
)
