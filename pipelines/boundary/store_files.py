"""Signal stores on disk: a store folder written atomically and read back with every check a replay
needs (see ``pipelines.engine.signal_store`` for the folder's tables)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.boundary.outputs import write_dir
from pipelines.engine.signal_store import SIGNAL_SCHEMA, signal_schema, SignalStore, STORE_KIND, STORE_VERSION
from state.errors import StoreError

__all__ = ["read_store", "write_store"]


def write_store(store: SignalStore, out_dir: str | os.PathLike) -> Path:
    """Write ``store`` to ``out_dir`` atomically (nothing is left behind on failure)."""
    return write_dir(out_dir, {"signals.parquet": store.signals, "combos.parquet": store.combos}, store.manifest)


def read_store(path: str | os.PathLike) -> SignalStore:
    """Read and validate the store at ``path``; :class:`StoreError` says what is wrong and where."""
    folder = Path(path)
    if not folder.is_dir():
        raise StoreError(f"{folder}: no signal store here (no such folder); give the --out folder of a "
                         "signal_generation run")
    manifest = _manifest(folder)
    signals = _table(folder / "signals.parquet")
    combos = _table(folder / "combos.parquet")
    _require_columns(folder / "signals.parquet", signals, [f.name for f in SIGNAL_SCHEMA])
    _require_columns(folder / "combos.parquet", combos,
                     ["combo_id", "strategy", "parameters", "classifier", "classifier_parameters"])
    try:
        zone = signals.schema.field("time").type.tz if pa.types.is_timestamp(signals.schema.field("time").type) else None
        signals = signals.select([f.name for f in SIGNAL_SCHEMA]).cast(signal_schema(zone))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"{folder / 'signals.parquet'}: columns of the wrong type ({exc})") from None
    if signals.num_rows != manifest.get("changes"):
        raise StoreError(f"{folder / 'signals.parquet'}: holds {signals.num_rows} changes but the manifest says "
                         f"{manifest.get('changes')}; the store is corrupt, generate it again")
    grouped = _group(folder, signals, combos, manifest)
    store = SignalStore(combos, signals, manifest, grouped)
    try:
        store.combinations()
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{folder / 'combos.parquet'}: unreadable parameters ({exc})") from None
    return store


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{path}: missing; {folder} is not a complete signal store") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: unreadable ({exc}); the store is corrupt, generate it again") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != STORE_KIND:
        raise StoreError(f"{path}: not a signal store manifest (kind {manifest.get('kind') if isinstance(manifest, dict) else None!r}, "
                         f"expected {STORE_KIND!r}); give the --out folder of a signal_generation run")
    if manifest.get("version") != STORE_VERSION:
        raise StoreError(f"{path}: store version {manifest.get('version')!r}, this admf reads version {STORE_VERSION}")
    data = manifest.get("data")
    if not isinstance(data, dict) or not {"sha256", "bars", "spec"} <= set(data):
        raise StoreError(f"{path}: the data section is incomplete; the store is corrupt, generate it again")
    return manifest


def _table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: missing; the signal store is incomplete") from None
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: not a readable Parquet file ({exc}); the store is corrupt") from None


def _require_columns(path: Path, table: pa.Table, names: list[str]) -> None:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise StoreError(f"{path}: missing columns {missing}; the store is corrupt, generate it again")


def _group(folder: Path, signals: pa.Table, combos: pa.Table, manifest: dict) -> dict:
    """Changes per (signal id, symbol), checked: known ids and symbols, bars increasing and in range."""
    bars = manifest["data"]["bars"]
    ids = combos.column("combo_id").to_pylist()
    if len(set(ids)) != len(ids):
        raise StoreError(f"{folder / 'combos.parquet'}: repeats a combo_id; the store is corrupt")
    grouped: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {
        (cid, symbol): (np.empty(0, np.int64), np.empty(0)) for cid in ids for symbol in bars}
    if not signals.num_rows:
        return grouped
    combo = signals.column("combo_id").to_numpy(zero_copy_only=False)
    symbol = signals.column("symbol").to_numpy(zero_copy_only=False)
    index = signals.column("bar_index").to_numpy()
    value = signals.column("value").to_numpy()
    key_change = np.flatnonzero((combo[1:] != combo[:-1]) | (symbol[1:] != symbol[:-1])) + 1
    starts = np.concatenate(([0], key_change, [len(combo)]))
    where = folder / "signals.parquet"
    for lo, hi in zip(starts[:-1], starts[1:]):
        key = (combo[lo], symbol[lo])
        if key not in grouped:
            raise StoreError(f"{where}, row {lo + 1}: combination {key[0]!r} on {key[1]!r} is not in the store's "
                             "combos or data; the store is corrupt")
        if len(grouped[key][0]):
            raise StoreError(f"{where}, row {lo + 1}: the rows of {key} are not contiguous; the store is corrupt")
        i, v = index[lo:hi], value[lo:hi]
        if np.any(np.diff(i) <= 0) or i[0] < 0 or i[-1] >= bars[key[1]] or not np.all(np.isfinite(v)):
            raise StoreError(f"{where}, rows {lo + 1}..{hi}: bar indices of {key} not increasing within the "
                             f"{bars[key[1]]} bars, or values not finite; the store is corrupt")
        grouped[key] = (i.astype(np.int64), v.astype(np.float64))
    return grouped
