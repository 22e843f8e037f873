"""Market data loading and validation: a :class:`state.spec.DataSpec` in, :class:`state.market.MarketData` out.

Data comes from a bundled data set (``GOOG``, ``EURUSD``, ``BTCUSD``; the default is ``GOOG``), from one
CSV or Parquet file, from one file per symbol (``data.paths``), or from a *universe*: ``data.path``
naming a folder or a glob (``data/*.parquet``) of files, one symbol per file named after its stem,
or a long file whose ``symbol`` column says which symbol each row is (a folder may mix the two).
``data.symbols`` selects symbols, in its order; without it the symbols are sorted by name (a universe's, and
``data.paths``' too: a mapping's order does not survive the spec's canonical JSON in a run folder).
Every file is read with pyarrow and validated as a whole; the first offending row is reported as a
:class:`state.errors.DataError` naming the file and the line (header = line 1, first data row =
line 2; Parquet files have no lines, so their messages say ``row N``, counting data rows from 1).
The files of a universe are read by a pool of threads, one per core (pyarrow parses without the
GIL; measured in ``bench/universe.py``). Errors are deterministic: every file's header is read
first, in file order, then the files, and of several bad files the first in symbol order is reported.

File format: the first column is the timestamp (its header empty or ``timestamp``, ``date``,
``time`` or ``datetime``, any case; ISO 8601 values, a date alone meaning midnight), then ``open``,
``high``, ``low``, ``close`` (required, any case) and ``volume`` (optional, NaN when absent); other
columns are ignored, except ``symbol`` (any case, anywhere; the timestamp is then the first other
column): it makes the file a long file, each symbol's rows validated on their own, in file order.
Times become ``datetime64[ns]``, values ``float64``, and every array is read-only.

Time zones and trading days (``docs/semantics.md``, "Time zones and trading days"): times with a
UTC offset (``+11:00``, ``Z``) or a zone-aware Parquet column keep their zone — each bar's
instant in ``Bars.time`` (UTC), its offset in ``Bars.utc_offset`` — and are written back in that
zone (a UTC offset when every row has the same one, else UTC). ``data.timezone`` names the
market's zone: naive times are local times there, aware ones are converted to it.
``data.session`` sets when a trading day begins. Trading days (``Bars.day``) are local dates,
never UTC dates. ``data.start``/``data.end``: a date alone bounds trading days, a naive timestamp
local times, a timestamp with an offset instants.

The loader also infers each symbol's bars per year from its own calendar (``fp.calendars``) and
the whole data's from the union of the symbols' times, unless ``data.periods_per_year`` sets it,
and warns (``MarketData.warnings``) about split-like jumps (:func:`split_like_jumps`).

Nothing here prints, caches or keeps state between calls.
"""
from __future__ import annotations

import csv
import difflib
import glob
import hashlib
import importlib.resources
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from fp.calendars import ESTIMATED, infer_annualisation
from state.errors import DataError, SpecError
from state.market import Annualisation, Bars, MarketData
from state.spec import DataSpec

__all__ = ["JUMP_RATIO", "bundled_datasets", "data_symbols", "load_market_data", "read_bars", "split_like_jumps"]

_BUNDLE_PACKAGE = "pipelines.datasets"
_DEFAULT_DATASET = "GOOG"
_TIME_HEADERS = ("", "timestamp", "date", "time", "datetime")
_PRICES = ("open", "high", "low", "close")
_CSV_SUFFIXES = (".csv",)
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SYMBOL = "symbol"
_GLOB = re.compile(r"[*?\[]")
_SHOWN = 5  # names listed in a message before "and N more"
_NS_PER_DAY = 86_400 * 10**9
_ISO_EXAMPLES = "such as 2024-01-31, 2024-01-31 09:30:00 or 2024-01-31T09:30:00+01:00"
_OFFSET = r"(\d)(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"  # a UTC offset ending an ISO 8601 date-time (after a digit)

#: A bar opening at this multiple of the previous close or more, or at its inverse or less, is a
#: split-like jump (a 2-for-1 split halves the price).
JUMP_RATIO = 2.0


# --------------------------------------------------------------------------------------------
# public API


def bundled_datasets() -> tuple[str, ...]:
    """Names of the data sets shipped in ``pipelines/datasets`` (one ``NAME.csv`` each), sorted."""
    folder = importlib.resources.files(_BUNDLE_PACKAGE)
    return tuple(sorted(p.name[: -len(".csv")] for p in folder.iterdir() if p.name.endswith(".csv")))


@attrs.frozen(eq=False)
class _Loaded:
    """One symbol's bars as loaded, with the file they came from (for messages) and the first
    file row they hold."""

    bars: Bars
    rows: "_Rows"
    first_row: int
    notes: tuple[str, ...] = ()


@attrs.frozen(eq=False)
class _Member:
    """Where one symbol of the data comes from: a file of its own (``table`` None), or its rows of a
    long file, already read (``table``, with ``rows`` pointing at the file's lines)."""

    symbol: str
    path: str
    table: pa.Table | None = None
    rows: "_Rows | None" = None


