"""Plotly figures of a run: pure functions from tables and arrays to ``plotly.graph_objects.Figure``.

The same figures serve the HTML report (``pipelines.html_report``) and notebooks
(``RunResult.plot()``, ``RunFolder.plot()``). Every long series is thinned with the
extremum-keeping functions of :mod:`fp.downsample` to at most ``max_points`` points per trace, and
the chart says so; no drawdown, spike or extreme trade disappears.

* :func:`combination_figure` — one combination's linked panels on one time axis: equity with
  buy-and-hold, its peak and maximum drawdown marked; the underwater curve; the price (candles
  when they fit, else a line) with every entry and exit (coloured by pnl; hover: size, prices,
  pnl, exit reason) and regime bands; the position;
* :func:`monthly_returns_figure`, :func:`trade_returns_figure` — the calendar of monthly returns,
  the distribution of trade returns;
* :func:`landscape_figure`, :func:`sensitivity_figure` — the parameter landscape (every pair of
  gridded parameters as a heatmap, max / mean / robustness selectable, one colour scale) and the
  metric marginalised per parameter value;
* :func:`train_test_figure`, :func:`walk_forward_figure`, :func:`pbo_figure` — optimization;
* :func:`regime_figure`, :func:`strategy_by_classifier_figure` — regimes;
* :func:`portfolio_figure` — a shared-cash portfolio's contribution and holdings per symbol.

Needs plotly (the ``report`` extra); :func:`plotly_modules` raises
:class:`~state.errors.MissingExtraError` naming it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fp.downsample import drawdown_indices, extrema_indices, representative_rows
from fp.landscape import grid_aggregate, marginal, neighbourhood_mean
from state.errors import MissingExtraError

__all__ = ["MAX_POINTS", "MAX_TRADES", "PALETTE", "combination_figure", "landscape_figure", "monthly_returns",
           "monthly_returns_figure", "pbo_figure", "plotly_modules", "portfolio_figure", "regime_figure",
           "sensitivity_figure", "strategy_by_classifier_figure", "trade_returns_figure", "train_test_figure",
           "walk_forward_figure"]

#: Most points one trace of a series embeds.
MAX_POINTS = 3000
#: Most trades a price chart marks one by one; above, the extreme and an even spread of the rest.
MAX_TRADES = 2000
#: Most candles drawn; a longer price series is a line.
MAX_CANDLES = 600

PALETTE = {
    "equity": "#2456a6", "benchmark": "#9aa4b1", "drawdown": "#c8413b", "win": "#1b8a5a", "loss": "#c8413b",
    "price": "#3b4452", "position": "#6b4fa3", "train": "#c9d6ea", "test": "#2456a6", "grid": "#e6e9ee",
    "text": "#1f2933", "muted": "#6b7480",
}
REGIME_COLOURS = ("rgba(200,65,59,0.10)", "rgba(27,138,90,0.10)", "rgba(36,86,166,0.10)", "rgba(217,142,4,0.12)",
                  "rgba(107,79,163,0.10)", "rgba(90,90,90,0.10)")
SEQUENCE = ("#2456a6", "#d98e04", "#1b8a5a", "#c8413b", "#6b4fa3", "#1f9fb3", "#8c564b", "#e377c2")
_FONT = dict(family="-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
             size=12, color=PALETTE["text"])
_DAY_NS = 86_400 * 10**9


def plotly_modules():
    """``(plotly.graph_objects, plotly.subplots.make_subplots)``, or a one-line error naming the extra."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise MissingExtraError("admf report and figures", "report", "plotly") from None
    return go, make_subplots


# ---- helpers --------------------------------------------------------------------------------------


def dates(time: np.ndarray) -> np.ndarray:
    """Compact ISO text for a time axis: days when every time is midnight, else seconds."""
    time = np.asarray(time, "datetime64[ns]")
    if not len(time):
        return np.array([], dtype=object)
    midnight = np.all(time.astype(np.int64) % _DAY_NS == 0)
    return np.datetime_as_string(time, unit="D" if midnight else "s").astype(object)


def _layout(fig, *, height: int, title: str | None = None, **extra) -> None:
    fig.update_layout(
        height=height, template="plotly_white", font=_FONT, margin=dict(l=64, r=24, t=48 if title else 24, b=40),
        title=dict(text=title, x=0.01, font=dict(size=15)) if title else None,
        paper_bgcolor="white", plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0.0, font=dict(size=11)),
        hoverlabel=dict(font=dict(family=_FONT["family"], size=12)), **extra)
    fig.update_xaxes(gridcolor=PALETTE["grid"], zeroline=False, linecolor="#c5cbd3", ticks="outside", tickcolor="#c5cbd3")
    fig.update_yaxes(gridcolor=PALETTE["grid"], zeroline=False, linecolor="#c5cbd3", ticks="outside", tickcolor="#c5cbd3")


