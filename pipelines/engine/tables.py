"""Result tables: a fold's outcome as Arrow tables — results, trades, equity, regime attribution.

One row per combination and symbol in ``results`` (columns named by ``pipelines.engine.columns``),
one per trade in ``trades``; time columns are UTC instants tagged with the data's zone (naive when
the data is). Pure: building tables, never writing them (``pipelines.boundary.outputs`` writes).
"""
from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import toolz

from fp.metrics import undefined_reasons
from fp.overfitting import ReturnBlocks
from pipelines.engine.columns import (
    OUTCOME_COLUMNS,
    classifier_columns,
    parameter_cells,
)
from pipelines.engine.folds import Folded
from state.ledger import EquityPoints, Trades
from state.market import Bars
from state.plan import Combination, Plan

__all__ = ["REGIME_SCHEMA", "YEAR_NS", "RunTables", "bar_returns", "closed_trades", "equity_schema", "equity_table",
           "lane_rows", "outcome_notes", "result_row", "results_columns", "results_table", "time_type", "trade_schema",
           "trades_table", "with_zone"]


@attrs.frozen(eq=False)
class RunTables:
    """What a run produces: results, trades, per-regime attribution and the regime labels
    (``pipelines.engine.regime_labels``) when classifiers ran, each lane's final portfolio, and on request
    the equity curves, each symbol's per-block aggregates of every combination's per-bar returns
    (``(symbol, fp.overfitting.ReturnBlocks or None)``, for the overfitting statistics) and the trace
    of the fold's events; shared-cash portfolios add their per-symbol statistics (``pipelines.engine.portfolios``)."""

    results: pa.Table
    trades: pa.Table
    regime_stats: pa.Table | None = None
    equity: pa.Table | None = None
    return_blocks: tuple[tuple[str, ReturnBlocks | None], ...] | None = None
    events: pa.Table | None = None
    final: pa.Table | None = None
    symbol_stats: pa.Table | None = None
    regimes: pa.Table | None = None


YEAR_NS = 365.25 * 86_400 * 1e9


def bar_returns(equity: np.ndarray) -> np.ndarray:
    """Per-bar returns of equity curves (bars × curves): ``equity[t] / equity[t-1] - 1``, and 0
    after a ruined curve reached 0 (an empty account neither gains nor loses).

    >>> bar_returns(np.array([[100.0], [50.0], [0.0], [0.0]])).ravel().tolist()
    [-0.5, -1.0, 0.0]
    """
    before = equity[:-1]
    return np.divide(equity[1:], before, out=np.ones_like(before), where=before != 0.0) - 1.0


def _when(time: np.datetime64) -> str:
    """A bar's time as people write it: the date alone at midnight.

    >>> _when(np.datetime64("2005-01-03T00:00:00", "ns")), _when(np.datetime64("2005-01-03T09:30:00", "ns"))
    ('2005-01-03', '2005-01-03 09:30:00')
    """
    text = str(time.astype("datetime64[s]")).replace("T", " ")
    return text.removesuffix(" 00:00:00")


def outcome_notes(m: dict[str, Any], curve: EquityPoints, time: np.ndarray,
                  ruin: tuple[int, float] | None) -> dict[str, Any]:
    """The ``ruined``, ``ruin_time`` and ``notes`` cells of a lane's row: whether and when its equity
    reached 0 (``ruin``: its bar in ``time`` and the deficit written off), and why each undefined
    metric is NaN (``None`` when every metric is a number and the lane was not ruined)."""
    by_reason = toolz.groupby(lambda item: item[1], undefined_reasons(m, curve).items())
    notes = [f"{', '.join(name for name, _ in items)} undefined: {reason}" for reason, items in by_reason.items()]
    if ruin is not None:
        notes.insert(0, f"ruined at {_when(time[ruin[0]])}: equity "
                        f"{-ruin[1]:,.2f} at that close; position closed there, {ruin[1]:,.2f} written off, no "
                        "order after")
    return {"ruined": ruin is not None, "ruin_time": time[ruin[0]] if ruin is not None else None,
            "notes": "; ".join(notes) or None}


def closed_trades(trades: Trades, lo: int, hi: int, start: int, *, first_lane: int = 0) -> Trades:
    """The closed trades among rows ``lo:hi``, their bars counted from bar ``start`` and their lanes
    from lane ``first_lane`` (views when they can be: only a lane's last trade is ever open)."""
    closed = trades.closed[lo:hi]
    if hi > lo and not closed[-1]:
        hi -= 1
    rows = trades.take(slice(lo, hi)) if closed[:hi - lo].all() else trades.take(np.flatnonzero(closed) + lo)
    if start or first_lane:
        rows = attrs.evolve(rows, entry_bar=rows.entry_bar - start, exit_bar=rows.exit_bar - start,
                            lane=rows.lane - first_lane)
    return rows


