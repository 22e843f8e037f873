"""Plain-text reports for the terminal: the plan, and a run's best combinations as a table."""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pyarrow as pa
import toolz

from state.plan import PhasePlan, Plan

__all__ = ["format_bar_counts", "format_lookahead", "format_plan", "format_regimes", "format_store", "format_symbols",
           "format_table", "format_top", "format_warmup", "format_windows"]

_SHOWN_METRICS = ("total_return_pct", "sharpe", "max_drawdown_pct", "n_trades", "win_rate_pct", "final_equity")
_SHOWN_SYMBOLS = 5  # a universe's symbols beyond these are counted, not listed


def format_symbols(symbols: tuple[str, ...] | list[str]) -> str:
    """Symbols as a line shows them: every one of a few, the first few and a count of many.

    >>> format_symbols(["A", "B"]), format_symbols([f"S{i}" for i in range(100)])
    ('A, B', 'S0, S1, S2, S3, S4 and 95 more')
    """
    shown = ", ".join(symbols[:_SHOWN_SYMBOLS])
    return shown if len(symbols) <= _SHOWN_SYMBOLS else f"{shown} and {len(symbols) - _SHOWN_SYMBOLS} more"


def format_bar_counts(bars: dict[str, int]) -> str:
    """Each symbol's bars for a few symbols; for a universe the count of symbols and the range of bars.

    >>> format_bar_counts({"A": 10, "B": 12})
    'A: 10 bars, B: 12 bars'
    >>> format_bar_counts({f"S{i}": 5000 - i for i in range(100)})
    '100 symbols, 4,901 to 5,000 bars each, 495,050 in all'
    """
    if len(bars) <= _SHOWN_SYMBOLS:
        return ", ".join(f"{symbol}: {count} bars" for symbol, count in bars.items())
    low, high = min(bars.values()), max(bars.values())
    each = f"{low:,} bars each" if low == high else f"{low:,} to {high:,} bars each"
    return f"{len(bars)} symbols, {each}, {sum(bars.values()):,} in all"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:,.4f}" if abs(value) < 1e6 else f"{value:,.2f}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """An aligned text table; numbers right-aligned."""
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) or r.get(c) is None for r in rows) for c in columns]
    def line(values):
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells])


def format_top(ranked: pa.Table, plan: Plan, top: int) -> str:
    """The first ``top`` rows of a ranked results table, with the columns that tell combos apart."""
    rows = ranked.slice(0, top).to_pylist()
    fixed = {"combo_id", "symbol", "strategy", "selected", "rank", "ruined", "ruin_time", "notes"}
    metric_like = _metric_columns(ranked)
    params = [c for c in ranked.column_names
              if c not in fixed and c not in metric_like and not c.startswith(("train_", "test_"))
              and len(set(map(str, ranked.column(c).to_pylist()))) > 1]
    columns = ["combo_id", *(["symbol"] if len(plan.symbols) > 1 else []),
               *(["strategy"] if len({c.strategy for c in plan.combos}) > 1 else []), *params]
    objective = plan.spec.objective.lstrip("-") if ":" not in plan.spec.objective else "objective"
    shown = [objective] + [m for m in _SHOWN_METRICS if m != objective]
    if "rank" in ranked.column_names:  # train/test: the selection, trained then tested
        shown = ["rank", f"train_{objective}", f"test_{objective}", "test_total_return_pct", "test_max_drawdown_pct",
                 "test_n_trades"]
    ruin = [name for name in ("ruin_time", "train_ruin_time", "test_ruin_time") if any(r.get(name) for r in rows)]
    for row in rows:  # a shared-cash portfolio of a universe: A+B+...+Z, counted
        parts = str(row.get("symbol") or "").split("+")
        if len(parts) > _SHOWN_SYMBOLS:
            row["symbol"] = "+".join(parts[:3]) + f"+… ({len(parts)} symbols)"
    return format_table(rows, columns + shown + ruin)


def _metric_columns(table: pa.Table) -> set[str]:
    from fp.metrics import METRICS
    return set(METRICS) | {"n_rejected", "objective"}


def format_plan(plan: Plan | tuple[PhasePlan, ...]) -> str:
    """The plan the way the seed sketches it: combinations, shared parts, features, lanes; a
    phased spec's phases one after the other. The combination count is written as the product
    (or, with per-entry settings, the sum of products) it is."""
    if isinstance(plan, tuple):
        spec = plan[0].plan.spec
        lines = [f"plan for {spec.source.rsplit('#', 1)[0]}: {len(plan)} phases, run in order"]
        split = plan[-1].plan.spec.data.split
        if split is not None:
            lines.append(f"  data.split {split[0]}: {split[1]}: every phase but the last runs on the training part; "
                         f"the last ({plan[-1].name}) selects on it and validates on the test part")
        for phase in plan:
            lines.append("")
            lines.append(_phase_heading(phase))
            lines += ["  " + line for line in _plan_lines(phase.plan, phase)]
        return "\n".join(lines)
    return "\n".join(_plan_lines(plan, None))


