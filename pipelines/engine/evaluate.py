"""Evaluation in process: a Plan and its market data in, result tables out.

For each symbol: the signal source gives each combination's target changes (``pipelines.engine.signals``);
the sparse fold runs every lane of the symbol (``pipelines.engine.folds``); the ledger marks equity
and matches trades; the research statistics are computed for a chunk of lanes at once
(:func:`lane_outcomes`), the core metrics per lane, and laid out as tables (``pipelines.engine.tables``).
Shared-cash combinations fold as portfolios instead (``pipelines.engine.portfolios``). Pure given
its inputs (no I/O): writing results is ``pipelines.boundary.outputs``' job.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fp.ledger import regime_stats
from fp.metrics import core_metrics, lane_research_statistics
from fp.overfitting import ReturnBlocks, cscv_blocks, equity_blocks
from pipelines.engine.container import Container
from pipelines.engine.events import events_table, numbered_events
from pipelines.engine.folds import Folded, fold_sparse
from pipelines.engine.lanes import (
    lane_settings,
    order_rules,
    require_volume,
    sized_changes,
)
from pipelines.engine.patterns import PATTERNS, container_for
from pipelines.engine.portfolios import run_portfolios
from pipelines.engine.regime_labels import regimes_table
from pipelines.engine.signals import (
    NO_CHANGES,
    SignalSource,
    classifier_key,
    computed_signals,
    from_bar,
    with_market,
)
from pipelines.engine.tables import (
    REGIME_SCHEMA,
    YEAR_NS,
    RunTables,
    closed_trades,
    equity_schema,
    equity_table,
    lane_rows,
    outcome_notes,
    result_row,
    results_table,
    trade_schema,
    trades_table,
)
from state.errors import AdmfError
from state.ledger import EquityPoints
from state.market import Bars, MarketData
from state.plan import Plan
from state.portfolio import LaneSettings
from state.spec import TraceSpec

__all__ = ["Window", "fold_symbol", "lane_outcomes", "run_plan"]


#: The bars a run evaluates on one symbol: ``window(bars) -> (start, stop)``, bars ``[start, stop)``.
Window = Callable[[Bars], tuple[int, int]]


def fold_symbol(plan: Plan, bars: Bars, changes: list[tuple[np.ndarray, np.ndarray]], periods_per_year: float, *,
                trace: bool = False, container: Container | None = None) -> tuple[LaneSettings, Folded]:
    """Fold every lane of ``plan`` on one symbol: each combination's signal ``changes`` sized by its
    sizer (``periods_per_year`` annualises a volatility target), put in the market under its order
    rules and exits, and folded sparsely through the plan's pattern (``container``: that pattern's
    reducer, when the caller already has it). Returns the lanes' settings and what the fold did
    (``trace``: with every event, ``pipelines.engine.folds.FoldTrace``)."""
    settings = lane_settings(plan.combos, bars.symbol)
    changes = sized_changes(plan.combos, changes, bars, periods_per_year)
    container = container if container is not None else container_for(PATTERNS[plan.pattern])
    return settings, fold_sparse(container, settings, changes, bars, rules=order_rules(plan.combos, bars), trace=trace)


def run_plan(plan: Plan, market: MarketData, *, signals: SignalSource = computed_signals,
             window: Window | None = None, equity: bool = False, return_blocks: bool = False,
             trace: TraceSpec | None = None, run: str = "") -> RunTables:
    """Run every lane of ``plan`` on ``market``: results, trades and (with regime labels) regime stats.

    ``signals`` supplies each combination's signal changes (computed by default; a replay reads
    them from a store). ``window`` restricts the evaluation to bars ``[start, stop)`` of each
    symbol: no bar from ``stop`` on is read, lanes are flat until ``start``, where they take the
    target their strategy holds at that bar (indicators warm up on the bars before), and metrics
    cover the window only. ``equity`` adds the equity table, ``return_blocks`` each symbol's
    per-block aggregates of every combination's per-bar returns (``fp.overfitting.ReturnBlocks``
    in ``fp.overfitting.cscv_blocks`` blocks, from each lane's compressed equity curve: no dense
    curve is built for them; ``None`` for a symbol with too few bars), ``trace`` the events of the
    fold it selects (``pipelines.engine.events``), with correlation ids under the run id ``run``.
    Settings that read volume (participation, impact) are refused on data without it
    (``pipelines.engine.lanes.require_volume``).
    """
    require_volume(plan.combos, market)
    signals = with_market(signals, market, plan)
    if any(dict(c.settings).get("shared_cash", False) for c in plan.combos):
        if window is not None or trace is not None:
            raise AdmfError("shared-cash portfolios run on the whole data without a trace (no windows yet)")
        return run_portfolios(plan, market, signals=signals, equity=equity, return_blocks=return_blocks)
    container = container_for(PATTERNS[plan.pattern])
    rows: list[list[dict[str, Any]]] = [[] for _ in plan.combos]
    trade_parts, trade_keys, regime_rows, equity_parts, block_parts, event_parts, finals = [], [], [], [], [], [], []
    failed: dict[tuple[str, str], str] = {}
    next_id = 0  # trace event ids are unique across symbols, then numbered in row order
    point_order = {key: i for i, key in enumerate(dict.fromkeys(
        classifier_key(c) for c in plan.combos if c.classifier is not None))}
    labelled: dict[tuple[int, int], tuple] = {}  # (point, symbol) -> (point, bars, labels, start)
    for symbol_index, bars in enumerate(market.bars):
        start, stop = window(bars) if window is not None else (0, len(bars))
        bars = bars.slice(0, stop)
        source = signals(plan, bars)
        changes = []
        for c in plan.combos:
            try:
                changes.append(from_bar(source.changes(c), start))
            except Exception as exc:  # a failing component is data: its lane becomes an error row
                failed[(c.combo_id, bars.symbol)] = f"{type(exc).__name__}: {exc}"
                changes.append(NO_CHANGES)
        annualisation = market.annualisation_of(symbol_index)  # each symbol its own calendar
        settings, folded = fold_symbol(plan, bars, changes, annualisation.periods_per_year, trace=trace is not None,
                                       container=container)
        if trace is not None:
            part = events_table(plan, bars, folded.trace, run=run, keep=trace, first_id=next_id)
            event_parts.append(part)
            next_id = int(pc.max(part.column("event_id")).as_py()) + 1 if part.num_rows else next_id
        finals.append(pa.table({"combo_id": [c.combo_id for c in plan.combos], "symbol": [bars.symbol] * len(plan.combos),
                                "cash": folded.final.cash, "position": folded.final.position}))
        close = bars.close[start:]
        years = float(bars.time[-1] - bars.time[start]) / YEAR_NS if len(close) > 1 else 0.0
        fill_at = folded.lane_bounds(len(plan.combos), folded.fills.lane)
        trade_at = folded.lane_bounds(len(plan.combos), folded.trades.lane)
        reject_at = folded.lane_bounds(len(plan.combos), folded.rejections.lane)
        closed = folded.trades.closed
        ruin = dict(zip(folded.ruined.lane.tolist(), zip(folded.ruined.bar.tolist(), folded.ruined.deficit.tolist())))
        n_blocks = cscv_blocks(len(close) - 1) if return_blocks else None
        blocks = []
        lanes = lane_outcomes(folded, settings.initial_cash, bars, start)
        for i, combo in enumerate(plan.combos):
            cash0 = float(settings.initial_cash[i])
            lo, hi = trade_at[i], trade_at[i + 1]
            points, research = next(lanes)
            m = core_metrics(points, folded.trades.pnl[lo:hi][closed[lo:hi]],
                             float(folded.fills.commission[fill_at[i]:fill_at[i + 1]].sum()),
                             initial_cash=cash0, periods_per_year=annualisation.periods_per_year, years=years)
            m.update(research)
            m["n_rejected"] = int(reject_at[i + 1] - reject_at[i])
            m.update(outcome_notes(m, points, bars.time, ruin.get(i)))
            error = failed.get((combo.combo_id, bars.symbol))
            if error is not None:
                m = {name: None for name in m}
            rows[i].append({**result_row(plan, combo, bars.symbol, m), "status": "error" if error else "ok", "error": error})
            if error is not None:
                continue
            labels = source.labels(combo)
            if labels is not None:  # each classifier point's labels once per symbol
                labelled.setdefault((point_order[classifier_key(combo)], symbol_index),
                                    (classifier_key(combo), bars, labels, start))
            if n_blocks is not None:
                blocks.append(equity_blocks(points, n_blocks=n_blocks))
            if labels is not None or equity:
                curve, position = folded.equity(i, bars.close, cash0, start=start)
                if labels is not None:
                    regime_rows += [{"combo_id": combo.combo_id, "symbol": bars.symbol, **stats}
                                    for stats in regime_stats(labels[start:], curve, position,
                                                              folded.trades.entry_bar[lo:hi] - start)]
                if equity:
                    equity_parts.append(equity_table(combo, bars, start, curve, position))
        if return_blocks:  # every lane may have failed: no column
            block_parts.append((bars.symbol, None if n_blocks is None else ReturnBlocks.concat(blocks) if blocks
                                else ReturnBlocks.empty(len(close) - 1, n_blocks)))
        trade_parts.append(trades_table(plan, bars, folded))
        trade_keys.append((folded.trades.lane, np.full(len(folded.trades), symbol_index)))
    results = results_table(plan, [r for per_combo in rows for r in per_combo], market.timezone)
    # regime statistics need labels: a replayed store holds signals only, and then there are none
    stats = pa.Table.from_pylist(regime_rows, schema=REGIME_SCHEMA) if labelled else None
    curves_table = (pa.concat_tables(equity_parts) if equity_parts else
                    equity_schema(market.timezone).empty_table()) if equity else None
    trades = trade_schema(market.timezone).empty_table()
    if trade_parts:
        lane = np.concatenate([k[0] for k in trade_keys])
        symbol = np.concatenate([k[1] for k in trade_keys])
        # combination order, then symbol, keeping each lane's chronological order
        trades = pa.concat_tables(trade_parts).take(np.lexsort((np.arange(len(lane)), symbol, lane)))
    events = numbered_events(pa.concat_tables(event_parts)) if event_parts else None
    regimes = regimes_table([labelled[k] for k in sorted(labelled)]) if labelled else None
    return RunTables(results, trades, stats, curves_table, tuple(block_parts) if return_blocks else None, events,
                     pa.concat_tables(finals) if finals else None, regimes=regimes)


#: About how many equity points (over all lanes) :func:`lane_outcomes` builds at once.
POINTS_AT_ONCE = 1 << 21


def lane_outcomes(folded: Folded, initial_cash: np.ndarray, bars: Bars,
                  start: int) -> Iterator[tuple[EquityPoints, dict]]:
    """Each lane's compressed equity curve from bar ``start`` on and its research statistics, in
    lane order. Lanes are taken in chunks of about :data:`POINTS_AT_ONCE` points (a lane has at
    most one per bar): a chunk's curves are built at once and its statistics computed at once
    (``fp.metrics.lane_research_statistics``), so no per-lane work but handing out the rows."""
    n_lanes = len(initial_cash)
    per_chunk = max(1, POINTS_AT_ONCE // max(len(bars) - start, 1))
    trade_at = folded.lane_bounds(n_lanes, folded.trades.lane)
    for first in range(0, n_lanes, per_chunk):
        lanes = range(first, min(first + per_chunk, n_lanes))
        curves = folded.lane_curves(lanes, bars.close, initial_cash[lanes.start:lanes.stop], start=start)
        trades = closed_trades(folded.trades, trade_at[lanes.start], trade_at[lanes.stop], start,
                               first_lane=lanes.start)
        stats = lane_research_statistics(curves, trades, bars.close[start:], bars.time[start:])
        for k, row in enumerate(lane_rows(stats)):
            yield curves.lane(k), row
