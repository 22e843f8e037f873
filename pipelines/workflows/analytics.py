"""SQL over a run folder: ``admf query``, read-only DuckDB views of a run's Parquet tables, and
canned analyses (parameter sensitivity, equity correlation, regimes, a trade's causation chain).

A run folder (``admf run SPEC --out DIR``) holds ``manifest.json`` and Parquet tables; each table
present becomes a view of the same name: ``results``, ``trades``, ``regime_stats``, ``regimes``, ``equity``,
``events``, ``windows``, ``symbol_stats`` (shared-cash portfolios), and in a signal store ``signals`` and ``combos``. A table may also be a
folder of Parquet files (``events/**/*.parquet``, hive partitions become columns).

An example session::

    $ admf run specs/sma_crossover.yaml --out runs/sma      # fast_period [5, 10] x slow_period [20, 40]
    $ admf query runs/sma "SELECT fast_period, avg(sharpe) AS sharpe FROM results GROUP BY 1 ORDER BY 1"
    fast_period  sharpe
    -----------  ------
              5  0.9792
             10  1.0951
    $ admf query runs/sma "SELECT * FROM results WHERE sharp > 1"
    admf: error: Binder Error: Referenced column "sharp" not found in FROM clause!
    Candidate bindings: "sharpe", "cagr_pct", "sortino", "fast_period", "strategy"
    views of runs/sma:
      results(combo_id, symbol, strategy, fast_period, slow_period, final_equity, ...)
      ...
    $ admf query runs/sma --analysis sensitivity
    parameter    value    mean  median     min     max  n
    -----------  -----  ------  ------  ------  ------  -
    fast_period  5      0.9792  0.9792  0.8807  1.0777  2
    fast_period  10     1.0951  1.0951  1.0147  1.1754  2
    slow_period  20     1.1266  1.1266  1.0777  1.1754  2
    slow_period  40     0.9477  0.9477  0.8807  1.0147  2
    $ admf query runs/sma --analysis correlation
    admf: error: runs/sma: no equity.parquet; correlation needs the per-bar equity of every combination: ...
    $ admf query runs/traced --analysis correlation --top 5 --csv
    $ admf query runs/traced --analysis causation --combo 71f9d4657375 --trade 2 --json

and from Python::

    from pipelines.workflows.analytics import query, sensitivity
    query("runs/sma", "SELECT combo_id, sharpe FROM results ORDER BY sharpe DESC LIMIT 3")  # a pyarrow.Table
    sensitivity("runs/sma", metric="sharpe")

:func:`query` runs one read-only statement (``SELECT``, ``WITH``, ``FROM``, ``VALUES``,
``TABLE``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``EXPLAIN`` of those, or an inspecting
``PRAGMA`` such as ``table_info``); anything else is refused before it runs. Every failure is a
:class:`QueryError` (an :class:`~state.errors.AdmfError` and a ``ValueError``) whose message says
what to do; a SQL error also lists the views and their columns. DuckDB is an optional dependency
(the ``query`` extra); without it every entry point raises
:class:`~state.errors.MissingExtraError`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from pipelines.engine.columns import OUTCOME_COLUMNS
from state.errors import AdmfError, MissingExtraError

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = [
    "ANALYSES",
    "QueryError",
    "TABLES",
    "causation",
    "connect",
    "correlation",
    "query",
    "regimes",
    "sensitivity",
]


class QueryError(AdmfError, ValueError):
    """A query cannot run: no run folder, a table it needs is absent, SQL that fails or writes,
    or an analysis option that does not fit the run."""


#: The tables a run folder may hold, in the order views are listed: ``<name>.parquet`` or a
#: folder ``<name>/`` of Parquet files.
TABLES: tuple[str, ...] = ("results", "trades", "regime_stats", "regimes", "equity", "events", "windows", "symbol_stats",
                           "signals", "combos")

#: Columns of ``results`` that identify a row rather than describe a parameter (``classifier``
#: counts as a parameter: it tells classifier choices apart).
_ID_COLUMNS = frozenset({"combo_id", "symbol", "strategy"})
#: Columns of a run's outcome (``pipelines.engine.columns``) and a function objective's values: train/test
#: runs carry ``train_``/``test_`` metrics and the selection.
_METRIC_COLUMNS = frozenset(f"{part}{m}" for part in ("", "train_", "test_") for m in (*OUTCOME_COLUMNS, "objective")) | {
    "selected", "rank"}

_RUN_FOLDER = ("a run folder (admf run SPEC --out DIR) holds results.parquet, trades.parquet and "
               "manifest.json, and when asked for equity.parquet, events.parquet, regime_stats.parquet, regimes.parquet, "
               "symbol_stats.parquet or windows.parquet; a signal store holds signals.parquet and combos.parquet")

#: First keywords of the statements :func:`query` runs.
_READ_KEYWORDS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "SHOW", "SUMMARIZE",
                            "EXPLAIN", "PRAGMA"})
#: ``PRAGMA`` names that only inspect (a ``PRAGMA`` that sets something is refused).
_READ_PRAGMAS = frozenset({"table_info", "show", "show_tables", "show_tables_expanded", "database_size",
                           "version", "platform", "functions"})

#: Connection settings: never download or load an extension behind the user's back.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
#: Optimizers that trust Parquet min/max statistics. pyarrow writes them without NaN and without a
#: NaN count; DuckDB (2.0) then takes a float column holding NaN for NaN-free, so with these on
#: ``max(sharpe)`` answers the largest finite value and ``WHERE isnan(sharpe)`` finds no row.
_UNSAFE_OPTIMIZERS = "statistics_propagation,filter_pushdown"

_EVENT_COLUMNS = ("event_id", "causation_id", "sequence", "time", "bar_index", "kind", "component", "target",
                  "quantity", "price", "commission", "max_quantity", "reason", "params")
_MAX_CHAIN = 64


# ---------------------------------------------------------------------------------------------
# connection and SQL


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise MissingExtraError("admf query", "query", "duckdb") from None
    return duckdb


def _ident(name: str) -> str:
    """A SQL identifier, quoted.

    >>> print(_ident('my"col'))
    "my""col"
    """
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal.

    >>> _literal("runs/it's")
    "'runs/it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _sources(root: Path) -> dict[str, str]:
    """View name -> the ``read_parquet(...)`` it selects from, for every table present in ``root``."""
    if not root.exists():
        raise QueryError(f"{root}: no such folder; {_RUN_FOLDER}")
    if not root.is_dir():
        raise QueryError(f"{root}: is a file, not a run folder; {_RUN_FOLDER}")
    base = root.resolve()
    sources = {}
    for name in TABLES:
        file, folder = base / f"{name}.parquet", base / name
        if file.is_file():
            sources[name] = f"read_parquet({_literal(str(file))})"
        elif folder.is_dir() and not (folder / "manifest.json").exists() and any(folder.rglob("*.parquet")):
            # a folder of one table's parts (events/); a folder with a manifest is a run of its own (a phase)
            glob = _literal(f"{folder}/**/*.parquet")
            sources[name] = f"read_parquet({glob}, hive_partitioning = true, union_by_name = true)"
    phases = sorted(p.name for p in base.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    if phases and not sources:
        raise QueryError(f"{root}: a run of phases, one folder each: query one phase, e.g. "
                         f"admf query {root / phases[0]} ...; phases: {', '.join(phases)}")
    if not sources:
        raise QueryError(f"{root}: holds none of {', '.join(f'{t}.parquet' for t in TABLES)}; {_RUN_FOLDER}")
    return sources


def connect(run_dir: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with one view per table present in ``run_dir``.

    The views are named as in :data:`TABLES` and read the Parquet files in place (nothing is
    copied; a folder ``events/`` of Parquet files is read as one table with its hive partitions).
    NaN is answered exactly (``max`` of a column holding NaN is NaN, ``isnan`` finds it): the
    optimizers that would trust NaN-blind Parquet statistics are off. Extensions are never
    installed or loaded automatically. The connection itself is not
    read-only: :func:`query` is the read-only entry point. The caller closes it.

    Raises :class:`QueryError` when ``run_dir`` does not exist, is a file, holds none of the
    tables, or a table cannot be read as Parquet.
    """
    root = Path(run_dir)
    sources = _sources(root)
    duckdb = _duckdb()
    con = duckdb.connect(":memory:", config=dict(_CONFIG))
    con.execute(f"SET disabled_optimizers = {_literal(_UNSAFE_OPTIMIZERS)}")
    for name, source in sources.items():
        try:
            con.execute(f"CREATE VIEW {_ident(name)} AS SELECT * FROM {source}")
        except duckdb.Error as exc:
            con.close()
            raise QueryError(f"{root}: table {name} cannot be read as Parquet ({_first_line(exc)})") from None
    return con


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _views(con) -> dict[str, list[str]]:
    """View name -> its column names, in :data:`TABLES` order."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return {name: found[name] for name in TABLES if name in found}


def _describe_views(con, root: Path) -> str:
    return f"views of {root}:\n" + "\n".join(f"  {name}({', '.join(cols)})" for name, cols in _views(con).items())


def _sql_error(exc: BaseException, con, root: Path) -> QueryError:
    """DuckDB's first line and column hint, then the views and their columns."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    hints = [line for line in lines[1:] if line.startswith("Candidate bindings")]
    return QueryError("\n".join([lines[0], *hints, _describe_views(con, root)]))


