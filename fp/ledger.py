"""Ledger: the dense side of the fold's output — equity marked at every close, and trades.

The fold changes a lane's cash and position only at fills (a few bars); between fills they are
constant, so the equity curve is ``cash + position * close`` over piecewise-constant segments,
built with array operations over the whole time axis.

Law (sparse ≡ streaming): for the same fills, ``equity_curve`` equals marking
``cash + position * close[t]`` bar by bar, bit for bit.
"""
from __future__ import annotations

import numpy as np

from state.ledger import EquityPoints, LaneCurves, Trades

__all__ = ["compress_equity", "equity_curve", "equity_points", "equity_returns", "lane_equity_points", "regime_stats",
           "ruin_bars", "stacked_curves", "trades_from_fills"]


def equity_curve(
    close: np.ndarray,
    change_bars: np.ndarray,
    cash_after: np.ndarray,
    position_after: np.ndarray,
    initial_cash: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Equity and position at every close, given the state after each change.

    ``change_bars`` are increasing bar indices; the state after a change at bar ``b`` holds from
    bar ``b``'s close until the next change.

    >>> eq, pos = equity_curve(np.array([10.0, 11.0, 12.0, 13.0]), np.array([1]), np.array([89.0]),
    ...                        np.array([1.0]), 100.0)
    >>> eq.tolist(), pos.tolist()
    ([100.0, 100.0, 101.0, 102.0], [0.0, 1.0, 1.0, 1.0])
    """
    n = len(close)
    starts = np.concatenate(([0], change_bars))
    lengths = np.diff(np.concatenate((starts, [n])))
    cash = np.repeat(np.concatenate(([initial_cash], cash_after)), lengths)
    position = np.repeat(np.concatenate(([0.0], position_after)), lengths)
    return cash + position * close, position


def equity_points(
    close: np.ndarray,
    change_bars: np.ndarray,
    cash_after: np.ndarray,
    position_after: np.ndarray,
    initial_cash: float,
) -> EquityPoints:
    """The equity curve of :func:`equity_curve` in compressed form, built without the flat bars
    (one lane of :func:`lane_equity_points`).

    Law: ``equity_points(...)`` equals ``compress_equity(*equity_curve(...))``, bit for bit.

    >>> p = equity_points(np.array([10.0, 11.0, 12.0, 13.0, 14.0]), np.array([1, 3]), np.array([89.0, 102.0]),
    ...                   np.array([1.0, 0.0]), 100.0)
    >>> p.values.tolist(), p.n_bars, p.exposure_bars
    ([100.0, 100.0, 101.0, 102.0], 5, 2)
    """
    lane = np.zeros(len(change_bars), np.int64)
    return lane_equity_points(close, lane, change_bars, cash_after, position_after,
                              np.array([initial_cash], np.float64)).lane(0)


def lane_equity_points(
    close: np.ndarray,
    change_lane: np.ndarray,
    change_bars: np.ndarray,
    cash_after: np.ndarray,
    position_after: np.ndarray,
    initial_cash: np.ndarray,
) -> LaneCurves:
    """The compressed equity curves of many lanes on one symbol, built at once: lane ``k``
    (``0 <= k < len(initial_cash)``) starts flat with ``initial_cash[k]``, and its state after each
    change is given by the rows of ``change_lane == k`` (rows sorted by lane, then bar).

    Law: lane ``k`` equals :func:`equity_points` of its own changes, bit for bit (the same
    ``cash + position × close`` at the same bars).

    >>> c = lane_equity_points(np.array([10.0, 11.0, 12.0]), np.array([1]), np.array([1]), np.array([39.0]),
    ...                        np.array([1.0]), np.array([100.0, 50.0]))
    >>> c.values.tolist(), c.offsets.tolist(), c.exposure_bars.tolist()
    ([100.0, 50.0, 50.0, 51.0], [0, 1, 4], [0, 2])
    """
    n, lanes = len(close), len(initial_cash)
    segments = np.bincount(change_lane, minlength=lanes) + 1  # each lane's flat start, then its changes
    first = np.cumsum(segments) - segments
    opening = np.zeros(len(change_lane) + lanes, bool)
    opening[first] = True
    starts = np.zeros(len(opening), np.int64)
    cash = np.empty(len(opening))
    position = np.zeros(len(opening))
    cash[first] = initial_cash
    starts[~opening], cash[~opening], position[~opening] = change_bars, cash_after, position_after
    stops = np.append(starts[1:], n)
    stops[first + segments - 1] = n  # a lane's last state holds to the last bar
    lengths = stops - starts
    holding = position != 0.0
    # a flat stretch's first bar is kept when it is its lane's first bar, follows a position, or its
    # equity moved from the bar before (a round trip inside the bar, a ruin at an entry bar): the
    # state covering the bar before is the lane's last non-empty stretch before it (changes may share
    # a bar)
    index = np.arange(len(lengths))
    before = np.concatenate(([-1], np.maximum.accumulate(np.where(lengths > 0, index, -1))[:-1]))
    earlier = np.maximum(before, 0)
    moved = (before < np.repeat(first, segments)) | holding[earlier] | (cash != cash[earlier])
    kept = np.where(holding, lengths, np.where(moved, np.minimum(lengths, 1), 0))
    at = np.cumsum(kept) - kept
    bars = np.repeat(starts - at, kept)
    bars += np.arange(len(bars))
    values = np.repeat(position, kept)
    values *= close[bars]
    values += np.repeat(cash, kept)  # cash + position × close, as equity_curve marks it
    per_lane = np.add.reduceat(kept, first) if len(first) else np.zeros(0, np.int64)
    exposure = np.add.reduceat(np.where(holding, lengths, 0), first) if len(first) else np.zeros(0, np.int64)
    return LaneCurves(values, bars, np.concatenate(([0], np.cumsum(per_lane))), n, exposure)


def stacked_curves(curves: "list[EquityPoints]") -> LaneCurves:
    """Curves of the same bars (each with its ``bars``) as one :class:`LaneCurves`, in order."""
    sizes = [len(c.values) for c in curves]
    return LaneCurves(np.concatenate([c.values for c in curves]) if curves else np.zeros(0),
                      np.concatenate([c.bars for c in curves]) if curves else np.zeros(0, np.int64),
                      np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))),
                      curves[0].n_bars if curves else 0, np.array([c.exposure_bars for c in curves], np.int64))


def equity_returns(points: EquityPoints) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero per-bar returns of a compressed equity curve and where they are, without the
    flat bars: ``(index, returns)``, ``index`` increasing.

    The curve's ``n_bars`` bars have ``n_bars - 1`` returns, return ``t`` being
    ``equity[t + 1] / equity[t] - 1`` (0 once equity is 0: an empty account neither gains nor
    loses, as ``pipelines.engine.tables.bar_returns``). A bar the compressed curve leaves out
    repeats the value before it, so its return is exactly 0; the others are computed from the
    kept values with the same operations as from the full curve. Law: the pairs are exactly the
    non-zero entries of the full curve's returns, bit for bit (``points.bars`` must be known).

    >>> p = equity_points(np.array([10.0, 11.0, 12.0, 13.0, 14.0]), np.array([1, 3]), np.array([89.0, 102.0]),
    ...                   np.array([1.0, 0.0]), 100.0)
    >>> index, returns = equity_returns(p)
    >>> index.tolist(), returns.round(6).tolist()
    ([1, 2], [0.01, 0.009901])
    """
    values = points.values
    before = values[:-1]
    if before.all():
        returns = values[1:] / before
    else:
        returns = np.divide(values[1:], before, out=np.ones_like(before), where=before != 0.0)
    returns -= 1.0
    moved = returns != 0.0  # a mask, not indices: numpy selects with it several times faster
    if moved.all():
        return points.bars[1:] - 1, returns
    index = points.bars[1:][moved]
    index -= 1
    return index, returns[moved]


#: Most (state × bar) equity marks :func:`ruin_bars` computes at once.
_MARKS = 1 << 18


def ruin_bars(close: np.ndarray, lane: np.ndarray, bar: np.ndarray, cash: np.ndarray, position: np.ndarray,
              n_lanes: int) -> np.ndarray:
    """Each lane's ruin bar: the first bar at whose close its equity is zero or below, or
    ``len(close)`` for a lane never ruined.

    ``lane``, ``bar``, ``cash``, ``position`` are the state after each change (the fold's change
    rows, sorted by lane then bar); the state after a change at ``b`` holds from ``b``'s close until
    the lane's next change, so equity at bar ``t`` is ``cash + position × close[t]`` of the last
    change at or before ``t`` — the very expression the bar-by-bar fold marks, so both find the
    same bar. A lane starts with positive cash and no position: nothing before its first change.

    Only states that could reach zero at the series' lowest (a long) or highest (a short) close
    are marked bar by bar (rounding is monotone, so a state whose equity at that extreme is
    positive is positive at every close); the marks are taken in batches of bounded size.

    >>> ruin_bars(np.array([10.0, 12.0, 21.0, 30.0]), np.array([0, 1]), np.array([0, 1]), np.array([200.0, 50.0]),
    ...           np.array([-10.0, 1.0]), 2).tolist()
    [2, 4]
    """
    n = len(close)
    out = np.full(n_lanes, n, np.int64)
    if not len(lane) or not n:
        return out
    lowest, highest = np.fmin.reduce(close), np.fmax.reduce(close)  # NaN left out (all NaN: NaN, no hit)
    stop = np.append(bar[1:], n)
    stop[np.append(lane[1:] != lane[:-1], True)] = n
    worst = np.where(position > 0.0, cash + position * lowest, np.where(position < 0.0, cash + position * highest, cash))
    candidates = np.flatnonzero((worst <= 0.0) & (stop > bar))
    lengths = stop[candidates] - bar[candidates]
    ends = np.cumsum(lengths)
    start = 0
    while start < len(candidates):
        # a batch of candidates whose marks fit the budget (at least one), lanes already ruined skipped
        stop_at = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _MARKS, "right")))
        batch = candidates[start:stop_at]
        batch = batch[out[lane[batch]] == n]
        start = stop_at
        if not len(batch):
            continue
        size = stop[batch] - bar[batch]
        row = np.repeat(batch, size)
        t = bar[row] + (np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size))
        hit = np.flatnonzero(cash[row] + position[row] * close[t] <= 0.0)
        # rows are by lane, then time: the first hit of each lane is its earliest
        ruined, first = np.unique(lane[row[hit]], return_index=True)
        out[ruined] = np.minimum(out[ruined], t[hit[first]])
    return out


