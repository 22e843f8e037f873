"""The in-process runner: a Plan and its market data in, result tables out.

For each symbol: the FeatureHub computes the plan's features once; each distinct strategy point
computes its signal once (settings grids reuse it); the sparse fold runs every lane of the symbol;
the ledger marks equity and matches trades; metrics are computed per lane. Pure given its inputs
(no I/O): writing results is ``pipelines.boundary.outputs``' job.
"""
from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from fp.classifiers import Regimes, classify, default_train_end
from fp.hub import compute_features
from fp.ledger import regime_stats
from fp.metrics import metrics, undefined_reasons
from fp.registry import BUILTINS, Registry, registry_of
from fp.regimes import ensemble_target, policy_factor
from fp.strategies import held_targets, signal_changes
from pipelines.engine.folds import Folded, fold_sparse
from pipelines.engine.columns import OUTCOME_COLUMNS, classifier_columns, parameter_cells
from pipelines.engine.lanes import lane_settings, order_rules, require_volume, sized_changes
from pipelines.engine.patterns import PATTERNS, container_for
from pipelines.engine.regime_labels import regimes_table
from pipelines.engine.events import events_table
from state.errors import AdmfError, SpecError
from state.ledger import EquityPoints, Trades
from state.market import Bars, MarketData
from state.plan import Combination, Plan
from state.spec import TraceSpec

__all__ = ["ClassifierFit", "RunTables", "SignalSource", "SymbolSignals", "Window", "bar_returns", "computed_signals",
           "equity_schema", "fitted", "from_bar", "outcome_notes", "results_columns", "run_plan", "signal_of",
           "split_index", "time_type", "trade_schema", "with_zone"]

@attrs.frozen
class SymbolSignals:
    """One symbol's signals: each combination's ``(bars, targets)`` changes, and its regime labels
    (``None`` without a classifier, or when the source does not know them)."""

    changes: Callable[[Combination], tuple[np.ndarray, np.ndarray]]
    labels: Callable[[Combination], np.ndarray | None] = lambda combo: None


#: Where a run's signals come from: ``source(plan, bars)`` gives one symbol's :class:`SymbolSignals`.
SignalSource = Callable[[Plan, Bars], SymbolSignals]


@attrs.frozen(eq=False)
class RunTables:
    """What a run produces: results, trades, per-regime attribution and the regime labels
    (``pipelines.engine.regime_labels``) when classifiers ran, each lane's final portfolio, and on request
    the equity curves, each symbol's per-bar returns (bars × combinations) and the trace of the
    fold's events; shared-cash portfolios add their per-symbol statistics (``pipelines.engine.portfolios``)."""

    results: pa.Table
    trades: pa.Table
    regime_stats: pa.Table | None = None
    equity: pa.Table | None = None
    returns: tuple[tuple[str, np.ndarray], ...] | None = None
    events: pa.Table | None = None
    final: pa.Table | None = None
    symbol_stats: pa.Table | None = None
    regimes: pa.Table | None = None


_YEAR_NS = 365.25 * 86_400 * 1e9


def signal_of(strategy_name: str, params: dict, features: dict, registry: Registry = BUILTINS) -> np.ndarray:
    """One strategy point's signal over the whole series, from the hub's computed features
    (``registry``: where names are looked up, the spec's custom components included)."""
    strategy = registry.strategy(strategy_name)
    refs = strategy.needs(params)
    values = {}
    for name, ref in refs.items():
        outputs = registry.feature(ref.key.name).outputs
        values[name] = features[ref.key][outputs.index(ref.output)]
    return np.asarray(strategy.signal(params, values), dtype=np.float64)


def split_index(split: tuple[str, object] | None, bars: Bars) -> int | None:
    """The first test bar of a ``data.split``: a fraction of the bars, or the bar after ``train_end``
    (a date: the last training trading day; a naive timestamp: a local time of the data; one with
    a UTC offset: an instant)."""
    if split is None:
        return None
    kind, value = split
    if kind == "train":
        return int(round(float(value) * len(bars)))
    text = str(value).strip()
    moment = datetime.fromisoformat(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # a date covers its whole trading day
        return int(np.searchsorted(bars.day, np.datetime64(moment.date(), "D").astype(np.int64), side="right"))
    if moment.tzinfo is not None:
        before = bars.time <= np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "ns")
    else:
        before = bars.local_time <= np.datetime64(moment, "ns")
    return int(np.flatnonzero(before)[-1]) + 1 if before.any() else 0


