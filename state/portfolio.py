"""States and settings of the per-lane parts of a backtest, each with a leading lane axis.

Row ``i`` of every array belongs to one lane (one parameter combination on one symbol). Drivers
take, slice or scatter rows; the step functions in ``fp`` compute on whole rows at once.
"""
from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from state.events import OrderApproved

__all__ = ["SIZING", "LaneSettings", "LaneState", "PortfolioState", "RiskLimits", "RiskWatch"]

#: How a lane sizes the position an order asks for (``LaneSettings.sizing`` codes): a fraction of
#: equity (the target's magnitude; volatility, ATR and Kelly sizers scale the target), a fixed
#: number of units, or a fixed amount of cash (``LaneSettings.size``).
SIZING: tuple[str, ...] = ("equity", "units", "cash")


def _rows(state, index):
    return type(state)(**{f.name: _take(getattr(state, f.name), index) for f in attrs.fields(type(state))})


def _take(value, index):
    if value is None or isinstance(value, frozenset):
        return value
    return value.rows(index) if hasattr(value, "rows") else value[index]


@attrs.frozen(eq=False)
class PortfolioState:
    """Cash and the position held, one row per lane.

    Only what decisions need is state. Equity (``cash + position * price``), trades and their
    pnl are derived from the fills and the market by ``fp.ledger``, so they cannot drift from
    the cash that explains them.
    """

    cash: np.ndarray
    position: np.ndarray

    @classmethod
    def initial(cls, initial_cash: np.ndarray) -> "PortfolioState":
        """Flat portfolios holding ``initial_cash``."""
        cash = np.array(initial_cash, dtype=np.float64)
        return cls(cash, np.zeros_like(cash))

    def rows(self, index) -> "PortfolioState":
        """The states of the lanes selected by ``index`` (a slice or an integer array)."""
        return _rows(self, index)

    def __len__(self) -> int:
        return int(self.cash.shape[0])


@attrs.frozen(eq=False)
class LaneSettings:
    """What each lane's portfolio, risk and execution are configured to do (fixed per run).

    ``fraction`` is the share of equity a full signal (target ±1) invests (1 = all in);
    ``whole`` trades whole units; ``long_only`` turns short targets into flat;
    ``max_position`` caps the absolute units held (``inf`` = no cap); ``commission`` is a fraction
    of traded value paid on every fill; ``slippage`` a fraction of price against the trader;
    ``fill_on_close`` fills at the signal bar's close instead of the next bar's open.

    ``sizing`` indexes :data:`SIZING` (``None``: every lane sizes by equity) with ``size`` the
    units or cash of the fixed sizers; ``costs`` is the full ``fp.costs.CostModel`` when some lane
    pays more than a proportional commission and slippage (per share, minimum, fixed, tiered,
    fixed slippage, market impact, a participation cap; its ``rate`` and ``slippage`` equal
    ``commission`` and ``slippage``), ``limits`` the :class:`RiskLimits` when some lane has one.

    ``uniform`` records which settings hold for every row (``"whole"``, ``"all_in"``,
    ``"uncapped"``, ``"long_short"``, and ``"plain"``: equity sizing, proportional costs and no
    risk limit but ``max_position``); steps use it to skip work that is the identity for every
    row. It is derived at construction and stays valid for any subset of rows.
    """

    initial_cash: np.ndarray
    fraction: np.ndarray
    whole: np.ndarray
    long_only: np.ndarray
    max_position: np.ndarray
    commission: np.ndarray
    slippage: np.ndarray
    fill_on_close: np.ndarray
    sizing: np.ndarray | None = None
    size: np.ndarray | None = None
    costs: Any = None
    limits: "RiskLimits | None" = None
    uniform: frozenset = attrs.field(default=None, converter=attrs.Converter(
        lambda value, self: _uniform(self) if value is None else value, takes_self=True))

    def rows(self, index) -> "LaneSettings":
        """The settings of the lanes selected by ``index`` (a slice or an integer array)."""
        return LaneSettings(*(_take(getattr(self, f.name), index) for f in attrs.fields(LaneSettings)[:-1]),
                            uniform=self.uniform)

    def __len__(self) -> int:
        return int(self.initial_cash.shape[0])


