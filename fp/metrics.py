"""Metrics of one lane's run, computed from its equity curve and closed trades.

Every metric is a pure function of the equity curve (``state.EquityPoints``, the curve
compressed without loss), the closed trades' pnl, the commission paid and the data's frequency,
so two runs with equal curves have equal metrics. Conventions:

* returns are per-bar simple returns of close-marked equity;
* ``sharpe`` = mean / standard deviation (ddof 1) × sqrt(periods per year), risk-free rate 0;
* ``sortino`` = mean / downside deviation × sqrt(periods per year), with downside deviation
  sqrt(mean(min(r, 0)²)) over all bars;
* ``max_drawdown_pct`` = max over t of (1 − equity[t] / max(equity[..t])) × 100;
* ``cagr_pct`` over the calendar span of the data; ``exposure_pct`` = bars holding a position;
* ``win_rate_pct`` and ``profit_factor`` over closed trades (NaN with none; profit factor is
  ``inf`` with wins and no losses).

A metric that cannot be defined is NaN, never a made-up number, and :func:`undefined_reasons`
says why: ``sharpe`` and ``sortino`` need at least two returns and returns that vary (a lane that
never trades has none), and a curve that reaches zero — a ruined lane, whose equity stays 0 from
its ruin on (``docs/semantics.md``) — has no return after it (0 / 0), so neither is defined for
it; its ``total_return_pct`` and ``cagr_pct`` are -100 and its ``max_drawdown_pct`` 100.
"""
from __future__ import annotations

import math

import numpy as np

from state.ledger import EquityPoints

__all__ = ["METRICS", "max_drawdown", "metrics", "undefined_reasons"]

#: Metric columns, in the order results show them.
METRICS: tuple[str, ...] = (
    "final_equity",
    "total_return_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "n_trades",
    "win_rate_pct",
    "profit_factor",
    "exposure_pct",
    "commission",
)

_NAN = float("nan")


def max_drawdown(values: np.ndarray, *, block: int = 256) -> float:
    """``1 - min over t of values[t] / max(values[..t])``, exact, without a running maximum over
    every value when it can be avoided.

    Blocks of ``block`` values bound their own drawdown: with ``P`` the peak before the block,
    every ratio in it is at least ``min / max(P, block max)``, and its lowest ratio is at most
    ``min / P``. Only blocks whose lower bound does not exceed the best upper bound can hold the
    lowest ratio; those are scanned exactly, the rest skipped. Law: equal, bit for bit, to the
    direct formula (``tests/fp/test_metrics.py``).

    >>> max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0]))
    0.25
    """
    n = len(values)
    if n == 0:
        return float("nan")
    if n <= 4 * block or not values.min() > 0.0:
        return 1.0 - float(np.min(values / np.maximum.accumulate(values)))
    full = n // block * block
    blocks = values[:full].reshape(-1, block)
    top, bottom = blocks.max(axis=1), blocks.min(axis=1)
    before = np.maximum.accumulate(np.concatenate(([top[0]], top[:-1])))  # peak before each block (block 0: its own)
    lowest_possible = bottom / np.maximum(before, top)
    upper = float(np.min(bottom[1:] / before[1:]))
    candidates = np.flatnonzero(lowest_possible <= upper)
    candidates = np.union1d(candidates, [0])
    rows = blocks[candidates]
    peaks = np.maximum.accumulate(rows, axis=1)
    later = candidates > 0
    peaks[later] = np.maximum(peaks[later], before[candidates[later], None])
    lowest = float(np.min(rows / peaks))
    if full < n:
        tail = values[full:]
        tail_peaks = np.maximum(np.maximum.accumulate(tail), top.max())
        lowest = min(lowest, float(np.min(tail / tail_peaks)))
    return 1.0 - lowest


