"""The library entry points: plan, run, generate signals and replay them, for a spec given as a
path, a mapping or a Spec.

Each is the whole effectful pipeline of its workflow: load the spec and the data, compile the
plan, run it, and (when ``out`` is given) write the folder atomically. Everything between loading
and writing is pure.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from fp.registry import registry_of
from pipelines.boundary.data import data_symbols, load_market_data
from pipelines.boundary.feature_files import drop_features, write_features
from pipelines.boundary.outputs import RunDirError, check_run_dir, write_run
from pipelines.boundary.specs import SpecLike, load_spec, spec_from_mapping
from pipelines.boundary.store_files import read_store, write_store
from pipelines.engine.compiler import (
    plan_from_spec,
    replay_plan,
    selected_plan,
    signal_id,
)
from pipelines.engine.evaluate import run_plan
from pipelines.engine.events import run_id
from pipelines.engine.lanes import require_volume
from pipelines.engine.objectives import objective_values, select_some, with_objective
from pipelines.engine.signal_store import SignalStore, store_signals
from pipelines.engine.signals import (
    HeldSignals,
    computed_signals,
    hold_signals,
    with_market,
)
from pipelines.workflows.chunking import (
    Chunking,
    default_budget,
    features_fit,
    plan_chunks,
)
from pipelines.workflows.executors import DaskSession, ExecutionOptions, dask_session, lean_memory, run_chunked
from pipelines.workflows.optimize import (
    block_layout,
    choose,
    ok_combo_ids,
    overfitting,
    train_test,
    training_part,
    training_view,
    walk_forward,
)
from pipelines.workflows.results import RunResult
from pipelines.workflows.warmup import WarmupReport, record_warmup
from pipelines.workflows.warmup import warmup as measure_warmup
from state.errors import AdmfError, SpecError
from state.market import MarketData
from state.plan import Combination, PhasePlan, Plan
from state.spec import DataSpec, Spec, TraceSpec

__all__ = ["PhasedResult", "generate_signals", "load_spec", "plan", "plan_chunking", "recorded_execution", "replay",
           "resume", "run", "run_phases", "write_phases"]

_PACKAGES = ("admf", "numpy", "pyarrow", "attrs", "toolz", "PyYAML")


def plan(spec: SpecLike) -> Plan | tuple[PhasePlan, ...]:
    """What a spec will run, without running it: its :class:`Plan`, or a phased spec's
    :class:`PhasePlan` per phase. No market data is read; a replay reads its store's list of
    combinations. Its counts are the run's: one result row per lane (a walk-forward: per window)."""
    spec = load_spec(spec)
    if not spec.phases:
        return _replay_plan_of(spec, read_store(spec.signals)) if spec.workflow.type == "signal_replay" \
            else plan_from_spec(spec, symbols=data_symbols(spec.data))
    plans: dict[str, PhasePlan] = {}
    for phase in spec.phases:
        p, source = phase.spec, plans.get(phase.source)
        if p.workflow.type == "signal_replay":
            fed = source is not None and source.plan.spec.workflow.type == "signal_generation"
            the_plan = replay_plan(p, source.plan.combos, symbols=source.plan.symbols) if fed \
                else _replay_plan_of(p, read_store(p.signals))
            plans[phase.name] = PhasePlan(phase.name, the_plan, phase.source)
        elif source is not None:
            standing_in = _selected(list(source.plan.combos), source.plan.spec.top_k, own_settings=_own_settings(p))
            the_plan = selected_plan(p, standing_in, symbols=data_symbols(p.data), own_settings=_own_settings(p))
            plans[phase.name] = PhasePlan(phase.name, the_plan, phase.source, len(standing_in))
        else:
            plans[phase.name] = PhasePlan(phase.name, plan_from_spec(p, symbols=data_symbols(p.data)))
    return tuple(plans[ph.name] for ph in spec.phases)


def _replay_plan_of(spec: Spec, store: SignalStore, *, symbols: tuple[str, ...] | None = None) -> Plan:
    """The plan of replaying ``store`` under ``spec``: on ``symbols``, else the spec's data's, else
    (no data section) the store's."""
    if symbols is None:
        symbols = data_symbols(store.data_spec() if spec.data.is_default else spec.data)
    return replay_plan(spec, store.combinations(), symbols=symbols)


def _own_settings(spec: Spec) -> bool:
    """Whether a phase fed by an earlier one crosses its combinations with settings of its own."""
    document = json.loads(spec.document)
    return any(key in document for key in ("portfolio", "execution", "risk", "exits"))


