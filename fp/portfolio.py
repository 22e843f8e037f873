"""Portfolio reducers: a fill moves cash and position (orders come from ``fp.orders``).

Each function is a step ``(state, event) -> (state, events)`` over :class:`state.LaneState`
rows aligned with the event's rows (one row per lane).

Law (conservation): after every fill, ``cash' = cash - quantity * price - commission`` and
``position' = position + quantity``; so at every bar ``equity = cash + position * close``.
"""
from __future__ import annotations

from state.events import OrderFilled
from state.portfolio import LaneState, PortfolioState

__all__ = ["apply_fill"]


def apply_fill(state: LaneState, event: OrderFilled) -> tuple[LaneState, tuple]:
    """Pay for a fill: cash falls by quantity × price plus commission; the position grows by quantity."""
    p = state.portfolio
    portfolio = PortfolioState(p.cash - event.quantity * event.price - event.commission, p.position + event.quantity)
    return LaneState(state.settings, portfolio, state.pending, state.watch, state.working), ()
