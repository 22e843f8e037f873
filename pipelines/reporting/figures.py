"""Plotly figures of a run: pure functions from tables and arrays to plotly figure dicts.

Each function returns a figure as the dict plotly.js draws (``{"data": [...], "layout": {...}}``);
``plotly.graph_objects.Figure(d)`` (or :func:`as_figure`) turns it into a figure object for a
notebook. They are built as plain data, never through plotly's validating object model, so a
report of many combinations builds in well under a second. The same figures serve the HTML report
(``pipelines.reporting.html``) and notebooks (``RunResult.plot()``, ``RunFolder.plot()``). Every
long series is thinned with the extremum-keeping functions of :mod:`fp.downsample` to at most
``max_points`` points per trace, and the chart says so: no drawdown, spike or extreme trade
disappears.

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

Drawing needs plotly (the ``report`` extra): :func:`plotly_modules` and :func:`as_figure` raise
:class:`~state.errors.MissingExtraError` naming it; building the dicts does not.
"""
from __future__ import annotations

import base64
import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fp.downsample import drawdown_indices, extrema_indices, representative_rows
from fp.landscape import grid_aggregate, marginal, neighbourhood_mean
from pipelines.engine.objectives import metric_value
from state.errors import MissingExtraError

__all__ = ["MAX_POINTS", "MAX_TRADES", "PALETTE", "SharedArrays", "as_figure", "combination_figure", "figure_json",
           "landscape_figure", "monthly_returns", "monthly_returns_figure", "pbo_figure", "plotly_modules",
           "portfolio_figure", "regime_figure", "sensitivity_figure", "strategy_by_classifier_figure",
           "trade_returns_figure", "train_test_figure", "walk_forward_figure"]

#: Most points one trace of a series embeds.
MAX_POINTS = 3000
#: Most trades a price chart marks one by one; above, the extreme and an even spread of the rest.
MAX_TRADES = 2000
#: Most candles drawn; a longer price series is a line.
MAX_CANDLES = 600

PALETTE = {
    "equity": "#2456a6", "benchmark": "#9aa4b1", "drawdown": "#c8413b", "win": "#1b8a5a", "loss": "#c8413b",
    "price": "#3b4452", "position": "#6b4fa3", "train": "#c9d6ea", "test": "#2456a6", "grid": "#e9ecf0",
    "text": "#1f2933", "muted": "#6b7480", "axis": "#c5cbd3", "oos": "#d98e04",
}
REGIME_COLOURS = ("rgba(200,65,59,0.11)", "rgba(27,138,90,0.11)", "rgba(36,86,166,0.11)", "rgba(217,142,4,0.13)",
                  "rgba(107,79,163,0.11)", "rgba(90,90,90,0.11)")
REGIME_SOLID = ("#c8413b", "#1b8a5a", "#2456a6", "#d98e04", "#6b4fa3", "#5a5a5a")
#: Red (losses) through white to green (gains), centred on zero with ``zmid``.
DIVERGING = [[0.0, "#b2312c"], [0.25, "#e8908a"], [0.5, "#f7f7f7"], [0.75, "#8fcca7"], [1.0, "#17804f"]]
SEQUENCE = ("#2456a6", "#d98e04", "#1b8a5a", "#c8413b", "#6b4fa3", "#1f9fb3", "#8c564b", "#e377c2")
_FONT = {"family": "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
         "size": 12, "color": PALETTE["text"]}
_DAY_NS = 86_400 * 10**9
_MONO = "ui-monospace, SFMono-Regular, Menlo, monospace"


def plotly_modules():
    """``(plotly.graph_objects, plotly.io)``, or a one-line error naming the ``report`` extra."""
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError:
        raise MissingExtraError("admf report and figures", "report", "plotly") from None
    return go, pio


def as_figure(figure: dict):
    """A figure dict as a ``plotly.graph_objects.Figure`` (displays in notebooks)."""
    go, _ = plotly_modules()
    return go.Figure(figure)


def figure_json(figure: dict, *, shared: "SharedArrays | None" = None) -> str:
    """A figure dict as compact JSON for plotly.js, safe inside a ``<script>`` element: numeric
    arrays as base64 typed arrays (``{"dtype": "f8", "bdata": ...}``, as plotly.py writes them),
    text arrays as lists, NaN as null, every ``<`` as ``\\u003c`` (``JSON.parse`` reads it back).
    With ``shared``, each numeric array is written as ``{"admf_array": n}``, its place in that
    pool (see :class:`SharedArrays`).

    The typed arrays' base64 text is put in after the rest is written (it needs no escaping, and
    escaping megabytes of it was most of the cost); the figure is written again with every
    non-finite number as null only when the text holds one.

    >>> figure_json({"data": [{"y": np.array([1.0, 2.0]), "x": np.array(["a", "<b>"], object)}]})
    '{"data":[{"y":{"dtype":"f8","bdata":"AAAAAAAA8D8AAAAAAAAAQA=="},"x":["a","\\\\u003cb>"]}]}'
    >>> pool = SharedArrays()
    >>> figure_json({"data": [{"x": np.array([1.0, 2.0]), "y": np.array([1.0, 2.0])}]}, shared=pool)
    '{"data":[{"x":{"admf_array":0},"y":{"admf_array":0}}]}'
    """
    arrays: list[str] = []

    def value(v: Any) -> Any:
        array = _typed(v)
        if array is None:
            return _json_value(v)
        if shared is not None:
            return {"admf_array": shared.add(array)}
        arrays.append(_base64(array))
        return {**_typed_spec(array), "bdata": _HOLE}

    text = json.dumps(figure, default=value, separators=(",", ":"))
    if "NaN" in text or "Infinity" in text:  # a NaN or infinity outside the typed arrays (rare): null
        arrays.clear()
        text = json.dumps(_finite(figure), default=value, separators=(",", ":"), allow_nan=False)
    return _with_arrays(text.replace("<", "\\u003c"), arrays)


class SharedArrays:
    """The numeric arrays of a page's figures, each distinct one written once: a report's
    combinations share their time axis, price and buy-and-hold curves, so writing them once per
    page instead of once per figure keeps the page small. :func:`figure_json` with ``shared=pool``
    writes an array as ``{"admf_array": n}``; :meth:`json` is the pool, a list of typed arrays
    (``{"dtype", "bdata", "shape"}``), which the page's script puts back before drawing."""

    def __init__(self) -> None:
        self._places: dict[tuple, int] = {}
        self._arrays: list[np.ndarray] = []

    def add(self, array: np.ndarray) -> int:
        """The place of ``array`` (a typed, contiguous array) in the pool, added when new."""
        key = (array.dtype.str, array.shape, array.tobytes())
        place = self._places.get(key)
        if place is None:
            place = self._places[key] = len(self._arrays)
            self._arrays.append(array)
        return place

    def __len__(self) -> int:
        return len(self._arrays)

    def json(self) -> str:
        """The pool as JSON (script-safe: base64 and numbers only)."""
        specs = [{**_typed_spec(a), "bdata": _HOLE} for a in self._arrays]
        return _with_arrays(json.dumps(specs, separators=(",", ":")), [_base64(a) for a in self._arrays])


