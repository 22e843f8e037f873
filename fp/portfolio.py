"""Portfolio reducers: a fill moves cash and position (orders come from ``fp.orders``).

Each function is a step ``(state, event) -> (state, events)`` over :class:`state.LaneState`
rows aligned with the event's rows (one row per lane).

Law (conservation): after every fill, ``cash' = cash - quantity * price - commission`` and
``position' = position + quantity``; so at every bar ``equity = cash + position * close``. The one
change that is not a fill is a ruin's write-off (:func:`apply_ruin`): the account is emptied.
"""
from __future__ import annotations

import numpy as np

from state.events import OrderFilled, PortfolioRuined
from state.portfolio import LaneState, PortfolioState

__all__ = ["apply_fill", "apply_ruin"]


def apply_fill(state: LaneState, event: OrderFilled) -> tuple[LaneState, tuple]:
    """Pay for a fill: cash falls by quantity × price plus commission; the position grows by quantity."""
    p = state.portfolio
    portfolio = PortfolioState(p.cash - event.quantity * event.price - event.commission, p.position + event.quantity)
    return LaneState(state.settings, portfolio, state.pending, state.watch, state.working), ()


def apply_ruin(state: LaneState, event: PortfolioRuined) -> tuple[LaneState, tuple]:
    """Ruin empties the account: the position is closed at the close (``quantity`` at ``price``,
    no costs) and the deficit that leaves is written off, so cash and position are 0."""
    p = state.portfolio
    empty = PortfolioState(np.zeros_like(p.cash), np.zeros_like(p.position))
    return LaneState(state.settings, empty, state.pending, state.watch, state.working), ()