def _note(fig, text: str, *, y: float = -0.06) -> None:
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.0, y=y, xanchor="left", yanchor="top",
                       showarrow=False, font=dict(size=11, color=PALETTE["muted"]))


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _closes_on(time: np.ndarray, bars) -> np.ndarray:
    """A symbol's latest close at each of ``time`` (NaN before its first bar)."""
    at = np.searchsorted(bars.time, time, side="right") - 1
    return np.where(at >= 0, bars.close[np.maximum(at, 0)], np.nan)


def _benchmark(time: np.ndarray, bars: Sequence, start_value: float) -> np.ndarray | None:
    """Buy-and-hold of the same data: ``start_value`` in an equal-weight basket bought at each
    symbol's first close (one symbol: its own curve)."""
    if not bars or not len(time):
        return None
    closes = np.column_stack([_closes_on(time, b) for b in bars])
    valid = ~np.isnan(closes)
    first = closes[valid.argmax(axis=0), np.arange(closes.shape[1])]
    growth = np.where(valid, closes / first, 1.0)
    return start_value * growth.mean(axis=1)


def _runs(labels: np.ndarray, max_runs: int = 300) -> list[tuple[int, int, int]]:
    """Contiguous runs ``(start, stop, label)`` of defined labels; above ``max_runs`` runs, labels are
    first thinned to the most common label of equal buckets (bands narrower than a pixel merge)."""
    labels = np.asarray(labels, dtype=np.float64)
    n = len(labels)
    index = np.arange(n)
    if n > 2 * max_runs:
        changes = int(np.count_nonzero(np.diff(labels[~np.isnan(labels)]) != 0))
        if changes > max_runs:
            bounds = (np.arange(max_runs + 1) * n) // max_runs
            states = np.unique(labels[~np.isnan(labels)])
            counts = np.stack([np.add.reduceat((labels == s).astype(np.int64), bounds[:-1]) for s in states])
            unknown = np.add.reduceat(np.isnan(labels).astype(np.int64), bounds[:-1])
            mode = np.where(unknown > counts.max(axis=0), np.nan, states[counts.argmax(axis=0)])
            labels, index = mode, bounds[:-1]
    out = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or not (labels[i] == labels[start] or (np.isnan(labels[i]) and np.isnan(labels[start]))):
            if not np.isnan(labels[start]):
                stop = index[i] if i < len(labels) else n
                out.append((int(index[start]), int(stop), int(labels[start])))
            start = i
    return out


# ---- one combination ----------------------------------------------------------------------------


