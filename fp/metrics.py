"""Metrics of one lane's run, computed from its equity curve and closed trades.

Every metric is a pure function of ``(equity, position, trade_pnl, commission)`` and the data's
frequency, so two runs with equal curves have equal metrics. Conventions:

* returns are per-bar simple returns of close-marked equity;
* ``sharpe`` = mean / standard deviation (ddof 1) × sqrt(periods per year), risk-free rate 0;
* ``sortino`` = mean / downside deviation × sqrt(periods per year), with downside deviation
  sqrt(mean(min(r, 0)²)) over all bars;
* ``max_drawdown_pct`` = max over t of (1 − equity[t] / max(equity[..t])) × 100;
* ``cagr_pct`` over the calendar span of the data; ``exposure_pct`` = bars holding a position;
* ``win_rate_pct`` and ``profit_factor`` over closed trades (NaN with none; profit factor is
  ``inf`` with wins and no losses).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["METRICS", "metrics"]

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


def metrics(
    equity: np.ndarray,
    position: np.ndarray,
    trade_pnl: np.ndarray,
    commission: float,
    *,
    initial_cash: float,
    periods_per_year: float,
    years: float,
) -> dict[str, float]:
    """All metrics of :data:`METRICS` for one lane.

    >>> m = metrics(np.array([100.0, 110.0, 99.0, 121.0]), np.array([0.0, 1.0, 1.0, 0.0]),
    ...             np.array([21.0]), 0.0, initial_cash=100.0, periods_per_year=252.0, years=1.0)
    >>> round(m["total_return_pct"], 9), round(m["max_drawdown_pct"], 9), m["exposure_pct"], m["n_trades"]
    (21.0, 10.0, 50.0, 1)
    """
    final = float(equity[-1])
    returns = equity[1:] / equity[:-1] - 1.0 if len(equity) > 1 else np.empty(0)
    scale = math.sqrt(periods_per_year)
    sharpe = sortino = _NAN
    if len(returns) > 1:
        mean = float(returns.mean())
        std = float(returns.std(ddof=1))
        sharpe = mean / std * scale if std > 0.0 else _NAN
        down = np.minimum(returns, 0.0)
        downside = math.sqrt(float(np.dot(down, down)) / len(returns))
        sortino = mean / downside * scale if downside > 0.0 else _NAN
    peak = np.maximum.accumulate(equity)
    drawdown = float(np.max(1.0 - equity / peak)) * 100.0 if len(equity) else _NAN
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
        "exposure_pct": float(np.count_nonzero(position)) / len(position) * 100.0 if len(position) else _NAN,
        "commission": float(commission),
    }