def run(spec: SpecLike, *, out: str | os.PathLike | None = None, market: MarketData | None = None,
        equity: bool = False, trace: bool = False, execution: ExecutionOptions | None = None,
        warmup: bool = False) -> RunResult | SignalStore | PhasedResult:
    """Run a spec's workflow; write its folder when ``out`` is given.

    ``backtest`` and ``optimization`` return a :class:`RunResult` (with ``data.split`` an
    optimization selects on the training part and validates on the test part; a grid reports its
    overfitting statistics), ``walk_forward`` a :class:`RunResult` with its windows,
    ``signal_generation`` the :class:`SignalStore` (see :func:`generate_signals`),
    ``signal_replay`` a :class:`RunResult` (see :func:`replay`), and a spec with ``phases`` a
    :class:`PhasedResult`. ``market`` overrides the spec's data section (data composed in code);
    ``equity`` (or ``equity: true``) also records every combination's equity curve, ``trace`` (or
    ``trace:`` in the spec) every event of a backtest's or replay's fold. A backtest or an
    optimization without ``data.split`` computes every combination's signal changes once, then
    folds them in chunks of combinations that fit the memory budget (``execution`` or the spec's
    ``executor``: its ``memory_limit``, default a quarter of the machine's memory; see
    ``pipelines.workflows.chunking``), on that executor, resumable (``pipelines.workflows.executors``);
    one chunk on the local executor is an ordinary run. ``warmup`` measures the warm-up of the
    spec's features, strategies and classifiers on the run's data first
    (``pipelines.workflows.warmup``, a backtest, optimization or walk-forward only), records it in
    the manifest and warns about every lane whose first trade comes before it is over. The spec,
    then ``out`` (see
    :func:`pipelines.boundary.outputs.check_run_dir`) are checked before any data is read, so a bad
    spec or output folder fails fast.
    """
    spec = load_spec(spec)
    if warmup and (spec.phases or spec.workflow.type in ("signal_generation", "signal_replay")):
        raise SpecError("--warmup", "measures the warm-up of a backtest's, optimization's or walk-forward's "
                                    "components: run admf warmup on each phase's or the generating spec instead")
    if trace and spec.trace is None:
        if any(axis.name == "shared_cash" and True in axis.values for axis in spec.portfolio.axes):
            raise SpecError("--trace", "tracing does not cover shared-cash portfolios yet; run without --trace "
                                       "(trace=True from code), or set portfolio.shared_cash: false")
        spec = attrs.evolve(spec, trace=TraceSpec())
    if equity:
        spec = attrs.evolve(spec, equity=True)
    if spec.phases:
        return run_phases(spec, out=out, market=market)
    if spec.workflow.type == "signal_generation":
        return generate_signals(spec, out=out, market=market)
    if spec.workflow.type == "signal_replay":
        return replay(spec, out=out, market=market)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    if out is not None:
        check_run_dir(out)
    options = execution if execution is not None else spec.executor
    bounded = _chunkable(spec, options) and options is not None and options.memory_limit is not None
    with lean_memory() if bounded else contextlib.nullcontext():  # a budget counts what allocators keep
        market = market if market is not None else load_market_data(spec.data)
        the_plan = plan_from_spec(spec, symbols=market.symbols)
        measured = measure_warmup(spec, market=market) if warmup else None
        if _chunkable(spec, options):
            return _run_held(spec, the_plan, market, started, clock, out, options or ExecutionOptions(),
                             warmup=measured)
        return _finish(spec, the_plan, market, started, clock, out, warmup=measured)


