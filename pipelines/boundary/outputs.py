"""Run folders on disk: a run's tables and manifest, written atomically.

A run directory holds ``results.parquet`` (one row per combination and symbol), ``trades.parquet``
and ``manifest.json`` (the spec, spec and data sha256, package versions, timing). It is written
into a temporary sibling folder and renamed into place, so an interrupted or failed run never
leaves a half-written directory behind. Parquet files carry no timestamps: the same spec and data
give byte-identical tables.

The folder to write must not exist or be an empty folder; :func:`check_run_dir` tells before a run
whether it can be used, so a long run is not wasted on a bad ``--out``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.boundary.trace_files import write_events
from state.errors import AdmfError

__all__ = ["RunDirError", "check_run_dir", "json_safe", "statistics_columns", "write_dir", "write_run"]


class RunDirError(AdmfError, OSError):
    """The output folder cannot be used: it is a file, a non-empty folder, or cannot be created or written."""








def _json_default(value: Any) -> Any:
    return str(value)


def json_safe(value: Any) -> Any:
    """``value`` (a manifest) as standard JSON holds it: a NaN or infinite float becomes ``None``
    (``null``; the statistic says why beside it, e.g. ``overfitting.reasons``), containers are
    converted recursively; a new object, ``value`` is not modified.

    >>> json_safe({"pbo": float("nan"), "n": [1.0, float("inf")]})
    {'pbo': None, 'n': [1.0, None]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def check_run_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path if a run can be written there; raise :class:`RunDirError` if not.

    Usable: a path that does not exist (its missing parents are created when writing), or an empty
    folder. Refused: a file, or a folder holding anything. Reads only; creates nothing.
    """
    out = Path(out_dir)
    if out.is_dir():
        if any(out.iterdir()):
            raise RunDirError(f"{out}: already exists and is not empty; choose another --out or remove it")
    elif out.exists():
        raise RunDirError(f"{out}: is a file, not a folder; choose another --out")
    return out


def write_run(result: Any, out_dir: str | os.PathLike) -> Path:
    """Write ``result`` (results, trades, the optional tables it has, manifest) to ``out_dir``
    atomically; see :func:`write_dir`."""
    tables = {"results.parquet": result.results, "trades.parquet": result.trades}
    for name in ("regime_stats", "regimes", "equity", "windows", "symbol_stats"):
        if getattr(result, name) is not None:
            tables[f"{name}.parquet"] = getattr(result, name)
    writers = {} if result.events is None else {"events": lambda folder: write_events(result.events, folder)}
    return write_dir(out_dir, tables, result.manifest, writers=writers)


def statistics_columns(table: pa.Table) -> list[str]:
    """Columns whose Parquet min/max statistics are safe to write: not floating point, since the
    statistics leave NaN out and SQL engines that trust them would skip NaN rows."""
    return [f.name for f in table.schema if not pa.types.is_floating(f.type)]


def write_dir(out_dir: str | os.PathLike, tables: Mapping[str, pa.Table], manifest: Mapping[str, Any], *,
              writers: Mapping[str, Any] = {}) -> Path:
    """Write Parquet ``tables`` (file name -> table) and ``manifest.json`` to ``out_dir`` atomically;
    ``writers`` (name -> function of the folder) write anything else into it first.

    ``out_dir`` must pass :func:`check_run_dir`. The files are written into a new hidden sibling
    folder, which is then renamed to ``out_dir``; on any failure that folder is removed, so
    ``out_dir`` never holds a partial run. The folder gets the mode a plain ``mkdir`` gives (the
    umask applies). A failure to create or write raises :class:`RunDirError` naming ``out_dir``.
    """
    out = check_run_dir(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.tmp"
        tmp.mkdir()
    except OSError as exc:
        raise RunDirError(f"{out}: cannot create the run folder ({exc.strerror or exc}); choose another --out") \
            from None
    try:
        for name, table in tables.items():
            # one chunk per column: Parquet's dictionary-encoding fallback happens where the chunks
            # let it, so a chunked run's merged tables would write other bytes than an unchunked run's
            pq.write_table(table.combine_chunks(), tmp / name, write_statistics=statistics_columns(table))
        for write in writers.values():
            write(tmp)
        with open(tmp / "manifest.json", "w") as f:
            json.dump(json_safe(manifest), f, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
            f.write("\n")
        if out.exists():
            out.rmdir()  # an empty folder (check_run_dir); a file added since makes this fail
        os.replace(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RunDirError(f"{out}: cannot write the run ({exc.strerror or exc}); nothing was left "
                              "behind") from exc
        raise
    return out
