"""The HTML research report of a run folder: one self-contained file that works offline.

``admf report RUN_DIR`` (and ``admf run SPEC --report``) write ``RUN_DIR/report.html``: the run
header (spec, data, counts, versions), a sortable and filterable leaderboard of every
combination, one combination's linked panels (chosen from the leaderboard; the best by the
objective first), the parameter landscape, and — when the run has them — optimization,
regime and shared-cash sections. Every script and style is inline (plotly.js once, with
``plotly.offline.get_plotlyjs``), so the file opens on a plane or behind a firewall.

Size stays bounded at any run size: series are thinned by :mod:`fp.downsample` to a few thousand
points per chart, and full panels are embedded only for the combinations shown — the best, the
``--combo`` ones and the ``top`` next best. Every other leaderboard row still shows its metrics
and the command that renders it (``admf report RUN_DIR --combo ID``).

The figures come from :mod:`pipelines.reporting.figures`; the only hand-written script is the glue that
sorts and filters the table and swaps the combination's figures with ``Plotly.react``.
"""
from __future__ import annotations

import functools
import html
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fp.landscape import neighbourhood_mean
from fp.metrics import METRICS
from pipelines.reporting.figures import (SharedArrays, combination_figure, figure_json, landscape_figure,
                                         monthly_returns_figure, pbo_figure, plotly_modules, portfolio_figure,
                                         regime_figure, sensitivity_figure, strategy_by_classifier_figure,
                                         trade_returns_figure, train_test_figure, walk_forward_figure)
from pipelines.reporting.run_folder import RunFolder, load_run
from state.errors import AdmfError

__all__ = ["DEFAULT_TOP", "build_report", "phase_folders", "report", "write_report"]

#: Combinations embedded with full panels besides the best and the ``--combo`` ones.
DEFAULT_TOP = 10

#: Leaderboard metrics, in order, after the objective.
_BOARD_METRICS = ("total_return_pct", "cagr_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct",
                  "max_drawdown_duration", "n_trades", "win_rate_pct", "profit_factor", "expectancy", "sqn",
                  "exposure_pct", "buy_hold_return_pct", "final_equity")
_TRAIN_TEST_METRICS = ("rank", "selected", "train_{o}", "test_{o}", "train_total_return_pct", "test_total_return_pct",
                       "test_max_drawdown_pct", "train_n_trades", "test_n_trades")
_SETTINGS_PREFIXES = ("portfolio_", "execution_", "risk_", "exits_")


def report(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None, combos: Sequence[str] = (),
           top: int = DEFAULT_TOP) -> Path:
    """Write the report of the run folder ``run_dir`` to ``out`` (default ``run_dir/report.html``)
    and return its path. ``combos`` are combination ids to embed and show (the first is shown
    first); ``top`` more of the best are embedded."""
    plotly_modules()  # fail before reading anything when the extra is missing
    folder = load_run(run_dir)
    return write_report(folder, Path(out) if out is not None else Path(run_dir) / "report.html", combos=combos, top=top)


def phase_folders(run_dir: str | os.PathLike) -> list[Path]:
    """The run folders to report under ``run_dir``: itself, or each phase of a phased run that has results."""
    root = Path(run_dir)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return [root]
    phases = [root / p["name"] for p in manifest.get("phases", []) if isinstance(p, dict) and "name" in p]
    found = [p for p in phases if (p / "results.parquet").is_file()]  # a signal store has no report
    return found if phases and found else [root]


