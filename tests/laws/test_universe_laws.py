"""Laws of universes (``docs/workflows.md``, "Universes"; issue 15 item 3).

- folder ≡ paths: the symbols of a folder of CSV and Parquet files (one symbol per file, named
  after its stem) load exactly as the same files given one by one in ``data.paths`` (sorted by
  symbol), read by a pool of threads or one after another, and ``data.symbols`` selects the same
  symbols, in its order, from either;
- long ≡ folder: one long file (CSV or Parquet) holding every symbol's rows, with a ``symbol``
  column and the symbols' rows interleaved in any order that keeps each symbol's own order, loads
  exactly as the folder.

Every example writes the files and loads them through ``load_market_data``: the reader, the
selection and the calendars (each symbol's own, drawn ragged: late listings, gaps, early ends)
are what is tested. Equal means every symbol's times and values, the data's fingerprint, each
symbol's and the merged timeline's annualisation, and (folder vs paths) the warnings.
"""
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fp.testing import market
from pipelines.boundary.data import load_market_data
from state.market import Bars, MarketData
from state.spec import DataSpec

LAWS = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FIELDS = ("open", "high", "low", "close", "volume")
SYMBOLS = st.lists(st.from_regex(r"[A-Z][A-Z0-9]{0,3}(\.[A-Z]{1,2})?", fullmatch=True), min_size=1, max_size=4,
                   unique=True)


@st.composite
def universes(draw):
    """A ragged market of drawn symbols, each symbol's file format, and a selection of its symbols."""
    names = draw(SYMBOLS)
    data = draw(market(symbols=tuple(names), ragged=True, min_size=1, max_size=40))
    formats = {name: draw(st.sampled_from(["csv", "parquet"])) for name in names}
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    return data, formats, tuple(chosen)


def csv_text(b: Bars, symbol: str | None = None) -> str:
    """The bars as CSV, exact floats; an empty volume for NaN; a leading symbol column when given."""
    lead = "symbol," if symbol is not None else ""
    rows = [(f"{symbol}," if symbol is not None else "") + f"{t},{o!r},{h!r},{lo!r},{c!r},{'' if v != v else repr(v)}"
            for t, o, h, lo, c, v in zip(b.time.astype(str), *(b.field(f).tolist() for f in FIELDS))]
    return "\n".join([lead + "timestamp,open,high,low,close,volume", *rows]) + "\n"


def table_of(b: Bars) -> pa.Table:
    return pa.table({"timestamp": pa.array(b.time), **{f: pa.array(b.field(f)) for f in FIELDS}})


def write_folder(folder: Path, data: MarketData, formats: dict) -> None:
    for b in data.bars:
        if formats[b.symbol] == "csv":
            (folder / f"{b.symbol}.csv").write_text(csv_text(b))
        else:
            pq.write_table(table_of(b), folder / f"{b.symbol}.parquet")


def same(a: MarketData, b: MarketData) -> bool:
    return (a.symbols == b.symbols and a.sha256 == b.sha256 and a.annualisation == b.annualisation
            and (a.periods_per_year, a.rule) == (b.periods_per_year, b.rule)
            and all(np.array_equal(x.time, y.time) and x.price_precision == y.price_precision
                    and all(np.array_equal(x.field(f), y.field(f), equal_nan=True) for f in FIELDS)
                    for x, y in zip(a.bars, b.bars)))


@LAWS
@given(universes())
def test_a_folder_loads_as_its_files_given_one_by_one(drawn):
    data, formats, chosen = drawn
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, data, formats)
        paths = tuple((s, f"{s}.{formats[s]}") for s in sorted(data.symbols))
        whole = load_market_data(DataSpec(path=tmp))
        given_one_by_one = load_market_data(DataSpec(paths=paths, base_dir=tmp))
        assert tuple(sorted(data.symbols)) == whole.symbols
        assert same(given_one_by_one, whole) and given_one_by_one.warnings == whole.warnings
        assert same(load_market_data(DataSpec(path=tmp), threads=1), whole)  # one file after another
        selected = load_market_data(DataSpec(path=tmp, symbols=chosen))
        assert chosen == selected.symbols
        assert same(load_market_data(DataSpec(paths=paths, symbols=chosen, base_dir=tmp)), selected)


@LAWS
@given(universes(), st.sampled_from(["csv", "parquet"]), st.data())
def test_a_long_file_loads_as_the_folder(drawn, kind, draws):
    data, formats, chosen = drawn
    # each row of the long file is a (symbol, bar) in a drawn interleaving keeping each symbol's order
    order = draws.draw(st.permutations([s for s, b in enumerate(data.bars) for _ in range(len(b))]))
    rows = np.zeros(len(order), np.int64)
    for s in range(len(data.bars)):
        rows[np.flatnonzero(np.array(order) == s)] = np.arange(len(data.bars[s]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        folder.mkdir()
        write_folder(folder, data, formats)
        pieces = [(data.bars[s], int(i)) for s, i in zip(order, rows)]
        if kind == "csv":
            lines = [csv_text(b.slice(i, i + 1), b.symbol).splitlines()[1] for b, i in pieces]
            (Path(tmp) / "long.csv").write_text(
                "\n".join(["symbol,timestamp,open,high,low,close,volume", *lines]) + "\n")
        else:
            table = pa.concat_tables([table_of(b.slice(i, i + 1)) for b, i in pieces])
            pq.write_table(table.append_column("symbol", pa.array([b.symbol for b, _ in pieces])),
                           Path(tmp) / "long.parquet")
        long = Path(tmp) / f"long.{kind}"
        assert same(load_market_data(DataSpec(path=str(folder))), load_market_data(DataSpec(path=str(long))))
        assert same(load_market_data(DataSpec(path=str(folder), symbols=chosen)),
                    load_market_data(DataSpec(path=str(long), symbols=chosen)))