def combination_figure(shown, *, max_points: int = MAX_POINTS, max_trades: int = MAX_TRADES,
                       initial_cash: float | None = None, title: str | None = None):
    """The linked panels of one combination (a :class:`pipelines.run_folder.Shown`), sharing one
    time axis with zoom and a crosshair: equity and buy-and-hold, underwater, price with trades
    and regime bands (one price panel per symbol, at most four), position."""
    go, make_subplots = plotly_modules()
    bars = list(shown.bars[:4])
    n_price = max(len(bars), 1) if bars else 0
    titles = ["Equity", "Drawdown"] + [f"{b.symbol} price" for b in bars] + ["Position"]
    heights = [0.32, 0.13] + [0.39 / max(n_price, 1)] * n_price + [0.16]
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.035, row_heights=heights,
                        subplot_titles=titles)
    time, equity = shown.time, np.asarray(shown.equity, dtype=np.float64)
    x = dates(time)
    n = len(equity)
    keep = drawdown_indices(equity, max_points)
    cash0 = initial_cash if initial_cash is not None else (float(equity[0]) if n else 1.0)
    benchmark = _benchmark(time, bars, float(equity[0]) if n else cash0)
    if benchmark is not None:
        b_keep = extrema_indices(benchmark, max_points)
        fig.add_trace(go.Scatter(x=x[b_keep], y=benchmark[b_keep], name="buy & hold", mode="lines",
                                 line=dict(color=PALETTE["benchmark"], width=1.2),
                                 hovertemplate="buy & hold %{y:,.2f}<extra></extra>"), row=1, col=1)
    if shown.part is not None and np.any(shown.part == "test"):
        for name, colour in (("train", PALETTE["equity"]), ("test", "#d98e04")):
            mask = shown.part[keep] == name
            fig.add_trace(go.Scatter(x=x[keep][mask], y=equity[keep][mask], mode="lines",
                                     name="equity (in-sample)" if name == "train" else "equity (out-of-sample, compounded on)",
                                     line=dict(color=colour, width=1.8),
                                     hovertemplate="equity %{y:,.2f}<extra></extra>"), row=1, col=1)
        first_test = int(np.argmax(shown.part == "test"))
        fig.add_vline(x=x[first_test], line=dict(color=PALETTE["muted"], width=1, dash="dash"))
        fig.add_annotation(x=x[first_test], y=1.0, yref="y domain", text="  out-of-sample →", showarrow=False,
                           xanchor="left", font=dict(size=11, color=PALETTE["muted"]), row=1, col=1)
    else:
        fig.add_trace(go.Scatter(x=x[keep], y=equity[keep], name="equity", mode="lines",
                                 line=dict(color=PALETTE["equity"], width=1.8),
                                 hovertemplate="equity %{y:,.2f}<extra></extra>"), row=1, col=1)
    if n:
        peak = np.maximum.accumulate(equity)
        drawdown = (equity / peak - 1.0) * 100.0
        top = int(np.argmax(equity))
        trough = int(np.argmin(drawdown))
        start = int(np.argmax(equity[:trough + 1])) if trough else 0
        fig.add_trace(go.Scatter(x=[x[top]], y=[equity[top]], mode="markers", name=f"peak {equity[top]:,.0f}",
                                 marker=dict(color="#1f9fb3", size=9, symbol="diamond", line=dict(color="white", width=1)),
                                 hovertemplate="peak %{y:,.2f}<extra></extra>"), row=1, col=1)
        if drawdown[trough] < 0.0:
            fig.add_trace(go.Scatter(x=[x[start], x[trough]], y=[equity[start], equity[trough]], mode="lines+markers",
                                     name=f"max drawdown {drawdown[trough]:.1f}%",
                                     line=dict(color=PALETTE["drawdown"], width=2, dash="dot"),
                                     marker=dict(size=7, color=PALETTE["drawdown"]),
                                     hovertemplate="%{y:,.2f}<extra>max drawdown</extra>"), row=1, col=1)
        d_keep = extrema_indices(drawdown, max_points)
        fig.add_trace(go.Scatter(x=x[d_keep], y=drawdown[d_keep], name="drawdown", mode="lines", fill="tozeroy",
                                 line=dict(color=PALETTE["drawdown"], width=1), fillcolor="rgba(200,65,59,0.18)",
                                 showlegend=False, hovertemplate="drawdown %{y:.2f}%<extra></extra>"), row=2, col=1)
    for k, b in enumerate(bars):
        row = 3 + k
        _price_panel(go, fig, b, row, max_points)
        labels = shown.labels[k] if k < len(shown.labels) else None
        if labels is not None and len(labels) == len(b):
            _regime_bands(fig, b, labels, row)
        _trade_markers(go, fig, shown, b.symbol, row, max_trades, several=len(bars) > 1)
    position_row = len(titles)
    position = np.asarray(shown.position, dtype=np.float64).reshape(n, -1) if n else np.zeros((0, 1))
    for k in range(position.shape[1]):
        column = position[:, k]
        changes = np.flatnonzero(np.diff(column) != 0.0)
        p_keep = np.unique(np.concatenate(([0, max(n - 1, 0)], changes, changes + 1))) if n else np.arange(0)
        if len(p_keep) > max_points:
            p_keep = extrema_indices(column, max_points)
        symbol = shown.symbols[k] if k < len(shown.symbols) else ""
        fig.add_trace(go.Scatter(x=x[p_keep], y=column[p_keep], mode="lines", line_shape="hv",
                                 name=f"position {symbol}" if position.shape[1] > 1 else "position",
                                 line=dict(color=SEQUENCE[k % len(SEQUENCE)] if position.shape[1] > 1
                                           else PALETTE["position"], width=1.3),
                                 showlegend=position.shape[1] > 1,
                                 hovertemplate=f"position {symbol} %{{y:,.4g}}<extra></extra>"), row=position_row, col=1)
    _layout(fig, height=260 + 170 * len(titles), title=title, hovermode="x")
    fig.update_xaxes(showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1,
                     spikecolor="#9aa4b1", spikedash="solid")
    fig.update_xaxes(rangeslider_visible=False)
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="%", row=2, col=1)
    fig.update_yaxes(title_text="units", row=position_row, col=1)
    for annotation in fig.layout.annotations:
        if annotation.text in titles:
            annotation.update(x=0.0, xanchor="left", font=dict(size=12, color=PALETTE["muted"]))
    if n > max_points:
        _note(fig, f"{n:,} bars drawn as ≤ {max_points:,} points per line: each bucket's low and high and the "
                   "deepest drawdown with its peak are kept, so no drawdown or spike is lost", y=-0.03)
    return fig


def _price_panel(go, fig, bars, row: int, max_points: int) -> None:
    x = dates(bars.time)
    if len(bars) <= MAX_CANDLES:
        fig.add_trace(go.Candlestick(x=x, open=bars.open, high=bars.high, low=bars.low, close=bars.close,
                                     name=bars.symbol, showlegend=False,
                                     increasing=dict(line=dict(color="#5b8f73", width=1), fillcolor="#a9d3bb"),
                                     decreasing=dict(line=dict(color="#b3605b", width=1), fillcolor="#e6b3b0")),
                      row=row, col=1)
        return
    keep = extrema_indices(np.column_stack((bars.low, bars.high)), max_points)
    fig.add_trace(go.Scatter(x=x[keep], y=bars.close[keep], mode="lines", name=f"{bars.symbol} close",
                             line=dict(color=PALETTE["price"], width=1), showlegend=False,
                             hovertemplate=f"{bars.symbol} close %{{y:,.4g}}<extra></extra>"), row=row, col=1)


