"""What the indicator families share: TA-Lib's zero test, the true range, weighted and plain
window sums with one order of additions in both forms, and a few small record helpers."""
from __future__ import annotations

import math

import numpy as np

from fp.features import window_sum

NAN = math.nan

#: TA-Lib's ``TA_EPSILON``: a value closer to zero than this counts as zero (``TA_IS_ZERO``).
TA_EPSILON = 1e-14


def is_zero(v: float) -> bool:
    """TA-Lib's ``TA_IS_ZERO``: ``-1e-14 < v < 1e-14``."""
    return -TA_EPSILON < v < TA_EPSILON


def push(window: tuple, v, n: int) -> tuple:
    """The last ``n`` values of ``window`` followed by ``v``."""
    return (window + (v,))[-n:]


def true_range(high: float, low: float, prev_close: float) -> float:
    """``max(high - low, |prev_close - high|, |prev_close - low|)``, compared in TA-Lib's order."""
    greatest = high - low
    up = abs(prev_close - high)
    if up > greatest:
        greatest = up
    down = abs(prev_close - low)
    if down > greatest:
        greatest = down
    return greatest


def true_ranges(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """:func:`true_range` of every bar after the first (NaN at bar 0, which has no previous close)."""
    out = np.full(len(close), np.nan)
    if len(close) > 1:
        prev = close[:-1]
        out[1:] = np.maximum(np.maximum(high[1:] - low[1:], np.abs(prev - high[1:])), np.abs(prev - low[1:]))
    return out


def mean_of(window) -> float:
    """The mean of ``window`` added left to right from 0.0 (what :func:`window_mean` does per window)."""
    s = 0.0
    for v in window:
        s += v
    return s / len(window)


def window_mean(x: np.ndarray, n: int) -> np.ndarray:
    """:func:`mean_of` every window ``x[t-n+1..t]`` (NaN for ``t < n-1`` and where a window holds NaN)."""
    return window_sum(x, n) / n


def weighted_mean_of(window) -> float:
    """The linearly weighted mean of ``window`` (weights 1..n, newest heaviest), added left to right."""
    s = 0.0
    for k, v in enumerate(window, 1):
        s += v * k
    n = len(window)
    return s / (n * (n + 1) // 2)


def weighted_window_mean(x: np.ndarray, n: int) -> np.ndarray:
    """:func:`weighted_mean_of` every window ``x[t-n+1..t]``, bit for bit (NaN before and around NaN)."""
    out = np.full(len(x), np.nan)
    m = len(x) - n + 1
    if m <= 0:
        return out
    acc = np.zeros(m)
    for k in range(n):
        acc += x[k:k + m] * (k + 1)
    out[n - 1:] = acc / (n * (n + 1) // 2)
    return out


def nans(count: int) -> tuple[float, ...]:
    return (NAN,) * count
