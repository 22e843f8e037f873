"""Optimization workflows: train/test selection, walk-forward windows, overfitting statistics.

* **Train/test** (``workflow.type: optimization`` with ``data.split``): every combination runs on
  the training part (no bar after it is read); the ``top_k`` best by the objective (with at least
  ``min_trades`` closed trades) are selected. Every combination also runs on the test part — one
  fold of all the lanes, indicators warmed up on the bars before it — so results hold
  ``train_<metric>`` and ``test_<metric>`` for every combination, ``selected`` and ``rank`` mark
  the selection. Trades carry their ``part`` (every combination's on both parts); equity curves,
  when asked, every combination's training curve and each selected one's test curve, which
  starts again from the initial cash.
* **Walk-forward** (``workflow.type: walk_forward``): windows of ``train_bars`` then ``test_bars``,
  moved by ``step_bars`` (or anchored at the first bar); the last window tests the bars that are
  left when fewer than ``test_bars`` are. Per window the best combination on the
  training bars trades the following test bars; the test equity curves are stitched by
  compounding into one out-of-sample curve with its metrics. Signals are generated once on the
  whole series (they are causal) and every window replays them; with classifiers, every window
  refits them on its own bars (a fit depends on where it learns), so signals are computed per window.
* **Classifiers** learn, in every part evaluated, as in a backtest of that part: on a training
  part they fit on their warm-up of its bars and label the rest; on a test part they are refitted
  on the whole training part before it (in walk-forward, the window's training bars only).
* **Overfitting statistics** for a grid: the probability of backtest overfitting (CSCV over time
  blocks of the per-bar returns) and the deflated Sharpe ratio of the selected combination.

Law: a walk-forward with one window equals the train/test run with the same split; no bar of a
test part changes a training-part choice.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import toolz

from fp.ledger import compress_equity
from fp.metrics import METRICS, metrics
from fp.overfitting import ReturnBlocks
from fp.registry import BUILTINS, Registry, registry_of
from pipelines.engine.columns import PART_COLUMNS
from pipelines.engine.evaluate import run_plan
from pipelines.engine.objectives import select, select_some
from pipelines.engine.signal_store import SignalStore, store_signals
from pipelines.engine.signals import (
    ClassifierFit,
    SignalSource,
    SymbolSignals,
    computed_signals,
    fitted,
    split_index,
    with_market,
)
from pipelines.engine.tables import RunTables, with_zone
from state.errors import SpecError
from state.ledger import Trades
from state.market import Bars, MarketData
from state.plan import Plan

__all__ = ["block_layout", "choose", "ok_combo_ids", "overfitting", "train_test", "training_part", "training_view", "walk_forward",
           "walk_forward_windows"]

_IDS = ("combo_id", "symbol")
#: Metrics that are times: a window's own train_start ... test_end columns already give them.
_SPAN = ("start", "end")


def _check_split(split: tuple[str, object], market: MarketData) -> None:
    for bars in market.bars:
        cut = split_index(split, bars)
        if not 0 < cut < len(bars):
            raise SpecError("data.split", f"leaves {cut} training and {len(bars) - cut} test bars of {bars.symbol}; "
                                          "both parts need bars")


def training_part(market: MarketData, split: tuple[str, object]) -> MarketData:
    """Each symbol's bars before the ``split``, as market data of their own (a new fingerprint)."""
    _check_split(split, market)
    cuts = [split_index(split, bars) for bars in market.bars]
    fingerprint = hashlib.sha256(f"{market.sha256}:train:{cuts}".encode()).hexdigest()
    return attrs.evolve(market, bars=tuple(b.slice(0, cut) for b, cut in zip(market.bars, cuts)),
                        source=f"{market.source} (training part)", sha256=fingerprint)


def training_view(results: pa.Table) -> pa.Table:
    """Train/test results as the training part's results (``train_<metric>`` under its plain
    name, no test columns nor selection); other results as they are."""
    if "rank" not in results.column_names:
        return results
    keep = [name for name in results.column_names if not name.startswith("test_") and name not in ("selected", "rank")]
    return results.select(keep).rename_columns([name.removeprefix("train_") for name in keep])


def ok_combo_ids(results: pa.Table, symbol: str) -> list[str]:
    """The combinations of ``symbol`` that ran without error, in plan order: the columns of its
    per-bar returns matrix (a combination whose component raised has no returns)."""
    return [r["combo_id"] for r in results.select(["combo_id", "symbol", "final_equity"]).to_pylist()
            if r["symbol"] == symbol and r["final_equity"] is not None]


