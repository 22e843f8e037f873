"""Executors: a plan's lanes in chunks, run locally, in a process pool or on Dask, resumable.

The unit of work is a *chunk*: a slice of the plan's combinations (every symbol), sharing data
and features. Its size comes from a memory budget, so peak memory grows with the lanes of one
chunk and the bars, not with the number of combinations. Each chunk writes its tables atomically
as a part (``parts/chunk-00007/…`` then a ``done`` marker); the run's tables are the parts merged
in chunk order, written when every chunk is done. ``resume`` skips chunks whose part is done, so
an interrupted run (Ctrl-C, a killed process) continues where it stopped and gives exactly the
tables of an uninterrupted run: lanes are isolated, so chunking never changes a result. An
optimization's parts also keep the per-block aggregates of their combinations' per-bar returns
(``fp.overfitting.ReturnBlocks``), so its overfitting statistics are those of the unchunked run.

Executors: ``local`` (in this process), ``processes`` (a local process pool; a chunk whose worker
died is retried), ``dask`` (a ``LocalCluster`` of ``workers`` processes, or the scheduler at
``scheduler``; Dask retries lost tasks). Law: every executor gives identical tables and manifest
statistics.
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

from fp.overfitting import ReturnBlocks
from pipelines.boundary.outputs import RunDirError, statistics_columns
from pipelines.engine.regime_labels import in_point_order
from pipelines.engine.evaluate import run_plan
from pipelines.engine.tables import results_columns, RunTables
from state.errors import AdmfError, MissingExtraError, SpecError
from state.market import MarketData
from state.plan import Plan
from state.spec import ExecutionOptions

__all__ = ["EXECUTORS", "ExecutionOptions", "chunk_plan", "lanes_per_chunk", "run_chunked"]

EXECUTORS = ("local", "processes", "dask")
_TABLES = ("results", "trades", "regime_stats", "equity", "events", "final", "symbol_stats", "regimes")
_RETRIES = 2
_BLOCKS = "return_blocks.npz"




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

    With ``return_blocks`` in ``options``, the part keeps the first symbol's per-block aggregates
    of its combinations' returns (``return_blocks.npz``, exact float64) for the run's overfitting
    statistics."""
    tables = run_plan(plan, market, **options)
    folder = Path(part)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    for name in _TABLES:
        table = getattr(tables, name)
        if table is not None:
            pq.write_table(table, tmp / f"{name}.parquet", write_statistics=statistics_columns(table))
    if tables.return_blocks and tables.return_blocks[0][1] is not None:
        _save_blocks(tmp / _BLOCKS, tables.return_blocks[0][1])
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
    merged = _merge(parts, market.bars[0].symbol if run_options.get("return_blocks") else None)
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
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise MissingExtraError("the dask executor", "scale", "dask[distributed]") from None
    cluster = None
    if options.scheduler:
        client = Client(options.scheduler)
    else:
        cluster = LocalCluster(n_workers=options.workers or os.cpu_count(), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        shared = client.scatter(market, broadcast=True)
        futures = [client.submit(_run_chunk, chunks[i], shared, run_options, str(parts[i]), retries=_RETRIES,
                                 pure=False) for i in todo]
        for future in as_completed(futures):
            future.result()
            _tick(progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _save_blocks(path: Path, blocks: ReturnBlocks) -> None:
    np.savez(path, n_returns=blocks.n_returns, n_blocks=blocks.n_blocks,
             **{f.name: getattr(blocks, f.name) for f in attrs.fields(ReturnBlocks)[2:]})


def _load_blocks(path: Path) -> ReturnBlocks:
    with np.load(path, allow_pickle=False) as saved:
        return ReturnBlocks(int(saved["n_returns"]), int(saved["n_blocks"]),
                            *(saved[f.name] for f in attrs.fields(ReturnBlocks)[2:]))


def _merge(parts: Sequence[Path], returns_of: str | None = None) -> RunTables:
    """The run's tables: every part's, concatenated in chunk order (= combination order); trace
    event ids are renumbered so they stay unique across chunks. With ``returns_of`` (the first
    symbol), the parts' return aggregates side by side: the whole run's of that symbol."""
    found: dict[str, list[pa.Table]] = {name: [] for name in _TABLES}
    blocks = []
    events_before = 0
    for part in parts:
        if not _done(part):
            raise AdmfError(f"{part}: this chunk did not finish; resume the run")
        if returns_of is not None and (part / _BLOCKS).is_file():
            blocks.append(_load_blocks(part / _BLOCKS))
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
    returns = ((returns_of, ReturnBlocks.concat(blocks)),) if blocks and len(blocks) == len(parts) else None
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