def _with_arrays(text: str, arrays: list[str]) -> str:
    """``text`` with each ``_HOLE`` (as JSON) replaced, in order, by the next base64 text of ``arrays``."""
    if not arrays:
        return text
    pieces = text.split(_HOLE_TEXT)
    out = [pieces[0]]
    for data, piece in zip(arrays, pieces[1:]):
        out += ['"', data, '"', piece]
    return "".join(out)


#: Where a typed array's base64 text goes in :func:`figure_json` (a string no figure holds).
_HOLE = "\x00bdata\x00"
_HOLE_TEXT = json.dumps(_HOLE)


def _finite(value: Any) -> Any:
    """Plain-data parts of a figure with NaN and infinities as None (JSON has no NaN); numpy
    arrays are left to :func:`_json_value`, whose typed arrays carry NaN as IEEE bits."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_TYPED = {np.dtype(name): code for name, code in (("float64", "f8"), ("float32", "f4"), ("int32", "i4"),
                                                  ("int16", "i2"), ("int8", "i1"), ("uint8", "u1"), ("uint16", "u2"),
                                                  ("uint32", "u4"))}


def _typed(value: Any) -> np.ndarray | None:
    """A numeric array as plotly can take it typed (contiguous, int64 as int32 when it fits), or None."""
    if not isinstance(value, np.ndarray) or not value.size:
        return None
    if value.dtype == np.int64 and -2**31 <= value.min() and value.max() < 2**31:
        value = value.astype(np.int32)
    return np.ascontiguousarray(value) if value.dtype in _TYPED else None


def _typed_spec(array: np.ndarray) -> dict:
    """A typed array's ``dtype`` (and ``shape``) as plotly reads them."""
    spec = {"dtype": _TYPED[array.dtype]}
    if array.ndim > 1:
        spec["shape"] = ", ".join(str(d) for d in array.shape)
    return spec


def _base64(array: np.ndarray) -> str:
    return base64.b64encode(array).decode()


def _json_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        array = _typed(value)
        return _finite(value.tolist()) if array is None else {**_typed_spec(array), "bdata": _base64(array)}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into a figure")


# ---- building figures as data ---------------------------------------------------------------------


def _axis(**extra) -> dict:
    return {"gridcolor": PALETTE["grid"], "zeroline": False, "linecolor": PALETTE["axis"], "showline": True,
            "ticks": "outside", "tickcolor": PALETTE["axis"], "automargin": True, **extra}


def _figure(height: int, title: str | None = None, **layout) -> dict:
    base = {
        "height": height, "font": dict(_FONT), "paper_bgcolor": "white", "plot_bgcolor": "white",
        "margin": {"l": 64, "r": 24, "t": 56 if title else 28, "b": 44},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0.0, "font": {"size": 11},
                   "bgcolor": "rgba(255,255,255,0)"},
        "hoverlabel": {"font": {"family": _FONT["family"], "size": 12}}, "showlegend": True,
        "xaxis": _axis(), "yaxis": _axis(), "annotations": [], "shapes": [],
    }
    if title:
        base["title"] = {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}}
    base.update(layout)
    return {"data": [], "layout": base}


def _stack(figure: dict, heights: Sequence[float], titles: Sequence[str], gap: float = 0.035, *,
           inside: bool = True) -> list[str]:
    """Stack ``len(heights)`` panels sharing the one x axis (``x``); returns each panel's y axis id.
    Panel titles sit in each panel's top-left corner (``inside``) or above it."""
    total = sum(heights)
    free = 1.0 - gap * (len(heights) - 1)
    top, ids = 1.0, []
    layout = figure["layout"]
    for k, (h, title) in enumerate(zip(heights, titles), start=1):
        bottom = max(top - free * h / total, 0.0)
        name = "yaxis" if k == 1 else f"yaxis{k}"
        layout[name] = _axis(domain=[bottom, top], anchor="x")
        ids.append("y" if k == 1 else f"y{k}")
        if title:  # inside the panel's top-left corner, clear of the legend above the figure
            layout["annotations"].append({"text": title, "xref": "paper", "yref": "paper", "x": 0.004 if inside else 0.0,
                                          "y": top, "xanchor": "left", "yanchor": "top" if inside else "bottom",
                                          "showarrow": False,
                                          "bgcolor": "rgba(255,255,255,0.75)",
                                          "font": {"size": 12, "color": PALETTE["muted"]}})
        top = bottom - gap
    layout["xaxis"].update(anchor=ids[-1], domain=[0.0, 1.0])
    return ids


