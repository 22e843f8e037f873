"""Executors: a plan's lanes in chunks, run locally, in a process pool or on Dask, resumable.

The unit of work is a *chunk*: some of the plan's combinations (every symbol), folding the
signal changes computed once for the whole run (``pipelines.engine.signals.HeldSignals``). The
chunks come from ``pipelines.workflows.chunking`` (a memory budget, the combinations' order
counts), so peak memory grows with what one chunk holds, not with the number of combinations.
Each chunk writes its tables atomically as a part (``parts/chunk-00007/…`` then a ``done``
marker; the tables in Arrow's IPC format, the run's own files are written once at the end); the
run's tables are the parts merged back into plan order (every table in the order
an unchunked run writes it; trace event ids renumbered accordingly), written when every chunk is
done. ``resume`` skips chunks whose part is done, so an interrupted run (Ctrl-C, a killed
process) continues where it stopped and gives exactly the tables of an uninterrupted run: lanes
are isolated, so chunking never changes a result. An optimization's parts also keep the
per-block aggregates of their combinations' per-bar returns (``fp.overfitting.ReturnBlocks``),
so its overfitting statistics are those of the unchunked run.

Memory: chunks run with Arrow's buffers in the system allocator, and after the signals and after
each chunk the freed memory goes back to the operating system (Arrow's pool released, the C heap
trimmed with glibc's ``malloc_trim`` where there is one), so the process's resident memory
follows what it holds rather than what its allocators kept for later.

Executors: ``local`` (in this process), ``processes`` (a local process pool; a chunk whose worker
died is retried), ``dask`` (a ``LocalCluster`` of ``workers`` processes, or the scheduler at
``scheduler``; Dask retries lost tasks). On Dask the workers also compute the signals (each a
share of the strategy points, :func:`signal_groups`) and send each chunk's tables back; this
process writes the parts, so a cluster needs no shared file system; its workers must run
the same admf (checked before any work is sent), while the spec's own components are shipped
with the work. Law: every executor gives identical tables and manifest statistics.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from toolz import groupby

from fp.overfitting import ReturnBlocks
from fp.registry import registry_of
from pipelines.boundary.outputs import RunDirError
from pipelines.engine.compiler import feature_keys
from pipelines.engine.evaluate import run_plan
from pipelines.engine.events import numbered_events
from pipelines.engine.regime_labels import classifier_id, in_point_order
from pipelines.engine.signals import HeldSignals, classifier_key, hold_signals, signal_key
from pipelines.engine.tables import RunTables, results_columns
from pipelines.workflows.chunking import Chunking
from state.errors import AdmfError, MissingExtraError, SpecError
from state.market import MarketData
from state.plan import Plan
from state.spec import ExecutionOptions

__all__ = ["EXECUTORS", "DaskSession", "ExecutionOptions", "code_digest", "dask_session", "lean_memory",
           "release_memory", "run_chunked", "signal_groups"]

EXECUTORS = ("local", "processes", "dask")
_TABLES = ("results", "trades", "regime_stats", "equity", "events", "final", "symbol_stats", "regimes")
_RETRIES = 2
_BLOCKS = "return_blocks.npz"



def _trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _trim()


def release_memory() -> None:
    """Give the memory freed so far back to the operating system: Arrow's unused pool memory, then
    the C heap's (``malloc_trim``; nothing where the C library has none)."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