def _regime_bands(fig, bars, labels: np.ndarray, row: int) -> None:
    x = dates(bars.time)
    for start, stop, label in _runs(labels):
        end = x[stop] if stop < len(x) else x[-1]
        fig.add_vrect(x0=x[start], x1=end, fillcolor=REGIME_COLOURS[label % len(REGIME_COLOURS)], line_width=0,
                      layer="below", row=row, col=1)


def _trade_markers(go, fig, shown, symbol: str, row: int, max_trades: int, *, several: bool) -> None:
    t = shown.trades
    if not t.num_rows:
        return
    rows = t.to_pydict()
    mine = np.array([s == symbol for s in rows["symbol"]]) if several else np.ones(t.num_rows, bool)
    index = np.flatnonzero(mine)
    if not len(index):
        return
    pnl = np.array(rows["pnl"], dtype=np.float64)[index]
    chosen = index[representative_rows(pnl, max_trades)]
    reasons = list(shown.exit_reasons) if len(shown.exit_reasons) == t.num_rows else [None] * t.num_rows
    size = np.array(rows["size"], dtype=np.float64)
    entry_price = np.array(rows["entry_price"], dtype=np.float64)
    exit_price = np.array([np.nan if v is None else v for v in rows["exit_price"]], dtype=np.float64)
    pnl_all = np.array(rows["pnl"], dtype=np.float64)
    returns = pnl_all / (np.abs(size) * entry_price) * 100.0
    entry_time = np.array(rows["entry_time"], "datetime64[ns]")
    closed = np.array([v is not None for v in rows["exit_time"]])
    exit_time = np.array([v if v is not None else np.datetime64("NaT") for v in rows["exit_time"]], "datetime64[ns]")
    text = [f"{'long' if size[i] > 0 else 'short'} {abs(size[i]):,.4g} units<br>entry {entry_price[i]:,.4g} "
            f"→ exit {_fmt(exit_price[i], 4) if closed[i] else 'open'}<br>pnl {pnl_all[i]:,.2f} ({returns[i]:+.2f}%)"
            f"<br>exit reason: {reasons[i] or ('open at the end' if not closed[i] else 'unknown')}" for i in range(t.num_rows)]
    colour = np.where(pnl_all >= 0.0, PALETTE["win"], PALETTE["loss"])
    c = chosen
    fig.add_trace(go.Scatter(x=dates(entry_time[c]), y=entry_price[c], mode="markers", name="entry",
                             marker=dict(symbol=np.where(size[c] > 0, "triangle-up", "triangle-down"), size=9,
                                         color=colour[c], line=dict(color="white", width=0.8)),
                             text=[text[i] for i in c], hovertemplate="%{text}<extra>entry</extra>",
                             showlegend=row == 3), row=row, col=1)
    e = c[closed[c]]
    fig.add_trace(go.Scatter(x=dates(exit_time[e]), y=exit_price[e], mode="markers", name="exit",
                             marker=dict(symbol="x-thin", size=8, color=colour[e], line=dict(color=colour[e], width=2)),
                             text=[text[i] for i in e], hovertemplate="%{text}<extra>exit</extra>",
                             showlegend=row == 3), row=row, col=1)
    if len(chosen) < len(index):
        fig.add_annotation(text=f"showing {len(chosen):,} of {len(index):,} trades: the largest wins and losses "
                                "and an even spread of the rest", xref="x domain", yref="y domain", x=0.0, y=1.0,
                           xanchor="left", yanchor="top", showarrow=False, font=dict(size=11, color=PALETTE["muted"]),
                           row=row, col=1)


# ---- returns calendars and distributions ----------------------------------------------------------


