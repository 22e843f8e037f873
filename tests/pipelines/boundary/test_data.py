"""Tests for pipelines.boundary.data: bundled data sets, file formats, validation errors, trimming, frequency."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.boundary.data import (
    bundled_datasets,
    data_symbols,
    load_market_data,
    read_bars,
)
from pipelines.boundary.specs import spec_from_mapping
from state.errors import DataError, SpecError
from state.spec import DataSpec

HEADER = "timestamp,open,high,low,close,volume"
GOOD_ROWS = (
    "2020-01-01,10,11,9,10.5,100",
    "2020-01-02,10.5,12,10,11,200",
    "2020-01-03,11,11.5,10.5,11.2,150",
    "2020-01-06,11.2,11.3,10.9,11,50",
)
FIELDS = ("open", "high", "low", "close", "volume")


def write_csv(folder: Path, rows, header: str = HEADER, name: str = "bars.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def with_row(index: int, row: str) -> list[str]:
    rows = list(GOOD_ROWS)
    rows[index] = row
    return rows


def load_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        read_bars(str(path), "X")
    assert str(path) in str(caught.value)
    return caught.value


def days(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[ns]")


# --------------------------------------------------------------------------------------------
# bundled data


def test_bundled_dataset_names():
    assert ("BTCUSD", "EURUSD", "GOOG") == bundled_datasets()


def test_goog_pinned_values():
    data = load_market_data(DataSpec(dataset="GOOG"))
    bars = data["GOOG"]
    assert ("GOOG",) == data.symbols
    assert "GOOG" == data.source
    assert 2148 == len(bars)
    assert np.datetime64("2004-08-19") == bars.time[0]
    assert np.datetime64("2013-03-01") == bars.time[-1]
    assert 100.0 == bars.open[0]
    assert 100.34 == bars.close[0]
    assert 22351900.0 == bars.volume[0]
    assert 2 == bars.price_precision
    assert 252.0 == data.periods_per_year
    assert 64 == len(data.sha256)


def test_arrays_are_typed_and_read_only():
    bars = load_market_data(DataSpec(dataset="GOOG"))["GOOG"]
    assert np.dtype("datetime64[ns]") == bars.time.dtype
    for name in ("time", *FIELDS):
        array = bars.field(name) if name != "time" else bars.time
        assert not array.flags.writeable
        if name != "time":
            assert np.dtype(np.float64) == array.dtype
    with pytest.raises(ValueError):
        bars.close[0] = 1.0


def test_dataset_name_is_case_insensitive():
    assert load_market_data(DataSpec(dataset="GOOG")).sha256 == load_market_data(DataSpec(dataset="goog")).sha256
    assert ("GOOG",) == load_market_data(DataSpec(dataset="goog")).symbols


def test_default_data_is_goog():
    assert DataSpec().is_default
    default = load_market_data(DataSpec())
    assert "GOOG" == default.source
    assert ("GOOG",) == default.symbols
    assert load_market_data(DataSpec(dataset="GOOG")).sha256 == default.sha256


def test_eurusd_pinned_values_and_inferred_frequency():
    data = load_market_data(DataSpec(dataset="EURUSD"))
    bars = data["EURUSD"]
    assert 5000 == len(bars)
    assert np.datetime64("2017-04-19T09:00") == bars.time[0]
    assert np.datetime64("2018-02-07T15:00") == bars.time[-1]
    assert 5 == bars.price_precision
    elapsed_years = (bars.time[-1] - bars.time[0]) / np.timedelta64(1, "s") / (365.25 * 86400)
    assert pytest.approx(4999 / elapsed_years, rel=1e-12) == data.periods_per_year
    assert 5000 < data.periods_per_year < 24 * 365.25  # hourly, minus weekends


def test_btcusd_pinned_values():
    data = load_market_data(DataSpec(dataset="BTCUSD"))
    bars = data["BTCUSD"]
    assert 156 == len(bars)
    assert np.datetime64("2012-01-31") == bars.time[0]
    assert np.datetime64("2024-12-31") == bars.time[-1]
    assert 2 == bars.price_precision
    assert 12.0 == data.periods_per_year


def test_unknown_dataset_is_a_spec_error():
    with pytest.raises(SpecError) as caught:
        load_market_data(DataSpec(dataset="XYZ"))
    assert "data.dataset" == caught.value.path
    assert ("'XYZ' is not a bundled dataset; choose one of BTCUSD, EURUSD, GOOG or give data.path"
            == caught.value.message)


def test_two_sources_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_market_data(DataSpec(dataset="GOOG", path=str(write_csv(tmp_path, GOOD_ROWS))))
    assert "data" == caught.value.path


def test_periods_per_year_override():
    assert 365.0 == load_market_data(DataSpec(dataset="GOOG", periods_per_year=365)).periods_per_year


# --------------------------------------------------------------------------------------------
# file formats


def test_csv_with_any_case_headers_extra_columns_and_no_volume(tmp_path):
    rows = [r.rsplit(",", 1)[0] + ",note" for r in GOOD_ROWS]
    bars = read_bars(str(write_csv(tmp_path, rows, header="Date,OPEN,High,low,Close,Comment")), "X")
    assert 4 == len(bars)
    assert days("2020-01-01", "2020-01-02", "2020-01-03", "2020-01-06").tolist() == bars.time.tolist()
    assert [10.5, 11.0, 11.2, 11.0] == bars.close.tolist()
    assert np.isnan(bars.volume).all()
    assert not bars.volume.flags.writeable


@pytest.mark.parametrize("name", ["", "timestamp", "Date", "TIME", "datetime"])
def test_accepted_timestamp_headers(tmp_path, name):
    path = write_csv(tmp_path, GOOD_ROWS, header=f"{name},open,high,low,close,volume")
    assert 4 == len(read_bars(str(path), "X"))


def test_intraday_times_and_fractional_seconds(tmp_path):
    rows = ["2020-01-01 09:30:00,10,11,9,10,1", "2020-01-01T09:30:00.5,10,11,9,10,1"]
    bars = read_bars(str(write_csv(tmp_path, rows)), "X")
    assert days("2020-01-01T09:30:00", "2020-01-01T09:30:00.5").tolist() == bars.time.tolist()


def test_timezone_aware_times_become_naive_utc(tmp_path):
    rows = ["2020-01-01T10:00:00+01:00,10,11,9,10,1", "2020-01-01T10:00:00Z,10,11,9,10,1"]
    bars = read_bars(str(write_csv(tmp_path, rows)), "X")
    assert days("2020-01-01T09:00", "2020-01-01T10:00").tolist() == bars.time.tolist()


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(HEADER + "\n" + GOOD_ROWS[0] + "\n\n" + GOOD_ROWS[1] + "\r\n\r\n"
                    + "2020-01-02,11,11.5,10.5,11.2,150\n\n")
    error = load_error(path)
    assert 6 == error.line
    assert "duplicate timestamp 2020-01-02 (also on line 4)" in error.message


def test_parquet_round_trip_gives_equal_arrays_and_fingerprint(tmp_path):
    source = load_market_data(DataSpec(dataset="GOOG"))
    bars = source["GOOG"]
    table = pa.table({"timestamp": pa.array(bars.time), **{f: pa.array(bars.field(f)) for f in FIELDS}})
    pq.write_table(table, tmp_path / "GOOG.parquet")
    copy = load_market_data(DataSpec(path="GOOG.parquet", base_dir=str(tmp_path)))
    assert ("GOOG",) == copy.symbols  # the file stem
    assert "GOOG.parquet" == copy.source
    for name in ("time", *FIELDS):
        assert np.array_equal(bars.time if name == "time" else bars.field(name),
                              copy["GOOG"].time if name == "time" else copy["GOOG"].field(name))
    assert source.sha256 == copy.sha256
    assert 2 == copy["GOOG"].price_precision


def test_parquet_with_timezone_and_pq_suffix(tmp_path):
    table = pa.table({
        "Date": pa.array([0, 3_600 * 10**9], pa.timestamp("ns", "America/New_York")),
        "Open": [1.0, 2.0], "High": [1.0, 2.0], "Low": [1.0, 2.0], "Close": [1.0, 2.0],
        "Volume": pa.array([5, 6], pa.int64()),
    })
    pq.write_table(table, tmp_path / "x.pq")
    bars = read_bars(str(tmp_path / "x.pq"), "X")
    assert days("1970-01-01T00:00", "1970-01-01T01:00").tolist() == bars.time.tolist()
    assert [5.0, 6.0] == bars.volume.tolist()


def test_parquet_errors_name_the_row(tmp_path):
    table = pa.table({"timestamp": pa.array([0, 1, 2], pa.timestamp("s")), "open": [1.0, 1.0, 1.0],
                      "high": [1.0, 1.0, 1.0], "low": [1.0, 1.0, 2.0], "close": [1.0, 1.0, 1.0]})
    pq.write_table(table, tmp_path / "x.parquet")
    error = load_error(tmp_path / "x.parquet")
    assert error.line is None
    assert error.message.startswith("row 3: high 1.0 is below low 2.0")


def test_sha256_is_over_symbol_and_values():
    data = load_market_data(DataSpec(dataset="BTCUSD"))
    bars = data["BTCUSD"]
    digest = hashlib.sha256(b"BTCUSD")
    digest.update(bars.time.view(np.int64).tobytes())
    for name in FIELDS:
        digest.update(bars.field(name).tobytes())
    assert digest.hexdigest() == data.sha256


# --------------------------------------------------------------------------------------------
# validation: every malformation names the file and the line of the first offending row


@pytest.mark.parametrize(("index", "row", "line", "message"), [
    (2, "2020-13-03,11,11.5,10.5,11.2,150", 4, "cannot read timestamp '2020-13-03': write ISO 8601"),
    (2, "03/01/2020,11,11.5,10.5,11.2,150", 4, "cannot read timestamp '03/01/2020'"),
    (1, ",10.5,12,10,11,200", 3, "the timestamp is missing"),
    (2, "2020-01-03,11,abc,10.5,11.2,150", 4, "cannot read high 'abc' as a number"),
    (3, "2020-01-06,11.2,11.3,10.9,11,1O0", 5, "cannot read volume '1O0' as a number"),
    (1, "2020-01-02,10.5,NaN,10,11,200", 3, "high is missing (empty or NaN)"),
    (1, "2020-01-02,10.5,12,,11,200", 3, "low is missing (empty or NaN)"),
    (3, "2020-01-06,11.2,11.3,-1,11,50", 5, "low is -1.0, but prices must be positive"),
    (3, "2020-01-06,0,11.3,10.9,11,50", 5, "open is 0.0, but prices must be positive"),
    (2, "2020-01-03,11,10.5,11.5,11.2,150", 4, "high 10.5 is below low 11.5"),
    (2, "2020-01-03,12,11.5,10.5,11.2,150", 4, "open 12.0 is outside the bar's range [low 10.5, high 11.5]"),
    (2, "2020-01-03,11,11.5,10.5,10,150", 4, "close 10.0 is outside the bar's range [low 10.5, high 11.5]"),
    (2, "2020-01-03,11,11.5,10.5,11.2,-5", 4, "volume -5.0 is negative"),
    (2, "2020-01-02,11,11.5,10.5,11.2,150", 4, "duplicate timestamp 2020-01-02 (also on line 3)"),
    (2, "2019-12-31,11,11.5,10.5,11.2,150", 4,
     "timestamp 2019-12-31 is earlier than the previous row's 2020-01-02: sort the file by time"),
    (2, "2020-01-03,11,11.5,10.5", 4, "expected 6 fields like the header, found 4"),
])
def test_malformed_row(tmp_path, index, row, line, message):
    error = load_error(write_csv(tmp_path, with_row(index, row)))
    assert line == error.line
    assert message in error.message


def test_first_offending_row_wins_across_checks(tmp_path):
    rows = with_row(3, "2020-01-06,11.2,11.3,-1,11,50")
    rows[1] = "2020-01-02,10.5,12,10,11,-1"
    error = load_error(write_csv(tmp_path, rows))
    assert 3 == error.line
    assert "volume -1.0 is negative" in error.message


def test_empty_volume_is_allowed(tmp_path):
    bars = read_bars(str(write_csv(tmp_path, with_row(1, "2020-01-02,10.5,12,10,11,"))), "X")
    assert [100.0] == bars.volume[:1].tolist()
    assert np.isnan(bars.volume[1])


def test_mixed_utc_offsets_are_an_error(tmp_path):
    rows = ["2020-01-01T10:00:00+01:00,10,11,9,10,1", "2020-01-01T11:00:00,10,11,9,10,1"]
    error = load_error(write_csv(tmp_path, rows))
    assert 3 == error.line
    assert "has no UTC offset, unlike the rows before it" in error.message


def test_missing_columns_are_listed(tmp_path):
    error = load_error(write_csv(tmp_path, ["2020-01-01,1,2"], header="timestamp,Open,Close"))
    assert 1 == error.line
    assert "missing required columns high, low; found columns 'timestamp', 'Open', 'Close'" in error.message


def test_first_column_must_be_the_timestamp(tmp_path):
    error = load_error(write_csv(tmp_path, ["1,2,0.5,1"], header="open,high,low,close"))
    assert 1 == error.line
    assert "the first column must be the timestamp" in error.message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    error = load_error(path)
    assert error.line is None
    assert "the file is empty" in error.message


def test_header_without_rows(tmp_path):
    error = load_error(write_csv(tmp_path, []))
    assert "no data rows after the header" in error.message


def test_missing_file_names_the_resolved_path(tmp_path):
    with pytest.raises(DataError) as caught:
        load_market_data(DataSpec(path="data/nope.csv", base_dir=str(tmp_path)))
    assert caught.value.line is None
    assert str(tmp_path / "data" / "nope.csv") in str(caught.value)
    assert "file not found" in caught.value.message


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "bars.txt"
    path.write_text(HEADER)
    error = load_error(path)
    assert "unsupported file type '.txt'" in error.message


# --------------------------------------------------------------------------------------------
# spec: path, paths, start/end


def test_path_relative_to_base_dir_with_symbol(tmp_path):
    write_csv(tmp_path, GOOD_ROWS, name="prices.csv")
    data = load_market_data(DataSpec(path="prices.csv", symbol="ACME", base_dir=str(tmp_path)))
    assert ("ACME",) == data.symbols
    assert "prices.csv" == data.source
    assert 252.0 == data.periods_per_year


def test_paths_give_one_bars_per_symbol_by_name_or_in_the_order_data_symbols_gives(tmp_path):
    """By name: a mapping's order does not survive the spec's canonical JSON (run.json, the manifest),
    so a resumed or re-read run loaded the symbols in another order than the run it continues."""
    write_csv(tmp_path, GOOD_ROWS, name="b.csv")
    write_csv(tmp_path, GOOD_ROWS[:2], name="a.csv")
    paths = (("BBB", "b.csv"), ("AAA", "a.csv"))
    data = load_market_data(DataSpec(paths=paths, base_dir=str(tmp_path)))
    assert ("AAA", "BBB") == data.symbols
    assert [2, 4] == [len(b) for b in data.bars]
    assert "AAA=a.csv,BBB=b.csv" == data.source
    chosen = load_market_data(DataSpec(paths=paths, symbols=("BBB", "AAA"), base_dir=str(tmp_path)))
    assert ("BBB", "AAA") == chosen.symbols


def test_a_spec_read_back_from_its_canonical_json_loads_the_same_symbols(tmp_path):
    import json
    spec = spec_from_mapping({"data": {"paths": {"GOOG": "goog.csv", "BTCUSD": "btc.csv"}},
                              "strategies": [{"type": "momentum"}]}, base_dir=str(tmp_path))
    again = spec_from_mapping(json.loads(spec.document), base_dir=str(tmp_path))
    assert ("BTCUSD", "GOOG") == data_symbols(spec.data) == data_symbols(again.data)


def test_duplicate_symbols_in_paths(tmp_path):
    write_csv(tmp_path, GOOD_ROWS)
    with pytest.raises(SpecError) as caught:
        load_market_data(DataSpec(paths=(("A", "bars.csv"), ("A", "bars.csv")), base_dir=str(tmp_path)))
    assert "data.paths" == caught.value.path


def test_start_and_end_are_inclusive():
    whole = load_market_data(DataSpec(dataset="GOOG"))
    data = load_market_data(DataSpec(dataset="GOOG", start="2005-01-03", end="2005-12-30"))
    bars = data["GOOG"]
    assert np.datetime64("2005-01-03") == bars.time[0]
    assert np.datetime64("2005-12-30") == bars.time[-1]
    assert 252 == len(bars)
    assert whole.sha256 != data.sha256
    assert not bars.close.flags.writeable


def test_date_only_end_includes_the_whole_day():
    data = load_market_data(DataSpec(dataset="EURUSD", start="2017-04-20 10:00", end="2017-04-20"))
    bars = data["EURUSD"]
    assert np.datetime64("2017-04-20T10:00") == bars.time[0]
    assert np.datetime64("2017-04-20T23:00") == bars.time[-1]


def test_nothing_between_bounds_names_file_and_bounds(tmp_path):
    path = write_csv(tmp_path, GOOD_ROWS)
    with pytest.raises(DataError) as caught:
        load_market_data(DataSpec(path=str(path), start="2021-01-01", end="2021-06-30"))
    assert str(path) in str(caught.value)
    assert "no bars between start 2021-01-01 and end 2021-06-30" in caught.value.message


def test_unparseable_bound_is_a_spec_error():
    with pytest.raises(SpecError) as caught:
        load_market_data(DataSpec(start="January 2020"))
    assert "data.start" == caught.value.path


def test_start_after_end_is_a_spec_error():
    with pytest.raises(SpecError) as caught:
        load_market_data(DataSpec(start="2010-01-01", end="2009-01-01"))
    assert "data.start" == caught.value.path


# --------------------------------------------------------------------------------------------
# price precision


def test_price_precision_of_six_decimal_prices(tmp_path):
    rng = np.random.default_rng(7)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.01, 500)), 6)
    rows = [f"2020-01-01 00:{i // 60:02d}:{i % 60:02d},{c:.6f},{c + 0.01:.6f},{c - 0.01:.6f},{c:.6f},1"
            for i, c in enumerate(close)]
    assert 6 == read_bars(str(write_csv(tmp_path, rows)), "X").price_precision


@pytest.mark.parametrize(("prices", "expected"), [
    (("1", "2", "3"), 0),
    (("123456.5", "999999.25", "1.75"), 2),
    (("0.000000001", "1", "1"), 9),
    (("0.1234567891", "1", "1"), None),  # ten decimals
    (("0.00000001", "0.0000001", "1"), 8),  # a positive price below one grid step is not on it
    (("2000000.123456785", "1", "1"), None),  # 9 decimals, but too big to add exactly
])
def test_price_precision(tmp_path, prices, expected):
    rows = [f"2020-01-0{i + 1},{p},{p},{p},{p}" for i, p in enumerate(prices)]
    path = write_csv(tmp_path, rows, header="timestamp,open,high,low,close")
    assert expected == read_bars(str(path), "X").price_precision


# --------------------------------------------------------------------------------------------
# universes: a folder, a glob, a long file; data.symbols


#: Bars of three symbols with their own calendars: B lists late, C delists early.
UNIVERSE = {
    "A": GOOD_ROWS,
    "B": GOOD_ROWS[2:],
    "C": GOOD_ROWS[:3],
}


def write_parquet(folder: Path, rows, name: str) -> Path:
    times = [r.split(",")[0] for r in rows]
    columns = list(zip(*[[float(x) for x in r.split(",")[1:]] for r in rows]))
    table = pa.table({"timestamp": pa.array(np.array(times, "datetime64[ns]")),
                      **{name_: pa.array(values) for name_, values in zip(FIELDS, columns)}})
    path = folder / name
    pq.write_table(table, path)
    return path


def universe_folder(tmp_path: Path) -> Path:
    """A folder with A.csv, B.parquet and C.csv, a note and a hidden file (both ignored)."""
    folder = tmp_path / "universe"
    folder.mkdir()
    write_csv(folder, UNIVERSE["A"], name="A.csv")
    write_parquet(folder, UNIVERSE["B"], "B.parquet")
    write_csv(folder, UNIVERSE["C"], name="C.csv")
    (folder / "README.md").write_text("prices from the vendor\n")
    (folder / ".A.csv.swp").write_text("junk")
    return folder


def long_rows(symbols=("A", "B", "C")) -> list[str]:
    """Every symbol's rows of :data:`UNIVERSE` in time order, a ``symbol`` column first."""
    rows = [(r.split(",")[0], s, r) for s in symbols for r in UNIVERSE[s]]
    return [f"{s},{r}" for _, s, r in sorted(rows, key=lambda x: (x[0], x[1]))]