def load_market_data(spec: DataSpec, *, threads: int | None = None) -> MarketData:
    """Load, validate and trim the market data a spec's ``data`` section asks for.

    ``spec.dataset`` names a bundled data set (case-insensitive; the symbol is its canonical name);
    ``spec.path`` is one CSV/Parquet file (symbol ``spec.symbol`` or the file stem), a long file (a
    ``symbol`` column), a folder or a glob of such files (a universe, see the module docstring);
    ``spec.paths`` gives one ``(symbol, path)`` per symbol, kept in that order. ``spec.symbols``
    selects symbols (in its order) from any of them. Relative paths are resolved against
    ``spec.base_dir``; with nothing given the bundled GOOG data is used. ``spec.timezone`` and the
    session apply to every symbol; ``spec.start``/``spec.end`` are inclusive bounds applied to
    every symbol in its own calendar (a date-only bound is a trading day, so ``end`` includes that
    whole day). Each symbol is annualised with its own calendar, the whole data with its merged
    timeline (``spec.periods_per_year`` sets both).

    ``threads``: files read at once (default: one per core; 1 reads them one after the other, each
    parsed by all of pyarrow's threads).

    Raises :class:`SpecError` for bad spec values (a folder without data files, a glob matching
    nothing, a selected symbol the data lacks, a symbol given twice) and :class:`DataError` for
    missing or malformed files, or when no bar is left between the bounds.
    """
    given = [name for name, value in (("dataset", spec.dataset), ("path", spec.path),
                                      ("paths", spec.paths)) if value]
    if len(given) > 1:
        raise SpecError("data", f"give only one of dataset, path or paths (got {' and '.join(given)})")
    start = _parse_bound("data.start", spec.start)
    end = _parse_bound("data.end", spec.end)
    if start is not None and end is not None and start[1] > end[1] + (end[0] == "day") * np.timedelta64(_NS_PER_DAY - 1, "ns"):
        raise SpecError("data.start", f"start {spec.start} is after end {spec.end}: swap or fix the bounds")

    if spec.paths or spec.path:
        members = _selected(_members(spec), spec)
        given = dict(spec.paths)
        pairs = [f"{m.symbol}={given[m.symbol]}" for m in members] if spec.paths else []
        source = spec.path or (",".join(pairs) if len(pairs) <= _SHOWN else f"data.paths: {_some(pairs)}")
        loaded = _load_members(members, start, end, spec, threads or os.cpu_count() or 1)
    else:
        name = _bundled_name(spec.dataset) if spec.dataset else _DEFAULT_DATASET
        _selected([_Member(name, name)], spec)
        resource = importlib.resources.files(_BUNDLE_PACKAGE) / f"{name}.csv"
        with importlib.resources.as_file(resource) as path:
            loaded = [_read_between(str(path), name, start, end, spec)]
        source = name

    bars, notes = _one_zone([item.bars for item in loaded], [n for item in loaded for n in item.notes])
    if spec.periods_per_year is None:
        own = tuple(infer_annualisation(b.time, b.day) for b in bars)
        whole = own[0] if len(bars) == 1 else _merged_annualisation(bars)
    elif float(spec.periods_per_year) > 0:
        whole = Annualisation(float(spec.periods_per_year), "set: data.periods_per_year")
        own = (whole,) * len(bars)
    else:
        raise SpecError("data.periods_per_year", f"must be a positive number, got {spec.periods_per_year!r}")
    estimates = [f"{b.symbol}: {a.periods_per_year:,.6g} periods a year, {a.rule.removeprefix('inferred: ')}; set "
                 "data.session (when a trading day begins, in data.timezone) or data.periods_per_year to be exact"
                 for b, a in zip(bars, own) if a.rule.startswith(ESTIMATED)]
    warnings = tuple(notes) + tuple(estimates) + tuple(_jump_warnings(loaded)) + tuple(_volume_warnings(bars))
    pa.default_memory_pool().release_unused()  # the parse buffers are gone; give their pages back
    return MarketData(bars=bars, source=source, sha256=_fingerprint(bars), periods_per_year=whole.periods_per_year,
                      annualisation=own, rule=whole.rule, warnings=warnings)


def data_symbols(spec: DataSpec) -> tuple[str, ...]:
    """The symbols ``load_market_data(spec)`` gives, in its order, reading no more than it must:
    a folder is listed, only long files are read, and a single file that is missing or not a long
    file is named by ``data.symbol`` or its stem (what ``admf plan`` shows without loading data)."""
    if spec.path and not _GLOB.search(spec.path):
        path = _resolve(spec.base_dir, spec.path)
        if not os.path.isdir(path) and (not os.path.isfile(path) or not _is_long(path)):
            return tuple(m.symbol for m in _selected([_Member(spec.symbol or Path(spec.path).stem, path)], spec))
    if spec.paths or spec.path:
        return tuple(m.symbol for m in _selected(_members(spec), spec))
    name = _bundled_name(spec.dataset) if spec.dataset else _DEFAULT_DATASET
    return tuple(m.symbol for m in _selected([_Member(name, name)], spec))


def read_bars(path: str, symbol: str) -> Bars:
    """Read and validate one CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) file as ``symbol``'s bars.

    The file must be complete and clean: a parseable timestamp and open/high/low/close on every
    row, positive prices with low <= open, close <= high, volume >= 0 when given, and strictly
    increasing timestamps. The first violation raises a :class:`DataError` naming ``path`` and the
    line (CSV) or row (Parquet). Times with a zone are returned as instants with their offsets
    (see :class:`state.market.Bars`).
    """
    return _read(path, symbol)[0]


def split_like_jumps(bars: Sequence[Bars], *, ratio: float = JUMP_RATIO) -> list[tuple[int, int, float]]:
    """``(symbol index, bar, open / previous close)`` of every split-like jump, in symbol then bar order.

    A bar jumps when it opens at ``ratio`` times its previous close or more, or at ``1 / ratio``
    or less (a 2-for-1 split halves the price; an unadjusted split is a gap no trader could
    trade). A jump is a market move, not a split, when another symbol with a bar at the same
    time gaps the same way by at least half as much (in log terms).

    >>> t = np.arange(3).astype("datetime64[D]").astype("datetime64[ns]")
    >>> a = Bars("A", t, np.array([100.0, 50.0, 51.0]), *[np.array([100.0, 100.0, 51.0])] * 2,
    ...          np.array([100.0, 50.0, 51.0]), np.ones(3))
    >>> split_like_jumps([a])
    [(0, 1, 0.5)]
    """
    found = []
    logs = [np.log(b.open[1:] / b.close[:-1]) for b in bars]
    for s, (b, log) in enumerate(zip(bars, logs)):
        for i in np.flatnonzero(np.abs(log) >= math.log(ratio) * (1 - 1e-12)):
            at = b.time[i + 1]
            matched = False
            for o, (other, other_log) in enumerate(zip(bars, logs)):
                j = int(np.searchsorted(other.time, at))
                if o != s and 0 < j < len(other) and other.time[j] == at:
                    matched |= bool(np.sign(other_log[j - 1]) == np.sign(log[i])
                                    and abs(other_log[j - 1]) >= abs(log[i]) / 2)
            if not matched:
                found.append((s, int(i) + 1, float(b.open[i + 1] / b.close[i])))
    return found


