"""States and settings of the per-lane parts of a backtest, each with a leading lane axis.

Row ``i`` of every array belongs to one lane (one parameter combination on one symbol). Drivers
take, slice or scatter rows; the step functions in ``fp`` compute on whole rows at once.
"""
from __future__ import annotations

import attrs
import numpy as np

from state.events import OrderApproved

__all__ = ["LaneSettings", "LaneState", "PortfolioState"]


def _rows(state, index):
    return type(state)(**{f.name: getattr(state, f.name)[index] for f in attrs.fields(type(state))})


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

    ``uniform`` records which settings hold for every row (``"whole"``, ``"all_in"``,
    ``"uncapped"``, ``"long_short"``); steps use it to skip work that is the identity for every
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
    uniform: frozenset = attrs.field(default=None, converter=attrs.Converter(
        lambda value, self: _uniform(self) if value is None else value, takes_self=True))

    def rows(self, index) -> "LaneSettings":
        """The settings of the lanes selected by ``index`` (a slice or an integer array)."""
        return LaneSettings(*(getattr(self, f.name)[index] for f in attrs.fields(LaneSettings)[:-1]),
                            uniform=self.uniform)

    def __len__(self) -> int:
        return int(self.initial_cash.shape[0])


def _uniform(s: LaneSettings) -> frozenset:
    facts = {
        "whole": bool(np.all(s.whole)),
        "all_in": bool(np.all(s.fraction == 1.0)),
        "uncapped": bool(np.all(np.isinf(s.max_position))),
        "long_short": not bool(np.any(s.long_only)),
    }
    return frozenset(k for k, v in facts.items() if v)


@attrs.frozen(eq=False)
class LaneState:
    """The state a backtest container folds, rows aligned across its parts: each lane's settings,
    portfolio, and the order waiting in its execution book (``None`` when no row waits).

    Drivers pass only rows that all have the event being folded, so a pending order is a batch
    for every row or for none.
    """

    settings: LaneSettings
    portfolio: PortfolioState
    pending: OrderApproved | None = None

    def rows(self, index) -> "LaneState":
        pending = None if self.pending is None else _rows(self.pending, index)
        return LaneState(self.settings.rows(index), self.portfolio.rows(index), pending)

    def __len__(self) -> int:
        return len(self.portfolio)
