"""Executors: a plan's lanes in chunks, run locally, in a process pool or on Dask, resumable.

The unit of work is a *chunk*: a slice of the plan's combinations (every symbol), sharing data
and features. Its size comes from a memory budget, so peak memory grows with the lanes of one
chunk and the bars, not with the number of combinations. Each chunk writes its tables atomically
as a part (``parts/chunk-00007/…`` then a ``done`` marker); the run's tables are the parts merged
in chunk order, written when every chunk is done. ``resume`` skips chunks whose part is done, so
an interrupted run (Ctrl-C, a killed process) continues where it stopped and gives exactly the
tables of an uninterrupted run: lanes are isolated, so chunking never changes a result. An
optimization's parts also keep their per-bar returns, so its overfitting statistics are those of
the unchunked run.

Executors: ``local`` (in this process), ``processes`` (a local process pool; a chunk whose worker
died is retried), ``dask`` (a ``LocalCluster`` of ``workers`` processes, or the scheduler at
``scheduler``; Dask retries lost tasks). On Dask the workers send each chunk's tables back and
this process writes the parts, so a cluster needs no shared file system; its workers must run
the same admf (checked before any work is sent), while the spec's own components are shipped
with the work. Law: every executor gives identical tables and manifest statistics.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.boundary.outputs import RunDirError, statistics_columns
from pipelines.engine.evaluate import run_plan
from pipelines.engine.regime_labels import in_point_order
from pipelines.engine.tables import RunTables, results_columns
from state.errors import AdmfError, MissingExtraError, SpecError
from state.market import MarketData
from state.plan import Plan
from state.spec import ExecutionOptions

__all__ = ["EXECUTORS", "ExecutionOptions", "chunk_plan", "code_digest", "lanes_per_chunk", "run_chunked"]

EXECUTORS = ("local", "processes", "dask")
_TABLES = ("results", "trades", "regime_stats", "equity", "events", "final", "symbol_stats", "regimes")
_RETRIES = 2
_RETURNS = "returns.npy"




def _default_budget() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError):
        return 4 * 2**30


#: Bytes a lane costs per bar while it runs (its signal and equity arrays, transient copies).
BYTES_PER_LANE_BAR = 64


def lanes_per_chunk(plan: Plan, market: MarketData, memory_limit: int | None) -> int:
    """How many combinations a chunk holds so it fits the budget (the shared data and features
    counted once): ``(budget - shared) / (bars × BYTES_PER_LANE_BAR)``, at least 1."""
    budget = memory_limit if memory_limit is not None else _default_budget()
    bars = sum(len(b) for b in market.bars)
    shared = bars * 8 * (6 + len(plan.features))
    return max(1, int((budget - shared) // max(bars * BYTES_PER_LANE_BAR, 1)))


def chunk_plan(plan: Plan, size: int) -> list[Plan]:
    """The plan's combinations in consecutive chunks of ``size`` (the last may be smaller)."""
    return [attrs.evolve(plan, combos=plan.combos[i:i + size]) for i in range(0, len(plan.combos), size)]


def _run_chunk(plan: Plan, market: MarketData, options: dict, part: str) -> str:
    """Run one chunk and write its part atomically (a worker's whole job); returns the part path.

    With ``returns`` in ``options``, the part keeps the first symbol's per-bar returns of its
    combinations (``returns.npy``, exact float64) for the run's overfitting statistics."""
    return _write_part(run_plan(plan, market, **options), part)


def _write_part(tables: RunTables, part: str) -> str:
    """Write a chunk's tables as its part, atomically (a ``done`` marker, then one rename)."""
    folder = Path(part)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    for name in _TABLES:
        table = getattr(tables, name)
        if table is not None:
            pq.write_table(table, tmp / f"{name}.parquet", write_statistics=statistics_columns(table))
    if tables.returns:
        np.save(tmp / _RETURNS, tables.returns[0][1], allow_pickle=False)
    (tmp / "done").write_text("ok\n")
    if folder.exists():  # an earlier attempt of this chunk finished after all
        shutil.rmtree(tmp)
        return part
    os.replace(tmp, folder)
    return part


def _done(part: Path) -> bool:
    return (part / "done").is_file()