def same_data(a, b) -> bool:
    return a.symbols == b.symbols and a.sha256 == b.sha256 and a.annualisation == b.annualisation and all(
        np.array_equal(x.time, y.time) and all(np.array_equal(x.field(f), y.field(f), equal_nan=True) for f in FIELDS)
        for x, y in zip(a.bars, b.bars))


def test_a_folder_is_a_universe_of_its_files_named_by_stem(tmp_path):
    folder = universe_folder(tmp_path)
    data = load_market_data(DataSpec(path="universe", base_dir=str(tmp_path)))
    assert ("A", "B", "C") == data.symbols
    assert [4, 2, 3] == [len(b) for b in data.bars]
    assert "universe" == data.source
    paths = load_market_data(DataSpec(paths=(("A", "A.csv"), ("B", "B.parquet"), ("C", "C.csv")), base_dir=str(folder)))
    assert same_data(paths, data)


def test_a_glob_is_a_universe_of_the_files_it_matches(tmp_path):
    universe_folder(tmp_path)
    data = load_market_data(DataSpec(path="universe/*.csv", base_dir=str(tmp_path)))
    assert ("A", "C") == data.symbols
    deep = load_market_data(DataSpec(path="**/B.parquet", base_dir=str(tmp_path)))
    assert ("B",) == deep.symbols