def _classifier_key(combo: Combination) -> tuple:
    return combo.classifier, tuple(p for p in combo.classifier_params if p[0] != "regime_policy")


#: Where classifiers learn on one symbol: ``fit(bars) -> (first, train_end)``. A classifier sees the
#: bars from ``first`` on only, fits on bars ``[first, train_end)`` and labels from ``train_end``;
#: ``train_end`` ``None`` means its warm-up (:func:`fp.classifiers.default_train_end`) of the bars
#: it sees. Indices are of the bars the signal source is given.
ClassifierFit = Callable[[Bars], tuple[int, int | None]]


def computed_signals(plan: Plan, bars: Bars, market: MarketData | None = None, *,
                     fit: ClassifierFit | None = None) -> SymbolSignals:
    """The backtest's signal source for one symbol.

    The FeatureHub computes the plan's features once (``market``: the other symbols that
    cross-symbol features read, ``fp.hub``); each distinct strategy point's signal is
    computed once (settings grids share it); each distinct classifier point is fitted once (one fit
    per classifier, parameters and symbol, shared by every strategy it is crossed with). A
    classified combination's target is the strategy's held target times its regime policy's factor.

    ``fit`` says where classifiers learn (see :data:`ClassifierFit`); by default, as in a backtest of
    the whole data, on the bars before the spec's ``data.split``, else on their warm-up. A workflow
    that evaluates parts of the data (train/test, walk-forward) always says where: the spec's split
    names bars of the whole data, not of the part a run is given.
    """
    registry = registry_of(plan.spec)
    first, train_end = fit(bars) if fit is not None else (0, split_index(plan.spec.data.split, bars))
    if train_end is None:
        _require_labels(plan, bars.slice(first, len(bars)), registry)
    features = compute_features(bars, plan.features, registry=registry, market=market)
    held: dict[tuple, np.ndarray] = {}
    sparse: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    regimes: dict[tuple, Any] = {}

    def held_target(strategy: str, params: tuple) -> np.ndarray:
        if (strategy, params) not in held:
            held[(strategy, params)] = held_targets(signal_of(strategy, dict(params), features, registry),
                                                    registry.strategy(strategy).trigger)
        return held[(strategy, params)]

    def regime(combo: Combination):
        key = _classifier_key(combo)
        if key not in regimes:
            name, params = key[0], dict(key[1])
            seen = bars.slice(first, len(bars))
            fitted_on = classify(registry.classifier(name), params, seen, None if train_end is None else train_end - first)
            regimes[key] = _from_bar_on(fitted_on, first)
        return regimes[key]

    def changes(combo: Combination) -> tuple[np.ndarray, np.ndarray]:
        key = (combo.strategy, combo.strategy_params, combo.classifier, combo.classifier_params)
        if key in sparse:
            return sparse[key]
        if combo.classifier is None:
            signal = signal_of(combo.strategy, dict(combo.strategy_params), features, registry)
            sparse[key] = signal_changes(signal, registry.strategy(combo.strategy).trigger)
            return sparse[key]
        labels = regime(combo)
        if combo.strategy == "ensemble":
            members = [held_target(name, params) for name, params in dict(combo.strategy_params)["members"]]
            start = labels.train_end
            evaluate_from = start + (len(bars) - start) // 2
            target = ensemble_target(members, labels.labels, bars.close, learn_start=start,
                                     evaluate_from=evaluate_from, n_states=labels.n_states)
        else:
            target = held_target(combo.strategy, combo.strategy_params)
        policy = dict(combo.classifier_params)["regime_policy"]
        target = target * policy_factor(policy, labels.labels) if combo.strategy != "ensemble" else target
        sparse[key] = signal_changes(target, "level")
        return sparse[key]

    def labels_of(combo: Combination) -> np.ndarray | None:
        return None if combo.classifier is None else regime(combo).labels

    return SymbolSignals(changes, labels_of)