def _grid(figure: dict, n: int, ncols: int, *, hgap: float = 0.08, vgap: float = 0.16) -> list[tuple[str, str]]:
    """Lay ``n`` panels out in a grid of ``ncols`` columns, each with its own axes; returns their (x, y) ids."""
    nrows = math.ceil(n / ncols)
    width = (1.0 - hgap * (ncols - 1)) / ncols
    height = (1.0 - vgap * (nrows - 1)) / nrows
    out = []
    layout = figure["layout"]
    for k in range(n):
        r, c = divmod(k, ncols)
        x0 = c * (width + hgap)
        y1 = 1.0 - r * (height + vgap)
        suffix = "" if k == 0 else str(k + 1)
        layout[f"xaxis{suffix}"] = _axis(domain=[x0, x0 + width], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = _axis(domain=[max(y1 - height, 0.0), y1], anchor=f"x{suffix}")
        out.append((f"x{suffix}", f"y{suffix}"))
    return out


def _spans_decades(curves: list[np.ndarray], ratio: float = 20.0) -> bool:
    """Whether positive curves span more than ``ratio`` from their lowest to their highest value, so
    that a linear axis would flatten all but the largest (equity beside a buy-and-hold multi-bagger).

    >>> _spans_decades([np.array([100.0, 180.0])]), _spans_decades([np.array([100.0, 150.0]), np.array([100.0, 9e4])])
    (False, True)
    """
    values = np.concatenate([np.asarray(c, dtype=np.float64) for c in curves])
    values = values[np.isfinite(values)]
    return bool(len(values)) and float(values.min()) > 0.0 and float(values.max()) / float(values.min()) > ratio


def _axis_key(ref: str) -> str:
    return ("xaxis" if ref[0] == "x" else "yaxis") + ref[1:]


def _note(figure: dict, text: str, *, y: float = -0.06) -> None:
    figure["layout"]["annotations"].append({"text": text, "xref": "paper", "yref": "paper", "x": 0.0, "y": y,
                                            "xanchor": "left", "yanchor": "top", "showarrow": False,
                                            "font": {"size": 11, "color": PALETTE["muted"]}})


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


class _Dates:
    """A time axis as milliseconds since the epoch (what plotly.js keeps dates as, on an axis of
    ``type: date``), made only for the points drawn: ``x[keep]``; they travel as typed arrays."""

    def __init__(self, time: np.ndarray) -> None:
        self.time = np.asarray(time, "datetime64[ns]")
        self._ms: np.ndarray | None = None

    def __getitem__(self, index) -> Any:
        if self._ms is None:  # the whole axis once: it is taken again and again
            self._ms = self.time.astype("datetime64[ms]").astype(np.int64).astype(np.float64)
        picked = self._ms[index]
        return float(picked) if np.ndim(picked) == 0 else picked

    def __len__(self) -> int:
        return len(self.time)


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
        defined = labels[~np.isnan(labels)]
        if int(np.count_nonzero(np.diff(defined) != 0)) > max_runs:
            bounds = (np.arange(max_runs + 1) * n) // max_runs
            states = np.unique(defined)
            counts = np.stack([np.add.reduceat((labels == s).astype(np.int64), bounds[:-1]) for s in states])
            unknown = np.add.reduceat(np.isnan(labels).astype(np.int64), bounds[:-1])
            labels = np.where(unknown > counts.max(axis=0), np.nan, states[counts.argmax(axis=0)])
            index = bounds[:-1]
    change = np.flatnonzero(np.concatenate(([True], ~((labels[1:] == labels[:-1]) |
                                                      (np.isnan(labels[1:]) & np.isnan(labels[:-1]))))))
    stops = np.append(index[change[1:]], n)
    return [(int(index[a]), int(b), int(labels[a])) for a, b in zip(change, stops) if not np.isnan(labels[a])]


# ---- one combination ----------------------------------------------------------------------------


def combination_figure(shown, *, max_points: int = MAX_POINTS, max_trades: int = MAX_TRADES,
                       title: str | None = None) -> dict:
    """The linked panels of one combination (a :class:`pipelines.reporting.run_folder.Shown`), sharing one
    time axis with zoom and a crosshair: equity and buy-and-hold, underwater, price with trades
    and regime bands (one price panel per symbol, at most four), position."""
    bars = list(shown.bars[:4])
    titles = ["Equity", "Drawdown (%)"] + [f"{b.symbol} price" for b in bars] + ["Position (units)"]
    heights = [0.30, 0.12] + [0.40 / max(len(bars), 1)] * len(bars) + [0.13]
    fig = _figure(220 + 190 * len(titles), title, hovermode="x", dragmode="zoom")
    axes = _stack(fig, heights, titles)
    data, layout = fig["data"], fig["layout"]
    time, equity = shown.time, np.asarray(shown.equity, dtype=np.float64)
    x = _Dates(time)
    n = len(equity)
    keep = drawdown_indices(equity, max_points)
    benchmark = _benchmark(time, bars, float(equity[0])) if n else None
    if benchmark is not None:
        b = extrema_indices(benchmark, max_points)
        data.append({"type": "scatter", "x": x[b], "y": benchmark[b], "name": "buy & hold", "mode": "lines",
                     "line": {"color": PALETTE["benchmark"], "width": 1.2}, "yaxis": axes[0],
                     "hovertemplate": "buy & hold %{y:,.2f}<extra></extra>"})
    if shown.part is not None and np.any(shown.part == "test"):
        first_test = int(np.argmax(shown.part == "test"))
        for name, colour, label in (("train", PALETTE["equity"], "equity (in-sample)"),
                                    ("test", PALETTE["oos"], "equity (out-of-sample, compounded on)")):
            mask = shown.part[keep] == name
            data.append({"type": "scatter", "x": x[keep][mask], "y": equity[keep][mask], "mode": "lines",
                         "name": label, "line": {"color": colour, "width": 1.8}, "yaxis": axes[0],
                         "hovertemplate": "equity %{y:,.2f}<extra></extra>"})
        layout["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": x[first_test],
                                 "x1": x[first_test], "y0": 0, "y1": 1,
                                 "line": {"color": PALETTE["muted"], "width": 1, "dash": "dash"}})
        layout["annotations"].append({"text": "out-of-sample →", "xref": "x", "yref": "paper", "x": x[first_test],
                                      "y": 1.0, "xanchor": "left", "yanchor": "top", "showarrow": False,
                                      "xshift": 4, "bgcolor": "rgba(255,255,255,0.75)",
                                      "font": {"size": 11, "color": PALETTE["muted"]}})
    else:
        data.append({"type": "scatter", "x": x[keep], "y": equity[keep], "name": "equity", "mode": "lines",
                     "line": {"color": PALETTE["equity"], "width": 1.8}, "yaxis": axes[0],
                     "hovertemplate": "equity %{y:,.2f}<extra></extra>"})
    if n:
        peak = np.maximum.accumulate(equity)
        drawdown = (equity / peak - 1.0) * 100.0
        top, trough = int(np.argmax(equity)), int(np.argmin(drawdown))
        start = int(np.argmax(equity[:trough + 1]))
        data.append({"type": "scatter", "x": [x[top]], "y": [equity[top]], "mode": "markers", "yaxis": axes[0],
                     "name": f"peak {equity[top]:,.0f}", "hovertemplate": "peak %{y:,.2f}<extra></extra>",
                     "marker": {"color": "#1f9fb3", "size": 9, "symbol": "diamond", "line": {"color": "white", "width": 1}}})
        if drawdown[trough] < 0.0:
            data.append({"type": "scatter", "x": [x[start], x[trough]], "y": [equity[start], equity[trough]],
                         "mode": "lines+markers", "name": f"max drawdown {drawdown[trough]:.1f}%", "yaxis": axes[0],
                         "line": {"color": PALETTE["drawdown"], "width": 2, "dash": "dot"},
                         "marker": {"size": 7, "color": PALETTE["drawdown"]},
                         "hovertemplate": "%{y:,.2f}<extra>max drawdown</extra>"})
        d = extrema_indices(drawdown, max_points)
        data.append({"type": "scatter", "x": x[d], "y": drawdown[d], "name": "drawdown", "mode": "lines",
                     "fill": "tozeroy", "line": {"color": PALETTE["drawdown"], "width": 1}, "yaxis": axes[1],
                     "fillcolor": "rgba(200,65,59,0.18)", "showlegend": False,
                     "hovertemplate": "drawdown %{y:.2f}%<extra></extra>"})
    curves = [equity] + ([benchmark] if benchmark is not None else [])
    if n and _spans_decades(curves):
        layout[_axis_key(axes[0])].update(type="log")  # a multi-bagger beside a flat curve: ratios, not levels
        layout["annotations"].append({"text": "log scale", "xref": "paper", "yref": "paper", "x": 1.0, "xanchor": "right",
                                      "y": layout[_axis_key(axes[0])]["domain"][1], "yanchor": "top",
                                      "showarrow": False, "font": {"size": 10, "color": PALETTE["muted"]}})
    for k, b in enumerate(bars):
        axis = axes[2 + k]
        _price_panel(data, b, axis, max_points)
        labels = shown.labels[k] if k < len(shown.labels) else None
        if labels is not None and len(labels) == len(b):
            _regime_bands(fig, b, labels, axis)
        _trade_markers(fig, shown, b.symbol, axis, max_trades, several=len(bars) > 1, legend=k == 0)
    position = np.asarray(shown.position, dtype=np.float64).reshape(n, -1) if n else np.zeros((0, 1))
    for k in range(position.shape[1]):
        column = position[:, k]
        changes = np.flatnonzero(np.diff(column) != 0.0)
        p = np.unique(np.concatenate(([0, max(n - 1, 0)], changes, changes + 1))) if n else np.arange(0)
        if len(p) > max_points:
            p = extrema_indices(column, max_points)
        symbol = shown.symbols[k] if k < len(shown.symbols) else ""
        several = position.shape[1] > 1
        data.append({"type": "scatter", "x": x[p], "y": column[p], "mode": "lines", "line_shape": "hv",
                     "yaxis": axes[-1], "name": f"position {symbol}", "showlegend": several,
                     "line": {"color": SEQUENCE[k % len(SEQUENCE)] if several else PALETTE["position"], "width": 1.3},
                     "hovertemplate": f"position {symbol} %{{y:,.4g}}<extra></extra>"})
    layout["xaxis"].update(type="date", showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1,
                           spikecolor="#9aa4b1", spikedash="solid", rangeslider={"visible": False})
    if n > max_points:
        _note(fig, f"{n:,} bars drawn as at most {max_points:,} points per line: each bucket's low and high and the "
                   "deepest drawdown with its peak are kept, so no drawdown or spike is lost", y=-0.035)
    return fig


