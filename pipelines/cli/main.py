"""The ``admf`` command: ``admf run SPEC``, ``admf plan SPEC``, ``admf check COMPONENT``,
``admf lookahead SPEC``, ``admf warmup SPEC``, ``admf query RUN_DIR SQL`` and ``admf report RUN_DIR``
(``admf --version`` prints the installed version).

Every error a user can cause is reported as one line naming where it is (spec path, file and
line) with exit code 2 and no traceback; nothing half-written is left on disk. Output piped into
a reader that stops early (``admf run SPEC | head -2``) ends quietly with exit code 141, like a
command killed by SIGPIPE.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import attrs

from pipelines.boundary.specs import parse_memory
from pipelines.cli.query import add_query_parser, positive_int
from pipelines.cli.reference import WHAT, reference_markdown, reference_section
from pipelines.cli.terminal import (
    format_bar_counts,
    format_lookahead,
    format_plan,
    format_regimes,
    format_store,
    format_table,
    format_top,
    format_warmup,
    format_windows,
)
from pipelines.engine.signal_store import SignalStore
from pipelines.workflows.modes import PhasedResult, load_spec, plan, plan_chunking, recorded_execution, resume, run
from state.errors import AdmfError, SpecError
from state.spec import ExecutionOptions

__all__ = ["main"]


def _version() -> str:
    """The installed package's version (``pyproject.toml``), or a note when admf runs uninstalled."""
    try:
        return importlib.metadata.version("admf")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed: running from a source tree)"


def _default_out(spec_path: str) -> Path:
    stem = Path(spec_path).stem or "run"
    base = Path("runs") / f"{stem}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _cmd_plan(args: argparse.Namespace) -> int:
    """The plan; with ``--memory-limit``, ``--executor`` or ``--workers`` (or the spec's
    ``executor``), also the chunking a run would use and why (that reads the data and computes
    every combination's signals)."""
    print(format_plan(plan(args.spec)))
    spec = load_spec(args.spec)
    options = _execution(args, spec)
    if options is not None:
        chunking = plan_chunking(spec, execution=options)
        print("\n".join(chunking.lines()) if chunking is not None else
              "chunking: none (only backtests and optimizations without data.split run in chunks)")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """Every law on one component: exit 0 when all pass, 1 when one fails (2: a bad component)."""
    from pipelines.boundary.components import resolve_component
    from pipelines.workflows.check import check_component, format_check
    kind, component = resolve_component(args.component, kind=args.kind, path="component")
    results = check_component(component, max_examples=args.examples, max_bars=args.bars)
    print(format_check(component.name, kind, results))
    return 1 if any(r.failed for r in results) else 0


def _cmd_lookahead(args: argparse.Namespace) -> int:
    """Look-ahead in a whole spec: exit 0 when no decision before a cut changed, 1 when one did."""
    from pipelines.workflows.lookahead import lookahead
    report = lookahead(args.spec, cuts=args.cuts, combos=args.combos)
    print(format_lookahead(report))
    return 1 if report.found else 0


def _cmd_warmup(args: argparse.Namespace) -> int:
    """The warm-up of a spec's components; its warnings on stderr."""
    from pipelines.workflows.warmup import warmup
    report = warmup(args.spec, tolerance=args.tolerance, starts=args.starts)
    print(format_warmup(report))
    sys.stdout.flush()
    for message in report.warnings:
        print(f"warning: {message}", file=sys.stderr)
    return 0