def write_report(folder: RunFolder, out: Path, *, combos: Sequence[str] = (), top: int = DEFAULT_TOP) -> Path:
    """Build the report of ``folder`` and write it to ``out`` atomically (a temporary sibling renamed)."""
    parts = report_parts(folder, combos=combos, top=top)
    out = Path(out)
    if out.is_dir():
        raise AdmfError(f"{out}: is a folder; give --out a file name such as {out / 'report.html'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for part in parts:  # plotly.js alone is ~5 MB: copied, not concatenated
                if part is _plotly_js():
                    _write_plotly(f)
                else:
                    f.write(part.encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


# ---- the page -----------------------------------------------------------------------------------


def build_report(folder: RunFolder, *, combos: Sequence[str] = (), top: int = DEFAULT_TOP) -> str:
    """The report of ``folder`` as HTML text (see the module docstring)."""
    return "".join(report_parts(folder, combos=combos, top=top))


def report_parts(folder: RunFolder, *, combos: Sequence[str] = (), top: int = DEFAULT_TOP) -> list[str]:
    """The report of ``folder`` as consecutive pieces of HTML text (see :func:`build_report`)."""
    ranked = folder.ranked_keys()
    chosen = [folder.resolve(c) for c in combos]
    embedded = list(dict.fromkeys(chosen + ranked[:1] + ranked[:top]))
    shown, shown_notes = folder.shown(embedded)
    first = (chosen or ranked)[0] if (chosen or ranked) else None
    notes = list(folder.notes) + list(shown_notes)
    arrays = SharedArrays()  # each distinct numeric array of the page's figures, written once
    figure = functools.partial(figure_json, shared=arrays)

    objective = folder.objective.lstrip("-") if ":" not in folder.objective else "sharpe"
    rows = list(folder.rows)
    keys = folder.keys()
    robustness = _robustness(folder, rows)
    board = _leaderboard(folder, rows, keys, ranked, robustness, set(shown), objective)
    bundles = {}
    for key, item in shown.items():
        bundle = {
            "panels": figure(combination_figure(item)),
            "monthly": figure(monthly_returns_figure(item.time, item.equity)),
            "trades": figure(trade_returns_figure(item.trades)),
        }
        if folder.is_shared_cash:
            stats = [r for r in folder.tables["symbol_stats"].to_pylist() if r["combo_id"] == item.row.get("combo_id")]
            bundle["portfolio"] = figure(portfolio_figure(stats, item))
        bundles[key] = bundle
    statics, sections = _sections(folder, rows, keys, ranked, robustness, objective, shown, figure)
    payload = {
        "board": board, "first": first if first in shown else (next(iter(shown), None)), "selected": first,
        "run": folder.path.name if folder.path is not None else "RUN_DIR",
        "run_path": str(folder.path) if folder.path is not None else "RUN_DIR",
        "statics": {},
    }
    data_json = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_json_default)
    # the figures' JSON (figure_json) is script-safe already: only the keys around it are escaped
    combos_json = "{" + ",".join(
        _script_text(json.dumps(key)) + ":{" + ",".join(f'"{name}":{text}' for name, text in bundle.items()) + "}"
        for key, bundle in bundles.items()) + "}"
    statics_json = "{" + ",".join(f'"{name}":{text}' for name, text in statics.items()) + "}"
    title = html.escape(_title(folder))
    return [_HEAD.format(title=title, css=_CSS), _plotly_js(), _BODY.format(
        title=title, header=_header(folder, notes, first),
        nav="".join(f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name, _ in sections),
        sections="".join(body for _, _, body in sections)),
        _script_text(data_json), _JSON_SCRIPT.format(id="admf-combos"), combos_json,
        _JSON_SCRIPT.format(id="admf-statics"), statics_json, _JSON_SCRIPT.format(id="admf-arrays"), arrays.json(),
        _TAIL]


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    """plotly.js, inlined once per report (read once per process)."""
    from plotly.offline import get_plotlyjs
    return get_plotlyjs()


@functools.lru_cache(maxsize=1)
def _plotly_bytes() -> bytes:
    """plotly.js as the UTF-8 bytes a report file holds (encoded once per process)."""
    return _plotly_js().encode("utf-8")


@functools.lru_cache(maxsize=1)
def _plotly_file() -> str | None:
    """The file plotly.js is read from, when its bytes are exactly :func:`_plotly_bytes` (checked
    once per process), else None."""
    import plotly
    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    try:
        with open(path, "rb") as f:
            return path if f.read() == _plotly_bytes() else None
    except OSError:
        return None


def _write_plotly(f) -> None:
    """plotly.js into the open report file ``f``: copied from plotly's own file by the kernel where
    it can (``os.copy_file_range``, Linux: a third of the cost of writing 5 MB from memory, which was
    a tenth of a report), else written from the cached bytes."""
    data = _plotly_bytes()
    done = 0
    if hasattr(os, "copy_file_range") and _plotly_file() is not None:
        f.flush()
        try:
            with open(_plotly_file(), "rb") as source:
                while done < len(data):
                    copied = os.copy_file_range(source.fileno(), f.fileno(), len(data) - done)
                    if not copied:
                        break
                    done += copied
        except OSError:  # a file system that cannot: the rest from memory
            pass
    f.write(memoryview(data)[done:])


def _script_text(text: str) -> str:
    """JSON safe inside a ``<script>`` element: every ``<`` (only ever inside a JSON string) as
    ``\\u003c``, so no ``</script>`` or ``<!--`` can end or bend the element; ``JSON.parse`` reads it back.

    >>> _script_text('{"a":"<b>x</b>"}')
    '{"a":"\\\\u003cb>x\\\\u003c/b>"}'
    """
    return text.replace("<", "\\u003c")


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        v = float(value)
        return v if math.isfinite(v) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _clean(value: Any) -> Any:
    """A cell value as plain JSON data (NaN and infinities as text the table shows)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return None if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, (np.integer, np.floating)):
        return _clean(value.item())
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return value


#: Outcome columns a combination's stats show only when they say something (a ruin, a note).
_RUIN_COLUMNS = ("ruined", "ruin_time", "notes")


def _shown_outcome(column: str, value: Any) -> bool:
    """Whether the combination's stats show ``column``: always, but a ruin or note column only set."""
    if column.removeprefix("train_").removeprefix("test_") in _RUIN_COLUMNS:
        return value not in (None, False, "")
    return True


def _clean_columns(table, names: Sequence[str]) -> list[list]:
    """The columns ``names`` of ``table`` as lists of :func:`_clean` values (a float column at once:
    its finite values as they are, only the others one by one)."""
    out = []
    for name in names:
        column = table.column(name)
        if pa.types.is_floating(column.type):
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            cells = values.tolist()
            for i in np.flatnonzero(~np.isfinite(values)).tolist():  # NaN (or null) and infinities
                cells[i] = _clean(cells[i])
        else:
            cells = [_clean(v) for v in column.to_pylist()]
        out.append(cells)
    return out


def _title(folder: RunFolder) -> str:
    source = str(folder.manifest.get("spec_source", "run"))
    stem = Path(source).stem if not source.startswith("<") else "run"
    name = folder.path.name if folder.path is not None else stem
    return f"admf report · {name}"


def _gridded(folder: RunFolder, rows: list[dict]) -> list[str]:
    """Parameter columns with more than one value (the dimensions of the grid)."""
    out = []
    for name in folder.parameter_columns():
        values = {repr(r.get(name)) for r in rows if r.get(name) is not None}
        if len(values) > 1:
            out.append(name)
    return out


def _robustness(folder: RunFolder, rows: list[dict]) -> np.ndarray:
    """Each row's neighbourhood mean of the objective over the gridded parameters (per strategy)."""
    values = folder.objective_values()
    out = np.full(len(rows), np.nan)
    if folder.is_walk_forward or not rows:
        return out
    strategies = [r.get("strategy") for r in rows]
    for strategy in dict.fromkeys(strategies):
        idx = [i for i, s in enumerate(strategies) if s == strategy]
        sub = [rows[i] for i in idx]
        params = _gridded(folder, sub)
        if not params:
            continue
        out[idx] = neighbourhood_mean([[r.get(p) for r in sub] for p in params], values[idx])
    return out


# ---- leaderboard --------------------------------------------------------------------------------


def _leaderboard(folder: RunFolder, rows: list[dict], keys: list[str], ranked: list[str], robustness: np.ndarray,
                 embedded: set[str], objective: str) -> dict:
    """Columns and rows of the leaderboard (every result row, best first)."""
    position = {k: i for i, k in enumerate(ranked)}
    if folder.is_walk_forward:
        windows = folder.tables["windows"].to_pylist()
        params = [c for c in folder.tables["windows"].column_names
                  if c not in ("window", "symbol", "train_start", "train_end", "test_start", "test_end", "strategy")
                  and not c.startswith(("train_", "test_"))]
        columns = (["window", "symbol", "train_start", "train_end", "test_start", "test_end"] + params +
                   [c for c in (f"train_{objective}", f"test_{objective}", "test_total_return_pct",
                                "test_max_drawdown_pct", "test_n_trades") if c in folder.tables["windows"].column_names])
        body = [{"key": f"oos:{w['symbol']}", "cells": [_clean(w.get(c)) for c in columns]} for w in windows]
        # the stats of the stitched out-of-sample row of each symbol (what the panels show)
        details = {key: {c: _clean(row.get(c)) for c in folder.results.column_names if c in METRICS and
                         _shown_outcome(c, row.get(c))} for key, row in zip(keys, rows)}
        return {"columns": columns, "rows": body, "kind": "windows", "metric": objective, "embedded": [],
                "shown": sorted(embedded), "details": details, "keys": keys}
    gridded = _gridded(folder, rows)
    labels = [c for c in ("symbol", "strategy", "classifier") if c in folder.results.column_names and
              len({r.get(c) for r in rows}) > 1]
    if folder.is_train_test:
        metrics = [m.format(o=objective) for m in _TRAIN_TEST_METRICS]
    else:
        metrics = [objective] + [m for m in _BOARD_METRICS if m != objective]
    metrics = [m for m in metrics if m in folder.results.column_names]
    columns = ["#", "combo_id"] + labels + gridded + metrics + ["robustness"]
    shown_cells = zip(*_clean_columns(folder.results, labels + gridded + metrics))
    body = [{"key": key, "cells": [position.get(key, i) + 1, row.get("combo_id"), *cells, _clean(float(around))],
             "status": row.get("status"), "error": row.get("error")}
            for i, (key, row, cells, around) in enumerate(zip(keys, rows, shown_cells, robustness))]
    body.sort(key=lambda r: r["cells"][0])
    measured = [c for c in folder.results.column_names
                if c in METRICS or c.startswith(("train_", "test_")) or c in ("n_rejected", "rank", "selected")
                or c in _RUIN_COLUMNS]
    described = [c for c in folder.parameter_columns() + ["strategy", "classifier", "symbol"]
                 if c in folder.results.column_names]
    details = dict(zip(keys, ({c: v for c, v in zip(measured, cells) if _shown_outcome(c, v)}
                              for cells in zip(*_clean_columns(folder.results, measured)))))
    params = {key: {c: v for c, v in zip(described, cells) if v is not None}
              for key, cells in zip(keys, zip(*_clean_columns(folder.results, described)))}
    return {"columns": columns, "rows": body, "kind": "combinations", "metric": objective,
            "embedded": sorted(embedded), "details": details, "params": params, "keys": keys,
            "gridded": gridded}


# ---- sections -----------------------------------------------------------------------------------


def _section(sid: str, title: str, body: str, *, lead: str = "") -> tuple[str, str, str]:
    intro = f'<p class="lead">{lead}</p>' if lead else ""
    return sid, title, f'<section id="{sid}"><h2>{html.escape(title)}</h2>{intro}{body}</section>'


def _plot(name: str, *, reading: str = "") -> str:
    text = f'<p class="reading">{reading}</p>' if reading else ""
    return f'{text}<div class="plot" id="plot-{name}" data-static="{name}"></div>'


def _sections(folder: RunFolder, rows: list[dict], keys: list[str], ranked: list[str], robustness: np.ndarray,
              objective: str, shown: dict, figure) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    statics: dict[str, str] = {}
    sections = [("run", "Run", "")]  # the header renders the run section itself
    board_lead = ("Every combination with its parameters and metrics. Click a column to sort, type to filter "
                  "(text, or <code>sharpe&gt;1</code>); choose a row to show it below. ● marks rows whose charts "
                  "are embedded.")
    if folder.is_walk_forward:
        board_lead = "Each walk-forward window: its training and test ranges, the parameters it chose, its metrics."
    sections.append(_section("leaderboard", "Leaderboard",
                             '<div class="toolbar"><input id="filter" type="search" placeholder="filter rows…" '
                             'aria-label="filter rows"><span id="count"></span></div>'
                             '<div class="table-wrap"><table id="board"></table></div>', lead=board_lead))
    combo_body = ('<div id="combo-head" class="combo-head"></div><div id="combo-missing" class="missing" hidden></div>'
                  '<div id="combo-stats" class="stats"></div>'
                  '<div class="plot tall" id="plot-panels"></div>'
                  '<div class="two"><div class="plot" id="plot-monthly"></div><div class="plot" id="plot-trades"></div></div>')
    lead = ("Linked panels on one time axis: drag to zoom (double-click resets), the crosshair follows the "
            "cursor. Equity against buying and holding the same data; the underwater curve; every entry "
            "(▲ long, ▼ short) and exit (×) coloured by its pnl, hover for size, prices, pnl and exit reason.")
    if not shown:
        lead += " No curves could be drawn for this run (see the notes above)."
    sections.append(_section("combination", "Combination" if not folder.is_walk_forward else "Out-of-sample",
                             combo_body, lead=lead))
    best = folder.row(ranked[0]) if ranked and not folder.is_walk_forward else None
    # the landscape, per strategy
    body, readings = "", []
    if not folder.is_walk_forward:
        strategies = list(dict.fromkeys(r.get("strategy") for r in rows))
        metric_rows = rows
        metric = objective if not folder.is_train_test else f"train_{objective}"
        for k, strategy in enumerate(strategies):
            sub = [r for r in metric_rows if r.get("strategy") == strategy]
            gridded = _gridded(folder, sub)
            if not gridded:
                continue
            title = f"{strategy}: {metric} over its grid" if len(strategies) > 1 else f"{metric} over the grid"
            statics[f"landscape{k}"] = figure(landscape_figure(sub, gridded, metric, title=title,
                                                               best=best if best and best.get("strategy") == strategy else None))
            statics[f"sensitivity{k}"] = figure(sensitivity_figure(sub, gridded, metric,
                                                                   title=f"{metric} per parameter value (other parameters vary)"))
            body += _plot(f"landscape{k}") + _plot(f"sensitivity{k}")
        if best is not None and ranked:
            i = keys.index(ranked[0])
            own = folder.objective_values()[i]
            around = robustness[i]
            if not math.isnan(own) and not math.isnan(around):
                kind = ("a plateau: its neighbours do about as well" if own != 0 and around / own >= 0.8 else
                        "closer to a spike: its neighbours do clearly worse")
                readings.append(f"The best combination's {objective} is {own:.4f}; the mean over its grid "
                                f"neighbourhood is {around:.4f} — {kind}.")
    if body:
        reading = " ".join(readings)
        sections.append(_section("landscape", "Parameter landscape",
                                 (f'<p class="reading">{reading}</p>' if reading else "") + body,
                                 lead="Each heatmap shows two gridded parameters, the others aggregated (buttons: "
                                      "max, mean, or robustness — each cell's neighbourhood mean, so a broad plateau "
                                      "reads differently from a single bright cell). Blank cells: removed by a "
                                      "constraint or never defined. ★ the best combination."))
    # optimization
    body = ""
    stats = folder.manifest.get("overfitting")
    if folder.is_train_test:
        statics["train_test"] = figure(train_test_figure(rows, objective, title=f"in-sample vs out-of-sample {objective}"))
        body += _plot("train_test", reading=_train_test_reading(rows, objective))
    if folder.is_walk_forward:
        windows = folder.tables["windows"].to_pylist()
        for key, item in shown.items():
            statics["walk_forward"] = figure(walk_forward_figure(windows, item.time, item.equity,
                                                                 title=f"walk-forward on {item.symbols[0]}"))
            break
        if "walk_forward" in statics:
            body += _plot("walk_forward", reading=_walk_forward_reading(windows, rows, objective))
    if stats:
        if stats.get("logit_values"):
            statics["pbo"] = figure(pbo_figure(stats, title="CSCV logits of the in-sample best"))
            body += _plot("pbo", reading=_pbo_reading(stats))
        else:
            body += f'<p class="reading">{_pbo_reading(stats)}</p>'
        body += f'<p class="reading">{_dsr_reading(stats)}</p>'
    if body:
        sections.append(_section("optimization", "Optimization", body,
                                 lead="How much to trust the selection: in-sample against out-of-sample, and the "
                                      "overfitting statistics of the grid."))
    # regimes
    if "regime_stats" in folder.tables:
        body = ""
        top_keys = [k.split(":")[0] for k in ranked[:DEFAULT_TOP]]
        statics["regimes"] = figure(regime_figure(folder.tables["regime_stats"].to_pylist(), top_keys,
                                                  title=f"per-regime attribution of the top {len(top_keys)}"))
        body += _plot("regimes")
        strategy_columns, classifier_columns = _strategy_and_classifier_columns(folder)
        if classifier_columns or "classifier" in folder.results.column_names:
            metric = objective if not folder.is_train_test else f"train_{objective}"
            statics["strategy_by_classifier"] = figure(strategy_by_classifier_figure(
                rows, strategy_columns, classifier_columns, metric,
                title=f"best {metric} per strategy point (rows) and classifier point (columns)"))
            body += _plot("strategy_by_classifier")
        sections.append(_section("regimes", "Regimes", body,
                                 lead="Regime 0 has the lowest mean return on the training part. Bands behind the "
                                      "price chart above show the regime of each bar for a classified combination."))
    if folder.is_shared_cash:
        sections.append(_section("portfolio", "Shared-cash portfolio",
                                 '<div class="plot" id="plot-portfolio"></div>',
                                 lead="The shown combination's portfolio: each symbol's net pnl (hover: trades, win "
                                      "rate, commission, exposure) and the value held in each over time."))
    sections.append(_section("statistics", "Definitions", _DEFINITIONS,
                             lead="How every statistic is computed (docs/report.md has the formulas)."))
    return statics, sections


def _strategy_and_classifier_columns(folder: RunFolder) -> tuple[list[str], list[str]]:
    names = folder.results.column_names
    params = folder.parameter_columns()
    settings = [c for c in params if c.startswith(_SETTINGS_PREFIXES)]
    if "classifier" not in names:
        return [c for c in params if c not in settings], []
    after = names.index("classifier")
    classifier = [c for c in params if (names.index(c) > after or c.startswith("classifier_")) and c not in settings]
    strategy = [c for c in params if c not in classifier and c not in settings]
    return strategy, classifier


# ---- readings -----------------------------------------------------------------------------------


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _pbo_reading(stats: dict) -> str:
    p = _number(stats.get("pbo"))
    verdict = ("low: the selection holds up out of sample" if p < 0.2 else
               "moderate: treat the best combination with caution" if p < 0.5 else
               "high: the in-sample best is no better than a coin flip out of sample")
    return (f"<b>Probability of backtest overfitting {p:.2f}</b> — in {p:.0%} of the {stats.get('pbo_splits', 0):,} "
            f"ways to split the history into two halves ({stats.get('n_blocks')} blocks), the combination best in one "
            f"half ranked at or below the median in the other: {verdict}.")


def _dsr_reading(stats: dict) -> str:
    d = _number(stats.get("deflated_sharpe"))
    verdict = "passes the usual 0.95 bar" if d >= 0.95 else "does not pass the usual 0.95 bar"
    return (f"<b>Deflated Sharpe ratio {d:.3f}</b> — the probability that the selected combination "
            f"({html.escape(str(stats.get('selected')))}) has a real edge after trying {stats.get('n_trials')} "
            f"combinations (its per-bar Sharpe {_number(stats.get('sharpe')):.4f} against "
            f"{_number(stats.get('expected_max_sharpe')):.4f} expected from the best of as many skill-less trials): "
            f"{verdict}.")


def _train_test_reading(rows: list[dict], objective: str) -> str:
    picked = sorted((r for r in rows if r.get("selected")), key=lambda r: r.get("rank") or 0)
    if not picked:
        return "No combination was selected."
    r = picked[0]
    train, test = _number(r.get(f"train_{objective}")), _number(r.get(f"test_{objective}"))
    keep = f" — it kept {test / train:.0%} of its in-sample {objective}" if train and not math.isnan(train * test) and train > 0 else ""
    both = sum(1 for x in rows if math.isfinite(_number(x.get(f"train_{objective}")))
               and math.isfinite(_number(x.get(f"test_{objective}"))))
    return (f"<b>Out-of-sample {objective} {test:.3f}</b> against {train:.3f} in-sample for the selected "
            f"combination {html.escape(str(r.get('combo_id')))}{keep}. The chart shows the {both} of {len(rows)} "
            f"combinations with both values, {len(picked)} of them selected; points under the dashed line did "
            "worse out of sample.")


def _walk_forward_reading(windows: list[dict], rows: list[dict], objective: str) -> str:
    if not windows:
        return ""
    skip = {"window", "symbol", "train_start", "train_end", "test_start", "test_end", "combo_id", "strategy"}
    choices = [tuple((k, w[k]) for k in w if k not in skip and not k.startswith(("train_", "test_"))) for w in windows]
    changes = sum(1 for a, b in zip(choices, choices[1:]) if a != b)
    row = rows[0] if rows else {}
    return (f"<b>{len(windows)} windows</b>; the stitched out-of-sample {objective} is "
            f"{_number(row.get(objective)):.3f} over {row.get('out_of_sample_bars', 0):,} bars "
            f"(total return {_number(row.get('total_return_pct')):.1f}%). The chosen parameters changed "
            f"{changes} time(s) between windows — frequent changes mean the optimum is not stable.")


# ---- the header ---------------------------------------------------------------------------------


def _header(folder: RunFolder, notes: list[str], first: str | None) -> str:
    m = folder.manifest
    data = m.get("data", {})
    bars = data.get("bars", {})
    results = folder.results
    span = ""
    if "start" in results.column_names and results.num_rows:
        starts = [v for v in results.column("start").to_pylist() if v is not None]
        ends = [v for v in results.column("end").to_pylist() if v is not None]
        if starts and ends:
            span = f"{_clean(min(starts))} → {_clean(max(ends))}"
    elif folder.market is not None:
        times = [b.time for b in folder.market.bars if len(b)]
        if times:
            span = f"{np.datetime_as_string(min(t[0] for t in times), 'D')} → {np.datetime_as_string(max(t[-1] for t in times), 'D')}"
    features = m.get("features", {})
    versions = m.get("versions", {})
    cards = [
        ("Data", [("source", data.get("source")), ("symbols", ", ".join(data.get("symbols", []))),
                  ("bars", ", ".join(f"{s}: {n:,}" for s, n in bars.items())), ("span", span),
                  ("periods per year", _periods_text(data.get("periods_per_year"))),
                  ("split", _split_text(m.get("spec", {})))]),
        ("Grid", [("workflow", m.get("workflow")), ("combinations", m.get("combinations")), ("lanes", m.get("lanes")),
                  ("features", f"{features.get('shared')} shared vs {features.get('naive')} naive "
                               f"({features.get('sharing_efficiency')}×)" if features.get("naive") else
                               "none: signals read from the store" if m.get("workflow") == "signal_replay" else None),
                  ("classifier fits", m.get("classifier_fits") or None), ("objective", m.get("objective"))]),
        ("Run", [("run time", f"{m.get('run_seconds', 0):.2f} s" if "run_seconds" in m else None),
                 ("started", m.get("started_at")), ("run id", m.get("run_id")), ("admf", versions.get("admf")),
                 ("python · numpy", f"{versions.get('python')} · {versions.get('numpy')}" if versions else None),
                 ("best", first if not folder.is_walk_forward else None)]),
    ]
    html_cards = "".join(
        f'<div class="card"><h3>{title}</h3><dl>' +
        "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items if v not in (None, ""))
        + "</dl></div>" for title, items in cards)
    sha = html.escape(str(data.get("sha256", "")))
    spec_text = html.escape(_yaml(m.get("spec", {})))
    notes_html = ""
    if notes:
        notes_html = '<div class="notes"><h3>Notes</h3><ul>' + "".join(
            f"<li>{html.escape(n)}</li>" for n in notes) + "</ul></div>"
    source = html.escape(str(m.get("spec_source", "")))
    return (f'<section id="run"><div class="cards">{html_cards}</div>'
            f'<p class="sha">data sha256 <code>{sha}</code> · spec <code>{source}</code> sha256 '
            f'<code>{html.escape(str(m.get("spec_sha256", ""))[:16])}…</code></p>'
            f'<details><summary>spec (YAML)</summary><pre class="spec">{spec_text}</pre></details>{notes_html}</section>')


def _periods_text(periods: Any) -> str | None:
    """The manifest's periods per year as a reader wants it: each distinct value with where it came
    from, and the symbols it is for when the symbols differ.

    >>> _periods_text({"A": {"from": "inferred: daily bars on weekdays only: 252 a year", "value": 252.0},
    ...                "B": {"from": "inferred: daily bars on weekdays only: 252 a year", "value": 252.0}})
    '252 (inferred: daily bars on weekdays only)'
    >>> _periods_text({"A": {"from": "data.periods_per_year", "value": 365.0}, "B": {"from": "inferred", "value": 252}})
    'A: 365 (data.periods_per_year); B: 252 (inferred)'
    """
    if not isinstance(periods, dict):
        return None if periods is None else f"{_number(periods):g}"
    groups: dict[str, list[str]] = {}
    for symbol, entry in periods.items():
        if isinstance(entry, dict):
            value = f"{_number(entry.get('value')):g}"
            how = str(entry.get("from") or "").removesuffix(f": {value} a year")  # the number is said already
            text = value + (f" ({how})" if how else "")
        else:
            text = f"{_number(entry):g}"
        groups.setdefault(text, []).append(str(symbol))
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(symbols)}: {text}" for text, symbols in groups.items())