def _price_panel(data: list, bars, axis: str, max_points: int) -> None:
    x = _Dates(bars.time)
    if len(bars) <= MAX_CANDLES:
        data.append({"type": "candlestick", "x": x[:], "open": bars.open, "high": bars.high, "low": bars.low,
                     "close": bars.close, "name": bars.symbol, "showlegend": False, "yaxis": axis,
                     "increasing": {"line": {"color": "#5b8f73", "width": 1}, "fillcolor": "#a9d3bb"},
                     "decreasing": {"line": {"color": "#b3605b", "width": 1}, "fillcolor": "#e6b3b0"}})
        return
    keep = extrema_indices(np.column_stack((bars.low, bars.high)), max_points)
    data.append({"type": "scatter", "x": x[keep], "y": bars.close[keep], "mode": "lines", "yaxis": axis,
                 "name": f"{bars.symbol} close", "line": {"color": PALETTE["price"], "width": 1}, "showlegend": False,
                 "hovertemplate": f"{bars.symbol} close %{{y:,.4g}}<extra></extra>"})


def _regime_bands(fig: dict, bars, labels: np.ndarray, axis: str) -> None:
    x = _Dates(bars.time)
    for start, stop, label in _runs(labels):
        fig["layout"]["shapes"].append({"type": "rect", "xref": "x", "yref": f"{axis} domain", "x0": x[start],
                                        "x1": x[stop] if stop < len(x) else x[-1], "y0": 0, "y1": 1,
                                        "fillcolor": REGIME_COLOURS[label % len(REGIME_COLOURS)], "line": {"width": 0},
                                        "layer": "below"})
    seen = sorted({label for _, _, label in _runs(labels)})
    for label in seen:  # a legend entry per regime
        fig["data"].append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "yaxis": axis,
                            "name": f"regime {label}", "hoverinfo": "skip",
                            "marker": {"symbol": "square", "size": 11,
                                       "color": REGIME_COLOURS[label % len(REGIME_COLOURS)].replace("0.11", "0.45")
                                       .replace("0.13", "0.5")}})


def _trade_markers(fig: dict, shown, symbol: str, axis: str, max_trades: int, *, several: bool, legend: bool) -> None:
    t = shown.trades
    if not t.num_rows:
        return
    column = lambda name, dtype: np.asarray(t.column(name).to_numpy(zero_copy_only=False), dtype)
    index = (np.flatnonzero(np.asarray(t.column("symbol").to_numpy(zero_copy_only=False), object) == symbol)
             if several else np.arange(t.num_rows))
    if not len(index):
        return
    pnl = column("pnl", np.float64)
    chosen = index[representative_rows(pnl[index], max_trades)]
    reasons = list(shown.exit_reasons) if len(shown.exit_reasons) == t.num_rows else [None] * t.num_rows
    size, entry_price = column("size", np.float64), column("entry_price", np.float64)
    closed = np.asarray(t.column("exit_time").is_valid().to_numpy(zero_copy_only=False), bool)
    exit_price = column("exit_price", np.float64)
    returns = pnl / (np.abs(size) * entry_price) * 100.0
    entry_time, exit_time = column("entry_time", "datetime64[ns]"), column("exit_time", "datetime64[ns]")
    colour = np.where(pnl >= 0.0, PALETTE["win"], PALETTE["loss"])
    # the hover: numbers formatted by plotly from customdata, words per trade
    words = np.array([f"{'long' if q > 0 else 'short'} · exit reason: {r or ('—' if not ok else 'unknown')}"
                      for q, r, ok in zip(size[chosen].tolist(), [reasons[i] for i in chosen.tolist()],
                                          closed[chosen].tolist())], dtype=object)
    numbers = np.column_stack((np.abs(size), entry_price, exit_price, pnl, returns))
    hover = ("%{text}<br>%{customdata[0]:,.6g} units<br>entry %{customdata[1]:,.6g} → exit {exit}<br>"
             "pnl %{customdata[3]:,.2f} (%{customdata[4]:+.2f}%)<extra>{what}</extra>")
    at = {int(i): k for k, i in enumerate(chosen.tolist())}
    for name, rows in (("closed", chosen[closed[chosen]]), ("open", chosen[~closed[chosen]])):
        if not len(rows) and name == "open":
            continue
        k = [at[int(i)] for i in rows]
        exit_ = "%{customdata[2]:,.6g}" if name == "closed" else "open at the end"
        fig["data"].append({"type": "scatter", "x": _Dates(entry_time)[rows], "y": entry_price[rows], "mode": "markers",
                            "name": "entry (▲ long, ▼ short)", "yaxis": axis, "legendgroup": "entry",
                            "showlegend": legend and (name == "closed" or not len(chosen[closed[chosen]])),
                            "marker": {"symbol": np.where(size[rows] > 0, "triangle-up", "triangle-down").tolist(),
                                       "size": 9, "color": colour[rows].tolist(),
                                       "line": {"color": "white", "width": 0.8}},
                            "text": words[k].tolist(), "customdata": numbers[rows],
                            "hovertemplate": hover.replace("{exit}", exit_).replace("{what}", "entry")})
    e = chosen[closed[chosen]]
    fig["data"].append({"type": "scatter", "x": _Dates(exit_time)[e], "y": exit_price[e], "mode": "markers",
                        "name": "exit (green: won, red: lost)", "yaxis": axis, "showlegend": legend,
                        "legendgroup": "exit",
                        "marker": {"symbol": "x-thin", "size": 8, "color": colour[e].tolist(),
                                   "line": {"color": colour[e].tolist(), "width": 2}},
                        "text": words[[at[int(i)] for i in e]].tolist(), "customdata": numbers[e],
                        "hovertemplate": hover.replace("{exit}", "%{customdata[2]:,.6g}").replace("{what}", "exit")})
    if len(chosen) < len(index):
        fig["layout"]["annotations"].append({
            "text": f"showing {len(chosen):,} of {len(index):,} trades: the largest wins and losses and an even "
                    "spread of the rest", "xref": "paper", "yref": f"{axis} domain", "x": 0.0, "y": 1.0,
            "xanchor": "left", "yanchor": "top", "showarrow": False, "font": {"size": 11, "color": PALETTE["muted"]}})