_COMMENT = re.compile(r"\s*(--[^\n]*(\n|$)|/\*.*?\*/)", re.S)


def _strip_leading(sql: str) -> str:
    """``sql`` without its leading blanks, comments and opening parentheses."""
    while True:
        match = _COMMENT.match(sql)
        if match:
            sql = sql[match.end():]
            continue
        stripped = sql.lstrip().lstrip("(")
        if stripped == sql:
            return sql
        sql = stripped


def _first_keyword(sql: str) -> str:
    """The first word of ``sql``, upper-cased, after comments and opening parentheses.

    >>> _first_keyword("  -- best first\\n(select 1)")
    'SELECT'
    >>> _first_keyword("/* c */ copy results to 'x.csv'")
    'COPY'
    """
    match = re.match(r"[A-Za-z_]+", _strip_leading(sql))
    return match.group(0).upper() if match else ""


def _refuse(what: str) -> QueryError:
    return QueryError(f"{what}: admf query is read-only; use SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, "
                      "SUMMARIZE, EXPLAIN or PRAGMA table_info")


def _check_read_only(sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one statement that only reads.

    Checked twice: by the first keyword, and by the statement type DuckDB's parser gives (so
    ``WITH t AS (...) INSERT ...`` and ``EXPLAIN ANALYZE INSERT ...`` are refused too). A parser
    error propagates as DuckDB's own exception.
    """
    keyword = _first_keyword(sql)
    if not keyword:
        raise QueryError("no SQL statement given: write one such as SELECT * FROM results LIMIT 5")
    if keyword not in _READ_KEYWORDS:
        raise _refuse(f"{keyword} statements are refused")
    duckdb = _duckdb()
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(f"{len(statements)} statements given: give one statement at a time")
    kind = statements[0].type
    if kind == duckdb.StatementType.SELECT:
        return
    if kind == duckdb.StatementType.EXPLAIN:
        inner = re.sub(r"^EXPLAIN\s+(ANALYZE\s+)?", "", _strip_leading(sql), flags=re.I)
        if _first_keyword(inner) == "EXPLAIN":
            raise _refuse("EXPLAIN EXPLAIN is refused")
        return _check_read_only(inner)
    if kind == duckdb.StatementType.PRAGMA:
        name = re.match(r"PRAGMA\s+(\w*)", _strip_leading(sql), flags=re.I)
        if name and name.group(1).lower() in _READ_PRAGMAS:
            return
        raise _refuse(f"PRAGMA {name.group(1) if name else ''} is refused".replace("  ", " "))
    raise _refuse(f"{keyword} ({kind.name}) statements are refused")


def _arrow(relation) -> pa.Table:
    to_table = getattr(relation, "to_arrow_table", None)
    return to_table() if to_table is not None else relation.arrow()


def _run(con, sql: str, root: Path, params: Sequence[Any] | None = None) -> pa.Table:
    """Run one read-only statement on ``con``; DuckDB errors become :class:`QueryError`."""
    duckdb = _duckdb()
    try:
        _check_read_only(sql)
        relation = con.sql(sql, params=params) if params else con.sql(sql)
        if relation is None:  # pragma: no cover - read-only statements always return rows
            return pa.table({})
        return _arrow(relation)
    except duckdb.Error as exc:
        raise _sql_error(exc, con, root) from None


def query(run_dir: str | os.PathLike, sql: str) -> pa.Table:
    """The rows of one read-only SQL statement over the views of ``run_dir`` (see :func:`connect`).

    Refuses, without running it, anything but one ``SELECT``/``WITH``/``FROM``/``VALUES``/``TABLE``/
    ``DESCRIBE``/``SHOW``/``SUMMARIZE`` statement, an ``EXPLAIN`` of one, or an inspecting
    ``PRAGMA`` (``table_info``, ``show_tables``...). A statement DuckDB rejects (a typo, an
    unknown column or view) raises :class:`QueryError` with DuckDB's first line, its suggested
    columns if any, and every view with its columns.
    """
    root = Path(run_dir)
    con = connect(root)
    try:
        return _run(con, sql, root)
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# canned analyses


def _require(con, root: Path, table: str, why: str) -> None:
    if table not in _views(con):
        raise QueryError(f"{root}: no {table}.parquet; {why}")


def _parameter_columns(columns: Sequence[str]) -> list[str]:
    """Columns of ``results`` that are neither ids nor metrics: strategy, classifier and gridded
    settings parameters (``classifier`` itself counts: it tells classifier choices apart).

    >>> _parameter_columns(["combo_id", "symbol", "strategy", "fast_period", "sharpe", "execution_commission"])
    ['fast_period', 'execution_commission']
    """
    return [c for c in columns if c not in _ID_COLUMNS and c not in _METRIC_COLUMNS]


def _numeric_columns(con, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall()
    numeric = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
               "UBIGINT", "FLOAT", "DOUBLE", "REAL")
    return [name for name, kind in rows if kind.upper().startswith(numeric) or kind.upper().startswith("DECIMAL")]


_SENSITIVITY_SCHEMA = pa.schema([("parameter", pa.string()), ("value", pa.string()), ("mean", pa.float64()),
                                 ("median", pa.float64()), ("min", pa.float64()), ("max", pa.float64()),
                                 ("n", pa.int64())])


def sensitivity(run_dir: str | os.PathLike, *, metric: str = "sharpe") -> pa.Table:
    """How ``metric`` depends on each parameter: the metric marginalised over every other one.

    One block of rows per parameter column of ``results`` (every column that is neither
    ``combo_id``/``symbol``/``strategy`` nor a metric), in column order; one row per distinct
    value of that parameter, in the parameter's own order (5 before 10), with the ``mean``,
    ``median``, ``min`` and ``max`` of ``metric`` over the result rows holding that value, and
    ``n`` the number of rows those are over. Columns: ``parameter, value (text), mean, median,
    min, max, n``. Rows where the parameter is null (a parameter another strategy does not have)
    are left out of its block; metric values that are null or NaN (a combination that never
    traded has a NaN Sharpe) are left out of the statistics and of ``n``.

    A train/test run has every combination's metrics on both parts; ``sharpe`` there means
    ``train_sharpe``, the part the selection was made on (ask for ``test_sharpe`` by name). The
    metric used is in the table's schema metadata (``metric``).

    Raises :class:`QueryError` when the run has no results, ``metric`` is not a numeric metric
    column of them, or the run is a walk-forward (its results are one stitched row per symbol,
    not a grid: its windows table holds what each window chose).
    """
    root = Path(run_dir)
    con = connect(root)
    try:
        _require(con, root, "results", _RUN_FOLDER)
        columns = _views(con)["results"]
        if "windows" in _views(con) and "out_of_sample_bars" in columns:
            raise QueryError(f"{root}: a walk-forward run: results.parquet holds one stitched out-of-sample row per "
                             "symbol, not a parameter grid (each window's training grid is not kept); query what the "
                             "windows chose instead, e.g. SELECT fast_period, count(*), avg(test_sharpe) FROM windows "
                             "GROUP BY 1")
        metrics = [c for c in _numeric_columns(con, "results") if c in _METRIC_COLUMNS]
        if metric not in metrics and f"train_{metric}" in metrics:
            metric = f"train_{metric}"
        if metric not in metrics:
            raise QueryError(f"metric={metric!r}: not a metric of {root}/results.parquet; "
                             f"choose one of {', '.join(metrics)}")
        parameters = _parameter_columns(columns)
        if not parameters:
            return _SENSITIVITY_SCHEMA.empty_table().replace_schema_metadata({"metric": metric})
        m = "CAST(__m AS DOUBLE)"
        ok = f"FILTER (WHERE {m} IS NOT NULL AND NOT isnan({m}))"
        blocks = [
            f"SELECT {i} AS __block, row_number() OVER (ORDER BY {_ident(p)}) AS __rank, "
            f"{_literal(p)} AS parameter, CAST({_ident(p)} AS VARCHAR) AS value, "
            f"avg({m}) {ok} AS mean, median({m}) {ok} AS median, min({m}) {ok} AS min, "
            f"max({m}) {ok} AS max, count(*) {ok} AS n "
            f"FROM r WHERE {_ident(p)} IS NOT NULL GROUP BY {_ident(p)}"
            for i, p in enumerate(parameters)]
        sql = (f"WITH r AS (SELECT *, {_ident(metric)} AS __m FROM results) "
               f"SELECT parameter, value, mean, median, min, max, n FROM ({' UNION ALL '.join(blocks)}) "
               "ORDER BY __block, __rank")
        return _run(con, sql, root).cast(_SENSITIVITY_SCHEMA).replace_schema_metadata({"metric": metric})
    finally:
        con.close()


_CORRELATION_SCHEMA = pa.schema([("combo_a", pa.string()), ("combo_b", pa.string()), ("correlation", pa.float64()),
                                 ("symbol", pa.string()), ("bars", pa.int64())])


def correlation(run_dir: str | os.PathLike, *, top: int = 20) -> pa.Table:
    """The ``top`` most correlated pairs of combinations, by their per-bar equity returns.

    From ``equity.parquet``: for each symbol, every combination's return per bar
    (``equity[t] / equity[t-1] - 1``) over the bars all its combinations share, and the Pearson
    correlation of every pair traded on that symbol (of a train/test run: over the training part,
    which every combination has). Columns ``combo_a, combo_b, correlation,
    symbol, bars`` (``combo_a < combo_b``; ``bars`` the returns it is over), sorted by correlation
    descending, then by symbol and ids. A combination whose equity never moves has no defined
    correlation and is left out. An exact copy of a combination correlates 1.0 with it.

    Raises :class:`QueryError` when the run has no ``equity.parquet`` (rerun with equity) or
    ``top`` is not a positive integer.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise QueryError(f"top={top!r}: must be a positive integer")
    root = Path(run_dir)
    con = connect(root)
    try:
        _require(con, root, "equity", "correlation needs the per-bar equity of every combination: "
                                      "rerun with `admf run SPEC --equity` (or `equity: true` in the spec)")
        # a train/test run's curves have parts: every combination has its training curve
        part = " WHERE part = 'train'" if "part" in _views(con)["equity"] else ""
        table = _run(con, f"SELECT symbol, combo_id, time, equity FROM equity{part} "
                          "ORDER BY symbol, combo_id, time", root)
    finally:
        con.close()
    candidates: list[tuple[float, str, str, str, int]] = []
    symbols = np.asarray(table.column("symbol").to_pylist(), dtype=object)
    combos = np.asarray(table.column("combo_id").to_pylist(), dtype=object)
    times = table.column("time").cast(pa.int64()).to_numpy()
    equity = table.column("equity").cast(pa.float64()).fill_null(float("nan")).to_numpy()
    for symbol in sorted(set(symbols.tolist())):
        rows = symbols == symbol
        candidates += _top_pairs(symbol, combos[rows], times[rows], equity[rows], top)
    candidates.sort(key=lambda c: (-c[0], c[3], c[1], c[2]))
    chosen = candidates[:top]
    return pa.table({"combo_a": [c[1] for c in chosen], "combo_b": [c[2] for c in chosen],
                     "correlation": [c[0] for c in chosen], "symbol": [c[3] for c in chosen],
                     "bars": [c[4] for c in chosen]}, schema=_CORRELATION_SCHEMA)