def _execution(args: argparse.Namespace, spec=None, *, recorded: ExecutionOptions | None = None) -> ExecutionOptions | None:
    """Executor options from the command line, over the spec's ``executor`` section (a resume: over
    the options the run was started with, ``recorded``)."""
    given = {"executor": args.executor, "workers": args.workers, "scheduler": args.scheduler,
             "memory_limit": parse_memory(args.memory_limit) if args.memory_limit else None}
    base = recorded or (spec.executor if spec is not None else None) or ExecutionOptions()
    changed = {k: v for k, v in given.items() if v is not None}
    if args.scheduler and (changed.get("executor", base.executor) != "dask"):
        changed["executor"] = "dask"
    progress = sys.stderr.isatty()
    if not changed and (spec is None or spec.executor is None):
        return None
    return ExecutionOptions(**{**attrs.asdict(base), **changed, "progress": progress})


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume:
        if args.spec:
            raise SpecError("", "give either a spec or --resume RUN_DIR, not both")
        out = Path(args.resume)
        try:
            result = resume(out, execution=_execution(args, recorded=recorded_execution(out)))
        except KeyboardInterrupt:
            print(f"admf: interrupted; finished chunks are kept: admf run --resume {out}", file=sys.stderr)
            return 130
        _report(result, out, args.top or result.plan.spec.top)
        if args.report or result.plan.spec.report:
            _write_reports(out)
        return 0
    if not args.spec:
        args.usage.error("give a spec to run, or --resume RUN_DIR to continue a chunked run")  # exits 2
    spec = load_spec(args.spec)
    if args.report or spec.report:
        from pipelines.reporting.figures import plotly_modules
        plotly_modules()  # a missing extra fails before the run, not after it
    if spec.data.is_default and spec.workflow.type != "signal_replay" and not spec.phases:
        print("note: no data.dataset, data.path or data.paths given; running on the bundled GOOG daily data",
              file=sys.stderr)
    out = Path(args.out) if args.out else _default_out(args.spec)
    try:
        result = run(spec, out=out, equity=args.equity, trace=args.trace, execution=_execution(args, spec),
                     warmup=args.warmup)
    except KeyboardInterrupt:
        if (out / "run.json").is_file():
            print(f"admf: interrupted; finished chunks are kept: admf run --resume {out}", file=sys.stderr)
        else:
            print("admf: interrupted; nothing was written", file=sys.stderr)
        return 130
    top = args.top if args.top is not None else spec.top
    if isinstance(result, PhasedResult):
        for name, output in result.phases:
            print(f"== phase {name} ==")
            _report(output, out / name, top)
        print(f"wrote {out}/<phase>/ for {', '.join(name for name, _ in result.phases)}, manifest.json")
    else:
        _report(result, out, top)
    if (args.report or spec.report) and isinstance(result, SignalStore):
        print("note: a signal store has no report; replay it (workflow: {type: signal_replay}) and report the replay",
              file=sys.stderr)
    elif args.report or spec.report:
        _write_reports(out)
    return 0


def _write_reports(run_dir: Path, *, out: str | None = None, combos=(), top: int | None = None) -> list[Path]:
    """Write the HTML report of a run folder (of each phase of a phased run) and print its path."""
    from pipelines.reporting.html import DEFAULT_TOP, phase_folders, report
    folders = phase_folders(run_dir)
    if out is not None and len(folders) > 1:
        raise SpecError("--out", f"{run_dir} holds {len(folders)} phases: report them one by one "
                                 f"(admf report {folders[0]} --out FILE) or leave --out out")
    written = []
    for folder in folders:
        path = report(folder, out=out, combos=combos, top=DEFAULT_TOP if top is None else top)
        print(f"wrote {path}")
        written.append(path)
    return written


def _cmd_report(args: argparse.Namespace) -> int:
    """``admf report RUN_DIR``: the offline HTML report of a finished run folder."""
    written = _write_reports(Path(args.run_dir), out=args.out, combos=args.combo or (), top=args.top)
    if args.open:
        import webbrowser
        for path in written:
            webbrowser.open(path.resolve().as_uri())
    return 0


def _report(result, out: Path, top: int) -> None:
    """Print one workflow's outcome: a store's summary, or the best rows and what was written;
    what the data loader warned about goes to stderr first (it is also in the manifest)."""
    for note in result.manifest.get("data", {}).get("warnings", ()):
        print(f"admf: warning: {note}", file=sys.stderr)
    if isinstance(result, SignalStore):
        print(format_store(result))
        print(f"wrote {out}/signals.parquet, combos.parquet, manifest.json "
              f"(replay it with workflow: {{type: signal_replay}}, signals: {out})")
        return
    spec = result.plan.spec
    n = result.results.num_rows
    for warning in result.manifest.get("warnings", ()):
        print(f"admf: warning: {warning}", file=sys.stderr)
    shape = (f"{len(result.plan.combos)} shared-cash portfolio(s) of {len(result.plan.symbols)} symbol(s)"
             if result.symbol_stats is not None else
             f"{result.plan.n_lanes} lane(s): {len(result.plan.combos)} combination(s) × {len(result.plan.symbols)} "
             "symbol(s)")
    print(f"{shape} "
          f"on {result.market.source} ({format_bar_counts(result.manifest['data']['bars'])}) "
          f"in {result.manifest['run_seconds']:.2f} s")
    written = ["results.parquet", f"trades.parquet ({result.trades.num_rows} trades)"]
    if result.windows is not None:
        print(f"walk-forward: {result.windows.num_rows} window(s); per window, the best on training by {spec.objective}:")
        print(format_windows(result.windows))
        print("stitched out-of-sample:")
        print(format_table(result.results.to_pylist(), [c for c in result.results.column_names]))
        written.append("windows.parquet")
    else:
        ranked = result.ranked()
        if "rank" in ranked.column_names:
            chosen = len({r["combo_id"] for r in ranked.select(["combo_id", "selected"]).to_pylist() if r["selected"]})
            print(f"{len(result.plan.combos)} combination(s) ranked on the training part by {spec.objective}; the best "
                  f"{chosen} (top_k: {spec.top_k}) tested on the test part; the first {min(top, n)} of {n} row(s):")
        else:
            print(f"top {min(top, n)} of {n} by {spec.objective}:")
        print(format_top(ranked, result.plan, top))
        if result.regime_stats is not None:
            print(f"regime attribution of the top {min(top, n)} (regime 0 = lowest mean return):")
            print(format_regimes(result.regime_stats, ranked.column("combo_id").to_pylist()[:top]))
            written.append("regime_stats.parquet")
        if result.regimes is not None:
            written.append(f"regimes.parquet ({result.regimes.num_rows:,} regime changes)")
        if result.symbol_stats is not None:
            written.append("symbol_stats.parquet")
    stats = result.manifest.get("overfitting")
    if stats:
        said: set[str] = set()
        print(f"overfitting: probability of backtest overfitting {_statistic(stats, 'pbo', '.2f', said)} over "
              f"{stats['pbo_splits']:,} CSCV splits of {stats['n_blocks']} blocks; deflated Sharpe ratio of the "
              f"selection {_statistic(stats, 'deflated_sharpe', '.3f', said)} (its Sharpe "
              f"{_statistic(stats, 'sharpe', '.4f', said)} per bar vs "
              f"{_statistic(stats, 'expected_max_sharpe', '.4f', said)} expected from the best of "
              f"{stats['n_trials']} trials)")
    if result.events is not None:
        written.append(f"events ({result.events.num_rows:,} events)")
    if result.equity is not None and result.windows is None:
        written.append("equity.parquet")
    elif result.windows is not None:
        written.append("equity.parquet (stitched)")
    print(f"wrote {out}/{', '.join(written)}, manifest.json")
    _print_warnings(result.manifest)


