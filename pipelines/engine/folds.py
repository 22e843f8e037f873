"""The backtest fold: dense signals in, the sparse fold over orders, dense equity out.

Signal changes and exits become a schedule of orders with their fill bar and price (``fp.orders``,
dense first-passage searches); the fold only sizes, checks and pays them.

``fold_sparse`` is the fast path. Lanes are independent, so the fold aligns them by the ordinal
of their orders: round ``k`` folds the ``k``-th order of every lane that has one through the
pattern's container at once (rows are lanes; lanes sorted by order count so the active lanes are
always a prefix). A lane with 50 trades costs ~100 events, not one step per bar.

``fold_streaming`` is the reference semantics: every bar, features step, strategies evaluate,
the orders scheduled for the bar meet it one after the other through the *same* container, risk
marks equity at every close, and equity is marked at the close.

A lane whose close-marked equity reaches zero is ruined (``docs/semantics.md``): closed out at that
close, the deficit written off, no later order. The streaming fold stops it as it goes; the sparse
fold finds the ruin after folding its orders (``fp.ledger.ruin_bars``) and drops what came after,
which is the same, since a lane's fold up to a bar depends on nothing after it.

Law (sparse ≡ streaming): both give the same fills, trades, rejections, ruins, final portfolios
and equity curves, bit for bit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from fp.execution import quote
from fp.hub import FeatureStream, feature_of, registry_for_refs
from fp.ledger import (
    equity_curve,
    equity_points,
    lane_equity_points,
    ruin_bars,
    trades_from_fills,
)
from fp.orders import Tape, order_schedule
from fp.steps import is_settings_only
from fp.strategies import Strategy
from pipelines.engine.container import Container, fold
from pipelines.engine.rounds import (
    event_columns,
    event_slice,
    round_layout,
    round_major,
    with_field,
)
from state.events import (
    FillQuote,
    OrderApproved,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PortfolioRuined,
)
from state.ledger import EquityPoints, LaneCurves, Trades
from state.market import Bars
from state.orders import OrderRules, Schedule
from state.portfolio import LaneSettings, LaneState, PortfolioState, RiskWatch

__all__ = ["FoldTrace", "Folded", "LaneSignal", "fold_sparse", "fold_streaming"]


@attrs.frozen
class LaneSignal:
    """What a lane trades on: a strategy and its parameters (for the streaming reference)."""

    strategy: Strategy
    params: Mapping[str, Any]


@attrs.frozen(eq=False)
class Folded:
    """What the fold of some lanes on one symbol produced, every table sorted by lane.

    ``fills`` holds only fills of a non-zero quantity; ``change_*`` is each lane's cash and
    position after each of its fills and, for a ruined lane, the write-off at its ruin (cash and
    position 0, its last row); ``trades`` come from the ledger; ``final`` is the portfolios at the
    end, by lane; ``expired`` the resting entries that never filled; ``ruined`` the lanes ruined
    (their equity reached zero at a close: ``state.events.PortfolioRuined``), by lane.
    """

    fills: OrderFilled
    trades: Trades
    rejections: OrderRejected
    change_lane: np.ndarray
    change_bar: np.ndarray
    change_cash: np.ndarray
    change_position: np.ndarray
    final: PortfolioState
    trace: "FoldTrace | None" = None
    expired: OrderExpired | None = None
    ruined: PortfolioRuined | None = None

    def lane_bounds(self, lanes: int, lane_of: np.ndarray) -> np.ndarray:
        """Start offsets of each lane's rows in a table sorted by lane (length ``lanes + 1``)."""
        return np.searchsorted(lane_of, np.arange(lanes + 1))

    def equity(self, lane: int, close: np.ndarray, initial_cash: float, *, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Equity and position of one lane at every close from bar ``start`` on (nothing may
        have changed before ``start``)."""
        lo, hi = np.searchsorted(self.change_lane, [lane, lane + 1])
        return equity_curve(close[start:], self.change_bar[lo:hi] - start, self.change_cash[lo:hi],
                            self.change_position[lo:hi], initial_cash)

    def equity_points(self, lane: int, close: np.ndarray, initial_cash: float, *, start: int = 0) -> EquityPoints:
        """One lane's equity curve from bar ``start`` on, compressed for metrics (no flat bars built)."""
        lo, hi = np.searchsorted(self.change_lane, [lane, lane + 1])
        return equity_points(close[start:], self.change_bar[lo:hi] - start, self.change_cash[lo:hi],
                             self.change_position[lo:hi], initial_cash)

    def lane_curves(self, lanes: range, close: np.ndarray, initial_cash: np.ndarray, *, start: int = 0) -> LaneCurves:
        """The compressed curves of ``lanes`` (consecutive) from bar ``start`` on, built at once
        (``initial_cash``: each of those lanes' own)."""
        lo, hi = np.searchsorted(self.change_lane, [lanes.start, lanes.stop])
        return lane_equity_points(close[start:], self.change_lane[lo:hi] - lanes.start, self.change_bar[lo:hi] - start,
                                  self.change_cash[lo:hi], self.change_position[lo:hi], initial_cash)


@attrs.frozen(eq=False)
class FoldTrace:
    """Every event a sparse fold folded, lane by lane in time order, one row per order: where it
    came from (its signal bar, ``kind`` as in ``state.orders.ORDER_KINDS``, the signal's target or
    NaN for an exit, the trigger ``level`` of an exit or resting entry), the order submitted and
    approved, its fill (quantity 0: nothing traded) and rejection ``reason`` (-1: none), with the
    expired entries and the ruined lanes apart (a ruined lane's orders of later bars are not
    here: they never reached the market). Kept only when a fold is asked to trace."""

    lane: np.ndarray
    signal_bar: np.ndarray
    kind: np.ndarray
    signal_target: np.ndarray
    level: np.ndarray
    submitted_target: np.ndarray
    approved_target: np.ndarray
    max_quantity: np.ndarray
    fill_bar: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray
    reason: np.ndarray
    expired: OrderExpired
    ruined: PortfolioRuined


def fold_sparse(container: Container, settings: LaneSettings, changes: Sequence[tuple[np.ndarray, np.ndarray]],
                bars: Bars, *, rules: OrderRules | None = None, tape: Tape | None = None, trace: bool = False) -> Folded:
    """Fold each lane's orders through ``container``: the orders its signal changes (``(bars,
    targets)`` per lane) and exits put in the market under ``rules`` (market orders without exits
    by default), scheduled densely by ``fp.orders``.

    Steps marked settings-only (``fp.steps``) do not depend on a lane's earlier events, so they
    are folded once over every order of every lane. The rest is folded in rounds: round ``k``
    holds the ``k``-th order of every lane that has one, lanes sorted by how many they have, so a
    round is a contiguous slice of a round-major layout aligned with a prefix of the lanes
    (memory grows with the number of orders, not rounds × lanes), and it starts with its slice of
    the orders the settings-only steps put in the books. ``trace`` keeps every event in
    ``Folded.trace`` (a :class:`FoldTrace`); without it nothing extra is kept or computed.
    """
    n_lanes = len(changes)
    rules = OrderRules.market(np.where(settings.fill_on_close, 0, 1)) if rules is None else rules
    tape = Tape.of(bars) if tape is None else tape
    schedule, expired = order_schedule(changes, rules, tape)
    order, rank, active, offsets, slot = round_layout(schedule.lane, n_lanes)

    watched = settings.limits is not None and settings.limits.watches
    inputs, book, sunk, early = _hoist(container, settings, schedule, tape, watched)
    rejections = [e for e in sunk if type(e) is OrderRejected]
    early = early if trace else None  # what was approved, for the trace only
    inputs = [round_major(kind, columns, slot) for kind, columns in inputs]
    book = round_major(*book, slot) if book is not None else None
    rows = len(slot)
    if book is not None:  # a book's rows name their place in the layout: what a round emits says where it goes
        book = with_field(*book, "lane", np.arange(rows))
    lanes_sorted = settings.rows(order)
    state = LaneState(lanes_sorted, PortfolioState.initial(lanes_sorted.initial_cash), None,
                      RiskWatch.initial(lanes_sorted.initial_cash) if watched else None,
                      np.full(n_lanes, np.nan) if _capped(lanes_sorted) else None)
    out, finished = _fold_rounds(container, state, inputs, book, active, offsets, rows)
    quantity, price, commission, cash, position, refused = (out.quantity, out.price, out.commission, out.cash,
                                                            out.position, out.refused)
    inputs = book = None  # the rounds' inputs are spent: their memory goes before the tables are laid out
    final = _concat_states(finished[::-1]).rows(np.argsort(order, kind="stable"))
    lane_ids = np.empty(rows, np.int64)
    lane_ids[slot] = schedule.lane
    fill_bar = np.empty(rows, np.int64)
    fill_bar[slot] = schedule.bar
    where = np.flatnonzero(refused >= 0)  # by round, so each lane's in time order
    rejected = _stack(OrderRejected, rejections + [OrderRejected(lane_ids[where], fill_bar[where], refused[where])])
    folded = _assemble(OrderFilled(lane_ids, fill_bar, quantity, price, commission, out.slippage), rejected, cash,
                       position, final, bars, by_lane=np.argsort(lane_ids, kind="stable"), expired=expired)
    if not trace:
        return folded
    approved = next(e for e in early if type(e) is OrderApproved)
    every = FoldTrace(
        schedule.lane, schedule.origin, schedule.kind, _signal_targets(changes, schedule), schedule.level,
        schedule.target, approved.target, np.broadcast_to(approved.max_quantity, np.shape(approved.target)),
        schedule.bar, quantity[slot], price[slot], commission[slot], refused[slot], folded.expired, folded.ruined)
    until = np.full(n_lanes, len(bars))
    until[folded.ruined.lane] = folded.ruined.bar
    reached = schedule.bar <= until[schedule.lane]  # a ruined lane's later orders never reach the market
    return attrs.evolve(folded, trace=every if reached.all() else attrs.evolve(every, **{
        f.name: getattr(every, f.name)[reached] for f in attrs.fields(FoldTrace) if f.name not in ("expired", "ruined")}))




#: Rounds as narrow as this (active lanes) may be folded several at once, when they change nothing.
_SPECULATE_WIDTH = 8
#: Most rounds folded at once.
_SPECULATE_MOST = 64


@attrs.define
class _Outputs:
    """What the rounds leave, written in place in the round-major layout (one fill row per order)."""

    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray
    cash: np.ndarray
    position: np.ndarray
    refused: np.ndarray
    slippage: np.ndarray | None = None

    @classmethod
    def of(cls, rows: int) -> "_Outputs":
        return cls(*(np.empty(rows) for _ in range(5)), np.full(rows, -1, np.int8))

    def record(self, log: list, lo: int, hi: int, state: LaneState, rows: slice) -> None:
        """Keep what rows ``lo:hi`` of the layout emitted (``rows``: those rows in the events and
        ``state``); rejections name their row in the layout (the book's ``lane``)."""
        for e in log:
            if type(e) is OrderFilled:
                self.quantity[lo:hi], self.price[lo:hi], self.commission[lo:hi] = \
                    e.quantity[rows], e.price[rows], e.commission[rows]
                if e.slippage is not None:
                    if self.slippage is None:
                        self.slippage = np.zeros(len(self.quantity))
                    self.slippage[lo:hi] = e.slippage[rows]
            elif type(e) is OrderRejected:
                kept = e.lane < hi
                self.refused[e.lane[kept]] = e.reason[kept]
        self.cash[lo:hi], self.position[lo:hi] = state.portfolio.cash[rows], state.portfolio.position[rows]


def _fold_rounds(container: Container, state: LaneState, inputs: list, book, active: np.ndarray,
                 offsets: np.ndarray, rows: int) -> tuple[_Outputs, list[PortfolioState]]:
    """Fold the rounds of the round-major layout; returns what they left and the portfolios of
    the lanes as they finished (latest first, the last active prefix at the end).

    Round ``k`` folds rows ``offsets[k]:offsets[k] + active[k]``. Where few lanes are active
    (at most :data:`_SPECULATE_WIDTH`) and a round changed no lane's state, the next rounds of
    that width are folded several at once, every row from the state before them: a row that
    changes nothing (an order sized to nothing, an exit with nothing to close) leaves that state
    as it was, so the rows up to and including the first round that changes a lane are exactly
    what folding them one round after another gives; the rows after it are folded again from the
    changed state. The number taken at once doubles while nothing changes (to
    :data:`_SPECULATE_MOST`) and falls back when something does: a lane that keeps trading
    costs one round per order, a lane whose orders change nothing costs a few rounds for many.
    """
    out = _Outputs.of(rows)
    finished: list[PortfolioState] = []
    width = len(state)
    n_rounds = len(active)
    # rounds are by decreasing width: each round's last round of its width
    last_of_width = np.searchsorted(-active, -active, side="right") - 1 if n_rounds else active
    k, span = 0, 1
    tiled: dict[int, tuple[np.ndarray, LaneSettings]] = {}  # rounds taken at once -> rows, their settings
    while k < n_rounds:
        m, lo = int(active[k]), int(offsets[k])
        if m < width:
            finished.append(state.portfolio.rows(slice(m, None)))
            state = state.rows(slice(0, m))
            width = m
            tiled.clear()
        narrow = m <= _SPECULATE_WIDTH and book is not None
        take = min(span, int(last_of_width[k]) - k + 1) if narrow else 1
        hi = lo + take * m
        before = state
        if take > 1:  # every row of the rounds taken from the state before them
            if take not in tiled:
                rows_of = np.tile(np.arange(m), take)
                tiled[take] = rows_of, state.settings.rows(rows_of)
            rows_of, settings = tiled[take]
            before = LaneState(settings, state.portfolio.rows(rows_of), None,
                               None if state.watch is None else state.watch.rows(rows_of),
                               None if state.working is None else state.working[rows_of])
        if book is not None:
            before = LaneState(before.settings, before.portfolio, event_slice(*book, lo, hi), before.watch, before.working)
        after, log = fold(container, before, [event_slice(kind, columns, lo, hi) for kind, columns in inputs])
        kept = 1
        if narrow:
            quiet = _unchanged(before, after).reshape(take, m).all(axis=1)  # per round: no lane changed
            if quiet.all():
                kept, span = take, min(2 * span, _SPECULATE_MOST)
            else:  # the first round that changed a lane is the last one kept
                kept = int(np.argmin(quiet)) + 1
                span = max(1, kept - 1)
        out.record(log, lo, lo + kept * m, after, slice(0, kept * m))
        if take == 1:
            state = after
        else:
            last = slice((kept - 1) * m, kept * m)
            state = LaneState(state.settings, after.portfolio.rows(last), None,
                              None if after.watch is None else after.watch.rows(last),
                              None if after.working is None else after.working[last])
        k += kept
    finished.append(state.portfolio)
    return out, finished


def _unchanged(before: LaneState, after: LaneState) -> np.ndarray:
    """Per row, whether ``after`` holds the same state as ``before``, bit for bit (its book aside)."""
    same = _same(before.portfolio.cash, after.portfolio.cash) & _same(before.portfolio.position, after.portfolio.position)
    if before.watch is not None:
        for f in attrs.fields(RiskWatch):
            same &= _same(getattr(before.watch, f.name), getattr(after.watch, f.name))
    if before.working is not None:
        same &= _same(before.working, after.working)
    return same


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.float64 and b.dtype == np.float64:
        return a.view(np.int64) == b.view(np.int64)  # bits: 0.0 and -0.0 differ, a NaN equals itself
    return a == b


def _signal_targets(changes: Sequence[tuple[np.ndarray, np.ndarray]], schedule: Schedule) -> np.ndarray:
    """The target of the signal change each order comes from (NaN for exits)."""
    out = np.full(len(schedule), np.nan)
    for lane, (bars, targets) in enumerate(changes):
        lo, hi = np.searchsorted(schedule.lane, [lane, lane + 1])
        own = np.flatnonzero(~schedule.is_exit[lo:hi]) + lo
        out[own] = targets[np.searchsorted(bars, schedule.origin[own])]
    return out


def _capped(settings: LaneSettings) -> bool:
    return settings.costs is not None and "uncapped" not in settings.costs.uniform


def _hoist(container: Container, settings: LaneSettings, schedule: Schedule, tape: Tape, watched: bool):
    """The settings-only part of the fold over every order at once, and the orders' quotes.

    Returns the round inputs ``[(kind, columns)]`` (events the rest of the fold consumes, then the
    quotes), the book ``(kind, columns)`` the settings-only steps left (or ``None``), the events
    nothing consumes (sinks such as rejections) and the whole log.
    """
    n = len(schedule)
    hoisted = container.restricted(is_settings_only)
    rows = settings.rows(schedule.lane)
    state = LaneState(rows, PortfolioState.initial(rows.initial_cash))
    state, early = fold(hoisted, state, (OrderSubmitted(schedule.lane, schedule.origin, schedule.target,
                                                        schedule.kind),))
    rest = [e for e in early if not hoisted.consumes(type(e))]
    quotes = schedule_quotes(rows, schedule, tape, watched=watched)
    inputs = [(type(e), event_columns(e, n)) for e in rest if container.consumes(type(e))] + [(FillQuote, event_columns(quotes, n))]
    sinks = [e for e in rest if not container.consumes(type(e))]
    book = None if state.pending is None else (type(state.pending), event_columns(state.pending, n))
    return inputs, book, sinks, early


def schedule_quotes(settings: LaneSettings, schedule: Schedule, tape: Tape, *, watched: bool = False) -> FillQuote:
    """The quotes scheduled orders meet, one per row (``settings`` row-aligned with ``schedule``):
    the reference price with proportional slippage where it applies, and the optional arrays the
    lanes' costs and (``watched``: the fold keeps a risk watch) loss halts need (see
    :class:`state.events.FillQuote`)."""
    b = tape.bars
    bar = schedule.bar
    low, high = b.low[bar], b.high[bar]
    q = quote(settings.slippage * schedule.slipped, bar, schedule.price, low, high)
    extra = {}
    if settings.costs is not None:
        extra.update(volume=b.volume[bar], low=low, high=high, slipped=schedule.slipped)
    if watched:
        since = np.concatenate(([0], bar[:-1]))
        first = np.concatenate(([True], schedule.lane[1:] != schedule.lane[:-1])) if len(bar) else np.empty(0, bool)
        since[first] = 0
        today = np.maximum(since, tape.day_first[bar])
        extra.update(since=since, mark_high=tape.closes.max(since, bar), mark_low=tape.closes.min(since, bar),
                     day=tape.day[bar], day_close=tape.day_close[bar], day_high=tape.closes.max(today, bar),
                     day_low=tape.closes.min(today, bar), closes=b.close)
    return attrs.evolve(q, **extra) if extra else q








def _concat_states(parts: list[PortfolioState]) -> PortfolioState:
    # parts are the active prefix at the end, then the rows that dropped out, latest first
    return PortfolioState(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in attrs.fields(PortfolioState)))