# ---- returns calendars and distributions ----------------------------------------------------------


def monthly_returns(time: np.ndarray, equity: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """``(years, months, yearly)``: the compounded return of each calendar month in percent
    (``months[year, month - 1]``, NaN without bars) and of each year, from close-marked equity.

    >>> t = np.array(["2020-01-30", "2020-01-31", "2020-02-28", "2020-03-31"], "datetime64[ns]")
    >>> years, months, yearly = monthly_returns(t, np.array([100.0, 110.0, 99.0, 108.9]))
    >>> years, [round(float(v), 6) for v in months[0, :4]], round(float(yearly[0]), 6)
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
    grid[np.searchsorted(years, years_of), which.astype(np.int64) % 12] = change
    yearly = np.array([(np.prod(1.0 + row[~np.isnan(row)] / 100.0) - 1.0) * 100.0 for row in grid])
    return years, grid, yearly


def monthly_returns_figure(time: np.ndarray, equity: np.ndarray, *, title: str | None = "Monthly returns (%)") -> dict:
    """A year × month heatmap of compounded monthly returns, the year's total beside it."""
    years, grid, yearly = monthly_returns(time, equity)
    columns = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    labels = [str(y) for y in years]
    bound = float(np.nanmax(np.abs(grid))) if np.any(~np.isnan(grid)) else 1.0
    year_bound = float(np.nanmax(np.abs(yearly))) if len(yearly) and np.any(~np.isnan(yearly)) else 1.0
    fig = _figure(max(220, 90 + 24 * len(years)), title, showlegend=False)
    fig["layout"]["xaxis"] = _axis(domain=[0.0, 0.86], side="top", showgrid=False, ticks="", showline=False)
    fig["layout"]["xaxis2"] = _axis(domain=[0.88, 1.0], side="top", showgrid=False, ticks="", showline=False,
                                    anchor="y")
    fig["layout"]["yaxis"] = _axis(autorange="reversed", type="category", showgrid=False, showline=False)
    fig["data"].append({"type": "heatmap", "z": grid, "x": columns, "y": labels, "colorscale": DIVERGING, "zmid": 0.0,
                        "zmin": -bound, "zmax": bound, "showscale": False, "xgap": 2, "ygap": 2,
                        "texttemplate": "%{z:.1f}", "textfont": {"size": 10}, "hoverongaps": False,
                        "hovertemplate": "%{y} %{x}: %{z:.2f}%<extra></extra>"})
    fig["data"].append({"type": "heatmap", "z": yearly[:, None] if len(yearly) else np.zeros((0, 1)), "x": ["Year"],
                        "y": labels, "xaxis": "x2", "colorscale": DIVERGING, "zmid": 0.0, "zmin": -year_bound,
                        "zmax": year_bound, "showscale": False, "ygap": 2,
                        "texttemplate": "<b>%{z:.1f}</b>", "textfont": {"size": 10},
                        "hovertemplate": "%{y}: %{z:.2f}%<extra></extra>"})
    return fig


def trade_returns_figure(trades, *, title: str | None = "Trade returns (%)") -> dict:
    """Histogram of closed trades' returns (pnl over the entry value), wins and losses apart."""
    fig = _figure(300, title, barmode="overlay", bargap=0.05)
    if trades.num_rows:
        column = lambda name: np.asarray(trades.column(name).to_numpy(zero_copy_only=False), np.float64)
        closed = np.asarray(trades.column("exit_time").is_valid().to_numpy(zero_copy_only=False), bool)
        returns = (column("pnl") / (np.abs(column("size")) * column("entry_price")) * 100.0)[closed]
    else:
        returns = np.zeros(0)
    bins = None
    if len(returns):
        low, high = float(returns.min()), float(returns.max())
        width = (high - low) / 40 if high > low else 1.0
        bins = {"start": low, "end": high + width, "size": width}
    for name, mask, colour in (("losses", returns < 0.0, PALETTE["loss"]), ("wins", returns >= 0.0, PALETTE["win"])):
        fig["data"].append({"type": "histogram", "x": returns[mask], "name": f"{name} ({int(mask.sum())})",
                            "xbins": bins, "marker": {"color": colour}, "opacity": 0.8,
                            "hovertemplate": "%{x}: %{y} trades<extra></extra>"})
    if len(returns):
        mean = float(returns.mean())
        fig["layout"]["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": mean, "x1": mean, "y0": 0,
                                        "y1": 1, "line": {"color": PALETTE["text"], "width": 1, "dash": "dash"}})
        fig["layout"]["annotations"].append({"text": f"mean {mean:+.2f}%", "xref": "x", "yref": "paper", "x": mean,
                                             "y": 1.0, "xanchor": "left", "yanchor": "top", "showarrow": False,
                                             "font": {"size": 11, "color": PALETTE["muted"]}})
    fig["layout"]["xaxis"].update(title={"text": "return per trade (%)"})
    fig["layout"]["yaxis"].update(title={"text": "trades"})
    return fig


# ---- the parameter landscape --------------------------------------------------------------------


def _label(name: str) -> str:
    return name.replace("_", " ")


