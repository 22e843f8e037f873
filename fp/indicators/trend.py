"""Trend strength and trailing-stop systems: ``adx`` (with +DI and -DI), ``supertrend``, ``psar``.

Each follows TA-Lib's recursion step by step (same seeds, same order of operations), equals it to
1e-9 and is NaN before TA-Lib's first output:

* ``adx(period)`` — Wilder's directional movement. One-bar ``+DM = high - prev high`` when it is
  positive and larger than ``-DM = prev low - low`` (and vice versa; both 0 otherwise). ``+DM``,
  ``-DM`` and the true range are summed over the first ``period - 1`` bars after the first, then
  smoothed with Wilder's running sum ``S = S - S/period + today``. ``+DI = 100·S(+DM)/S(TR)``,
  ``-DI`` likewise (0 while ``S(TR)`` is 0), from bar ``period``; ``DX = 100·|+DI - -DI|/(+DI + -DI)``;
  ``adx`` starts as the mean of the first ``period`` DX values (bar ``2·period - 1``) and continues
  with Wilder's average ``(adx·(period-1) + DX)/period``; a bar without a defined DX leaves it
  unchanged (TA-Lib ``ADX``, ``PLUS_DI``, ``MINUS_DI``).
* ``supertrend(period, k)`` — bands ``(high + low)/2 ± k·ATR`` where ATR is Wilder's average true
  range seeded with the mean of the true ranges of bars ``1..period`` (TA-Lib's ATR: bar 0 has no
  previous close and is skipped — the ``atr`` feature counts its high-low range instead). Each
  band ratchets toward the price and is released by a close beyond it; the trend flips when the
  close crosses the band of the current trend. ``supertrend`` is the lower band in an uptrend and
  the upper band in a downtrend, ``direction`` is +1 / -1; the first value (bar ``period``) is
  taken as an uptrend, TA-Lib's convention (TA-Lib ``SUPERTREND``).
* ``psar(step, max_step)`` — Wilder's parabolic SAR from bar 1: the first direction is short when
  bar 1's ``-DM`` is positive, else long, with the first bar's low (high) as the first SAR and
  bar 1's high (low) as the extreme point; ``SAR += af·(EP - SAR)``, ``af`` growing by ``step``
  per new extreme up to ``max_step``, the SAR never inside the last two bars' range; a bar
  reaching the SAR reverses it to the extreme point. ``step > max_step`` is lowered to
  ``max_step``, as TA-Lib does (TA-Lib ``SAR``).
"""
from __future__ import annotations

from fp.features import Feature
from fp.indicators._common import NAN, is_zero, nans, true_range
from state.params import Param

__all__ = ["TREND"]


# ---- adx ----------------------------------------------------------------------------------------

def _directional(high, low, prev_high, prev_low) -> tuple[float, float]:
    """(+DM, -DM) of one bar."""
    up, down = high - prev_high, prev_low - low
    if down > 0 and up < down:
        return 0.0, down
    if up > 0 and up > down:
        return up, 0.0
    return 0.0, 0.0


def _adx_init(p, precision):
    return (0, NAN, NAN, NAN, 0.0, 0.0, 0.0, 0.0, NAN)  # bar, prev h/l/c, S(+DM), S(-DM), S(TR), DX sum, adx


def _adx_step(p, state, x):
    n = p["period"]
    t, prev_high, prev_low, prev_close, plus_dm, minus_dm, tr, dx_sum, adx = state
    high, low, close = x
    if t == 0:
        return (1, high, low, close, 0.0, 0.0, 0.0, 0.0, adx), nans(3)
    up, down = _directional(high, low, prev_high, prev_low)
    range_ = true_range(high, low, prev_close)
    if t < n:  # the first period - 1 bars after the first: plain sums
        plus_dm, minus_dm, tr = plus_dm + up, minus_dm + down, tr + range_
        return (t + 1, high, low, close, plus_dm, minus_dm, tr, dx_sum, adx), nans(3)
    plus_dm = plus_dm - plus_dm / n
    minus_dm = minus_dm - minus_dm / n
    if up:
        plus_dm += up
    if down:
        minus_dm += down
    tr = tr - tr / n + range_
    plus_di = minus_di = 0.0
    dx = None
    if not is_zero(tr):
        minus_di, plus_di = 100.0 * (minus_dm / tr), 100.0 * (plus_dm / tr)
        total = minus_di + plus_di
        if not is_zero(total):
            dx = 100.0 * (abs(minus_di - plus_di) / total)
    if t < 2 * n - 1:
        dx_sum += dx if dx is not None else 0.0
        out = NAN
    elif t == 2 * n - 1:
        dx_sum += dx if dx is not None else 0.0
        adx = out = dx_sum / n
    else:
        if dx is not None:
            adx = (adx * (n - 1) + dx) / n
        out = adx
    return (t + 1, high, low, close, plus_dm, minus_dm, tr, dx_sum, adx), (out, plus_di, minus_di)


