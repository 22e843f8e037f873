"""The backtest fold: dense signals in, the sparse fold over signal changes, dense equity out.

``fold_sparse`` is the fast path. Lanes are independent, so the fold aligns them by the ordinal
of their events: round ``k`` folds the ``k``-th signal change of every lane that has one through
the pattern's container at once (rows are lanes; lanes sorted by event count so the active
lanes are always a prefix). A lane with 50 trades costs ~100 events, not one step per bar.

``fold_streaming`` is the reference semantics: every bar, features step, strategies evaluate,
pending orders meet the bar's open, changed signals are folded through the *same* container,
and equity is marked at the close.

Law (sparse ≡ streaming): both give the same fills, trades, rejections, final portfolios and
equity curves, bit for bit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from fp.execution import quote
from fp.hub import FeatureStream
from fp.ledger import equity_curve, equity_points, trades_from_fills
from fp.steps import is_settings_only
from fp.strategies import Strategy
from pipelines.container import Container, fold
from state.events import FillQuote, OrderApproved, OrderFilled, OrderRejected, OrderSubmitted, SignalChanged
from state.ledger import EquityPoints, Trades
from state.market import Bars
from state.portfolio import LaneSettings, LaneState, PortfolioState

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
    position after each of its fills; ``trades`` come from the ledger; ``final`` is the
    portfolios at the end, by lane.
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


@attrs.frozen(eq=False)
class FoldTrace:
    """Every event a sparse fold folded, lane by lane in time order, one row per signal change:
    the change, the order submitted and approved for it, and its fill (quantity 0: nothing traded),
    with the rejections apart. Kept only when a fold is asked to trace."""

    lane: np.ndarray
    signal_bar: np.ndarray
    signal_target: np.ndarray
    submitted_target: np.ndarray
    approved_target: np.ndarray
    max_quantity: np.ndarray
    fill_bar: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray
    rejections: OrderRejected


def fold_sparse(container: Container, settings: LaneSettings, changes: Sequence[tuple[np.ndarray, np.ndarray]],
                bars: Bars, *, trace: bool = False) -> Folded:
    """Fold each lane's signal changes (``(bars, targets)`` per lane) through ``container``.

    Steps marked settings-only (``fp.steps``) do not depend on a lane's earlier events, so they
    are folded once per lane over all its events. The rest is folded in rounds: round ``k``
    holds the ``k``-th event of every lane that has one, lanes sorted by how many they have, so a
    round is a contiguous slice of a round-major layout aligned with a prefix of the lanes
    (memory grows with the number of events, not rounds × lanes), and it starts with its slice of
    the orders the settings-only steps put in the books. ``trace`` keeps every event in
    ``Folded.trace`` (a :class:`FoldTrace`); without it nothing extra is kept or computed.
    """
    n_lanes, n_bars = len(changes), len(bars)
    delay = np.where(settings.fill_on_close, 0, 1)
    fillable = np.array([np.searchsorted(b + delay[i], n_bars) for i, (b, _) in enumerate(changes)], np.int64)
    order = np.argsort(-fillable, kind="stable")
    counts = fillable[order]
    rounds = int(counts[0]) if n_lanes else 0
    active = n_lanes - np.cumsum(np.bincount(counts, minlength=rounds + 1))[:rounds]
    offsets = np.concatenate(([0], np.cumsum(active)))
    # where each event of the lane-major layout (lanes in sorted order) sits round-major
    ordinal = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = offsets[ordinal] + np.repeat(np.arange(n_lanes), counts)
    del ordinal

    hoisted = container.restricted(is_settings_only)
    per_lane = [_hoist(hoisted, settings.rows(slice(lane, lane + 1)), lane, changes[lane][0][:c],
                       changes[lane][1][:c], int(delay[lane]), bars) for lane, c in zip(order, counts)]
    sunk = [e for lane in per_lane for e in lane[2]]
    rejections = [e for e in sunk if type(e) is OrderRejected]
    inputs = [_round_major(kind, [lane[0][i][1] for lane in per_lane], slot)
              for i, (kind, _) in enumerate(per_lane[0][0])] if n_lanes else []
    book = (_round_major(per_lane[0][1][0], [lane[1][1] for lane in per_lane], slot)
            if n_lanes and per_lane[0][1] is not None else None)
    traced = _traced_orders(per_lane) if trace else None
    del per_lane
    lanes_sorted = settings.rows(order)
    state = LaneState(lanes_sorted, PortfolioState.initial(lanes_sorted.initial_cash))
    fills, cash, position, finished = [], [], [], []
    width = n_lanes
    for m, lo in zip(active.tolist(), offsets.tolist()):
        if m < width:
            finished.append(state.portfolio.rows(slice(m, None)))
            state = state.rows(slice(0, m))
            width = m
        if book is not None:
            state = LaneState(state.settings, state.portfolio, _slice(*book, lo, lo + m))
        state, log = fold(container, state, [_slice(kind, columns, lo, lo + m) for kind, columns in inputs])
        for e in log:
            if type(e) is OrderFilled:
                fills.append(e)
            elif type(e) is OrderRejected:
                rejections.append(e)
        cash.append(state.portfolio.cash)
        position.append(state.portfolio.position)
    finished.append(state.portfolio)
    final = _concat_states(finished[::-1]).rows(np.argsort(order, kind="stable"))
    lane_ids = np.empty(len(slot), np.int64)
    lane_ids[slot] = np.repeat(order, counts)
    fill_bar = _field(inputs[-1], "bar") if inputs else np.empty(0, np.int64)
    folded = _assemble(fills, rejections, cash, position, final, bars, by_lane=np.argsort(lane_ids, kind="stable"),
                       lanes_and_bars=(lane_ids, fill_bar))
    if not trace:
        return folded
    stacked = [np.concatenate([getattr(e, name) for e in fills]) if fills else np.empty(0)
               for name in ("quantity", "price", "commission")]
    lane_major = [lane_ids[slot], traced[0], traced[1], traced[2], traced[3], traced[4], fill_bar[slot],
                  *(column[slot] for column in stacked)]
    return attrs.evolve(folded, trace=FoldTrace(*lane_major, folded.rejections))


def _traced_orders(per_lane) -> tuple[np.ndarray, ...]:
    """Lane-major signal bars and targets, submitted and approved targets and caps, from each
    lane's settings-only fold (its log holds the orders)."""
    columns = [[] for _ in range(5)]
    for _, _, _, log, (signal_bar, target) in per_lane:
        submitted = next(e for e in log if type(e) is OrderSubmitted)
        approved = next(e for e in log if type(e) is OrderApproved)
        for column, values in zip(columns, (signal_bar, target, submitted.target, approved.target,
                                            np.broadcast_to(approved.max_quantity, np.shape(approved.target)))):
            column.append(values)
    return tuple(np.concatenate(c) if c else np.empty(0) for c in columns)


