"""Metrics of one lane's run, computed from its equity curve and closed trades.

Every metric is a pure function of the equity curve (``state.EquityPoints``, the curve
compressed without loss), the closed trades' pnl, the commission paid and the data's frequency,
so two runs with equal curves have equal metrics. Conventions:

* returns are per-bar simple returns of close-marked equity;
* ``sharpe`` = mean / standard deviation (ddof 1) × sqrt(periods per year), risk-free rate 0;
* ``sortino`` = mean / downside deviation × sqrt(periods per year), with downside deviation
  sqrt(mean(min(r, 0)²)) over all bars;
* ``max_drawdown_pct`` = max over t of (1 − equity[t] / max(equity[..t])) × 100;
* ``cagr_pct`` over the calendar span of the data; ``exposure_pct`` = bars holding a position;
* ``win_rate_pct`` and ``profit_factor`` over closed trades (NaN with none; profit factor is
  ``inf`` with wins and no losses).

A metric that cannot be defined is NaN, never a made-up number, and :func:`undefined_reasons`
says why: ``sharpe`` and ``sortino`` need at least two returns and returns that vary (a lane that
never trades has none), and a curve that reaches zero — a ruined lane, whose equity stays 0 from
its ruin on (``docs/semantics.md``) — has no return after it (0 / 0), so neither is defined for
it; its ``total_return_pct`` and ``cagr_pct`` are -100 and its ``max_drawdown_pct`` 100.

The research statistics (:data:`RESEARCH_METRICS`, ``docs/report.md`` gives every formula and
how each compares with backtesting.py's ``stats``): ``volatility_ann_pct`` (the Sharpe ratio's
standard deviation annualised) and ``calmar`` (``cagr_pct / max_drawdown_pct``) come with the core
(:func:`core_metrics`); the others from the drawdown episodes, the closed trades and the closes
(:func:`research_statistics`). Two forms compute those, tied by a law: per lane
(:func:`drawdown_statistics`, :func:`trade_statistics`: the definitions, as :func:`metrics` uses
them) and for all lanes of a symbol at once (:func:`lane_research_statistics`: segment reductions
over the lanes' concatenated curves and lane-sorted trades, no loop over lanes), which a sweep
uses. Law (``tests/fp/test_metrics.py``): lane ``k`` of the batch equals the per-lane form of lane
``k``, bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from state.ledger import EquityPoints, LaneCurves, Trades

__all__ = ["METRICS", "RESEARCH_METRICS", "buy_hold_return_pct", "core_metrics", "drawdown_episodes",
           "drawdown_statistics", "lane_drawdown_statistics", "lane_research_statistics", "lane_trade_statistics",
           "max_drawdown", "metrics", "research_statistics", "trade_statistics", "undefined_reasons"]

#: The statistics researchers expect beyond the core metrics, in the order results show them
#: (after the core); ``start`` and ``end`` are the first and last evaluated bars' times.
RESEARCH_METRICS: tuple[str, ...] = (
    "buy_hold_return_pct",
    "volatility_ann_pct",
    "calmar",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "max_drawdown_days",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "avg_trade_duration",
    "avg_trade_days",
    "expectancy",
    "sqn",
    "kelly",
    "start",
    "end",
)

#: Metric columns, in the order results show them: the core, then :data:`RESEARCH_METRICS`.
METRICS: tuple[str, ...] = (
    "final_equity",
    "total_return_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "n_trades",
    "win_rate_pct",
    "profit_factor",
    "exposure_pct",
    "commission",
) + RESEARCH_METRICS

_NAN = float("nan")
_DAY_NS = 86_400e9


def max_drawdown(values: np.ndarray, *, block: int = 256) -> float:
    """``1 - min over t of values[t] / max(values[..t])``, exact, without a running maximum over
    every value when it can be avoided.

    Blocks of ``block`` values bound their own drawdown: with ``P`` the peak before the block,
    every ratio in it is at least ``min / max(P, block max)``, and its lowest ratio is at most
    ``min / P``. Only blocks whose lower bound does not exceed the best upper bound can hold the
    lowest ratio; those are scanned exactly, the rest skipped. Law: equal, bit for bit, to the
    direct formula (``tests/fp/test_metrics.py``).

    >>> max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0]))
    0.25
    """
    n = len(values)
    if n == 0:
        return float("nan")
    if n <= 4 * block or not values.min() > 0.0:
        return 1.0 - float(np.min(values / np.maximum.accumulate(values)))
    full = n // block * block
    blocks = values[:full].reshape(-1, block)
    top, bottom = blocks.max(axis=1), blocks.min(axis=1)
    before = np.maximum.accumulate(np.concatenate(([top[0]], top[:-1])))  # peak before each block (block 0: its own)
    lowest_possible = bottom / np.maximum(before, top)
    upper = float(np.min(bottom[1:] / before[1:]))
    candidates = np.flatnonzero(lowest_possible <= upper)
    candidates = np.union1d(candidates, [0])
    rows = blocks[candidates]
    peaks = np.maximum.accumulate(rows, axis=1)
    later = candidates > 0
    peaks[later] = np.maximum(peaks[later], before[candidates[later], None])
    lowest = float(np.min(rows / peaks))
    if full < n:
        tail = values[full:]
        tail_peaks = np.maximum(np.maximum.accumulate(tail), top.max())
        lowest = min(lowest, float(np.min(tail / tail_peaks)))
    return 1.0 - lowest


def metrics(
    curve: EquityPoints,
    trade_pnl: np.ndarray,
    commission: float,
    *,
    initial_cash: float,
    periods_per_year: float,
    years: float,
    trades: Trades | None = None,
    close: np.ndarray | None = None,
    time: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of :data:`METRICS` for one lane, from its (compressed) equity curve: the
    :func:`core_metrics` and the :func:`research_statistics`.

    Returns between consecutive kept points are the curve's non-zero-able returns; every other
    bar's return is exactly zero (flat equity), and enters the mean and deviations as such.
    ``trades`` (the lane's closed trades, bars counted from the curve's first bar), ``close``
    (the evaluated closes, one column per symbol) and ``time`` (each evaluated bar's time) feed
    :func:`research_statistics`; without them its statistics are NaN (``start``/``end``: None).

    >>> from fp.ledger import compress_equity
    >>> curve = compress_equity(np.array([100.0, 110.0, 99.0, 121.0, 121.0]), np.array([0.0, 1.0, 1.0, 0.0, 0.0]))
    >>> m = metrics(curve, np.array([21.0]), 0.0, initial_cash=100.0, periods_per_year=252.0, years=1.0)
    >>> round(m["total_return_pct"], 9), round(m["max_drawdown_pct"], 9), m["exposure_pct"], m["n_trades"]
    (21.0, 10.0, 40.0, 1)
    """
    out = core_metrics(curve, trade_pnl, commission, initial_cash=initial_cash, periods_per_year=periods_per_year,
                       years=years)
    out.update(research_statistics(curve, trades, close, time))
    return {name: out[name] for name in METRICS}