# --------------------------------------------------------------------------------------------
# universes: which file each symbol comes from, and reading them


def _members(spec: DataSpec) -> list[_Member]:
    """Every symbol ``spec.paths`` or ``spec.path`` names and where it comes from (long files are
    read here, once); a symbol given twice is a :class:`SpecError` naming both of its files."""
    if spec.paths:
        symbols = [symbol for symbol, _ in spec.paths]
        duplicated = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicated:
            raise SpecError("data.paths", f"symbol {duplicated[0]!r} is given more than once: one file per symbol")
        # by name, like a universe: a mapping's order does not survive the spec's canonical JSON
        # (manifest.json, run.json), and a resumed or re-read run must see the symbols in one order
        return sorted((_Member(symbol, _resolve(spec.base_dir, path)) for symbol, path in spec.paths),
                      key=lambda m: m.symbol)
    files, many = _universe_files(spec)
    members: list[_Member] = []
    for path in files:
        if _is_long(path):
            members += _long_members(path)
        elif many:
            members.append(_Member(Path(path).stem, path))
        else:
            members.append(_Member(spec.symbol or Path(spec.path).stem, path))
    if spec.symbol is not None and (many or members[0].table is not None):
        what = (f"a folder or glob of {len(files)} file(s)" if many
                else f"a long file (its symbol column names {len(members)} symbol(s))")
        raise SpecError("data.symbol", f"names the one symbol of a single file, but data.path={spec.path!r} is {what}: "
                                       "its symbols come from the data; select some with data.symbols: [...]")
    by_symbol: dict[str, list[str]] = {}
    for m in members:
        by_symbol.setdefault(m.symbol, []).append(m.path)
    twice = sorted(symbol for symbol, paths in by_symbol.items() if len(paths) > 1)
    if twice:
        first, second = by_symbol[twice[0]][:2]
        raise SpecError(f"data.path={spec.path!r}", f"symbol {twice[0]!r} comes from both {first} and {second}: keep "
                                                    "one file per symbol (a long file's symbol column counts too)")
    return sorted(members, key=lambda m: m.symbol) if many or members[0].table is not None else members


def _universe_files(spec: DataSpec) -> tuple[list[str], bool]:
    """The files ``spec.path`` names (sorted) and whether it names a universe (a folder or a glob)."""
    where = f"data.path={spec.path!r}"
    resolved = _resolve(spec.base_dir, spec.path)
    if _GLOB.search(spec.path):
        found = sorted(p for p in glob.glob(resolved, recursive=True) if not os.path.isdir(p))
        if not found:
            raise SpecError(where, f"matches no file (looked for {resolved}): check the pattern and the folder, "
                                   "e.g. data/*.csv")
        return found, True
    if os.path.isdir(resolved):
        found = sorted(os.path.join(resolved, name) for name in os.listdir(resolved)
                       if not name.startswith(".") and Path(name).suffix.lower() in _CSV_SUFFIXES + _PARQUET_SUFFIXES
                       and os.path.isfile(os.path.join(resolved, name)))
        if not found:
            raise SpecError(where, f"the folder {resolved} holds no .csv, .parquet or .pq file: put one file per "
                                   "symbol there (AAPL.csv, MSFT.parquet, ...) or point data.path at a file")
        return found, True
    return [resolved], False


def _selected(members: list[_Member], spec: DataSpec) -> list[_Member]:
    """The members ``spec.symbols`` selects, in its order (all of them without it)."""
    if not spec.symbols:
        return members
    by_symbol = {m.symbol: m for m in members}
    for i, symbol in enumerate(spec.symbols):
        if symbol not in by_symbol:
            close = difflib.get_close_matches(symbol, list(by_symbol), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            source = spec.path or ("data.paths" if spec.paths else "the bundled data")
            raise SpecError(f"data.symbols[{i}]={symbol!r}", f"is not in {source} ({hint}its {len(by_symbol)} "
                                                             f"symbol(s): {_some(sorted(by_symbol))}): check the "
                                                             "name or remove it")
    return [by_symbol[symbol] for symbol in spec.symbols]


def _load_members(members: list[_Member], start, end, spec: DataSpec, threads: int) -> list[_Loaded]:
    """Read, validate and trim every member; with ``threads`` > 1 files in a pool of that many
    threads, each file parsed on its thread alone; the first error in member order raised."""
    pooled = threads > 1 and len(members) > 1

    def load(member: _Member) -> _Loaded:
        if member.table is None:
            bars, rows = _read(member.path, member.symbol, threads=not pooled)
        else:
            bars, rows = _bars_from_table(member.table, member.rows, member.symbol), member.rows
        return _between(bars, rows, start, end, spec)

    if not pooled:
        return [load(member) for member in members]
    with ThreadPoolExecutor(max_workers=min(len(members), threads)) as pool:
        return list(pool.map(load, members))


def _is_long(path: str) -> bool:
    """Whether a data file has a ``symbol`` column (reads its header or Parquet schema only)."""
    _check_file(path)
    rows = _Rows(path, is_csv=Path(path).suffix.lower() in _CSV_SUFFIXES)
    names = _read_header(path, rows) if rows.is_csv else _parquet_schema(path, rows).names
    return any(name.strip().lower() == _SYMBOL for name in names)


def _long_members(path: str, read: tuple[pa.Table, "_Rows"] | None = None) -> list[_Member]:
    """Each symbol of a long file (``read``: the file's table and rows, when already read), its
    rows in file order as a table of their own."""
    table, rows = read if read is not None else _read_table(path, threads=True)
    column = table.column(_SYMBOL)
    table = table.drop_columns([_SYMBOL])
    if table.num_rows == 0:
        raise rows.file_error("no data rows after the header: the file needs at least one bar")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    blank = pc.or_kleene(column.is_null(), pc.equal(pc.utf8_trim_whitespace(column), ""))
    if pc.any(blank).as_py():
        raise rows.error(pc.index(blank, True).as_py(), "the symbol is missing: fill it in or remove the row")
    encoded = pc.dictionary_encode(column)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    names = encoded.dictionary.to_pylist()
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=len(names)))))
    members = []
    for code, symbol in enumerate(names):
        index = order[bounds[code]:bounds[code + 1]]
        members.append(_Member(symbol, path, table.take(index), attrs.evolve(rows, index=index, symbol=symbol)))
    return members


