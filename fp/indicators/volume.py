"""Volume indicators: ``obv``, ``mfi`` and ``vwap`` (per session or rolling).

* ``obv`` — on-balance volume: starts at the first bar's volume, then adds the bar's volume when
  the close rises, subtracts it when it falls (TA-Lib ``OBV``).
* ``mfi(period)`` — money flow index: with typical price ``tp = (high + low + close)/3`` and money
  flow ``tp·volume``, ``100·Σ positive flow / Σ all flow`` over the last ``period`` bars, a flow
  positive when ``tp`` rose and negative when it fell; a change within 1e-14 of the two prices'
  magnitude counts as none, and a window without any flow gives 0 (TA-Lib ``MFI``'s conventions).
  Defined from bar ``period``.
* ``vwap(anchor, period)`` — volume-weighted average typical price ``Σ tp·volume / Σ volume``:
  ``anchor: session`` accumulates from the first bar of each session (a session is a UTC calendar
  day of the bar's timestamp) and equals TA-Lib's ``VWAP`` over that session's bars; a bar without
  volume repeats the last value, and a session's bars before any volume traded are NaN (TA-Lib
  shows 0.0 there). ``anchor: rolling`` sums over the last ``period`` bars (NaN while they hold
  no volume).

Sums run left to right in both forms (per session for ``vwap``), so streaming equals batch bit
for bit; they differ from TA-Lib's running sums by rounding only.
"""
from __future__ import annotations

import numpy as np

from fp.features import Feature, window_sum
from fp.indicators._common import NAN, TA_EPSILON, push
from state.params import Param

__all__ = ["VOLUME"]

_DAY_NS = 86_400 * 10**9


def _obv_step(p, state, x):
    close, volume = x
    prev, obv = state
    if prev != prev:  # the first bar
        obv = volume
    elif close > prev:
        obv = obv + volume
    elif close < prev:
        obv = obv - volume
    return (close, obv), (obv,)


def _obv_batch(p, inputs, precision):
    close, volume = inputs
    if not len(close):
        return (np.zeros(0),)
    signed = np.empty(len(close))
    signed[0] = volume[0]
    signed[1:] = np.where(close[1:] > close[:-1], volume[1:], np.where(close[1:] < close[:-1], -volume[1:], 0.0))
    return (np.cumsum(signed),)


def _typical(high, low, close):
    return (high + low + close) / 3.0


def _flows(tp: float, prev_tp: float, volume: float) -> tuple[float, float]:
    change = tp - prev_tp
    flow = 0.0 if abs(change) <= TA_EPSILON * (abs(tp) + abs(prev_tp)) else tp * volume
    return (0.0, flow) if change < 0.0 else (flow, 0.0)


def _mfi_value(positive: float, negative: float) -> float:
    total = positive + negative
    return 100.0 * (positive / total) if total > 0.0 else 0.0


def _mfi_step(p, state, x):
    n = p["period"]
    prev_tp, window = state
    high, low, close, volume = x
    tp = _typical(high, low, close)
    if prev_tp != prev_tp:
        return (tp, window), (NAN,)
    window = push(window, _flows(tp, prev_tp, volume), n)
    if len(window) < n:
        return (tp, window), (NAN,)
    positive = negative = 0.0
    for pos, neg in window:
        positive += pos
        negative += neg
    return (tp, window), (_mfi_value(positive, negative),)


def _mfi_batch(p, inputs, precision):
    high, low, close, volume = inputs
    n = p["period"]
    out = np.full(len(close), np.nan)
    if len(close) <= n:
        return (out,)
    tp = _typical(high, low, close)
    change = tp[1:] - tp[:-1]
    flow = np.where(np.abs(change) <= TA_EPSILON * (np.abs(tp[1:]) + np.abs(tp[:-1])), 0.0, tp[1:] * volume[1:])
    falling = change < 0.0
    positive = window_sum(np.where(falling, 0.0, flow), n)[n - 1:]
    negative = window_sum(np.where(falling, flow, 0.0), n)[n - 1:]
    total = positive + negative
    with np.errstate(divide="ignore", invalid="ignore"):
        out[n:] = np.where(total > 0.0, 100.0 * (positive / total), 0.0)
    return (out,)


def _vwap_init(p, precision):
    return (None, 0.0, 0.0, ())  # (session, Σ tp·v, Σ v) for session; the last (tp·v, v) pairs for rolling


def _vwap_step(p, state, x):
    time, high, low, close, volume = x
    session, pv, vol, window = state
    tp = _typical(high, low, close)
    if p["anchor"] == "rolling":
        window = push(window, (tp * volume, volume), p["period"])
        if len(window) < p["period"]:
            return (session, pv, vol, window), (NAN,)
        pv = vol = 0.0
        for a, b in window:
            pv += a
            vol += b
        return (session, pv, vol, window), (pv / vol if vol > 0.0 else NAN,)
    day = int(time) // _DAY_NS
    if day != session:
        session, pv, vol = day, 0.0, 0.0
    pv, vol = pv + tp * volume, vol + volume
    return (session, pv, vol, window), (pv / vol if vol > 0.0 else NAN,)


def _vwap_batch(p, inputs, precision):
    time, high, low, close, volume = inputs
    tp = _typical(high, low, close)
    flow = tp * volume
    with np.errstate(divide="ignore", invalid="ignore"):
        if p["anchor"] == "rolling":
            pv, vol = window_sum(flow, p["period"]), window_sum(volume, p["period"])
        else:
            days = np.asarray(time).view(np.int64) // _DAY_NS
            starts = np.flatnonzero(np.concatenate(([True], days[1:] != days[:-1]))) if len(days) else []
            bounds = np.append(starts, len(days))
            pv, vol = np.empty(len(days)), np.empty(len(days))
            for a, b in zip(bounds[:-1], bounds[1:]):
                pv[a:b], vol[a:b] = np.cumsum(flow[a:b]), np.cumsum(volume[a:b])
        return (np.where(vol > 0.0, pv / vol, np.nan),)


VOLUME = (
    Feature("obv", (), ("close", "volume"), ("value",), lambda p, pr: (NAN, NAN), _obv_step, _obv_batch,
            doc="On-balance volume: the running sum of volume signed by the close's direction (TA-Lib OBV)."),
    Feature("mfi", (Param("period", "int", 14, minimum=2, doc="bars of money flow"),),
            ("high", "low", "close", "volume"), ("value",), lambda p, pr: (NAN, ()), _mfi_step, _mfi_batch,
            doc="Money flow index (0..100): the volume-weighted RSI of the typical price (TA-Lib MFI)."),
    Feature("vwap", (Param("anchor", "str", "session", choices=("session", "rolling"),
                           doc="session: from each UTC day's first bar; rolling: over the last period bars"),
                     Param("period", "int", 20, minimum=1, doc="bars of the rolling window (anchor: rolling)")),
            ("time", "high", "low", "close", "volume"), ("value",), _vwap_init, _vwap_step, _vwap_batch,
            doc="Volume-weighted average typical price per session (TA-Lib VWAP over each session) or rolling."),
)