def _assemble(fill: OrderFilled, rejected: OrderRejected, cash: np.ndarray, position: np.ndarray,
              final: PortfolioState, bars: Bars, by_lane: np.ndarray | None = None,
              expired: OrderExpired | None = None, ruined: PortfolioRuined | None = None) -> Folded:
    """Lay what a fold emitted out as lane-major tables: ``fill`` one row per order, with each
    row's ``cash`` and ``position`` after it (``by_lane`` orders them by lane then time; by
    default they are sorted by lane and bar), zero-quantity rows dropped.

    ``ruined`` is the ruin the driver applied as it went (the bar-by-bar fold); without it the
    lanes are stopped at their ruin here (:func:`_stopped_at_ruin`, the sparse fold).
    """
    if by_lane is None:
        by_lane = np.lexsort((fill.bar, fill.lane))
    by_lane = by_lane[fill.quantity[by_lane] != 0.0]
    fill = _take(fill, by_lane)
    cash, position = cash[by_lane], position[by_lane]
    rejected = _take(rejected, np.lexsort((rejected.bar, rejected.lane)))
    expired = _stack(OrderExpired, []) if expired is None else expired
    if ruined is None:
        fill, cash, position, final, ruined = _stopped_at_ruin(fill, cash, position, final, bars.close)
    if len(ruined.lane):  # nothing of a later bar than its ruin: rejections, expiries
        until = np.full(len(final), len(bars))
        until[ruined.lane] = ruined.bar
        rejected = _take(rejected, rejected.bar <= until[rejected.lane])
        expired = _take(expired, expired.until <= until[expired.lane])
    mark = np.full(len(final), bars.close[-1] if len(bars) else np.nan)
    trades = trades_from_fills(fill.lane, fill.bar, fill.quantity, fill.price, fill.commission, position, mark)
    lane, bar, cash, position = _written_off(fill.lane, fill.bar, cash, position, ruined)
    return Folded(fill, trades, rejected, lane, bar, cash, position, final, expired=expired, ruined=ruined)