def monthly_returns(time: np.ndarray, equity: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """``(years, months, yearly)``: the compounded return of each calendar month in percent
    (``months[year, month - 1]``, NaN without bars) and of each year, from close-marked equity.

    >>> t = np.array(["2020-01-30", "2020-01-31", "2020-02-28", "2020-03-31"], "datetime64[ns]")
    >>> years, months, yearly = monthly_returns(t, np.array([100.0, 110.0, 99.0, 108.9]))
    >>> years, [round(v, 6) for v in months[0, :4]], round(float(yearly[0]), 6)
    ([2020], [10.0, -10.0, 10.0, nan], 8.9)
    """
    time = np.asarray(time, "datetime64[ns]")
    equity = np.asarray(equity, dtype=np.float64)
    if not len(time):
        return [], np.zeros((0, 12)), np.zeros(0)
    month = time.astype("datetime64[M]")
    last = np.flatnonzero(np.append(month[1:] != month[:-1], True))
    ends = equity[last]
    starts = np.concatenate(([equity[0]], ends[:-1]))
    change = (ends / starts - 1.0) * 100.0
    which = month[last]
    years_of = which.astype("datetime64[Y]").astype(np.int64) + 1970
    years = sorted(set(years_of.tolist()))
    grid = np.full((len(years), 12), np.nan)
    rows = np.searchsorted(years, years_of)
    grid[rows, (which.astype(np.int64) % 12)] = change
    yearly = np.array([(np.prod(1.0 + grid[k][~np.isnan(grid[k])] / 100.0) - 1.0) * 100.0 for k in range(len(years))])
    return years, grid, yearly


def monthly_returns_figure(time: np.ndarray, equity: np.ndarray, *, title: str | None = "Monthly returns (%)"):
    """A year × month heatmap of compounded monthly returns with the year's total."""
    go, _ = plotly_modules()
    years, grid, yearly = monthly_returns(time, equity)
    z = np.column_stack((grid, yearly)) if len(years) else np.zeros((0, 13))
    columns = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"]
    text = [[("" if np.isnan(v) else f"{v:.1f}") for v in row] for row in z]
    bound = float(np.nanmax(np.abs(grid))) if np.any(~np.isnan(grid)) else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=columns, y=[str(y) for y in years], text=text, texttemplate="%{text}",
                               textfont=dict(size=10), colorscale="RdYlGn", zmid=0.0, zmin=-bound, zmax=bound,
                               showscale=False, xgap=2, ygap=2,
                               hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>"))
    _layout(fig, height=max(220, 60 + 26 * len(years)), title=title)
    fig.update_yaxes(autorange="reversed", type="category", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False, ticks="")
    return fig


def trade_returns_figure(trades, *, title: str | None = "Trade returns (%)"):
    """Histogram of closed trades' returns (pnl over the position's entry value), wins and losses apart."""
    go, _ = plotly_modules()
    rows = trades.to_pydict() if trades.num_rows else {"pnl": [], "size": [], "entry_price": [], "exit_time": []}
    closed = np.array([v is not None for v in rows["exit_time"]], bool)
    pnl = np.array(rows["pnl"], dtype=np.float64)[closed] if len(closed) else np.zeros(0)
    base = (np.abs(np.array(rows["size"], dtype=np.float64)) * np.array(rows["entry_price"], dtype=np.float64))[closed] \
        if len(closed) else np.zeros(0)
    returns = pnl / base * 100.0 if len(pnl) else np.zeros(0)
    fig = go.Figure()
    bins = None
    if len(returns):
        low, high = float(returns.min()), float(returns.max())
        width = (high - low) / 40 if high > low else 1.0
        bins = dict(start=low, end=high + width, size=width)
    for name, mask, colour in (("losses", returns < 0.0, PALETTE["loss"]), ("wins", returns >= 0.0, PALETTE["win"])):
        fig.add_trace(go.Histogram(x=returns[mask], name=f"{name} ({int(mask.sum())})", xbins=bins, marker_color=colour,
                                   opacity=0.8, hovertemplate="%{x}: %{y} trades<extra></extra>"))
    if len(returns):
        mean = float(returns.mean())
        fig.add_vline(x=mean, line=dict(color=PALETTE["text"], width=1, dash="dash"),
                      annotation_text=f"mean {mean:+.2f}%", annotation_position="top right",
                      annotation_font=dict(size=11, color=PALETTE["muted"]))
    _layout(fig, height=300, title=title, barmode="overlay", bargap=0.05)
    fig.update_xaxes(title_text="return per trade (%)")
    fig.update_yaxes(title_text="trades")
    return fig


# ---- the parameter landscape --------------------------------------------------------------------


def _label(name: str) -> str:
    return name.replace("_", " ")


def landscape_figure(rows: list[dict], parameters: Sequence[str], metric: str, *, title: str | None = None,
                     best: dict | None = None, aggregate: str = "max"):
    """Every pair of ``parameters`` as a heatmap of ``metric`` over ``rows`` (result rows), the other
    dimensions aggregated; buttons switch max / mean / robustness (the best neighbourhood mean of
    each cell). One shared colour scale; cells a constraint removed stay blank; ``best``'s cell
    is starred. One parameter: the metric per value as a line (every combination a dot)."""
    go, make_subplots = plotly_modules()
    z = np.array([_number(r.get(metric)) for r in rows], dtype=np.float64)
    values = {p: [r.get(p) for r in rows] for p in parameters}
    if len(parameters) == 1:
        (p,) = parameters
        stats = marginal(values[p], z)
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=[_text(v) for v in values[p]], y=z, mode="markers", name="combinations",
                                 marker=dict(color=PALETTE["benchmark"], size=6),
                                 hovertemplate=f"{p}=%{{x}}<br>{metric} %{{y:.4f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=[_text(s["value"]) for s in stats], y=[s["max"] for s in stats], mode="lines+markers",
                                 name="best", line=dict(color=PALETTE["equity"], width=2)))
        fig.add_trace(go.Scatter(x=[_text(s["value"]) for s in stats], y=[s["mean"] for s in stats], mode="lines",
                                 name="mean", line=dict(color="#d98e04", width=1.5, dash="dash")))
        _layout(fig, height=340, title=title)
        fig.update_xaxes(title_text=_label(p), type="category")
        fig.update_yaxes(title_text=metric)
        return fig
    pairs = list(itertools.combinations(parameters, 2))
    robust = neighbourhood_mean([values[p] for p in parameters], z)
    ncols = min(3, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, horizontal_spacing=0.09, vertical_spacing=0.16 if nrows > 1 else 0.1)
    grids = {how: [] for how in ("max", "mean", "robustness")}
    for k, (px, py) in enumerate(pairs):
        xs, ys, g_max = grid_aggregate(values[px], values[py], z, "max")
        grids["max"].append(g_max)
        grids["mean"].append(grid_aggregate(values[px], values[py], z, "mean")[2])
        grids["robustness"].append(grid_aggregate(values[px], values[py], robust, "max")[2])
        r, c = k // ncols + 1, k % ncols + 1
        shown = grids[aggregate if aggregate in grids else "max"][-1]
        fig.add_trace(go.Heatmap(z=shown, x=[_text(v) for v in xs], y=[_text(v) for v in ys], coloraxis="coloraxis",
                                 xgap=1, ygap=1, hoverongaps=False,
                                 hovertemplate=f"{px}=%{{x}}<br>{py}=%{{y}}<br>{metric} %{{z:.4f}}<extra></extra>"),
                      row=r, col=c)
        fig.update_xaxes(title_text=_label(px), type="category", row=r, col=c, showgrid=False)
        fig.update_yaxes(title_text=_label(py), type="category", row=r, col=c, showgrid=False)
        if best is not None and best.get(px) is not None and best.get(py) is not None:
            fig.add_trace(go.Scatter(x=[_text(best[px])], y=[_text(best[py])], mode="markers", showlegend=False,
                                     marker=dict(symbol="star", size=14, color="white", line=dict(color="black", width=1.2)),
                                     hovertemplate="the best combination<extra></extra>"), row=r, col=c)
    heatmaps = [i for i, t in enumerate(fig.data) if t.type == "heatmap"]
    finite = np.concatenate([g[~np.isnan(g)] for how in grids for g in grids[how]] or [np.zeros(0)])
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    buttons = [dict(label={"max": "max over the others", "mean": "mean over the others",
                           "robustness": "robustness (neighbourhood mean)"}[how], method="restyle",
                    args=[{"z": [g for g in grids[how]]}, heatmaps]) for how in ("max", "mean", "robustness")]
    _layout(fig, height=max(360, 330 * nrows + 60), title=title,
            coloraxis=dict(colorscale="Viridis", cmin=low, cmax=high, colorbar=dict(title=dict(text=metric), thickness=12)),
            updatemenus=[dict(type="buttons", direction="right", x=1.0, xanchor="right", y=1.0 + 0.12 / nrows,
                              yanchor="bottom", buttons=buttons, showactive=True, bgcolor="white",
                              bordercolor="#c5cbd3", font=dict(size=11))])
    return fig