def _some(names: Sequence[str]) -> str:
    """Names for a message: all of a few, or the first few and how many more."""
    shown = ", ".join(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown} and {len(names) - _SHOWN} more"


def _volume_warnings(bars: Sequence[Bars]) -> list[str]:
    """Symbols without volume among symbols with it: allowed (an index, a currency), said loudly."""
    without = [b.symbol for b in bars if np.all(np.isnan(b.volume))]
    if not without or len(without) == len(bars):
        return []
    return [f"{len(without)} of {len(bars)} symbols have no volume ({_some(without)}): their volume is NaN, and "
            "settings that read volume (participation, impact) refuse them; add a volume column to their files "
            "if you have one"]


# --------------------------------------------------------------------------------------------
# spec values


def _bundled_name(dataset: str) -> str:
    names = bundled_datasets()
    for name in names:
        if name.lower() == str(dataset).strip().lower():
            return name
    raise SpecError("data.dataset", f"{dataset!r} is not a bundled dataset; choose one of "
                                    f"{', '.join(names)} or give data.path")


def _resolve(base_dir: str, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(path)))


def _parse_bound(where: str, value: object) -> tuple[str, np.datetime64] | None:
    """An inclusive ``start``/``end`` bound: ``("day", midnight of the date)`` for a date alone
    (a trading day), ``("local", t)`` for a naive timestamp (a local time), ``("instant", t)``
    for a timestamp with a UTC offset (converted to UTC)."""
    if value is None or value == "":
        return None
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(where, f"{text!r} is not an ISO date or timestamp ({_ISO_EXAMPLES})") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return "day", np.datetime64(moment.date(), "ns")
    if moment.tzinfo is not None:
        return "instant", np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "ns")
    return "local", np.datetime64(moment, "ns")


def _within(bars: Bars, bound: tuple[str, np.datetime64], *, end: bool) -> np.ndarray:
    """Which bars a bound keeps (an end keeps bars at or before it, a start at or after it)."""
    kind, at = bound
    if kind == "day":
        values, at = bars.day, at.astype("datetime64[D]").astype(np.int64)
    else:
        values = bars.time if kind == "instant" else bars.local_time
    return values <= at if end else values >= at


def _read_between(path: str, symbol: str, start, end, spec: DataSpec) -> _Loaded:
    """The file's bars in the spec's calendar, keeping those within the inclusive bounds (views, no copy)."""
    return _between(*_read(path, symbol), start, end, spec)


def _between(bars: Bars, rows: "_Rows", start, end, spec: DataSpec) -> _Loaded:
    """Read bars in the spec's calendar, keeping those within the inclusive bounds (views, no copy)."""
    symbol, path = bars.symbol, rows.source
    notes = ()
    if bars.timezone == "UTC" and bars.utc_offset is not None and np.any(bars.utc_offset) and not spec.timezone:
        notes = (f"{symbol}: the UTC offsets of its times vary, so its zone is unknown: times are written in UTC; "
                 "set data.timezone to write them in the market's zone",)
    bars = _in_calendar(bars, rows, spec)
    lo = 0 if start is None else int(np.argmax(np.append(_within(bars, start, end=False), True)))
    hi = len(bars) if end is None else len(bars) - int(np.argmax(np.append(_within(bars, end, end=True)[::-1], True)))
    if hi <= lo:
        owner = "the file" if rows.symbol is None else f"symbol {symbol!r}"
        raise DataError(path, f"no bars between start {spec.start or '(none)'} and end "
                              f"{spec.end or '(none)'}: {owner} spans {_show_time(bars.local_time[0])} to "
                              f"{_show_time(bars.local_time[-1])}; widen data.start/data.end"
                              + ("" if rows.symbol is None else " or leave the symbol out of data.symbols"))
    return _Loaded(bars if (lo, hi) == (0, len(bars)) else bars.slice(lo, hi), rows, lo, notes)


# --------------------------------------------------------------------------------------------
# calendars: zones, sessions, bars per year


def _in_calendar(bars: Bars, rows: "_Rows", spec: DataSpec) -> Bars:
    """``bars`` in the spec's zone and session: naive times read as local times of
    ``spec.timezone``, aware ones converted to it; offsets of the session's zone; its start."""
    time, offset, zone = bars.time, bars.utc_offset, bars.timezone
    if spec.timezone:
        if offset is None:
            time = _instants(bars.time, spec.timezone, rows)
        offset, zone = _offsets(time, spec.timezone), spec.timezone
    if spec.session_timezone:
        if offset is None:
            raise SpecError("data.session.timezone", f"{rows.source}: the times have no UTC offset, so their zone "
                                                     "is unknown: set data.timezone to the zone they are written in")
        offset = _offsets(time, spec.session_timezone)
    for array in (time, offset):
        if array is not None:
            array.flags.writeable = False
    start = 0
    if spec.session_start:
        h, m, *sec = (int(x) for x in spec.session_start.split(":"))
        start = ((h * 60 + m) * 60 + (sec[0] if sec else 0)) * 10**9
    return attrs.evolve(bars, time=time, utc_offset=offset, timezone=zone, session_start=start)