def metrics(
    curve: EquityPoints,
    trade_pnl: np.ndarray,
    commission: float,
    *,
    initial_cash: float,
    periods_per_year: float,
    years: float,
) -> dict[str, float]:
    """All metrics of :data:`METRICS` for one lane, from its (compressed) equity curve.

    Returns between consecutive kept points are the curve's non-zero-able returns; every other
    bar's return is exactly zero (flat equity), and enters the mean and deviations as such.

    >>> from fp.ledger import compress_equity
    >>> curve = compress_equity(np.array([100.0, 110.0, 99.0, 121.0, 121.0]), np.array([0.0, 1.0, 1.0, 0.0, 0.0]))
    >>> m = metrics(curve, np.array([21.0]), 0.0, initial_cash=100.0, periods_per_year=252.0, years=1.0)
    >>> round(m["total_return_pct"], 9), round(m["max_drawdown_pct"], 9), m["exposure_pct"], m["n_trades"]
    (21.0, 10.0, 40.0, 1)
    """
    values, n_bars = curve.values, curve.n_bars
    final = float(values[-1])
    scale = math.sqrt(periods_per_year)
    sharpe = sortino = _NAN
    n_returns = n_bars - 1
    if n_returns > 1 and values.min() > 0.0:  # no return is defined after equity reaches zero
        returns = values[1:] / values[:-1]
        returns -= 1.0
        zeros = n_returns - len(returns)
        mean = float(returns.sum()) / n_returns
        deviation = returns - mean
        variance = (float(np.square(deviation).sum()) + zeros * mean * mean) / (n_returns - 1)  # not BLAS
        std = math.sqrt(variance)
        sharpe = mean / std * scale if std > 0.0 else _NAN
        down = np.minimum(returns, 0.0)
        downside = math.sqrt(float(np.square(down).sum()) / n_returns)
        sortino = mean / downside * scale if downside > 0.0 else _NAN
    drawdown = max_drawdown(values) * 100.0
    growth = final / initial_cash
    if years > 0.0:
        cagr = (growth ** (1.0 / years) - 1.0) * 100.0 if growth > 0.0 else -100.0
    else:
        cagr = _NAN
    wins = trade_pnl[trade_pnl > 0.0]
    losses = trade_pnl[trade_pnl < 0.0]
    n = len(trade_pnl)
    gross_loss = -float(losses.sum())
    if n == 0:
        profit_factor = _NAN
    elif gross_loss > 0.0:
        profit_factor = float(wins.sum()) / gross_loss
    else:
        profit_factor = float("inf") if len(wins) else _NAN
    return {
        "final_equity": final,
        "total_return_pct": (growth - 1.0) * 100.0,
        "cagr_pct": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_pct": drawdown,
        "n_trades": n,
        "win_rate_pct": len(wins) / n * 100.0 if n else _NAN,
        "profit_factor": profit_factor,
        "exposure_pct": curve.exposure_bars / n_bars * 100.0,
        "commission": float(commission),
    }


def undefined_reasons(m: dict[str, float], curve: EquityPoints) -> dict[str, str]:
    """Why each NaN metric of ``m`` (:func:`metrics` of ``curve``) has no value, by metric.

    >>> from fp.ledger import compress_equity
    >>> flat = compress_equity(np.full(5, 100.0), np.zeros(5))
    >>> m = metrics(flat, np.array([]), 0.0, initial_cash=100.0, periods_per_year=252.0, years=1.0)
    >>> undefined_reasons(m, flat)["sharpe"]
    'equity never moved (no position held)'
    """
    values = curve.values
    if curve.n_bars < 3:
        moves = f"{curve.n_bars} bar(s): a ratio needs at least two returns"
    elif not values.min() > 0.0:
        moves = "equity reached 0 (ruin): no return is defined after it"
    elif curve.exposure_bars == 0:
        moves = "equity never moved (no position held)"
    else:
        moves = "the returns never vary"
    why = {"sharpe": moves,
           "sortino": moves if math.isnan(m["sharpe"]) else "no bar lost: the downside deviation is 0",
           "cagr_pct": "the data spans no time",
           "win_rate_pct": "no closed trade",
           "profit_factor": "no closed trade" if m["n_trades"] == 0 else "no closed trade won or lost"}
    return {name: reason for name, reason in why.items() if isinstance(m.get(name), float) and math.isnan(m[name])}
