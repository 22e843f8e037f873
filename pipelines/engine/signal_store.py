"""Signal stores: what a ``signal_generation`` run keeps, sparsely, for replays to read back.

A store is a folder with

* ``signals.parquet`` — one row per signal *change*: ``combo_id`` (the signal id: a combination
  without settings), ``symbol``, ``bar_index``, ``time``, ``value`` (the new target), sorted by
  combination, symbol and bar;
* ``combos.parquet`` — one row per stored combination: ``combo_id``, ``strategy``, the strategy's
  parameters as columns and exactly as JSON (``parameters``), ``classifier`` and
  ``classifier_parameters`` likewise (a classifier parameter's column is ``classifier_<name>``, as
  in results: ``pipelines.engine.columns``);
* ``manifest.json`` — ``kind`` (``admf.signal-store``), ``version``, the spec, the data it was
  generated on (source, the data spec, sha256, symbols, bars per symbol, periods per year), the
  number of changes and the size of the equivalent dense store.

Expanding a store's changes back to one target per bar gives the dense signal (law, tested). A
replay refuses a store it cannot trust: missing files, unreadable or inconsistent tables, or data
whose fingerprint or bar counts differ from the data the store was generated on.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import toolz

from pipelines.engine.columns import classifier_column
from pipelines.engine.compiler import signal_id
from pipelines.engine.signals import SymbolSignals
from state.errors import StoreError
from state.market import Bars, MarketData
from state.plan import Combination, Plan
from state.spec import DataSpec

__all__ = ["SIGNAL_SCHEMA", "STORE_KIND", "STORE_VERSION", "SignalStore", "signal_schema", "store_signals"]

STORE_KIND = "admf.signal-store"
STORE_VERSION = 1

SIGNAL_SCHEMA = pa.schema([
    ("combo_id", pa.string()), ("symbol", pa.string()), ("bar_index", pa.int64()),
    ("time", pa.timestamp("ns")), ("value", pa.float64()),
])


def signal_schema(zone: str | None) -> pa.Schema:
    """The signals table's schema, its times in the data's zone (naive when it has none)."""
    return SIGNAL_SCHEMA.set(3, pa.field("time", pa.timestamp("ns", zone)))


@attrs.frozen(eq=False)
class SignalStore:
    """A signal store in memory: its tables, its manifest, and the changes grouped per lane."""

    combos: pa.Table
    signals: pa.Table
    manifest: dict[str, Any]
    changes: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]

    @property
    def n_changes(self) -> int:
        return self.signals.num_rows

    @property
    def dense_size(self) -> int:
        """Values a dense store would hold: one per combination, symbol and bar."""
        return int(self.manifest["dense_size"])

    def combinations(self) -> tuple[Combination, ...]:
        """The stored combinations (strategy and classifier with parameters, no settings)."""
        out = []
        for row in self.combos.to_pylist():
            params = _tuples(json.loads(row["parameters"]))
            cparams = _tuples(json.loads(row["classifier_parameters"]))
            out.append(Combination(row["combo_id"], row["strategy"], params, (), row["classifier"], cparams, "signals"))
        return tuple(out)

    def data_spec(self) -> DataSpec:
        """The data section the store was generated on (a replay without ``data`` uses it)."""
        fields = dict(self.manifest["data"]["spec"])
        fields["paths"] = tuple(tuple(pair) for pair in fields.get("paths", ()))
        fields["symbols"] = tuple(fields.get("symbols", ()))
        return DataSpec(**fields)

    def check_data(self, market: MarketData) -> None:
        """Refuse to replay on data other than the data the store was generated on."""
        data = self.manifest["data"]
        bars = {b.symbol: len(b) for b in market.bars}
        if data["sha256"] != market.sha256 or data["bars"] != bars:
            raise StoreError(
                f"the signal store was generated on data {data['sha256'][:12]}… ({_describe(data['bars'])}) "
                f"but the replay's data is {market.sha256[:12]}… ({_describe(bars)}); replay on the same data "
                "(omit the data section to use the store's) or generate the signals again")

    def source(self) -> Callable[[Plan, Bars], SymbolSignals]:
        """A signal source for ``pipelines.engine.evaluate.run_plan`` reading the stored changes."""
        def for_symbol(plan: Plan, bars: Bars) -> SymbolSignals:
            return SymbolSignals(lambda combo: self.changes[(signal_id(combo), bars.symbol)])
        return for_symbol


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples parameters are made of (so ids recompute identically)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _describe(bars: dict) -> str:
    return ", ".join(f"{s}: {n} bars" for s, n in bars.items())


def store_signals(plan: Plan, market: MarketData, changes: Iterable[tuple[Combination, Bars, tuple]],
                  manifest: dict[str, Any]) -> SignalStore:
    """A store from generated changes ``(combination, bars of a symbol, (bar_indices, values))``."""
    parts, grouped = [], {}
    for combo, bars, (index, values) in changes:
        grouped[(combo.combo_id, bars.symbol)] = (index, values)
        parts.append(pa.table({
            "combo_id": pa.array(np.full(len(index), combo.combo_id, dtype=object), pa.string()),
            "symbol": pa.array(np.full(len(index), bars.symbol, dtype=object), pa.string()),
            "bar_index": pa.array(index, pa.int64()),
            "time": pa.array(bars.time[index], pa.timestamp("ns", bars.timezone)),
            "value": pa.array(values, pa.float64()),
        }, schema=signal_schema(bars.timezone)))
    signals = pa.concat_tables(parts) if parts else signal_schema(market.timezone).empty_table()
    n_bars = sum(len(b) for b in market.bars)
    manifest = {**manifest, "kind": STORE_KIND, "version": STORE_VERSION, "changes": signals.num_rows,
                "dense_size": len(plan.combos) * n_bars}
    return SignalStore(_combos_table(plan.combos), signals, manifest, grouped)


def _combos_table(combos: Iterable[Combination]) -> pa.Table:
    combos = list(combos)
    names = list(toolz.unique(k for c in combos for k, _ in c.strategy_params))
    columns: dict[str, list] = {
        "combo_id": [c.combo_id for c in combos],
        "strategy": [c.strategy for c in combos],
        "parameters": [json.dumps(c.strategy_params) for c in combos],
        "classifier": [c.classifier for c in combos],
        "classifier_parameters": [json.dumps(c.classifier_params) for c in combos],
    }
    for name in names:
        if name not in columns:
            values = [dict(c.strategy_params).get(name) for c in combos]
            if not any(isinstance(v, tuple) for v in values):  # an ensemble's members stay in the JSON only
                columns[name] = values
    for name in dict.fromkeys(k for c in combos for k, _ in c.classifier_params):
        columns[classifier_column(name)] = [dict(c.classifier_params).get(name) for c in combos]
    return pa.table(columns)












