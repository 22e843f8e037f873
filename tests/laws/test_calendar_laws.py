"""Laws of calendars and time zones (``docs/semantics.md``; issue 19 items 1 and 2, issue 17).

- own calendar: a symbol's results and trades in a multi-symbol run (not shared cash) equal its
  results and trades run alone, whatever the other symbols' calendars, gaps, late starts or early
  ends — and the data's own gaps never make a metric of a moving equity curve NaN;
- zone-free: the same bars written with a UTC offset and as naive local times give identical
  results and trades (their times the same wall-clock times), daily rules included;
- zone-named: bars written with their own (daylight-saving) offsets and the same bars as naive
  local times read with ``data.timezone`` give identical results, trades and written times.

Every example writes CSV files and runs specs through ``pipelines.run``: the loader's inference
of calendars and zones is part of what is tested.
"""
import math
import tempfile
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from law_harness import laws

import pipelines
from fp.testing import bars
from state.market import Bars

LAWS = laws(15)
CALENDARS = ("crypto_daily", "stock_daily", "hourly", "stock_hours", "monthly")
START = datetime(2021, 1, 4)  # a Monday


def times_of(calendar: str, n: int, offset_days: int) -> list[datetime]:
    """``n`` bar times of a calendar, starting ``offset_days`` after a Monday."""
    start = START + timedelta(days=offset_days)
    if calendar == "crypto_daily":
        return [start + timedelta(days=i) for i in range(n)]
    if calendar == "hourly":
        return [start + timedelta(hours=i) for i in range(n)]
    if calendar == "monthly":
        return [datetime(2015 + (start.month + i - 1) // 12, (start.month + i - 1) % 12 + 1, 28) for i in range(n)]
    days = [start + timedelta(days=i) for i in range(3 * n) if (start + timedelta(days=i)).weekday() < 5]
    if calendar == "stock_daily":
        return days[:n]
    return [d + timedelta(hours=9, minutes=30 + 60 * h) for d in days for h in range(7)][:n]


def csv_text(times, b, *, written=str) -> str:
    rows = [f"{written(t)},{float(o)!r},{float(h)!r},{float(lo)!r},{float(c)!r},{float(v)!r}"
            for t, o, h, lo, c, v in zip(times, b.open, b.high, b.low, b.close, b.volume)]
    return "\n".join(["time,open,high,low,close,volume", *rows]) + "\n"


def rows_of(table, symbol) -> list:
    return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_pylist() if r["symbol"] == symbol]


def results_by_symbol(result, symbol) -> tuple[list, list]:
    rows = rows_of(result.results, symbol)
    trades = [{k: v for k, v in t.items()} for t in result.trades.to_pylist() if t["symbol"] == symbol]
    return rows, trades


SETTINGS = {"portfolio": {"fractional": True, "direction": "long_short", "sizing": ["fixed_fraction", "volatility"],
                          "sizing_lookback": 3, "target_volatility": 0.3},
            "execution": {"commission": 0.001, "order_type": ["market", "limit"], "limit_offset": 0.002,
                          "time_in_force": "day"},
            "risk": {"daily_loss_limit": 0.01},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 2, "slow_period": [4, 6]}}]}


