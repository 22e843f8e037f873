"""Tracing: every event of the fold as rows.

A traced run records, per lane (combination × symbol), each signal change and what it caused:
``SignalChanged`` (strategy) → ``OrderSubmitted`` (orders: a signal's order, or an exit caused by
the fill that opened its position) → ``OrderApproved`` (risk) → ``OrderFilled`` or
``OrderRejected`` (execution), and ``OrderExpired`` (orders) for resting entries that never
filled, and ``PortfolioRuined`` (portfolio) for a lane whose equity reached 0 at a close: its
position closed at that close (``quantity``, ``price``; the deficit written off in ``reason``),
its last event. Each row has a run-unique ``event_id``, the ``correlation_id`` of its lane (``<run
id>:<combo id>:<symbol>``), the ``causation_id`` of the event that caused it, its ``sequence``
within the lane, the bar and its time, the ``kind``, the emitting ``component`` and that
component's parameters (JSON), and the payload as columns (``target``, ``quantity``, ``price`` —
an order's trigger level, a fill's price —, ``commission``, ``max_quantity``, ``reason``, and
``order_kind``: market, limit, stop, stop_limit, stop_loss, take_profit, trailing_stop,
max_holding, continuation). The run id is derived from the spec and the data, so the same run
gives the same ids.

A filter keeps what a large sweep needs: ``trace: {kinds: [ORDER, FILL], combos: [id, ...]}``
(kinds by name or alias: SIGNAL, ORDER, APPROVAL, FILL, REJECTION, EXPIRY, RUIN). Without tracing
nothing is recorded or computed.

Writing and reading traces is ``pipelines.boundary.trace_files``; the spec's ``trace:`` filter is
read by ``pipelines.boundary.specs``; folding a trace back is ``pipelines.workflows.event_sourcing``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pyarrow as pa

from fp.registry import SETTINGS
from pipelines.engine.columns import classifier_column
from pipelines.engine.folds import FoldTrace
from state.events import REJECTION_REASONS
from state.market import Bars
from state.orders import EXITS, ORDER_KINDS, ORDER_TYPES
from state.plan import Combination, Plan
from state.spec import TraceSpec

__all__ = ["EVENTS_SCHEMA", "KINDS", "KIND_ALIASES", "events_table", "numbered_events", "run_id"]

#: Event kinds a trace records, in causal order, with the component that emits each.
KINDS: dict[str, str] = {"SignalChanged": "strategy", "OrderSubmitted": "orders", "OrderApproved": "risk",
                         "OrderFilled": "execution", "OrderRejected": "execution", "OrderExpired": "orders",
                         "PortfolioRuined": "portfolio"}
#: Short names a spec may use for the kinds.
KIND_ALIASES = {"SIGNAL": "SignalChanged", "ORDER": "OrderSubmitted", "APPROVAL": "OrderApproved",
                "FILL": "OrderFilled", "REJECTION": "OrderRejected", "EXPIRY": "OrderExpired", "RUIN": "PortfolioRuined"}

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("correlation_id", pa.string()), ("causation_id", pa.int64()),
    ("sequence", pa.int64()), ("time", pa.timestamp("ns")), ("bar_index", pa.int64()), ("kind", pa.string()),
    ("component", pa.string()), ("params", pa.string()), ("combo_id", pa.string()), ("symbol", pa.string()),
    ("target", pa.float64()), ("quantity", pa.float64()), ("price", pa.float64()), ("commission", pa.float64()),
    ("max_quantity", pa.float64()), ("reason", pa.string()), ("order_kind", pa.string()),
])








def run_id(spec_sha256: str, data_sha256: str) -> str:
    """The id of a run: the same spec on the same data gives the same id (and event ids)."""
    return hashlib.sha256(f"{spec_sha256}:{data_sha256}".encode()).hexdigest()[:12]


def _params(combo: Combination, component: str) -> str:
    settings = dict(combo.settings)
    if component == "strategy":
        doc = {"strategy": combo.strategy, **{k: _plain(v) for k, v in combo.strategy_params}}
        if combo.classifier:
            doc.update(classifier=combo.classifier, **{classifier_column(k): v for k, v in combo.classifier_params})
    else:
        section_of = {param.name: name for name, section in SETTINGS.items() for param in section.params}
        sections = {"orders": ("exits", "execution"), "risk": ("risk",), "execution": ("execution", "portfolio"),
                    "portfolio": ("portfolio",)}
        doc = {k: v for k, v in settings.items() if section_of.get(k) in sections[component]}
    return json.dumps(doc, sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    return [[_plain(x) for x in v] for v in value] if isinstance(value, tuple) else value


def events_table(plan: Plan, bars: Bars, trace: FoldTrace, *, run: str, keep: TraceSpec,
                 first_id: int = 0) -> pa.Table:
    """One symbol's traced events as rows (see the module docstring), ids from ``first_id``.

    Per order: the ``SignalChanged`` it comes from (once per signal change, before its first
    order), ``OrderSubmitted`` (caused by the signal, by the fill that opened the position an exit
    closes, or by the order a continuation carries on), ``OrderApproved``, then ``OrderFilled`` or
    ``OrderRejected``; entries that expired unfilled as ``OrderExpired`` events after all of them
    (their ``sequence`` continues their lane's). Continuations that found no working order are left out.
    """
    combos = plan.combos
    wanted = np.array([not keep.combos or c.combo_id in keep.combos for c in combos], bool)
    # a continuation row only matters when a participation cap left an order working
    idle = (trace.kind == ORDER_KINDS.index("continuation")) & (trace.quantity == 0.0) & (trace.reason < 0)
    rows = np.flatnonzero(wanted[trace.lane] & ~idle) if len(trace.lane) else np.empty(0, np.int64)
    lane, origin, order_kind = trace.lane[rows], trace.signal_bar[rows], trace.kind[rows]
    n = len(rows)
    filled = trace.quantity[rows] != 0.0
    rejected = trace.reason[rows] >= 0
    signal = order_kind < len(ORDER_TYPES)
    exit_ = (order_kind >= len(ORDER_TYPES)) & (order_kind < len(ORDER_TYPES) + len(EXITS))
    # the first order of each signal change carries its SignalChanged
    group = lane.astype(np.int64) * (len(bars) + 1) + origin
    firsts = np.full(n, False)
    if n:
        keys, first_at = np.unique(np.where(signal, group, -1), return_index=True)
        firsts[first_at[keys >= 0]] = True
    per_order = firsts + 2 + filled + rejected
    start = np.concatenate(([0], np.cumsum(per_order)[:-1])) if n else np.empty(0, np.int64)
    submitted = start + firsts
    last = start + per_order - 1
    # what caused each submission: its signal change, the entry fill (exits), the order before (continuations)
    event = np.arange(int(per_order.sum()), dtype=np.int64) + first_id
    changed_at = {int(g): int(a) for g, a in zip(group[firsts], start[firsts])}
    entry_last = {}
    for i in np.flatnonzero(signal).tolist():
        entry_last[int(group[i])] = int(last[i])  # the last order of a change is its entry
    cause_of_submit = np.full(n, -1, np.int64)
    for i in range(n):
        if signal[i]:
            cause_of_submit[i] = changed_at[int(group[i])]
        elif exit_[i]:
            cause_of_submit[i] = entry_last.get(int(group[i]), -1)
        elif i and lane[i - 1] == lane[i]:
            cause_of_submit[i] = last[i - 1]
    total = int(per_order.sum())
    kind = np.empty(total, object)
    cause = np.full(total, -1, np.int64)
    bar = np.empty(total, np.int64)
    columns = {name: np.full(total, np.nan) for name in ("target", "quantity", "price", "commission", "max_quantity")}
    reason = np.full(total, None, object)
    kind_name = np.full(total, None, object)
    lanes = np.repeat(lane, per_order)
    at = start[firsts]
    kind[at] = "SignalChanged"
    bar[at] = origin[firsts]
    columns["target"][at] = trace.signal_target[rows][firsts]
    names = np.array(ORDER_KINDS, object)[order_kind]
    kind[submitted] = "OrderSubmitted"
    cause[submitted] = np.where(cause_of_submit >= 0, cause_of_submit + first_id, -1)
    bar[submitted] = np.where(exit_ | ~signal, trace.fill_bar[rows], origin)
    columns["target"][submitted] = trace.submitted_target[rows]
    columns["price"][submitted] = trace.level[rows]
    kind_name[submitted] = names
    kind[submitted + 1] = "OrderApproved"
    cause[submitted + 1] = event[submitted]
    bar[submitted + 1] = bar[submitted]
    columns["target"][submitted + 1] = trace.approved_target[rows]
    columns["max_quantity"][submitted + 1] = trace.max_quantity[rows]
    kind_name[submitted + 1] = names
    fill = (submitted + 2)[filled]
    kind[fill] = "OrderFilled"
    cause[fill] = event[submitted[filled] + 1]
    bar[fill] = trace.fill_bar[rows][filled]
    kind_name[fill] = names[filled]
    for name in ("quantity", "price", "commission"):
        columns[name][fill] = getattr(trace, name)[rows][filled]
    rej = (submitted + 2 + filled)[rejected]
    kind[rej] = "OrderRejected"
    cause[rej] = event[submitted[rejected] + 1]
    bar[rej] = trace.fill_bar[rows][rejected]
    reason[rej] = np.array(REJECTION_REASONS, object)[trace.reason[rows][rejected]]
    kind_name[rej] = names[rejected]
    table = _table(plan, bars, run, event, lanes, kind, cause, bar, columns, reason, kind_name)
    expired = trace.expired
    mine = np.flatnonzero(wanted[expired.lane]) if len(expired.lane) else np.empty(0, np.int64)
    if len(mine):
        m = len(mine)
        by_lane = np.argsort(expired.lane[mine], kind="stable")
        mine = mine[by_lane]
        more = _table(plan, bars, run, np.arange(m, dtype=np.int64) + first_id + total, expired.lane[mine],
                      np.full(m, "OrderExpired", object), np.full(m, -1, np.int64), expired.until[mine],
                      {name: np.full(m, np.nan) for name in columns}, np.full(m, None, object),
                      np.array(ORDER_KINDS, object)[expired.kind[mine]],
                      sequence_from=np.bincount(lanes, minlength=len(plan.combos)))
        table = pa.concat_tables([table, more])
    ruined = trace.ruined
    mine = np.flatnonzero(wanted[ruined.lane]) if len(ruined.lane) else np.empty(0, np.int64)
    if len(mine):  # each ruined lane's last event, after its expiries
        m, lane = len(mine), ruined.lane[mine]
        columns = {name: np.full(m, np.nan) for name in columns}
        columns.update(quantity=ruined.quantity[mine], price=ruined.price[mine], commission=np.zeros(m))
        reason = np.array([f"equity {-d:,.2f} at the close: position closed, {d:,.2f} written off"
                           for d in ruined.deficit[mine]], object)
        before = np.bincount(lanes, minlength=len(plan.combos)) + np.bincount(
            trace.expired.lane[wanted[trace.expired.lane]], minlength=len(plan.combos))
        more = _table(plan, bars, run, np.arange(m, dtype=np.int64) + first_id + table.num_rows, lane,
                      np.full(m, "PortfolioRuined", object), np.full(m, -1, np.int64), ruined.bar[mine], columns,
                      reason, np.full(m, None, object), sequence_from=before)
        table = pa.concat_tables([table, more])
    keep_rows = np.isin(table.column("kind").to_numpy(zero_copy_only=False), list(keep.kinds))
    return table.filter(pa.array(keep_rows)) if not keep_rows.all() else table


def numbered_events(events: pa.Table) -> pa.Table:
    """``events`` with ids ``0..n-1`` in row order and each causation id following its event (null
    where the trace's filter left the cause out): a run's ids whatever its parts were numbered.

    >>> t = pa.table({"event_id": [7, 3, 9], "causation_id": pa.array([None, 7, 5], pa.int64())})
    >>> numbered_events(t).to_pydict()
    {'event_id': [0, 1, 2], 'causation_id': [None, 0, None]}
    """
    old = np.asarray(events.column("event_id").to_numpy(), np.int64)
    by_id = np.argsort(old, kind="stable")
    cause = events.column("causation_id")
    known = ~np.asarray(cause.is_null().to_numpy(zero_copy_only=False), bool)
    values = np.asarray(cause.fill_null(-1).to_numpy(), np.int64)
    at = np.minimum(np.searchsorted(old[by_id], values), max(len(old) - 1, 0))
    found = known & (old[by_id][at] == values) if len(old) else known
    events = events.set_column(events.schema.get_field_index("event_id"), "event_id",
                               pa.array(np.arange(len(old), dtype=np.int64)))
    return events.set_column(events.schema.get_field_index("causation_id"), "causation_id",
                             pa.array(np.where(found, by_id[at] if len(old) else 0, 0), pa.int64(), mask=~found))


def _table(plan: Plan, bars: Bars, run: str, event, lanes, kind, cause, bar, columns, reason, kind_name,
           sequence_from: np.ndarray | None = None) -> pa.Table:
    """Rows of events of lanes given contiguously; ``sequence_from`` offsets each lane's sequence
    numbers (by lane id; events of that lane already recorded)."""
    combos = plan.combos
    total = len(event)
    component = np.array([KINDS[k] for k in kind], object)
    params_of = {(i, c): _params(combos[i], c) for i in np.unique(lanes).tolist() for c in set(KINDS.values())}
    ids = np.array([c.combo_id for c in combos], object)
    correlation = np.array([f"{run}:{c.combo_id}:{bars.symbol}" for c in combos], object)
    lane_start = np.concatenate(([True], lanes[1:] != lanes[:-1])) if total else np.empty(0, bool)
    starts = np.flatnonzero(lane_start)
    sequence = np.arange(total) - np.repeat(starts, np.diff(np.append(starts, total)))
    if sequence_from is not None:
        sequence = sequence + sequence_from[lanes]
    return pa.table({
        "event_id": event, "correlation_id": pa.array(correlation[lanes], pa.string()),
        "causation_id": pa.array(cause, pa.int64(), mask=cause < 0), "sequence": sequence,
        "time": pa.array(bars.time[bar], pa.timestamp("ns", bars.timezone)), "bar_index": bar,
        "kind": pa.array(kind, pa.string()), "component": pa.array(component, pa.string()),
        "params": pa.array([params_of[(int(l), c)] for l, c in zip(lanes, component)], pa.string()),
        "combo_id": pa.array(ids[lanes], pa.string()), "symbol": pa.array([bars.symbol] * total, pa.string()),
        **{name: pa.array(values, mask=np.isnan(values)) for name, values in columns.items()},
        "reason": pa.array(reason, pa.string()), "order_kind": pa.array(kind_name, pa.string()),
    }, schema=EVENTS_SCHEMA.set(EVENTS_SCHEMA.get_field_index("time"), pa.field("time", pa.timestamp("ns", bars.timezone))))