def resume(run_dir: str | os.PathLike, *, execution: ExecutionOptions | None = None) -> RunResult:
    """Continue a chunked run that stopped (Ctrl-C, a killed process): chunks already done are
    skipped, and the result equals an uninterrupted run's."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    root = Path(run_dir)
    if (root / "manifest.json").is_file():
        raise RunDirError(f"{root}: this run is complete (manifest.json is written); nothing to resume")
    try:
        record = json.loads((root / "run.json").read_text())
    except (OSError, ValueError):
        raise RunDirError(f"{root}: not a resumable run (no readable run.json); give the --out folder of a "
                          "chunked run (--executor, or a run larger than --memory-limit)") from None
    spec = spec_from_mapping(record["spec"], source=record["source"], base_dir=record["base_dir"])
    options = execution or ExecutionOptions(**record["execution"])
    with lean_memory():
        market = load_market_data(spec.data)
        the_plan = plan_from_spec(spec, symbols=market.symbols)
        signals, chunking = _held_and_chunked(spec, the_plan, market, options, root)
        return _run_chunked(spec, the_plan, market, started, clock, root, options, signals, chunking, root, resume=True)


def plan_chunking(spec: SpecLike, *, execution: ExecutionOptions | None = None) -> Chunking | None:
    """How a run of ``spec`` would be chunked under ``execution`` (default: the spec's
    ``executor``): reads the data and computes every combination's signals (their order counts
    decide), folds nothing. ``None`` for a workflow that does not run in chunks."""
    import shutil
    import tempfile
    spec = load_spec(spec)
    options = execution if execution is not None else spec.executor
    if spec.phases or not _chunkable(spec, options):
        return None
    market = load_market_data(spec.data)
    the_plan = plan_from_spec(spec, symbols=market.symbols)
    work = Path(tempfile.mkdtemp(prefix="admf-plan-"))
    try:
        return _held_and_chunked(spec, the_plan, market, options or ExecutionOptions(), work)[1]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def recorded_execution(run_dir: str | os.PathLike) -> ExecutionOptions | None:
    """The executor options a resumable run was started with (``None``: not a resumable run); a
    resume's command-line options replace them one by one."""
    try:
        return ExecutionOptions(**json.loads((Path(run_dir) / "run.json").read_text())["execution"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _chunkable(spec: Spec, options: ExecutionOptions | None) -> bool:
    """Whether a run computes its signals once and folds them in chunks: backtests and
    optimizations without ``data.split`` (train/test and walk-forward runs fold their parts)."""
    if spec.workflow.type not in ("backtest", "optimization") or spec.data.split is not None:
        if options is not None and options.executor != "local":
            raise SpecError("executor", "only backtests and optimizations without data.split run on executors")
        return False
    return True


def _held_and_chunked(spec: Spec, the_plan: Plan, market: MarketData, options: ExecutionOptions,
                      work: Path | None, session: DaskSession | None = None) -> tuple[HeldSignals, Chunking]:
    """Every combination's signals, computed once (each symbol's features in memory when they
    fit the budget beside the data — by the workers of a Dask ``session`` when there is one —
    else in a store in the run folder ``work``, dropped after), and the chunks that fold them
    (``pipelines.workflows.chunking``)."""
    budget = options.memory_limit or default_budget()
    in_memory = features_fit(the_plan, market, budget)
    if in_memory and session is not None:
        signals = session.hold_signals(the_plan, market)
    elif in_memory:
        signals = hold_signals(the_plan, market)
    else:
        store = work / "parts" / "features"
        registry = registry_of(spec)

        def stored(bars):
            drop_features(store)  # one symbol's at a time
            return write_features(bars, the_plan.features, store, registry=registry, market=market)

        try:
            signals = hold_signals(the_plan, market, features=stored)
        finally:
            drop_features(store)
    workers = (options.workers or os.cpu_count() or 1) if options.executor != "local" else 1
    chunking = plan_chunks(the_plan, market, signals, budget, features="memory" if in_memory else "store",
                           workers=workers, equity=spec.equity, trace=spec.trace is not None)
    return signals, chunking


def _run_held(spec: Spec, the_plan: Plan, market: MarketData, started: datetime, clock: float,
              out: str | os.PathLike | None, options: ExecutionOptions, *,
              warmup: WarmupReport | None = None) -> RunResult:
    """A backtest or optimization: its signals computed once, then folded in one run or in chunks."""
    import shutil
    require_volume(the_plan.combos, market)  # before anything is written
    budget = options.memory_limit or default_budget()
    work, existed = None, out is not None and Path(out).exists()
    if options.executor != "local" or not features_fit(the_plan, market, budget):
        work = _work_dir(spec, out, options)  # the feature store lives in the run folder
    # on Dask one session serves the signals and the chunks: the workers are checked and sent the data once
    with contextlib.ExitStack() as stack:
        try:
            session = stack.enter_context(dask_session(options)) if options.executor == "dask" else None
            signals, chunking = _held_and_chunked(spec, the_plan, market, options, work, session)
        except AdmfError:  # no cluster, or bad input found computing the signals: nothing is left on disk
            if work is not None:
                (work / "run.json").unlink(missing_ok=True)
                shutil.rmtree(work / "parts", ignore_errors=True)
                if not existed:
                    work.rmdir()
            raise
        if work is None and len(chunking.chunks) == 1:
            return _finish(spec, the_plan, market, started, clock, out, signals=signals, warmup=warmup)
        work = work or _work_dir(spec, out, options)
        return _run_chunked(spec, the_plan, market, started, clock, out, options, signals, chunking, work,
                            resume=False, created=not existed, warmup=warmup, session=session)


def _work_dir(spec: Spec, out: str | os.PathLike | None, options: ExecutionOptions) -> Path:
    """The folder a chunked run works in (``out``, or a temporary one), with what resuming needs."""
    import tempfile
    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="admf-chunks-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "run.json").write_text(json.dumps({
        "spec": json.loads(spec.document), "source": spec.source, "base_dir": spec.data.base_dir,
        "execution": attrs.asdict(options)}, indent=2, sort_keys=True) + "\n")
    return work


