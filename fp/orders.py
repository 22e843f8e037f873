"""Orders to the market: each lane's signal changes and exits become a schedule of fills.

When and at what price an order fills depends on the market and the lane's rules, never on its
portfolio, so the whole schedule is found densely, before the fold, by first-passage searches
(``fp.triggers``) over every lane's orders at once; the fold then only sizes, checks and pays.

The fill rules (the README's "Fill rules" restates them with examples):

* **Market** orders (every closing or resizing order, and entries of ``order_type: market``)
  fill at the next bar's open (``delay`` 1, phase ``open``) or at the signal bar's close
  (``delay`` 0, phase ``close``); an order from the last bar never fills.
* **Limit** entries rest at ``L`` from the bar after the signal: a buy fills on the first bar whose
  low reaches ``L``, at ``min(open, L)`` (a gap below the limit fills at the better open); a sell
  mirrors it (high, ``max(open, L)``). **Stop** entries trigger on the first bar whose high reaches
  ``S`` (buy) and fill at ``max(open, S)``: a gap through the stop fills at the open. A
  **stop-limit** buy triggers like a stop and fills in the trigger bar at ``max(open, S)`` if
  that is within its limit ``L``, otherwise it rests as a limit from the next bar. An entry works
  until the lane's next signal change (good till cancelled) or through the trading day of the bar
  after its signal (day); one that never fills expires (an ``OrderExpired`` event) and its
  position is never opened: later same-side signal changes do not open it either.
* **Exits** belong to a position, from its entry fill until the signal leaves its side. Levels
  are measured from the entry's reference price ``P`` (before slippage): a long's stop-loss is
  ``P × (1 - stop_loss)`` or ``P - k × ATR`` (ATR at the signal bar), its take-profit
  ``P × (1 + take_profit)`` or ``P + k × ATR``, its trailing stop ``peak × (1 - trailing_stop)``
  or ``peak - k × ATR`` where ``peak`` is the highest of ``P`` and the highs of the bars *before*
  the current one (shorts mirrored). A stop fills at the level, or at the open when the bar
  opens beyond it (gap); a take-profit fills at its level, or at a better open. A bar reaching
  both a stop and the take-profit exits at the stop (conservative; ``target_first`` reverses it);
  two stops in one bar exit at the one reached first (the higher for a long). ``max_holding``
  closes the position with a market order ``N`` bars after the entry bar (at that bar's open,
  or close for ``delay`` 0) unless an exit came first.
* Exits are checked from the entry bar when the entry filled at the open (the whole bar follows
  it), from the next bar when it filled at the close; an entry filled *inside* a bar (limit or
  stop level) lets that bar reach only its stop (or, with ``target_first``, only its
  take-profit), since the bar's path before the fill is unknown.
* After an exit the lane stays flat until its signal opens a new position (from flat or by
  reversing); same-side signal changes in between do nothing.
* Slippage applies to market and stop fills (stop-loss, trailing stop, stop entries, max holding),
  never to limit fills (limit entries, stop-limits, take-profits), which fill at their price or better.

Rows of one lane are ordered by bar, then phase (open, intrabar, close), then signal bar (an
earlier position's exit before a later signal's order), an entry before its own exit. Law: every row's price lies within its bar's [low, high] range.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs
import numpy as np

from fp.triggers import RangeExtremes, first_trailing_hit
from state.market import Bars
from state.events import OrderExpired
from state.orders import ORDER_KINDS, ORDER_TYPES, OrderRules, Schedule

__all__ = ["Tape", "order_schedule"]

_OPEN, _INTRABAR, _CLOSE = 0, 1, 2
_MARKET, _LIMIT, _STOP, _STOP_LIMIT = range(len(ORDER_TYPES))
_STOP_LOSS, _TAKE_PROFIT, _TRAILING, _MAX_HOLDING, _CONTINUATION = (ORDER_KINDS.index(k) for k in (
    "stop_loss", "take_profit", "trailing_stop", "max_holding", "continuation"))


@attrs.frozen(eq=False, slots=False)
class Tape:
    """One symbol's bars with what first-passage searches and risk marks need, each built on first
    use: range extremes of the lows, highs and closes, the trading ``day`` of every bar (``Bars.day``:
    its session's date in the data's own zone, never the UTC date), the first bar of its day
    (``day_first``) and of the next day (``day_end``), and the last close before the bar's day
    (``day_close``, NaN on the first day)."""

    bars: Bars

    @classmethod
    def of(cls, bars: Bars) -> "Tape":
        return cls(bars)

    @functools.cached_property
    def lows(self) -> RangeExtremes:
        return RangeExtremes.of(self.bars.low)

    @functools.cached_property
    def highs(self) -> RangeExtremes:
        return RangeExtremes.of(self.bars.high)

    @functools.cached_property
    def closes(self) -> RangeExtremes:
        return RangeExtremes.of(self.bars.close)

    @functools.cached_property
    def day(self) -> np.ndarray:
        return self.bars.day

    @functools.cached_property
    def day_first(self) -> np.ndarray:
        """The first bar of each bar's trading day."""
        return np.searchsorted(self.day, self.day, side="left").astype(np.int64)

    @functools.cached_property
    def day_end(self) -> np.ndarray:
        return np.searchsorted(self.day, self.day, side="right").astype(np.int64)

    @functools.cached_property
    def day_close(self) -> np.ndarray:
        first = self.day_first
        return np.where(first > 0, self.bars.close[np.maximum(first - 1, 0)], np.nan)