def compress_equity(equity: np.ndarray, position: np.ndarray) -> EquityPoints:
    """Compress a full equity curve: keep the first bar, the bars holding a position, the first bar
    after each, and a flat bar whose equity moved from the bar before (a round trip inside the bar,
    a ruin at an entry bar: flat before and after, its fills still change the equity).

    >>> compress_equity(np.array([100.0, 100.0, 90.0, 90.0]), np.zeros(4)).values.tolist()
    [100.0, 90.0]
    """
    keep = position != 0.0
    if len(keep):
        keep[0] = True
        keep[1:] |= (position[:-1] != 0.0) | (equity[1:] != equity[:-1])
    return EquityPoints(equity[keep], len(equity), int(np.count_nonzero(position)), np.flatnonzero(keep))


def regime_stats(labels: np.ndarray, equity: np.ndarray, position: np.ndarray,
                 entry_bars: np.ndarray) -> list[dict]:
    """Per-regime attribution of one lane: for each regime seen, the bars labelled with it, the
    compounded return of the equity over those bars (each bar's return goes to the regime of the
    bar it ends; 0 after equity reached 0), the trades entered in it and the share of its bars
    holding a position.

    >>> regime_stats(np.array([np.nan, 0.0, 1.0, 1.0]), np.array([100.0, 110.0, 99.0, 99.0]),
    ...              np.array([0.0, 1.0, 1.0, 0.0]), np.array([1]))
    [{'regime': 0, 'bars': 1, 'return_pct': 10.000000000000009, 'trades': 1, 'exposure_pct': 100.0}, {'regime': 1, 'bars': 2, 'return_pct': -9.999999999999998, 'trades': 0, 'exposure_pct': 50.0}]
    """
    before = equity[:-1]
    # an empty account (a ruined lane's equity stays 0) neither gains nor loses
    growth = np.concatenate(([1.0], np.divide(equity[1:], before, out=np.ones_like(before), where=before != 0.0)))
    out = []
    for k in np.unique(labels[~np.isnan(labels)]):
        bars = labels == k
        n = int(np.count_nonzero(bars))
        out.append({
            "regime": int(k),
            "bars": n,
            "return_pct": (float(np.prod(growth[bars])) - 1.0) * 100.0,
            "trades": int(np.count_nonzero(labels[entry_bars] == k)),
            "exposure_pct": float(np.count_nonzero(position[bars])) / n * 100.0,
        })
    return out