def _run_chunked(spec: Spec, the_plan: Plan, market: MarketData, started: datetime, clock: float,
                 out: str | os.PathLike | None, options: ExecutionOptions, signals: HeldSignals, chunking: Chunking,
                 work: Path, *, resume: bool, created: bool = False, warmup: WarmupReport | None = None,
                 session: DaskSession | None = None) -> RunResult:
    """Fold the held ``signals`` chunk by chunk in ``work`` and finish the run there. A refusal
    before any chunk is done leaves nothing on disk (``created``: ``work`` was made for this run)."""
    import shutil
    import tempfile
    run = run_id(_spec_sha256(spec), market.sha256)
    try:
        tables = run_chunked(the_plan, market, signals, chunking, work, options, resume=resume, session=session,
                             run_options={"equity": spec.equity, "trace": spec.trace, "run": run,
                                          "return_blocks": spec.workflow.type == "optimization"})
    except AdmfError:
        if not resume and not any((work / "parts").glob("chunk-*/done")):  # nothing to resume: leave nothing
            shutil.rmtree(work / "parts", ignore_errors=True)
            (work / "run.json").unlink(missing_ok=True)
            if created:
                work.rmdir()
        raise
    stats = _statistics(spec, the_plan, tables)
    tables = attrs.evolve(tables, results=with_objective(tables.results, spec.objective, registry_of(spec)))
    manifest = _manifest(spec, the_plan, market, started, time.perf_counter() - clock)
    manifest.update(run_id=run, executor={**attrs.asdict(options), "chunks": len(chunking.chunks),
                                          "chunking": chunking.record()})
    _warn(manifest, *chunking.warnings, *chunking.output_warning(sum(
        t.nbytes for t in (tables.results, tables.trades, tables.equity, tables.events, tables.final) if t is not None)))
    _warn_ruined(manifest, tables.results)
    if stats is not None:
        manifest["overfitting"] = stats
    result = RunResult(the_plan, market, tables.results, tables.trades, manifest, tables.regime_stats,
                       equity=tables.equity, events=tables.events, final=tables.final,
                       symbol_stats=tables.symbol_stats, regimes=tables.regimes)
    _score(result)
    if warmup is not None:
        record_warmup(warmup, result)
    if out is None:
        shutil.rmtree(work, ignore_errors=True)
        return result
    finished = Path(tempfile.mkdtemp(prefix=f".{work.name}.", dir=work.parent))
    shutil.rmtree(finished)
    write_run(result, finished)
    for item in sorted(finished.iterdir(), key=lambda path: path.name == "manifest.json"):
        os.replace(item, work / item.name)  # manifest.json last: the run is complete once it exists
    finished.rmdir()
    shutil.rmtree(work / "parts", ignore_errors=True)
    (work / "run.json").unlink(missing_ok=True)
    return result