def sensitivity_figure(rows: list[dict], parameters: Sequence[str], metric: str, *, title: str | None = None):
    """``metric`` marginalised per value of each parameter: the mean, median and the min–max band
    over every other parameter (as ``admf query --analysis sensitivity`` computes it)."""
    go, make_subplots = plotly_modules()
    z = np.array([_number(r.get(metric)) for r in rows], dtype=np.float64)
    ncols = min(4, max(len(parameters), 1))
    nrows = math.ceil(len(parameters) / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.2,
                        subplot_titles=[_label(p) for p in parameters])
    for k, p in enumerate(parameters):
        stats = marginal([r.get(p) for r in rows], z)
        xs = [_text(s["value"]) for s in stats]
        r, c = k // ncols + 1, k % ncols + 1
        first = k == 0
        fig.add_trace(go.Scatter(x=xs, y=[s["max"] for s in stats], mode="lines", line=dict(width=0),
                                 showlegend=False, hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Scatter(x=xs, y=[s["min"] for s in stats], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor="rgba(36,86,166,0.13)", name="min–max", showlegend=first,
                                 hoverinfo="skip"), row=r, col=c)
        fig.add_trace(go.Scatter(x=xs, y=[s["mean"] for s in stats], mode="lines+markers", name="mean",
                                 line=dict(color=PALETTE["equity"], width=2), showlegend=first,
                                 customdata=[[s["median"], s["min"], s["max"], s["n"]] for s in stats],
                                 hovertemplate=f"{p}=%{{x}}<br>mean %{{y:.4f}}<br>median %{{customdata[0]:.4f}}"
                                               "<br>min %{customdata[1]:.4f} max %{customdata[2]:.4f}"
                                               "<br>n %{customdata[3]}<extra></extra>"), row=r, col=c)
        fig.update_xaxes(type="category", row=r, col=c)
    fig.update_yaxes(title_text=metric, col=1)
    _layout(fig, height=max(300, 280 * nrows + 40), title=title)
    return fig


# ---- optimization -------------------------------------------------------------------------------


def train_test_figure(rows: list[dict], metric: str, *, title: str | None = None):
    """In-sample vs out-of-sample ``metric`` of every combination tested on both parts (the
    selected ones highlighted), with the line where they are equal."""
    go, _ = plotly_modules()
    tested = [r for r in rows if _number(r.get(f"test_{metric}")) == _number(r.get(f"test_{metric}"))]
    fig = go.Figure()
    xs = [_number(r.get(f"train_{metric}")) for r in tested]
    ys = [_number(r.get(f"test_{metric}")) for r in tested]
    finite = [v for v in xs + ys if not math.isnan(v)]
    if finite:
        low, high = min(finite), max(finite)
        pad = (high - low) * 0.08 or 0.5
        fig.add_trace(go.Scatter(x=[low - pad, high + pad], y=[low - pad, high + pad], mode="lines",
                                 name="out-of-sample = in-sample", line=dict(color=PALETTE["benchmark"], dash="dash")))
    for selected, colour, name in ((False, PALETTE["benchmark"], "tested"), (True, PALETTE["equity"], "selected")):
        part = [(x, y, r) for x, y, r in zip(xs, ys, tested) if bool(r.get("selected")) == selected]
        if not part:
            continue
        fig.add_trace(go.Scatter(x=[p[0] for p in part], y=[p[1] for p in part], mode="markers+text" if selected else "markers",
                                 name=name, text=[f"#{p[2].get('rank')}" if selected else "" for p in part],
                                 textposition="top center",
                                 customdata=[[p[2].get("combo_id")] for p in part],
                                 marker=dict(color=colour, size=11 if selected else 7, line=dict(color="white", width=1)),
                                 hovertemplate="%{customdata[0]}<br>in-sample %{x:.4f}<br>out-of-sample %{y:.4f}"
                                               "<extra></extra>"))
    _layout(fig, height=420, title=title)
    fig.update_xaxes(title_text=f"in-sample {metric}")
    fig.update_yaxes(title_text=f"out-of-sample {metric}")
    return fig


def walk_forward_figure(windows: list[dict], time: np.ndarray, equity: np.ndarray, *, max_points: int = MAX_POINTS,
                        title: str | None = None):
    """Walk-forward windows on a timeline (training and test ranges, the chosen parameters in the
    hover) above the stitched out-of-sample equity, on one time axis."""
    go, make_subplots = plotly_modules()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55],
                        subplot_titles=["windows: training → test", "stitched out-of-sample equity"])
    skip = {"window", "symbol", "train_start", "train_end", "test_start", "test_end", "combo_id", "strategy"}
    for w in windows:
        params = ", ".join(f"{k}={w[k]}" for k in w if k not in skip and not k.startswith(("train_", "test_")))
        label = f"window {w['window']}"
        hover = (f"{label}<br>{params}<br>train {_fmt(_number(w.get('train_sharpe')), 3)} → test "
                 f"{_fmt(_number(w.get('test_sharpe')), 3)} (sharpe)")
        for part, colour, width in (("train", PALETTE["train"], 12), ("test", PALETTE["test"], 12)):
            fig.add_trace(go.Scatter(x=[_iso(w[f"{part}_start"]), _iso(w[f"{part}_end"])], y=[label, label],
                                     mode="lines", line=dict(color=colour, width=width), showlegend=False,
                                     hovertemplate=hover + "<extra></extra>"), row=1, col=1)
    equity = np.asarray(equity, dtype=np.float64)
    keep = drawdown_indices(equity, max_points)
    fig.add_trace(go.Scatter(x=dates(np.asarray(time, "datetime64[ns]"))[keep], y=equity[keep], mode="lines",
                             name="out-of-sample equity", line=dict(color=PALETTE["equity"], width=1.8),
                             hovertemplate="equity %{y:,.2f}<extra></extra>"), row=2, col=1)
    _layout(fig, height=260 + 22 * len(windows) + 300, title=title, hovermode="closest")
    fig.update_yaxes(autorange="reversed", row=1, col=1, type="category")
    fig.update_xaxes(showspikes=True, spikemode="across", spikethickness=1, spikecolor="#9aa4b1")
    return fig


