"""The in-process runner: a Plan and its market data in, result tables out.

For each symbol: the FeatureHub computes the plan's features once; each distinct strategy point
computes its signal once (settings grids reuse it); the sparse fold runs every lane of the symbol;
the ledger marks equity and matches trades; metrics are computed per lane. Pure given its inputs
(no I/O): writing results is ``pipelines.results``' job.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from fp.hub import compute_features
from fp.metrics import METRICS, metrics
from fp.registry import lookup
from fp.strategies import signal_changes
from pipelines.backtest import Folded, fold_sparse
from pipelines.patterns import PATTERNS, container_for
from state.market import Bars, MarketData
from state.plan import Combination, Plan
from state.portfolio import LaneSettings

__all__ = ["SignalSource", "computed_signals", "lane_settings", "run_plan", "signal_of"]

#: Where a run's signal changes come from: ``source(plan, bars)`` gives, for one symbol, a function
#: from a combination to its ``(bars, targets)`` changes.
SignalSource = Callable[[Plan, Bars], Callable[[Combination], tuple[np.ndarray, np.ndarray]]]

_YEAR_NS = 365.25 * 86_400 * 1e9


def lane_settings(combos: list[Combination] | tuple[Combination, ...]) -> LaneSettings:
    """The per-lane settings arrays of ``combos``, from their portfolio/execution/risk values."""
    s = [dict(c.settings) for c in combos]
    return LaneSettings(
        initial_cash=np.array([x["initial_cash"] for x in s], np.float64),
        fraction=np.array([x["fraction"] if x["sizing"] == "fixed_fraction" else 1.0 for x in s], np.float64),
        whole=np.array([not x["fractional"] for x in s], bool),
        long_only=np.array([x["direction"] == "long_only" for x in s], bool),
        max_position=np.array([np.inf if x["max_position"] is None else x["max_position"] for x in s], np.float64),
        commission=np.array([x["commission"] for x in s], np.float64),
        slippage=np.array([x["slippage_bps"] / 1e4 for x in s], np.float64),
        fill_on_close=np.array([x["fill"] == "close" for x in s], bool),
    )


def signal_of(strategy_name: str, params: dict, features: dict) -> np.ndarray:
    """One strategy point's signal over the whole series, from the hub's computed features."""
    strategy = lookup("strategy", strategy_name)
    refs = strategy.needs(params)
    values = {}
    for name, ref in refs.items():
        outputs = lookup("feature", ref.key.name).outputs
        values[name] = features[ref.key][outputs.index(ref.output)]
    return np.asarray(strategy.signal(params, values), dtype=np.float64)


def computed_signals(plan: Plan, bars: Bars) -> Callable[[Combination], tuple[np.ndarray, np.ndarray]]:
    """The backtest's signal source: the FeatureHub computes the plan's features once for the
    symbol, and each distinct strategy point's signal is computed once (settings grids share it)."""
    features = compute_features(bars, plan.features)
    cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def changes(combo: Combination) -> tuple[np.ndarray, np.ndarray]:
        key = (combo.strategy, combo.strategy_params)
        if key not in cache:
            strategy = lookup("strategy", combo.strategy)
            cache[key] = signal_changes(signal_of(combo.strategy, dict(combo.strategy_params), features),
                                        strategy.trigger)
        return cache[key]
    return changes