def core_metrics(curve: EquityPoints, trade_pnl: np.ndarray, commission: float, *, initial_cash: float,
                 periods_per_year: float, years: float) -> dict[str, float]:
    """The metrics of :data:`METRICS` that need only the curve's values and the closed trades'
    pnl (arguments as for :func:`metrics`): the core, ``volatility_ann_pct`` and ``calmar``."""
    values, n_bars = curve.values, curve.n_bars
    final = float(values[-1])
    scale = math.sqrt(periods_per_year)
    sharpe = sortino = std = _NAN
    n_returns = n_bars - 1
    if n_returns > 1 and values.min() > 0.0:  # no return is defined after equity reaches zero
        returns = values[1:] / values[:-1]
        returns -= 1.0
        zeros = n_returns - len(returns)
        mean = float(returns.sum()) / n_returns
        deviation = returns - mean
        variance = (float(np.square(deviation).sum()) + zeros * mean * mean) / (n_returns - 1)  # not BLAS
        std = math.sqrt(variance)
        sharpe = mean / std * scale if std > 0.0 else _NAN
        down = np.minimum(returns, 0.0)
        downside = math.sqrt(float(np.square(down).sum()) / n_returns)
        sortino = mean / downside * scale if downside > 0.0 else _NAN
    drawdown = max_drawdown(values) * 100.0
    growth = final / initial_cash
    if years > 0.0:
        cagr = (growth ** (1.0 / years) - 1.0) * 100.0 if growth > 0.0 else -100.0
    else:
        cagr = _NAN
    wins = trade_pnl[trade_pnl > 0.0]
    losses = trade_pnl[trade_pnl < 0.0]
    n = len(trade_pnl)
    gross_loss = -float(losses.sum())
    if n == 0:
        profit_factor = _NAN
    elif gross_loss > 0.0:
        profit_factor = float(wins.sum()) / gross_loss
    else:
        profit_factor = float("inf") if len(wins) else _NAN
    return {
        "final_equity": final,
        "total_return_pct": (growth - 1.0) * 100.0,
        "cagr_pct": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown_pct": drawdown,
        "n_trades": n,
        "win_rate_pct": len(wins) / n * 100.0 if n else _NAN,
        "profit_factor": profit_factor,
        "exposure_pct": curve.exposure_bars / n_bars * 100.0,
        "commission": float(commission),
        "volatility_ann_pct": std * scale * 100.0,
        "calmar": cagr / drawdown if drawdown > 0.0 else _NAN,
    }


