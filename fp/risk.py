"""Risk: a stateless review of each order against the lane's limits, before execution.

``review_order(state, OrderSubmitted) -> (state, (OrderApproved,))``: a long-only lane's short
target becomes flat (its long is closed, no short is opened), and ``max_position`` becomes the
order's quantity cap. Law: the position an approved order leaves never exceeds the cap.
"""
from __future__ import annotations

import numpy as np

from fp.steps import settings_only
from state.events import OrderApproved, OrderSubmitted
from state.portfolio import LaneState

__all__ = ["review_order"]


@settings_only
def review_order(state: LaneState, event: OrderSubmitted) -> tuple[LaneState, tuple[OrderApproved]]:
    """Approve every order, turning short targets flat for long-only lanes and capping quantity."""
    s = state.settings
    target = event.target
    if "long_short" not in s.uniform:
        target = np.where(s.long_only & (target < 0.0), 0.0, target)
    return state, (OrderApproved(event.lane, event.bar, target, np.broadcast_to(s.max_position, np.shape(target))),)