def test_symbols_select_in_their_order(tmp_path):
    universe_folder(tmp_path)
    data = load_market_data(DataSpec(path="universe", symbols=("C", "A"), base_dir=str(tmp_path)))
    assert ("C", "A") == data.symbols
    assert [3, 4] == [len(b) for b in data.bars]


def test_symbols_select_from_paths_too(tmp_path):
    folder = universe_folder(tmp_path)
    data = load_market_data(DataSpec(paths=(("A", "A.csv"), ("C", "C.csv")), symbols=("C",), base_dir=str(folder)))
    assert ("C",) == data.symbols and "C=C.csv" == data.source


def test_a_long_file_is_a_universe_of_its_symbol_column(tmp_path):
    universe_folder(tmp_path)
    path = write_csv(tmp_path, long_rows(), header="Symbol," + HEADER, name="long.csv")
    data = load_market_data(DataSpec(path=str(path)))
    folder = load_market_data(DataSpec(path=str(tmp_path / "universe")))
    assert same_data(folder, data)
    assert str(path) == data.source


def test_a_long_parquet_file_and_a_selection_from_it(tmp_path):
    universe_folder(tmp_path)
    rows = long_rows()
    table = pa.table({"timestamp": pa.array(np.array([r.split(",")[1] for r in rows], "datetime64[ns]")),
                      "symbol": [r.split(",")[0] for r in rows],
                      **{f: [float(r.split(",")[2 + i]) for r in rows] for i, f in enumerate(FIELDS)}})
    pq.write_table(table, tmp_path / "long.parquet")
    data = load_market_data(DataSpec(path="long.parquet", symbols=("B", "A"), base_dir=str(tmp_path)))
    folder = load_market_data(DataSpec(path="universe", symbols=("B", "A"), base_dir=str(tmp_path)))
    assert same_data(folder, data)