def order_schedule(changes: Sequence[tuple[np.ndarray, np.ndarray]], rules: OrderRules,
                   tape: Tape) -> tuple[Schedule, OrderExpired]:
    """Every lane's orders as a :class:`Schedule` (and the entries that expired unfilled).

    ``changes[lane]`` is the lane's signal changes ``(bars, targets)``; ``rules`` has one row per
    lane. See the module docstring for the rules.
    """
    bars = tape.bars
    n = len(bars)
    counts = np.array([len(b) for b, _ in changes], np.int64)
    lane = np.repeat(np.arange(len(changes)), counts)
    bar = np.concatenate([b for b, _ in changes]).astype(np.int64) if len(changes) else np.empty(0, np.int64)
    target = np.concatenate([t for _, t in changes]).astype(np.float64) if len(changes) else np.empty(0)
    starts = np.cumsum(counts) - counts
    ends = starts + counts
    first = np.zeros(len(bar), bool)
    first[starts[counts > 0]] = True
    previous = np.concatenate(([0.0], target[:-1]))
    previous[first] = 0.0
    side, before = np.sign(target), np.sign(previous)
    opening = (side != 0.0) & (side != before)
    kind = np.where(opening, rules.order_type[lane], _MARKET).astype(np.int8)
    delay = rules.delay[lane]
    # the change after which a position of this change's side is over: the next change of another side
    breaks = np.flatnonzero(side != before)
    index = np.arange(len(bar))
    after = breaks[np.minimum(np.searchsorted(breaks, index, side="right"), len(breaks) - 1)] if len(breaks) else index
    ends_of = ends[lane]
    next_break = np.where((after > index) & (after < ends_of), after, ends_of)
    episode_end = np.where(next_break < ends_of, bar[np.minimum(next_break, len(bar) - 1)] + 1, n) if len(bar) else bar
    episode_end = np.minimum(episode_end, n)

    # market rows: every change that is not a non-market entry; a reversal into one also closes at market
    market = kind == _MARKET
    reversing = ~market & (before != 0.0)
    m_index = np.concatenate((np.flatnonzero(market), np.flatnonzero(reversing)))
    m_target = np.concatenate((target[market], np.zeros(int(reversing.sum()))))
    m_bar = bar[m_index] + delay[m_index]
    live = m_bar < n
    m_index, m_target, m_bar = m_index[live], m_target[live], m_bar[live]
    m_close = delay[m_index] == 0
    m_safe = np.minimum(m_bar, n - 1)
    rows = [_rows(lane[m_index], m_bar, np.where(m_close, _CLOSE, _OPEN),
                  np.where(m_close, bars.close[m_safe], bars.open[m_safe]), np.ones(len(m_index), bool), m_target,
                  np.full(len(m_index), _MARKET, np.int8), bar[m_index], np.full(len(m_index), np.nan))]
    # market rows of reversals carry the reversal's index too, so an entry's fill is found below
    entry_bar = np.full(len(bar), n, np.int64)
    entry_phase = np.zeros(len(bar), np.int8)
    entry_price = np.full(len(bar), np.nan)
    opened_market = market[m_index] & opening[m_index]
    entry_bar[m_index[opened_market]] = m_bar[opened_market]
    entry_phase[m_index[opened_market]] = np.where(m_close[opened_market], _CLOSE, _OPEN)
    entry_price[m_index[opened_market]] = rows[0].price[opened_market]

    # resting entries: limit, stop, stop-limit
    resting = np.flatnonzero(~market & (bar + 1 < n))
    expiries = OrderExpired(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8))
    if len(resting):
        following = np.minimum(index[resting] + 1, len(bar) - 1)
        until = np.where(index[resting] + 1 < ends_of[resting], bar[following] + 1, n)
        r_rows, found, until = _resting_entries(tape, rules, lane[resting], bar[resting], side[resting],
                                                kind[resting], target[resting], until)
        rows.append(r_rows.take(found))
        entry_bar[resting[found]] = r_rows.bar[found]
        entry_phase[resting[found]] = r_rows.phase[found]
        entry_price[resting[found]] = r_rows.price[found]
        lost = ~found
        expiries = OrderExpired(lane[resting[lost]], bar[resting[lost]], until[lost] - 1, kind[resting[lost]])

    # exits of every position that opened
    entered = np.flatnonzero(opening & (entry_bar < n))
    exit_key = np.full(len(bar), np.iinfo(np.int64).max)
    if len(entered) and not rules.plain:
        x_rows, x_found = _exits(tape, rules, lane[entered], bar[entered], side[entered], entry_bar[entered],
                                 entry_phase[entered], entry_price[entered], episode_end[entered])
        rows.append(x_rows.take(x_found))
        exit_key[entered[x_found]] = x_rows.bar[x_found] * 3 + x_rows.phase[x_found]

    schedule = _concat(rows)
    # same-side changes after their position's exit (or after its entry expired) do nothing
    resize = (side != 0.0) & (side == before)
    if np.any(resize) and len(breaks):
        opener = breaks[np.searchsorted(breaks, index, side="right") - 1]
        void = opening & (entry_bar >= n)
        cut = np.where(void[opener], -1, exit_key[opener])
        own = schedule.kind < len(ORDER_TYPES)
        row_change = _change_of(schedule, lane, bar, own)
        row_key = schedule.bar * 3 + schedule.phase
        dropped = own & (row_change >= 0) & resize[np.maximum(row_change, 0)] & (
            row_key >= cut[np.maximum(row_change, 0)])
        schedule = schedule.take(~dropped)
    schedule = _sorted(schedule)
    if rules.participation_bars is not None and np.any(rules.participation_bars > 0):
        schedule = _sorted(_concat([schedule, _continuations(schedule, rules, tape)]))
    return schedule, expiries


