"""Moving averages beyond SMA and EMA: weighted (``wma``), Hull (``hma``) and Kaufman's adaptive (``kama``).

* ``wma(period)`` — ``Σ k·x[t-n+k] / (n(n+1)/2)``, k = 1..n: the newest bar weighs most.
  Defined from bar ``period - 1``. Equals TA-Lib's ``WMA``.
* ``hma(period)`` — Hull: ``WMA(2·WMA(x, ⌊n/2⌋) - WMA(x, n), ⌊√n⌋)``, both derived periods
  truncated as Alan Hull (and TA-Lib's ``HMA``) define them. Defined from bar
  ``period - 1 + ⌊√period⌋ - 1``.
* ``kama(period, fast, slow)`` — Kaufman: efficiency ratio ``ER = |x[t] - x[t-n]| / Σ|x[i] - x[i-1]|``
  over the last ``n`` changes, smoothing constant ``sc = (ER·(2/(fast+1) - 2/(slow+1)) + 2/(slow+1))²``,
  ``kama[t] = kama[t-1] + sc·(x[t] - kama[t-1])``. Defined from bar ``period``, seeded with
  ``x[period-1]`` as the previous value. Equals TA-Lib's ``KAMA`` at ``fast=2, slow=30`` (TA-Lib
  fixes those two), including TA-Lib's conventions, kept on purpose: ER is 1 when the path sum
  is at most the signed net move or is zero; the path sum is carried from bar to bar (add the new
  change, drop the oldest) exactly as TA-Lib does, and set to 0 once ``period`` bars in a row have
  not changed (the carried sum then holds rounding residue only).

The weighted window sums add left to right in both forms, so streaming equals batch bit for bit;
they differ from TA-Lib's running sums by rounding only (≤ 1e-12 relative on the bundled data).
"""
from __future__ import annotations

import math

from fp.features import Feature
from fp.indicators._common import NAN, is_zero, push, weighted_mean_of, weighted_window_mean
from state.params import Param

__all__ = ["AVERAGES"]


def _wma_step(p, window, x):
    n = p["period"]
    window = push(window, x[0], n)
    return window, (weighted_mean_of(window) if len(window) == n else NAN,)


def _wma_batch(p, inputs, precision):
    return (weighted_window_mean(inputs[0], p["period"]),)


def _hull_periods(n: int) -> tuple[int, int]:
    return max(1, n // 2), int(math.sqrt(n))


def _hma_step(p, state, x):
    n = p["period"]
    half, root = _hull_periods(n)
    prices, delagged = state
    prices = push(prices, x[0], n)
    if len(prices) < n:
        return (prices, delagged), (NAN,)
    delagged = push(delagged, 2.0 * weighted_mean_of(prices[-half:]) - weighted_mean_of(prices), root)
    return (prices, delagged), (weighted_mean_of(delagged) if len(delagged) == root else NAN,)


def _hma_batch(p, inputs, precision):
    x, n = inputs[0], p["period"]
    half, root = _hull_periods(n)
    delagged = 2.0 * weighted_window_mean(x, half) - weighted_window_mean(x, n)
    return (weighted_window_mean(delagged, root),)


def _kama_step(p, state, x):
    """TA-Lib's KAMA recursion: ``state = (last period+1 prices, path sum, bars without a change, kama)``."""
    n = p["period"]
    slowest = 2.0 / (p["slow"] + 1.0)
    spread = 2.0 / (p["fast"] + 1.0) - slowest
    prices, path, still, kama = state
    v = x[0]
    dropped = prices[0] if len(prices) == n + 1 else None
    still = still + 1 if prices and v == prices[-1] else 0
    prices = push(prices, v, n + 1)
    if len(prices) <= n:
        return (prices, path, still, kama), (NAN,)
    if dropped is None:  # the first value: the path over the first n changes, yesterday's price as the seed
        path = 0.0
        for a, b in zip(prices, prices[1:]):
            path += abs(a - b)
        kama = prices[-2]
    else:
        path -= abs(dropped - prices[0])
        path += abs(v - prices[-2])
    if still >= n:  # a window without a change: the carried sum holds rounding residue, not a path
        path = 0.0
    move = v - prices[0]
    ratio = 1.0 if path <= move or is_zero(path) else abs(move / path)
    sc = ratio * spread + slowest
    sc *= sc
    kama = (v - kama) * sc + kama
    return (prices, path, still, kama), (kama,)


_PERIOD = "window length in bars"

AVERAGES = (
    Feature("wma", (Param("period", "int", 20, minimum=1, doc=_PERIOD),), ("x",), ("value",),
            lambda p, pr: (), _wma_step, _wma_batch,
            doc="Weighted moving average: weights 1..period, the newest bar heaviest (TA-Lib WMA)."),
    Feature("hma", (Param("period", "int", 20, minimum=2, doc=_PERIOD),), ("x",), ("value",),
            lambda p, pr: ((), ()), _hma_step, _hma_batch,
            doc="Hull moving average: WMA(2·WMA(x, period/2) - WMA(x, period), √period), periods truncated "
                "(TA-Lib HMA)."),
    Feature("kama", (Param("period", "int", 10, minimum=2, doc="bars of the efficiency ratio"),
                     Param("fast", "int", 2, minimum=1, doc="EMA period of the fastest smoothing (efficiency 1)"),
                     Param("slow", "int", 30, minimum=1, doc="EMA period of the slowest smoothing (efficiency 0)")),
            ("x",), ("value",), lambda p, pr: ((), 0.0, 0, NAN), _kama_step, None,
            doc="Kaufman's adaptive moving average: an EMA whose smoothing follows the efficiency ratio "
                "(TA-Lib KAMA at fast=2, slow=30)."),
)