def test_read_bars_and_paths_take_one_symbols_rows_of_a_long_file(tmp_path):
    path = write_csv(tmp_path, long_rows(), header="symbol," + HEADER, name="long.csv")
    assert 2 == len(read_bars(str(path), "B"))
    data = load_market_data(DataSpec(paths=(("C", "long.csv"),), base_dir=str(tmp_path)))
    assert [3] == [len(b) for b in data.bars]
    with pytest.raises(DataError, match="has no rows of symbol 'D' in its symbol column"):
        read_bars(str(path), "D")


def long_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        load_market_data(DataSpec(path=str(path)))
    assert str(path) == caught.value.source
    return caught.value


def test_a_bad_row_of_a_long_file_names_its_line_and_symbol(tmp_path):
    rows = long_rows()  # line 2 + i holds rows[i]; rows[8] is B's second row
    assert rows[8].startswith("B,2020-01-06")
    rows[8] = "B,2020-01-06,11.2,10,10.9,11,50"
    path = write_csv(tmp_path, rows, header="symbol," + HEADER, name="long.csv")
    error = long_error(path)
    assert 10 == error.line
    assert "symbol 'B': high 10.0 is below low 10.9: swap or fix the two values" == error.message
    rows = long_rows()
    rows[5] = "," + rows[5].split(",", 1)[1]
    path = write_csv(tmp_path, rows, header="symbol," + HEADER, name="blank.csv")
    error = long_error(path)
    assert (7, "the symbol is missing: fill it in or remove the row") == (error.line, error.message)