def _hoist(hoisted: Container, settings: LaneSettings, lane: int, signal_bar: np.ndarray, target: np.ndarray,
           delay: int, bars: Bars):
    """One lane's settings-only part of the fold over all its events, and its quotes.

    Returns the round inputs ``[(kind, columns)]`` (events the rest of the fold consumes, then the
    quotes), the book ``(kind, columns)`` the settings-only steps left (or ``None``), the events
    they emitted that nothing consumes (sinks such as rejections), their whole log, and the lane's
    signal changes.
    """
    n = len(signal_bar)
    state = LaneState(settings, PortfolioState.initial(settings.initial_cash))
    state, early = fold(hoisted, state, (SignalChanged(np.full(n, lane, np.int64), signal_bar, target),))
    fill_bar = signal_bar + delay
    price = (bars.close if delay == 0 else bars.open)[fill_bar]
    quotes = quote(settings, fill_bar, price, bars.low[fill_bar], bars.high[fill_bar])
    rest = [e for e in early if not hoisted.consumes(type(e))]
    inputs = [(type(e), _columns(e, n)) for e in rest if _rows_of(e) == n] + [(FillQuote, _columns(quotes, n))]
    sinks = [e for e in rest if _rows_of(e) != n]
    book = None if state.pending is None else (type(state.pending), _columns(state.pending, n))
    return inputs, book, sinks, early, (signal_bar, target)