def train_test(plan: Plan, market: MarketData) -> RunTables:
    """Select on each symbol's training part, validate the selection on its test part.

    Classifiers learn as in a backtest of the part evaluated: on the training part, on their
    warm-up of its bars (they label the rest of it); on the test part, refitted on the whole
    training part. That is one walk-forward window, anchored at the first bar. The selection is
    made on the training part alone; the test part is folded for every combination at once (the
    out-of-sample metrics of the combinations not selected cost one wider fold, not a run each).
    """
    split = plan.spec.data.split
    _check_split(split, market)
    equity = plan.spec.equity
    train = run_plan(plan, market, signals=fitted(lambda b: (0, None)), window=lambda b: (0, split_index(split, b)),
                     return_blocks=True, equity=equity)
    chosen = choose(plan, train.results)
    test = run_plan(plan, market, signals=fitted(lambda b: (0, split_index(split, b))),
                    window=lambda b: (split_index(split, b), len(b)), equity=equity)
    results = _side_by_side(train.results, test.results, chosen)
    trades = pa.concat_tables([_with_part(train.trades, "train"), _with_part(test.trades, "test")])
    curves = None
    if equity:
        selected = test.equity.filter(pc.is_in(test.equity.column("combo_id"), pa.array(list(chosen), pa.string())))
        curves = pa.concat_tables([_with_part(train.equity, "train"), _with_part(selected, "test")])
    return RunTables(results, trades, test.regime_stats, curves, train.return_blocks, regimes=test.regimes)


def choose(plan: Plan, results: pa.Table, where: str = "on the training part") -> dict[str, int]:
    """Selected combination ids → rank (1 = best), ranking combinations by their mean objective
    over symbols (and their least closed trades against ``min_trades``); refuses to select none."""
    spec = plan.spec
    by_combo = toolz.groupby("combo_id", results.to_pylist())
    merged = []
    for combo_id, rows in by_combo.items():
        row = dict(rows[0])
        for name in METRICS:
            values = [r[name] for r in rows if r[name] is not None]
            if name in _SPAN:  # times: the span every symbol's evaluation covers
                row[name] = (min if name == "start" else max)(values) if values else None
            else:
                row[name] = float(np.mean(values)) if values else math.nan
        row["n_trades"] = min(r["n_trades"] for r in rows)
        merged.append(row)
    picks = select_some(merged, spec.objective, top_k=spec.top_k, min_trades=spec.min_trades, where=where,
                        registry=registry_of(spec))
    return {merged[i]["combo_id"]: rank for rank, i in enumerate(picks, start=1)}


def _side_by_side(train: pa.Table, test: pa.Table, chosen: dict[str, int]) -> pa.Table:
    """Train metrics for every row, then ``selected``/``rank``, then test metrics (null for a row
    the test part did not run)."""
    columns = {name: train.column(name) for name in train.column_names
               if name not in PART_COLUMNS and name not in ("status", "error")}
    for name in PART_COLUMNS:
        columns[f"train_{name}"] = train.column(name)
    ids = train.column("combo_id").to_pylist()
    columns["selected"] = pa.array([c in chosen for c in ids])
    columns["rank"] = pa.array([chosen.get(c) for c in ids], pa.int64())
    tested = {(r["combo_id"], r["symbol"]): r for r in test.to_pylist()}
    symbols = train.column("symbol").to_pylist()
    for name in PART_COLUMNS:
        columns[f"test_{name}"] = pa.array([tested.get((c, s), {}).get(name) for c, s in zip(ids, symbols)],
                                           train.schema.field(name).type)
    return pa.table(columns)


def _with_part(table: pa.Table, part: str) -> pa.Table:
    """Trades or equity of one part, marked ``train`` or ``test``."""
    return table.append_column("part", pa.array([part] * table.num_rows, pa.string()))


def walk_forward_windows(n_bars: int, *, train_bars: int, test_bars: int, step_bars: int | None,
                         anchored: bool) -> list[tuple[int, int, int, int]]:
    """``(train_start, train_end, test_start, test_end)`` of every window of ``n_bars``.

    Windows move by ``step_bars`` (default ``test_bars``) while their training part fits; the
    last one's test part holds the bars that are left when fewer than ``test_bars`` are, so no bar
    after the first training part goes untested (with ``step_bars`` at most ``test_bars``).

    >>> walk_forward_windows(10, train_bars=4, test_bars=2, step_bars=2, anchored=False)
    [(0, 4, 4, 6), (2, 6, 6, 8), (4, 8, 8, 10)]
    >>> walk_forward_windows(10, train_bars=4, test_bars=4, step_bars=None, anchored=True)
    [(0, 4, 4, 8), (0, 8, 8, 10)]
    """
    step = step_bars or test_bars
    out, k = [], 0
    while True:
        train_end = train_bars + k * step
        if train_end >= n_bars:
            return out
        out.append((0 if anchored else k * step, train_end, train_end, min(train_end + test_bars, n_bars)))
        k += 1