def _print_warnings(manifest: dict) -> None:
    """The run's warnings (also in its manifest), on stderr after its report."""
    sys.stdout.flush()
    for message in manifest.get("warnings", ()):
        print(f"warning: {message}", file=sys.stderr)


def _statistic(stats: dict, name: str, spec: str, said: set[str]) -> str:
    """A statistic as printed: its number, or ``undefined (why)`` when it has none (a reason
    already in ``said`` is not repeated)."""
    value = stats.get(name)
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        return format(value, spec)
    reason = stats.get("reasons", {}).get(name, "no reason recorded")
    if reason in said:
        return "undefined"
    said.add(reason)
    return f"undefined ({reason})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="admf", description="Pure-functional trading-strategy research engine.")
    parser.add_argument("--version", action="version", version=f"admf {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run a spec and write its results")
    p_run.add_argument("spec", nargs="?", help="the YAML spec file")
    p_run.add_argument("--out", help="run directory to create (default: runs/<spec>-<time>)")
    p_run.add_argument("--resume", metavar="RUN_DIR", help="continue a chunked run that stopped, skipping finished chunks")
    p_run.add_argument("--executor", choices=("local", "processes", "dask"), help="where chunks of lanes run")
    p_run.add_argument("--workers", type=positive_int, help="worker processes (processes, dask)")
    p_run.add_argument("--scheduler", metavar="ADDRESS", help="join an existing Dask cluster (implies --executor dask)")
    p_run.add_argument("--memory-limit", metavar="SIZE", help="memory budget that sizes chunks, e.g. 2GB "
                                                              "(default: a quarter of this machine's memory)")
    p_run.add_argument("--top", type=positive_int, help="rows of the printed table (default: the spec's top, 10)")
    p_run.add_argument("--equity", action="store_true", help="also record every combination's equity curve")
    p_run.add_argument("--trace", action="store_true", help="record every event of the fold (events.parquet)")
    p_run.add_argument("--report", action="store_true", help="also write the run's HTML report (report.html)")
    p_run.add_argument("--warmup", action="store_true",
                       help="measure the components' warm-up first (admf warmup) and warn about lanes trading "
                            "before it is over")
    p_run.set_defaults(func=_cmd_run, usage=p_run)
    p_report = sub.add_parser("report", help="write the offline HTML report of a run folder",
                              description="Write RUN_DIR/report.html: one self-contained file (no network needed) "
                                          "with the run's spec and data, a sortable leaderboard, the best "
                                          "combination's linked equity, drawdown, price and trade panels, the "
                                          "parameter landscape and, when the run has them, optimization, regime "
                                          "and shared-cash sections. Needs the report extra (plotly).")
    p_report.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by admf run")
    p_report.add_argument("--out", metavar="FILE", help="where to write the report (default: RUN_DIR/report.html)")
    p_report.add_argument("--combo", metavar="ID", action="append",
                          help="a combination to embed and show first (repeatable)")
    p_report.add_argument("--top", type=positive_int, help="best combinations embedded with charts (default 10)")
    p_report.add_argument("--open", action="store_true", help="open the report in the default browser")
    p_report.set_defaults(func=_cmd_report)
    p_plan = sub.add_parser("plan", help="show what a spec will run, without running it")
    p_plan.add_argument("spec", help="the YAML spec file")
    p_plan.add_argument("--memory-limit", metavar="SIZE", help="also show the chunks a run under this budget would "
                                                               "fold, and why (reads the data, computes the signals)")
    p_plan.add_argument("--executor", choices=("local", "processes", "dask"), help="… on this executor")
    p_plan.add_argument("--workers", type=positive_int, help="… with this many workers")
    p_plan.set_defaults(func=_cmd_plan, scheduler=None)
    p_check = sub.add_parser("check", help="prove every law of a component over generated data",
                             description="Run every law (no look-ahead, streaming = batch, determinism, isolation, "
                                         "schema) on a built-in component or your own by import path "
                                         "(module:attribute; its folder on PYTHONPATH) and print a pass/fail "
                                         "table with hypothesis' minimal counterexamples. Exit code 1 when a law "
                                         "fails.")
    p_check.add_argument("component", help="a built-in (sma, momentum, trend_regime, ...) or module:attribute")
    p_check.add_argument("--kind", choices=("feature", "strategy", "classifier"),
                         help="the component's kind, when a name is ambiguous or to insist on one")
    p_check.add_argument("--examples", type=positive_int, help="generated cases per law (default: each law's own)")
    p_check.add_argument("--bars", type=positive_int, help="longest generated series (default: each law's own)")
    p_check.set_defaults(func=_cmd_check)
    p_list = sub.add_parser("list", help="list every component, setting and spec key (the spec reference)",
                            description="Print the spec reference: the spec's sections and keys, the settings, the "
                                        "strategies, classifiers, features (native and TA-Lib) and objectives, each "
                                        "with its parameters, defaults and ranges. --markdown prints the whole "
                                        "reference as docs/spec-reference.md holds it.")
    p_list.add_argument("what", nargs="?", choices=WHAT, help="one part only (default: all)")
    p_list.add_argument("--markdown", action="store_true", help="the whole reference as Markdown")
    p_list.set_defaults(func=_cmd_list)
    p_look = sub.add_parser("lookahead", help="check that no decision of a spec depends on later data",
                            description="Run the spec's combinations on its data truncated at N cut points and "
                                        "perturbed after each, and compare every decision before each cut (features, "
                                        "signals, classifier labels, orders, fills, exits) with the run that saw "
                                        "more. Prints the decisions that changed: exit code 1 when one did "
                                        "(look-ahead), 0 when none did.")
    p_look.add_argument("spec", help="the YAML spec file")
    p_look.add_argument("--cuts", type=positive_int, default=4, help="cut points spread over the data (default 4)")
    p_look.add_argument("--combos", type=positive_int,
                        help="check this many combinations, chosen to cover every component and parameter value "
                             "(default: the whole grid)")
    p_look.set_defaults(func=_cmd_lookahead)
    p_warm = sub.add_parser("warmup", help="measure how many bars each component needs before it stops depending "
                                           "on where the data starts",
                            description="Run the spec's features, strategies and classifiers from several later "
                                        "starts and compare them with the run from the data's first bar: each "
                                        "one's warm-up in bars, the first bar it decides something, and warnings "
                                        "for those deciding before their warm-up is over.")
    p_warm.add_argument("spec", help="the YAML spec file")
    p_warm.add_argument("--tolerance", type=float, default=1e-6,
                        help="values agree when |a - b| <= tolerance * max(1, |a|, |b|) (default 1e-6)")
    p_warm.add_argument("--starts", type=positive_int, default=3, help="later starts measured (default 3)")
    p_warm.set_defaults(func=_cmd_warmup)
    add_query_parser(sub)
    return parser


def _cmd_list(args: argparse.Namespace) -> int:
    if args.markdown and args.what:
        raise AdmfError("--markdown prints the whole reference; leave out the part, or drop --markdown")
    text = reference_markdown() if args.markdown or args.what is None else reference_section(args.what)
    sys.stdout.write(text)
    return 0


#: Exit code when the reader of the output went away (``admf run … | head``): 128 + SIGPIPE, what
#: a command killed by the signal reports.
EXIT_BROKEN_PIPE = 128 + 13


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # specs name their own components by import path from here
    try:
        return args.func(args)
    except AdmfError as e:
        print(f"admf: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("admf: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader closed the pipe (| head): stop quietly; what a run writes is written before it
        # prints, so nothing is lost. Point stdout at devnull so the flush at exit cannot fail again.
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured): nothing will flush to a pipe
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