def _top_pairs(symbol: str, combos: np.ndarray, times: np.ndarray, equity: np.ndarray,
               top: int) -> list[tuple[float, str, str, str, int]]:
    """The ``top`` highest correlations among the combinations of one symbol, as
    ``(correlation, combo_a, combo_b, symbol, bars)``."""
    ids, col = np.unique(combos.astype(str), return_inverse=True)
    stamps, row = np.unique(times, return_inverse=True)
    if len(ids) < 2 or len(stamps) < 3:
        return []
    curves = np.full((len(stamps), len(ids)), np.nan)
    curves[row, col] = equity
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = curves[1:] / curves[:-1] - 1.0
    returns = returns[np.isfinite(returns).all(axis=1)]
    if len(returns) < 2:
        return []
    centred = returns - returns.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    moving = np.flatnonzero(norms > 1e-12 * np.maximum(np.abs(returns).max(axis=0), 1e-300))
    if len(moving) < 2:
        return []
    unit = centred[:, moving] / norms[moving]
    found: list[tuple[float, int, int]] = []
    block = 256
    for start in range(0, len(moving), block):
        c = unit[:, start:start + block].T @ unit[:, start:]  # rows i in the block, columns j >= start
        i, j = np.indices(c.shape)
        upper = j > i
        values, ii, jj = c[upper], i[upper] + start, j[upper] + start
        if len(values) > top:
            keep = np.argpartition(-values, top - 1)[:top]
            values, ii, jj = values[keep], ii[keep], jj[keep]
        found += zip(values.tolist(), ii.tolist(), jj.tolist())
    found.sort(key=lambda f: -f[0])
    bars = len(returns)
    return [(min(1.0, max(-1.0, v)), str(ids[moving[a]]), str(ids[moving[b]]), symbol, bars)
            for v, a, b in found[:top]]