def walk_forward(plan: Plan, market: MarketData) -> tuple[RunTables, pa.Table]:
    """Walk-forward over every symbol: stitched out-of-sample results, and the windows table.

    Classifiers are refitted per window and see only the window's bars: on its training bars they
    fit on their warm-up of them; on its test bars they are refitted on all its training bars.
    """
    w = plan.spec.workflow
    sources = _window_sources(plan, market)
    results_rows, window_rows, trade_parts, equity_parts = [], [], [], []
    for bars in market.bars:
        windows = walk_forward_windows(len(bars), train_bars=w.train_bars, test_bars=w.test_bars,
                                       step_bars=w.step_bars, anchored=w.anchored)
        if not windows or windows[0][3] - windows[0][2] < w.test_bars:
            raise SpecError("workflow.train_bars", f"one window needs train_bars + test_bars = "
                                                   f"{w.train_bars + w.test_bars} bars but {bars.symbol} has {len(bars)}; "
                                                   "shorten the windows or give more data")
        single = market.only(bars.symbol)  # its own calendar annualises it
        row, rows, trades, curve = _walk_symbol(plan, single, sources, windows)
        results_rows.append(row)
        window_rows += rows
        trade_parts.append(trades)
        equity_parts.append(curve)
    results = pa.Table.from_pylist(results_rows)
    return RunTables(results, pa.concat_tables(trade_parts), None, pa.concat_tables(equity_parts)), \
        with_zone(pa.Table.from_pylist(window_rows), market.timezone)


def _window_sources(plan: Plan, market: MarketData) -> Callable[[ClassifierFit], SignalSource]:
    """Where a window's signals come from, given where its classifiers learn: without classifiers,
    signals do not depend on the window and are generated once for the whole series; with them,
    they are computed per window with the window's own fits."""
    if any(c.classifier for c in plan.combos):
        return fitted
    stored = _stored(_generated(plan, market))
    return lambda fit: stored


def _generated(plan: Plan, market: MarketData) -> SignalStore:
    """Every combination's signals on the whole series, once (windows replay them)."""
    changes = []
    signals = with_market(computed_signals, market, plan)
    for bars in market.bars:
        source = signals(plan, bars)
        changes += [(combo, bars, source.changes(combo)) for combo in plan.combos]
    return store_signals(plan, market, changes, {"data": {}})


