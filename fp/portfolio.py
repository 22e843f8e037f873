"""Portfolio reducers: a changed signal becomes an order; a fill moves cash and position.

Each function is a step ``(state, event) -> (state, events)`` over :class:`state.LaneState`
rows aligned with the event's rows (one row per lane).

Law (conservation): after every fill, ``cash' = cash - quantity * price - commission`` and
``position' = position + quantity``; so at every bar ``equity = cash + position * close``.
"""
from __future__ import annotations

from fp.steps import settings_only
from state.events import OrderFilled, OrderSubmitted, SignalChanged
from state.portfolio import LaneState, PortfolioState

__all__ = ["apply_fill", "submit_order"]


@settings_only
def submit_order(state: LaneState, event: SignalChanged) -> tuple[LaneState, tuple[OrderSubmitted]]:
    """A lane whose signal changed asks to move its position to the new target."""
    return state, (OrderSubmitted(event.lane, event.bar, event.target),)


def apply_fill(state: LaneState, event: OrderFilled) -> tuple[LaneState, tuple]:
    """Pay for a fill: cash falls by quantity × price plus commission; the position grows by quantity."""
    p = state.portfolio
    portfolio = PortfolioState(p.cash - event.quantity * event.price - event.commission, p.position + event.quantity)
    return LaneState(state.settings, portfolio, state.pending), ()
