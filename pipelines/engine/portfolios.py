"""Shared-cash portfolios: one portfolio per combination trading every symbol of the data.

With ``portfolio: {shared_cash: true}`` a combination is one lane holding a position in each
symbol and one cash account, instead of one isolated lane per symbol. Each symbol's signals and
orders are computed on its own bars (``fp.orders``: fills happen only at that symbol's bars, never
at a forward-filled price); the portfolio folds the orders of all its symbols in time order on the
merged timeline (the union of the symbols' timestamps; at one timestamp the fills at the open,
then inside bars, then at the close, symbols in data order).

Sizing and risk see the whole portfolio: equity is cash plus every holding marked at its symbol's
latest close — for a fill at the open or inside a bar, the latest close *before* the fill's
timestamp (a close at the same timestamp has not happened yet) —, and the gross and net
exposure, leverage and concentration limits count the other symbols' holdings. Equity, for
metrics and the loss halts, is marked the same way at every merged timestamp. Results have one
row per combination (``symbol`` is the symbols joined by ``+``) and ``symbol_stats`` one row per
combination and symbol (trades, pnl, commission, exposure).

Calendars: the portfolio's equity lives on the merged timeline, so its metrics annualise with
the whole data's periods per year (``MarketData.periods_per_year``: inferred from the merged
timeline by the rules of ``fp.calendars``, or ``data.periods_per_year``; the manifest records
which as ``portfolio_periods_per_year``); a symbol's dynamic sizer reads its own bars and uses
its own calendar. The loss halts' trading day at a merged timestamp is that of the first symbol
(in data order) with a bar there, in its own zone and session.

A portfolio whose equity reaches zero at a merged timestamp is ruined there, as a lane is
(``docs/semantics.md``): its holdings closed at their marks without costs, the deficit written off,
nothing of a later timestamp kept.

Law (shared cash ≡ one symbol): a portfolio of one symbol gives the fills of the per-symbol fold,
ruin included.
"""
from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from fp.ledger import compress_equity, stacked_curves, trades_from_fills
from fp.metrics import core_metrics, lane_research_statistics
from fp.orders import Tape, order_schedule
from fp.overfitting import ReturnBlocks, cscv_blocks, equity_blocks
from fp.steps import is_settings_only
from pipelines.engine.container import Container, fold
from pipelines.engine.folds import schedule_quotes
from pipelines.engine.lanes import lane_settings, order_rules, sized_changes
from pipelines.engine.patterns import PATTERNS, container_for
from pipelines.engine.rounds import (
    event_columns,
    event_slice,
    round_layout,
    round_major,
)
from pipelines.engine.signals import NO_CHANGES, SignalSource, computed_signals
from pipelines.engine.tables import (
    YEAR_NS,
    RunTables,
    equity_schema,
    lane_rows,
    outcome_notes,
    result_row,
    results_table,
    time_type,
    trade_schema,
)
from state.events import (
    FillQuote,
    OrderApproved,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from state.ledger import Trades
from state.market import Bars, MarketData
from state.orders import OrderRules, Schedule
from state.plan import Plan
from state.portfolio import LaneSettings, LaneState, PortfolioState, RiskWatch

__all__ = ["PortfolioFold", "fold_portfolios", "run_portfolios"]

_CLOSE = 2


@attrs.frozen(eq=False)
class PortfolioFold:
    """What the fold of shared-cash portfolios produced, on the merged timeline ``time``.

    ``fills`` and ``rejections`` carry the merged index as ``bar``, with ``fill_symbol`` /
    ``rejection_symbol`` the symbol index of each; ``change_*`` is each lane's cash and positions
    (lanes × symbols) after each of its fills and, for a ruined portfolio, the write-off at its
    ruin (its last row); ``marks`` each symbol's latest close at every merged timestamp (NaN before
    its first bar); ``trades`` are matched per lane and symbol (``trades.lane`` is
    ``lane × symbols + symbol``); ``ruin_bar`` the merged timestamp each portfolio was ruined at
    (-1: never) and ``ruin_deficit`` what was written off there.
    """

    time: np.ndarray
    symbols: tuple[str, ...]
    fills: OrderFilled
    fill_symbol: np.ndarray
    rejections: OrderRejected
    rejection_symbol: np.ndarray
    change_lane: np.ndarray
    change_bar: np.ndarray
    change_cash: np.ndarray
    change_positions: np.ndarray
    final_cash: np.ndarray
    final_positions: np.ndarray
    marks: np.ndarray
    trades: Trades
    ruin_bar: np.ndarray | None = None
    ruin_deficit: np.ndarray | None = None

    def holdings(self, lane: int, initial_cash: float) -> tuple[np.ndarray, np.ndarray]:
        """The lane's cash at every merged timestamp and its units in each symbol (time × symbols)."""
        lo, hi = np.searchsorted(self.change_lane, [lane, lane + 1])
        starts = np.concatenate(([0], self.change_bar[lo:hi]))
        lengths = np.diff(np.concatenate((starts, [len(self.time)])))
        cash = np.repeat(np.concatenate(([initial_cash], self.change_cash[lo:hi])), lengths)
        held = np.repeat(np.concatenate((np.zeros((1, len(self.symbols))), self.change_positions[lo:hi])), lengths,
                         axis=0)
        return cash, held

    def equity(self, lane: int, initial_cash: float) -> tuple[np.ndarray, np.ndarray]:
        """The lane's equity at every merged timestamp (cash plus holdings at their latest close)
        and its gross exposure there (the absolute value held)."""
        cash, held = self.holdings(lane, initial_cash)
        value = held * np.nan_to_num(self.marks)
        return cash + value.sum(axis=1), np.abs(value).sum(axis=1)


def _marks(time: np.ndarray, bars: tuple[Bars, ...]) -> np.ndarray:
    """Each symbol's latest close at each merged timestamp (forward-filled for marking only)."""
    out = np.full((len(time), len(bars)), np.nan)
    for s, b in enumerate(bars):
        at = np.zeros(len(time), np.int64)
        at[np.searchsorted(time, b.time)] = np.arange(len(b)) + 1
        latest = np.maximum.accumulate(at)
        out[:, s] = np.where(latest > 0, b.close[np.maximum(latest - 1, 0)], np.nan)
    return out


def _merged_days(time: np.ndarray, bars: tuple[Bars, ...]) -> np.ndarray:
    """The trading day of each merged timestamp: that of the first symbol (in data order) with a
    bar there, in its own zone and session; never decreasing, so a day once begun stays begun."""
    day = np.full(len(time), np.iinfo(np.int64).min)
    for b in reversed(bars):
        day[np.searchsorted(time, b.time)] = b.day
    return np.maximum.accumulate(day)


def fold_portfolios(container: Container, settings: LaneSettings, changes: list[list[tuple[np.ndarray, np.ndarray]]],
                    bars: tuple[Bars, ...], rules: list[OrderRules], restricted: np.ndarray) -> PortfolioFold:
    """Fold shared-cash portfolios: ``changes[s][lane]`` are a lane's signal changes on symbol
    ``s`` (its ``bars[s]``, under ``rules[s]``); ``restricted[lane, s]`` marks symbols a lane may
    not trade. Lanes are folded in rounds as in ``fold_sparse``; each round gathers every row's
    position in its order's symbol and the value of its other holdings, and scatters them back."""
    n_lanes, n_symbols = len(settings), len(bars)
    settings = attrs.evolve(settings, uniform=settings.uniform - {"plain"})  # sizing sees the other holdings
    time = np.unique(np.concatenate([b.time for b in bars]))
    marks = _marks(time, bars)
    day = _merged_days(time, bars)
    parts = []
    for s, (b, lane_changes, rule) in enumerate(zip(bars, changes, rules)):
        tape = Tape.of(b)
        schedule, _ = order_schedule(lane_changes, rule, tape)
        quotes = schedule_quotes(settings.rows(schedule.lane), schedule, tape)
        parts.append((schedule, quotes, np.full(len(schedule), s), np.searchsorted(time, b.time)[schedule.bar]))
    schedule = Schedule(*(np.concatenate([getattr(p[0], f.name) for p in parts]) for f in attrs.fields(Schedule)))
    symbol = np.concatenate([p[2] for p in parts])
    moment = np.concatenate([p[3] for p in parts])
    order = np.lexsort((symbol, schedule.phase, moment, schedule.lane))
    schedule, symbol, moment = schedule.take(order), symbol[order], moment[order]
    quote_fields = [f.name for f in attrs.fields(FillQuote)]
    quotes = FillQuote(*(None if getattr(parts[0][1], name) is None else
                         np.concatenate([np.broadcast_to(getattr(p[1], name), (len(p[0]),)) for p in parts])[order]
                         for name in quote_fields))

    by_count, rank, active, offsets, slot = round_layout(schedule.lane, n_lanes)

    hoisted = container.restricted(is_settings_only)
    rows = settings.rows(schedule.lane)
    early_state, _ = fold(hoisted, LaneState(rows, PortfolioState.initial(rows.initial_cash)),
                          (OrderSubmitted(schedule.lane, schedule.origin, schedule.target, schedule.kind),))
    book = round_major(OrderApproved, event_columns(early_state.pending, len(schedule)), slot)
    laid = round_major(FillQuote, event_columns(quotes, len(schedule)), slot)
    symbol_rm, moment_rm = np.empty_like(symbol), np.empty_like(moment)
    symbol_rm[slot], moment_rm[slot] = symbol, moment
    phase_rm = np.empty_like(schedule.phase)
    phase_rm[slot] = schedule.phase

    lanes_sorted = settings.rows(by_count)
    blocked = restricted[by_count]
    cash = lanes_sorted.initial_cash.copy()
    positions = np.zeros((n_lanes, n_symbols))
    working = np.full((n_lanes, n_symbols), np.nan) if (
        settings.costs is not None and "uncapped" not in settings.costs.uniform) else None
    watched = settings.limits is not None and settings.limits.watches
    watch = RiskWatch.initial(cash) if watched else None
    since = np.zeros(n_lanes, np.int64)
    fills, rejections, change_cash, change_positions = [], [], [], []
    for m, lo in zip(active.tolist(), offsets.tolist()):
        here = np.arange(m)
        sym, at, phase = symbol_rm[lo:lo + m], moment_rm[lo:lo + m], phase_rm[lo:lo + m]
        held = positions[:m]
        seen = np.where(phase == _CLOSE, at, at - 1)  # closes known at the quote
        mark = np.nan_to_num(marks[np.maximum(seen, 0)]) * (seen >= 0)[:, None]
        value = held * mark
        value[here, sym] = 0.0
        quote = attrs.evolve(event_slice(FillQuote, laid[1], lo, lo + m), others_value=value.sum(axis=1),
                             others_gross=np.abs(value).sum(axis=1), others_net=value.sum(axis=1))
        lane_settings_now = lanes_sorted.rows(slice(0, m))
        if lane_settings_now.limits is not None:
            lane_settings_now = attrs.evolve(lane_settings_now, limits=attrs.evolve(
                lane_settings_now.limits, restricted=blocked[here, sym]), uniform=lane_settings_now.uniform)
        state = LaneState(lane_settings_now, PortfolioState(cash[:m], held[here, sym]), event_slice(*book, lo, lo + m),
                          None if watch is None else watch.rows(here),
                          None if working is None else working[here, sym])
        if watched:
            quote = attrs.evolve(quote, **_between(cash[:m], held, marks, since[:m], at, phase, watch.rows(here),
                                                   lane_settings_now.limits, day))
        state, log = fold(container, state, (quote,))
        for e in log:
            if type(e) is OrderFilled:  # one row per order of the round
                fills.append((e, sym, at))
            elif type(e) is OrderRejected:
                row = rank[e.lane]  # the round's rows are the first m lanes in count order
                rejections.append((e, sym[row], at[row]))
        cash[:m] = state.portfolio.cash
        positions[here, sym] = state.portfolio.position
        if working is not None:
            working[here, sym] = state.working
        if watch is not None:
            watch = RiskWatch(*(np.concatenate((getattr(state.watch, f.name), getattr(watch, f.name)[m:]))
                                for f in attrs.fields(RiskWatch)))
        since[:m] = at  # the closes from the fill's timestamp on are marked with what it left
        change_cash.append(cash[:m].copy())
        change_positions.append(positions[:m].copy())
    return _assembled(time, tuple(b.symbol for b in bars), marks, fills, rejections, change_cash, change_positions,
                      by_count, cash, positions, bars)


def _between(cash, held, marks, since, at, phase, watch: RiskWatch, limits, day) -> dict[str, Any]:
    """The loss halts' view of equity between a portfolio's quotes, marked at every merged
    timestamp ``[since, at)``: its peak there, its lowest on the quote's trading day (``day``,
    per merged timestamp), and whether the drawdown limit was reached (the running peak counted
    from the peak before)."""
    m = len(cash)
    best = np.full(m, -np.inf)
    worst_today = np.full(m, np.inf)
    hit = np.zeros(m, bool)
    for i in range(m):
        if since[i] >= at[i]:
            continue
        path = cash[i] + (np.nan_to_num(marks[since[i]:at[i]]) * held[i]).sum(axis=1)  # not BLAS: deterministic
        best[i] = path.max()
        today = day[since[i]:at[i]] == day[at[i]]
        if today.any():
            worst_today[i] = path[today].min()
        peak = np.fmax(np.maximum.accumulate(path), watch.peak[i])
        hit[i] = bool(np.any(path <= peak * (1.0 - limits.max_drawdown[i])))
    return {"equity_high": best, "equity_low_today": worst_today, "drawdown_hit": hit,
            "day": day[at], "day_equity": _day_equity(cash, held, marks, day, at)}


def _day_equity(cash, held, marks, day, at) -> np.ndarray:
    """Equity at the last merged timestamp before the quote's day (NaN on the first day), as the
    portfolio holds now: the day's opening equity when nothing traded since."""
    first = np.searchsorted(day, day[at])
    opening = np.full(len(cash), np.nan)
    ok = first > 0
    opening[ok] = cash[ok] + np.einsum("ij,ij->i", np.nan_to_num(marks[first[ok] - 1]), held[ok])
    return opening


def _assembled(time, symbols, marks, fills, rejections, change_cash, change_positions, by_count, cash, positions,
               bars) -> PortfolioFold:
    """The rounds' events and states as lane-major tables (lanes back in their own order)."""
    n_symbols = len(symbols)
    restore = np.argsort(by_count, kind="stable")
    if fills:
        lane = np.concatenate([e.lane for e, _, _ in fills])
        qty = np.concatenate([e.quantity for e, _, _ in fills])
        price = np.concatenate([e.price for e, _, _ in fills])
        fee = np.concatenate([e.commission for e, _, _ in fills])
        sym = np.concatenate([s for _, s, _ in fills])
        at = np.concatenate([a for _, _, a in fills])
        after_cash = np.concatenate(change_cash)
        after_pos = np.concatenate(change_positions)
    else:
        lane = sym = at = np.empty(0, np.int64)
        qty = price = fee = after_cash = np.empty(0)
        after_pos = np.empty((0, n_symbols))
    keep = np.flatnonzero(qty != 0.0)
    keep = keep[np.lexsort((keep, lane[keep]))]  # by lane, then time (rounds are in time order per lane)
    lane, qty, price, fee, sym, at = lane[keep], qty[keep], price[keep], fee[keep], sym[keep], at[keep]
    after_cash, after_pos = after_cash[keep], after_pos[keep]
    filled = OrderFilled(lane, at, qty, price, fee)
    trades = _trades_of(filled, sym, after_pos, len(restore), bars)
    if rejections:
        r_lane = np.concatenate([e.lane for e, _, _ in rejections])
        r_bar = np.concatenate([a for _, _, a in rejections])
        r_reason = np.concatenate([e.reason for e, _, _ in rejections])
        r_sym = np.concatenate([s for _, s, _ in rejections])
    else:
        r_lane = r_bar = r_sym = np.empty(0, np.int64)
        r_reason = np.empty(0, np.int8)
    by_lane = np.lexsort((r_bar, r_lane))
    folded = PortfolioFold(time, symbols, filled, sym, OrderRejected(r_lane[by_lane], r_bar[by_lane],
                                                                     r_reason[by_lane]),
                           r_sym[by_lane], lane, at, after_cash, after_pos, cash[restore], positions[restore], marks,
                           trades)
    return _stopped_at_ruin(folded, bars)


def _trades_of(fills: OrderFilled, symbol: np.ndarray, after: np.ndarray, n_lanes: int, bars) -> Trades:
    """Trades of fills sorted by lane then time, matched per lane and symbol (``after``: the
    positions, lanes × symbols, after each fill); open ones marked at each symbol's last close."""
    n_symbols = after.shape[1]
    key = fills.lane * n_symbols + symbol
    by_key = np.lexsort((np.arange(len(key)), key))
    held_after = after[by_key, symbol[by_key]]
    mark = np.tile(np.array([b.close[-1] for b in bars]), n_lanes)  # indexed by lane × symbols + symbol
    return trades_from_fills(key[by_key], fills.bar[by_key], fills.quantity[by_key], fills.price[by_key],
                             fills.commission[by_key], held_after, mark)


def _stopped_at_ruin(folded: PortfolioFold, bars) -> PortfolioFold:
    """Stop each portfolio at its ruin, as ``pipelines.engine.folds`` stops a lane
    (``docs/semantics.md``): at the first merged timestamp whose equity (cash plus every holding at
    its latest close) is zero or below, each holding is closed at that mark without costs (in
    symbol order), the deficit written off, and nothing of a later timestamp is kept.

    Only portfolios whose holdings could mark at zero at the marks' extremes (a bound with a
    rounding margin) have their equity marked at every timestamp to find the exact one.
    """
    n_lanes, n_symbols = len(folded.final_cash), len(folded.symbols)
    never = np.full(n_lanes, -1, np.int64)
    marks = np.nan_to_num(folded.marks)
    if not len(folded.change_lane) or not len(marks):
        return attrs.evolve(folded, ruin_bar=never, ruin_deficit=np.zeros(n_lanes))
    low, high = marks.min(axis=0), marks.max(axis=0)
    held = folded.change_positions
    worst = folded.change_cash + np.where(held > 0.0, held * low, held * high).sum(axis=1)
    size = np.abs(folded.change_cash) + (np.abs(held) * np.maximum(np.abs(low), np.abs(high))).sum(axis=1)
    ruin_bar, deficit = never.copy(), np.zeros(n_lanes)
    for lane in np.unique(folded.change_lane[worst <= 1e-9 * size]).tolist():
        # before its first fill a portfolio holds its (positive) initial cash: mark from that fill on
        first = folded.change_bar[np.searchsorted(folded.change_lane, lane)]
        curve = folded.equity(lane, np.nan)[0][first:]
        hit = np.flatnonzero(curve <= 0.0)
        if len(hit):
            ruin_bar[lane] = first + hit[0]
            deficit[lane] = -curve[hit[0]]
    ruined = np.flatnonzero(ruin_bar >= 0)
    if not len(ruined):
        return attrs.evolve(folded, ruin_bar=ruin_bar, ruin_deficit=deficit)
    until = np.where(ruin_bar >= 0, ruin_bar, len(folded.time))
    keep = folded.fills.bar <= until[folded.fills.lane]
    fills = OrderFilled(*(getattr(folded.fills, f.name)[keep] for f in attrs.fields(OrderFilled)
                          if getattr(folded.fills, f.name) is not None))
    symbol, cash, positions = folded.fill_symbol[keep], folded.change_cash[keep], folded.change_positions[keep]
    pieces = []  # per ruined lane: where its close-outs go, and the rows themselves
    for lane in ruined.tolist():
        at = int(np.searchsorted(fills.lane, lane, side="right"))
        left_cash, left = cash[at - 1], positions[at - 1].copy()
        rows = []
        for s in np.flatnonzero(left != 0.0).tolist():
            quantity, price = -left[s], marks[ruin_bar[lane], s]
            left_cash = left_cash - quantity * price - 0.0
            left[s] = left[s] + quantity
            rows.append((lane, ruin_bar[lane], quantity, price, s, left_cash, left.copy()))
        pieces.append((at, rows))
    where = np.concatenate([[at] * len(rows) for at, rows in pieces]).astype(np.int64)
    rows = [row for _, rows in pieces for row in rows]
    column = lambda k, dtype=np.float64: np.array([row[k] for row in rows], dtype)
    fills = OrderFilled(np.insert(fills.lane, where, column(0, np.int64)), np.insert(fills.bar, where, column(1, np.int64)),
                        np.insert(fills.quantity, where, column(2)), np.insert(fills.price, where, column(3)),
                        np.insert(fills.commission, where, np.zeros(len(rows))))
    symbol = np.insert(symbol, where, column(4, np.int64))
    cash = np.insert(cash, where, column(5))
    positions = np.insert(positions, where, np.array([row[6] for row in rows]).reshape(-1, n_symbols), axis=0)
    trades = _trades_of(fills, symbol, positions, n_lanes, bars)
    # the write-offs: each ruined portfolio's last change row, cash and holdings 0
    after = np.searchsorted(fills.lane, ruined, side="right")
    change_lane = np.insert(fills.lane, after, ruined)
    change_bar = np.insert(fills.bar, after, ruin_bar[ruined])
    change_cash = np.insert(cash, after, 0.0)
    change_positions = np.insert(positions, after, np.zeros((len(ruined), n_symbols)), axis=0)
    rejections = folded.rejections
    kept = rejections.bar <= until[rejections.lane]
    final_cash, final_positions = folded.final_cash.copy(), folded.final_positions.copy()
    final_cash[ruined], final_positions[ruined] = 0.0, 0.0
    return attrs.evolve(folded, fills=fills, fill_symbol=symbol,
                        rejections=OrderRejected(rejections.lane[kept], rejections.bar[kept], rejections.reason[kept]),
                        rejection_symbol=folded.rejection_symbol[kept], change_lane=change_lane, change_bar=change_bar,
                        change_cash=change_cash, change_positions=change_positions, final_cash=final_cash,
                        final_positions=final_positions, trades=trades, ruin_bar=ruin_bar, ruin_deficit=deficit)


_SYMBOL_STATS_SCHEMA = pa.schema([
    ("combo_id", pa.string()), ("symbol", pa.string()), ("n_trades", pa.int64()), ("win_rate_pct", pa.float64()),
    ("net_pnl", pa.float64()), ("commission", pa.float64()), ("exposure_pct", pa.float64()),
])


def run_portfolios(plan: Plan, market: MarketData, *, signals: SignalSource = computed_signals,
                   equity: bool = False, return_blocks: bool = False) -> RunTables:
    """Run every combination of ``plan`` as one shared-cash portfolio over all of ``market``'s symbols.

    Results have one row per combination (``symbol``: the symbols joined by ``+``; metrics of the
    portfolio's equity on the merged timeline), trades one row per trade with its symbol,
    ``symbol_stats`` one row per combination and symbol, ``final`` the cash (shared) and units
    per symbol; ``equity`` one row per timestamp and symbol (the portfolio's equity and cash, the
    symbol's units), ``return_blocks`` the per-block aggregates of the portfolio's per-timestamp
    returns of every combination that ran without error (``fp.overfitting.ReturnBlocks``).
    """
    container = container_for(PATTERNS[plan.pattern])
    if signals is computed_signals:  # features may read the other symbols of the market
        signals = functools.partial(computed_signals, market=market)
    failed: dict[str, str] = {}
    changes, rules = [], []
    for bars in market.bars:
        source = signals(plan, bars)
        per_lane = []
        for combo in plan.combos:
            try:
                per_lane.append(source.changes(combo))
            except Exception as exc:  # a failing component is data: its combination becomes an error row
                failed.setdefault(combo.combo_id, f"{type(exc).__name__}: {exc}")
                per_lane.append(NO_CHANGES)
        own = market.annualisation_of(market.symbols.index(bars.symbol)).periods_per_year  # sizing: its own calendar
        changes.append(sized_changes(plan.combos, per_lane, bars, own))
        rules.append(order_rules(plan.combos, bars))
    for per_lane in changes:  # a combination failing on one symbol trades none
        for i, combo in enumerate(plan.combos):
            if combo.combo_id in failed:
                per_lane[i] = NO_CHANGES
    settings = lane_settings(plan.combos)
    restricted = np.array([[b.symbol in dict(c.settings).get("restricted", ()) for b in market.bars]
                           for c in plan.combos], bool).reshape(len(plan.combos), len(market.bars))
    folded = fold_portfolios(container, settings, changes, market.bars, rules, restricted)
    return _tables(plan, market, settings, folded, failed, equity=equity, return_blocks=return_blocks)


def _tables(plan: Plan, market: MarketData, settings: LaneSettings, folded: PortfolioFold, failed: dict[str, str], *,
            equity: bool, return_blocks: bool) -> RunTables:
    symbols, time = folded.symbols, folded.time
    n_symbols = len(symbols)
    name = "+".join(symbols)
    years = float(time[-1] - time[0]) / YEAR_NS if len(time) > 1 else 0.0
    trades = folded.trades
    owner, traded = trades.lane // n_symbols, trades.lane % n_symbols
    fill_at = np.searchsorted(folded.fills.lane, np.arange(len(plan.combos) + 1))
    trade_at = np.searchsorted(owner, np.arange(len(plan.combos) + 1))
    reject_at = np.searchsorted(folded.rejections.lane, np.arange(len(plan.combos) + 1))
    rows, stats, blocks, equity_parts, finals, compressed = [], [], [], [], [], []
    n_blocks = cscv_blocks(len(time) - 1) if return_blocks else None
    for i, combo in enumerate(plan.combos):
        cash0 = float(settings.initial_cash[i])
        cash, held = folded.holdings(i, cash0)
        value = held * np.nan_to_num(folded.marks)
        curve, gross = cash + value.sum(axis=1), np.abs(value).sum(axis=1)
        lo, hi = trade_at[i], trade_at[i + 1]
        closed = trades.closed[lo:hi]
        fees = folded.fills.commission[fill_at[i]:fill_at[i + 1]]
        points = compress_equity(curve, gross)
        compressed.append(points)
        m = core_metrics(points, trades.pnl[lo:hi][closed], float(fees.sum()), initial_cash=cash0,
                         periods_per_year=market.periods_per_year, years=years)
        m["n_rejected"] = int(reject_at[i + 1] - reject_at[i])
        ruin = (int(folded.ruin_bar[i]), float(folded.ruin_deficit[i])) if folded.ruin_bar[i] >= 0 else None
        m.update(outcome_notes(m, points, time, ruin))
        error = failed.get(combo.combo_id)
        if error is not None:
            m = {key: None for key in m}
        rows.append({**result_row(plan, combo, name, m), "status": "error" if error else "ok", "error": error})
        fee_symbol = folded.fill_symbol[fill_at[i]:fill_at[i + 1]]
        for s, symbol in enumerate(symbols):
            mine = traded[lo:hi] == s
            pnl = trades.pnl[lo:hi][mine]
            won = pnl[closed[mine]]
            stats.append({"combo_id": combo.combo_id, "symbol": symbol, "n_trades": int(len(won)),
                          "win_rate_pct": float(np.mean(won > 0.0) * 100.0) if len(won) else float("nan"),
                          "net_pnl": float(pnl.sum()), "commission": float(fees[fee_symbol == s].sum()),
                          "exposure_pct": float(np.mean(held[:, s] != 0.0) * 100.0) if len(time) else 0.0})
        finals.append(pa.table({"combo_id": [combo.combo_id] * n_symbols, "symbol": list(symbols),
                                "cash": np.full(n_symbols, folded.final_cash[i]),
                                "position": folded.final_positions[i]}))
        if equity:
            equity_parts.append(pa.table({
                "time": pa.array(np.repeat(time, n_symbols), time_type(market.timezone)),
                "combo_id": pa.array([combo.combo_id] * (len(time) * n_symbols), pa.string()),
                "symbol": pa.array(list(symbols) * len(time), pa.string()),
                "equity": pa.array(np.repeat(curve, n_symbols)), "cash": pa.array(np.repeat(cash, n_symbols)),
                "position": pa.array(held.reshape(-1)),
            }, schema=equity_schema(market.timezone)))
        if n_blocks is not None and error is None:
            blocks.append(equity_blocks(points, n_blocks=n_blocks))
    # the research statistics of every portfolio at once (its trades: the closed ones, by portfolio)
    kept = np.flatnonzero(trades.closed)
    closed_by_portfolio = attrs.evolve(trades.take(kept), lane=owner[kept])
    research = lane_rows(lane_research_statistics(stacked_curves(compressed), closed_by_portfolio, folded.marks, time))
    for row, values in zip(rows, research):
        if row["status"] == "ok":
            row.update(values)
    returned = None
    if return_blocks:
        returned = ((name, None if n_blocks is None else ReturnBlocks.concat(blocks) if blocks
                     else ReturnBlocks.empty(len(time) - 1, n_blocks)),)
    curves_table = (pa.concat_tables(equity_parts) if equity_parts else
                    equity_schema(market.timezone).empty_table()) if equity else None
    return RunTables(results_table(plan, rows, market.timezone), _trades(plan, folded, market.timezone), None, curves_table, returned, None,
                     pa.concat_tables(finals) if finals else None,
                     pa.Table.from_pylist(stats, schema=_SYMBOL_STATS_SCHEMA))


def _trades(plan: Plan, folded: PortfolioFold, zone: str | None) -> pa.Table:
    t = folded.trades
    if not len(t):
        return trade_schema(zone).empty_table()
    n_symbols = len(folded.symbols)
    ids = pa.array([c.combo_id for c in plan.combos], pa.string())
    return pa.table({
        "combo_id": pa.DictionaryArray.from_arrays(pa.array(t.lane // n_symbols), ids).cast(pa.string()),
        "symbol": pa.DictionaryArray.from_arrays(pa.array((t.lane % n_symbols).astype(np.int32)),
                                                 pa.array(list(folded.symbols), pa.string())).cast(pa.string()),
        "entry_time": pa.array(folded.time[t.entry_bar], type=time_type(zone)),
        "entry_price": pa.array(t.entry_price),
        "exit_time": pa.array(folded.time[np.maximum(t.exit_bar, 0)], type=time_type(zone), mask=~t.closed),
        "exit_price": pa.array(t.exit_price, mask=~t.closed),
        "size": pa.array(t.size),
        "pnl": pa.array(t.pnl),
    }, schema=trade_schema(zone))