def _walk_symbol(plan: Plan, market: MarketData, sources: Callable[[ClassifierFit], SignalSource],
                 windows) -> tuple[dict, list, pa.Table, pa.Table]:
    bars: Bars = market.bars[0]
    window_rows, trade_parts, pieces = [], [], []
    carried, commission = None, 0.0
    for number, (train_start, train_end, test_start, test_end) in enumerate(windows, start=1):
        train = run_plan(plan, market, signals=sources(lambda b: (train_start, None)),
                         window=lambda b: (train_start, train_end))
        chosen = choose(attrs.evolve(plan, spec=attrs.evolve(plan.spec, top_k=1)), train.results,
                         where=f"on the training bars of walk-forward window {number} of {bars.symbol}")
        (combo_id,) = chosen
        picked = attrs.evolve(plan, combos=tuple(c for c in plan.combos if c.combo_id == combo_id))
        test = run_plan(picked, market, signals=sources(lambda b: (train_start, train_end)),
                        window=lambda b: (test_start, test_end), equity=True)
        train_row = next(r for r in train.results.to_pylist() if r["combo_id"] == combo_id)
        (test_row,) = test.results.to_pylist()
        commission += test_row["commission"]
        window_rows.append({
            "window": number, "symbol": bars.symbol,
            "train_start": bars.time[train_start], "train_end": bars.time[train_end - 1],
            "test_start": bars.time[test_start], "test_end": bars.time[test_end - 1], "test_bars": test_end - test_start,
            **{k: v for k, v in train_row.items() if k not in PART_COLUMNS and k not in ("symbol", "status", "error")},
            **{f"train_{m}": train_row[m] for m in METRICS if m not in _SPAN},
            **{f"test_{m}": test_row[m] for m in METRICS if m not in _SPAN},
        })
        trade_parts.append(test.trades.append_column("window", pa.array([number] * test.trades.num_rows, pa.int64())))
        curve = test.equity
        scale = 1.0 if carried is None else carried / curve.column("equity")[0].as_py()
        equity = np.asarray(curve.column("equity")) * scale
        carried = float(equity[-1])
        pieces.append(curve.set_column(curve.schema.get_field_index("equity"), "equity", pa.array(equity)))
    stitched = pa.concat_tables(pieces)
    equity = np.asarray(stitched.column("equity"))
    position = np.asarray(stitched.column("position"))
    trades = pa.concat_tables(trade_parts)
    closed = [r["pnl"] for r in trades.to_pylist() if r["exit_time"] is not None]
    first, last = stitched.column("time")[0].as_py(), stitched.column("time")[-1].as_py()
    years = (last - first).total_seconds() / (365.25 * 86400) if len(equity) > 1 else 0.0
    cash0 = float(equity[0]) if len(equity) else math.nan
    time = np.asarray(stitched.column("time").to_numpy(), "datetime64[ns]")
    m = metrics(compress_equity(equity, position), np.array(closed, dtype=float), commission, initial_cash=cash0,
                periods_per_year=market.periods_per_year, years=years, trades=_closed_on(trades, time), time=time,
                close=bars.close[np.searchsorted(bars.time, time)])
    row = {"symbol": bars.symbol, "windows": len(windows), "out_of_sample_bars": len(equity), **m}
    return row, window_rows, trades, stitched


def _closed_on(trades: pa.Table, time: np.ndarray) -> Trades:
    """The closed trades of a trades table as a ledger record, bars indexing ``time``."""
    rows = trades.filter(pc.is_valid(trades.column("exit_time")))
    column = lambda name: rows.column(name).to_numpy()
    at = lambda name: np.searchsorted(time, np.asarray(column(name), "datetime64[ns]"))
    return Trades(np.zeros(rows.num_rows, np.int64), at("entry_time"), column("entry_price"), at("exit_time"),
                  column("exit_price"), column("size"), column("pnl"), np.ones(rows.num_rows, bool))


def _stored(store: SignalStore) -> SignalSource:
    """A source reading generated changes by combination id (the windows' plans keep the ids)."""
    def for_symbol(plan: Plan, bars: Bars) -> SymbolSignals:
        return SymbolSignals(lambda combo: store.changes[(combo.combo_id, bars.symbol)])
    return for_symbol


def overfitting(return_blocks: tuple[tuple[str, ReturnBlocks | None], ...] | None, results: pa.Table, objective: str,
                top_k: int, min_trades: int, registry: Registry = BUILTINS) -> dict[str, Any] | None:
    """PBO and the deflated Sharpe ratio of the selected combination, from the first symbol's
    per-block aggregates of every combination's per-bar returns (``None`` when there is too
    little to say: fewer than 2 combinations or 40 returns); an author's objective is looked up in
    ``registry``."""
    from fp.overfitting import selection_statistics

    if not return_blocks:
        return None
    symbol, blocks = return_blocks[0]
    if blocks is None or blocks.n_combinations < 2:
        return None
    ok = set(ok_combo_ids(results, symbol))
    rows = [r for r in results.to_pylist() if r["symbol"] == symbol and r["combo_id"] in ok]
    picks = select(rows, objective, top_k=1, min_trades=min_trades, registry=registry)
    if not picks:
        return None
    stats = selection_statistics(blocks, picks[0])
    return {"symbol": symbol, "selected": rows[picks[0]]["combo_id"], "n_blocks": blocks.n_blocks,
            **block_layout(blocks), **stats}


def block_layout(blocks: ReturnBlocks) -> dict[str, int]:
    """Where CSCV's blocks lie in the per-bar returns: ``n_returns`` returns (one fewer than the
    bars), the first ``dropped_returns`` (= ``n_returns mod blocks``) left out, then the blocks
    of ``block_returns`` each (``fp.overfitting``).

    >>> block_layout(ReturnBlocks.empty(1503, 16))
    {'n_returns': 1503, 'dropped_returns': 15, 'block_returns': 93}
    """
    return {"n_returns": blocks.n_returns, "dropped_returns": blocks.dropped, "block_returns": blocks.block_size}