def lane_rows(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Columns of per-lane values as one dict per lane, in lane order (numbers as Python numbers,
    times as numpy datetimes).

    >>> lane_rows({"a": np.array([1.0, 2.0]), "n": np.array([3, 4])})
    [{'a': 1.0, 'n': 3}, {'a': 2.0, 'n': 4}]
    """
    names = list(columns)
    values = [list(c) if c.dtype.kind == "M" else c.tolist() for c in columns.values()]
    return [dict(zip(names, row)) for row in zip(*values)]


def equity_table(combo: Combination, bars: Bars, start: int, curve: np.ndarray, position: np.ndarray) -> pa.Table:
    n = len(curve)
    return pa.table({
        "time": pa.array(bars.time[start:start + n], time_type(bars.timezone)),
        "combo_id": pa.repeat(pa.scalar(combo.combo_id, pa.string()), n),  # C++: no Python list of n strings
        "symbol": pa.repeat(pa.scalar(bars.symbol, pa.string()), n),
        "equity": pa.array(curve), "cash": pa.array(curve - position * bars.close[start:start + n]),
        "position": pa.array(position),
    }, schema=equity_schema(bars.timezone))


def time_type(zone: str | None) -> pa.DataType:
    """The Arrow type of a time column: UTC instants tagged with the data's zone, or naive times."""
    return pa.timestamp("ns", zone)


def with_zone(table: pa.Table, zone: str | None) -> pa.Table:
    """``table`` with its naive time columns (UTC instants, as ``Bars.time``) tagged with ``zone``."""
    if zone is None:
        return table
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp(field.type.unit, zone)))
    return table


def equity_schema(zone: str | None) -> pa.Schema:
    return pa.schema([
        ("time", time_type(zone)), ("combo_id", pa.string()), ("symbol", pa.string()),
        ("equity", pa.float64()), ("cash", pa.float64()), ("position", pa.float64()),
    ])


REGIME_SCHEMA = pa.schema([
    ("combo_id", pa.string()), ("symbol", pa.string()), ("regime", pa.int64()), ("bars", pa.int64()),
    ("return_pct", pa.float64()), ("trades", pa.int64()), ("exposure_pct", pa.float64()),
])


def _cell(value: Any) -> Any:
    """A parameter value as a table cell: scalars as they are, a list of symbols and an ensemble's members as text."""
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, tuple):
        return " + ".join(f"{name}({', '.join(f'{k}={v}' for k, v in params)})" for name, params in value)
    return value


def result_row(plan: Plan, combo: Combination, symbol: str, m: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"combo_id": combo.combo_id, "symbol": symbol, "strategy": combo.strategy,
                           **parameter_cells(combo, _cell)}
    settings = dict(combo.settings)
    row.update({column: _cell(settings.get(column.split("_", 1)[1])) for column in plan.varying})
    row.update(m)
    return row


def results_columns(plan: Plan) -> list[str]:
    """The columns of a plan's results, in order: ids, parameters, gridded settings, outcomes
    (``pipelines.engine.columns``)."""
    strategy_columns = list(toolz.unique(name for c in plan.combos for name, _ in c.strategy_params))
    columns = ["combo_id", "symbol", "strategy", *strategy_columns]
    if any(c.classifier for c in plan.combos):
        columns += ["classifier", *classifier_columns(plan.combos)]
    return [*columns, *plan.varying, *OUTCOME_COLUMNS]


#: Types of the outcome columns that may be null in every row.
_OUTCOME_TYPES = {"ruined": pa.bool_(), "notes": pa.string(), "error": pa.string()}


#: Outcome columns holding a bar's time (written in the data's zone, like every time column).
_TIME_COLUMNS = ("start", "end", "ruin_time")


def results_table(plan: Plan, rows: list[dict[str, Any]], zone: str | None) -> pa.Table:
    table = pa.table({name: pa.array([r.get(name) for r in rows],
                                     pa.timestamp("ns") if name in _TIME_COLUMNS else _OUTCOME_TYPES.get(name))
                      for name in results_columns(plan)})
    return with_zone(table, zone)


def trade_schema(zone: str | None) -> pa.Schema:
    return pa.schema([
        ("combo_id", pa.string()), ("symbol", pa.string()),
        ("entry_time", time_type(zone)), ("entry_price", pa.float64()),
        ("exit_time", time_type(zone)), ("exit_price", pa.float64()),
        ("size", pa.float64()), ("pnl", pa.float64()),
    ])


def trades_table(plan: Plan, bars: Bars, folded: Folded) -> pa.Table:
    if not len(folded.trades):
        return trade_schema(bars.timezone).empty_table()
    t = folded.trades
    ids = pa.array([c.combo_id for c in plan.combos], pa.string())
    exit_time = pa.array(bars.time[np.maximum(t.exit_bar, 0)], type=time_type(bars.timezone), mask=~t.closed)
    return pa.table({
        "combo_id": pa.DictionaryArray.from_arrays(pa.array(t.lane), ids).cast(pa.string()),
        "symbol": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(t), np.int32)),
                                                 pa.array([bars.symbol], pa.string())).cast(pa.string()),
        "entry_time": pa.array(bars.time[t.entry_bar], type=time_type(bars.timezone)),
        "entry_price": pa.array(t.entry_price),
        "exit_time": exit_time,
        "exit_price": pa.array(t.exit_price, mask=~t.closed),
        "size": pa.array(t.size),
        "pnl": pa.array(t.pnl),
    }, schema=trade_schema(bars.timezone))