def research_statistics(curve: EquityPoints, trades: Trades | None, close: np.ndarray | None,
                        time: np.ndarray | None) -> dict:
    """The :data:`RESEARCH_METRICS` of one lane besides ``volatility_ann_pct`` and ``calmar``
    (see :func:`metrics` for the arguments)."""
    out = {"buy_hold_return_pct": buy_hold_return_pct(close) if close is not None else _NAN}
    if time is not None and curve.bars is not None:
        out.update(drawdown_statistics(curve, time))
    else:
        out.update(avg_drawdown_pct=_NAN, max_drawdown_duration=None, max_drawdown_days=_NAN)
    out.update(trade_statistics(trades, time) if trades is not None and time is not None else _NO_TRADE_STATISTICS)
    out["start"] = time[0] if time is not None and len(time) else None
    out["end"] = time[-1] if time is not None and len(time) else None
    return out


def lane_research_statistics(curves: LaneCurves, trades: Trades, close: np.ndarray,
                             time: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`research_statistics` of every lane of ``curves`` at once, one array (a value per
    lane) per statistic. ``trades`` are the lanes' closed trades sorted by lane (``trades.lane``
    numbers the lanes of ``curves``), their bars and the curves' counted in ``time``; ``close``
    the evaluated closes (one column per symbol), whose buy-and-hold every lane shares.

    Law: lane ``k`` of the result equals :func:`research_statistics` of ``curves.lane(k)`` and
    lane ``k``'s trades, bit for bit.
    """
    lanes = len(curves)
    out = {"buy_hold_return_pct": np.full(lanes, buy_hold_return_pct(close))}
    out.update(lane_drawdown_statistics(curves, time))
    out.update(lane_trade_statistics(trades, lanes, time))
    out["start"] = np.repeat(time[:1], lanes)
    out["end"] = np.repeat(time[-1:], lanes)
    return out


def buy_hold_return_pct(close: np.ndarray) -> float:
    """The return of buying at the first close and holding to the last, in percent; with several
    symbols (``close`` bars × symbols, NaN before a symbol's first bar), an equal-weight basket
    bought at each symbol's first close.

    >>> buy_hold_return_pct(np.array([100.0, 90.0, 125.0]))
    25.0
    >>> buy_hold_return_pct(np.array([[100.0, np.nan], [110.0, 50.0], [120.0, 40.0]]))
    0.0
    """
    c = np.asarray(close, dtype=np.float64)
    if c.ndim == 1:
        return (float(c[-1]) / float(c[0]) - 1.0) * 100.0 if len(c) else _NAN
    valid = ~np.isnan(c)
    seen = valid.any(axis=0)
    if not seen.any():
        return _NAN
    first = c[valid.argmax(axis=0), np.arange(c.shape[1])][seen]
    last = c[len(c) - 1 - valid[::-1].argmax(axis=0), np.arange(c.shape[1])][seen]
    return float(np.mean(last / first - 1.0)) * 100.0


def drawdown_statistics(curve: EquityPoints, time: np.ndarray, *, block: int = 256) -> dict:
    """Drawdown episodes of a (compressed) equity curve with its bars' ``time``.

    An episode runs from the last bar at a running peak to the first bar back at (or above) it,
    or to the last bar when equity never recovers. ``avg_drawdown_pct`` is the mean over episodes
    of each one's deepest drawdown ``1 - equity / peak`` (× 100), ``max_drawdown_duration`` the
    longest episode in bars (its end bar minus its peak bar), ``max_drawdown_days`` the longest in
    calendar days. A curve that never dips has no episode: 0, 0 and 0.0. The episodes are found
    by :func:`drawdown_episodes` (``block``: see there); :func:`lane_drawdown_statistics` is the
    same for many lanes at once.

    >>> from fp.ledger import compress_equity
    >>> curve = compress_equity(np.array([100.0, 120.0, 90.0, 120.0, 130.0, 117.0]), np.ones(6))
    >>> time = np.arange(6).astype("datetime64[D]").astype("datetime64[ns]")
    >>> drawdown_statistics(curve, time)
    {'avg_drawdown_pct': 17.5, 'max_drawdown_duration': 2, 'max_drawdown_days': 2.0}
    """
    bars = curve.bars
    starts, ends, lowest = drawdown_episodes(curve.values, block=block)
    if not len(starts):
        return {"avg_drawdown_pct": 0.0, "max_drawdown_duration": 0, "max_drawdown_days": 0.0}
    peak_bar = bars[starts] - 1  # the flat bars between two kept points repeat the earlier one's value
    end_bar = np.where(ends < len(bars), bars[np.minimum(ends, len(bars) - 1)], curve.n_bars - 1)
    length = end_bar - peak_bar
    days = (time[end_bar] - time[peak_bar]).max()
    return {"avg_drawdown_pct": float(np.subtract(1.0, lowest).sum()) / len(starts) * 100.0,
            "max_drawdown_duration": int(length.max()),
            "max_drawdown_days": float(days.astype(np.int64)) / _DAY_NS}


def lane_drawdown_statistics(curves: LaneCurves, time: np.ndarray, *, block: int = 256) -> dict[str, np.ndarray]:
    """:func:`drawdown_statistics` of every lane of ``curves`` at once (one value per lane), from
    the episodes of all lanes (:func:`drawdown_episodes` with the lanes' offsets) reduced per lane.

    >>> from fp.ledger import lane_equity_points
    >>> curves = lane_equity_points(np.array([100.0, 120.0, 90.0, 120.0]), np.array([1, 1]), np.array([0, 2]),
    ...                             np.array([0.0, 90.0]), np.array([1.0, 0.0]), np.array([100.0, 100.0]))
    >>> s = lane_drawdown_statistics(curves, np.arange(4).astype("datetime64[D]").astype("datetime64[ns]"))
    >>> s["avg_drawdown_pct"].tolist(), s["max_drawdown_duration"].tolist()
    ([0.0, 25.0], [0, 2])
    """
    lanes = len(curves)
    out = {"avg_drawdown_pct": np.zeros(lanes), "max_drawdown_duration": np.zeros(lanes, np.int64),
           "max_drawdown_days": np.zeros(lanes)}
    starts, ends, lowest = drawdown_episodes(curves.values, offsets=curves.offsets, block=block)
    if not len(starts):
        return out
    lane = np.searchsorted(curves.offsets, starts, side="right") - 1
    bars = curves.bars
    peak_bar = bars[starts] - 1
    end_bar = np.where(ends < curves.offsets[lane + 1], bars[np.minimum(ends, len(bars) - 1)], curves.n_bars - 1)
    days = (time[end_bar] - time[peak_bar]).astype(np.int64)
    count = np.bincount(lane, minlength=lanes)
    has = np.flatnonzero(count)
    first = (np.cumsum(count) - count)[has]  # each lane's first episode (episodes come in lane order)
    out["avg_drawdown_pct"][has] = _sums(1.0 - lowest, first) / count[has] * 100.0
    out["max_drawdown_duration"][has] = np.maximum.reduceat(end_bar - peak_bar, first)
    out["max_drawdown_days"][has] = np.maximum.reduceat(days, first) / _DAY_NS
    return out


def drawdown_episodes(values: np.ndarray, *, offsets: np.ndarray | None = None,
                      block: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, lowest)`` of every drawdown episode of ``values`` (positive), in order: the
    first index below the running peak, the first index back at it (the end of the values when it
    never is), and the lowest ``value / peak`` in between. With ``offsets``, the values are lanes
    (lane ``k``: ``values[offsets[k]:offsets[k + 1]]``), each with its own running peak, and an
    episode that never recovers ends at the end of its lane.

    Blocks of ``block`` consecutive values of a lane spare most of the work: a block whose highest
    value is below the peak of its lane before it lies wholly under water (no edge inside it, its
    lowest ratio is its lowest value over that peak, exactly, as division by one positive number
    keeps order); only the other blocks are scanned value by value. ``block`` (a speed setting)
    defaults to about the square root of a lane's length. Laws (``tests/fp/test_metrics.py``):
    equal to the direct scan, bit for bit; the episodes of several lanes are those of each lane alone.

    >>> drawdown_episodes(np.array([100.0, 120.0, 90.0, 120.0, 130.0, 117.0]))
    (array([2, 5]), array([3, 6]), array([0.75, 0.9 ]))
    >>> drawdown_episodes(np.array([100.0, 120.0, 90.0, 120.0, 130.0, 117.0]), offsets=np.array([0, 3, 6]))
    (array([2, 5]), array([3, 6]), array([0.75, 0.9 ]))
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    offsets = np.array([0, n], np.int64) if offsets is None else np.asarray(offsets, np.int64)
    if block is None:  # a block per about √(values per lane): the peaks per block cost what the scan spares
        block = 1 << max(3, round(math.log2(max(n / max(len(offsets) - 1, 1), 1.0)) / 2))
    per_lane = -(-np.diff(offsets) // block)  # a lane's last block may be short
    lane = np.repeat(np.arange(len(per_lane)), per_lane)
    within = np.arange(len(lane)) - np.repeat(np.cumsum(per_lane) - per_lane, per_lane)
    start = offsets[lane] + within * block
    if not len(start):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    top = np.maximum.reduceat(values, start)  # the blocks tile the values
    before = _peaks_before(top, within)
    under = top < before  # wholly below the peak of its lane before it
    whole, scan = np.flatnonzero(under), np.flatnonzero(~under)
    rows = _blocks_of(values, start[scan], np.append(start[1:], n)[scan], block)
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero value over a zero peak is NaN: not below
        ratio = rows / np.maximum(np.maximum.accumulate(rows, axis=1), before[scan, None])
        whole_ratio = np.minimum.reduceat(values, start)[whole] / before[whole]
    # pieces in order: `block` per scanned block (padded with its last ratio: no edge, no new lowest),
    # one per wholly-under block, then one past the end; a lane's first value is its own peak
    # (ratio 1), so no episode runs from one lane into the next
    size = np.where(under, 1, block)
    at = np.cumsum(size) - size
    pieces = np.insert(ratio.reshape(-1), (np.cumsum(~under) - ~under)[whole] * block, whole_ratio)
    pieces = np.append(pieces, 1.0)
    flags = np.zeros(len(pieces) + 1, np.int8)
    np.less(pieces, 1.0, out=flags[1:].view(bool))  # flags[0] = 0 opens the first edge
    edges = np.flatnonzero(flags[1:] != flags[:-1])  # starts and ends of episodes alternate
    lowest = np.minimum.reduceat(pieces, edges)[0::2] if len(edges) else np.zeros(0)
    of = np.searchsorted(at, edges, side="right") - 1  # each edge's block, and its value's index
    index = np.where(edges < len(pieces) - 1, start[of] + np.where(under[of], 0, edges - at[of]), n)
    return index[0::2], index[1::2], lowest


def _blocks_of(values: np.ndarray, start: np.ndarray, stop: np.ndarray, block: int) -> np.ndarray:
    """The values of blocks ``[start, stop)`` as rows of ``block``, a short one padded with its last value."""
    if len(values) >= block:  # rows of a sliding window: one copy, no index arrays
        rows = np.lib.stride_tricks.sliding_window_view(values, block)[np.minimum(start, len(values) - block)]
    else:
        rows = np.empty((len(start), block))
    short = np.flatnonzero(stop - start < block)  # at most one per lane, or past the end of the values
    if len(short):
        rows[short] = values[np.minimum(start[short, None] + np.arange(block), stop[short, None] - 1)]
    return rows


def _peaks_before(top: np.ndarray, within: np.ndarray) -> np.ndarray:
    """The highest of the earlier values of the same lane, -inf for a lane's first (``within``:
    each value's position in its lane; lanes consecutive). Doubling steps: after the step of
    ``shift``, ``peak[i]`` is the highest of the ``2 × shift`` values of its lane up to ``i``."""
    peak = top.copy()
    shift, longest = 1, int(within.max()) + 1
    while shift < longest:
        peak[shift:] = np.where(within[shift:] >= shift, np.maximum(peak[shift:], peak[:-shift]), peak[shift:])
        shift *= 2
    before = np.concatenate(([-np.inf], peak[:-1]))
    before[within == 0] = -np.inf
    return before


def _sums(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The sum of each segment of ``values`` (segment ``i``: from ``first[i]`` to the next, the last
    to the end), each equal, bit for bit, to its own ``.sum()``: numpy's ``add.reduceat`` adds a
    segment's first value to the pairwise sum of the rest, so a 0 put before each segment makes it
    the pairwise sum of the whole segment, as ``.sum()`` takes it (law-tested)."""
    zeros = first + np.arange(len(first))  # where each segment's 0 goes
    padded = np.zeros(len(values) + len(first))
    rest = np.ones(len(padded), bool)
    rest[zeros] = False
    padded[rest] = values
    return np.add.reduceat(padded, zeros)


_NO_TRADE_STATISTICS = {"best_trade_pct": _NAN, "worst_trade_pct": _NAN, "avg_trade_pct": _NAN,
                        "avg_trade_duration": _NAN, "avg_trade_days": _NAN, "expectancy": _NAN, "sqn": _NAN,
                        "kelly": _NAN}


def trade_statistics(trades: Trades, time: np.ndarray) -> dict:
    """Statistics of closed trades (``time``: the time of every bar their bars index).

    A trade's return is ``pnl / (|size| × entry_price)`` (commissions included). ``best_`` and
    ``worst_trade_pct`` are the extreme returns, ``avg_trade_pct`` their geometric mean
    ``exp(mean(log(1 + r))) − 1`` (−100 when a trade lost everything), all × 100;
    ``avg_trade_duration`` the mean of ``exit_bar − entry_bar``, ``avg_trade_days`` the mean
    calendar length; ``expectancy`` the mean pnl (account currency); ``sqn`` = √n × mean(pnl) /
    std(pnl, ddof 1) (Van Tharp's system quality number; n ≥ 2); ``kelly`` = p − (1 − p) / (mean
    win / mean loss) with p the share of winning trades (needs a win and a loss). NaN when
    undefined, every one NaN without closed trades. :func:`lane_trade_statistics` is the same for
    many lanes at once.

    >>> from state.ledger import Trades
    >>> t = Trades(np.zeros(3, int), np.array([0, 2, 5]), np.array([10.0, 20.0, 10.0]), np.array([2, 4, 6]),
    ...            np.array([11.0, 21.0, 12.0]), np.array([10.0, -5.0, 1.0]), np.array([10.0, -5.0, 2.0]),
    ...            np.ones(3, bool))
    >>> s = trade_statistics(t, np.arange(7).astype("datetime64[D]").astype("datetime64[ns]"))
    >>> s["best_trade_pct"], s["worst_trade_pct"], s["expectancy"], s["avg_trade_duration"], s["kelly"]
    (20.0, -5.0, 2.3333333333333335, 1.6666666666666667, 0.3888888888888888)
    """
    pnl = trades.pnl
    n = len(pnl)
    if n == 0:
        return dict(_NO_TRADE_STATISTICS)
    returns = pnl / np.abs(trades.size)
    returns /= trades.entry_price
    low = float(returns.min())
    average = float(np.expm1(float(np.log1p(returns).sum()) / n)) if low > -1.0 else -1.0
    total = float(pnl.sum())
    mean = total / n
    std = math.sqrt(float(np.square(pnl - mean).sum()) / (n - 1)) if n > 1 else _NAN
    won = pnl > 0.0
    n_wins = int(np.count_nonzero(won))
    gains = float(pnl[won].sum())
    n_losses = int(np.count_nonzero(pnl < 0.0))
    kelly = _NAN
    if n_wins and n_losses:  # every pnl that is not a gain is a loss or zero: the losses sum to total - gains
        p = n_wins / n
        kelly = p - (1.0 - p) / ((gains / n_wins) / ((gains - total) / n_losses))
    held = trades.exit_bar - trades.entry_bar
    days = (time[trades.exit_bar] - time[trades.entry_bar]).astype(np.int64)
    return {
        "best_trade_pct": float(returns.max()) * 100.0,
        "worst_trade_pct": low * 100.0,
        "avg_trade_pct": average * 100.0,
        "avg_trade_duration": float(held.sum()) / n,
        "avg_trade_days": float(days.sum()) / n / _DAY_NS,
        "expectancy": mean,
        "sqn": math.sqrt(n) * mean / std if std > 0.0 else _NAN,
        "kelly": kelly,
    }


def lane_trade_statistics(trades: Trades, lanes: int, time: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`trade_statistics` of every lane at once (one value per lane; NaN for a lane without
    closed trades): ``trades`` are closed trades sorted by lane (``trades.lane`` in
    ``range(lanes)``), every sum and extreme a segment reduction over them.

    >>> from state.ledger import Trades
    >>> t = Trades(np.array([1, 1]), np.array([0, 2]), np.array([10.0, 20.0]), np.array([2, 4]),
    ...            np.array([11.0, 19.0]), np.array([1.0, 1.0]), np.array([1.0, -1.0]), np.ones(2, bool))
    >>> s = lane_trade_statistics(t, 2, np.arange(5).astype("datetime64[D]").astype("datetime64[ns]"))
    >>> s["best_trade_pct"].tolist(), s["worst_trade_pct"].tolist(), s["avg_trade_duration"].tolist()
    ([nan, 10.0], [nan, -5.0], [nan, 2.0])
    """
    out = {name: np.full(lanes, _NAN) for name in _NO_TRADE_STATISTICS}
    lane, pnl = trades.lane, trades.pnl
    count = np.bincount(lane, minlength=lanes)
    has = np.flatnonzero(count)
    if not len(has):
        return out
    n = count[has]
    first = (np.cumsum(count) - count)[has]
    returns = pnl / np.abs(trades.size)
    returns /= trades.entry_price
    low = np.minimum.reduceat(returns, first)
    with np.errstate(invalid="ignore", divide="ignore"):  # log1p of a total loss; one trade's deviation
        average = np.where(low > -1.0, np.expm1(_sums(np.log1p(returns), first) / n), -1.0)
        total = _sums(pnl, first)
        mean = total / n
        std = np.where(n > 1, np.sqrt(_sums(np.square(pnl - np.repeat(mean, n)), first) / (n - 1)), _NAN)
        won = pnl > 0.0
        wins = np.bincount(lane[won], minlength=lanes)
        gains = np.zeros(lanes)
        gained = np.flatnonzero(wins)
        gains[gained] = _sums(pnl[won], (np.cumsum(wins) - wins)[gained])
        n_wins, gains = wins[has], gains[has]
        n_losses = np.bincount(lane[pnl < 0.0], minlength=lanes)[has]
        p = n_wins / n
        kelly = np.where((n_wins > 0) & (n_losses > 0),
                         p - (1.0 - p) / ((gains / n_wins) / ((gains - total) / n_losses)), _NAN)
        sqn = np.where(std > 0.0, np.sqrt(n) * mean / std, _NAN)
    held = np.add.reduceat(trades.exit_bar - trades.entry_bar, first)
    days = np.add.reduceat((time[trades.exit_bar] - time[trades.entry_bar]).astype(np.int64), first)
    columns = {"best_trade_pct": np.maximum.reduceat(returns, first) * 100.0, "worst_trade_pct": low * 100.0,
               "avg_trade_pct": average * 100.0, "avg_trade_duration": held / n,
               "avg_trade_days": days / n / _DAY_NS, "expectancy": mean, "sqn": sqn, "kelly": kelly}
    for name, values in columns.items():
        out[name][has] = values
    return out


def undefined_reasons(m: dict[str, float], curve: EquityPoints) -> dict[str, str]:
    """Why each NaN metric of ``m`` (:func:`metrics` of ``curve``) has no value, by metric.

    >>> from fp.ledger import compress_equity
    >>> flat = compress_equity(np.full(5, 100.0), np.zeros(5))
    >>> m = metrics(flat, np.array([]), 0.0, initial_cash=100.0, periods_per_year=252.0, years=1.0)
    >>> undefined_reasons(m, flat)["sharpe"]
    'equity never moved (no position held)'
    """
    values = curve.values
    if curve.n_bars < 3:
        moves = f"{curve.n_bars} bar(s): a ratio needs at least two returns"
    elif not values.min() > 0.0:
        moves = "equity reached 0 (ruin): no return is defined after it"
    elif curve.exposure_bars == 0:
        moves = "equity never moved (no position held)"
    else:
        moves = "the returns never vary"
    why = {"sharpe": moves,
           "sortino": moves if math.isnan(m["sharpe"]) else "no bar lost: the downside deviation is 0",
           "cagr_pct": "the data spans no time",
           "win_rate_pct": "no closed trade",
           "profit_factor": "no closed trade" if m["n_trades"] == 0 else "no closed trade won or lost"}
    return {name: reason for name, reason in why.items() if isinstance(m.get(name), float) and math.isnan(m[name])}
