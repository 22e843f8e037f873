"""Order rules and the order schedule: which orders meet the market, where, and at what price.

A lane's signal changes and exits become a *schedule*: one row per order that reaches the market,
sorted by lane and time, each with the bar and the reference price it fills at. When and at what
price an order fills never depends on the portfolio (only how much it trades does), so the
schedule is computed densely before the fold (``fp.orders``) and the fold only sizes and pays.
"""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["EXITS", "ORDER_KINDS", "ORDER_TYPES", "PHASES", "OrderRules", "Schedule"]

#: Entry order types (``execution.order_type``); the index is the code in :class:`OrderRules`.
ORDER_TYPES: tuple[str, ...] = ("market", "limit", "stop", "stop_limit")

#: Exits, in the code order of :data:`ORDER_KINDS`.
EXITS: tuple[str, ...] = ("stop_loss", "take_profit", "trailing_stop", "max_holding")

#: What put a schedule row in the market: the order types of signal orders, the exits, and the
#: continuation of an order a participation cap left partly unfilled.
ORDER_KINDS: tuple[str, ...] = ORDER_TYPES + EXITS + ("continuation",)

#: When within its bar a row fills: at the open, inside the bar (a price level reached), at the close.
PHASES: tuple[str, ...] = ("open", "intrabar", "close")


@attrs.frozen(eq=False)
class OrderRules:
    """How each lane's orders reach the market, one row per lane (arrays).

    ``delay``: 1 fills market orders at the next bar's open, 0 at the signal bar's close.
    ``order_type`` indexes :data:`ORDER_TYPES` and applies to orders that open a position (from
    flat or reversing); closing and resizing orders are market orders. A limit (buy) is placed at
    ``close × (1 - limit_offset)``, a stop (buy) at ``close × (1 + stop_offset)`` of the signal
    bar (sells mirrored); a stop-limit's limit is ``stop × (1 + limit_offset)`` (buy).
    ``good_till_cancelled`` keeps an unfilled entry working until the lane's next signal change,
    otherwise it lives for the trading day of the bar after the signal.

    Exits (NaN or 0 = off): ``stop_loss``, ``take_profit``, ``trailing_stop`` as fractions of the
    entry's reference price; ``*_atr`` as multiples of ``atr`` at the signal bar (``atr`` is each
    lane's ATR series, or ``None``); ``max_holding`` bars (0 = off). ``target_first`` resolves a
    bar that reaches both a stop and the take-profit in favour of the take-profit (the default,
    ``False``, is the conservative stop first).

    ``participation_bars`` (lanes with a participation cap): for how many bars after its fill an
    order the cap left partly unfilled keeps working (``continuation`` rows at the following
    opens, or closes for ``delay`` 0, until the lane's next order).
    """

    delay: np.ndarray
    order_type: np.ndarray
    limit_offset: np.ndarray
    stop_offset: np.ndarray
    good_till_cancelled: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray
    trailing_stop: np.ndarray
    stop_loss_atr: np.ndarray
    take_profit_atr: np.ndarray
    trailing_stop_atr: np.ndarray
    max_holding: np.ndarray
    target_first: np.ndarray
    atr: tuple = ()
    participation_bars: np.ndarray | None = None

    @classmethod
    def market(cls, delay: np.ndarray) -> "OrderRules":
        """Market orders and no exits for lanes with the given fill delays."""
        delay = np.asarray(delay, np.int64)
        nan, zero = np.full(len(delay), np.nan), np.zeros(len(delay), np.int64)
        return cls(delay, zero, nan, nan, np.zeros(len(delay), bool), nan, nan, nan, nan, nan, nan, zero,
                   np.zeros(len(delay), bool))

    @property
    def plain(self) -> bool:
        """Every lane trades market orders without exits (the schedule is the signal changes)."""
        exits = (self.stop_loss, self.take_profit, self.trailing_stop, self.stop_loss_atr, self.take_profit_atr,
                 self.trailing_stop_atr)
        return (not np.any(self.order_type) and not np.any(self.max_holding)
                and not any(np.any(np.nan_to_num(e) > 0.0) for e in exits))

    def __len__(self) -> int:
        return int(self.delay.shape[0])

    def rows(self, index) -> "OrderRules":
        """The rules of the lanes selected by ``index`` (a slice or an integer array)."""
        lanes = np.arange(len(self))[index]
        return OrderRules(*(getattr(self, f.name)[index] for f in attrs.fields(OrderRules)[:-2]),
                          atr=tuple(self.atr[i] for i in lanes) if self.atr else (),
                          participation_bars=None if self.participation_bars is None else self.participation_bars[index])


@attrs.frozen(eq=False)
class Schedule:
    """Orders that reach the market, sorted by lane, then time (bar, phase), then origin (an entry before its exit).

    ``bar``/``phase`` are where the row fills (``phase`` indexes :data:`PHASES`); ``price`` is the
    reference fill price before slippage, ``slipped`` whether slippage applies (market and stop
    fills; never limit fills); ``target`` the signed fraction of equity the order moves the
    position to (0 for exits); ``kind`` indexes :data:`ORDER_KINDS`; ``origin`` is the signal bar
    the row comes from (an exit: its entry's signal bar); ``level`` the price level that triggered
    it (NaN for market orders).
    """

    lane: np.ndarray
    bar: np.ndarray
    phase: np.ndarray
    price: np.ndarray
    slipped: np.ndarray
    target: np.ndarray
    kind: np.ndarray
    origin: np.ndarray
    level: np.ndarray

    def __len__(self) -> int:
        return int(self.lane.shape[0])

    def take(self, index) -> "Schedule":
        return Schedule(*(getattr(self, f.name)[index] for f in attrs.fields(Schedule)))

    @property
    def is_exit(self) -> np.ndarray:
        return (self.kind >= len(ORDER_TYPES)) & (self.kind < len(ORDER_TYPES) + len(EXITS))

