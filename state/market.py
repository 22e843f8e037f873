"""Market data records: one symbol's bars, a data set, and the per-timestamp bar batch event.

Arrays inside records are never mutated after construction (loaders mark them read-only).
"""
from __future__ import annotations

import attrs
import numpy as np

from state.errors import ArgumentError

__all__ = ["Annualisation", "BarClosed", "Bars", "MarketData"]

_NS_PER_DAY = 86_400 * 10**9


@attrs.frozen(eq=False)
class Bars:
    """One symbol's OHLCV series on its own, strictly increasing timeline, and its trading days.

    ``price_precision`` is the number of decimals of the instrument's price grid (GOOG: 2,
    EURUSD: 5), or ``None`` when prices are not on a decimal grid; features use it to add prices
    exactly, so that two moving averages equal in decimal arithmetic compare equal.

    ``time`` is when each bar is stamped: UTC instants when the data has a zone (``timezone`` is
    then the zone its times are written in: an IANA name, a UTC offset such as ``+11:00``, or
    ``UTC``), the times as given when it has none (``timezone`` ``None``, naive local times).
    ``utc_offset`` (int64 ns per bar, or ``None`` for 0) is local time minus UTC in the zone
    whose days are the trading days, and ``session_start`` (ns after local midnight) when a
    trading day begins: see :attr:`day`.
    """

    symbol: str
    time: np.ndarray  # datetime64[ns], shape (T,)
    open: np.ndarray  # float64, shape (T,)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    price_precision: int | None = None
    timezone: str | None = None
    utc_offset: np.ndarray | None = None
    session_start: int = 0

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
            utc_offset=None if self.utc_offset is None else self.utc_offset[start:stop],
        )

    @property
    def local_time(self) -> np.ndarray:
        """Each bar's wall-clock time in the trading days' zone (``time`` itself for naive times)."""
        return self.time if self.utc_offset is None else self.time + self.utc_offset.view("timedelta64[ns]")

    @property
    def day(self) -> np.ndarray:
        """Each bar's trading day (int64): the days since 1970-01-01 of the date its session is named after.

        A session runs from ``session_start`` (local time) to the next day's; a bar belongs to the
        session its local time falls in, a bar stamped exactly at ``session_start`` to the session
        it opens. A session is named after the date it starts on, or the next date when it starts
        after noon (an FX day starting at 17:00 on Sunday is Monday's). Without a session start
        and an offset this is the date of ``time``.

        >>> t = np.array(["2024-01-04T17:00", "2024-01-05T16:59", "2024-01-07T17:00"], "datetime64[ns]")
        >>> b = Bars("X", t, *[np.ones(3)] * 5, session_start=17 * 3_600 * 10**9)
        >>> b.day.astype("datetime64[D]").astype(str).tolist()  # Thursday 17:00 to Friday 16:59 is Friday
        ['2024-01-05', '2024-01-05', '2024-01-08']
        """
        if self.utc_offset is None and self.session_start == 0:
            return self.time.astype("datetime64[D]").astype(np.int64)
        shifted = self.local_time.view(np.int64) - self.session_start
        return np.floor_divide(shifted, _NS_PER_DAY) + (self.session_start * 2 > _NS_PER_DAY)


@attrs.frozen
class Annualisation:
    """How many bars make a year of one timeline, and the rule that says so (``set: ...`` or
    ``inferred: ...``): it annualises Sharpe, Sortino and volatility."""

    periods_per_year: float
    rule: str


@attrs.frozen(eq=False)
class MarketData:
    """The data a run reads: one :class:`Bars` per symbol, where it came from and its calendars.

    ``sha256`` fingerprints the bar values (not the file bytes), so the same data loaded from CSV
    or Parquet has the same fingerprint. ``periods_per_year`` is the bars per year of the whole
    data's timeline (the union of the symbols' times: what a shared-cash portfolio is marked on),
    ``rule`` where it came from; ``annualisation`` has each symbol's own, in the order of ``bars``
    (empty: every symbol takes ``periods_per_year``). ``warnings`` are what the loader found
    suspicious in the data (a split-like jump), each naming the symbol and the bar. Every symbol's
    times are written in one zone (``Bars.timezone`` agrees across symbols).
    """

    bars: tuple[Bars, ...]
    source: str
    sha256: str
    periods_per_year: float
    annualisation: tuple[Annualisation, ...] = ()
    rule: str = "given"
    warnings: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        zones = {b.timezone for b in self.bars}
        if len(zones) > 1:
            raise ArgumentError(f"every symbol's times must be written in one zone, got {sorted(map(str, zones))}")
        if self.annualisation and len(self.annualisation) != len(self.bars):
            raise ArgumentError(f"annualisation has {len(self.annualisation)} entries for {len(self.bars)} symbols")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bars)

    @property
    def timezone(self) -> str | None:
        """The zone every time column is written in (``None``: naive times)."""
        return self.bars[0].timezone if self.bars else None

    def annualisation_of(self, index: int) -> Annualisation:
        """Symbol ``index``'s bars per year: its own, or the whole data's when none is recorded."""
        return self.annualisation[index] if self.annualisation else Annualisation(self.periods_per_year, self.rule)

    def only(self, symbol: str) -> "MarketData":
        """The data of one symbol, with its own calendar (source, fingerprint and warnings kept)."""
        index = self.symbols.index(symbol)
        own = self.annualisation_of(index)
        return MarketData((self.bars[index],), self.source, self.sha256, own.periods_per_year, (own,), own.rule,
                          self.warnings)

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