def _instants(local: np.ndarray, zone: str, rows: "_Rows") -> np.ndarray:
    """Naive local times of ``zone`` as UTC instants; a time the clocks skip (a daylight-saving
    gap) is an error naming its row, a time they repeat is its first occurrence."""
    naive = pa.array(local, pa.timestamp("ns"))
    try:
        aware = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="raise")
    except pa.ArrowInvalid:
        early = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
        late = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="latest")
        row = int(np.argmax(_int64(early) != _int64(late)))
        raise rows.error(row, f"{_show_time(local[row])} does not exist in {zone} (the clocks skip it when "
                              "daylight saving starts): fix the time, or write times with a UTC offset") from None
    return _int64(aware).view("datetime64[ns]")


def _offsets(instants: np.ndarray, zone: str) -> np.ndarray:
    """Local time minus UTC (int64 ns) of each instant in ``zone`` (an IANA name or a UTC offset)."""
    utc = pa.array(instants, pa.timestamp("ns", "UTC"))
    local = pc.local_timestamp(utc.cast(pa.timestamp("ns", zone)))
    return _int64(local) - instants.view(np.int64)


def _int64(times: pa.Array) -> np.ndarray:
    return np.asarray(times.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def _one_zone(bars: list[Bars], notes: list[str]) -> tuple[tuple[Bars, ...], list[str]]:
    """Every symbol's times written in one zone: theirs when they agree, UTC when they differ
    (each symbol's trading days stay in its own zone); naive and zoned times do not mix."""
    zones = {b.timezone for b in bars}
    if len(zones) == 1:
        return tuple(bars), notes
    if None in zones:
        naive = [b.symbol for b in bars if b.timezone is None]
        zoned = [b.symbol for b in bars if b.timezone is not None]
        raise SpecError("data.timezone", f"the times of {', '.join(naive)} have no zone but those of "
                                         f"{', '.join(zoned)} have one: set data.timezone to the zone the times "
                                         "without one are in (every symbol's times are then read in or converted "
                                         "to it)")
    notes.append(f"the symbols' zones differ ({', '.join(f'{b.symbol}: {b.timezone}' for b in bars)}): time "
                 "columns are written in UTC; each symbol's trading days stay in its own zone")
    return tuple(attrs.evolve(b, timezone="UTC") for b in bars), notes


def _merged_annualisation(bars: tuple[Bars, ...]) -> Annualisation:
    """Bars per year of the union of the symbols' times (each time's trading day: the first
    symbol's with a bar there): the timeline a shared-cash portfolio is marked on."""
    time = np.concatenate([b.time for b in bars])
    day = np.concatenate([b.day for b in bars])
    merged, first = np.unique(time, return_index=True)
    found = infer_annualisation(merged, day[first])
    return Annualisation(found.periods_per_year, found.rule.replace(
        "inferred: ", f"inferred from the union of the symbols' times ({len(merged)} timestamps): ", 1))


def _jump_warnings(loaded: list[_Loaded]) -> list[str]:
    out = []
    for s, bar, ratio in split_like_jumps([item.bars for item in loaded]):
        item = loaded[s]
        b = item.bars
        out.append(f"{b.symbol} ({item.rows.source}, {item.rows.ref(item.first_row + bar)}, "
                   f"{_show_time(b.local_time[bar])}): opens at {b.open[bar]:g} after closing at {b.close[bar - 1]:g} "
                   f"(×{ratio:.3g}), a split-like jump no other symbol made; it is traded as given: check that "
                   "the prices are split-adjusted")
    return out


def _fingerprint(bars: Sequence[Bars]) -> str:
    """sha256 over each symbol's name, then its time (int64) and open/high/low/close/volume bytes."""
    digest = hashlib.sha256()
    for b in bars:
        digest.update(b.symbol.encode("utf-8"))
        digest.update(np.ascontiguousarray(b.time).view(np.int64))
        for field in ("open", "high", "low", "close", "volume"):
            digest.update(np.ascontiguousarray(b.field(field), dtype=np.float64))
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# reading files into a table with columns time, open, high, low, close[, volume]


def _read(path: str, symbol: str, *, threads: bool = True) -> tuple[Bars, "_Rows"]:
    """:func:`read_bars`, and the file's rows (for messages naming them); ``threads``: let pyarrow
    parse one file on several threads (off when a pool reads many files at once)."""
    path = str(path)
    table, rows = _read_table(path, threads=threads)
    if _SYMBOL in table.column_names:  # a long file: the symbol's rows
        members = {m.symbol: m for m in _long_members(path, (table, rows))}
        if symbol not in members:
            raise rows.file_error(f"has no rows of symbol {symbol!r} in its symbol column (its symbols: "
                                  f"{_some(sorted(members))}): check the symbol")
        member = members[symbol]
        return _bars_from_table(member.table, member.rows, symbol), member.rows
    return _bars_from_table(table, rows, symbol), rows


def _check_file(path: str) -> None:
    """A data file must exist and be a .csv or .parquet (.pq) file."""
    suffix = Path(path).suffix.lower()
    if suffix not in _CSV_SUFFIXES + _PARQUET_SUFFIXES:
        raise DataError(path, f"unsupported file type {suffix or '(no suffix)'!r}: market data must be "
                              "a .csv or a .parquet (.pq) file")
    if not os.path.exists(path):
        raise DataError(path, f"file not found (looked for {os.path.abspath(path)}): check the file "
                              "name and folder")
    if os.path.isdir(path):
        raise DataError(path, f"{os.path.abspath(path)} is a folder, not a file")


def _read_table(path: str, *, threads: bool) -> tuple[pa.Table, "_Rows"]:
    """The file's columns time, open, high, low, close[, volume][, symbol], and its rows."""
    _check_file(path)
    return (_read_csv if Path(path).suffix.lower() in _CSV_SUFFIXES else _read_parquet)(path, threads=threads)


@attrs.frozen(eq=False)
class _Rows:
    """Points at a file's data rows in messages: CSV by line (header = line 1), Parquet by row.

    For one symbol's rows of a long file, ``index`` holds the file's data row of each of them and
    ``symbol`` names the symbol in messages."""

    source: str
    is_csv: bool
    index: np.ndarray | None = None
    symbol: str | None = None

    def _file_row(self, row: int) -> int:
        return int(self.index[row]) if self.index is not None and 0 <= row < len(self.index) else row

    def line(self, row: int) -> int | None:
        if not self.is_csv:
            return None
        lines = _csv_data_lines(self.source)
        row = self._file_row(row)
        return int(lines[row]) if 0 <= row < lines.size else None  # None: quoted line breaks confused us

    def ref(self, row: int) -> str:
        return f"line {self.line(row)}" if self.is_csv else f"row {self._file_row(row) + 1}"

    def error(self, row: int, message: str) -> DataError:
        if self.symbol is not None:
            message = f"symbol {self.symbol!r}: {message}"
        if self.is_csv:
            return DataError(self.source, message, line=self.line(row))
        return DataError(self.source, f"row {self._file_row(row) + 1}: {message}")

    def file_error(self, message: str, *, header: bool = False) -> DataError:
        if self.symbol is not None:
            message = f"symbol {self.symbol!r}: {message}"
        return DataError(self.source, message, line=1 if header and self.is_csv else None)


def _csv_data_lines(path: str) -> np.ndarray:
    """1-based line numbers of a CSV's data rows, skipping blank lines as the reader does (error path only)."""
    raw = np.fromfile(path, dtype=np.uint8)
    newlines = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [raw.size]))
    ends = ends - ((ends > starts) & (raw[np.maximum(ends - 1, 0)] == ord("\r")))
    non_blank = np.flatnonzero(ends > starts) + 1
    return non_blank[1:]  # the first non-blank line is the header