# ---- supertrend ---------------------------------------------------------------------------------

def _supertrend_init(p, precision):
    return (0, NAN, 0.0, NAN, NAN, True)  # bar, prev close, ATR (a sum while seeding), upper, lower, uptrend


def _supertrend_step(p, state, x):
    n, k = p["period"], p["k"]
    t, prev_close, atr, upper, lower, up = state
    high, low, close = x
    if t == 0:
        return (1, close, atr, upper, lower, up), nans(2)
    range_ = true_range(high, low, prev_close)
    if t < n:
        return (t + 1, close, atr + range_, upper, lower, up), nans(2)
    median = (high + low) / 2.0
    if t == n:
        atr = (atr + range_) / n
        band = k * atr
        upper, lower, up = median + band, median - band, True
    else:
        atr = (atr * (n - 1) + range_) / n
        band = k * atr
        basic_upper, basic_lower = median + band, median - band
        if basic_upper < upper or prev_close > upper:
            upper = basic_upper
        if basic_lower > lower or prev_close < lower:
            lower = basic_lower
        if up:
            up = not close < lower
        else:
            up = close > upper
    out = (lower, 1.0) if up else (upper, -1.0)
    return (t + 1, close, atr, upper, lower, up), out


# ---- parabolic SAR ------------------------------------------------------------------------------

def _psar_init(p, precision):
    return (0, NAN, NAN, True, NAN, NAN, NAN)  # bar, last high, last low, long, sar, extreme point, af


def _psar_step(p, state, x):
    step, top = min(p["step"], p["max_step"]), p["max_step"]
    t, last_high, last_low, long_, sar, ep, af = state
    high, low = x
    if t == 0:
        return (1, high, low, long_, sar, ep, af), (NAN,)
    if t == 1:  # the first bar's range seeds the SAR, the direction comes from bar 1's -DM
        up, down = high - last_high, last_low - low
        long_ = not (down > 0 and up < down)
        ep, sar = (high, last_low) if long_ else (low, last_high)
        af = step
        last_high, last_low = high, low  # TA-Lib's first iteration sees bar 1 as its own previous bar
    prev_high, prev_low = last_high, last_low
    if long_:
        if low <= sar:  # reversal to short at the extreme point
            long_, sar = False, max(ep, prev_high, high)
            out, af, ep = sar, step, low
            sar = max(sar + af * (ep - sar), prev_high, high)
        else:
            out = sar
            if high > ep:
                ep, af = high, min(af + step, top)
            sar = min(sar + af * (ep - sar), prev_low, low)
    elif high >= sar:  # reversal to long
        long_, sar = True, min(ep, prev_low, low)
        out, af, ep = sar, step, high
        sar = min(sar + af * (ep - sar), prev_low, low)
    else:
        out = sar
        if low < ep:
            ep, af = low, min(af + step, top)
        sar = max(sar + af * (ep - sar), prev_high, high)
    return (t + 1, high, low, long_, sar, ep, af), (out,)


TREND = (
    Feature("adx", (Param("period", "int", 14, minimum=2, doc="bars of Wilder's smoothing"),),
            ("high", "low", "close"), ("adx", "plus_di", "minus_di"), _adx_init, _adx_step, None,
            doc="Average directional index with the +DI and -DI lines, Wilder's smoothing (TA-Lib ADX, PLUS_DI, "
                "MINUS_DI)."),
    Feature("supertrend", (Param("period", "int", 10, minimum=2, doc="bars of the average true range"),
                           Param("k", "float", 3.0, minimum=0.0, doc="ATR multiple of the band")),
            ("high", "low", "close"), ("supertrend", "direction"), _supertrend_init, _supertrend_step, None,
            doc="SuperTrend: the trailing ATR band on the side of the trend and the trend's direction ±1 "
                "(TA-Lib SUPERTREND)."),
    Feature("psar", (Param("step", "float", 0.02, minimum=0.0, doc="acceleration factor: its start and increment"),
                     Param("max_step", "float", 0.2, minimum=0.0, doc="largest acceleration factor")),
            ("high", "low"), ("value",), _psar_init, _psar_step, None,
            doc="Wilder's parabolic stop-and-reverse (TA-Lib SAR)."),
)