def landscape_figure(rows: list[dict], parameters: Sequence[str], metric: str, *, title: str | None = None,
                     best: dict | None = None, aggregate: str = "max") -> dict:
    """Every pair of ``parameters`` as a heatmap of ``metric`` over ``rows`` (result rows), the other
    dimensions aggregated; buttons switch max / mean / robustness (the best neighbourhood mean of
    each cell). One shared colour scale; cells a constraint removed stay blank; ``best``'s cell
    is starred. One parameter: the metric per value as a line (every combination a dot)."""
    z = np.array([metric_value(r.get(metric)) for r in rows], dtype=np.float64)
    values = {p: [r.get(p) for r in rows] for p in parameters}
    if len(parameters) == 1:
        (p,) = parameters
        stats = marginal(values[p], z)
        fig = _figure(340, title)
        xs = [_text(s["value"]) for s in stats]
        fig["data"] += [
            {"type": "scatter", "x": [_text(v) for v in values[p]], "y": z, "mode": "markers", "name": "combinations",
             "marker": {"color": PALETTE["benchmark"], "size": 6},
             "hovertemplate": f"{p}=%{{x}}<br>{metric} %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "x": xs, "y": [s["max"] for s in stats], "mode": "lines+markers", "name": "best",
             "line": {"color": PALETTE["equity"], "width": 2}},
            {"type": "scatter", "x": xs, "y": [s["mean"] for s in stats], "mode": "lines", "name": "mean",
             "line": {"color": PALETTE["oos"], "width": 1.5, "dash": "dash"}}]
        fig["layout"]["xaxis"].update(title={"text": _label(p)}, type="category")
        fig["layout"]["yaxis"].update(title={"text": metric})
        return fig
    pairs = list(itertools.combinations(parameters, 2))
    robust = neighbourhood_mean([values[p] for p in parameters], z)
    ncols = min(3, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig = _figure(max(380, 340 * nrows + 70), title, showlegend=False)
    cells = _grid(fig, len(pairs), ncols, hgap=0.09, vgap=0.22 if nrows > 1 else 0.1)
    grids: dict[str, list] = {"max": [], "mean": [], "robustness": []}
    heatmaps = []
    for (px, py), (xa, ya) in zip(pairs, cells):
        xs, ys, g_max = grid_aggregate(values[px], values[py], z, "max")
        grids["max"].append(g_max)
        grids["mean"].append(grid_aggregate(values[px], values[py], z, "mean")[2])
        grids["robustness"].append(grid_aggregate(values[px], values[py], robust, "max")[2])
        heatmaps.append(len(fig["data"]))
        fig["data"].append({"type": "heatmap", "z": grids.get(aggregate, grids["max"])[-1],
                            "x": [_text(v) for v in xs], "y": [_text(v) for v in ys], "coloraxis": "coloraxis",
                            "xaxis": xa, "yaxis": ya, "xgap": 1, "ygap": 1, "hoverongaps": False,
                            "hovertemplate": f"{px}=%{{x}}<br>{py}=%{{y}}<br>{metric} %{{z:.4f}}<extra></extra>"})
        fig["layout"][_axis_key(xa)].update(title={"text": _label(px)}, type="category", showgrid=False)
        fig["layout"][_axis_key(ya)].update(title={"text": _label(py)}, type="category", showgrid=False)
        if best is not None and best.get(px) is not None and best.get(py) is not None:
            fig["data"].append({"type": "scatter", "x": [_text(best[px])], "y": [_text(best[py])], "mode": "markers",
                                "xaxis": xa, "yaxis": ya, "hovertemplate": "the best combination<extra></extra>",
                                "marker": {"symbol": "star", "size": 15, "color": "white",
                                           "line": {"color": "black", "width": 1.2}}})
    finite = np.concatenate([g[~np.isnan(g)] for how in grids for g in grids[how]] or [np.zeros(0)])
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    names = {"max": "max over the others", "mean": "mean over the others",
             "robustness": "robustness (neighbourhood mean)"}
    buttons = [{"label": names[how], "method": "restyle", "args": [{"z": grids[how]}, heatmaps]}
               for how in ("max", "mean", "robustness")]
    fig["layout"]["margin"]["t"] = 92  # the buttons sit under the mode bar, not on it
    fig["layout"].update(
        coloraxis={"colorscale": "Viridis", "cmin": low, "cmax": high,
                   "colorbar": {"title": {"text": metric}, "thickness": 12}},
        updatemenus=[{"type": "buttons", "direction": "right", "x": 1.0, "xanchor": "right", "y": 1.0,
                      "yanchor": "bottom", "pad": {"b": 8}, "buttons": buttons, "showactive": True,
                      "active": ["max", "mean", "robustness"].index(aggregate) if aggregate in grids else 0,
                      "bgcolor": "white", "bordercolor": PALETTE["axis"], "font": {"size": 11}}])
    return fig


def sensitivity_figure(rows: list[dict], parameters: Sequence[str], metric: str, *, title: str | None = None) -> dict:
    """``metric`` marginalised per value of each parameter: the mean, and the min–max band over
    every other parameter (as ``admf query --analysis sensitivity`` computes it)."""
    z = np.array([metric_value(r.get(metric)) for r in rows], dtype=np.float64)
    ncols = min(4, max(len(parameters), 1))
    nrows = math.ceil(len(parameters) / ncols)
    fig = _figure(max(300, 270 * nrows + 60), title)
    fig["layout"]["legend"].update(x=1.0, xanchor="right", y=1.0, yanchor="bottom")
    cells = _grid(fig, len(parameters), ncols, hgap=0.05, vgap=0.25)
    for k, (p, (xa, ya)) in enumerate(zip(parameters, cells)):
        stats = marginal([r.get(p) for r in rows], z)
        xs = [_text(s["value"]) for s in stats]
        first = k == 0
        common = {"type": "scatter", "x": xs, "xaxis": xa, "yaxis": ya}
        fig["data"] += [
            {**common, "y": [s["max"] for s in stats], "mode": "lines", "line": {"width": 0}, "showlegend": False,
             "hoverinfo": "skip"},
            {**common, "y": [s["min"] for s in stats], "mode": "lines", "line": {"width": 0}, "fill": "tonexty",
             "fillcolor": "rgba(36,86,166,0.13)", "name": "min–max over the others", "showlegend": first,
             "hoverinfo": "skip"},
            {**common, "y": [s["mean"] for s in stats], "mode": "lines+markers", "name": "mean", "showlegend": first,
             "line": {"color": PALETTE["equity"], "width": 2},
             "customdata": [[s["median"], s["min"], s["max"], s["n"]] for s in stats],
             "hovertemplate": f"{p}=%{{x}}<br>mean %{{y:.4f}}<br>median %{{customdata[0]:.4f}}<br>min "
                              "%{customdata[1]:.4f} max %{customdata[2]:.4f}<br>n %{customdata[3]}<extra></extra>"}]
        fig["layout"][_axis_key(xa)].update(type="category", title={"text": _label(p)})
        fig["layout"][_axis_key(ya)].update(title={"text": metric} if k % ncols == 0 else None)
    return fig


# ---- optimization -------------------------------------------------------------------------------


def train_test_figure(rows: list[dict], metric: str, *, title: str | None = None) -> dict:
    """In-sample vs out-of-sample ``metric`` of every combination that has both (the selected ones
    highlighted and numbered by rank), with the line where they are equal; the chart says how many
    combinations it shows and how many of them were selected."""
    both = [r for r in rows if math.isfinite(metric_value(r.get(f"train_{metric}")))
            and math.isfinite(metric_value(r.get(f"test_{metric}")))]
    fig = _figure(440, title)
    xs = [metric_value(r.get(f"train_{metric}")) for r in both]
    ys = [metric_value(r.get(f"test_{metric}")) for r in both]
    if both:
        low, high = min(xs + ys), max(xs + ys)
        pad = (high - low) * 0.08 or 0.5
        fig["data"].append({"type": "scatter", "x": [low - pad, high + pad], "y": [low - pad, high + pad],
                            "mode": "lines", "name": "out-of-sample = in-sample", "hoverinfo": "skip",
                            "line": {"color": PALETTE["benchmark"], "dash": "dash"}})
    n_selected = sum(1 for r in both if r.get("selected"))
    for selected, colour, name in ((False, PALETTE["benchmark"], f"not selected ({len(both) - n_selected})"),
                                   (True, PALETTE["equity"], f"selected ({n_selected}), by rank")):
        part = [(x, y, r) for x, y, r in zip(xs, ys, both) if bool(r.get("selected")) == selected]
        if not part:
            continue
        fig["data"].append({"type": "scatter", "x": [p[0] for p in part], "y": [p[1] for p in part],
                            "mode": "markers+text" if selected else "markers", "name": name,
                            "text": [f"#{p[2].get('rank')}" if selected else "" for p in part],
                            "textposition": "top center", "customdata": [[p[2].get("combo_id")] for p in part],
                            "marker": {"color": colour, "size": 11 if selected else 7,
                                       "line": {"color": "white", "width": 1}},
                            "hovertemplate": "%{customdata[0]}<br>in-sample %{x:.4f}<br>out-of-sample %{y:.4f}"
                                             "<extra></extra>"})
    left_out = len(rows) - len(both)
    _note(fig, f"{len(both):,} of {len(rows):,} combinations have both an in-sample and an out-of-sample {metric}; "
               f"{n_selected:,} of them were selected"
               + (f" ({left_out:,} without both are left out)" if left_out else ""), y=-0.2)
    fig["layout"]["margin"]["b"] = 92
    fig["layout"]["xaxis"].update(title={"text": f"in-sample {metric}"})
    fig["layout"]["yaxis"].update(title={"text": f"out-of-sample {metric}"})
    return fig


def walk_forward_figure(windows: list[dict], time: np.ndarray, equity: np.ndarray, *, max_points: int = MAX_POINTS,
                        title: str | None = None) -> dict:
    """Walk-forward windows on a timeline (training and test ranges, the chosen parameters in the
    hover) above the stitched out-of-sample equity, on one time axis."""
    fig = _figure(320 + 22 * len(windows) + 260, title, hovermode="closest", showlegend=False)
    axes = _stack(fig, [0.45, 0.55], ["windows: training (light) → test (dark)", "stitched out-of-sample equity"],
                  gap=0.12, inside=False)
    skip = {"window", "symbol", "train_start", "train_end", "test_start", "test_end", "combo_id", "strategy"}
    for w in windows:
        params = ", ".join(f"{k}={w[k]}" for k in w if k not in skip and not k.startswith(("train_", "test_")))
        label = f"window {w['window']}"
        hover = (f"{label}<br>{params}<br>sharpe: train {_fmt(metric_value(w.get('train_sharpe')), 3)} → test "
                 f"{_fmt(metric_value(w.get('test_sharpe')), 3)}")
        for part, colour in (("train", PALETTE["train"]), ("test", PALETTE["test"])):
            fig["data"].append({"type": "scatter", "x": [_iso(w[f"{part}_start"]), _iso(w[f"{part}_end"])],
                                "y": [label, label], "mode": "lines", "yaxis": axes[0], "showlegend": False,
                                "line": {"color": colour, "width": 12}, "hovertemplate": hover + "<extra></extra>"})
    equity = np.asarray(equity, dtype=np.float64)
    keep = drawdown_indices(equity, max_points)
    fig["data"].append({"type": "scatter", "x": _Dates(time)[keep], "y": equity[keep],
                        "mode": "lines", "name": "out-of-sample equity", "yaxis": axes[1],
                        "line": {"color": PALETTE["equity"], "width": 1.8},
                        "hovertemplate": "equity %{y:,.2f}<extra></extra>"})
    fig["layout"]["yaxis"].update(autorange="reversed", type="category")
    fig["layout"]["xaxis"].update(type="date", showspikes=True, spikemode="across", spikethickness=1, spikecolor="#9aa4b1")
    return fig


def pbo_figure(overfitting: dict, *, title: str | None = None, bins: int = 30) -> dict:
    """The distribution of the CSCV logits (the manifest's overfitting statistics) as a histogram
    of about ``bins`` bins, one edge at 0; a bin is ``(a, b]``, so λ = 0 falls in the red part
    (λ ≤ 0: the in-sample best did no better than the out-of-sample median)."""
    values = np.array(overfitting.get("logit_values", []), dtype=np.float64)
    counts = np.array(overfitting.get("logit_counts", []), dtype=np.float64)
    fig = _figure(320, title, showlegend=False)
    if len(values) and counts.sum() > 0:
        lo, hi = float(values.min()), float(values.max())
        width = (hi - lo) / bins if hi > lo else 0.2
        first = math.ceil(lo / width) - 1  # the first edge below every value: bins are (a, b]
        edges = width * np.arange(first, max(math.ceil(hi / width), first + 1) + 1)
        at = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, len(edges) - 2)
        share = np.bincount(at, weights=counts, minlength=len(edges) - 1) / counts.sum()
        keep = share > 0
        left, right = edges[:-1][keep], edges[1:][keep]
        fig["data"].append({"type": "bar", "x": (left + right) / 2, "y": share[keep], "width": width * 0.92,
                            "name": "splits", "customdata": np.column_stack((left, right)),
                            "marker": {"color": np.where(right <= 0.0, PALETTE["loss"], PALETTE["equity"]).tolist()},
                            "hovertemplate": "λ in (%{customdata[0]:.2f}, %{customdata[1]:.2f}]: %{y:.1%} of splits"
                                             "<extra></extra>"})
        fig["layout"]["shapes"].append({"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0,
                                        "y1": 1, "line": {"color": PALETTE["text"], "width": 1, "dash": "dash"}})
        fig["layout"]["annotations"].append({"text": "λ ≤ 0: overfit ←", "xref": "x", "yref": "paper", "x": 0,
                                             "y": 1.0, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                                             "font": {"size": 11, "color": PALETTE["loss"]}})
    fig["layout"]["xaxis"].update(title={"text": "logit λ of the in-sample best's out-of-sample rank"})
    fig["layout"]["yaxis"].update(title={"text": "share of splits"}, tickformat=".0%")
    return fig