_REGIME_COLUMNS = ["regime", "n_combos", "mean_bars", "mean_return_pct", "median_return_pct", "mean_exposure_pct",
                   "trades"]


def regimes(run_dir: str | os.PathLike, *, by: Sequence[str] = ()) -> pa.Table:
    """Performance by regime: ``regime_stats`` joined with the parameters of ``results``.

    One row per regime (and per value of the ``by`` columns of ``results``, e.g.
    ``("strategy", "classifier_n_states")``, which come first): ``n_combos`` (distinct combinations),
    ``mean_bars`` (bars per combination and symbol in that regime), ``mean_return_pct`` and
    ``median_return_pct``, ``mean_exposure_pct`` (NaN values left out), and ``trades`` (total).
    Sorted by the ``by`` columns, then regime. Regime labels are per fit (0 = the fit's lowest
    mean return), so pooling different classifiers is a rough view: group ``by`` the classifier
    parameters to separate them.

    Raises :class:`QueryError` when the run has no regime statistics (it ran without classifiers)
    or a ``by`` column is not a column of ``results``.
    """
    root = Path(run_dir)
    by = [by] if isinstance(by, str) else list(by)
    con = connect(root)
    try:
        _require(con, root, "regime_stats", "regime statistics are written when the spec has classifiers: "
                                            "add a classifiers: section and rerun")
        _require(con, root, "results", _RUN_FOLDER)
        allowed = [c for c in _views(con)["results"] if c not in ("combo_id", "symbol") and c not in _METRIC_COLUMNS]
        for column in by:
            if column not in allowed:
                raise QueryError(f"by={column!r}: not a parameter column of {root}/results.parquet; "
                                 f"choose from {', '.join(allowed)}")
        keys = [f"r.{_ident(c)}" for c in by]

        def finite(column: str) -> str:
            return f"FILTER (WHERE s.{column} IS NOT NULL AND NOT isnan(s.{column}))"

        sql = (f"SELECT {''.join(k + ', ' for k in keys)}s.regime, count(DISTINCT s.combo_id) AS n_combos, "
               "avg(s.bars) AS mean_bars, "
               f"avg(s.return_pct) {finite('return_pct')} AS mean_return_pct, "
               f"median(s.return_pct) {finite('return_pct')} AS median_return_pct, "
               f"avg(s.exposure_pct) {finite('exposure_pct')} AS mean_exposure_pct, "
               "CAST(sum(s.trades) AS BIGINT) AS trades "
               "FROM regime_stats s JOIN results r ON s.combo_id = r.combo_id AND s.symbol = r.symbol "
               f"GROUP BY {', '.join([*keys, 's.regime'])} ORDER BY {', '.join([*keys, 's.regime'])}")
        return _run(con, sql, root)
    finally:
        con.close()


