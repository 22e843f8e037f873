"""Market data records: one symbol's bars, a data set, and the per-timestamp bar batch event.

Arrays inside records are never mutated after construction (loaders mark them read-only).
"""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["BarClosed", "Bars", "MarketData"]


@attrs.frozen(eq=False)
class Bars:
    """One symbol's OHLCV series on its own, strictly increasing timeline.

    ``price_precision`` is the number of decimals of the instrument's price grid (GOOG: 2,
    EURUSD: 5), or ``None`` when prices are not on a decimal grid; features use it to add prices
    exactly, so that two moving averages equal in decimal arithmetic compare equal.
    """

    symbol: str
    time: np.ndarray  # datetime64[ns], shape (T,)
    open: np.ndarray  # float64, shape (T,)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    price_precision: int | None = None

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def field(self, name: str) -> np.ndarray:
        """The array for an input name: ``open``, ``high``, ``low``, ``close`` or ``volume``."""
        return getattr(self, name)

    def slice(self, start: int, stop: int) -> "Bars":
        """Bars ``[start, stop)`` as a new record (views, no copy)."""
        return attrs.evolve(
            self,
            time=self.time[start:stop], open=self.open[start:stop], high=self.high[start:stop],
            low=self.low[start:stop], close=self.close[start:stop], volume=self.volume[start:stop],
        )


@attrs.frozen(eq=False)
class MarketData:
    """The data a run reads: one :class:`Bars` per symbol, where it came from and its frequency.

    ``sha256`` fingerprints the bar values (not the file bytes), so the same data loaded from CSV
    or Parquet has the same fingerprint. ``periods_per_year`` annualises Sharpe, Sortino and CAGR.
    """

    bars: tuple[Bars, ...]
    source: str
    sha256: str
    periods_per_year: float

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bars)

    def __getitem__(self, symbol: str) -> Bars:
        for b in self.bars:
            if b.symbol == symbol:
                return b
        raise KeyError(symbol)


@attrs.frozen(eq=False)
class BarClosed:
    """Event: the bars of every symbol at one timestamp of the merged timeline have closed.

    Arrays have one entry per symbol of ``symbols``; a symbol with no bar at this timestamp has NaN.
    """

    index: int
    time: np.datetime64
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