def trades_from_fills(
    lane: np.ndarray,
    bar: np.ndarray,
    quantity: np.ndarray,
    price: np.ndarray,
    commission: np.ndarray,
    position_after: np.ndarray,
    mark_price: np.ndarray,
) -> Trades:
    """Round trips implied by fills (sorted by lane, then bar), matched first in, first out.

    Every fill that opens units opens a lot; every fill that reduces a position closes the oldest
    open units first. A trade is one lot's units closed by one fill: its pnl is
    ``size × (exit − entry)`` less the lot's entry commission and the closing fill's commission,
    both pro rata to the units. Units still open at the end form open trades (``closed`` False,
    exit bar −1, exit price NaN), with pnl marked at ``mark_price[lane]`` (the last close) less
    their entry commission. ``position_after`` is each lane's position after each fill, as the
    fold computed it. Trades come sorted by lane, then by when they closed.

    >>> t = trades_from_fills(np.array([0, 0, 0]), np.array([1, 5, 9]), np.array([10.0, -20.0, 10.0]),
    ...                       np.array([100.0, 110.0, 105.0]), np.zeros(3), np.array([10.0, -10.0, 0.0]),
    ...                       np.array([104.0]))
    >>> t.size.tolist(), t.pnl.tolist(), t.entry_bar.tolist(), t.exit_bar.tolist()
    ([10.0, -10.0], [100.0, 50.0], [1, 5], [5, 9])
    """
    n = len(quantity)
    first = np.ones(n, bool)
    first[1:] = lane[1:] != lane[:-1]
    before = np.concatenate(([0.0], position_after[:-1])) if n else np.empty(0)
    before[first] = 0.0
    size = np.abs(quantity)
    closed = np.minimum(size, np.abs(before)) * (before * quantity < 0.0)
    opened = size - closed
    close_commission = commission * np.divide(closed, size, out=np.zeros(n), where=size > 0.0)
    open_commission = commission - close_commission
    starts = (opened > 0.0) & (closed == np.abs(before))
    episode = np.cumsum(starts)
    lots = np.flatnonzero(opened > 0.0)
    closes = np.flatnonzero(closed > 0.0)
    # units still open at each lane's end are closed virtually (exit unknown) so every episode balances
    last = np.flatnonzero(np.append(first[1:], True)) if n else np.empty(0, np.int64)
    still_open = last[position_after[last] != 0.0]
    lot_episode = episode[lots]
    # closes in episode order: real ones (a fill row) and one virtual close per still-open lane (row -1),
    # each virtual close after the real closes of its (the lane's last) episode
    real_episode = episode[closes] - starts[closes]
    at = np.searchsorted(real_episode, episode[still_open], side="right")
    close_row = np.insert(closes, at, -1)
    close_episode = np.insert(real_episode, at, episode[still_open])
    close_units = np.insert(closed[closes], at, np.abs(position_after[still_open]))
    lot_end = _within(lot_episode, opened[lots])
    close_end = _within(close_episode, close_units)
    # the last close of an episode ends exactly where its lots end (no rounding slivers)
    if len(close_end):
        lot_last = np.append(lot_episode[1:] != lot_episode[:-1], True)
        totals = np.zeros(int(episode[-1]) + 1)
        totals[lot_episode[lot_last]] = lot_end[lot_last]
        ends = np.append(close_episode[1:] != close_episode[:-1], True)
        close_end[ends] = totals[close_episode[ends]]
    # elementary intervals of the merged breakpoints: each is one lot's units closed by one close
    # (both lists are sorted by episode then position; the stable sort keeps lots first on ties)
    kind = np.concatenate((np.zeros(len(lots), np.int8), np.ones(len(close_end), np.int8)))
    ep = np.concatenate((lot_episode, close_episode))
    at = np.concatenate((lot_end, close_end))
    order = np.lexsort((at, ep))
    kind, ep, at = kind[order], ep[order], at[order]
    prev = np.concatenate(([0.0], at[:-1]))
    prev[np.concatenate(([True], ep[1:] != ep[:-1]))] = 0.0
    length = at - prev
    lot_index = np.cumsum(kind == 0) - (kind == 0)
    close_index = np.cumsum(kind == 1) - (kind == 1)
    keep = length > 1e-12 * np.maximum(at, 1.0)
    length, lot_index, close_index = length[keep], lot_index[keep], close_index[keep]
    lot_row = lots[lot_index]
    row = close_row[close_index]
    real = row >= 0
    at_row = np.maximum(row, 0)
    side = np.sign(quantity[lot_row])
    entry_fee = open_commission[lot_row] * (length / opened[lot_row])
    exit_price = np.where(real, price[at_row], np.nan)
    exit_fee = np.where(real, close_commission[at_row] * (length / np.where(real, closed[at_row], 1.0)), 0.0)
    trade_lane = lane[lot_row]
    marked = np.where(real, exit_price, mark_price[trade_lane])
    signed = side * length
    pnl = signed * (marked - price[lot_row]) - entry_fee - exit_fee
    # episodes follow the fills (lane, then time) and an episode's pieces follow its closes: sorted already
    return Trades(trade_lane, bar[lot_row], price[lot_row], np.where(real, bar[at_row], -1), exit_price,
                  signed, pnl, real)


def _within(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` restarting at each new ``group`` (groups are contiguous).

    Each group is summed left to right on its own, so a lane's figures never depend on the other
    lanes' (a global cumulative sum minus an offset would round differently).
    """
    out = values.astype(np.float64, copy=True)
    n = len(out)
    if n < 2:
        return out
    start = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    lengths = np.diff(np.append(start, n))
    offset = np.arange(n) - np.repeat(start, lengths)
    by_offset = np.argsort(offset, kind="stable")
    bounds = np.searchsorted(offset[by_offset], np.arange(int(lengths.max()) + 1))
    for k in range(1, int(lengths.max())):
        rows = by_offset[bounds[k]:bounds[k + 1]]
        out[rows] = out[rows - 1] + values[rows]
    return out
