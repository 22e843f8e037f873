"""Sizers: how much of its equity a lane's full signal (target ±1) asks for.

``all_in`` and ``fixed_fraction`` ask for a fixed share of equity, ``fixed_units`` and
``fixed_cash`` for a fixed size (``state.portfolio.SIZING``: the fill sizes them). The dynamic
sizers scale the target at each signal bar by a factor known at that bar's close (dense, from the
bars up to it — no look-ahead), capped at ``size_cap``:

* ``volatility``: ``target_volatility / (σ × √periods_per_year)``, σ the sample standard
  deviation of the last ``lookback`` one-bar returns;
* ``atr``: ``risk_per_trade × close / (atr_multiple × ATR(lookback))`` — the position loses
  ``risk_per_trade`` of equity if the price moves ``atr_multiple`` ATRs against it (sized on the
  signal bar's close);
* ``kelly``: ``kelly_fraction × side × μ / σ²`` with μ and σ² the mean and variance of the last
  ``lookback`` returns (the continuous-time Kelly fraction; 0 when the estimated edge is against
  the side, which makes the order flat).

Where the estimate does not exist yet (the first ``lookback`` bars) the factor is 0: no position
until the sizer can size it.
"""
from __future__ import annotations

import numpy as np

from fp.features import FEATURES, window_sum
from state.errors import ArgumentError
from state.market import Bars

__all__ = ["DYNAMIC_SIZERS", "SIZERS", "scaled_targets", "sizing_factors"]

#: Sizers by name (``portfolio.sizing``).
SIZERS: tuple[str, ...] = ("all_in", "fixed_fraction", "fixed_units", "fixed_cash", "volatility", "atr", "kelly")
#: Sizers whose factor changes from bar to bar.
DYNAMIC_SIZERS: tuple[str, ...] = ("volatility", "atr", "kelly")


def sizing_factors(sizer: str, bars: Bars, *, lookback: int, target_volatility: float, risk_per_trade: float,
                   atr_multiple: float, kelly_fraction: float, size_cap: float,
                   periods_per_year: float) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the factor a long and a short target are scaled by (see the module docstring).

    >>> close = 100.0 * np.cumprod(1.0 + 0.01 * np.sin(np.arange(60.0)))
    >>> bars = Bars("X", np.arange(60).astype("datetime64[D]").astype("datetime64[ns]"), close, close, close,
    ...             close, np.ones(60))
    >>> long, short = sizing_factors("volatility", bars, lookback=20, target_volatility=0.2,
    ...                              risk_per_trade=0.01, atr_multiple=2.0, kelly_fraction=0.5, size_cap=1.0,
    ...                              periods_per_year=252.0)
    >>> bool(np.all(long[:20] == 0.0)), bool(np.all((long[20:] > 0.0) & (long[20:] <= 1.0))), bool(np.all(long == short))
    (True, True, True)
    """
    close = bars.close
    if sizer == "volatility":
        sigma = FEATURES["volatility"].compute({"period": lookback}, (close,), bars.price_precision)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = target_volatility / (sigma * np.sqrt(periods_per_year))
        factor = _capped(factor, size_cap)
        return factor, factor
    if sizer == "atr":
        atr = FEATURES["atr"].compute({"period": lookback}, (bars.high, bars.low, close), bars.price_precision)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = risk_per_trade * close / (atr_multiple * atr)
        factor = _capped(factor, size_cap)
        return factor, factor
    if sizer == "kelly":
        returns = np.full(len(close), np.nan)
        returns[1:] = close[1:] / close[:-1] - 1.0
        mean = np.full(len(close), np.nan)
        mean[1:] = window_sum(returns[1:], lookback) / lookback
        sigma = FEATURES["volatility"].compute({"period": lookback}, (close,), bars.price_precision)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            edge = kelly_fraction * mean / (sigma * sigma)
        return _capped(edge, size_cap), _capped(-edge, size_cap)
    raise ArgumentError(f"sizer {sizer!r} has no factors; dynamic sizers are {', '.join(DYNAMIC_SIZERS)}")


def _capped(factor: np.ndarray, cap: float) -> np.ndarray:
    """``factor`` within ``[0, cap]``; NaN and infinite estimates (no data, no variance) become 0."""
    return np.where(np.isfinite(factor), np.clip(factor, 0.0, cap), 0.0)


def scaled_targets(changes: tuple[np.ndarray, np.ndarray],
                   factors: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A lane's signal changes with each target scaled by the factor of its side at its bar.

    >>> scaled_targets((np.array([1, 3]), np.array([1.0, -1.0])), (np.full(5, 0.5), np.full(5, 0.25)))
    (array([1, 3]), array([ 0.5 , -0.25]))
    """
    bars, targets = changes
    long, short = factors
    return bars, targets * np.where(targets > 0.0, long[bars], short[bars])