def _stopped_at_ruin(fill: OrderFilled, cash: np.ndarray, position: np.ndarray, final: PortfolioState,
                     close: np.ndarray) -> tuple[OrderFilled, np.ndarray, np.ndarray, PortfolioState, PortfolioRuined]:
    """Stop each lane at its ruin (``fp.ledger.ruin_bars``): its fills after that bar dropped, its
    position closed at the close by a fill without costs, its final portfolio empty.

    A lane's fold up to a bar depends on nothing after it, so stopping it afterwards equals
    stopping it as it goes (law: sparse ≡ bar-by-bar, ``tests/laws/test_backtest_laws.py``).
    Returns the fills (liquidations included) with each one's cash and position after, the final
    portfolios and the :class:`PortfolioRuined` rows.
    """
    ruin = ruin_bars(close, fill.lane, fill.bar, cash, position, len(final))
    lanes = np.flatnonzero(ruin < len(close))
    if not len(lanes):
        return fill, cash, position, final, _NOT_RUINED
    keep = fill.bar <= ruin[fill.lane]
    fill, cash, position = _take(fill, keep), cash[keep], position[keep]
    at = ruin[lanes]
    last = np.searchsorted(fill.lane, lanes, side="right") - 1  # each ruined lane's state at its ruin
    price = close[at]
    quantity = -position[last]
    deficit = -(cash[last] + position[last] * price)
    holding = quantity != 0.0
    liquidated = OrderFilled(lanes[holding], at[holding], quantity[holding], price[holding],
                             np.zeros(int(holding.sum())), None if fill.slippage is None else np.zeros(int(holding.sum())))
    where = last[holding] + 1
    fill = OrderFilled(*(None if getattr(fill, f.name) is None else
                         np.insert(getattr(fill, f.name), where, getattr(liquidated, f.name))
                         for f in attrs.fields(OrderFilled)))
    cash = np.insert(cash, where, cash[last[holding]] - quantity[holding] * price[holding] - 0.0)
    position = np.insert(position, where, position[last[holding]] + quantity[holding])
    final = PortfolioState(final.cash.copy(), final.position.copy())
    final.cash[lanes], final.position[lanes] = 0.0, 0.0
    return fill, cash, position, final, PortfolioRuined(lanes, at, price, quantity, deficit)