@st.composite
def two_symbols(draw):
    """Two symbols on drawn calendars; the second with a gap, a late start or an early end."""
    out = []
    for symbol in ("A", "B"):
        calendar = draw(st.sampled_from(CALENDARS))
        series = draw(bars(min_size=8, max_size=50, precision=2, symbol=symbol))
        times = times_of(calendar, len(series), draw(st.integers(0, 40)))
        keep = np.ones(len(series), bool)
        if symbol == "B":
            cut = draw(st.sampled_from(["gap", "late", "early", "none"]))
            k = draw(st.integers(1, max(1, len(series) // 3)))
            if cut == "gap":
                at = draw(st.integers(1, len(series) - 1))
                keep[at:at + k] = False
            elif cut == "late":
                keep[:k] = False
            elif cut == "early":
                keep[-k:] = False
        index = np.flatnonzero(keep)
        kept = Bars(symbol, series.time[index], series.open[index], series.high[index], series.low[index],
                    series.close[index], series.volume[index], series.price_precision)
        out.append((symbol, [times[i] for i in index], kept))
    return out


@LAWS
@given(two_symbols())
def test_a_symbol_in_a_multi_symbol_run_equals_the_symbol_alone(drawn):
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for symbol, times, kept in drawn:
            paths[symbol] = str(Path(folder) / f"{symbol}.csv")
            Path(paths[symbol]).write_text(csv_text(times, kept))
        together = pipelines.run({"data": {"paths": paths}, **SETTINGS}, equity=True)
        swapped = pipelines.run({"data": {"paths": dict(reversed(list(paths.items())))}, **SETTINGS})
        for symbol, path in paths.items():
            alone = pipelines.run({"data": {"path": path, "symbol": symbol}, **SETTINGS})
            assert results_by_symbol(alone, symbol) == results_by_symbol(together, symbol)
            assert results_by_symbol(alone, symbol) == results_by_symbol(swapped, symbol)
        # bad data never makes a metric NaN: where a lane's equity moved, its statistics exist
        curves = together.equity.to_pylist()
        for row in together.results.to_pylist():
            equity = np.array([c["equity"] for c in curves if c["combo_id"] == row["combo_id"]
                               and c["symbol"] == row["symbol"]])
            for name in ("final_equity", "total_return_pct", "cagr_pct", "max_drawdown_pct", "exposure_pct"):
                assert not math.isnan(row[name]), (name, row)
            returns = equity[1:] / equity[:-1] - 1.0
            if len(returns) > 1 and np.std(returns) > 0:
                assert not math.isnan(row["sharpe"]), row


@st.composite
def local_bars(draw):
    """Hourly bars crossing local midnights, and a fixed UTC offset they are local to."""
    series = draw(bars(min_size=10, max_size=80, precision=2))
    minutes = draw(st.sampled_from([11 * 60, -5 * 60, 5 * 60 + 30, -9 * 60 - 30]))
    start = datetime(2021, 3, 1) + timedelta(hours=draw(st.integers(0, 23)))
    step = timedelta(minutes=draw(st.sampled_from([60, 90, 240])))
    return series, [start + i * step for i in range(len(series))], minutes


def offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def wall_clock(table: pa.Table, column: str) -> list:
    """A time column as wall-clock times (aware columns in their own zone), naive datetimes."""
    values = table.column(column)
    if values.type.tz is not None:
        values = pa.compute.local_timestamp(values)
    return values.to_pylist()


def same_results(a, b) -> None:
    times = ("start", "end", "ruin_time")
    assert rows_of(a.results.drop(times), "X") == rows_of(b.results.drop(times), "X")
    for column in times:
        assert wall_clock(a.results, column) == wall_clock(b.results, column)
    assert a.trades.drop(["entry_time", "exit_time"]).equals(b.trades.drop(["entry_time", "exit_time"]))
    for column in ("entry_time", "exit_time"):
        assert wall_clock(a.trades, column) == wall_clock(b.trades, column)


@LAWS
@given(local_bars())
def test_zone_aware_and_naive_local_copies_give_identical_results(drawn):
    series, times, minutes = drawn
    with tempfile.TemporaryDirectory() as folder:
        aware, naive = Path(folder) / "aware.csv", Path(folder) / "naive.csv"
        aware.write_text(csv_text(times, series, written=lambda t: t.isoformat() + offset_text(minutes)))
        naive.write_text(csv_text(times, series, written=lambda t: t.isoformat()))
        results = [pipelines.run({"data": {"path": str(p), "symbol": "X"}, **SETTINGS}, equity=True)
                   for p in (aware, naive)]
    same_results(*results)
    assert offset_text(minutes) == results[0].equity.schema.field("time").type.tz
    assert wall_clock(results[0].equity, "time") == wall_clock(results[1].equity, "time")


@st.composite
def bars_across_daylight_saving(draw):
    """Bars every 1 to 5 hours over a daylight-saving change of a named zone (instants in UTC)."""
    series = draw(bars(min_size=10, max_size=80, precision=2))
    zone, change = draw(st.sampled_from([("America/New_York", datetime(2021, 3, 14, 7)),
                                         ("Australia/Sydney", datetime(2021, 10, 2, 16)),
                                         ("Europe/London", datetime(2021, 3, 28, 1))]))
    step = timedelta(hours=draw(st.integers(1, 5)))
    start = change - step * draw(st.integers(1, len(series)))
    instants = [(start + i * step).replace(tzinfo=timezone.utc) for i in range(len(series))]
    return series, zone, instants


@LAWS
@given(bars_across_daylight_saving())
def test_own_offsets_and_naive_local_times_in_a_named_zone_give_identical_results(drawn):
    series, zone, instants = drawn
    local = [t.astimezone(zoneinfo.ZoneInfo(zone)) for t in instants]
    with tempfile.TemporaryDirectory() as folder:
        aware, naive = Path(folder) / "aware.csv", Path(folder) / "naive.csv"
        aware.write_text(csv_text(local, series, written=lambda t: t.isoformat()))
        naive.write_text(csv_text(local, series, written=lambda t: t.replace(tzinfo=None).isoformat()))
        one = pipelines.run({"data": {"path": str(aware), "symbol": "X", "timezone": zone}, **SETTINGS})
        two = pipelines.run({"data": {"path": str(naive), "symbol": "X", "timezone": zone}, **SETTINGS})
    assert results_by_symbol(one, "X") == results_by_symbol(two, "X")
    assert zone == one.trades.schema.field("entry_time").type.tz