def _match_columns(names: Sequence[str], rows: _Rows, time_name: str | None = None) -> dict[str, str]:
    """Map ``time``, the price names, ``volume`` and ``symbol`` (when present) to the file's column names."""
    found = ", ".join(repr(n) for n in names) or "none"
    expected = ("expected the timestamp first, then open, high, low, close and optionally volume "
                "(any case)")
    symbols = [name for name in names if name.strip().lower() == _SYMBOL]
    if len(symbols) > 1:
        raise rows.file_error(f"column symbol appears twice ({symbols[0]!r} and {symbols[1]!r}): keep one", header=True)
    if time_name is None:
        others = [name for name in names if name not in symbols]
        if not others or others[0].strip().lower() not in _TIME_HEADERS:
            first = repr(others[0]) if others else "nothing"
            raise rows.file_error(f"the first column must be the timestamp, with an empty header or one of "
                                  f"timestamp, date, time, datetime, but it is {first}; {expected}",
                                  header=True)
        time_name = others[0]
    by_key: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key in _PRICES + ("volume",):
            if key in by_key:
                raise rows.file_error(f"column {key} appears twice ({by_key[key]!r} and {name!r}): keep one",
                                      header=True)
            by_key[key] = name
    missing = [key for key in _PRICES if key not in by_key]
    if missing:
        raise rows.file_error(f"missing required column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)}; found columns {found}; {expected}", header=True)
    return {"time": time_name, **by_key, **({_SYMBOL: symbols[0]} if symbols else {})}


def _read_header(path: str, rows: _Rows) -> list[str]:
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8-sig", errors="replace").rstrip("\r\n")
            if line.strip():
                return next(csv.reader([line]))
    raise rows.file_error("the file is empty: expected a header line (timestamp, open, high, low, "
                          "close[, volume]) and one row per bar")


def _read_csv(path: str, *, threads: bool = True) -> tuple[pa.Table, _Rows]:
    """Read the needed columns typed (fast path); on any conversion problem re-read them as text,
    so that :func:`_bars_from_table` can name the offending value (and parse UTC offsets)."""
    rows = _Rows(path, is_csv=True)
    columns = _match_columns(_read_header(path, rows), rows)
    names = list(columns.values())
    typed = {name: pa.float64() for name in names}
    typed[columns["time"]] = pa.timestamp("ns")
    if _SYMBOL in columns:
        typed[columns[_SYMBOL]] = pa.string()
    try:
        table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(use_threads=threads),
                                convert_options=pa_csv.ConvertOptions(column_types=typed, include_columns=names))
    except pa.ArrowInvalid:
        table = _read_csv_as_text(path, names, rows)
    return table.rename_columns([_key_of(columns, n) for n in table.column_names]), rows


def _read_csv_as_text(path: str, names: list[str], rows: _Rows) -> pa.Table:
    malformed: list = []

    def on_malformed(row) -> str:
        malformed.append(row)
        return "error"

    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=on_malformed),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names}, include_columns=names,
                strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        if not malformed:
            raise rows.file_error(f"cannot read the file as CSV: {exc}") from None
        bad = malformed[0]
        message = (f"expected {bad.expected_columns} fields like the header, found {bad.actual_columns} "
                   f"in {bad.text!r}: fix the row's commas")
        if bad.number is None:
            raise rows.file_error(message) from None
        raise rows.error(bad.number - 2, message) from None  # number counts the header as 1