def _phase_heading(phase: PhasePlan) -> str:
    fed = f", fed by phase {phase.source}" if phase.source else ""
    return f"phase {phase.name} (workflow {phase.plan.spec.workflow.type}{fed}):"


def _combination_count(plan: Plan, phase: PhasePlan | None) -> str:
    """``N = …``: the factors that multiply (and add) up to the number of combinations."""
    n = len(plan.combos)
    n_settings = len({c.settings for c in plan.combos})
    if phase is not None and phase.selected is not None:
        chosen = f"{phase.selected} selected (the top {phase.selected} of phase {phase.source})"
        return f"{n} = {chosen} × {n // phase.selected} settings" if n != phase.selected \
            else f"{n} = {chosen}, each with its settings"
    if plan.spec.workflow.type == "signal_replay":
        signals = len({(c.strategy, c.strategy_params, c.classifier, c.classifier_params) for c in plan.combos})
        return f"{n} = {signals} stored signals × {n_settings} settings"
    totals = [len({(c.strategy, c.strategy_params) for c in plan.combos}),
              len({(c.classifier, c.classifier_params) for c in plan.combos}), n_settings]
    if totals[0] * totals[1] * totals[2] == n:  # every strategy point with every classifier point and setting
        return f"{n} = {totals[0]} strategy × {totals[1]} classifier × {totals[2]} settings"
    groups = toolz.groupby(lambda c: c.strategy_path, plan.combos)
    terms = []
    for path, combos in groups.items():
        factors = [len({(c.strategy, c.strategy_params) for c in combos}),
                   len({(c.classifier, c.classifier_params) for c in combos}), len({c.settings for c in combos})]
        dropped = factors[0] * factors[1] * factors[2] - len(combos)
        terms.append((factors, path, dropped))
    text = " + ".join(f"{a} × {b} × {c} [{path}]" + (f" − {dropped} already in an earlier entry" if dropped else "")
                      for (a, b, c), path, dropped in terms)
    return f"{n} = {text} (strategy × classifier × settings, per strategy entry)"


def _workflow_line(plan: Plan) -> str | None:
    spec = plan.spec
    w = spec.workflow
    classified = any(c.classifier for c in plan.combos)
    if w.type == "walk_forward":
        step = w.step_bars or w.test_bars
        return (f"  walk-forward: every window runs the {len(plan.combos)} combinations on its {w.train_bars} training "
                f"bars, then its best on the next {w.test_bars} (windows move by {step}"
                f"{', anchored at the first bar' if w.anchored else ''}; the last tests the bars left); "
                f"results: one stitched row per symbol, windows.parquet one row per window"
                + ("; classifiers are refitted per window on its bars (twice: warm-up, then all its training bars)"
                   if classified else ""))
    if w.type == "optimization" and spec.data.split is not None:
        kind, value = spec.data.split
        return (f"  train/test (data.split {kind}: {value}): every combination on the training part, the top "
                f"{spec.top_k} on the test part; results: one row per lane"
                + ("; classifiers fit on their warm-up of the training part, then are refitted on all of it for "
                   "the test" if classified else ""))
    return None