@contextlib.contextmanager
def lean_memory():
    """Arrow allocates from the system allocator inside (its default pool keeps freed pages for
    reuse, which a memory budget would count); the previous pool is restored after."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _run_chunk(plan: Plan, market: MarketData, signals: HeldSignals, options: dict, part: str) -> str:
    """Run one chunk and write its part atomically (a local or process worker's whole job); returns
    the part path."""
    return _write_part(run_plan(plan, market, signals=signals, **options), part)


def _write_part(tables: RunTables, part: str) -> str:
    """Write a chunk's tables as its part, atomically (a ``done`` marker, then one rename). With the
    return aggregates an optimization asks for, the part keeps the first symbol's per-block
    aggregates of its combinations' returns (``return_blocks.npz``, exact float64) for the run's
    overfitting statistics."""
    folder = Path(part)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    for name in _TABLES:
        table = getattr(tables, name)
        if table is not None:
            with pa.OSFile(str(tmp / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
    if tables.return_blocks and tables.return_blocks[0][1] is not None:
        _save_blocks(tmp / _BLOCKS, tables.return_blocks[0][1])
    (tmp / "done").write_text("ok\n")
    if folder.exists():  # an earlier attempt of this chunk finished after all
        shutil.rmtree(tmp)
        release_memory()
        return part
    os.replace(tmp, folder)
    del tables
    release_memory()
    return part


def _done(part: Path) -> bool:
    return (part / "done").is_file()


def run_chunked(plan: Plan, market: MarketData, signals: HeldSignals, chunking: Chunking, work_dir: Path,
                options: ExecutionOptions, *, run_options: dict, resume: bool = False,
                session: "DaskSession | None" = None) -> RunTables:
    """Run ``plan`` chunk by chunk (``chunking``) in ``work_dir/parts`` with ``options``'
    executor, folding the held ``signals``, then merge into plan order.

    ``run_options`` are passed to ``run_plan`` (equity, trace, …). With ``resume``, chunks whose
    part is done are not run again (the chunking must be the one the run started with). On Dask,
    ``session`` is the run's open :class:`DaskSession` (else one is opened for the chunks).
    """
    if options.executor not in EXECUTORS:
        raise SpecError(f"executor={options.executor!r}", f"must be one of {', '.join(EXECUTORS)}")
    chunks = [attrs.evolve(plan, combos=tuple(plan.combos[i] for i in chunk)) for chunk in chunking.chunks]
    parts = [work_dir / "parts" / f"chunk-{i:05d}" for i in range(len(chunks))]
    (work_dir / "parts").mkdir(parents=True, exist_ok=True)
    _record_layout(work_dir, chunking.layout(plan), resume)
    todo = [i for i, part in enumerate(parts) if not (resume and _done(part))]
    size = max(len(c.combos) for c in chunks)
    progress = _progress(len(chunks), len(chunks) - len(todo), len(plan.combos), size) if options.progress else None
    held = lambda i: signals.only(chunks[i].combos)
    try:
        if options.executor == "local":
            release_memory()
            for i in todo:
                _run_chunk(chunks[i], market, held(i), run_options, str(parts[i]))
                _tick(progress)
        elif options.executor == "processes":
            _in_processes(chunks, parts, todo, market, held, run_options, options.workers, progress)
        elif session is not None:
            session.run_chunks(chunks, parts, todo, market, held, run_options, progress)
        else:
            with dask_session(options) as opened:
                opened.run_chunks(chunks, parts, todo, market, held, run_options, progress)
    finally:
        if progress is not None:
            progress.close()
    merged = _merge(parts, plan, market, market.bars[0].symbol if run_options.get("return_blocks") else None)
    release_memory()  # the parts as read, before the merged tables are written
    regimes = None if merged.regimes is None else in_point_order(merged.regimes, plan.combos)
    return attrs.evolve(merged, results=_in_plan_order(merged.results, plan), regimes=regimes)


def _in_plan_order(results: pa.Table, plan: Plan) -> pa.Table:
    """Merged results with the whole plan's columns in its order (a chunk lacks the parameters of
    strategies it does not hold; those cells are null, as in an unchunked run)."""
    columns = {}
    for name in results_columns(plan):
        if name in results.column_names:
            columns[name] = results.column(name)
        else:
            columns[name] = pa.nulls(results.num_rows)
    return pa.table(columns)


def _record_layout(work_dir: Path, layout: dict, resume: bool) -> None:
    """Chunks must be the same on resume, or a part would hold other lanes than its number says."""
    path = work_dir / "parts" / "layout.json"
    if resume and path.is_file():
        known = json.loads(path.read_text())
        if known != layout:
            raise RunDirError(f"{work_dir}: was started with {known.get('chunks')} chunks of "
                              f"{known.get('combinations')} combinations, now {layout['chunks']} of "
                              f"{layout['combinations']}; resume with the same --memory-limit and --workers")
        return
    path.write_text(json.dumps(layout) + "\n")


def _in_processes(chunks, parts, todo, market, held: Callable[[int], HeldSignals], run_options, workers, progress,
                  task=None) -> None:
    """Run chunks in a process pool, busiest first; if a worker dies, the chunks not done are run
    again in a new pool (``task`` is the chunk runner, replaceable in tests)."""
    task = task or _run_chunk
    remaining = list(todo)
    for attempt in range(_RETRIES + 1):
        try:
            with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
                futures = {i: pool.submit(task, chunks[i], market, held(i), run_options, str(parts[i]))
                           for i in remaining}
                for i, future in futures.items():
                    future.result()
                    _tick(progress)
            return
        except BrokenProcessPool:
            remaining = [i for i in remaining if not _done(parts[i])]
            if attempt == _RETRIES:
                raise AdmfError(f"a worker process died {attempt + 1} times running chunks {remaining}; "
                                "the finished chunks are kept: resume the run") from None


@contextlib.contextmanager
def dask_session(options: ExecutionOptions):
    """A :class:`DaskSession` for one run: a ``LocalCluster`` of ``options.workers`` processes, or
    the cluster at ``options.scheduler``, its workers checked to run this admf; closed on exit."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MissingExtraError("the dask executor", "scale", "dask[distributed]") from None
    cluster = None
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise AdmfError(f"--scheduler {options.scheduler}: cannot reach the Dask scheduler ({exc}); check the "
                            "address (tcp://HOST:PORT) and that `dask scheduler` runs there") from None
    else:
        cluster = LocalCluster(n_workers=options.workers or os.cpu_count(), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        _check_workers(client, options.scheduler or "the LocalCluster")
        yield DaskSession(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class DaskSession:
    """A run's work on Dask. Workers compute the signals and then the chunks' tables and send them
    back; this process writes the parts, so workers need no access to the run folder (no shared
    file system), only admf itself (checked: the same code as here) — the spec's own components
    travel with the work (:func:`_shipped`). The market data is sent to every worker once. Dask
    retries a task whose worker died."""

    def __init__(self, client) -> None:
        self.client = client
        self._market: tuple[MarketData, object] | None = None

    def _shared(self, market: MarketData):
        if self._market is None or self._market[0] is not market:
            self._market = (market, self.client.scatter(market, broadcast=True))
        return self._market[1]

    def hold_signals(self, plan: Plan, market: MarketData) -> HeldSignals:
        """``pipelines.engine.signals.hold_signals`` of ``plan`` with its strategy points shared out
        among the workers: each computes the features its points read and their signals, so the
        signals take a share of the time, not all of it, before the first chunk can be planned."""
        n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        groups = signal_groups(plan, n_workers)
        shared = self._shared(market)
        futures = [self.client.submit(_held_signals, _shipped(group), shared, retries=_RETRIES, pure=False)
                   for group in groups]
        parts = self.client.gather(futures)
        return HeldSignals({k: v for part in parts for k, v in part.changes.items()},
                           {k: v for part in parts for k, v in part.labels.items()})

    def run_chunks(self, chunks, parts, todo, market, held: Callable[[int], HeldSignals], run_options,
                   progress) -> None:
        """Run the chunks ``todo``, writing each one's part as its tables come back."""
        from dask.distributed import as_completed
        shared = self._shared(market)
        futures = {self.client.submit(_chunk_tables, _shipped(chunks[i]), shared, held(i), run_options,
                                      retries=_RETRIES, pure=False): i for i in todo}
        for future in as_completed(futures):
            _write_part(future.result(), str(parts[futures.pop(future)]))
            future.release()  # the worker may drop the chunk's tables now
            _tick(progress)


def signal_groups(plan: Plan, n: int) -> list[Plan]:
    """``plan``'s combinations in at most ``n`` groups of about as many strategy points each, in plan
    order (a strategy point's combinations stay together: its signal is computed once), each
    group a plan of its own features only."""
    registry = registry_of(plan.spec)
    by_point = groupby(signal_key, plan.combos)
    points = list(by_point)
    size = -(-len(points) // max(1, min(n, len(points))))
    groups = []
    for first in range(0, len(points), size):
        combos = tuple(c for point in points[first:first + size] for c in by_point[point])
        features = {k for c in combos for k in feature_keys(c.strategy, c.strategy_params, registry)}
        groups.append(attrs.evolve(plan, combos=combos, features=tuple(sorted(features))))
    return groups


def _held_signals(shipped: bytes, market: MarketData) -> HeldSignals:
    """A Dask worker's job: the held signals of one group of strategy points (:func:`signal_groups`)."""
    import cloudpickle
    return hold_signals(cloudpickle.loads(shipped), market)


def _chunk_tables(shipped: bytes, market: MarketData, signals: HeldSignals, options: dict) -> RunTables:
    """A Dask worker's job: one chunk's tables (its plan as :func:`_shipped` sent it), folding the
    chunk's held signals."""
    import cloudpickle
    return run_plan(cloudpickle.loads(shipped), market, signals=signals, **options)


#: admf's own packages: workers import them (they are never shipped with the work).
_ADMF_PACKAGES = ("fp", "pipelines", "state")


def _shipped(plan: Plan) -> bytes:
    """A chunk's plan as bytes a worker can load without the spec's own code installed: the packages
    of the components it names by import path (``mypkg.signals:ema_ribbon`` ships ``mypkg``) are
    pickled by value (cloudpickle), everything else (admf, numpy) by reference."""
    import cloudpickle
    packages = sorted({name.partition(":")[0].split(".")[0] for _, name, _ in plan.spec.components}
                      - set(_ADMF_PACKAGES))
    modules = [sys.modules[name] for name in packages if name in sys.modules]
    for module in modules:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(plan)
    finally:
        for module in modules:
            cloudpickle.unregister_pickle_by_value(module)


def code_digest() -> str:
    """sha256 over admf's source files (``fp``, ``state``, ``pipelines``: paths and bytes): two
    processes with the same digest run the same admf, whatever its version string says."""
    import hashlib
    digest = hashlib.sha256()
    for package in _ADMF_PACKAGES:
        root = Path(sys.modules[package].__file__).parent if package in sys.modules else None
        if root is None:
            root = Path(__import__(package).__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _check_workers(client, where: str) -> None:
    """Every worker must import admf, the same code as this process: else results could differ."""
    try:
        found = client.run(code_digest)
    except Exception as exc:  # a worker could not load this admf's check: Dask reraises its error as text
        raise AdmfError(f"the Dask workers of {where} cannot run this admf ({exc}): install the same admf, with the "
                        "scale extra, in every worker's environment (or start the workers with PYTHONPATH pointing "
                        "at this admf source tree)") from None
    if not found:
        raise AdmfError(f"{where} has no workers: start some (dask worker {where}) and run again")
    mine = code_digest()
    other = sorted(address for address, digest in found.items() if digest != mine)
    if other:
        raise AdmfError(f"the Dask worker(s) {', '.join(other)} of {where} run other admf code than this process: "
                        "install the same admf version on every worker (docs/workflows.md, \"Scale-out and "
                        "resilient sweeps\")")


def _save_blocks(path: Path, blocks: ReturnBlocks) -> None:
    np.savez(path, n_returns=blocks.n_returns, n_blocks=blocks.n_blocks,
             **{f.name: getattr(blocks, f.name) for f in attrs.fields(ReturnBlocks)[2:]})


def _load_blocks(path: Path) -> ReturnBlocks:
    with np.load(path, allow_pickle=False) as saved:
        return ReturnBlocks(int(saved["n_returns"]), int(saved["n_blocks"]),
                            *(saved[f.name] for f in attrs.fields(ReturnBlocks)[2:]))


def _merge(parts: Sequence[Path], plan: Plan, market: MarketData, returns_of: str | None = None) -> RunTables:
    """The run's tables from every part, in the order an unchunked run gives them: tables by
    combination (results, trades, per-symbol statistics; every table of a shared-cash portfolio
    run) in plan order, tables by symbol (equity, regime statistics, final portfolios, events) by
    symbol, then plan order; a part keeps the
    order of its rows of one combination. Trace event ids are renumbered in that order (and the
    causation ids with them). With ``returns_of`` (the first symbol), the parts' return
    aggregates side by side, in plan order."""
    found: dict[str, list[pa.Table]] = {name: [] for name in _TABLES}
    blocks, block_ids = [], []
    events_before = 0
    for part in parts:
        if not _done(part):
            raise AdmfError(f"{part}: this chunk did not finish; resume the run")
        tables = {name: _read(part / f"{name}.arrow") for name in _TABLES if (part / f"{name}.arrow").is_file()}
        if returns_of is not None and (part / _BLOCKS).is_file():
            blocks.append(_load_blocks(part / _BLOCKS))
            block_ids += _ok_ids(tables["results"], returns_of)
        for name, table in tables.items():
            if name == "events" and table.num_rows:  # unique across parts until numbered in plan order
                table = _renumbered(table, events_before)
                events_before = int(pc.max(table.column("event_id")).as_py()) + 1
            found[name].append(table)
    found["regimes"] = _first_labels(found["regimes"])
    merged = {name: pa.concat_tables(tables, promote_options="default") if tables else None
              for name, tables in found.items()}
    index = {c.combo_id: i for i, c in enumerate(plan.combos)}
    symbols = {symbol: i for i, symbol in enumerate(market.symbols)}
    # a shared-cash portfolio run writes every table by combination
    by_symbol = () if merged["symbol_stats"] is not None else ("regime_stats", "equity", "final", "events")
    for name in ("results", "trades", "regime_stats", "equity", "final", "events", "symbol_stats"):
        merged[name] = _sorted(merged[name], index, symbols if name in by_symbol else None)
    if merged["regimes"] is not None and merged["regimes"].num_rows:  # by classifier point (as combinations name them), symbol
        points = {classifier_id(classifier_key(c)): None for c in plan.combos if c.classifier is not None}
        point = {p: i for i, p in enumerate(points)}
        table = merged["regimes"]
        merged["regimes"] = table.take(np.lexsort((
            np.arange(table.num_rows), [symbols.get(x, 0) for x in table.column("symbol").to_pylist()],
            [point[x] for x in table.column("classifier_id").to_pylist()])))
    if merged["events"] is not None:
        merged["events"] = numbered_events(merged["events"])
    returns = None
    if blocks and len(blocks) == len(parts):
        joined = ReturnBlocks.concat(blocks)
        returns = ((returns_of, joined.take(np.argsort([index[c] for c in block_ids], kind="stable"))),)
    return RunTables(merged["results"], merged["trades"], merged["regime_stats"], merged["equity"], returns,
                     merged["events"], merged["final"], merged["symbol_stats"], merged["regimes"])


def _read(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def _ok_ids(results: pa.Table, symbol: str) -> list[str]:
    """The combinations of a part's results whose aggregates it holds: those of ``symbol`` that ran."""
    rows = results.select(["combo_id", "symbol", "final_equity"]).to_pylist()
    return [r["combo_id"] for r in rows if r["symbol"] == symbol and r["final_equity"] is not None]


#: Sections of a symbol's events: the orders' events, then expiries, then ruins (``pipelines.engine.events``).
_EVENT_SECTION = {"OrderExpired": 1, "PortfolioRuined": 2}


def _sorted(table: pa.Table | None, index: dict[str, int], symbols: dict[str, int] | None = None) -> pa.Table | None:
    """``table``'s rows by combination in plan order (``symbols``: by symbol first; events by
    section too), each combination's rows in the order they came."""
    if table is None or not table.num_rows:
        return table
    keys = [np.arange(table.num_rows), np.array([index[c] for c in table.column("combo_id").to_pylist()])]
    if symbols is not None:
        if "kind" in table.column_names:
            keys.append(np.array([_EVENT_SECTION.get(k, 0) for k in table.column("kind").to_pylist()]))
        keys.append(np.array([symbols.get(s, 0) for s in table.column("symbol").to_pylist()]))
    return table.take(np.lexsort(keys))


def _first_labels(parts: list[pa.Table]) -> list[pa.Table]:
    """Each classifier point's labels from the first chunk that has them (chunks sharing a point
    label it identically): the table an unchunked run writes."""
    seen: set[tuple[str, str]] = set()
    out = []
    for table in parts:
        keys = list(zip(table.column("classifier_id").to_pylist(), table.column("symbol").to_pylist()))
        fresh = {key for key in dict.fromkeys(keys) if key not in seen}
        seen |= fresh
        out.append(table.filter(pa.array([key in fresh for key in keys], pa.bool_())))
    return out


def _renumbered(events: pa.Table, offset: int) -> pa.Table:
    for name in ("event_id", "causation_id"):
        index = events.schema.get_field_index(name)
        events = events.set_column(index, name, pc.add(events.column(name), offset))
    return events


def _progress(total: int, done: int, combos: int, size: int):
    """A progress bar over chunks on a terminal (tqdm when installed), or ``None``."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, unit="chunk", desc=f"{combos} combos in chunks of {size}",
                file=sys.stderr, smoothing=0.1)


def _tick(progress) -> None:
    if progress is not None:
        progress.update(1)