def _finish(spec: Spec, the_plan: Plan, market: MarketData, started: datetime, clock: float,
            out: str | os.PathLike | None, *, signals=None, extra: dict | None = None,
            return_blocks: bool = False, warmup: WarmupReport | None = None) -> RunResult:
    """Run a compiled plan by its workflow, add the manifest, write the folder when asked;
    ``return_blocks`` keeps the per-block aggregates of the per-bar returns of a backtest or
    replay too (an optimization's are kept for its statistics); ``warmup`` is recorded in the
    manifest (:func:`record_warmup`)."""
    source = {} if signals is None else {"signals": signals}
    windows, stats = None, None
    run = run_id(_spec_sha256(spec), market.sha256)
    if spec.trace is not None and spec.workflow.type in ("walk_forward",) or (
            spec.trace is not None and spec.data.split is not None and spec.workflow.type == "optimization"):
        raise SpecError("trace", "tracing records one fold: trace a backtest, optimization without data.split, "
                                 "or replay (a train/test or walk-forward run folds many windows)")
    if spec.workflow.type == "walk_forward":
        tables, windows = walk_forward(the_plan, market)
    elif spec.workflow.type == "optimization" and spec.data.split is not None:
        tables = train_test(the_plan, market)
    else:
        tables = run_plan(the_plan, market, equity=spec.equity,
                          return_blocks=return_blocks or spec.workflow.type == "optimization",
                          trace=spec.trace, run=run, **source)
    stats = _statistics(spec, the_plan, tables)
    tables = attrs.evolve(tables, results=with_objective(tables.results, spec.objective, registry_of(spec)))
    windows = None if windows is None else with_objective(windows, spec.objective, registry_of(spec))
    manifest = _manifest(spec, the_plan, market, started, time.perf_counter() - clock)
    manifest["run_id"] = run
    manifest.update(extra or {})
    _warn_ruined(manifest, tables.results)
    if stats is not None:
        manifest["overfitting"] = stats
    if windows is not None:
        _warn(manifest, *_partial_windows(windows, spec.workflow.test_bars))
    if tables.regime_stats is None and any(c.classifier for c in the_plan.combos):
        _warn(manifest, f"no regime_stats.parquet: {_NO_REGIME_STATS.get(spec.workflow.type, 'no regime labels')}")
    if tables.events is not None:
        combos = list(spec.trace.combos) or [c.combo_id for c in the_plan.combos]
        manifest["trace"] = {"kinds": list(spec.trace.kinds), "combos": list(spec.trace.combos),
                             "events": tables.events.num_rows,
                             "correlation_id": f"{run}:<combo_id>:<symbol>",
                             "correlation_ids": [f"{run}:{c}:{s}" for c in combos for s in market.symbols][:1000]}
    result = RunResult(the_plan, market, tables.results, tables.trades, manifest, tables.regime_stats,
                       equity=tables.equity, windows=windows, events=tables.events, final=tables.final,
                       symbol_stats=tables.symbol_stats, regimes=tables.regimes, return_blocks=tables.return_blocks)
    _score(result)
    if warmup is not None:
        record_warmup(warmup, result)
    if out is not None:
        write_run(result, out)
    return result


def _warn_ruined(manifest: dict[str, Any], results: Any) -> None:
    """Say in the manifest's ``warnings`` how many lanes were ruined (equity reached 0 at a close:
    ``docs/semantics.md``), per part of a train/test run; the CLI prints every warning."""
    for part in ("", "train_", "test_"):
        name = f"{part}ruined"
        if name in results.column_names:
            n = sum(1 for value in results.column(name).to_pylist() if value)
            if n:
                where = {"": "", "train_": " on the training part", "test_": " on the test part"}[part]
                _warn(manifest, f"{n} of {results.num_rows} lane(s) ruined{where}: equity reached 0 at a close, the "
                                f"position was closed there and the lane traded no more (results.{name}, "
                                f"{part}ruin_time, {part}notes)")


def _score(result: RunResult) -> None:
    """Run an author's objective (``module:function``) on every row before anything is written:
    if it raises, the run fails with one line and nothing on disk, not after the folder exists."""
    if ":" in result.plan.spec.objective:
        objective_values(result.results, result.plan.spec.objective, registry_of(result.plan.spec))


def _statistics(spec: Spec, the_plan: Plan, tables) -> dict[str, Any] | None:
    """An optimization's overfitting statistics (``None`` for other workflows or one combination);
    an optimization where ``min_trades`` leaves nothing to select is refused."""
    if spec.workflow.type != "optimization":
        return None
    results = training_view(tables.results)
    if spec.data.split is None:  # train/test refused it already, on the training part
        select_some(results.to_pylist(), spec.objective, top_k=spec.top_k, min_trades=spec.min_trades,
                    registry=registry_of(spec),
                    where="in the run")
    if len(the_plan.combos) < 2:
        return None
    return overfitting(tables.return_blocks, results, spec.objective, spec.top_k, spec.min_trades, registry_of(spec))


#: Why a workflow with classifiers writes no regime attribution.
_NO_REGIME_STATS = {
    "signal_replay": "a signal store holds signals, not regime labels; run the backtest or optimization of these "
                     "combinations for the attribution per regime",
    "walk_forward": "every window labels its own bars with its own fits; run a backtest for the attribution per "
                    "regime",
}


def _warn(manifest: dict[str, Any], *messages: str) -> None:
    """Add ``messages`` to the manifest's ``warnings`` (the CLI prints them on the terminal)."""
    if messages:
        manifest.setdefault("warnings", []).extend(messages)