def causation(run_dir: str | os.PathLike, *, combo: str, trade: int = 1, symbol: str | None = None) -> pa.Table:
    """The causation chain of trade number ``trade`` (1-based, by entry time) of combination ``combo``.

    The trade is read from ``trades`` (of ``symbol`` only when given). Its opening fill is the
    ``OrderFilled`` event of that combination and symbol at the trade's entry time (the last one
    there, by sequence); following ``causation_id`` back gives the chain ``SignalChanged ->
    OrderSubmitted -> OrderApproved -> OrderFilled``. Its closing fill is the first
    ``OrderFilled`` at the exit time, with its own chain (a reversal is one fill that closes a
    trade and opens the next, so it appears in both). An open trade has no closing leg.

    Columns: ``leg`` (``open``/``close``), ``symbol``, then the event columns present among
    ``event_id, causation_id, sequence, time, bar_index, kind, component, target, quantity,
    price, commission, max_quantity, reason, params``; each leg root cause first.

    Raises :class:`QueryError` when the run has no ``events.parquet`` (rerun with the trace),
    ``combo`` made no trade ``trade``, or the fills are not in the events.
    """
    if not combo:
        raise QueryError("combo: the causation analysis needs a combination id (--combo COMBO_ID)")
    if isinstance(trade, bool) or not isinstance(trade, int) or trade < 1:
        raise QueryError(f"trade={trade!r}: must be a positive integer (1 = the first trade)")
    root = Path(run_dir)
    con = connect(root)
    try:
        _require(con, root, "events", "the causation chain needs the event trace: rerun with "
                                      "`admf run SPEC --trace` (or `trace: true` in the spec)")
        _require(con, root, "trades", _RUN_FOLDER)
        where, params = "combo_id = ?", [combo]
        if symbol is not None:
            where, params = where + " AND symbol = ?", params + [symbol]
        trades = _run(con, f"SELECT symbol, entry_time, exit_time FROM trades WHERE {where} "
                           "ORDER BY entry_time, symbol", root, params).to_pylist()
        if not trades:
            raise _no_trades(con, root, combo, symbol)
        if trade > len(trades):
            raise QueryError(f"trade={trade}: combo_id={combo!r} has {len(trades)} trade(s)"
                             + (f" on {symbol}" if symbol is not None else ""))
        chosen = _run(con, _chosen_sql(where), root, params + [trade])
        lane_symbol = chosen.column("symbol")[0].as_py()
        present = set(_views(con)["events"])
        shown = [c for c in _EVENT_COLUMNS if c in present]
        legs = [("open", "entry_time", "DESC")]
        if chosen.column("exit_time")[0].is_valid:
            legs.append(("close", "exit_time", "ASC"))
        parts = []
        for leg, at, order in legs:
            fill = _run(con, "SELECT e.event_id FROM events e, (" + _chosen_sql(where) + ") t "
                             f"WHERE e.combo_id = ? AND e.symbol = t.symbol AND e.kind = 'OrderFilled' "
                             f"AND e.time = t.{at} ORDER BY e.sequence {order} LIMIT 1",
                        root, params + [trade, combo]).column("event_id").to_pylist()
            if not fill:
                time = chosen.column(at)[0].as_py()
                raise QueryError(f"{root}: no OrderFilled event of combo_id={combo!r} on {lane_symbol} at "
                                 f"{at}={time}; events.parquet and trades.parquet are not from the same run")
            columns = ", ".join(f"e.{_ident(c)}" for c in shown)
            chain = _run(con, f"""
                WITH RECURSIVE chain(event_id, causation_id, depth) AS (
                    SELECT event_id, causation_id, 0 FROM events WHERE event_id = ?
                    UNION ALL
                    SELECT e.event_id, e.causation_id, c.depth + 1
                    FROM events e JOIN chain c ON e.event_id = c.causation_id
                    WHERE c.depth < {_MAX_CHAIN})
                SELECT {_literal(leg)} AS leg, {_literal(lane_symbol)} AS symbol, {columns}
                FROM chain c JOIN events e ON e.event_id = c.event_id ORDER BY c.depth DESC""",
                         root, [fill[0]])
            parts.append(chain)
        return pa.concat_tables(parts, promote_options="permissive")
    finally:
        con.close()