def _plan_lines(plan: Plan, phase: PhasePlan | None) -> list[str]:
    spec = plan.spec
    lines = [
        f"plan for {spec.source}: workflow {spec.workflow.type} (pattern {plan.pattern})" if phase is None else
        f"  pattern {plan.pattern}",
        f"  combinations: {_combination_count(plan, phase)}",
        f"  portfolios (shared cash): {len(plan.combos)}, each trading {len(plan.symbols)} symbol(s) "
        f"[{format_symbols(plan.symbols)}]" if any(dict(c.settings).get("shared_cash") for c in plan.combos) else
        f"  lanes (isolated portfolios): {plan.n_lanes} = {len(plan.combos)} combinations × {len(plan.symbols)} symbol(s) "
        f"[{format_symbols(plan.symbols)}]",
    ]
    workflow = _workflow_line(plan)
    if workflow:
        lines.append(workflow)
    lines += [
        f"  shared containers: {', '.join(plan.shared)}",
        f"  per-lane containers: {', '.join(plan.per_lane)}",
    ]
    if phase is not None and phase.selected is not None:
        lines.append(f"  strategies, classifiers and features: those of the {phase.selected} combinations phase "
                     f"{phase.source} selects (known once it has run)")
    elif spec.workflow.type == "signal_replay":
        store = f"the store of phase {phase.source}" if phase is not None and phase.source else spec.signals
        lines.append(f"  signals: {store}: no feature or strategy is computed, the stored signals are replayed")
    else:
        lines.append(f"  features (FeatureHub, each computed once): {len(plan.features) * len(plan.symbols)} shared vs "
                     f"{plan.naive_feature_count} naive — sharing efficiency {plan.sharing_efficiency:.1f}×")
        lines += [f"    {key}" for key in plan.features]
        lines.append("  strategies:")
        for entry in spec.strategies:
            axes = " × ".join(f"{a.name} {list(a.values)}" for a in entry.axes)
            points = len({c.strategy_params for c in plan.combos if c.strategy_path == entry.path})
            lines.append(f"    {entry.path} {entry.type}: {axes} -> {points} points")
            for text in entry.constraints:
                lines.append(f"      constraint: {text}")
            own = entry.option("exits")
            if own is not None:
                grid = " × ".join(f"{a.name} {list(a.values)}" for a in own.axes if len(a.values) > 1)
                lines.append(f"      its own exits{': grid ' + grid if grid else ''} (instead of the spec's)")
    if spec.classifiers:
        lines.append("  classifiers:")
        for entry in spec.classifiers:
            axes = " × ".join(f"{a.name} {list(a.values)}" for a in entry.axes)
            policies = entry.option("regime_policy", ("gate",))
            lines.append(f"    {entry.path} {entry.type}: {axes}; regime_policy "
                         f"{policies[0] if len(policies) == 1 else list(policies)}")
        fits = Counter((c.classifier, tuple(p for p in c.classifier_params if p[0] != "regime_policy"))
                       for c in plan.combos if c.classifier)
        lines.append(f"  classifier fits (shared, one per classifier point and symbol): "
                     f"{plan.classifier_fits} for {plan.n_lanes} lanes")
        for (name, params), lanes in fits.items():
            args = ", ".join(f"{k}={v}" for k, v in params)
            lines.append(f"    {name}({args}) -> reused by {lanes * len(plan.symbols)} lanes")
    for section in spec.settings:
        fixed = ", ".join(f"{a.name}={a.values[0]}" for a in section.axes if len(a.values) == 1)
        grid = " × ".join(f"{a.name} {list(a.values)}" for a in section.axes if len(a.values) > 1)
        lines.append(f"  {section.type}: {fixed}" + (f"; grid {grid}" if grid else ""))
    lines.append(f"  objective: {spec.objective}")
    return lines


def format_store(store) -> str:
    """What a signal generation stored: changes, combinations, and the saving over a dense store."""
    m = store.manifest
    bars = ", ".join(f"{s}: {n} bars" for s, n in m["data"]["bars"].items())
    dense = store.dense_size
    ratio = dense / store.n_changes if store.n_changes else float("inf")
    return (f"stored {store.n_changes:,} signal changes of {store.combos.num_rows} combination(s) on "
            f"{m['data']['source']} ({bars}) in {m['run_seconds']:.2f} s\n"
            f"a dense store would hold {dense:,} values: the sparse store keeps "
            f"{store.n_changes / dense:.2%} of them ({ratio:,.0f}× fewer)")


def format_regimes(stats: pa.Table, combo_ids: list[str]) -> str:
    """Per-regime attribution rows of the given combinations, in that order."""
    order = {c: i for i, c in enumerate(combo_ids)}
    rows = sorted((r for r in stats.to_pylist() if r["combo_id"] in order),
                  key=lambda r: (order[r["combo_id"]], r["symbol"], r["regime"]))
    return format_table(rows, ["combo_id", "symbol", "regime", "bars", "return_pct", "trades", "exposure_pct"])


def format_windows(windows: pa.Table) -> str:
    """One line per walk-forward window: its ranges, the chosen parameters, train vs test metrics."""
    fixed = {"window", "symbol", "train_start", "train_end", "test_start", "test_end", "test_bars", "combo_id",
             "strategy"}
    params = [c for c in windows.column_names if c not in fixed and not c.startswith(("train_", "test_"))]
    rows = []
    for r in windows.to_pylist():
        rows.append({**r, **{k: str(r[k])[:10] for k in ("train_start", "train_end", "test_start", "test_end")}})
    objective = ["train_objective", "test_objective"] if "train_objective" in windows.column_names else []
    return format_table(rows, ["window", "train_start", "train_end", "test_start", "test_end", "test_bars", *params,
                               *objective, "train_sharpe", "test_sharpe", "test_total_return_pct", "test_max_drawdown_pct",
                               "test_n_trades"])