def _require_labels(plan: Plan, bars: Bars, registry: Registry) -> None:
    """Refuse a classifier point whose warm-up (``fp.classifiers.default_train_end``) takes every
    bar of ``bars``: it would label no bar, and every combination with it would stay flat."""
    for name, params in dict.fromkeys(_classifier_key(c) for c in plan.combos if c.classifier is not None):
        warm_up = default_train_end(dict(params), registry.classifier(name), sys.maxsize)
        if warm_up < len(bars):
            continue
        index = next((i for i, entry in enumerate(plan.spec.classifiers) if entry.type == name), None)
        where = f"classifiers[{index}]" if index is not None else f"classifier {name}"
        args = ", ".join(f"{k}={v}" for k, v in params)
        raise SpecError(where, f"{name}({args}) fits on its first {warm_up} bars (max(252, 4 × its window)) and "
                               f"labels only the bars after them, but {bars.symbol} has {len(bars)} bars: it would "
                               "label none and every combination with it would stay flat; give it more than "
                               f"{warm_up} bars of data" + (", or a shorter window" if warm_up > 252 else ""))


def _from_bar_on(regimes: Regimes, first: int) -> Regimes:
    """Regimes of the bars from ``first`` on as regimes of all the bars (unknown before ``first``)."""
    if first == 0:
        return regimes
    labels = np.concatenate((np.full(first, np.nan), regimes.labels))
    labels.setflags(write=False)
    return attrs.evolve(regimes, labels=labels, train_end=regimes.train_end + first)


def fitted(fit: ClassifierFit) -> SignalSource:
    """The computed signal source with classifiers learning where ``fit`` says."""
    return functools.partial(computed_signals, fit=fit)


def _with_market(signals: SignalSource, market: MarketData) -> SignalSource:
    """``signals`` bound to ``market`` when it is the computed source (its features may read the
    other symbols of the market, ``fp.hub``); any other source as it is."""
    if signals is computed_signals:
        return functools.partial(computed_signals, market=market)
    if isinstance(signals, functools.partial) and signals.func is computed_signals and "market" not in signals.keywords:
        return functools.partial(signals, market=market)
    return signals


#: The bars a run evaluates on one symbol: ``window(bars) -> (start, stop)``, bars ``[start, stop)``.
Window = Callable[[Bars], tuple[int, int]]