def test_a_long_files_symbols_sort_within_each_symbol_by_file_order(tmp_path):
    rows = long_rows()
    rows[0], rows[3] = rows[3], rows[0]  # A's first and second bars swapped
    path = write_csv(tmp_path, rows, header="symbol," + HEADER, name="long.csv")
    error = long_error(path)
    assert 5 == error.line
    assert "symbol 'A': timestamp 2020-01-01 is earlier than the previous row's 2020-01-02: sort the file by time" \
        == error.message


def test_symbols_without_volume_among_symbols_with_it_are_a_warning(tmp_path):
    folder = universe_folder(tmp_path)
    write_csv(folder, [r.rsplit(",", 1)[0] for r in GOOD_ROWS], header=HEADER.rsplit(",", 1)[0], name="A.csv")
    data = load_market_data(DataSpec(path=str(folder)))
    assert np.all(np.isnan(data["A"].volume))
    assert ("1 of 3 symbols have no volume (A): their volume is NaN, and settings that read volume (participation, "
            "impact) refuse them; add a volume column to their files if you have one") == data.warnings[-1]


# bad universes: one line naming the spec path or the file, and what to do


def universe_error(tmp_path: Path, error=SpecError, **spec) -> str:
    with pytest.raises(error) as caught:
        load_market_data(DataSpec(base_dir=str(tmp_path), **spec))
    return str(caught.value)