# ---- regimes and portfolios -----------------------------------------------------------------------


def regime_figure(stats: list[dict], keys: Sequence[str], *, title: str | None = None) -> dict:
    """Per-regime return, exposure and trades of the given combinations (``stats``: rows of
    ``regime_stats``; ``keys``: combo ids in the order to show)."""
    fig = _figure(380, title, barmode="group")
    cells = _grid(fig, 3, 3, hgap=0.07)
    for (xa, _), text in zip(cells, ("return in the regime (%)", "exposure in the regime (%)", "trades entered")):
        fig["layout"]["annotations"].append({"text": text, "xref": f"{xa} domain", "yref": "paper", "x": 0.0, "y": 1.0,
                                             "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                             "font": {"size": 12, "color": PALETTE["muted"]}})
        fig["layout"][_axis_key(xa)].update(tickangle=-45, tickfont={"family": _MONO, "size": 10}, type="category")
    fig["layout"]["legend"].update(x=1.0, xanchor="right", y=1.07)
    fig["layout"]["margin"]["t"] = 72
    for regime in sorted({r["regime"] for r in stats}):
        mine = {r["combo_id"]: r for r in stats if r["regime"] == regime}
        for c, ((xa, ya), field) in enumerate(zip(cells, ("return_pct", "exposure_pct", "trades"))):
            fig["data"].append({"type": "bar", "x": list(keys), "y": [(mine.get(k) or {}).get(field) for k in keys],
                                "xaxis": xa, "yaxis": ya, "name": f"regime {regime}", "showlegend": c == 0,
                                "legendgroup": f"r{regime}",
                                "marker": {"color": REGIME_SOLID[regime % len(REGIME_SOLID)]},
                                "hovertemplate": f"%{{x}}<br>regime {regime}: %{{y:,.2f}}<extra></extra>"})
    return fig


def strategy_by_classifier_figure(rows: list[dict], strategy_columns: Sequence[str], classifier_columns: Sequence[str],
                                  metric: str, *, title: str | None = None) -> dict:
    """The strategy × classifier grid: one row per strategy point, one column per classifier
    point, each cell the best ``metric`` over the other settings (written in the cell). The axis
    titles name the parameters (``·`` between them), the ticks give their values."""
    varying = lambda columns: [c for c in columns if len({repr(r.get(c)) for r in rows}) > 1]
    strategy_columns, classifier_columns = varying(strategy_columns), varying(classifier_columns)
    strategies = len({r.get("strategy") for r in rows}) > 1 or not strategy_columns
    classifiers = len({r.get("classifier") for r in rows}) > 1 or not classifier_columns
    point = lambda r, name, columns, named: " · ".join(
        ([str(r.get(name))] if named else []) + [_text(r.get(c)) for c in columns if r.get(c) is not None])
    strategy = [point(r, "strategy", strategy_columns, strategies) for r in rows]
    classifier = [point(r, "classifier", classifier_columns, classifiers) for r in rows]
    y_title = " · ".join((["strategy"] if strategies else []) + [_label(c) for c in strategy_columns])
    x_title = " · ".join((["classifier"] if classifiers else []) +
                         [_label(c[len("classifier_"):] if c.startswith("classifier_") else c)
                          for c in classifier_columns])
    z = np.array([metric_value(r.get(metric)) for r in rows], dtype=np.float64)
    xs, ys, grid = grid_aggregate(classifier, strategy, z, "max")
    fig = _figure(max(300, 170 + 38 * len(ys)), title, showlegend=False)
    fig["data"].append({"type": "heatmap", "z": grid, "x": xs, "y": ys, "colorscale": "Viridis", "xgap": 2, "ygap": 2,
                        "hoverongaps": False, "texttemplate": "%{z:.2f}", "textfont": {"size": 11},
                        "colorbar": {"title": {"text": metric}, "thickness": 12},
                        "hovertemplate": f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>{metric} %{{z:.4f}}"
                                         "<extra></extra>"})
    fig["layout"]["xaxis"].update(type="category", title={"text": x_title}, showgrid=False,
                                  tickmode="array", tickvals=xs, ticktext=xs)
    fig["layout"]["yaxis"].update(type="category", title={"text": y_title}, showgrid=False,
                                  tickmode="array", tickvals=ys, ticktext=ys)
    return fig


def portfolio_figure(symbol_stats: list[dict], shown, *, max_points: int = MAX_POINTS,
                     title: str | None = None) -> dict:
    """A shared-cash portfolio: each symbol's net pnl (hover: trades, win rate, commission,
    exposure) and the value held in each symbol over time, stacked."""
    fig = _figure(380, title)
    fig["layout"]["legend"].update(x=1.0, xanchor="right", y=1.07)
    fig["layout"]["margin"]["t"] = 72
    (xa, ya), (xb, yb) = _grid(fig, 2, 2, hgap=0.08)
    fig["layout"]["xaxis"]["domain"] = [0.0, 0.26]
    fig["layout"]["xaxis2"].update(domain=[0.34, 1.0], type="date")
    for axis, text in ((xa, "net pnl per symbol"), (xb, "value held per symbol")):
        fig["layout"]["annotations"].append({"text": text, "xref": f"{axis} domain", "yref": "paper", "x": 0.0, "y": 1.0,
                                             "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                             "font": {"size": 12, "color": PALETTE["muted"]}})
    fig["data"].append({"type": "bar", "x": [r["symbol"] for r in symbol_stats], "y": [r["net_pnl"] for r in symbol_stats],
                        "xaxis": xa, "yaxis": ya, "showlegend": False,
                        "marker": {"color": [PALETTE["win"] if (r["net_pnl"] or 0) >= 0 else PALETTE["loss"]
                                             for r in symbol_stats]},
                        "customdata": [[r["n_trades"], metric_value(r["win_rate_pct"]), r["commission"],
                                        metric_value(r["exposure_pct"])] for r in symbol_stats],
                        "hovertemplate": "%{x}: %{y:,.2f}<br>%{customdata[0]} trades, %{customdata[1]:.1f}% won<br>"
                                         "commission %{customdata[2]:,.2f}<br>exposure %{customdata[3]:.1f}%"
                                         "<extra></extra>"})
    if shown is not None and shown.bars:
        time = shown.time
        x = _Dates(time)
        position = np.asarray(shown.position, dtype=np.float64).reshape(len(time), -1)
        for k, b in enumerate(shown.bars):
            value = position[:, k] * np.nan_to_num(_closes_on(time, b))
            keep = extrema_indices(value, max_points)
            fig["data"].append({"type": "scatter", "x": x[keep], "y": value[keep], "mode": "lines", "xaxis": xb,
                                "yaxis": yb, "stackgroup": "holdings", "name": b.symbol,
                                "line": {"width": 0.8, "color": SEQUENCE[k % len(SEQUENCE)]},
                                "hovertemplate": f"{b.symbol} %{{y:,.2f}}<extra></extra>"})
    return fig


# ---- values -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{value:g}"
    return str(value)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(np.datetime_as_string(np.datetime64(value, "s")))