def run_plan(plan: Plan, market: MarketData, *, signals: SignalSource = computed_signals,
             window: Window | None = None, equity: bool = False, returns: bool = False,
             trace: TraceSpec | None = None, run: str = "") -> RunTables:
    """Run every lane of ``plan`` on ``market``: results, trades and (with regime labels) regime stats.

    ``signals`` supplies each combination's signal changes (computed by default; a replay reads
    them from a store). ``window`` restricts the evaluation to bars ``[start, stop)`` of each
    symbol: no bar from ``stop`` on is read, lanes are flat until ``start``, where they take the
    target their strategy holds at that bar (indicators warm up on the bars before), and metrics
    cover the window only. ``equity`` adds the equity table, ``returns`` each symbol's per-bar
    returns matrix (bars × combinations, for overfitting statistics), ``trace`` the events of the
    fold it selects (``pipelines.engine.events``), with correlation ids under the run id ``run``.
    Settings that read volume (participation, impact) are refused on data without it
    (``pipelines.engine.lanes.require_volume``).
    """
    require_volume(plan.combos, market)
    signals = _with_market(signals, market)
    if any(dict(c.settings).get("shared_cash", False) for c in plan.combos):
        if window is not None or trace is not None:
            raise AdmfError("shared-cash portfolios run on the whole data without a trace (no windows yet)")
        from pipelines.engine.portfolios import run_portfolios  # it builds on this module's tables
        return run_portfolios(plan, market, signals=signals, equity=equity, returns=returns)
    container = container_for(PATTERNS[plan.pattern])
    rows: list[list[dict[str, Any]]] = [[] for _ in plan.combos]
    trade_parts, trade_keys, regime_rows, equity_parts, return_parts, event_parts, finals = [], [], [], [], [], [], []
    failed: dict[tuple[str, str], str] = {}
    point_order = {key: i for i, key in enumerate(dict.fromkeys(
        _classifier_key(c) for c in plan.combos if c.classifier is not None))}
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
                changes.append(_NO_CHANGES)
        settings = lane_settings(plan.combos, bars.symbol)
        annualisation = market.annualisation_of(symbol_index)  # each symbol its own calendar
        changes = sized_changes(plan.combos, changes, bars, annualisation.periods_per_year)
        folded = fold_sparse(container, settings, changes, bars, rules=order_rules(plan.combos, bars),
                             trace=trace is not None)
        if trace is not None:
            event_parts.append(events_table(plan, bars, folded.trace, run=run, keep=trace,
                                            first_id=sum(t.num_rows for t in event_parts)))
        finals.append(pa.table({"combo_id": [c.combo_id for c in plan.combos], "symbol": [bars.symbol] * len(plan.combos),
                                "cash": folded.final.cash, "position": folded.final.position}))
        close = bars.close[start:]
        years = float(bars.time[-1] - bars.time[start]) / _YEAR_NS if len(close) > 1 else 0.0
        fill_at = folded.lane_bounds(len(plan.combos), folded.fills.lane)
        trade_at = folded.lane_bounds(len(plan.combos), folded.trades.lane)
        reject_at = folded.lane_bounds(len(plan.combos), folded.rejections.lane)
        closed = folded.trades.closed
        ruin = dict(zip(folded.ruined.lane.tolist(), zip(folded.ruined.bar.tolist(), folded.ruined.deficit.tolist())))
        curves = []
        for i, combo in enumerate(plan.combos):
            cash0 = float(settings.initial_cash[i])
            lo, hi = trade_at[i], trade_at[i + 1]
            curve = folded.equity_points(i, bars.close, cash0, start=start)
            m = metrics(curve, folded.trades.pnl[lo:hi][closed[lo:hi]],
                        float(folded.fills.commission[fill_at[i]:fill_at[i + 1]].sum()),
                        initial_cash=cash0, periods_per_year=annualisation.periods_per_year, years=years,
                        trades=_closed_trades(folded.trades, lo, hi, start), close=close, time=bars.time[start:])
            m["n_rejected"] = int(reject_at[i + 1] - reject_at[i])
            m.update(outcome_notes(m, curve, bars.time, ruin.get(i)))
            error = failed.get((combo.combo_id, bars.symbol))
            if error is not None:
                m = {name: None for name in m}
            rows[i].append({**_row(plan, combo, bars.symbol, m), "status": "error" if error else "ok", "error": error})
            if error is not None:
                continue
            labels = source.labels(combo)
            if labels is not None:  # each classifier point's labels once per symbol
                labelled.setdefault((point_order[_classifier_key(combo)], symbol_index),
                                    (_classifier_key(combo), bars, labels, start))
            if labels is not None or equity or returns:
                curve, position = folded.equity(i, bars.close, cash0, start=start)
                if labels is not None:
                    regime_rows += [{"combo_id": combo.combo_id, "symbol": bars.symbol, **stats}
                                    for stats in regime_stats(labels[start:], curve, position,
                                                              folded.trades.entry_bar[lo:hi] - start)]
                if equity:
                    equity_parts.append(_equity_table(combo, bars, start, curve, position))
                if returns:
                    curves.append(curve)
        if returns:
            matrix = np.array(curves).T.reshape(len(close), len(curves))  # every lane may have failed
            return_parts.append((bars.symbol, bar_returns(matrix)))
        trade_parts.append(_trades_table(plan, bars, folded))
        trade_keys.append((folded.trades.lane, np.full(len(folded.trades), symbol_index)))
    results = _results_table(plan, [r for per_combo in rows for r in per_combo], market.timezone)
    # regime statistics need labels: a replayed store holds signals only, and then there are none
    stats = pa.Table.from_pylist(regime_rows, schema=_REGIME_SCHEMA) if labelled else None
    curves_table = (pa.concat_tables(equity_parts) if equity_parts else
                    equity_schema(market.timezone).empty_table()) if equity else None
    trades = trade_schema(market.timezone).empty_table()
    if trade_parts:
        lane = np.concatenate([k[0] for k in trade_keys])
        symbol = np.concatenate([k[1] for k in trade_keys])
        # combination order, then symbol, keeping each lane's chronological order
        trades = pa.concat_tables(trade_parts).take(np.lexsort((np.arange(len(lane)), symbol, lane)))
    events = pa.concat_tables(event_parts) if event_parts else None
    regimes = regimes_table([labelled[k] for k in sorted(labelled)]) if labelled else None
    return RunTables(results, trades, stats, curves_table, tuple(return_parts) if returns else None, events,
                     pa.concat_tables(finals) if finals else None, regimes=regimes)