def _written_off(lane: np.ndarray, bar: np.ndarray, cash: np.ndarray, position: np.ndarray,
                 ruined: PortfolioRuined) -> tuple[np.ndarray, ...]:
    """The change rows: one per fill, then each ruined lane's write-off at its ruin bar (cash and
    position 0; after the lane's fills, its last row)."""
    if not len(ruined.lane):
        return lane, bar, cash, position
    where = np.searchsorted(lane, ruined.lane, side="right")
    zeros = np.zeros(len(ruined.lane))
    return (np.insert(lane, where, ruined.lane), np.insert(bar, where, ruined.bar), np.insert(cash, where, zeros),
            np.insert(position, where, zeros))


_NOT_RUINED = PortfolioRuined(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0))


_DTYPES = {"lane": np.int64, "bar": np.int64, "until": np.int64, "reason": np.int8, "kind": np.int8}


def _stack(kind, events: list):
    fields = attrs.fields(kind)
    if not events:
        return kind(*(None if f.default is None else np.empty(0, _DTYPES.get(f.name, np.float64)) for f in fields))
    return kind(*(None if any(getattr(e, f.name) is None for e in events) else
                  np.concatenate([getattr(e, f.name) for e in events]) for f in fields))


def _take(record, index):
    return type(record)(*(None if (v := getattr(record, f.name)) is None else v[index]
                          for f in attrs.fields(type(record))))