def _chosen_sql(where: str) -> str:
    """The one trade row (``symbol, entry_time, exit_time``) picked by ``where`` and its number."""
    return (f"SELECT symbol, entry_time, exit_time FROM (SELECT *, row_number() OVER (ORDER BY entry_time, symbol) "
            f"AS n FROM trades WHERE {where}) WHERE n = ?")


def _no_trades(con, root: Path, combo: str, symbol: str | None) -> QueryError:
    known = [r[0] for r in con.execute("SELECT DISTINCT combo_id FROM trades ORDER BY 1 LIMIT 10").fetchall()]
    where = f" on {symbol}" if symbol is not None else ""
    in_results = "results" in _views(con) and con.execute(
        "SELECT count(*) FROM results WHERE combo_id = ?", [combo]).fetchone()[0] > 0
    if in_results:
        return QueryError(f"combo_id={combo!r}: made no trades{where}; combinations with trades include "
                          f"{', '.join(known) or '(none)'}")
    return QueryError(f"combo_id={combo!r}: not a combination of {root}; combinations with trades include "
                      f"{', '.join(known) or '(none)'}")


#: The canned analyses by name: each takes the run folder and keyword options, returns a table.
ANALYSES: dict[str, Callable[..., pa.Table]] = {
    "causation": causation,
    "correlation": correlation,
    "regimes": regimes,
    "sensitivity": sensitivity,
}


# ---------------------------------------------------------------------------------------------
# command line


