def _split_text(spec: dict) -> str | None:
    data = spec.get("data") if isinstance(spec, dict) else None
    split = data.get("split") if isinstance(data, dict) else None
    if not split:
        return None
    return ", ".join(f"{k}: {v}" for k, v in split.items()) if isinstance(split, dict) else str(split)


def _yaml(doc: Any) -> str:
    import yaml
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML has it: the same text, faster
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=None, width=100)


_DEFINITIONS = """
<dl class="defs">
<dt>sharpe · sortino</dt><dd>mean per-bar return over its standard deviation (ddof 1) · over the downside deviation √mean(min(r,0)²), × √periods per year, risk-free rate 0</dd>
<dt>volatility_ann_pct</dt><dd>standard deviation of per-bar returns × √periods per year × 100</dd>
<dt>cagr_pct · calmar</dt><dd>compound annual growth over the calendar span · cagr_pct / max_drawdown_pct</dd>
<dt>max_drawdown_pct · avg_drawdown_pct</dt><dd>deepest 1 − equity / running peak · mean of each drawdown episode's deepest point (an episode runs from a peak to the first bar back at it)</dd>
<dt>max_drawdown_duration · _days</dt><dd>the longest episode in bars (peak bar to recovery bar, or to the last bar) · in calendar days</dd>
<dt>best / worst / avg_trade_pct</dt><dd>a trade's return is pnl / (|size| × entry price), commissions included; avg is the geometric mean</dd>
<dt>expectancy · sqn · kelly</dt><dd>mean pnl per closed trade · √n × mean(pnl) / std(pnl) · p − (1 − p) / (mean win / mean loss)</dd>
<dt>buy_hold_return_pct</dt><dd>buying at the first evaluated close and holding to the last (several symbols: an equal-weight basket)</dd>
<dt>robustness</dt><dd>the mean objective over the combination's grid neighbours (every gridded parameter at most one step away)</dd>
</dl>"""