def pbo_figure(overfitting: dict, *, title: str | None = None):
    """The CSCV logits' distribution (λ ≤ 0: the in-sample best did no better than the
    out-of-sample median), from the manifest's overfitting statistics."""
    go, _ = plotly_modules()
    values = np.array(overfitting.get("logit_values", []), dtype=np.float64)
    counts = np.array(overfitting.get("logit_counts", []), dtype=np.float64)
    fig = go.Figure()
    if len(values):
        share = counts / counts.sum()
        colours = np.where(values <= 0.0, PALETTE["loss"], PALETTE["equity"])
        width = float(np.min(np.diff(np.sort(values)))) * 0.9 if len(values) > 1 else 0.2
        fig.add_trace(go.Bar(x=values, y=share, marker_color=colours, width=width, name="splits",
                             hovertemplate="λ %{x:.3f}: %{y:.1%} of splits<extra></extra>"))
        fig.add_vline(x=0.0, line=dict(color=PALETTE["text"], width=1, dash="dash"))
    _layout(fig, height=320, title=title, showlegend=False)
    fig.update_xaxes(title_text="logit λ of the in-sample best's out-of-sample rank")
    fig.update_yaxes(title_text="share of splits", tickformat=".0%")
    return fig


# ---- regimes and portfolios -----------------------------------------------------------------------