def run_chunked(plan: Plan, market: MarketData, work_dir: Path, options: ExecutionOptions, *,
                run_options: dict, resume: bool = False) -> RunTables:
    """Run ``plan`` chunk by chunk in ``work_dir/parts`` with ``options``' executor, then merge.

    ``run_options`` are passed to ``run_plan`` (equity, trace, …). With ``resume``, chunks whose
    part is done are not run again.
    """
    if options.executor not in EXECUTORS:
        raise SpecError(f"executor={options.executor!r}", f"must be one of {', '.join(EXECUTORS)}")
    size = lanes_per_chunk(plan, market, options.memory_limit)
    if options.executor != "local" and options.workers:
        size = min(size, max(1, -(-len(plan.combos) // (4 * options.workers))))  # several chunks per worker
    chunks = chunk_plan(plan, size)
    parts = [work_dir / "parts" / f"chunk-{i:05d}" for i in range(len(chunks))]
    (work_dir / "parts").mkdir(parents=True, exist_ok=True)
    _record_layout(work_dir, size, len(chunks), resume)
    todo = [i for i, part in enumerate(parts) if not (resume and _done(part))]
    progress = _progress(len(chunks), len(chunks) - len(todo), len(plan.combos), size) if options.progress else None
    try:
        if options.executor == "local":
            for i in todo:
                _run_chunk(chunks[i], market, run_options, str(parts[i]))
                _tick(progress)
        elif options.executor == "processes":
            _in_processes(chunks, parts, todo, market, run_options, options.workers, progress)
        else:
            _on_dask(chunks, parts, todo, market, run_options, options, progress)
    finally:
        if progress is not None:
            progress.close()
    merged = _merge(parts, market.bars[0].symbol if run_options.get("returns") else None)
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


def _record_layout(work_dir: Path, size: int, count: int, resume: bool) -> None:
    """Chunks must be the same on resume, or a part would hold other lanes than its number says."""
    layout = work_dir / "parts" / "layout.json"
    if resume and layout.is_file():
        known = json.loads(layout.read_text())
        if known != {"chunk_size": size, "chunks": count}:
            raise RunDirError(f"{work_dir}: was started with {known['chunks']} chunks of {known['chunk_size']} "
                              f"combinations, now {count} of {size}; resume with the same --memory-limit and "
                              "--workers")
        return
    layout.write_text(json.dumps({"chunk_size": size, "chunks": count}) + "\n")


def _in_processes(chunks, parts, todo, market, run_options, workers, progress, task=None) -> None:
    """Run chunks in a process pool; if a worker dies, the chunks not done are run again in a new
    pool (``task`` is the chunk runner, replaceable in tests)."""
    task = task or _run_chunk
    remaining = list(todo)
    for attempt in range(_RETRIES + 1):
        try:
            with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
                futures = {i: pool.submit(task, chunks[i], market, run_options, str(parts[i])) for i in remaining}
                for i, future in futures.items():
                    future.result()
                    _tick(progress)
            return
        except BrokenProcessPool:
            remaining = [i for i in remaining if not _done(parts[i])]
            if attempt == _RETRIES:
                raise AdmfError(f"a worker process died {attempt + 1} times running chunks {remaining}; "
                                "the finished chunks are kept: resume the run") from None


def _on_dask(chunks, parts, todo, market, run_options, options, progress) -> None:
    """Run chunks on Dask: a ``LocalCluster`` of ``options.workers`` processes, or the cluster at
    ``options.scheduler``. Workers compute a chunk's tables and send them back; this process writes
    the parts, so workers need no access to the run folder (no shared file system), only admf
    itself (checked: the same code as here) — the spec's own components travel with the work
    (:func:`_shipped`). Dask retries a chunk whose worker died."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
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
        shared = client.scatter(market, broadcast=True)
        futures = {client.submit(_chunk_tables, _shipped(chunks[i]), shared, run_options, retries=_RETRIES,
                                 pure=False): i for i in todo}
        for future in as_completed(futures):
            _write_part(future.result(), str(parts[futures.pop(future)]))
            future.release()  # the worker may drop the chunk's tables now
            _tick(progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _chunk_tables(shipped: bytes, market: MarketData, options: dict) -> RunTables:
    """A Dask worker's job: one chunk's tables (its plan as :func:`_shipped` sent it)."""
    import cloudpickle
    return run_plan(cloudpickle.loads(shipped), market, **options)


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


def _merge(parts: Sequence[Path], returns_of: str | None = None) -> RunTables:
    """The run's tables: every part's, concatenated in chunk order (= combination order); trace
    event ids are renumbered so they stay unique across chunks. With ``returns_of`` (the first
    symbol), the parts' returns side by side: the whole run's returns matrix of that symbol."""
    found: dict[str, list[pa.Table]] = {name: [] for name in _TABLES}
    matrices = []
    events_before = 0
    for part in parts:
        if not _done(part):
            raise AdmfError(f"{part}: this chunk did not finish; resume the run")
        if returns_of is not None and (part / _RETURNS).is_file():
            matrices.append(np.load(part / _RETURNS, allow_pickle=False))
        for name in _TABLES:
            path = part / f"{name}.parquet"
            if path.is_file():
                table = pq.read_table(path)
                if name == "events":
                    table = _renumbered(table, events_before)
                    events_before += table.num_rows
                found[name].append(table)
    found["regimes"] = _first_labels(found["regimes"])
    merged = {name: pa.concat_tables(tables, promote_options="default") if tables else None
              for name, tables in found.items()}
    returns = ((returns_of, np.concatenate(matrices, axis=1)),) if matrices and len(matrices) == len(parts) else None
    return RunTables(merged["results"], merged["trades"], merged["regime_stats"], merged["equity"], returns,
                     merged["events"], merged["final"], merged["symbol_stats"], merged["regimes"])


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
    import pyarrow.compute as pc
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