def _sorted(schedule: Schedule) -> Schedule:
    """By lane, time (bar, phase), signal bar, and an order before its exit and continuations."""
    time = schedule.bar * 3 + schedule.phase
    step_lane, step_time = np.diff(schedule.lane), np.diff(time)
    if np.all((step_lane > 0) | ((step_lane == 0) & (step_time > 0))):
        return schedule  # already strictly in order (market orders without exits): nothing ties
    return schedule.take(np.lexsort((schedule.kind >= len(ORDER_TYPES), schedule.origin, time, schedule.lane)))


def _continuations(schedule: Schedule, rules: OrderRules, tape: Tape) -> Schedule:
    """For each order of a lane with ``participation_bars``, a ``continuation`` row at each of the
    following bars (at most that many) before the lane's next order."""
    b = tape.bars
    n = len(b)
    lane, bar = schedule.lane, schedule.bar
    following = np.append(bar[1:], n)
    following[np.append(lane[1:] != lane[:-1], True)] = n
    count = np.clip(np.minimum(rules.participation_bars[lane], following - bar - 1), 0, None)
    source = np.repeat(np.arange(len(schedule)), count)
    later = bar[source] + 1 + np.arange(len(source)) - np.repeat(np.cumsum(count) - count, count)
    close_mode = rules.delay[lane[source]] == 0
    return _rows(lane[source], later, np.where(close_mode, _CLOSE, _OPEN),
                 np.where(close_mode, b.close[later], b.open[later]), np.ones(len(source), bool),
                 schedule.target[source], np.full(len(source), _CONTINUATION, np.int8), schedule.origin[source],
                 np.full(len(source), np.nan))


def _change_of(schedule: Schedule, lane: np.ndarray, bar: np.ndarray, own: np.ndarray) -> np.ndarray:
    """The change index each signal row comes from (lanes' changes are unique by lane and bar); -1 for exits."""
    key = lane * (int(bar.max(initial=0)) + 2) + bar
    row_key = schedule.lane * (int(bar.max(initial=0)) + 2) + schedule.origin
    found = np.searchsorted(key, row_key)
    found = np.minimum(found, len(key) - 1)
    return np.where(own & (key[found] == row_key), found, -1)


def _rows(lane, bar, phase, price, slipped, target, kind, origin, level) -> Schedule:
    return Schedule(lane.astype(np.int64, copy=False), bar.astype(np.int64, copy=False), np.asarray(phase, np.int8),
                    price.astype(np.float64, copy=False), slipped, target.astype(np.float64, copy=False),
                    kind.astype(np.int8, copy=False), origin.astype(np.int64, copy=False),
                    level.astype(np.float64, copy=False))