def _uniform(s: LaneSettings) -> frozenset:
    facts = {
        "whole": bool(np.all(s.whole)),
        "all_in": bool(np.all(s.fraction == 1.0)),
        "uncapped": bool(np.all(np.isinf(s.max_position))),
        "long_short": not bool(np.any(s.long_only)),
        "plain": s.costs is None and s.limits is None and (s.sizing is None or not np.any(s.sizing)),
    }
    return frozenset(k for k, v in facts.items() if v)


@attrs.frozen(eq=False)
class RiskLimits:
    """Each lane's risk limits (NaN: no limit), checked against every order when it is sized.

    Position limits for one symbol: ``max_position_value`` (currency), ``max_position_pct``
    (fraction of equity). Portfolio limits: ``max_gross_exposure`` and ``max_net_exposure``
    (currency: the sum of absolute position values, the absolute sum of signed ones),
    ``max_leverage`` (gross exposure / equity), ``max_concentration`` (one symbol's share of the
    gross exposure, for portfolios of several symbols). Halts: ``daily_loss`` (a fraction of the
    day's starting equity: once lost, no new entries until the next day) and ``max_drawdown``
    (a fraction of the equity peak: once reached, no new entries for the rest of the run).
    ``restricted``: the symbol may not be bought or sold short at all.
    """

    max_position_value: np.ndarray
    max_position_pct: np.ndarray
    max_gross_exposure: np.ndarray
    max_net_exposure: np.ndarray
    max_leverage: np.ndarray
    max_concentration: np.ndarray
    daily_loss: np.ndarray
    max_drawdown: np.ndarray
    restricted: np.ndarray

    def rows(self, index) -> "RiskLimits":
        return _rows(self, index)

    @property
    def watches(self) -> bool:
        """Some lane halts on losses, so the fold tracks equity peaks and days (:class:`RiskWatch`)."""
        return bool(np.any(~np.isnan(self.daily_loss)) or np.any(~np.isnan(self.max_drawdown)))


@attrs.frozen(eq=False)
class RiskWatch:
    """What the loss halts remember of each lane's past: the equity ``peak`` (marked at every close
    and quote so far), the current trading ``day`` and the equity it started with, the day a
    daily-loss halt applies to (-1: none) and whether the drawdown halt has tripped."""

    peak: np.ndarray
    day: np.ndarray
    day_start: np.ndarray
    halt_day: np.ndarray
    halted: np.ndarray

    @classmethod
    def initial(cls, initial_cash: np.ndarray) -> "RiskWatch":
        cash = np.array(initial_cash, dtype=np.float64)
        n = len(cash)
        return cls(cash.copy(), np.full(n, -1, np.int64), cash.copy(), np.full(n, -1, np.int64), np.zeros(n, bool))

    def rows(self, index) -> "RiskWatch":
        return _rows(self, index)


@attrs.frozen(eq=False)
class LaneState:
    """The state a backtest container folds, rows aligned across its parts: each lane's settings,
    portfolio, and the order waiting in its execution book (``None`` when no row waits).

    ``watch`` is what risk's loss halts track (:class:`RiskWatch`, ``None`` without halts);
    ``working`` the target of an order the participation cap left partly unfilled, per lane
    (NaN: none; ``None`` when no lane has a cap).

    Drivers pass only rows that all have the event being folded, so a pending order is a batch
    for every row or for none.
    """

    settings: LaneSettings
    portfolio: PortfolioState
    pending: OrderApproved | None = None
    watch: RiskWatch | None = None
    working: np.ndarray | None = None

    def rows(self, index) -> "LaneState":
        return LaneState(self.settings.rows(index), self.portfolio.rows(index), None if self.pending is None else _rows(self.pending, index),
                         _take(self.watch, index), _take(self.working, index))

    def __len__(self) -> int:
        return len(self.portfolio)
