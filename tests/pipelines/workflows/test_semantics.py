"""The conventions of docs/semantics.md, pinned end to end with hand-worked numbers: calendars and
annualisation, time zones and trading days, and the data checks."""
import math
from importlib.resources import files
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines.boundary.data import load_market_data
from state.errors import DataError, SpecError
from state.spec import DataSpec

HOLD = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("from_bar", "int", 0, minimum=0),), features=lambda p: {"close": ref("price")})
def hold_from(p, f):
    """Long from bar `from_bar` on, flat before."""
    return np.where(np.arange(len(f["close"])) >= p["from_bar"], 1.0, 0.0)
'''


def write_bars(path, times, closes, *, volume=1000, opens=None) -> str:
    """One row per bar: the time as written (text), open (the close unless given), high, low, close."""
    opens = closes if opens is None else opens
    rows = [f"{t},{o},{max(o, c)},{min(o, c)},{c},{volume}" for t, o, c in zip(times, opens, closes)]
    path.write_text("\n".join(["time,open,high,low,close,volume", *rows]) + "\n")
    return str(path)


def hold_spec(path, start=0, **portfolio) -> dict:
    return {"data": {"path": path, "symbol": "X"}, "execution": {"fill": "close"},
            "portfolio": {"fractional": True, "initial_cash": 10_000, **portfolio},
            "strategies": [{"type": "semantics_hold:hold_from", "parameters": {"from_bar": start}}]}


def ratios(closes) -> np.ndarray:
    c = np.array(closes, float)
    return c[1:] / c[:-1] - 1.0


# --------------------------------------------------------------------------------------------
# Calendars and annualisation

CLOSES = [100.0, 102.0, 99.0, 103.0, 101.0, 104.0, 100.0, 105.0]


@pytest.mark.parametrize("times, periods, rule", [
    ([f"2024-01-{d:02d}" for d in range(6, 14)], 365.0,  # Saturday to Saturday: crypto
     "inferred: daily bars on every day of the week: 365 a year"),
    ([f"2024-01-0{d} {h}:00" for d in (8, 9) for h in (10, 11, 12, 13)], 4 * 252.0,  # Monday and Tuesday, 4 hours
     "inferred: 4 bars a trading day (the median) × 252 trading days (weekdays only)"),
])
def test_sharpe_sortino_and_cagr_by_hand(tmp_path, author, times, periods, rule):
    author("semantics_hold", HOLD)
    result = pipelines.run(hold_spec(write_bars(tmp_path / "x.csv", times, CLOSES)))
    (row,) = result.results.to_pylist()
    # all in at the first close (100 units at 100): equity is 100 × close, its returns the closes'
    r = ratios(CLOSES)
    years = (datetime.fromisoformat(times[-1]) - datetime.fromisoformat(times[0])).total_seconds() / (365.25 * 86_400)
    assert pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(periods), rel=1e-12) == row["sharpe"]
    assert pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(periods),
                         rel=1e-12) == row["sortino"]
    assert pytest.approx((1.05 ** (1.0 / years) - 1.0) * 100.0, rel=1e-12) == row["cagr_pct"]
    assert {"X": {"value": periods, "from": rule}} == result.manifest["data"]["periods_per_year"]


@pytest.mark.parametrize("times, periods", [
    ([f"2024-01-{d:02d}" for d in range(6, 14)], 365.0),
    ([f"2024-01-0{d} {h}:00" for d in (8, 9) for h in (10, 11, 12, 13)], 4 * 252.0),
])
def test_the_volatility_sizer_annualises_with_the_symbols_calendar(tmp_path, author, times, periods):
    author("semantics_hold", HOLD)
    spec = hold_spec(write_bars(tmp_path / "x.csv", times, CLOSES), start=3, sizing="volatility",
                     sizing_lookback=3, target_volatility=0.2, size_cap=10.0)
    result = pipelines.run(spec)
    # at bar 3 the volatility of the last 3 returns, annualised: sigma × sqrt(periods per year)
    sigma = ratios(CLOSES)[:3].std(ddof=1)
    factor = 0.2 / (sigma * math.sqrt(periods))
    (trade,) = result.trades.to_pylist()
    assert pytest.approx(10_000.0 * factor / 103.0, rel=1e-12) == trade["size"]


def goog_btc(order=("GOOG", "BTCUSD"), **extra) -> dict:
    """The issue's spec: the bundled GOOG (daily) and BTCUSD (monthly) files as one data set."""
    paths = {name: str(files("pipelines.datasets") / f"{name}.csv") for name in order}
    return {"data": {"paths": paths}, "portfolio": {"fractional": True, **extra},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 5, "slow_period": 20}}]}


def metrics_of(result, symbol) -> dict:
    (row,) = [r for r in result.results.to_pylist() if r["symbol"] == symbol]
    return {k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items() if k != "combo_id"}


def test_each_symbol_is_annualised_with_its_own_calendar():
    # issue 19 item 1: BTCUSD (monthly) took GOOG's 252 (Sharpe 4.0353 instead of 0.8806)
    together = pipelines.run(goog_btc())
    swapped = pipelines.run(goog_btc(order=("BTCUSD", "GOOG")))
    for symbol in ("GOOG", "BTCUSD"):
        alone = pipelines.run({**goog_btc(order=(symbol,))})
        assert metrics_of(alone, symbol) == metrics_of(together, symbol) == metrics_of(swapped, symbol)
    assert pytest.approx(0.8806, abs=5e-5) == metrics_of(together, "BTCUSD")["sharpe"]
    assert {"GOOG": {"value": 252.0, "from": "inferred: daily bars on weekdays only: 252 a year"},
            "BTCUSD": {"value": 12.0, "from": "inferred: monthly bars: 12 a year"}} == \
        together.manifest["data"]["periods_per_year"]


def test_a_shared_cash_portfolio_annualises_with_its_merged_timeline_and_says_so():
    result = pipelines.run(goog_btc(shared_cash=True))
    record = result.manifest["data"]["portfolio_periods_per_year"]
    assert 252.0 == record["value"]  # GOOG's days plus BTCUSD's month ends: weekdays only, one bar a day
    assert ("inferred from the union of the symbols' times (2293 timestamps): daily bars on weekdays only: "
            "252 a year") == record["from"]
    assert ["shared-cash portfolios mix calendars (BTCUSD: 12, GOOG: 252): their metrics annualise with the 252 "
            "periods a year of the timeline they are marked on, from the union of the symbols' times (2293 "
            "timestamps): daily bars on weekdays only: 252 a year"] == result.manifest["data"]["warnings"]
    assert "portfolio_periods_per_year" not in pipelines.run(goog_btc()).manifest["data"]


def test_periods_per_year_set_in_the_spec_is_recorded_as_set():
    result = pipelines.run({**goog_btc(), "data": {**goog_btc()["data"], "periods_per_year": 365}})
    assert {"value": 365.0, "from": "set: data.periods_per_year"} == result.manifest["data"]["periods_per_year"]["BTCUSD"]


# --------------------------------------------------------------------------------------------
# Time zones and trading days

DAILY_RULES = {"portfolio": {"fractional": True, "direction": "long_short"},
               "execution": {"order_type": "limit", "limit_offset": 0.001, "time_in_force": "day"},
               "risk": {"daily_loss_limit": 0.003},
               "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [2, 3], "slow_period": 5}}]}


def sydney_hours(n=120):
    """Hourly local times in Sydney (+11:00 in January) from 06:00, so every day crosses UTC midnight."""
    start = datetime(2021, 1, 4, 6)
    return [start + timedelta(hours=i) for i in range(n)]


def zigzag(n=120, seed=5):
    rng = np.random.default_rng(seed)
    return np.round(100 * np.cumprod(1 + rng.normal(0, 0.004, n)), 2).tolist()


def local_rows(table: pa.Table) -> list[dict]:
    """Result rows with times as local wall-clock times and NaN comparable (the aware copy's times
    are tagged with its zone; the naive copy's are the same local times)."""
    def cell(v):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        return v.replace(tzinfo=None) if isinstance(v, datetime) else v
    return [{k: cell(v) for k, v in row.items() if k != "symbol"} for row in table.to_pylist()]


def test_daily_rules_use_the_markets_day_not_the_utc_date(tmp_path):
    # issue 19 item 2: with +11:00 offsets the daily loss limit and day orders used UTC dates
    times, closes = sydney_hours(), zigzag()
    opens = [closes[0]] + closes[:-1]
    aware = write_bars(tmp_path / "aware.csv", [t.isoformat() + "+11:00" for t in times], closes, opens=opens)
    naive = write_bars(tmp_path / "naive.csv", [t.isoformat() for t in times], closes, opens=opens)
    one, two = (pipelines.run({"data": {"path": p, "symbol": "X"}, **DAILY_RULES}) for p in (aware, naive))
    assert local_rows(two.results) == local_rows(one.results)
    assert sum(one.results.column("n_rejected").to_pylist()) > 0  # the loss limit did refuse entries
    assert "+11:00" == one.trades.schema.field("entry_time").type.tz


def test_written_times_keep_the_zone_of_the_input(tmp_path):
    times, closes = sydney_hours(60), zigzag(60)
    path = write_bars(tmp_path / "aware.csv", [t.isoformat() + "+11:00" for t in times], closes)
    spec = {"data": {"path": path, "symbol": "X"}, **DAILY_RULES, "workflow": {"type": "optimization"}}
    result = pipelines.run(spec, out=tmp_path / "run", equity=True, trace=True)
    for name, column in (("trades", "entry_time"), ("trades", "exit_time"), ("equity", "time")):
        assert "+11:00" == pq.read_schema(tmp_path / "run" / f"{name}.parquet").field(column).type.tz
    assert "+11:00" == result.events.schema.field("time").type.tz
    assert datetime(2021, 1, 4, 6, tzinfo=timezone(timedelta(hours=11))) == result.equity.column("time")[0].as_py()
    store = pipelines.generate_signals({"data": {"path": path, "symbol": "X"}, **DAILY_RULES})
    assert "+11:00" == store.signals.schema.field("time").type.tz
    assert "+11:00" == result.manifest["data"]["timezone"]


def test_walk_forward_windows_keep_the_zone(tmp_path):
    times, closes = sydney_hours(120), zigzag(120)
    path = write_bars(tmp_path / "aware.csv", [t.isoformat() + "+11:00" for t in times], closes)
    result = pipelines.run({"data": {"path": path, "symbol": "X"}, **DAILY_RULES,
                            "workflow": {"type": "walk_forward", "train_bars": 60, "test_bars": 30}})
    for column in ("train_start", "train_end", "test_start", "test_end"):
        assert "+11:00" == result.windows.schema.field(column).type.tz
    assert datetime(2021, 1, 4, 6, tzinfo=timezone(timedelta(hours=11))) == result.windows.column("train_start")[0].as_py()


def test_a_zone_aware_parquet_column_keeps_its_zone(tmp_path):
    instants = np.array(["2021-03-12T14:30", "2021-03-15T13:30"], "datetime64[ns]")  # 09:30 New York, both
    table = pa.table({"time": pa.array(instants, pa.timestamp("ns", "America/New_York")), "open": [1.0, 2.0],
                      "high": [1.0, 2.0], "low": [1.0, 2.0], "close": [1.0, 2.0], "volume": [1.0, 1.0]})
    pq.write_table(table, tmp_path / "x.parquet")
    bars = load_market_data(DataSpec(path=str(tmp_path / "x.parquet")))["x"]
    assert "America/New_York" == bars.timezone
    assert instants.tolist() == bars.time.tolist()
    assert ["2021-03-12T09:30", "2021-03-15T09:30"] == np.datetime_as_string(bars.local_time, "m").tolist()


def test_varying_offsets_without_a_zone_are_written_in_utc_and_said(tmp_path):
    rows = ["2021-10-02T10:00+10:00", "2021-10-04T10:00+11:00"]  # Sydney's daylight saving began in between
    data = load_market_data(DataSpec(path=write_bars(tmp_path / "x.csv", rows, [1.0, 1.0])))
    assert "UTC" == data.timezone
    assert ["2021-10-02", "2021-10-04"] == data["x"].day.astype("datetime64[D]").astype(str).tolist()
    note = data.warnings[0]  # (then: two bars two days apart are an estimated calendar)
    assert ("x: the UTC offsets of its times vary, so its zone is unknown: times are written in UTC; set "
            "data.timezone to write them in the market's zone") == note
    named = load_market_data(DataSpec(path=str(tmp_path / "x.csv"), timezone="Australia/Sydney"))
    assert "Australia/Sydney" == named.timezone and data.warnings[1:] == named.warnings


def test_naive_times_are_local_times_of_data_timezone(tmp_path):
    rows = ["2021-03-13 09:30", "2021-03-15 09:30"]  # New York moved its clocks on the 14th
    bars = load_market_data(DataSpec(path=write_bars(tmp_path / "x.csv", rows, [1.0, 1.0]),
                                     timezone="America/New_York"))["x"]
    assert ["2021-03-13T14:30", "2021-03-15T13:30"] == np.datetime_as_string(bars.time, "m").tolist()
    with pytest.raises(DataError) as info:
        load_market_data(DataSpec(path=write_bars(tmp_path / "y.csv", ["2021-03-14 02:30"], [1.0]),
                                  timezone="America/New_York"))
    assert "line 2: 2021-03-14 02:30:00 does not exist in America/New_York" in str(info.value)


def fx_hours():
    """Hourly bars, as UTC instants, from Sunday 22:00 UTC (17:00 New York in winter) for 3 weeks over
    New York's clock change (Sunday March 14th): the FX week runs Sunday 17:00 to Friday 17:00 New York."""
    start = datetime(2021, 3, 1, 22)  # the Sunday evening before: 2021-02-28 17:00 New York is 22:00 UTC
    out = []
    for week in range(3):
        opening = start + timedelta(days=7 * week) - timedelta(days=1) - timedelta(hours=1 if week >= 2 else 0)
        out += [opening + timedelta(hours=h) for h in range(120)]
    return out


def test_a_session_keeps_its_trading_days_across_a_daylight_saving_change(tmp_path):
    times = fx_hours()
    path = write_bars(tmp_path / "fx.csv", [t.isoformat() + "Z" for t in times], [1.0] * len(times))
    data = load_market_data(DataSpec(path=path, session_start="17:00", session_timezone="America/New_York"))
    bars = data["fx"]
    local = bars.time.astype("datetime64[m]").astype(datetime) - np.array(
        [timedelta(hours=4 if t >= datetime(2021, 3, 14, 7) else 5) for t in times])
    day = bars.day.astype("datetime64[D]").astype(datetime)
    # every day starts at 17:00 New York, before and after the change (21:00 UTC after, 22:00 before)
    starts = np.flatnonzero(np.diff(bars.day)) + 1
    assert {17} == {local[i].hour for i in starts}
    assert {0, 1, 2, 3, 4} == {d.weekday() for d in day}  # Monday to Friday
    assert {(local[i] + timedelta(hours=7)).date() for i in range(len(times))} == set(day.tolist())
    assert 24 * 252 == data.periods_per_year
    assert "inferred: 24 bars a trading day (the median) × 252 trading days (weekdays only)" == data.rule


def test_date_bounds_and_splits_are_trading_days(tmp_path):
    times = fx_hours()
    path = write_bars(tmp_path / "fx.csv", [t.isoformat() + "Z" for t in times], [1.0] * len(times))
    session = {"session_start": "17:00", "session_timezone": "America/New_York"}
    bars = load_market_data(DataSpec(path=path, start="2021-03-16", end="2021-03-16", **session))["fx"]
    # Tuesday's trading day: Monday 17:00 to Tuesday 17:00 New York (21:00 to 21:00 UTC after the change)
    assert ("2021-03-15T21:00", "2021-03-16T20:00", 24) == (
        np.datetime_as_string(bars.time[0], "m"), np.datetime_as_string(bars.time[-1], "m"), len(bars))
    from pipelines.engine.signals import split_index
    whole = load_market_data(DataSpec(path=path, **session))["fx"]
    first_test = split_index(("train_end", "2021-03-16"), whole)
    assert "2021-03-16T21:00" == np.datetime_as_string(whole.time[first_test], "m")


def test_zones_that_do_not_mix_are_refused_or_said(tmp_path):
    naive = write_bars(tmp_path / "a.csv", ["2021-01-04", "2021-01-05"], [1.0, 1.0])
    aware = write_bars(tmp_path / "b.csv", ["2021-01-04T00:00+01:00", "2021-01-05T00:00+01:00"], [1.0, 1.0])
    other = write_bars(tmp_path / "c.csv", ["2021-01-04T00:00-05:00", "2021-01-05T00:00-05:00"], [1.0, 1.0])
    with pytest.raises(SpecError) as info:
        load_market_data(DataSpec(paths=(("A", naive), ("B", aware))))
    assert str(info.value).startswith("data.timezone: the times of A have no zone but those of B have one")
    both = load_market_data(DataSpec(paths=(("B", aware), ("C", other))))
    assert "UTC" == both.timezone
    assert both.warnings[-1].startswith("the symbols' zones differ (B: +01:00, C: -05:00)")
    assert [both["B"].day[0], both["C"].day[0]] == [np.datetime64("2021-01-04", "D").astype(np.int64)] * 2


@pytest.mark.parametrize("data, message", [
    ("{timezone: Mars/Olympus}", "data.timezone='Mars/Olympus': must be an IANA time zone name"),
    ("{session: {start: 25:00}}", "data.session.start='25:00': must be a time of day"),
    ("{session: {start: '17:00', timezone: EST5}}", "data.session.timezone='EST5': must be an IANA"),
    ("{session: {open: '17:00'}}", "data.session.open: unknown key"),
])
def test_bad_zones_and_sessions_are_spec_errors(data, message):
    with pytest.raises(SpecError) as info:
        pipelines.spec_from_text(f"data: {data}\nstrategies: [{{type: momentum}}]")
    assert str(info.value).startswith(message)


def test_a_session_zone_needs_the_zone_of_naive_times(tmp_path):
    path = write_bars(tmp_path / "x.csv", ["2021-01-04 10:00", "2021-01-04 11:00"], [1.0, 1.0])
    with pytest.raises(SpecError) as info:
        load_market_data(DataSpec(path=path, session_start="17:00", session_timezone="America/New_York"))
    assert "data.session.timezone: " in str(info.value) and "set data.timezone" in str(info.value)


# --------------------------------------------------------------------------------------------
# Data checks


def split_series(tmp_path, name="s.csv", at=30, ratio=0.5, n=60):
    """Daily weekday bars whose prices are not adjusted for a split before bar ``at``."""
    days = [d for d in (datetime(2021, 1, 4) + timedelta(days=i) for i in range(2 * n)) if d.weekday() < 5][:n]
    closes = [round(100 + (i % 5), 2) * (1 if i < at else ratio) for i in range(n)]
    return write_bars(tmp_path / name, [d.date().isoformat() for d in days], closes), days[at]


def test_a_split_like_jump_is_flagged_naming_the_file_line_and_bar(tmp_path, capsys):
    path, when = split_series(tmp_path)
    data = load_market_data(DataSpec(path=path, symbol="ACME"))
    assert (f"ACME ({path}, line 32, {when.date()}): opens at 50 after closing at 104 (×0.481), a split-like "
            "jump no other symbol made; it is traded as given: check that the prices are split-adjusted",) == data.warnings
    from pipelines.cli.main import main
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"data: {{path: {path}, symbol: ACME}}\nstrategies: [{{type: momentum}}]\n")
    assert 0 == main(["run", str(spec), "--out", str(tmp_path / "run")])
    assert f"admf: warning: {data.warnings[0]}\n" == capsys.readouterr().err
    manifest = __import__("json").loads((tmp_path / "run" / "manifest.json").read_text())
    assert list(data.warnings) == manifest["data"]["warnings"]


def test_a_jump_other_symbols_make_too_is_a_market_move(tmp_path):
    one, _ = split_series(tmp_path, "a.csv", ratio=0.45)
    two, _ = split_series(tmp_path, "b.csv", ratio=0.6)  # the same bar, a fall at least half as deep
    assert () == load_market_data(DataSpec(paths=(("A", one), ("B", two)))).warnings
    alone, _ = split_series(tmp_path, "c.csv", at=20)
    flagged = load_market_data(DataSpec(paths=(("A", one), ("C", alone)))).warnings  # bars 30 and 20: alone each
    assert [("A (", "line 32"), ("C (", "line 22")] == [(w[:3], w.split(", ")[1]) for w in flagged]


def test_the_bundled_data_has_no_split_like_jump():
    for name in ("GOOG", "EURUSD", "BTCUSD"):
        assert not [w for w in load_market_data(DataSpec(dataset=name)).warnings if "split-like" in w]


def test_an_estimated_calendar_is_said_and_a_session_makes_it_exact():
    (note,) = load_market_data(DataSpec(dataset="EURUSD")).warnings
    assert note.startswith("EURUSD: 6,205.22 periods a year, bars per elapsed year (4999 bar spacings over 0.8056 "
                           "years of 365.25 days): 16% of the trading days fall on a weekend")
    assert note.endswith("set data.session (when a trading day begins, in data.timezone) or data.periods_per_year "
                         "to be exact")
    fx = load_market_data(DataSpec(dataset="EURUSD", timezone="UTC", session_start="17:00",
                                   session_timezone="America/New_York"))
    assert (24 * 252.0, ()) == (fx.periods_per_year, fx.warnings)
    assert () == load_market_data(DataSpec(dataset="EURUSD", periods_per_year=6048)).warnings


# --------------------------------------------------------------------------------------------
# Fees: every round trip pays its entry's and its exit's commission


def leg_fee(model: dict, size: float, price: float) -> float:
    """One fill's commission under a model, by hand."""
    notional = size * price
    rate = model.get("commission", 0.0)
    for bound, tier_rate in model.get("commission_tiers") or ():
        if notional >= bound:
            rate = tier_rate
    fee = rate * notional + model.get("commission_per_share", 0.0) * size + model.get("commission_fixed", 0.0)
    return max(model.get("commission_min", 0.0), fee)


@pytest.mark.parametrize("model", [
    {"commission": 0.002},
    {"commission_per_share": 0.05, "commission_min": 5.0},
    {"commission_tiers": [[0, 0.003], [10_500, 0.001]]},
    {"commission_fixed": 7.5},
    {"commission": 0.001, "commission_per_share": 0.01, "commission_fixed": 1.0, "commission_min": 4.0},
])
def test_every_round_trip_pays_the_entry_and_exit_commission(model):
    spec = {"data": {"dataset": "GOOG", "end": "2008-12-31"}, "execution": model,
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 30}}]}
    result = pipelines.run(spec)
    trades = [t for t in result.trades.to_pylist() if t["exit_time"] is not None]
    assert len(trades) > 10
    for t in trades:
        fees = t["size"] * (t["exit_price"] - t["entry_price"]) - t["pnl"]
        expected = leg_fee(model, t["size"], t["entry_price"]) + leg_fee(model, t["size"], t["exit_price"])
        assert pytest.approx(expected, rel=1e-9) == fees
        if set(model) == {"commission"}:
            notional = t["size"] * (t["entry_price"] + t["exit_price"])
            assert pytest.approx(notional * model["commission"], rel=1e-12) == fees


def test_reversals_split_a_proportional_commission_by_units():
    spec = {"data": {"dataset": "GOOG", "end": "2008-12-31"}, "execution": {"commission": 0.002},
            "portfolio": {"direction": "long_short"},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 30}}]}
    trades = [t for t in pipelines.run(spec).trades.to_pylist() if t["exit_time"] is not None]
    assert {1.0, -1.0} == {math.copysign(1.0, t["size"]) for t in trades}
    for t in trades:
        fees = t["size"] * (t["exit_price"] - t["entry_price"]) - t["pnl"]
        assert pytest.approx(abs(t["size"]) * (t["entry_price"] + t["exit_price"]) * 0.002, rel=1e-9) == fees


def test_a_late_gappy_symbol_makes_no_shared_cash_metric_nan(tmp_path):
    days = [datetime(2021, 1, 4) + timedelta(days=i) for i in range(200)]
    days = [d for d in days if d.weekday() < 5]
    rng = np.random.default_rng(11)
    a = np.round(100 * np.cumprod(1 + rng.normal(0, 0.01, len(days))), 2).tolist()
    b = np.round(50 * np.cumprod(1 + rng.normal(0, 0.01, len(days))), 2).tolist()
    keep = [i for i in range(len(days)) if 30 <= i < 120 and not 60 <= i < 75]  # late start, a gap, early end
    one = write_bars(tmp_path / "a.csv", [d.date().isoformat() for d in days], a)
    two = write_bars(tmp_path / "b.csv", [days[i].date().isoformat() for i in keep], [b[i] for i in keep])
    result = pipelines.run({"data": {"paths": {"A": one, "B": two}}, "portfolio": {"shared_cash": True},
                            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [3, 5],
                                                                                    "slow_period": 10}}]})
    for row in result.results.to_pylist():
        assert all(not (isinstance(v, float) and math.isnan(v)) for v in row.values() if v is not None), row


def test_a_bars_time_labels_the_whole_bar(tmp_path, author):
    # the signal at bar 0's close fills at bar 1's open: the trade carries bar 1's label; equity at
    # a bar's label is marked at that bar's close
    author("semantics_hold", HOLD)
    times = ["2024-01-08 10:00", "2024-01-08 11:00", "2024-01-08 12:00"]
    spec = {**hold_spec(write_bars(tmp_path / "x.csv", times, [100.0, 110.0, 121.0], opens=[100.0, 105.0, 115.0])),
            "execution": {"fill": "next_open"}}
    result = pipelines.run(spec, equity=True)
    (trade,) = result.trades.to_pylist()
    assert (datetime(2024, 1, 8, 11), 105.0) == (trade["entry_time"], trade["entry_price"])
    assert [10_000.0, 10_000.0 / 105.0 * 110.0, 10_000.0 / 105.0 * 121.0] == pytest.approx(
        result.equity.column("equity").to_pylist(), rel=1e-12)


def test_close_stamped_bars_start_their_session_one_minute_later(tmp_path):
    # bars stamped at their close: the bar stamped 17:00 (16:00 to 17:00) ends the old session
    times = ["2024-01-08 16:00", "2024-01-08 17:00", "2024-01-08 18:00"]
    path = write_bars(tmp_path / "x.csv", times, [1.0, 1.0, 1.0])
    opened = load_market_data(DataSpec(path=path, session_start="17:00"))["x"].day
    closed = load_market_data(DataSpec(path=path, session_start="17:01"))["x"].day
    assert [0, 1, 1] == (opened - opened[0]).tolist()
    assert [0, 0, 1] == (closed - closed[0]).tolist()
