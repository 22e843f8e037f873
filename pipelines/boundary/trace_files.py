"""Traces on disk: a run's events written into its folder and read back.

``events.parquet``, or ``events/`` partitioned by combination above :data:`PARTITION_ROWS` rows
(the rows themselves are built by ``pipelines.engine.events``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from state.errors import AdmfError

__all__ = ["PARTITION_ROWS", "TraceError", "read_events", "write_events"]


#: Above this many events a trace is written partitioned by combination (``events/combo_id=…``).
PARTITION_ROWS = 1_000_000


class TraceError(AdmfError, ValueError):
    """A trace cannot be read or does not hold what is asked of it."""


def write_events(table: pa.Table, folder: Path) -> str:
    """Write a trace into a run folder: ``events.parquet``, or ``events/`` partitioned by
    combination when it is large. Returns the name written."""
    if table.num_rows <= PARTITION_ROWS:
        pq.write_table(table.combine_chunks(), folder / "events.parquet",  # bytes independent of chunking
                       write_statistics=[f.name for f in table.schema if not pa.types.is_floating(f.type)])
        return "events.parquet"
    pq.write_to_dataset(table, folder / "events", partition_cols=["combo_id"])
    return "events/"


def read_events(run_dir: str | os.PathLike) -> pa.Table:
    """A run's trace, from ``events.parquet`` or the partitioned ``events/`` folder."""
    root = Path(run_dir)
    if (root / "events.parquet").is_file():
        return pq.read_table(root / "events.parquet")
    if (root / "events").is_dir():
        table = pq.read_table(root / "events")
        return table.sort_by([("event_id", "ascending")])
    raise TraceError(f"{root}: no events.parquet or events/ here; run the spec with --trace (or trace: true)")