def regime_figure(stats: list[dict], keys: Sequence[str], *, title: str | None = None):
    """Per-regime return, exposure and trades of the given combinations (``stats``: rows of
    ``regime_stats``; ``keys``: combo ids in the order to show)."""
    go, make_subplots = plotly_modules()
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=["return in the regime (%)", "exposure in the regime (%)", "trades entered"])
    regimes = sorted({r["regime"] for r in stats})
    for k, regime in enumerate(regimes):
        mine = {r["combo_id"]: r for r in stats if r["regime"] == regime}
        colour = REGIME_COLOURS[regime % len(REGIME_COLOURS)].replace("0.10", "0.85").replace("0.12", "0.85")
        for c, field in enumerate(("return_pct", "exposure_pct", "trades"), start=1):
            fig.add_trace(go.Bar(x=list(keys), y=[(mine.get(key) or {}).get(field) for key in keys],
                                 name=f"regime {regime}", marker_color=colour, showlegend=c == 1,
                                 legendgroup=f"r{regime}",
                                 hovertemplate=f"%{{x}}<br>regime {regime}: %{{y:,.2f}}<extra></extra>"), row=1, col=c)
    _layout(fig, height=360, title=title, barmode="group")
    fig.update_xaxes(tickangle=-45, tickfont=dict(family="ui-monospace, Menlo, monospace", size=10))
    return fig


def strategy_by_classifier_figure(rows: list[dict], strategy_columns: Sequence[str], classifier_columns: Sequence[str],
                                  metric: str, *, title: str | None = None):
    """The strategy × classifier grid: one row per strategy point, one column per classifier
    point, each cell the best ``metric`` over the other settings."""
    go, _ = plotly_modules()
    strategy = [", ".join(f"{c}={r.get(c)}" for c in strategy_columns if r.get(c) is not None) or r.get("strategy")
                for r in rows]
    classifier = [", ".join([str(r.get("classifier"))] + [f"{c}={r.get(c)}" for c in classifier_columns
                                                         if r.get(c) is not None]) for r in rows]
    z = np.array([_number(r.get(metric)) for r in rows], dtype=np.float64)
    xs, ys, grid = grid_aggregate(classifier, strategy, z, "max")
    fig = go.Figure(go.Heatmap(z=grid, x=xs, y=ys, colorscale="Viridis", xgap=1, ygap=1, hoverongaps=False,
                               colorbar=dict(title=dict(text=metric), thickness=12),
                               hovertemplate="%{y}<br>%{x}<br>" + metric + " %{z:.4f}<extra></extra>"))
    _layout(fig, height=max(320, 110 + 26 * len(ys)), title=title)
    fig.update_xaxes(type="category", tickangle=-30, title_text="classifier point")
    fig.update_yaxes(type="category", title_text="strategy point")
    return fig


def portfolio_figure(symbol_stats: list[dict], shown, *, max_points: int = MAX_POINTS, title: str | None = None):
    """A shared-cash portfolio: each symbol's net pnl and commission, and its holdings' value over
    time (stacked), on the portfolio's timeline."""
    go, make_subplots = plotly_modules()
    fig = make_subplots(rows=1, cols=2, column_widths=[0.3, 0.7], horizontal_spacing=0.08,
                        subplot_titles=["net pnl per symbol", "holdings' value per symbol"])
    symbols = [r["symbol"] for r in symbol_stats]
    fig.add_trace(go.Bar(x=symbols, y=[r["net_pnl"] for r in symbol_stats], name="net pnl",
                         marker_color=[PALETTE["win"] if (r["net_pnl"] or 0) >= 0 else PALETTE["loss"] for r in symbol_stats],
                         customdata=[[r["n_trades"], r["win_rate_pct"], r["commission"], r["exposure_pct"]]
                                     for r in symbol_stats],
                         hovertemplate="%{x}: %{y:,.2f}<br>%{customdata[0]} trades, %{customdata[1]:.1f}% won"
                                       "<br>commission %{customdata[2]:,.2f}<br>exposure %{customdata[3]:.1f}%"
                                       "<extra></extra>", showlegend=False), row=1, col=1)
    if shown is not None and shown.bars:
        time = shown.time
        x = dates(time)
        position = np.asarray(shown.position, dtype=np.float64).reshape(len(time), -1)
        for k, b in enumerate(shown.bars):
            value = position[:, k] * np.nan_to_num(_closes_on(time, b))
            keep = extrema_indices(value, max_points)
            fig.add_trace(go.Scatter(x=x[keep], y=value[keep], mode="lines", stackgroup="holdings", name=b.symbol,
                                     line=dict(width=0.8, color=SEQUENCE[k % len(SEQUENCE)]),
                                     hovertemplate=f"{b.symbol} %{{y:,.2f}}<extra></extra>"), row=1, col=2)
    _layout(fig, height=360, title=title)
    return fig


# ---- values -------------------------------------------------------------------------------------


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _text(value: Any) -> str:
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return f"{value:g}"
    return str(value)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(np.datetime_as_string(np.datetime64(value, "s")))