def _rows_of(event) -> int:
    return int(np.shape(getattr(event, attrs.fields(type(event))[0].name))[0])


def _columns(event, n: int) -> tuple[list[np.ndarray], list[int]]:
    """A batch event's distinct arrays (broadcast to ``n`` rows) and, per field, which one it is.

    Fields holding the same array (a quote's buy and sell price without slippage) stay one object
    when sliced, so steps can tell by identity.
    """
    arrays = [getattr(event, f.name) for f in attrs.fields(type(event))]
    distinct: dict[int, int] = {}
    for a in arrays:
        distinct.setdefault(id(a), len(distinct))
    uniques = {id(a): np.broadcast_to(a, (n,)) for a in arrays}
    return list(uniques.values()), [distinct[id(a)] for a in arrays]


def _round_major(kind, lanes: list[tuple[list[np.ndarray], list[int]]], slot: np.ndarray):
    """Lanes' columns (in sorted lane order) concatenated and moved to the round-major layout."""
    patterns = {tuple(which) for _, which in lanes}
    shared = len(patterns) == 1  # every lane shares the same fields' arrays: keep them shared
    which = list(patterns.pop()) if shared else list(range(len(attrs.fields(kind))))
    uniques = []
    for u in range(max(which) + 1):
        parts = [cols[u] if shared else cols[w[u]] for cols, w in lanes]
        column = np.concatenate(parts)
        out = np.empty_like(column)
        out[slot] = column
        uniques.append(out)
    return kind, (uniques, which)


def _field(laid_out, name: str) -> np.ndarray:
    """One field's whole column of an event laid out by ``_round_major``."""
    kind, (uniques, which) = laid_out
    return uniques[which[[f.name for f in attrs.fields(kind)].index(name)]]


def _slice(kind, columns: tuple[list[np.ndarray], list[int]], lo: int, hi: int):
    """The rows ``lo:hi`` of a batch event laid out by ``_columns``."""
    uniques, which = columns
    if len(uniques) == len(which):
        return kind(*[u[lo:hi] for u in uniques])
    views = [u[lo:hi] for u in uniques]
    return kind(*[views[i] for i in which])


def _concat_states(parts: list[PortfolioState]) -> PortfolioState:
    # parts are the active prefix at the end, then the rows that dropped out, latest first
    return PortfolioState(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in attrs.fields(PortfolioState)))


def _assemble(fills: list, rejections: list, cash: list, position: list, final: PortfolioState, bars: Bars,
              by_lane: np.ndarray | None = None, lanes_and_bars: tuple | None = None) -> Folded:
    """Stack what the rounds emitted into lane-major tables (``by_lane`` orders the stacked rows by
    lane then time; by default they are sorted by lane and bar). ``lanes_and_bars`` gives the
    fills' lanes and bars when the driver already knows them (one fill row per event)."""
    if lanes_and_bars is None or not fills:
        fill = _stack(OrderFilled, fills)
    else:
        fill = OrderFilled(*lanes_and_bars, *(np.concatenate([getattr(e, name) for e in fills])
                                              for name in ("quantity", "price", "commission")))
    rejected = _stack(OrderRejected, rejections)
    cash = np.concatenate(cash) if cash else np.empty(0)
    position = np.concatenate(position) if position else np.empty(0)
    if by_lane is None:
        by_lane = np.lexsort((fill.bar, fill.lane))
    by_lane = by_lane[fill.quantity[by_lane] != 0.0]
    fill = _take(fill, by_lane)
    cash, position = cash[by_lane], position[by_lane]
    rejected = _take(rejected, np.lexsort((rejected.bar, rejected.lane)))
    mark = np.full(len(final), bars.close[-1] if len(bars) else np.nan)
    trades = trades_from_fills(fill.lane, fill.bar, fill.quantity, fill.price, fill.commission, position, mark)
    return Folded(fill, trades, rejected, fill.lane, fill.bar, cash, position, final)