def _concat(parts: list[Schedule]) -> Schedule:
    if len(parts) == 1:
        return parts[0]
    return Schedule(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in attrs.fields(Schedule)))


def _resting_entries(tape: Tape, rules: OrderRules, lane, bar, side, kind, target, until):
    """Fills of limit, stop and stop-limit entries placed at the close of ``bar``, working until
    bar ``until`` (exclusive; the bar after the lane's next change): rows for every entry, which
    of them filled, and each one's last working bar + 1 (after the day rule)."""
    b = tape.bars
    n = len(b)
    close = b.close[bar]
    long = side > 0.0
    limit_offset = np.nan_to_num(rules.limit_offset[lane])
    stop_offset = np.nan_to_num(rules.stop_offset[lane])
    day = ~rules.good_till_cancelled[lane]
    until = np.where(day, np.minimum(until, tape.day_end[bar + 1]), until)
    start = bar + 1
    stop_level = np.where(long, close * (1.0 + stop_offset), close * (1.0 - stop_offset))
    limit_level = np.where(kind == _STOP_LIMIT,
                           np.where(long, stop_level * (1.0 + limit_offset), stop_level * (1.0 - limit_offset)),
                           np.where(long, close * (1.0 - limit_offset), close * (1.0 + limit_offset)))
    # limits: the first bar trading at or through the limit
    rest_from = start.copy()
    stops = kind != _LIMIT
    triggered = np.where(long, tape.highs.first_at_or_above(start, until, stop_level),
                         tape.lows.first_at_or_below(start, until, stop_level))
    t = np.minimum(triggered, n - 1)
    trigger_price = np.where(long, np.maximum(b.open[t], stop_level), np.minimum(b.open[t], stop_level))
    trigger_phase = np.where(long, b.open[t] >= stop_level, b.open[t] <= stop_level)
    within = np.where(long, trigger_price <= limit_level, trigger_price >= limit_level)
    filled_at_trigger = stops & (triggered < until) & ((kind == _STOP) | within)
    rest_from = np.minimum(np.where(kind == _STOP_LIMIT, triggered + 1, rest_from), until)
    limited = np.where(long, tape.lows.first_at_or_below(rest_from, until, limit_level),
                       tape.highs.first_at_or_above(rest_from, until, limit_level))
    limited = np.where((kind == _STOP_LIMIT) & (triggered >= until), until, limited)
    k = np.minimum(limited, n - 1)
    limit_price = np.where(long, np.minimum(b.open[k], limit_level), np.maximum(b.open[k], limit_level))
    limit_at_open = np.where(long, b.open[k] <= limit_level, b.open[k] >= limit_level)
    fill_bar = np.where(filled_at_trigger, triggered, np.where(kind == _STOP, until, limited))
    price = np.where(filled_at_trigger, trigger_price, limit_price)
    phase = np.where(filled_at_trigger, np.where(trigger_phase, _OPEN, _INTRABAR),
                     np.where(limit_at_open, _OPEN, _INTRABAR))
    found = fill_bar < until
    slipped = kind == _STOP
    level = np.where(kind == _STOP, stop_level, limit_level)
    rows = _rows(lane, np.minimum(fill_bar, n - 1), phase, price, slipped, target, kind, bar, level)
    return rows, found, until



def _atr_at(rules: OrderRules, lane: np.ndarray, bar: np.ndarray) -> np.ndarray:
    """Each row's lane ATR at ``bar`` (NaN for lanes without one); lanes sharing a series share the gather."""
    out = np.full(len(lane), np.nan)
    groups: dict[int, tuple[np.ndarray, list[int]]] = {}
    for i, series in enumerate(rules.atr):
        if series is not None:
            groups.setdefault(id(series), (series, []))[1].append(i)
    for series, lanes in groups.values():
        rows = np.isin(lane, lanes)
        out[rows] = series[bar[rows]]
    return out


def _distance(price: np.ndarray, fraction: np.ndarray, multiple: np.ndarray, atr: np.ndarray) -> np.ndarray:
    """How far from ``price`` an exit level sits: the tighter of a fraction and an ATR multiple (NaN: off)."""
    by_fraction = np.where(fraction > 0.0, price * fraction, np.nan)
    by_atr = np.where(multiple > 0.0, multiple * atr, np.nan)
    return np.fmin(by_fraction, by_atr)