_CSS = """
:root{--ink:#1f2933;--muted:#6b7480;--line:#e3e7ec;--bg:#f6f7f9;--accent:#2456a6;--sel:#e8f0fb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header.top{position:sticky;top:0;z-index:10;background:#17202c;color:#fff;display:flex;align-items:center;gap:24px;padding:10px 28px;box-shadow:0 1px 3px rgba(0,0,0,.25)}
header.top h1{font-size:16px;margin:0;font-weight:600;white-space:nowrap}
header.top nav{display:flex;gap:16px;flex-wrap:wrap}
header.top nav a{color:#c9d3df;text-decoration:none;font-size:13px}
header.top nav a:hover{color:#fff}
header.top .chosen{margin-left:auto;font-size:12px;color:#c9d3df;white-space:nowrap}
header.top .chosen code{color:#fff}
main{max-width:1480px;margin:0 auto;padding:18px 28px 60px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:0 0 18px}
h2{font-size:18px;margin:0 0 6px}
h3{font-size:13px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
p.lead{color:var(--muted);margin:0 0 12px;max-width:1100px}
p.reading{margin:6px 0 8px;max-width:1100px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px 14px;background:#fbfcfd}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0}
dt{color:var(--muted)} dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-word}
.sha{color:var(--muted);font-size:12px;margin:12px 0 6px}
details summary{cursor:pointer;color:var(--accent);margin:6px 0}
pre.spec{background:#f3f5f8;border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;font-size:12px;max-height:420px}
.notes{margin-top:10px;border-left:3px solid #d98e04;background:#fff8e8;padding:8px 14px;border-radius:0 6px 6px 0}
.notes ul{margin:0;padding-left:18px}
.toolbar{display:flex;gap:12px;align-items:center;margin-bottom:8px}
.toolbar input{width:320px;padding:6px 10px;border:1px solid #c5cbd3;border-radius:5px;font:inherit}
#count{color:var(--muted);font-size:12px}
.table-wrap{max-height:460px;overflow:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:12.5px;font-variant-numeric:tabular-nums}
th{position:sticky;top:0;background:#f0f3f7;text-align:right;padding:6px 9px;border-bottom:1px solid #d5dae1;cursor:pointer;white-space:nowrap;user-select:none;font-weight:600}
th.text,td.text{text-align:left}
th.sorted-asc::after{content:" ▲";color:var(--accent)} th.sorted-desc::after{content:" ▼";color:var(--accent)}
td{padding:4px 9px;border-bottom:1px solid #eef1f4;text-align:right;white-space:nowrap}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;text-align:left}
tr.row{cursor:pointer} tr.row:hover td{background:#f5f8fc}
tr.row.selected td{background:var(--sel)}
tr.row.error td{color:#a33}
.dot{color:var(--accent);font-size:10px;margin-right:4px}
.combo-head{font-size:15px;margin:0 0 8px}
.combo-head code{font-size:14px}
.badge{display:inline-block;background:#e8f0fb;color:var(--accent);border-radius:10px;padding:1px 8px;font-size:11px;margin-left:8px}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:2px 18px;margin:6px 0 10px;font-size:12.5px}
.stats div{display:flex;justify-content:space-between;border-bottom:1px dotted #e3e7ec;padding:2px 0}
.stats span{color:var(--muted)} .stats b{font-weight:600;font-variant-numeric:tabular-nums}
.missing{border:1px dashed #c5cbd3;border-radius:6px;padding:14px 16px;background:#fafbfc;margin:8px 0}
.missing code{background:#eef1f4;padding:2px 6px;border-radius:4px}
.plot{width:100%;min-height:120px}
.plot.tall{min-height:600px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:1100px){.two{grid-template-columns:1fr}}
dl.defs{grid-template-columns:260px 1fr;font-size:13px}
dl.defs dt{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--ink)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
"""