def _partial_windows(windows, test_bars: int) -> list[str]:
    return [f"walk-forward window {w['window']} of {w['symbol']} tests the {w['test_bars']} bars left after the last "
            f"full window (test_bars: {test_bars}); its test metrics cover fewer bars than the others'"
            for w in windows.to_pylist() if w["test_bars"] < test_bars]


def generate_signals(spec: SpecLike, *, out: str | os.PathLike | None = None,
                     market: MarketData | None = None) -> SignalStore:
    """Compute every strategy combination's signal once and keep only its changes (a store).

    Any spec with strategies works (its settings are ignored: signals do not depend on them);
    ``out`` writes the store folder for ``signal_replay`` specs to read.
    """
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    spec = load_spec(spec)
    if not spec.strategies:
        raise SpecError("strategies", "signal generation needs strategies to generate signals for")
    spec = attrs.evolve(spec, workflow=attrs.evolve(spec.workflow, type="signal_generation"))
    if out is not None:
        check_run_dir(out)
    market = market if market is not None else load_market_data(spec.data)
    the_plan = plan_from_spec(spec, symbols=market.symbols)
    changes = []
    signals = with_market(computed_signals, market, the_plan)
    for bars in market.bars:
        source = signals(the_plan, bars)
        changes += [(combo, bars, source.changes(combo)) for combo in the_plan.combos]
    manifest = _manifest(spec, the_plan, market, started, time.perf_counter() - clock)
    manifest["data"]["spec"] = _portable(spec.data)
    store = store_signals(the_plan, market, changes, manifest)
    if out is not None:
        write_store(store, out)
    return store


def replay(spec: SpecLike, *, store: SignalStore | None = None, out: str | os.PathLike | None = None,
           market: MarketData | None = None, return_blocks: bool = False) -> RunResult:
    """Replay a signal store through portfolio, risk and execution over the spec's settings grid.

    Every stored combination × every settings point is one result row. No feature or signal is
    computed. The store is ``store`` or read from the spec's ``signals`` folder; the data is
    ``market``, the spec's data section, or — when the spec has none — the store's, and must be
    the data the store was generated on. ``return_blocks`` keeps the per-block aggregates of every
    combination's per-bar returns in the result (``RunResult.return_blocks``), as phases do for
    their overfitting statistics.
    """
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    spec = load_spec(spec)
    if spec.workflow.type != "signal_replay":
        raise SpecError("workflow.type", f"{spec.workflow.type!r}: replay needs workflow.type: signal_replay")
    if out is not None:
        check_run_dir(out)
    store = store if store is not None else read_store(spec.signals)
    if market is None:
        market = load_market_data(store.data_spec() if spec.data.is_default else spec.data)
    store.check_data(market)
    the_plan = _replay_plan_of(spec, store, symbols=market.symbols)
    return _finish(spec, the_plan, market, started, clock, out, signals=store.source(), return_blocks=return_blocks,
                   extra={"signals": {"path": spec.signals, "changes": store.n_changes,
                                      "combinations": store.combos.num_rows}})


def _portable(data: DataSpec) -> dict[str, Any]:
    """The data spec with absolute paths, as plain data (a replay reloads exactly this data)."""
    base = os.path.abspath(data.base_dir)
    return {
        "dataset": data.dataset,
        "path": os.path.join(base, data.path) if data.path else None,
        "paths": [[symbol, os.path.join(base, path)] for symbol, path in data.paths],
        "symbol": data.symbol, "symbols": list(data.symbols), "start": data.start, "end": data.end,
        "periods_per_year": data.periods_per_year, "base_dir": base, "timezone": data.timezone,
        "session_start": data.session_start, "session_timezone": data.session_timezone,
    }