def test_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert (f"data.path='empty': the folder {tmp_path / 'empty'} holds no .csv, .parquet or .pq file: put one file "
            "per symbol there (AAPL.csv, MSFT.parquet, ...) or point data.path at a file") \
        == universe_error(tmp_path, path="empty")


def test_a_glob_matching_nothing(tmp_path):
    assert (f"data.path='data/*.csv': matches no file (looked for {tmp_path / 'data' / '*.csv'}): check the pattern "
            "and the folder, e.g. data/*.csv") == universe_error(tmp_path, path="data/*.csv")


def test_a_glob_matching_a_file_that_is_not_data(tmp_path):
    universe_folder(tmp_path)
    assert "README.md: unsupported file type '.md'" in universe_error(tmp_path, DataError, path="universe/*")


def test_a_file_with_other_columns_names_itself(tmp_path):
    folder = universe_folder(tmp_path)
    write_csv(folder, ["2020-01-01,10,1"], header="date,price,volume", name="B2.csv")
    assert (f"{folder / 'B2.csv'}, line 1: missing required columns open, high, low, close; found columns 'date', "
            "'price', 'volume'") in universe_error(tmp_path, DataError, path="universe")


def test_two_files_of_one_symbol(tmp_path):
    folder = universe_folder(tmp_path)
    write_csv(folder, GOOD_ROWS, name="B.csv")
    assert (f"data.path='universe': symbol 'B' comes from both {folder / 'B.csv'} and {folder / 'B.parquet'}: keep "
            "one file per symbol (a long file's symbol column counts too)") == universe_error(tmp_path, path="universe")