_NO_CHANGES = (np.empty(0, np.int64), np.empty(0))


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
    by_reason: dict[str, list[str]] = {}
    for name, reason in undefined_reasons(m, curve).items():
        by_reason.setdefault(reason, []).append(name)
    notes = [f"{', '.join(names)} undefined: {reason}" for reason, names in by_reason.items()]
    if ruin is not None:
        notes.insert(0, f"ruined at {_when(time[ruin[0]])}: equity "
                        f"{-ruin[1]:,.2f} at that close; position closed there, {ruin[1]:,.2f} written off, no "
                        "order after")
    return {"ruined": ruin is not None, "ruin_time": time[ruin[0]] if ruin is not None else None,
            "notes": "; ".join(notes) or None}


def _closed_trades(trades: Trades, lo: int, hi: int, start: int) -> Trades:
    """The closed trades among rows ``lo:hi``, their bars counted from bar ``start`` (views when
    they can be: only a lane's last trade is ever open)."""
    closed = trades.closed[lo:hi]
    if hi > lo and not closed[-1]:
        hi -= 1
    rows = trades.take(slice(lo, hi)) if closed[:hi - lo].all() else trades.take(np.flatnonzero(closed) + lo)
    if start:
        rows = attrs.evolve(rows, entry_bar=rows.entry_bar - start, exit_bar=rows.exit_bar - start)
    return rows


def from_bar(changes: tuple[np.ndarray, np.ndarray], start: int) -> tuple[np.ndarray, np.ndarray]:
    """Changes of a held target, flat before bar ``start``: a lane entering a window at ``start``
    takes the target its strategy holds there.

    >>> from_bar((np.array([2, 5, 9]), np.array([1.0, -1.0, 1.0])), 6)
    (array([6, 9]), array([-1.,  1.]))
    """
    if start <= 0:
        return changes
    bars, targets = changes
    i = int(np.searchsorted(bars, start))
    held = targets[i - 1] if i > 0 else 0.0
    if held != 0.0 and (i == len(bars) or bars[i] != start):
        return np.concatenate(([start], bars[i:])), np.concatenate(([held], targets[i:]))
    return bars[i:], targets[i:]


def _equity_table(combo: Combination, bars: Bars, start: int, curve: np.ndarray, position: np.ndarray) -> pa.Table:
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


_REGIME_SCHEMA = pa.schema([
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


def _row(plan: Plan, combo: Combination, symbol: str, m: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"combo_id": combo.combo_id, "symbol": symbol, "strategy": combo.strategy,
                           **parameter_cells(combo, _cell)}
    settings = dict(combo.settings)
    row.update({column: _cell(settings.get(column.split("_", 1)[1])) for column in plan.varying})
    row.update(m)
    return row


def results_columns(plan: Plan) -> list[str]:
    """The columns of a plan's results, in order: ids, parameters, gridded settings, outcomes
    (``pipelines.engine.columns``)."""
    strategy_columns = list(dict.fromkeys(name for c in plan.combos for name, _ in c.strategy_params))
    columns = ["combo_id", "symbol", "strategy", *strategy_columns]
    if any(c.classifier for c in plan.combos):
        columns += ["classifier", *classifier_columns(plan.combos)]
    return [*columns, *plan.varying, *OUTCOME_COLUMNS]


#: Types of the outcome columns that may be null in every row.
_OUTCOME_TYPES = {"ruined": pa.bool_(), "notes": pa.string(), "error": pa.string()}

#: Outcome columns holding a bar's time (written in the data's zone, like every time column).
_TIME_COLUMNS = ("start", "end", "ruin_time")


def _results_table(plan: Plan, rows: list[dict[str, Any]], zone: str | None) -> pa.Table:
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


def _trades_table(plan: Plan, bars: Bars, folded: Folded) -> pa.Table:
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