def _parquet_schema(path: str, rows: _Rows) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise rows.file_error(f"cannot read the file as Parquet: {exc}; write it again or remove it") from None


def _read_parquet(path: str, *, threads: bool = True) -> tuple[pa.Table, _Rows]:
    rows = _Rows(path, is_csv=False)
    schema = _parquet_schema(path, rows)
    pandas_index = [c for c in ((schema.pandas_metadata or {}).get("index_columns") or []) if isinstance(c, str)]
    columns = _match_columns(schema.names, rows, time_name=pandas_index[0] if pandas_index else None)
    try:
        table = pq.read_table(path, columns=list(columns.values()), use_threads=threads)
    except (pa.ArrowException, OSError) as exc:
        raise rows.file_error(f"cannot read the file as Parquet: {exc}; write it again or remove it") from None
    return table.rename_columns([_key_of(columns, n) for n in table.column_names]), rows


def _key_of(columns: dict[str, str], name: str) -> str:
    return next(key for key, value in columns.items() if value == name)


# --------------------------------------------------------------------------------------------
# table -> validated Bars


def _bars_from_table(table: pa.Table, rows: _Rows, symbol: str) -> Bars:
    """Convert and validate; each Arrow column is released once converted, to keep one copy alive."""
    size = table.num_rows
    if size == 0:
        raise rows.file_error("no data rows after the header: the file needs at least one bar")
    columns = dict(zip(table.column_names, table.columns))
    del table
    time, zone, offset = _time_values(columns.pop("time"), rows)
    prices = {name: _float_values(columns.pop(name), name, rows) for name in _PRICES}
    if "volume" in columns:
        volume = _float_values(columns.pop("volume"), "volume", rows)
        nan = np.isnan(volume)
        if nan.any():
            volume[nan] = np.nan  # one NaN bit pattern, so equal data fingerprints equal
    else:
        volume = np.full(size, np.nan)
    _validate(time, prices, volume, rows)
    for array in (time, volume, offset, *prices.values()):
        if array is not None:
            array.flags.writeable = False
    return Bars(symbol=symbol, time=time, volume=volume, price_precision=_price_precision(prices.values()),
                timezone=zone, utc_offset=offset, **prices)


def _cast_times(text: pa.Array | pa.ChunkedArray):
    """ISO 8601 text as ``(times, local)``: naive values as ``timestamp[ns]`` and ``local`` None;
    values with a UTC offset as UTC instants and ``local`` their wall-clock times. None if any
    value fails."""
    try:
        return pc.cast(text, pa.timestamp("ns")), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        instants = pc.cast(pc.cast(text, pa.timestamp("ns", "UTC")), pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return instants, pc.cast(pc.replace_substring_regex(text, _OFFSET, r"\1"), pa.timestamp("ns"))


def _first_failure(values: pa.ChunkedArray, convert: Callable) -> int:
    """Index of the first value ``convert`` rejects, by bisection (``convert(values)`` must fail)."""
    ok, failing = 0, len(values)  # values[:ok] convert, values[:failing] do not
    while failing - ok > 1:
        mid = (ok + failing) // 2
        try:
            convert(values.slice(ok, mid - ok))
            ok = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            failing = mid
    return ok


def _time_values(column: pa.ChunkedArray, rows: _Rows) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """The times (UTC instants when they have a zone), their zone and UTC offsets (``None``, ``None``: naive).

    Text with one UTC offset on every row keeps it as its zone (``+11:00``; ``UTC`` for ``Z``);
    text whose offsets vary (daylight saving) keeps each row's offset for its trading day and is
    written in UTC; a zone-aware Parquet column keeps its zone.
    """
    kind, local = column.type, None
    zone = kind.tz if pa.types.is_timestamp(kind) else None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        parsed = _cast_times(column)
        if parsed is None:
            raise _bad_time(column, rows)
        column, local = parsed
    elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.timestamp("ns", kind.tz) if pa.types.is_timestamp(kind) else pa.timestamp("ns"))
        column = pc.cast(column, pa.timestamp("ns"))
    else:
        raise rows.file_error(f"the timestamp column holds {kind} values, not dates or timestamps: store "
                              f"ISO 8601 text ({_ISO_EXAMPLES}) or a timestamp type")
    if column.null_count:
        row = pc.index(column.is_null(), True).as_py()
        raise rows.error(row, "the timestamp is missing: fill it in or remove the row")
    time = _to_numpy(pc.cast(column, pa.int64()), np.int64).view("datetime64[ns]")
    if local is not None:
        offset = _to_numpy(pc.cast(local, pa.int64()), np.int64) - time.view(np.int64)
        zone = _offset_name(int(offset[0])) if np.all(offset == offset[0]) else "UTC"
        return time, zone, offset
    return time, zone, None if zone is None else _offsets(time, zone)


def _offset_name(offset_ns: int) -> str:
    """A UTC offset as a zone name: ``UTC``, ``+11:00``, ``-05:30``."""
    if offset_ns == 0:
        return "UTC"
    minutes = abs(offset_ns) // 60_000_000_000
    return f"{'+' if offset_ns > 0 else '-'}{minutes // 60:02d}:{minutes % 60:02d}"


def _bad_time(column: pa.ChunkedArray, rows: _Rows) -> DataError:
    """The error for the first timestamp text that does not parse (in the first value's convention)."""
    naive, aware = pa.timestamp("ns"), pa.timestamp("ns", "UTC")
    first = column.drop_null().slice(0, 1)
    target = naive if _parses(first, naive) or not _parses(first, aware) else aware
    row = _first_failure(column, lambda part: pc.cast(part, target))
    value = column[row].as_py()
    other = aware if target is naive else naive
    if _parses(column.slice(row, 1), other):
        has = "has a" if other is aware else "has no"
        return rows.error(row, f"timestamp {value!r} {has} UTC offset, unlike the rows before it: "
                               "write every timestamp the same way (all with or all without an offset)")
    return rows.error(row, f"cannot read timestamp {value!r}: write ISO 8601 dates or date-times "
                           f"({_ISO_EXAMPLES})")