def test_a_long_file_and_a_file_of_one_of_its_symbols(tmp_path):
    folder = universe_folder(tmp_path)
    write_csv(folder, long_rows(("C",)), header="symbol," + HEADER, name="more.csv")
    assert f"symbol 'C' comes from both {folder / 'C.csv'} and {folder / 'more.csv'}" in \
        universe_error(tmp_path, path="universe")


@pytest.mark.parametrize(("name", "content", "fragment"), [
    ("B.parquet", b"PAR1 not really", "cannot read the file as Parquet"),
    ("C.csv", HEADER + "\n2020-01-01,10,11,9,10.5,100\n2020-01-02,10.5,1", "line 3: expected 6 fields like the header"),
])
def test_one_corrupt_file_names_itself(tmp_path, name, content, fragment):
    folder = universe_folder(tmp_path)
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    message = universe_error(tmp_path, DataError, path="universe")
    assert message.startswith(str(folder / name)) and fragment in message


def test_a_selected_symbol_that_is_not_there(tmp_path):
    universe_folder(tmp_path)
    assert ("data.symbols[1]='BB': is not in universe (did you mean 'B'? its 3 symbol(s): A, B, C): check the name "
            "or remove it") == universe_error(tmp_path, path="universe", symbols=("A", "BB"))
    assert "data.symbols[0]='X': is not in the bundled data" in universe_error(tmp_path, symbols=("X",))


def test_symbol_names_one_files_symbol_not_a_universes(tmp_path):
    universe_folder(tmp_path)
    assert ("data.symbol: names the one symbol of a single file, but data.path='universe' is a folder or glob of 3 "
            "file(s): its symbols come from the data; select some with data.symbols: [...]") \
        == universe_error(tmp_path, path="universe", symbol="A")


def test_data_symbols_lists_without_reading_a_folders_files(tmp_path):
    from pipelines.boundary.data import data_symbols
    folder = universe_folder(tmp_path)
    (folder / "A.csv").write_text("not a csv at all")  # listed, never read
    assert ("A", "B", "C") == data_symbols(DataSpec(path=str(folder)))
    assert ("missing",) == data_symbols(DataSpec(path=str(tmp_path / "missing.csv")))