def _exits(tape: Tape, rules: OrderRules, lane, signal_bar, side, entry_bar, entry_phase, entry_price, end):
    """The exit of every opened position (rows for all of them, and which found one) before ``end``."""
    b = tape.bars
    n = len(b)
    long = side > 0.0
    atr = _atr_at(rules, lane, signal_bar) if rules.atr else np.full(len(lane), np.nan)
    stop_distance = _distance(entry_price, np.nan_to_num(rules.stop_loss[lane]), np.nan_to_num(rules.stop_loss_atr[lane]), atr)
    target_distance = _distance(entry_price, np.nan_to_num(rules.take_profit[lane]),
                                np.nan_to_num(rules.take_profit_atr[lane]), atr)
    stop_level = entry_price - side * stop_distance
    target_level = entry_price + side * target_distance
    first = entry_bar + (entry_phase == _CLOSE)
    inside = entry_phase == _INTRABAR
    target_first = rules.target_first[lane]
    stop_start = first + (inside & target_first)
    target_start = first + (inside & ~target_first)
    holding_bars = rules.max_holding[lane]
    hold = entry_bar + holding_bars
    holding = (holding_bars > 0) & (hold < end)
    close_mode = rules.delay[lane] == 0
    search_end = np.where(holding, np.where(close_mode, hold + 1, hold), end)

    stop_bar = np.where(long, tape.lows.first_at_or_below(stop_start, search_end, stop_level),
                        tape.highs.first_at_or_above(stop_start, search_end, stop_level))
    stop_kind = np.full(len(lane), _STOP_LOSS, np.int8)
    trail_fraction = np.nan_to_num(rules.trailing_stop[lane])
    trail_distance = np.nan_to_num(rules.trailing_stop_atr[lane]) * atr
    for by_fraction in (True, False):
        rows = np.flatnonzero(trail_fraction > 0.0) if by_fraction else np.flatnonzero(
            (trail_fraction <= 0.0) & (np.nan_to_num(trail_distance) > 0.0))
        if not len(rows):
            continue
        amount = {"fraction": trail_fraction[rows]} if by_fraction else {"distance": trail_distance[rows]}
        trail_bar, trail_level = first_trailing_hit(b.high, b.low, stop_start[rows], search_end[rows],
                                                    entry_price[rows], side[rows], **amount)
        current = stop_level[rows]
        same = trail_bar == stop_bar[rows]
        # two stops in one bar: the one reached first (the higher for a long) exits
        tighter = np.where(long[rows], trail_level > current, trail_level < current) | np.isnan(current)
        use = (trail_bar < stop_bar[rows]) | (same & (trail_bar < search_end[rows]) & tighter)
        stop_bar[rows] = np.where(use, trail_bar, stop_bar[rows])
        stop_level[rows] = np.where(use, trail_level, current)
        stop_kind[rows] = np.where(use, _TRAILING, _STOP_LOSS)
    target_bar = np.where(long, tape.highs.first_at_or_above(target_start, search_end, target_level),
                          tape.lows.first_at_or_below(target_start, search_end, target_level))

    s = np.minimum(stop_bar, n - 1)
    stop_gap = np.where(long, b.open[s] <= stop_level, b.open[s] >= stop_level) & ~(inside & (s == entry_bar))
    stop_price = np.where(stop_gap, b.open[s], stop_level)
    t = np.minimum(target_bar, n - 1)
    target_gap = np.where(long, b.open[t] >= target_level, b.open[t] <= target_level) & ~(inside & (t == entry_bar))
    target_price = np.where(target_gap, b.open[t], target_level)
    both = stop_bar == target_bar
    stop_wins = (stop_bar < target_bar) | (both & (stop_gap | (~target_gap & ~target_first)))
    exit_bar = np.where(stop_wins, stop_bar, target_bar)
    found = exit_bar < search_end
    price = np.where(stop_wins, stop_price, target_price)
    phase = np.where(np.where(stop_wins, stop_gap, target_gap), _OPEN, _INTRABAR)
    kind = np.where(stop_wins, stop_kind, _TAKE_PROFIT).astype(np.int8)
    level = np.where(stop_wins, stop_level, target_level)
    # no price exit before it: max holding closes with a market order
    timed = ~found & holding
    h = np.minimum(hold, n - 1)
    exit_bar = np.where(timed, hold, exit_bar)
    price = np.where(timed, np.where(close_mode, b.close[h], b.open[h]), price)
    phase = np.where(timed, np.where(close_mode, _CLOSE, _OPEN), phase)
    kind = np.where(timed, _MAX_HOLDING, kind).astype(np.int8)
    level = np.where(timed, np.nan, level)
    slipped = kind != _TAKE_PROFIT
    rows = _rows(lane, np.minimum(exit_bar, n - 1), phase, price, slipped, np.zeros(len(lane)), kind, signal_bar, level)
    return rows, found | timed