def _stack(kind, events: list):
    fields = attrs.fields(kind)
    if not events:
        return kind(*(np.empty(0, np.int64 if f.name in ("lane", "bar") else
                               np.int8 if f.name == "reason" else np.float64) for f in fields))
    return kind(*(np.concatenate([getattr(e, f.name) for e in events]) for f in fields))


def _take(record, index):
    return type(record)(*(getattr(record, f.name)[index] for f in attrs.fields(type(record))))


def fold_streaming(container: Container, settings: LaneSettings, signals: Sequence[LaneSignal], bars: Bars) -> tuple[Folded, np.ndarray]:
    """The bar-by-bar reference: returns what ``fold_sparse`` returns, and equity (lanes × bars)."""
    n_lanes, n_bars = len(signals), len(bars)
    refs = [dict(s.strategy.needs(s.params)) for s in signals]
    stream = FeatureStream(bars, (r.key for lane_refs in refs for r in lane_refs.values()))
    outputs = {}
    state = LaneState(settings, PortfolioState.initial(settings.initial_cash))
    last = np.full(n_lanes, np.nan)
    seen = np.zeros(n_lanes, bool)
    pending: OrderApproved | None = None
    pending_lanes = np.empty(0, np.int64)
    logs, history = [], []
    equity = np.empty((n_lanes, n_bars))
    for t in range(n_bars):
        bar = np.full(n_lanes, t, np.int64)
        if len(pending_lanes):
            rows = state.rows(pending_lanes)
            rows = attrs.evolve(rows, pending=pending)
            q = quote(rows.settings, bar[pending_lanes], np.full(len(pending_lanes), bars.open[t]),
                      np.full(len(pending_lanes), bars.low[t]), np.full(len(pending_lanes), bars.high[t]))
            rows, log = fold(container, rows, (q,))
            state = _scatter(state, pending_lanes, rows)
            logs.append(log)
            history.append(rows.portfolio)
            pending_lanes = np.empty(0, np.int64)
        values = stream.step(t)
        targets = np.full(n_lanes, np.nan)
        for i, s in enumerate(signals):
            features = {name: values[r.key][_output_index(r, outputs)] for name, r in refs[i].items()}
            targets[i] = float(s.strategy.signal(s.params, features))
        changed = _changed(targets, last, seen, [s.strategy.trigger for s in signals])
        defined = ~np.isnan(targets)
        last = np.where(defined, targets, last)
        seen |= defined
        lanes = np.flatnonzero(changed)
        if len(lanes):
            rows = state.rows(lanes)
            rows, log = fold(container, rows, (SignalChanged(lanes.astype(np.int64), bar[lanes], targets[lanes]),))
            logs.append(log)
            approved = rows.pending
            now = rows.settings.fill_on_close
            if now.any():
                idx = np.flatnonzero(now)
                sub = rows.rows(idx)
                q = quote(sub.settings, bar[lanes[idx]], np.full(len(idx), bars.close[t]),
                          np.full(len(idx), bars.low[t]), np.full(len(idx), bars.high[t]))
                sub, log = fold(container, sub, (q,))
                logs.append(log)
                history.append(sub.portfolio)
                rows = _scatter(attrs.evolve(rows, pending=None), idx, sub)
            later = np.flatnonzero(~now)
            if len(later):
                pending_lanes = lanes[later]
                pending = _take(approved, later)
            state = _scatter(state, lanes, attrs.evolve(rows, pending=None))
        equity[:, t] = state.portfolio.cash + state.portfolio.position * bars.close[t]
    events = [e for log in logs for e in log]
    folded = _assemble([e for e in events if type(e) is OrderFilled], [e for e in events if type(e) is OrderRejected],
                       [p.cash for p in history], [p.position for p in history], state.portfolio, bars)
    return folded, equity


def _output_index(ref, cache: dict) -> int:
    if ref not in cache:
        from fp.hub import feature_of
        cache[ref] = feature_of(ref.key).outputs.index(ref.output)
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
    return LaneState(state.settings, portfolio, None)


def _put(array: np.ndarray, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = array.copy()
    out[index] = values
    return out