_JS = r"""
(function(){
"use strict";
const read = id => JSON.parse(document.getElementById(id).textContent);
const DATA = read("admf-data"), COMBOS = read("admf-combos"), STATICS = read("admf-statics");
const ARRAYS = read("admf-arrays");
const CONFIG = {displaylogo:false, responsive:true, modeBarButtonsToRemove:["lasso2d","select2d"]};
const board = DATA.board, embedded = new Set(board.embedded);  // rows marked ● (combinations; not windows)
// numeric arrays are written once per page ({"admf_array": n}); each figure gets its own copy of the spec
function arrays(v){
  if(Array.isArray(v)) return v.map(arrays);
  if(v === null || typeof v !== "object") return v;
  if(typeof v.admf_array === "number") return Object.assign({}, ARRAYS[v.admf_array]);
  const out = {}; for(const k in v) out[k] = arrays(v[k]); return out;
}
function draw(div, fig){
  if(!div || !fig) return;
  const f = arrays(fig); return Plotly.react(div, f.data, f.layout, CONFIG);
}
function fmt(v){
  if(v === null || v === undefined) return "–";
  if(typeof v === "number"){ if(Number.isInteger(v)) return v.toLocaleString("en-US"); const a = Math.abs(v);
    return v.toLocaleString("en-US", {minimumFractionDigits: a >= 1000 ? 0 : (a >= 100 ? 2 : 4), maximumFractionDigits: a >= 1000 ? 0 : (a >= 100 ? 2 : 4)}); }
  if(typeof v === "boolean") return v ? "yes" : "";
  return String(v);
}
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
// ---- leaderboard
const table = document.getElementById("board");
const numeric = board.columns.map((_, i) => board.rows.every(r => r.cells[i] === null || typeof r.cells[i] === "number"));
let sortCol = 0, sortDir = 1, selected = DATA.selected;
function header(){
  return "<thead><tr>" + board.columns.map((c, i) => `<th data-col="${i}" class="${numeric[i] ? "" : "text"}${i === sortCol ? (sortDir > 0 ? " sorted-asc" : " sorted-desc") : ""}">${esc(c.replace(/_/g, " "))}</th>`).join("") + "</tr></thead>";
}
function matches(row, query){
  if(!query) return true;
  const m = query.match(/^\s*([A-Za-z_#][\w#]*)\s*(>=|<=|!=|=|>|<)\s*(-?[\d.eE+-]+)\s*$/);
  if(m){ const i = board.columns.indexOf(m[1]); if(i >= 0){ const v = row.cells[i], x = parseFloat(m[3]);
    if(typeof v !== "number") return false;
    return {">":v>x, "<":v<x, ">=":v>=x, "<=":v<=x, "=":v===x, "!=":v!==x}[m[2]]; } }
  const q = query.toLowerCase();
  return row.key.toLowerCase().includes(q) || row.cells.some(v => v !== null && String(v).toLowerCase().includes(q));
}
function render(){
  const query = document.getElementById("filter").value;
  const rows = board.rows.filter(r => matches(r, query)).sort((a, b) => {
    const x = a.cells[sortCol], y = b.cells[sortCol];
    if(x === y) return 0; if(x === null) return 1; if(y === null) return -1;
    return (x < y ? -1 : 1) * sortDir; });
  const body = rows.map(r => `<tr class="row${r.key === selected && board.kind !== "windows" ? " selected" : ""}${r.status === "error" ? " error" : ""}" data-key="${esc(r.key)}" title="${r.error ? esc(r.error) : ""}">` +
    r.cells.map((v, i) => `<td class="${board.columns[i] === "combo_id" ? "id" : (numeric[i] ? "" : "text")}">${board.columns[i] === "combo_id" && embedded.has(r.key) ? '<span class="dot">●</span>' : ""}${esc(fmt(v))}</td>`).join("") + "</tr>").join("");
  table.innerHTML = header() + "<tbody>" + body + "</tbody>";
  document.getElementById("count").textContent = `${rows.length} of ${board.rows.length} rows`;
}
table.addEventListener("click", e => {
  const th = e.target.closest("th");
  if(th){ const c = +th.dataset.col; sortDir = c === sortCol ? -sortDir : (numeric[c] ? -1 : 1); sortCol = c; render(); return; }
  const tr = e.target.closest("tr.row");
  if(tr){ select(tr.dataset.key, true); }
});
document.getElementById("filter").addEventListener("input", render);
// ---- one combination
function stats(key){
  const d = (board.details || {})[key] || {}, p = (board.params || {})[key] || {};
  const items = Object.entries(p).concat(Object.entries(d));
  return items.map(([k, v]) => `<div><span>${esc(k.replace(/_/g, " "))}</span><b>${esc(fmt(v))}</b></div>`).join("");
}
function select(key, scroll){
  selected = key; render();
  const bundle = COMBOS[key], best = board.kind !== "windows" && key === (board.rows[0] || {}).key;
  const params = Object.entries((board.params || {})[key] || {}).filter(([k]) => board.gridded ? board.gridded.includes(k) : true)
    .map(([k, v]) => `${esc(k)}=${esc(fmt(v))}`).join(", ");
  document.getElementById("combo-head").innerHTML = `<code>${esc(key)}</code> ${params}` + (best ? `<span class="badge">best by ${esc(board.metric)}</span>` : "");
  document.getElementById("combo-stats").innerHTML = stats(key);
  const chosen = document.getElementById("chosen"); if(chosen) chosen.innerHTML = `showing <code>${esc(key)}</code>`;
  const missing = document.getElementById("combo-missing");
  const divs = ["panels", "monthly", "trades", "portfolio"].map(n => document.getElementById("plot-" + n));
  if(bundle){
    missing.hidden = true;
    divs.forEach(d => { if(d) d.style.display = ""; });
    draw(divs[0], bundle.panels); draw(divs[1], bundle.monthly); draw(divs[2], bundle.trades); if(bundle.portfolio) draw(divs[3], bundle.portfolio);
  } else {
    divs.forEach(d => { if(d){ if(d.data) Plotly.purge(d); d.style.display = "none"; } });
    missing.hidden = false;
    missing.innerHTML = embedded.size === 0
      ? `No charts could be drawn for this run (see the notes above); its metrics are below.`
      : `The charts of <code>${esc(key)}</code> are not embedded in this report (only ${embedded.size} combinations are, to keep it small). Its metrics are below; render its charts with <br><br><code>admf report ${esc(DATA.run_path)} --combo ${esc(key.split(":")[0])}</code>`;
  }
  if(scroll) document.getElementById("combination").scrollIntoView({behavior:"smooth", block:"start"});
}
render();
for(const div of document.querySelectorAll("[data-static]")) draw(div, STATICS[div.dataset.static]);
if(DATA.selected) select(DATA.selected, false);
})();
"""

_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="admf"><title>{title}</title><style>{css}</style>
<script>"""

_BODY = """</script></head>
<body><header class="top"><h1>{title}</h1><nav>{nav}</nav><span class="chosen" id="chosen"></span></header>
<main>{header}{sections}</main>
<script type="application/json" id="admf-data">"""

_JSON_SCRIPT = """</script>
<script type="application/json" id="{id}">"""

_TAIL = "</script>\n<script>" + _JS + "</script>\n</body></html>\n"