#: Rows ``admf lookahead`` prints before it says how many more there are.
LOOKAHEAD_ROWS = 40


def format_lookahead(report: Any) -> str:
    """``admf lookahead``'s report (a :class:`pipelines.workflows.lookahead.LookaheadReport`):
    what was checked, then one row per combination, symbol and component whose decisions before
    a cut changed — the first bar it changed at, and which input changed it — and a verdict."""
    from pipelines.workflows.lookahead import DECISIONS
    symbols = [symbol for symbol, _ in report.cuts[0].bars] if report.cuts else []
    chosen = (f"{len(report.combos)} combination(s)" if len(report.combos) == report.grid else
              f"{len(report.combos)} of {report.grid} combinations (every component and parameter value covered)")
    lines = [f"admf lookahead {report.source}: {report.workflow}, {chosen} on {', '.join(symbols)}, "
             f"{len(report.cuts)} cut(s)"]
    for cut in report.cuts:
        at = ", ".join(f"{symbol} bar {bar}" for symbol, bar in cut.bars)
        lines.append(f"  cut {cut.number} at {cut.time} ({at})")
    names = {"feature": "features", "strategy": "signals", "classifier": "classifier labels"}
    lines.append("compared before each cut: " + ", ".join(names.get(k, k) for k in report.checked)
                 + "; with the data truncated at the cut, and perturbed after it")
    lines += [f"note: {note}" for note in report.notes]
    if not report.found:
        lines.append("no look-ahead: no decision before a cut changed")
        return "\n".join(lines)
    first: dict[tuple, Any] = {}
    for f in report.findings:
        key = (f.combo_id, f.symbol, f.kind, f.component)
        if key not in first or f.bar < first[key].bar:
            first[key] = f
    order = {c.combo_id: i for i, c in enumerate(report.combos)}
    found = sorted(first.values(), key=lambda f: (order[f.combo_id], f.symbol, DECISIONS.index(f.kind), f.component))
    rows = [{"combination": f.combo_id, "symbol": f.symbol, "decision": f.kind,
             "component": f.component if f.component != f.kind else "", "first changed bar": f.bar, "time": f.time,
             "changed by": f"{f.input} {'at' if f.input == 'truncated' else 'after'} cut {f.cut}", "change": f.detail}
            for f in found]
    columns = ["combination", *(["symbol"] if len(symbols) > 1 else []), "decision", "component", "first changed bar",
               "time", "changed by", "change"]
    lines.append(format_table(rows[:LOOKAHEAD_ROWS], columns))
    if len(rows) > LOOKAHEAD_ROWS:
        lines.append(f"... and {len(rows) - LOOKAHEAD_ROWS} more row(s) (pipelines.lookahead(spec).findings has "
                     "every finding)")
    components = len({(f.kind, f.component) for f in found})
    combos = len({f.combo_id for f in found})
    lines.append(f"look-ahead found: decisions before a cut changed in {components} component(s) of {combos} of "
                 f"{len(report.combos)} combination(s)")
    return "\n".join(lines)


def format_warmup(report: Any) -> str:
    """``admf warmup``'s table (a :class:`pipelines.workflows.warmup.WarmupReport`): each
    component's warm-up on each symbol and the first bar it decides something, marked ``!`` when
    that comes before its warm-up is over."""
    symbols = list(dict.fromkeys(row.symbol for row in report.rows))
    starts = ", ".join(time for time, _ in report.starts)
    lines = [f"admf warmup {report.source}: {', '.join(symbols)} from {report.data_start}; measured from "
             f"{len(report.starts)} later start(s) ({starts}), tolerance {report.tolerance:g}"]
    rows = [{"kind": row.kind, "component": row.component, "symbol": row.symbol,
             "warm-up (bars)": row.note or (str(row.bars) if row.bars is not None else "not reached"),
             "decides from bar": "" if row.first is None else f"{row.first}{' !' if row.early else ''}"}
            for row in report.rows]
    columns = ["kind", "component", *(["symbol"] if len(symbols) > 1 else []), "warm-up (bars)", "decides from bar"]
    lines.append(format_table(rows, columns))
    if any(row.early for row in report.rows):
        lines.append("! decides (takes a position, labels a bar) before its warm-up is over; "
                     "not reached: it still depends on its start at the data's last bar")
    return "\n".join(lines)
