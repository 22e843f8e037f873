"""A finished run folder, read for reports and figures: its tables, its manifest, and the curves of
the combinations a report shows.

:func:`load_run` reads what a run folder has (``results``, ``trades``, ``manifest.json`` and the
optional tables) and says what it lacks in :attr:`RunFolder.notes`. :meth:`RunFolder.shown` gives
the equity, position, trades and bars of chosen combinations: from ``equity.parquet`` when the run
recorded it, otherwise by re-folding only those combinations with the run's own spec and data (the
existing runner on a plan restricted to them; the isolation law makes that exact, and the re-fold's
final equity is checked against ``results.parquet``). Nothing is approximated: when the data or
a custom component cannot be found again, the curves are missing and the notes say why.

Effects: reading the folder and the run's data files.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fp.metrics import METRICS
from pipelines.engine.columns import CLASSIFIER_PREFIX, RESERVED
from pipelines.engine.regime_labels import expand_regimes
from state.errors import AdmfError
from state.market import Bars, MarketData
from state.plan import Plan

__all__ = ["RunFolder", "RunFolderError", "Shown", "load_run"]

#: Optional tables a run folder may hold, read when present.
OPTIONAL_TABLES = ("equity", "regime_stats", "symbol_stats", "windows", "regimes")
#: Result columns that are not parameters: ids, outcomes (plain, ``train_``, ``test_``), window
#: columns (``pipelines.engine.columns.RESERVED``) and a function objective's value.
_NOT_PARAMETERS = RESERVED | {f"{part}objective" for part in ("", "train_", "test_")}


class RunFolderError(AdmfError, ValueError):
    """A folder is not a finished run folder (or a combination asked for is not in it)."""


@attrs.frozen(eq=False)
class Shown:
    """One result row's curves, as a report shows them.

    ``key`` names the row (its ``combo_id``, with ``:symbol`` when a combination has a row per
    symbol); ``time``, ``equity`` and ``position`` are its equity curve (``position``: one column
    per symbol of ``symbols``); ``part`` labels each bar ``train``/``test`` in a train/test run
    (``None`` otherwise); ``trades`` are its rows of ``trades.parquet``; ``bars`` the price data of
    each symbol over the curve's span; ``labels`` each symbol's regime label per bar of ``bars``
    (NaN: unknown) when a classifier gates it; ``exit_reasons`` one entry per trade (``None``
    when not known).
    """

    key: str
    row: dict[str, Any]
    symbols: tuple[str, ...]
    time: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    trades: pa.Table
    bars: tuple[Bars, ...] = ()
    labels: tuple[np.ndarray | None, ...] = ()
    part: np.ndarray | None = None
    exit_reasons: tuple[str | None, ...] = ()


@attrs.frozen(eq=False)
class RunFolder:
    """What a finished run folder holds (see the module docstring). ``path`` is ``None`` for a
    run still in memory (:meth:`from_result`); ``notes`` say what is missing and what follows."""

    path: Path | None
    manifest: dict[str, Any]
    results: pa.Table
    trades: pa.Table
    tables: dict[str, pa.Table]
    notes: tuple[str, ...] = ()
    plan: Plan | None = None
    market: MarketData | None = None
    _signals: Any = None

    @classmethod
    def from_result(cls, result) -> "RunFolder":
        """The run folder a :class:`pipelines.boundary.outputs.RunResult` would write, without writing it."""
        tables = {name: getattr(result, name) for name in OPTIONAL_TABLES if getattr(result, name, None) is not None}
        signals = None
        if result.plan.spec.workflow.type == "signal_replay":
            from pipelines.boundary.store_files import read_store
            signals = read_store(result.plan.spec.signals).source()
        return cls(None, result.manifest, result.results, result.trades, tables, (), result.plan, result.market,
                   signals)

    # ---- what the folder holds --------------------------------------------------------------

    @property
    def workflow(self) -> str:
        return self.manifest.get("workflow", "backtest")

    @property
    def objective(self) -> str:
        return self.manifest.get("objective", "sharpe")

    @property
    def is_train_test(self) -> bool:
        return "rank" in self.results.column_names

    @property
    def is_walk_forward(self) -> bool:
        return "windows" in self.tables

    @property
    def is_shared_cash(self) -> bool:
        return "symbol_stats" in self.tables

    def keys(self) -> list[str]:
        """The key of every result row (see :class:`Shown`), in results order."""
        return list(self._keys)

    @functools.cached_property
    def _keys(self) -> tuple[str, ...]:
        if self.is_walk_forward:
            return tuple(f"oos:{s}" for s in self.results.column("symbol").to_pylist())
        ids = self.results.column("combo_id").to_pylist()
        if len(set(ids)) == len(ids):
            return tuple(ids)
        return tuple(f"{c}:{s}" for c, s in zip(ids, self.results.column("symbol").to_pylist()))

    @functools.cached_property
    def rows(self) -> tuple[dict[str, Any], ...]:
        """Every result row as a dict, in results order (read once; do not modify them)."""
        return tuple(self.results.to_pylist())

    @functools.cached_property
    def _position(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self._keys)}

    def parameter_columns(self) -> list[str]:
        """Columns of ``results`` that hold parameters (strategy, classifier, gridded settings)."""
        return list(self._parameter_columns)

    @functools.cached_property
    def _parameter_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.results.column_names if c not in _NOT_PARAMETERS)

    def objective_values(self) -> np.ndarray:
        """The objective of every result row (train/test: on the training part), NaN when undefined."""
        return self._objective_values.copy()

    @functools.cached_property
    def _objective_values(self) -> np.ndarray:
        from pipelines.engine.objectives import objective_values
        if ":" in self.objective:  # an author's objective: the run wrote its values (no code is imported here)
            column = "train_objective" if "train_objective" in self.results.column_names else "objective"
            if column in self.results.column_names:
                return np.array(self.results.column(column).to_pylist(), dtype=np.float64)
            return np.array(objective_values(self.results, "sharpe"), dtype=np.float64)
        return np.array(objective_values(self.results, self.objective), dtype=np.float64)

    def ranked_keys(self) -> list[str]:
        """Keys best first: train/test by selection rank, otherwise by the objective (NaN last)."""
        return list(self._ranked_keys)

    @functools.cached_property
    def _ranked_keys(self) -> tuple[str, ...]:
        keys = self._keys
        values = self._objective_values
        ranks = self.results.column("rank").to_pylist() if self.is_train_test else [None] * len(keys)
        order = sorted(range(len(keys)), key=lambda i: (ranks[i] is None, ranks[i] or 0, np.isnan(values[i]),
                                                        -values[i] if not np.isnan(values[i]) else 0.0, i))
        return tuple(keys[i] for i in order)

    def row(self, key: str) -> dict[str, Any]:
        """The result row of ``key`` (a copy)."""
        at = self._position.get(key)
        if at is None:
            raise RunFolderError(f"{key!r}: no such combination in {self.path or 'this run'}; "
                                 f"choose one of its combo_id values (e.g. {self.ranked_keys()[0]!r})")
        return dict(self.rows[at])

    def resolve(self, given: str) -> str:
        """A key from a combination id as a user gives it (a ``combo_id``, or ``combo_id:symbol``)."""
        keys = self.keys()
        if given in keys:
            return given
        matches = [k for k in keys if k.split(":")[0] == given]
        if matches:
            return matches[0]
        raise RunFolderError(f"--combo {given}: no such combination in {self.path or 'this run'}; "
                             f"the best is {self.ranked_keys()[0]}")

    # ---- figures for notebooks ---------------------------------------------------------------

    def plot(self, combo_id: str | None = None):
        """One combination's linked panels as a ``plotly.graph_objects.Figure`` (default: the best)."""
        from pipelines.reporting.figures import as_figure, combination_figure
        key = self.resolve(combo_id) if combo_id is not None else self.ranked_keys()[0]
        shown, notes = self.shown([key])
        if key not in shown:
            raise RunFolderError(f"{key}: {notes[0] if notes else 'no curves to draw'}")
        return as_figure(combination_figure(shown[key], title=f"{key}"))

    def heatmap(self, x: str, y: str, *, metric: str | None = None, aggregate: str = "max"):
        """``metric`` over parameters ``x`` and ``y`` (the others aggregated: ``max``, ``mean`` or
        ``robustness``) as a ``plotly.graph_objects.Figure``."""
        from pipelines.reporting.figures import as_figure, landscape_figure
        metric = metric or (self.objective.lstrip("-") if ":" not in self.objective else "sharpe")
        names = self.results.column_names
        for name, value in (("x", x), ("y", y), ("metric", metric)):
            if value not in names:
                raise RunFolderError(f"{name}={value!r}: not a column of the results; choose one of "
                                     f"{', '.join(self.parameter_columns() if name != 'metric' else METRICS)}")
        if aggregate not in ("max", "mean", "robustness"):
            raise RunFolderError(f"aggregate={aggregate!r}: must be 'max', 'mean' or 'robustness'")
        rows = list(self.rows)
        others = [p for p in self.parameter_columns() if p not in (x, y)
                  and len({repr(r.get(p)) for r in rows}) > 1]
        best = self.row(self.ranked_keys()[0]) if not self.is_walk_forward else None
        return as_figure(landscape_figure(rows, [x, y, *others] if aggregate == "robustness" else [x, y], metric,
                                          best=best, aggregate=aggregate, title=f"{metric} over {x} × {y}"))

    # ---- curves of shown combinations --------------------------------------------------------

    def shown(self, keys: Sequence[str]) -> tuple[dict[str, Shown], tuple[str, ...]]:
        """The :class:`Shown` of each key that can be shown, and notes on the others."""
        keys = list(dict.fromkeys(keys))
        notes: list[str] = []
        if self.is_walk_forward:
            return self._walk_forward(keys), ()
        equity = self.tables.get("equity")
        curves: dict[str, tuple] = {}
        reasons: dict[str, list] = {}
        if equity is not None:
            groups = _groups(equity, by_symbol=not self.is_shared_cash)
            for key in keys:
                curve = _curve_of(equity, self.row(key), self.is_shared_cash, groups)
                if curve is not None:
                    curves[key] = (*curve, None)
            if self._has_exits and not self.is_shared_cash and self._load_error is None and self.plan is not None:
                reasons = self._refold(keys)[1]  # which exit closed each trade: only the fold's fills know
        else:
            try:
                curves, reasons, refold_notes = self._refold(keys)
                notes += refold_notes
            except AdmfError as exc:
                known = self._load_error is not None  # load_run has said why already
                return {}, () if known else (f"no equity curves: this run has no equity.parquet and cannot be "
                                             f"re-folded ({exc}); run it again with --equity",)
        out = {}
        for key in keys:
            if key not in curves:
                continue
            symbols, time, equity_values, position, part = curves[key]
            row = self.row(key)
            trades = self._trades_of(row, symbols)
            bars, labels = self._bars(row, symbols, time)
            out[key] = Shown(key, row, symbols, time, equity_values, position, trades, bars, labels, part,
                             tuple(reasons.get(key) or self._exit_reasons(trades)))
        return out, tuple(notes)

    def _trades_of(self, row: dict, symbols: tuple[str, ...]) -> pa.Table:
        t = self.trades
        if not t.num_rows:
            return t
        if self.is_shared_cash or len(symbols) != 1:
            return _where(t, combo_id=row["combo_id"])
        return _where(t, combo_id=row["combo_id"], symbol=symbols[0])

    def _walk_forward(self, keys: Sequence[str]) -> dict[str, Shown]:
        out = {}
        equity = self.tables["equity"]
        for key in keys:
            symbol = key.split(":", 1)[1]
            part = _where(equity, symbol=symbol)
            time = np.asarray(part.column("time").to_numpy(), "datetime64[ns]")
            row = _where(self.results, symbol=symbol).to_pylist()[0]
            trades = _where(self.trades, symbol=symbol) if self.trades.num_rows else self.trades
            bars, labels = self._bars(row, (symbol,), time)
            out[key] = Shown(key, row, (symbol,), time, np.asarray(part.column("equity").to_numpy()),
                             np.asarray(part.column("position").to_numpy())[:, None], trades, bars, labels, None,
                             tuple(self._exit_reasons(trades)))
        return out

    def _runnable(self):
        """The plan, market data and signal source to re-fold with (raises AdmfError with the reason)."""
        if self.plan is not None and self.market is not None:
            return self.plan, self.market, self._signals
        if self._load_error is not None:
            raise AdmfError(self._load_error)
        raise AdmfError("the run's spec or data could not be loaded")

    @property
    def _load_error(self) -> str | None:
        return next((n for n in self.notes if "cannot be re-folded" in n), None)

    def _refold(self, keys: Sequence[str]):
        """Re-run the shown combinations: equity, position and (without shared cash) exit reasons."""
        from pipelines.engine.evaluate import run_plan
        from pipelines.engine.signals import split_index
        from state.spec import TraceSpec
        plan, market, signals = self._runnable()
        rows = {key: self.row(key) for key in keys}
        wanted = {r["combo_id"] for r in rows.values()}
        picked = _restricted(plan, wanted)
        source = {} if signals is None else {"signals": signals}
        shared = self.is_shared_cash
        trace = None if shared or not self._has_exits else TraceSpec(kinds=("OrderFilled",), combos=())
        split = plan.spec.data.split if self.is_train_test else None
        parts = [("", None)]
        if split is not None:
            parts = [("train", lambda b: (0, split_index(split, b))), ("test", lambda b: (split_index(split, b), len(b)))]
        folded = []
        for name, window in parts:
            sub = picked
            if name == "test":
                selected = {r["combo_id"] for r in rows.values() if r.get("selected")}
                sub = attrs.evolve(picked, combos=tuple(c for c in picked.combos if c.combo_id in selected))
                if not sub.combos:
                    continue
            tables = run_plan(sub, market, window=window, equity=True, trace=trace, **source)
            folded.append((name, tables))
        curves, reasons, notes = {}, {}, []
        groups = [_groups(tables.equity, by_symbol=not shared) if tables.equity is not None and tables.equity.num_rows
                  else {} for _, tables in folded]
        finals = [_finals(tables.results) for _, tables in folded]
        for key, row in rows.items():
            pieces = []
            for (name, tables), grouped, final in zip(folded, groups, finals):
                piece = _curve_of(tables.equity, row, shared, grouped)
                if piece is not None:
                    pieces.append((name, piece))
                    check = final.get((row["combo_id"], row["symbol"]))
                    recorded = row.get(f"{name}_final_equity" if name else "final_equity")
                    if recorded is not None and check is not None and not np.isclose(check, recorded, rtol=1e-9):
                        notes.append(f"{key}: the re-folded final equity {check:,.2f} differs from the run's "
                                     f"{recorded:,.2f}: the code or the data changed since the run")
            if not pieces:
                continue
            symbols = pieces[0][1][0]
            time = np.concatenate([p[1][1] for p in pieces])
            equity = _stitched([p[1][2] for p in pieces])
            position = np.concatenate([p[1][3] for p in pieces])
            part = np.concatenate([np.full(len(p[1][1]), p[0] or "", object) for p in pieces]) if split else None
            curves[key] = (symbols, time, equity, position, part)
            if trace is not None:
                events = pa.concat_tables([t.events for _, t in folded if t.events is not None])
                reasons[key] = _reasons_from_fills(events, self._trades_of(row, symbols), row)
        return curves, reasons, notes

    @property
    def _has_exits(self) -> bool:
        spec = self.manifest.get("spec", {})
        return "exits" in spec or any("exits" in s for s in spec.get("strategies", []) if isinstance(s, dict))

    def _exit_reasons(self, trades: pa.Table) -> list[str | None]:
        """Exit reasons when the spec fixes them: without exits every exit is a signal's."""
        if self._has_exits:
            return [None] * trades.num_rows
        closed = trades.column("exit_time").is_valid().to_pylist() if trades.num_rows else []
        return ["signal" if c else None for c in closed]

    def _bars(self, row: dict, symbols: tuple[str, ...], time: np.ndarray) -> tuple[tuple[Bars, ...], tuple]:
        """Each symbol's bars over ``time``'s span, and regime labels when a classifier gates the row."""
        if self.market is None or not len(time):
            return (), ()
        out, labels = [], []
        for symbol in symbols:
            if symbol not in self.market.symbols:
                continue
            bars = self.market.bars[self.market.symbols.index(symbol)]
            lo, hi = np.searchsorted(bars.time, [time[0], time[-1]], side="left")
            hi = min(int(hi) + 1, len(bars))
            out.append(bars.slice(int(lo), hi))
            labels.append(self._labels(row, bars, int(lo), hi))
        return tuple(out), tuple(labels)

    def _labels(self, row: dict, bars: Bars, lo: int, hi: int) -> np.ndarray | None:
        """The regime label of each bar of ``bars[lo:hi]`` when a classifier gates ``row`` (NaN: none):
        the labels its lane traded on, from the run's ``regimes.parquet`` (a train/test run records
        its test part's only); for a folder written before that file existed, the classifier fitted
        again on the same data."""
        if not row.get("classifier"):
            return None
        if "regimes" in self.tables:
            changes = self._recorded_regimes.get(_regime_key(row, bars.symbol, self._regime_columns))
            if changes is None:
                return None
            bar_index, regime = changes
            labels = np.full(len(bars), np.nan)
            labels[bar_index[0]:] = expand_regimes(bar_index, regime, int(bar_index[0]), len(bars))
            return labels[lo:hi]
        combo = None if self.plan is None else next(
            (c for c in self.plan.combos if c.combo_id == row.get("combo_id")), None)
        if combo is None or combo.classifier is None:
            return None
        from pipelines.engine.signals import computed_signals
        try:
            labels = computed_signals(attrs.evolve(self.plan, combos=(combo,)), bars).labels(combo)
        except Exception:  # labels only shade the chart: a classifier that fails here leaves it unshaded
            return None
        return None if labels is None else np.asarray(labels, dtype=np.float64)[lo:hi]

    @functools.cached_property
    def _regime_columns(self) -> tuple[str, ...]:
        """The classifier parameter columns of ``regimes.parquet`` (results rows share them)."""
        return tuple(c for c in self.tables["regimes"].column_names if c.startswith(CLASSIFIER_PREFIX)
                     and c != "classifier_id")

    @functools.cached_property
    def _recorded_regimes(self) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """``regimes.parquet`` by classifier point and symbol: each one's change points (bar index,
        regime; NaN where the bar has no label)."""
        table = self.tables["regimes"]
        if not table.num_rows:
            return {}
        names = ("symbol", "classifier", *self._regime_columns)
        keys = list(zip(*(table.column(name).to_pylist() for name in names)))
        bar_index = np.asarray(table.column("bar_index").to_numpy(), np.int64)
        regime = np.asarray(table.column("regime").to_numpy(zero_copy_only=False), np.float64)  # null: NaN
        starts = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]  # rows come grouped
        return {keys[a]: (bar_index[a:b], regime[a:b]) for a, b in zip(starts, [*starts[1:], len(keys)])}


