"""``admf query``: the command line of the SQL and canned analyses of ``pipelines.workflows.analytics``."""
from __future__ import annotations

import argparse
import datetime as _dt
import decimal
import io
import json
import math
import sys
from typing import Any

import pyarrow as pa

from pipelines.cli.terminal import format_table
from pipelines.workflows.analytics import ANALYSES, TABLES, QueryError, query
from state.errors import AdmfError

__all__ = ["add_query_parser", "format_result", "positive_int", "query_command"]


def positive_int(text: str) -> int:
    """argparse type of the commands' counts (``--top``, ``--trade``, ``--workers``...): an integer
    >= 1; argparse reports a bad one (exit code 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: give a whole number such as 10") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1: give a whole number such as 10")
    return value


def add_query_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``admf query RUN_DIR [SQL] [--analysis NAME]`` to ``subparsers``; returns the parser.

    Exactly one of SQL or ``--analysis`` is required (argparse exits with code 2 otherwise). The
    parser's ``func`` default is :func:`query_command`.
    """
    p = subparsers.add_parser(
        "query", help="run read-only SQL or a canned analysis over a run folder",
        description="Run one read-only SQL statement, or a canned analysis, over the Parquet tables of a run "
                    f"folder; each table is a view: {', '.join(TABLES)}.")
    p.add_argument("run_dir", help="the run folder (admf run SPEC --out DIR)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("sql", nargs="?", default=None,
                      help="one SELECT/WITH/DESCRIBE/SHOW/SUMMARIZE/EXPLAIN statement, e.g. "
                           "\"SELECT fast_period, avg(sharpe) FROM results GROUP BY 1\"")
    what.add_argument("--analysis", choices=sorted(ANALYSES), help="a canned analysis instead of SQL")
    p.add_argument("--metric", help="sensitivity: the metric to marginalise (default sharpe)")
    p.add_argument("--top", type=positive_int, help="correlation: pairs to show (default 20)")
    p.add_argument("--combo", help="causation: the combination id whose trade to trace")
    p.add_argument("--trade", type=positive_int, help="causation: which trade of the combination, 1-based (default 1)")
    p.add_argument("--symbol", help="causation: only trades on this symbol")
    p.add_argument("--by", help="regimes: comma-separated results columns to group by as well, e.g. strategy,classifier_n_states")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    out.add_argument("--json", action="store_true", help="print JSON lines (one object per row)")
    p.set_defaults(func=query_command)
    return p


#: Which analysis each option belongs to.
_OPTIONS = {"metric": "sensitivity", "top": "correlation", "combo": "causation", "trade": "causation",
            "symbol": "causation", "by": "regimes"}


def _table_for(args: argparse.Namespace) -> pa.Table:
    sql, analysis = getattr(args, "sql", None), getattr(args, "analysis", None)
    if (sql is None) == (analysis is None):
        raise QueryError("give either SQL or --analysis NAME (one of them, not both)")
    for option, owner in _OPTIONS.items():
        if getattr(args, option, None) is not None and analysis != owner:
            raise QueryError(f"--{option} applies to --analysis {owner} only")
    if analysis is None:
        return query(args.run_dir, sql)
    if analysis not in ANALYSES:
        raise QueryError(f"analysis={analysis!r}: choose one of {', '.join(sorted(ANALYSES))}")
    options: dict[str, Any] = {}
    if analysis == "sensitivity" and args.metric is not None:
        options["metric"] = args.metric
    elif analysis == "correlation" and args.top is not None:
        options["top"] = args.top
    elif analysis == "regimes" and args.by is not None:
        options["by"] = [c.strip() for c in args.by.split(",") if c.strip()]
    elif analysis == "causation":
        options = {"combo": getattr(args, "combo", None) or "", "trade": getattr(args, "trade", None) or 1,
                   "symbol": getattr(args, "symbol", None)}
    table = ANALYSES[analysis](args.run_dir, **options)
    asked = options.get("metric", "sharpe")
    used = (table.schema.metadata or {}).get(b"metric", asked.encode()).decode()
    if analysis == "sensitivity" and used != asked:
        print(f"note: a train/test run has every combination's metrics on both parts: {used}, the part the selection "
              f"was made on, not {asked} (the out-of-sample metric: --metric test_{asked})", file=sys.stderr)
    return table


def _unique_names(table: pa.Table) -> pa.Table:
    """``table`` with repeated column names suffixed (``combo_id``, ``combo_id_2``)."""
    seen: dict[str, int] = {}
    names = []
    for name in table.column_names:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return table.rename_columns(names)


def _json_value(value: Any) -> Any:
    """A cell as JSON: non-finite floats as null, times as ISO text, decimals as numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _csv_text(table: pa.Table) -> str:
    import pyarrow.csv as pacsv
    flat = table
    for i, field in enumerate(table.schema):
        if pa.types.is_nested(field.type):
            text = [None if v is None else json.dumps(_json_value(v)) for v in table.column(i).to_pylist()]
            flat = flat.set_column(i, field.name, pa.array(text, pa.string()))
    sink = io.BytesIO()
    pacsv.write_csv(flat, sink)
    return sink.getvalue().decode()


def format_result(table: pa.Table, *, fmt: str = "table") -> str:
    """``table`` as text: an aligned table (``table``), CSV with a header (``csv``), or JSON
    lines (``json``: one object per row, NaN and infinities as null, times in ISO form)."""
    table = _unique_names(table)
    if fmt == "csv":
        return _csv_text(table)
    rows = table.to_pylist()
    if fmt == "json":
        return "".join(json.dumps(_json_value(r), allow_nan=False) + "\n" for r in rows)
    return format_table(rows, table.column_names) + "\n"


def query_command(args: argparse.Namespace) -> int:
    """``admf query``: print the rows of ``args.sql`` or ``args.analysis`` over ``args.run_dir``.

    Prints an aligned table, or CSV (``args.csv``) or JSON lines (``args.json``), and returns 0.
    Any :class:`~state.errors.AdmfError` (a :class:`QueryError`, or DuckDB missing) is printed as
    ``admf: error: <message>`` on stderr, nothing on stdout, and returns 2.
    """
    fmt = "csv" if getattr(args, "csv", False) else "json" if getattr(args, "json", False) else "table"
    try:
        if getattr(args, "csv", False) and getattr(args, "json", False):
            raise QueryError("give --csv or --json, not both")
        text = format_result(_table_for(args), fmt=fmt)
    except AdmfError as exc:
        print(f"admf: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
