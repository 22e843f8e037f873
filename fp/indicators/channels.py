"""Price channels: ``keltner`` (an EMA of the typical price ± k ATRs) and ``donchian`` (the highest
high and lowest low over a window).

* ``keltner(period, atr_period, k)`` — ``middle = EMA_period((high + low + close)/3)``,
  ``upper/lower = middle ± k·ATR_atr_period``, ATR Wilder's average true range (TA-Lib ``KC``).
  TA-Lib's seeding, matched on purpose: the first value is at bar
  ``max(period - 1, atr_period)`` and *both* legs are seeded on the windows ending there — the
  EMA with the mean of the last ``period`` typical prices, the ATR with the mean of the last
  ``atr_period`` true ranges (each with its previous close) — then both recur bar by bar:
  ``ema += 2/(period+1)·(tp - ema)``, ``atr = (atr·(atr_period-1) + tr)/atr_period``.
* ``donchian(period)`` — ``upper`` = highest high, ``lower`` = lowest low over the last ``period``
  bars including the current one, ``middle`` their midpoint (TA-Lib ``DONCHIAN``).
"""
from __future__ import annotations

import numpy as np

from fp.features import Feature, window_extreme
from fp.indicators._common import mean_of, nans, true_range
from state.params import Param

__all__ = ["CHANNELS"]


def _keltner_init(p, precision):
    return (0, (), 0.0, 0.0, 0.0)  # bar, bars until the first value, ema, atr, last close


def _keltner_step(p, state, x):
    n, m, k = p["period"], p["atr_period"], p["k"]
    start = max(n - 1, m)
    t, seed, ema, atr, prev_close = state
    high, low, close = x
    tp = (high + low + close) / 3.0
    if t < start:
        return (t + 1, seed + (x,), ema, atr, close), nans(3)
    if t == start:
        bars = seed + (x,)
        ema = mean_of([(h + lo + c) / 3.0 for h, lo, c in bars[-n:]])
        atr = mean_of([true_range(h, lo, c0) for (_, _, c0), (h, lo, _) in zip(bars[-m - 1:], bars[-m:])])
    else:
        ema = (tp - ema) * (2.0 / (n + 1)) + ema
        atr = (atr * (m - 1) + true_range(high, low, prev_close)) / m
    band = atr * k
    return (t + 1, (), ema, atr, close), (ema, ema + band, ema - band)


def _donchian_step(p, window, x):
    n = p["period"]
    window = (window + (x,))[-n:]
    if len(window) < n:
        return window, nans(3)
    upper, lower = max(h for h, _ in window), min(lo for _, lo in window)
    return window, ((upper + lower) / 2.0, upper, lower)


def _donchian_batch(p, inputs, precision):
    high, low = inputs
    upper, lower = window_extreme(high, p["period"], np.maximum), window_extreme(low, p["period"], np.minimum)
    return ((upper + lower) / 2.0, upper, lower)


CHANNELS = (
    Feature("keltner", (Param("period", "int", 20, minimum=2, doc="bars of the typical price's EMA (the middle)"),
                        Param("atr_period", "int", 10, minimum=1, doc="bars of the average true range"),
                        Param("k", "float", 2.0, minimum=0.0, doc="ATR multiple of the band")),
            ("high", "low", "close"), ("middle", "upper", "lower"), _keltner_init, _keltner_step, None,
            doc="Keltner channel: EMA of the typical price ± k average true ranges, seeded as TA-Lib KC."),
    Feature("donchian", (Param("period", "int", 20, minimum=1, doc="bars of the channel"),), ("high", "low"),
            ("middle", "upper", "lower"), lambda p, pr: (), _donchian_step, _donchian_batch,
            doc="Donchian channel: highest high, lowest low over period bars and their midpoint (TA-Lib DONCHIAN)."),
)