def run_plan(plan: Plan, market: MarketData, *, signals: SignalSource = computed_signals) -> tuple[pa.Table, pa.Table]:
    """Run every lane of ``plan`` on ``market``: the results and trades tables.

    ``signals`` supplies each combination's signal changes (computed by default; a replay reads
    them from a store).
    """
    container = container_for(PATTERNS[plan.pattern])
    settings = lane_settings(plan.combos)
    rows: list[list[dict[str, Any]]] = [[] for _ in plan.combos]
    trade_parts, trade_keys = [], []
    for symbol_index, bars in enumerate(market.bars):
        changes_of = signals(plan, bars)
        folded = fold_sparse(container, settings, [changes_of(c) for c in plan.combos], bars)
        years = float(bars.time[-1] - bars.time[0]) / _YEAR_NS if len(bars) > 1 else 0.0
        fill_at = folded.lane_bounds(len(plan.combos), folded.fills.lane)
        trade_at = folded.lane_bounds(len(plan.combos), folded.trades.lane)
        reject_at = folded.lane_bounds(len(plan.combos), folded.rejections.lane)
        closed = folded.trades.closed
        for i, combo in enumerate(plan.combos):
            curve = folded.equity_points(i, bars.close, float(settings.initial_cash[i]))
            lo, hi = trade_at[i], trade_at[i + 1]
            m = metrics(curve, folded.trades.pnl[lo:hi][closed[lo:hi]],
                        float(folded.fills.commission[fill_at[i]:fill_at[i + 1]].sum()),
                        initial_cash=float(settings.initial_cash[i]),
                        periods_per_year=market.periods_per_year, years=years)
            m["n_rejected"] = int(reject_at[i + 1] - reject_at[i])
            rows[i].append(_row(plan, combo, bars.symbol, m))
        trade_parts.append(_trades_table(plan, bars, folded))
        trade_keys.append((folded.trades.lane, np.full(len(folded.trades), symbol_index)))
    results = _results_table(plan, [r for per_combo in rows for r in per_combo])
    if not trade_parts:
        return results, _TRADE_SCHEMA.empty_table()
    trades = pa.concat_tables(trade_parts)
    lane = np.concatenate([k[0] for k in trade_keys])
    symbol = np.concatenate([k[1] for k in trade_keys])
    # combination order, then symbol, keeping each lane's chronological order
    return results, trades.take(np.lexsort((np.arange(len(lane)), symbol, lane)))


def _param_columns(plan: Plan) -> tuple[list[str], list[str]]:
    strategy_columns = list(dict.fromkeys(name for c in plan.combos for name, _ in c.strategy_params))
    classifier_columns = list(dict.fromkeys(name for c in plan.combos for name, _ in c.classifier_params))
    return strategy_columns, classifier_columns


def _row(plan: Plan, combo: Combination, symbol: str, m: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"combo_id": combo.combo_id, "symbol": symbol, "strategy": combo.strategy}
    row.update(combo.strategy_params)
    if combo.classifier is not None:
        row["classifier"] = combo.classifier
        row.update({f"classifier_{k}" if k in row else k: v for k, v in combo.classifier_params})
    settings = dict(combo.settings)
    row.update({column: settings[column.split("_", 1)[1]] for column in plan.varying})
    row.update(m)
    return row


def _results_table(plan: Plan, rows: list[dict[str, Any]]) -> pa.Table:
    strategy_columns, classifier_columns = _param_columns(plan)
    columns = ["combo_id", "symbol", "strategy", *strategy_columns]
    if any(c.classifier for c in plan.combos):
        columns += ["classifier", *[f"classifier_{k}" if k in strategy_columns else k for k in classifier_columns]]
    columns += [*plan.varying, *METRICS, "n_rejected"]
    columns = list(dict.fromkeys(columns))
    return pa.table({name: [r.get(name) for r in rows] for name in columns})


_TRADE_SCHEMA = pa.schema([
    ("combo_id", pa.string()), ("symbol", pa.string()),
    ("entry_time", pa.timestamp("ns")), ("entry_price", pa.float64()),
    ("exit_time", pa.timestamp("ns")), ("exit_price", pa.float64()),
    ("size", pa.float64()), ("pnl", pa.float64()),
])


def _trades_table(plan: Plan, bars: Bars, folded: Folded) -> pa.Table:
    if not len(folded.trades):
        return _TRADE_SCHEMA.empty_table()
    t = folded.trades
    ids = pa.array([c.combo_id for c in plan.combos], pa.string())
    exit_time = pa.array(bars.time[np.maximum(t.exit_bar, 0)], type=pa.timestamp("ns"), mask=~t.closed)
    return pa.table({
        "combo_id": pa.DictionaryArray.from_arrays(pa.array(t.lane), ids).cast(pa.string()),
        "symbol": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(t), np.int32)),
                                                 pa.array([bars.symbol], pa.string())).cast(pa.string()),
        "entry_time": pa.array(bars.time[t.entry_bar], type=pa.timestamp("ns")),
        "entry_price": pa.array(t.entry_price),
        "exit_time": exit_time,
        "exit_price": pa.array(t.exit_price, mask=~t.closed),
        "size": pa.array(t.size),
        "pnl": pa.array(t.pnl),
    }, schema=_TRADE_SCHEMA)
