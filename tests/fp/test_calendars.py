"""Tests of fp.calendars: bars per year from a timeline's spacing and trading days, each rule by hand."""
import numpy as np
import pytest

from fp.calendars import infer_annualisation
from state.market import Annualisation, Bars

DAY = np.timedelta64(1, "D")


def days(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[ns]")


def of(time: np.ndarray, *, session_start: int = 0, utc_offset=None) -> Annualisation:
    """The annualisation of bars at ``time`` (trading days as ``Bars.day`` gives them)."""
    ones = np.ones(len(time))
    bars = Bars("X", time, ones, ones, ones, ones, ones, session_start=session_start, utc_offset=utc_offset)
    return infer_annualisation(bars.time, bars.day)


def calendar_days(start: str, stop: str) -> np.ndarray:
    return np.arange(start, stop, dtype="datetime64[D]")


def test_daily_bars_on_every_day_of_the_week_are_crypto_365():
    found = of(calendar_days("2024-01-01", "2024-04-01").astype("datetime64[ns]"))
    assert Annualisation(365.0, "inferred: daily bars on every day of the week: 365 a year") == found


def test_daily_bars_on_weekdays_are_the_stock_calendar_252():
    time = calendar_days("2024-01-01", "2024-04-01")
    weekdays = time[np.is_busday(time)]
    holidays = np.delete(weekdays, [10, 30])  # holidays do not move it
    assert Annualisation(252.0, "inferred: daily bars on weekdays only: 252 a year") == of(holidays.astype("datetime64[ns]"))


def test_weekly_monthly_yearly():
    assert Annualisation(52.0, "inferred: weekly bars: 52 a year") == of(
        np.arange("2020-01-06", "2021-01-01", 7, dtype="datetime64[D]").astype("datetime64[ns]"))
    month_ends = np.arange("2020-02", "2022-02", dtype="datetime64[M]").astype("datetime64[D]") - 1
    assert Annualisation(12.0, "inferred: monthly bars: 12 a year") == of(month_ends.astype("datetime64[ns]"))
    assert 1.0 == of(days("2020-12-31", "2021-12-31", "2022-12-31")).periods_per_year


def test_stock_minute_bars_are_390_a_day_times_252():
    time = calendar_days("2024-01-01", "2024-02-01")
    sessions = time[np.is_busday(time)].astype("datetime64[ns]")
    minute = np.timedelta64(1, "m")
    bars = (sessions[:, None] + np.timedelta64(14 * 60 + 30, "m") + np.arange(390) * minute).ravel()
    bars = bars[: -180]  # the last day ends early (a half day): the median ignores it
    found = of(bars)
    assert 390 * 252 == found.periods_per_year
    assert "inferred: 390 bars a trading day (the median) × 252 trading days (weekdays only)" == found.rule


def test_continuous_minute_bars_are_1440_a_day_times_365():
    time = np.arange(0, 14 * 1440, dtype=np.int64).astype("datetime64[m]").astype("datetime64[ns]")
    assert 1440 * 365 == of(time).periods_per_year


def test_fx_hours_are_weekdays_with_a_session_and_irregular_without():
    # 24 hourly bars a day from Sunday 17:00 to Friday 17:00 (New York wall clock), four weeks
    start = np.datetime64("2024-01-07T17:00", "ns")
    hours = np.concatenate([start + np.timedelta64(7 * w, "D") + np.arange(120) * np.timedelta64(1, "h")
                            for w in range(4)])
    session = of(hours, session_start=17 * 3_600 * 10**9)
    assert 24 * 252 == session.periods_per_year  # Monday..Friday trading days
    by_date = of(hours)  # Sunday evenings are trading days of their own: 1 in 6 days on a weekend
    years = (hours[-1] - hours[0]) / np.timedelta64(1, "s") / (365.25 * 86_400)
    assert pytest.approx((len(hours) - 1) / years, rel=1e-12) == by_date.periods_per_year
    assert by_date.rule.startswith("inferred: bars per elapsed year (479 bar spacings over")
    assert by_date.rule.endswith(": 17% of the trading days fall on a weekend, neither weekdays only nor every day")


def test_trading_days_follow_the_local_zone():
    # hourly bars 13:00..22:00 UTC are 00:00..09:00 the next day in Sydney (+11:00): one trading day
    time = days("2024-01-01T13:00") + np.arange(10) * np.timedelta64(1, "h")
    offset = np.full(10, 11 * 3_600 * 10**9)
    ones = np.ones(10)
    bars = Bars("X", time, ones, ones, ones, ones, ones, utc_offset=offset)
    assert {np.datetime64("2024-01-02", "D").astype(np.int64)} == set(bars.day.tolist())


def test_irregular_spacing_uses_bars_per_elapsed_year():
    time = days("2020-01-01", "2020-04-01", "2020-07-01", "2020-10-01", "2021-01-01")  # quarterly
    years = (time[-1] - time[0]) / np.timedelta64(1, "s") / (365.25 * 86400)
    assert pytest.approx(4 / years, rel=1e-12) == of(time).periods_per_year


def test_a_single_bar_is_252():
    assert 252.0 == of(days("2020-01-01")).periods_per_year