def _spec_sha256(spec: Spec) -> str:
    path = Path(spec.source)
    if spec.source not in ("<mapping>", "<text>") and path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(spec.document.encode()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _calendars(spec: Spec, the_plan: Plan, market: MarketData) -> dict[str, Any]:
    """The manifest's record of the data's calendars: each symbol's periods per year and where it
    came from, the shared-cash portfolio's (its merged timeline), the zone time columns are
    written in, the session, and what the loader warned about."""
    own = [market.annualisation_of(i) for i in range(len(market.bars))]
    out: dict[str, Any] = {"periods_per_year": {b.symbol: {"value": a.periods_per_year, "from": a.rule}
                                                for b, a in zip(market.bars, own)}}
    warnings = list(market.warnings)
    if any(dict(c.settings).get("shared_cash", False) for c in the_plan.combos):
        out["portfolio_periods_per_year"] = {"value": market.periods_per_year, "from": market.rule}
        if len({a.periods_per_year for a in own}) > 1:
            mixed = ", ".join(f"{b.symbol}: {a.periods_per_year:,.6g}" for b, a in zip(market.bars, own))
            warnings.append(f"shared-cash portfolios mix calendars ({mixed}): their metrics annualise with the "
                            f"{market.periods_per_year:,.6g} periods a year of the timeline they are marked on, "
                            f"{market.rule.removeprefix('inferred ')}")
    out["timezone"] = market.timezone
    out["session"] = {"start": spec.data.session_start or "00:00",
                      "timezone": spec.data.session_timezone or spec.data.timezone or market.timezone}
    out["warnings"] = warnings
    return out


def _manifest(spec: Spec, the_plan: Plan, market: MarketData, started: datetime, seconds: float) -> dict[str, Any]:
    return {
        "spec": json.loads(spec.document),
        "spec_source": spec.source,
        "spec_base_dir": os.path.abspath(spec.data.base_dir),  # where its relative paths point (reports re-fold)
        "spec_sha256": _spec_sha256(spec),
        "data": {
            "source": market.source,
            "sha256": market.sha256,
            "symbols": list(market.symbols),
            "bars": {b.symbol: len(b) for b in market.bars},
            **_calendars(spec, the_plan, market),
        },
        "workflow": spec.workflow.type,
        "pattern": the_plan.pattern,
        "combinations": len(the_plan.combos),
        "lanes": the_plan.n_lanes,
        "features": {"shared": len(the_plan.features) * len(the_plan.symbols),
                     "naive": the_plan.naive_feature_count,
                     "sharing_efficiency": round(the_plan.sharing_efficiency, 4)},
        "classifier_fits": the_plan.classifier_fits,
        "objective": spec.objective,
        "versions": _versions(),
        "started_at": started.isoformat(timespec="seconds"),
        "run_seconds": round(seconds, 4),
    }


@attrs.frozen(eq=False)
class PhasedResult:
    """The outputs of a multi-phase workflow, by phase name, in order, and its manifest."""

    phases: tuple[tuple[str, RunResult | SignalStore], ...]
    manifest: dict[str, Any]

    def __getitem__(self, name: str) -> RunResult | SignalStore:
        return dict(self.phases)[name]


def run_phases(spec: SpecLike, *, out: str | os.PathLike | None = None,
               market: MarketData | None = None) -> PhasedResult:
    """Run the phases of a spec in order, each fed by the phase it names in ``from``.

    A ``signal_replay`` phase after a ``signal_generation`` phase replays that store; any other
    phase after a phase with results runs that phase's ``top_k`` best combinations (crossed with
    this phase's settings grid when it gives portfolio, execution or risk). ``out`` gets one folder
    per phase and a manifest, written atomically as a whole.
    """
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    spec = load_spec(spec)
    if out is not None:
        check_run_dir(out)
    split = spec.phases[-1].spec.data.split
    markets: dict[DataSpec, MarketData] = {}
    outputs: dict[str, RunResult | SignalStore] = {}
    for number, phase in enumerate(spec.phases, start=1):
        p = phase.spec
        if market is not None:
            data = market
        else:
            if p.data not in markets:
                markets[p.data] = load_market_data(p.data)
            data = markets[p.data]
        if split is not None and number < len(spec.phases):  # the test part is kept for the last phase
            data, p = training_part(data, split), attrs.evolve(p, data=attrs.evolve(p.data, split=None))
        source = outputs.get(phase.source) if phase.source else None
        if p.workflow.type == "signal_generation":
            outputs[phase.name] = generate_signals(p, market=data)
        elif p.workflow.type == "signal_replay":
            store = source if isinstance(source, SignalStore) else None
            outputs[phase.name] = replay(p, store=store, market=data, return_blocks=True)
        elif isinstance(source, RunResult):
            outputs[phase.name] = _run_selected(p, source, phase.source, data)
        else:
            outputs[phase.name] = _finish(p, plan_from_spec(p, symbols=data.symbols), data, datetime.now(timezone.utc),
                                          time.perf_counter(), None, return_blocks=True)
    results = [(ph.name, outputs[ph.name]) for ph in spec.phases if isinstance(outputs[ph.name], RunResult)]
    manifest = {"spec": json.loads(spec.document), "spec_source": spec.source, "spec_sha256": _spec_sha256(spec),
                "phases": [{"name": ph.name, "workflow": ph.spec.workflow.type, "from": ph.source} for ph in spec.phases],
                "versions": _versions(), "started_at": started.isoformat(timespec="seconds"),
                "run_seconds": round(time.perf_counter() - clock, 4)}
    if split is not None:
        manifest["split"] = {"split": list(split), "note": "every phase but the last ran on the training part only"}
    if results and "overfitting" in results[-1][1].manifest:
        stats = _search_statistics(results)
        results[-1][1].manifest["overfitting"] = stats
        manifest["overfitting"] = stats
    result = PhasedResult(tuple((ph.name, outputs[ph.name]) for ph in spec.phases), manifest)
    if out is not None:
        write_phases(result, out)
    return result


def _search_statistics(phases: list[tuple[str, RunResult]]) -> dict[str, Any]:
    """The overfitting statistics of a phased search: the last phase's selection among every
    distinct combination any phase evaluated (each one a trial), on the bars they share — the
    training part, when there is a split — of the last phase's first symbol."""
    from fp.overfitting import ReturnBlocks, selection_statistics
    final = phases[-1][1]
    symbol, last = final.return_blocks[0]
    columns: dict[str, ReturnBlocks] = {}
    counts: dict[str, int] = {}
    for name, result in phases:
        if result.return_blocks is None:
            continue
        for found, blocks in result.return_blocks:
            if found != symbol or blocks is None or (blocks.n_returns, blocks.n_blocks) != (last.n_returns, last.n_blocks):
                continue
            ids = ok_combo_ids(training_view(result.results), symbol)
            counts[name] = len(ids)
            for i, combo_id in enumerate(ids):
                columns.setdefault(combo_id, blocks.take([i]))
    ids = list(columns)
    chosen = final.manifest["overfitting"]["selected"]
    stats = selection_statistics(ReturnBlocks.concat([columns[c] for c in ids]), ids.index(chosen))
    return {**final.manifest["overfitting"], **stats, **block_layout(last), "trials_by_phase": counts,
            "note": "n_trials counts every distinct combination any phase evaluated"}


def _run_selected(spec: Spec, source: RunResult, name: str, market: MarketData) -> RunResult:
    """Run the ``top_k`` best combinations of phase ``name`` (by its objective and ``min_trades``)
    under this phase's spec; see :func:`_selected`."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    if source.windows is not None:
        raise SpecError("from", f"phase {name} is a walk-forward: its windows each choose their own combination, "
                                "there is no top_k to run; feed from an optimization, backtest or replay phase")
    everything = attrs.evolve(source.plan.spec, top_k=len(source.plan.combos))
    ranks = choose(attrs.evolve(source.plan, spec=everything), training_view(source.results), where=f"in phase {name}")
    order = {c.combo_id: c for c in source.plan.combos}
    combos = _selected([order[combo_id] for combo_id in sorted(ranks, key=ranks.get)], source.plan.spec.top_k,
                       own_settings=_own_settings(spec))
    the_plan = selected_plan(spec, combos, symbols=market.symbols, own_settings=_own_settings(spec))
    return _finish(spec, the_plan, market, started, clock, None, return_blocks=True)


def _selected(ranked: list[Combination], top_k: int, *, own_settings: bool) -> list[Combination]:
    """The ``top_k`` first of ``ranked`` combinations; for a phase with settings of its own (which
    replace theirs), the ``top_k`` first distinct strategy and classifier points."""
    if not own_settings:
        return ranked[:top_k]
    best: dict[str, Combination] = {}
    for combo in ranked:
        best.setdefault(signal_id(combo), combo)
    return list(best.values())[:top_k]


def write_phases(result: PhasedResult, out_dir: str | os.PathLike) -> Path:
    """Write every phase into ``out_dir/<phase>/`` and the manifest, atomically as a whole."""
    import shutil
    import tempfile

    from pipelines.boundary.outputs import RunDirError, write_dir
    out = check_run_dir(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, output in result.phases:
            if isinstance(output, SignalStore):
                write_store(output, tmp / name)
            else:
                write_run(output, tmp / name)
        write_dir(tmp / "manifest-only", {}, result.manifest)
        os.replace(tmp / "manifest-only" / "manifest.json", tmp / "manifest.json")
        (tmp / "manifest-only").rmdir()
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RunDirError(f"{out}: cannot write the run ({exc.strerror or exc}); nothing was left behind") from exc
        raise
    return out