def fold_streaming(container: Container, settings: LaneSettings, signals: Sequence[LaneSignal], bars: Bars, *,
                   rules: OrderRules | None = None) -> tuple[Folded, np.ndarray]:
    """The bar-by-bar reference: returns what ``fold_sparse`` returns, and equity (lanes × bars).

    Features step and strategies evaluate bar by bar; the orders their changes schedule are
    folded at their bar, one lane's orders in their order within the bar; the risk watch (equity
    peak, day's opening equity, halts) is brought up to date at every close instead of being
    searched between quotes; a lane whose equity at a close is zero or below is ruined there (its
    position closed at that close without costs, the deficit written off, no later order placed).
    """
    n_lanes, n_bars = len(signals), len(bars)
    rules = OrderRules.market(np.where(settings.fill_on_close, 0, 1)) if rules is None else rules
    changes = _streamed_changes(signals, bars)
    tape = Tape.of(bars)
    schedule, expired = order_schedule(changes, rules, tape)
    moment = schedule.lane * (n_bars + 1) + schedule.bar  # sorted: the schedule is by lane, then bar
    within = np.arange(len(schedule)) - np.searchsorted(moment, moment)  # place among the lane's orders of its bar
    limits = settings.limits
    state = LaneState(settings, PortfolioState.initial(settings.initial_cash), None,
                      RiskWatch.initial(settings.initial_cash) if limits is not None and limits.watches else None,
                      np.full(n_lanes, np.nan) if _capped(settings) else None)
    watched = state.watch is not None
    logs, history, ruins = [], [], []
    ruined = np.zeros(n_lanes, bool)
    equity = np.empty((n_lanes, n_bars))
    by_bar = np.argsort(schedule.bar, kind="stable")
    starts = np.searchsorted(schedule.bar[by_bar], np.arange(n_bars + 1))
    for t in range(n_bars):
        if watched and t and tape.day[t] != tape.day[t - 1]:  # a new trading day opens at the last close
            p = state.portfolio
            state = attrs.evolve(state, watch=attrs.evolve(
                state.watch, day=np.full(n_lanes, tape.day[t]), day_start=p.cash + p.position * bars.close[t - 1],
                halt_day=np.full(n_lanes, -1)))
        today = by_bar[starts[t]:starts[t + 1]]
        today = today[~ruined[schedule.lane[today]]]  # a ruined lane places no more orders
        for k in range(int(within[today].max()) + 1 if len(today) else 0):
            rows = today[within[today] == k]
            lanes = schedule.lane[rows]
            sub = schedule.take(rows)
            part = state.rows(lanes)
            q = schedule_quotes(part.settings, sub, tape, watched=watched)
            if watched:  # the watch is kept at every close below: nothing between quotes to look up
                m = len(rows)
                q = attrs.evolve(q, since=sub.bar, mark_high=np.full(m, -np.inf), mark_low=np.full(m, np.inf),
                                 day=np.full(m, tape.day[t]), day_close=np.full(m, tape.day_close[t]),
                                 day_high=np.full(m, -np.inf), day_low=np.full(m, np.inf), closes=bars.close)
                part = attrs.evolve(part, watch=attrs.evolve(part.watch, day=np.full(m, tape.day[t])))
            part, log = fold(container, part, (OrderSubmitted(sub.lane, sub.origin, sub.target, sub.kind), q))
            logs.append(log)
            history.append(part.portfolio)
            state = _scatter(state, lanes, part)
        p = state.portfolio
        equity[:, t] = p.cash + p.position * bars.close[t]
        fresh = np.flatnonzero((equity[:, t] <= 0.0) & ~ruined)
        if len(fresh):  # ruin: close the position at this close without costs, write the deficit off
            price = np.full(len(fresh), bars.close[t])
            quantity = -p.position[fresh]
            held = quantity != 0.0
            m = int(held.sum())
            logs.append((OrderFilled(fresh[held], np.full(m, t), quantity[held], price[held], np.zeros(m), np.zeros(m)),))
            history.append(PortfolioState(p.cash[fresh][held] - quantity[held] * price[held] - 0.0,
                                          p.position[fresh][held] + quantity[held]))
            ruins.append(PortfolioRuined(fresh, np.full(len(fresh), t), price, quantity, -equity[fresh, t]))
            empty = PortfolioState(np.zeros(len(fresh)), np.zeros(len(fresh)))
            state = _scatter(state, fresh, attrs.evolve(state.rows(fresh), portfolio=empty))
            equity[fresh, t] = 0.0
            ruined[fresh] = True
        if watched:
            w, limits = state.watch, settings.limits
            peak = np.fmax(w.peak, equity[:, t])
            state = attrs.evolve(state, watch=RiskWatch(
                peak, w.day, w.day_start, np.where(equity[:, t] <= w.day_start * (1.0 - limits.daily_loss),
                                                   tape.day[t], w.halt_day),
                w.halted | (equity[:, t] <= peak * (1.0 - limits.max_drawdown))))
    events = [e for log in logs for e in log]
    ruins = _stack(PortfolioRuined, ruins)
    stack = lambda values: np.concatenate(values) if values else np.empty(0)
    folded = _assemble(_stack(OrderFilled, [e for e in events if type(e) is OrderFilled]),
                       _stack(OrderRejected, [e for e in events if type(e) is OrderRejected]),
                       stack([p.cash for p in history]), stack([p.position for p in history]), state.portfolio, bars,
                       expired=expired, ruined=_take(ruins, np.argsort(ruins.lane, kind="stable")))
    return folded, equity