def _parses(values: pa.ChunkedArray, target: pa.DataType) -> bool:
    try:
        pc.cast(values, target)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _float_values(column: pa.ChunkedArray, name: str, rows: _Rows) -> np.ndarray:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind)
            or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise rows.file_error(f"column {name} holds {kind} values, not numbers")
    try:
        column = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row = _first_failure(column, lambda part: pc.cast(part, pa.float64()))
        raise rows.error(row, f"cannot read {name} {column[row].as_py()!r} as a number: write a plain "
                              "decimal number such as 101.25") from None
    return _to_numpy(column, np.float64)


def _to_numpy(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    """One contiguous, writable copy of a fixed-width column, nulls as NaN (floats only).

    Reads the chunks' value buffers directly: ``to_numpy`` is slow for timestamps and imports pandas.
    """
    out = np.empty(len(column), dtype=dtype)
    width = out.itemsize
    at = 0
    for chunk in column.chunks:
        if chunk.null_count:
            chunk = pc.fill_null(chunk, np.nan)
        values = np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * width)
        out[at:at + len(chunk)] = values
        at += len(chunk)
    return out


def _validate(time: np.ndarray, prices: dict[str, np.ndarray], volume: np.ndarray, rows: _Rows) -> None:
    """Raise for the earliest row that breaks a bar invariant (vectorised; ties go to the first check)."""
    o, h, l, c = (prices[name] for name in _PRICES)
    ns = time.view(np.int64)
    step = np.diff(ns)
    checks: list[tuple[np.ndarray, int, Callable[[int], str]]] = []  # (mask, row offset, message)
    for name in _PRICES:
        x = prices[name]
        checks.append((~np.isfinite(x), 0, lambda i, x=x, name=name: (
            f"{name} is missing (empty or NaN): fill in the value or remove the row" if np.isnan(x[i])
            else f"{name} is {_show(x[i])}: prices must be finite numbers")))
        checks.append((x <= 0, 0, lambda i, x=x, name=name: (
            f"{name} is {_show(x[i])}, but prices must be positive: fix the value or remove the row")))
    checks += [
        (h < l, 0, lambda i: f"high {_show(h[i])} is below low {_show(l[i])}: swap or fix the two values"),
        ((o < l) | (o > h), 0, lambda i: (f"open {_show(o[i])} is outside the bar's range [low {_show(l[i])}, "
                                          f"high {_show(h[i])}]: fix open, high or low")),
        ((c < l) | (c > h), 0, lambda i: (f"close {_show(c[i])} is outside the bar's range [low {_show(l[i])}, "
                                          f"high {_show(h[i])}]: fix close, high or low")),
        (volume < 0, 0, lambda i: (f"volume {_show(volume[i])} is negative: volume must be >= 0 "
                                   "(leave it empty when unknown)")),
        (step <= 0, 1, lambda i: (
            f"duplicate timestamp {_show_time(time[i])} (also on {rows.ref(i - 1)}): keep one bar per time"
            if ns[i] == ns[i - 1] else
            f"timestamp {_show_time(time[i])} is earlier than the previous row's "
            f"{_show_time(time[i - 1])}: sort the file by time")),
    ]
    first = None  # (row, message)
    for mask, offset, message in checks:
        hit = int(np.argmax(mask)) if mask.size else 0
        if mask.size and mask[hit] and (first is None or hit + offset < first[0]):
            first = (hit + offset, message)
    if first is not None:
        raise rows.error(first[0], first[1](first[0]))


def _show(x: float) -> str:
    return repr(float(x))


def _show_time(t: np.datetime64) -> str:
    text = str(np.datetime64(t, "ns")).replace("T", " ")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text[: -len(" 00:00:00")] if text.endswith(" 00:00:00") else text


# --------------------------------------------------------------------------------------------
# price grid


def _price_precision(prices: Sequence[np.ndarray]) -> int | None:
    """Decimals (0..9) of the smallest decimal grid every price lies on, or None.

    A price x lies on the grid of d decimals when ``s = x * 10**d`` is within ``1e-7 * min(|s|, 1)``
    plus two ulps of ``s`` of an integer: the ulps absorb the rounding of decimal text to binary
    (sound while ``|s| < 2**50``), the 1e-7 grid steps absorb arithmetic done on the prices before
    they were written, and the ``min`` stops a positive price smaller than a grid step from counting
    as on the grid. None also when ``max|x| * 10**d >= 2**50``: the scaled prices could no longer
    be added exactly.
    """
    decimals = 0
    for x in prices:
        decimals = _grid_decimals(x, decimals)
        if decimals is None:
            return None
    largest = max(float(np.max(np.abs(x))) for x in prices)
    return decimals if largest * 10.0**decimals < 2.0**50 else None


def _grid_decimals(x: np.ndarray, at_least: int) -> int | None:
    d = at_least
    while d <= 9 and not _on_grid(x[:1024], d):  # cheap lower bound from a sample
        d += 1
    while d <= 9 and not _on_grid(x, d):
        d += 1
    return d if d <= 9 else None


def _on_grid(x: np.ndarray, decimals: int) -> bool:
    for at in range(0, x.size, 1 << 16):  # in blocks: small temporaries, early exit
        scaled = x[at:at + (1 << 16)] * 10.0**decimals
        size = np.abs(scaled)
        if not np.all(np.abs(scaled - np.rint(scaled)) <= 1e-7 * np.minimum(size, 1.0) + size * 2.0**-51):
            return False
    return True
