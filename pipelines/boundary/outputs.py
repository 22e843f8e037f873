"""Run results: the tables of a run, how they rank, and how they are written to disk atomically.

A run directory holds ``results.parquet`` (one row per combination and symbol), ``trades.parquet``
and ``manifest.json`` (the spec, spec and data sha256, package versions, timing). It is written
into a temporary sibling folder and renamed into place, so an interrupted or failed run never
leaves a half-written directory behind. Parquet files carry no timestamps: the same spec and data
give byte-identical tables.

The folder to write must not exist or be an empty folder; :func:`check_run_dir` tells before a run
whether it can be used, so a long run is not wasted on a bad ``--out``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.engine.objectives import objective_function
from state.errors import AdmfError
from state.market import MarketData
from state.plan import Plan

__all__ = ["RunDirError", "RunResult", "check_run_dir", "json_safe", "objective_values", "with_objective", "write_dir",
           "write_run"]


class RunDirError(AdmfError, OSError):
    """The output folder cannot be used: it is a file, a non-empty folder, or cannot be created or written."""


@attrs.frozen(eq=False)
class RunResult:
    """What ``pipelines.run`` returns: the plan, the data it ran on, the tables and the manifest.

    ``returns``, when the run kept them (an optimization, a phase), are each symbol's per-bar
    returns, bars × the combinations that ran without error: in memory only, never written."""

    plan: Plan
    market: MarketData
    results: pa.Table
    trades: pa.Table
    manifest: dict[str, Any]
    regime_stats: pa.Table | None = None
    equity: pa.Table | None = None
    windows: pa.Table | None = None
    events: pa.Table | None = None
    final: pa.Table | None = None
    symbol_stats: pa.Table | None = None
    regimes: pa.Table | None = None
    returns: tuple[tuple[str, Any], ...] | None = attrs.field(default=None, repr=False)

    def ranked(self, objective: str | None = None) -> pa.Table:
        """Results sorted best first by ``objective`` (default: the spec's); NaN last, ties by order.

        Train/test results put the selected combinations first, in the order of their rank."""
        values = objective_values(self.results, objective or self.plan.spec.objective)
        ranks = (self.results.column("rank").to_pylist() if "rank" in self.results.column_names
                 else [None] * len(values))
        keyed = sorted(range(len(values)), key=lambda i: (ranks[i] is None, ranks[i] or 0, math.isnan(values[i]),
                                                          -values[i] if not math.isnan(values[i]) else 0, i))
        return self.results.take(keyed)

    def best(self, objective: str | None = None) -> dict[str, Any]:
        """The best row as a dict."""
        return self.ranked(objective).slice(0, 1).to_pylist()[0]

    def to_pandas(self):
        """The results table as a pandas DataFrame (needs pandas)."""
        return self.results.to_pandas()

    def plot(self, combo_id: str | None = None):
        """The linked panels (equity with buy-and-hold, drawdown, price with trades, position) of
        ``combo_id`` (default: the best by the objective) as a plotly figure; needs the ``report``
        extra. Without recorded equity the combination is re-folded (cheap, exact)."""
        from pipelines.reporting.run_folder import RunFolder
        return RunFolder.from_result(self).plot(combo_id)

    def heatmap(self, x: str, y: str, *, metric: str | None = None, aggregate: str = "max"):
        """``metric`` (default: the objective) over parameters ``x`` and ``y``, the other parameters
        aggregated by ``aggregate`` (``max``, ``mean`` or ``robustness``), as a plotly figure."""
        from pipelines.reporting.run_folder import RunFolder
        return RunFolder.from_result(self).heatmap(x, y, metric=metric, aggregate=aggregate)


def objective_values(results: pa.Table, objective: str) -> list[float]:
    """The objective of every row (see ``pipelines.engine.objectives``); of train/test results, the
    training objective."""
    score = objective_function(objective)
    rows = results.to_pylist()
    if "rank" in results.column_names:
        rows = [{k.removeprefix("train_"): v for k, v in row.items() if not k.startswith("test_")} for row in rows]
    return [score(row) for row in rows]


def with_objective(table: pa.Table, objective: str) -> pa.Table:
    """``table`` with the values of a function objective (``module:function``) as columns:
    ``objective`` for each row, or for tables of training and test metrics (train/test results,
    walk-forward windows) ``train_objective`` and ``test_objective`` (null where a row was not
    tested). A metric objective (``sharpe``, ``-max_drawdown_pct``) is a column already: the
    table is returned as it is."""
    if ":" not in objective or table.num_rows == 0 and not table.column_names:
        return table
    score = objective_function(objective)
    rows = table.to_pylist()
    if "train_final_equity" not in table.column_names:
        return table.append_column("objective", pa.array([score(row) for row in rows], pa.float64()))
    for part, other in (("train_", "test_"), ("test_", "train_")):
        values = [None if row.get(f"{part}final_equity") is None else
                  score({k.removeprefix(part): v for k, v in row.items() if not k.startswith(other)}) for row in rows]
        table = table.append_column(f"{part}objective", pa.array(values, pa.float64()))
    return table


def _json_default(value: Any) -> Any:
    return str(value)


def json_safe(value: Any) -> Any:
    """``value`` (a manifest) as standard JSON holds it: a NaN or infinite float becomes ``None``
    (``null``; the statistic says why beside it, e.g. ``overfitting.reasons``), containers are
    converted recursively; a new object, ``value`` is not modified.

    >>> json_safe({"pbo": float("nan"), "n": [1.0, float("inf")]})
    {'pbo': None, 'n': [1.0, None]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def check_run_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path if a run can be written there; raise :class:`RunDirError` if not.

    Usable: a path that does not exist (its missing parents are created when writing), or an empty
    folder. Refused: a file, or a folder holding anything. Reads only; creates nothing.
    """
    out = Path(out_dir)
    if out.is_dir():
        if any(out.iterdir()):
            raise RunDirError(f"{out}: already exists and is not empty; choose another --out or remove it")
    elif out.exists():
        raise RunDirError(f"{out}: is a file, not a folder; choose another --out")
    return out


def write_run(result: RunResult, out_dir: str | os.PathLike) -> Path:
    """Write ``result`` (results, trades, the optional tables it has, manifest) to ``out_dir``
    atomically; see :func:`write_dir`."""
    from pipelines.engine.events import write_events
    tables = {"results.parquet": result.results, "trades.parquet": result.trades}
    for name in ("regime_stats", "regimes", "equity", "windows", "symbol_stats"):
        if getattr(result, name) is not None:
            tables[f"{name}.parquet"] = getattr(result, name)
    writers = {} if result.events is None else {"events": lambda folder: write_events(result.events, folder)}
    return write_dir(out_dir, tables, result.manifest, writers=writers)


def _statistics_columns(table: pa.Table) -> list[str]:
    """Columns whose Parquet min/max statistics are safe to write: not floating point, since the
    statistics leave NaN out and SQL engines that trust them would skip NaN rows."""
    return [f.name for f in table.schema if not pa.types.is_floating(f.type)]


def write_dir(out_dir: str | os.PathLike, tables: Mapping[str, pa.Table], manifest: Mapping[str, Any], *,
              writers: Mapping[str, Any] = {}) -> Path:
    """Write Parquet ``tables`` (file name -> table) and ``manifest.json`` to ``out_dir`` atomically;
    ``writers`` (name -> function of the folder) write anything else into it first.

    ``out_dir`` must pass :func:`check_run_dir`. The files are written into a new hidden sibling
    folder, which is then renamed to ``out_dir``; on any failure that folder is removed, so
    ``out_dir`` never holds a partial run. The folder gets the mode a plain ``mkdir`` gives (the
    umask applies). A failure to create or write raises :class:`RunDirError` naming ``out_dir``.
    """
    out = check_run_dir(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"
        tmp.mkdir()
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the run folder ({exc.strerror or exc}); choose another --out") \
            from None
    try:
        for name, table in tables.items():
            pq.write_table(table, tmp / name, write_statistics=_statistics_columns(table))
        for write in writers.values():
            write(tmp)
        with open(tmp / "manifest.json", "w") as f:
            json.dump(json_safe(manifest), f, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
            f.write("\n")
        if out.exists():
            out.rmdir()  # an empty folder (check_run_dir); a file added since makes this fail
        os.replace(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RunDirError(f"{out}: cannot write the run ({exc.strerror or exc}); nothing was left "
                              "behind") from exc
        raise
    return out