def _streamed_changes(signals: Sequence[LaneSignal], bars: Bars) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each lane's signal changes, its strategy evaluated bar by bar on the streamed features."""
    n_lanes, n_bars = len(signals), len(bars)
    refs = [dict(s.strategy.needs(s.params)) for s in signals]
    registry = registry_for_refs(refs)  # an author's own features join the built-ins
    stream = FeatureStream(bars, (r.key for lane_refs in refs for r in lane_refs.values()), registry=registry)
    outputs: dict = {}
    last = np.full(n_lanes, np.nan)
    seen = np.zeros(n_lanes, bool)
    found: list[list[tuple[int, float]]] = [[] for _ in signals]
    for t in range(n_bars):
        values = stream.step(t)
        targets = np.full(n_lanes, np.nan)
        for i, s in enumerate(signals):
            features = {name: values[r.key][_output_index(r, outputs, registry)] for name, r in refs[i].items()}
            targets[i] = float(s.strategy.signal(s.params, features))
        changed = _changed(targets, last, seen, [s.strategy.trigger for s in signals])
        defined = ~np.isnan(targets)
        last = np.where(defined, targets, last)
        seen |= defined
        for i in np.flatnonzero(changed):
            found[i].append((t, targets[i]))
    return [(np.array([b for b, _ in f], np.int64), np.array([x for _, x in f], np.float64)) for f in found]


def _output_index(ref, cache: dict, registry) -> int:
    if ref not in cache:
        cache[ref] = feature_of(ref.key, registry).outputs.index(ref.output)
    return cache[ref]


def _changed(targets, last, seen, triggers) -> np.ndarray:
    defined = ~np.isnan(targets)
    level = np.array([t == "level" for t in triggers])
    reference = np.where(seen, last, np.where(level, 0.0, np.nan))
    # a 'change' lane's first defined value only sets the reference (NaN never compares unequal here)
    return defined & ~np.isnan(reference) & (targets != reference)


def _scatter(state: LaneState, index: np.ndarray, rows: LaneState) -> LaneState:
    portfolio = PortfolioState(*(_put(getattr(state.portfolio, f.name), index, getattr(rows.portfolio, f.name))
                                 for f in attrs.fields(PortfolioState)))
    watch = None if state.watch is None else RiskWatch(*(_put(getattr(state.watch, f.name), index,
                                                              getattr(rows.watch, f.name))
                                                         for f in attrs.fields(RiskWatch)))
    working = None if state.working is None else _put(state.working, index, rows.working)
    return LaneState(state.settings, portfolio, None, watch, working)


def _put(array: np.ndarray, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = array.copy()
    out[index] = values
    return out