def _regime_key(row: dict, symbol: str, columns: Sequence[str]) -> tuple:
    """The key of a results row's classifier point in ``regimes.parquet`` (see ``RunFolder._recorded_regimes``)."""
    return (symbol, row.get("classifier"), *(row.get(c) for c in columns))


def _where(table: pa.Table, **equal) -> pa.Table:
    """The rows of ``table`` whose columns equal the given values (vectorised; a missing column matches)."""
    mask = None
    for name, value in equal.items():
        if name not in table.column_names:
            continue
        hit = pc.equal(table.column(name), value)
        mask = hit if mask is None else pc.and_(mask, hit)
    return table if mask is None else table.filter(mask)


def _groups(table: pa.Table, *, by_symbol: bool = True) -> dict[tuple[str, str | None], pa.Table]:
    """The rows of each (combo_id, symbol) of an equity table (``by_symbol=False``: of each
    combo_id), as zero-copy slices of the contiguous runs tables are written in.

    A record batch whose first and last ids agree is one run (the runner writes one batch per
    lane, each id repeated); any other batch is split where its ids change, after one dictionary
    encoding. No per-row work in Python, no string hashing on the runner's own tables."""
    names = ("combo_id", "symbol") if by_symbol else ("combo_id",)
    out: dict[tuple, list] = {}
    offset = 0
    for batch in table.to_batches():
        n = batch.num_rows
        if not n:
            continue
        columns = [batch.column(name) for name in names]
        first = tuple(c[0].as_py() for c in columns)
        if first == tuple(c[n - 1].as_py() for c in columns) and all(
                not pa.types.is_dictionary(c.type) and c.null_count == 0 for c in columns) and _constant(columns):
            out.setdefault(first if by_symbol else (first[0], None), []).append(table.slice(offset, n))
        else:
            codes, values = [], []
            for c in columns:
                encoded = c.dictionary_encode() if not pa.types.is_dictionary(c.type) else c
                codes.append(np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64))
                values.append(encoded.dictionary.to_pylist())
            key = codes[0] * (len(values[1]) if by_symbol else 1) + (codes[1] if by_symbol else 0)
            starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            for a, b in zip(starts.tolist(), np.append(starts[1:], n).tolist()):
                k = int(key[a])
                name = ((values[0][k // len(values[1])], values[1][k % len(values[1])]) if by_symbol
                        else (values[0][k], None))
                out.setdefault(name, []).append(table.slice(offset + a, b - a))
        offset += n
    return {name: parts[0] if len(parts) == 1 else pa.concat_tables(parts) for name, parts in out.items()}


def _constant(columns: Sequence[pa.Array]) -> bool:
    """Whether every column holds one value throughout (a cheap vectorised check)."""
    return all(pc.all(pc.equal(c, c[0])).as_py() for c in columns)


def _curve_of(equity: pa.Table | None, row: dict, shared: bool, groups: dict | None = None):
    if equity is None or not equity.num_rows:
        return None
    groups = _groups(equity, by_symbol=not shared) if groups is None else groups
    if shared:  # rows per timestamp and symbol, the symbols in the same order at every timestamp
        part = groups.get((row["combo_id"], None))
        if part is None or not part.num_rows:
            return None
        first = part.column("time")[0]
        symbols = tuple(_where(part.slice(0, min(part.num_rows, 1000)), time=first).column("symbol").to_pylist())
        n = len(symbols)
        return (symbols, np.asarray(part.column("time").to_numpy(), "datetime64[ns]")[::n],
                np.asarray(part.column("equity").to_numpy())[::n],
                np.asarray(part.column("position").to_numpy()).reshape(-1, n))
    part = groups.get((row["combo_id"], row["symbol"]))
    if part is None:
        return None
    return ((row["symbol"],), np.asarray(part.column("time").to_numpy(), "datetime64[ns]"),
            np.asarray(part.column("equity").to_numpy()), np.asarray(part.column("position").to_numpy())[:, None])


def _restricted(plan: Plan, combo_ids: set[str]) -> Plan:
    """The plan of the given combinations only, computing only the features they read."""
    from fp.registry import registry_of
    from pipelines.engine.compiler import feature_keys
    combos = tuple(c for c in plan.combos if c.combo_id in combo_ids)
    if not plan.features:  # a replay reads its signals
        return attrs.evolve(plan, combos=combos)
    registry = registry_of(plan.spec)
    try:
        features = {k for c in combos for k in feature_keys(c.strategy, c.strategy_params, registry)}
    except Exception:  # a strategy the registry cannot expand alone (an ensemble): keep every feature
        return attrs.evolve(plan, combos=combos)
    return attrs.evolve(plan, combos=combos, features=tuple(sorted(features)))


def _finals(results: pa.Table) -> dict[tuple[str, str], float | None]:
    """Each (combo_id, symbol) row's final equity."""
    columns = [results.column(name).to_pylist() for name in ("combo_id", "symbol", "final_equity")]
    return {(c, s): f for c, s, f in zip(*columns)}


def _stitched(pieces: list[np.ndarray]) -> np.ndarray:
    """Equity pieces joined by compounding: each later piece scaled to start where the one before ended."""
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append(piece * (out[-1][-1] / piece[0]) if len(piece) and piece[0] else piece)
    return np.concatenate(out)


def _reasons_from_fills(events: pa.Table, trades: pa.Table, row: dict) -> list[str | None]:
    """Each trade's exit reason: the order kind of the fill that closed it (a signal's market,
    limit or stop order reads ``signal``; exits read ``stop_loss``, ``take_profit`` ...)."""
    if not trades.num_rows:
        return []
    fills = _where(events, combo_id=row["combo_id"], kind="OrderFilled")
    by_time: dict[tuple, list] = {}
    for symbol, time, quantity, kind in zip(*(fills.column(c).to_pylist() for c in ("symbol", "time", "quantity",
                                                                                    "order_kind"))):
        by_time.setdefault((symbol, time), []).append((quantity or 0.0, kind))
    out = []
    for symbol, exit_time, size in zip(*(trades.column(c).to_pylist() for c in ("symbol", "exit_time", "size"))):
        if exit_time is None:
            out.append(None)
            continue
        kinds = [kind for quantity, kind in by_time.get((symbol, exit_time), []) if quantity * size < 0.0]
        kind = kinds[0] if kinds else None
        out.append("signal" if kind in ("market", "limit", "stop", "stop_limit") else kind)
    return out


def _read(path: Path) -> pa.Table:
    try:
        return pq.ParquetFile(path).read()  # one file: no dataset discovery
    except (OSError, pa.ArrowException) as exc:
        raise RunFolderError(f"{path}: cannot read it ({exc}); is the run folder complete?") from None


def _in_data_order(doc: dict, symbols: Sequence[str] | None) -> dict:
    """The spec document with ``data.paths`` in the order the run read the symbols: manifest.json
    is written with sorted keys, which loses that order, and the order is part of the data (it
    decides the symbols' order, so the data's sha256 and, with shared cash, the order of fills at
    one timestamp). The manifest records the order as ``data.symbols``.

    >>> _in_data_order({"data": {"paths": {"B": "b.csv", "S": "s.csv"}}}, ["S", "B"])
    {'data': {'paths': {'S': 's.csv', 'B': 'b.csv'}}}
    """
    data = doc.get("data")
    paths = data.get("paths") if isinstance(data, dict) else None
    if not isinstance(paths, dict) or not symbols or set(paths) != set(symbols):
        return doc
    return {**doc, "data": {**data, "paths": {symbol: paths[symbol] for symbol in symbols}}}


def _spec_and_market(manifest: dict, root: Path) -> tuple[Plan | None, MarketData | None, Any, list[str]]:
    """The plan, data and signal source of a run folder's own spec (or notes on why not)."""
    from pipelines.engine.compiler import plan_from_spec, replay_plan
    from pipelines.boundary.data import load_market_data
    from pipelines.boundary.specs import spec_from_mapping
    doc = manifest.get("spec")
    if not isinstance(doc, dict):
        return None, None, None, ["cannot be re-folded: the manifest holds no spec"]
    doc = _in_data_order(doc, manifest.get("data", {}).get("symbols"))
    source = manifest.get("spec_source", "<mapping>")
    bases = [manifest.get("spec_base_dir"), os.path.dirname(os.path.abspath(source)) if source[:1] != "<" else None,
             os.getcwd(), str(root.parent)]
    last = ""
    for base in dict.fromkeys(b for b in bases if b):
        try:
            spec = spec_from_mapping(doc, source=source, base_dir=base)
            if spec.workflow.type == "signal_replay":
                from pipelines.boundary.store_files import read_store
                fed = (spec.signals or "").rpartition("phase:")[2] if "phase:" in (spec.signals or "") else None
                store = read_store(root.parent / fed if fed else spec.signals)  # a phase's store: its sibling folder
                market = load_market_data(store.data_spec() if spec.data.is_default else spec.data)
                plan = replay_plan(spec, store.combinations(), symbols=market.symbols)
                signals = store.source()
            else:
                market = load_market_data(spec.data)
                plan = plan_from_spec(spec, symbols=market.symbols)
                signals = None
        except AdmfError as exc:
            last = str(exc)
            if "#" in source and "strategies" in last:  # a phase fed by an earlier phase's selection
                last = "a phase that runs an earlier phase's selection is not re-folded on its own"
            continue
        recorded = manifest.get("data", {}).get("sha256")
        if recorded and recorded != market.sha256:
            return None, None, None, [f"cannot be re-folded: the data found again ({market.source}) is not the data "
                                      "the run read (its sha256 differs)"]
        return plan, market, signals, []
    return None, None, None, [f"cannot be re-folded ({last})"]


def load_run(run_dir: str | os.PathLike) -> RunFolder:
    """Read a finished run folder (see the module docstring); raises :class:`RunFolderError` when
    ``run_dir`` is not one."""
    root = Path(run_dir)
    if not root.is_dir():
        raise RunFolderError(f"{root}: no such run folder; give the folder admf run wrote (runs/<spec>-<time>)")
    if not (root / "manifest.json").is_file():
        phases = [p.name for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()]
        hint = (f"; it holds phases {', '.join(phases)}: report one of them (admf report {root}/{phases[0]})"
                if phases else "")
        raise RunFolderError(f"{root}: no manifest.json, so not a finished run folder{hint}")
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{root}/manifest.json: cannot read it ({exc})") from None
    if not (root / "results.parquet").is_file():
        what = ("a signal store (signals.parquet): replay it (workflow: {type: signal_replay}) and report the replay"
                if (root / "signals.parquet").is_file() else "no results.parquet")
        raise RunFolderError(f"{root}: {what}")
    results = _read(root / "results.parquet")
    trades = _read(root / "trades.parquet") if (root / "trades.parquet").is_file() else pa.table({})
    tables = {name: _read(root / f"{name}.parquet") for name in OPTIONAL_TABLES if (root / f"{name}.parquet").is_file()}
    notes: list[str] = []
    plan, market, signals, spec_notes = _spec_and_market(manifest, root)
    if "equity" not in tables and plan is None:
        notes += [f"no equity curves: this run has no equity.parquet and {n}; run it again with --equity"
                  for n in spec_notes]
    else:
        notes += spec_notes
        if "equity" not in tables:
            notes.append("no equity.parquet: the shown combinations are re-folded from the run's spec and data")
    return RunFolder(root, manifest, results, trades, tables, tuple(notes), plan, market, signals)
