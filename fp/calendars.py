"""Calendars: how many bars make a year of a timeline, inferred from its times and trading days.

Sharpe, Sortino and volatility are annualised with ``sqrt(periods per year)``; a wrong calendar
scales them by the wrong factor, so the rule is explicit and recorded with the value
(:class:`state.market.Annualisation`). From the median spacing of the bars and their trading
days (``Bars.day``, in the data's own zone and session):

* spacing of a day or less (daily and intraday bars): ``bars per trading day × trading days per
  year``, with bars per trading day the median count of bars in a trading day (1 for daily bars;
  a half day or a partial first day does not move it) and trading days per year

  - 252 when the trading days are weekdays only (at most 2 % of them on a Saturday or Sunday):
    the stock-market calendar;
  - 365 when at least a quarter of them fall on a weekend (7 days a week gives 2/7): crypto;
  - otherwise the calendar is irregular (a 6-day week, a Sunday-evening session counted as its
    own day): the bars per elapsed year below;

* about 7 days apart: 52 (weekly); 28 to 31 days: 12 (monthly); 365 or 366 days: 1 (yearly);
* any other spacing: bars per elapsed year, ``(n - 1) / years`` with a year of 365.25 days;
* fewer than two bars: 252.

Two hours of slack on each spacing absorb daylight-saving shifts of converted local times.
"""
from __future__ import annotations

import numpy as np

from state.errors import ArgumentError
from state.market import Annualisation

__all__ = ["ESTIMATED", "infer_annualisation"]

#: How the rule of an estimate begins: bars per elapsed year, where no calendar was recognised.
ESTIMATED = "inferred: bars per elapsed year"

_NS_PER_DAY = 86_400 * 10**9
_SECONDS_PER_YEAR = 365.25 * 86_400
_SLACK = 2 / 24  # days
_WEEKDAYS_ONLY = 0.02  # at most this share of trading days on a weekend
_EVERY_DAY = 0.25  # at least this share on a weekend


def infer_annualisation(time: np.ndarray, day: np.ndarray) -> Annualisation:
    """Bars per year of a strictly increasing timeline ``time`` whose bars fall on the trading
    days ``day`` (days since 1970-01-01, as ``Bars.day``), and the rule that gave it (see the
    module docstring).

    >>> days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    >>> crypto = days.astype("datetime64[ns]")
    >>> infer_annualisation(crypto, days.astype(np.int64))
    Annualisation(periods_per_year=365.0, rule='inferred: daily bars on every day of the week: 365 a year')
    >>> weekdays = days[np.is_busday(days)]
    >>> infer_annualisation(weekdays.astype("datetime64[ns]"), weekdays.astype(np.int64)).periods_per_year
    252.0
    """
    ns = np.asarray(time).astype("datetime64[ns]", copy=False).view(np.int64)
    if ns.size < 2:
        return Annualisation(252.0, "inferred: fewer than two bars, no spacing to infer from: 252 by default")
    elapsed = int(ns[-1]) - int(ns[0])
    if elapsed <= 0:
        raise ArgumentError("infer_annualisation needs increasing times")
    step = float(np.median(np.diff(ns))) / _NS_PER_DAY
    by_elapsed_year = (ns.size - 1) / (elapsed / 1e9 / _SECONDS_PER_YEAR)
    elapsed_rule = (f"{ESTIMATED} ({ns.size - 1} bar spacings over "
                    f"{elapsed / 1e9 / _SECONDS_PER_YEAR:.4g} years of 365.25 days)")
    if step <= 1 + _SLACK:
        return _by_trading_days(np.asarray(day, np.int64), by_elapsed_year, elapsed_rule)
    for length, lo, hi, per_year, name in ((7, 7 - _SLACK, 7 + _SLACK, 52.0, "weekly"),
                                           (30, 28 - _SLACK, 31 + _SLACK, 12.0, "monthly"),
                                           (365, 365 - _SLACK, 366 + _SLACK, 1.0, "yearly")):
        if lo <= step <= hi:
            return Annualisation(per_year, f"inferred: {name} bars: {per_year:g} a year")
    return Annualisation(by_elapsed_year, elapsed_rule + ": the spacing is neither daily, weekly, monthly nor yearly")


def _by_trading_days(day: np.ndarray, by_elapsed_year: float, elapsed_rule: str) -> Annualisation:
    """Daily and intraday bars: bars per trading day (median) × trading days per year."""
    step = np.diff(day)
    if np.all(step >= 0):  # trading days in order (always, but for offsets that jump back): no sort
        starts = np.concatenate(([0], np.flatnonzero(step) + 1))
        days, counts = day[starts], np.diff(np.append(starts, len(day)))
    else:
        days, counts = np.unique(day, return_counts=True)
    weekend = float(np.mean((days + 3) % 7 >= 5))  # 1970-01-01 was a Thursday: (d + 3) % 7 is 0 on Mondays
    if _WEEKDAYS_ONLY < weekend < _EVERY_DAY:
        return Annualisation(by_elapsed_year, elapsed_rule + f": {weekend:.0%} of the trading days fall on a weekend, "
                                                             "neither weekdays only nor every day")
    trading_days, calendar = (252.0, "weekdays only") if weekend <= _WEEKDAYS_ONLY else (365.0, "every day of the week")
    per_day = float(np.median(counts))
    if per_day == 1.0:
        return Annualisation(trading_days, f"inferred: daily bars on {calendar}: {trading_days:g} a year")
    return Annualisation(per_day * trading_days, f"inferred: {per_day:g} bars a trading day (the median) × "
                                                 f"{trading_days:g} trading days ({calendar})")
