"""Ledger records: what fills add up to."""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["EquityPoints", "LaneCurves", "Trades"]


@attrs.frozen(eq=False)
class Trades:
    """Round trips, one row each: entry and exit bar and price, signed size, pnl, closed or open."""

    lane: np.ndarray
    entry_bar: np.ndarray
    entry_price: np.ndarray
    exit_bar: np.ndarray
    exit_price: np.ndarray
    size: np.ndarray
    pnl: np.ndarray
    closed: np.ndarray

    def take(self, index) -> "Trades":
        return Trades(*(getattr(self, f.name)[index] for f in attrs.fields(Trades)))

    def __len__(self) -> int:
        return int(self.size.shape[0])


@attrs.frozen(eq=False)
class EquityPoints:
    """A close-marked equity curve of ``n_bars`` bars, compressed without loss for metrics.

    ``values`` holds the equity at every bar that holds a position, at the first bar, at the first
    bar after each position and at a flat bar whose equity moved (a round trip inside the bar):
    equity is constant while flat otherwise, so the other flat bars repeat the value before them;
    ``exposure_bars`` counts the bars holding a position; ``bars`` (when known) is the bar index of
    each value, so durations can be measured on the compressed curve.
    """

    values: np.ndarray
    n_bars: int
    exposure_bars: int
    bars: np.ndarray | None = None


@attrs.frozen(eq=False)
class LaneCurves:
    """The compressed equity curves (:class:`EquityPoints`) of several lanes over the same
    ``n_bars`` bars, concatenated: lane ``k`` holds ``values[offsets[k]:offsets[k + 1]]`` at bars
    ``bars[offsets[k]:offsets[k + 1]]`` and ``exposure_bars[k]`` bars with a position."""

    values: np.ndarray
    bars: np.ndarray
    offsets: np.ndarray
    n_bars: int
    exposure_bars: np.ndarray

    def lane(self, k: int) -> EquityPoints:
        """Lane ``k``'s curve (views, nothing copied)."""
        lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
        return EquityPoints(self.values[lo:hi], self.n_bars, int(self.exposure_bars[k]), self.bars[lo:hi])

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1
