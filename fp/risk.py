"""Risk: a stateless review of every order, when it is submitted and when it is sized.

``review_order(state, OrderSubmitted) -> (state, (OrderApproved,))`` (settings only): a
long-only lane's short target becomes flat (its long is closed, no short is opened), and
``max_position`` becomes the order's quantity cap.

:func:`review_fill` decides, when execution has sized an order at its quote, how much of it the
limits leave (``state.portfolio.RiskLimits``): position caps in units, value and share of equity;
portfolio caps on gross and net exposure, leverage and concentration; restricted symbols (no room
at all); and the loss halts (daily loss, drawdown) that stop new entries. It is a pure function of the order, the portfolio's
numbers and the limits; it returns a :class:`state.events.RiskDecision` per order.

Laws: the position an approved order leaves never exceeds any cap at its fill price; an order
never increases exposure while a halt holds; reducing orders (exits, going flat) are never blocked.
"""
from __future__ import annotations

import numpy as np

from fp.steps import settings_only
from state.events import REJECTION_REASONS, OrderApproved, OrderSubmitted, RiskDecision
from state.portfolio import LaneState, RiskLimits

__all__ = ["review_fill", "review_order"]

_CAP_REASONS = np.array([REJECTION_REASONS.index(r) for r in (
    "risk_max_position", "risk_max_position_value", "risk_max_position_pct", "risk_max_gross_exposure",
    "risk_max_net_exposure", "risk_max_leverage", "risk_max_concentration", "restricted")], np.int8)


@settings_only
def review_order(state: LaneState, event: OrderSubmitted) -> tuple[LaneState, tuple]:
    """Approve every order, turning short targets flat for long-only lanes and capping quantity."""
    s = state.settings
    target = event.target
    if "long_short" not in s.uniform:
        target = np.where(s.long_only & (target < 0.0), 0.0, target)
    return state, (OrderApproved(event.lane, event.bar, target, np.broadcast_to(s.max_position, np.shape(target)),
                                 event.kind),)


def review_fill(limits: RiskLimits | None, max_quantity: np.ndarray, lane: np.ndarray, bar: np.ndarray,
                side: np.ndarray, requested: np.ndarray, held: np.ndarray, price: np.ndarray, equity: np.ndarray,
                halt: np.ndarray | None = None, whole: np.ndarray | bool = False, others_gross: np.ndarray | None = None,
                others_net: np.ndarray | float = 0.0) -> RiskDecision:
    """How much of each order the limits allow, at its quote.

    ``requested`` is the absolute position (units) the order wants on ``side``; ``held`` the
    absolute position the portfolio already holds on that side; ``price`` the quote, ``equity``
    the portfolio's equity there; ``halt`` a rejection code per row while a loss halt holds (-1
    none); ``others_gross`` / ``others_net`` the exposure the portfolio holds in *other* symbols
    (``None``: a one-symbol portfolio, where concentration does not apply; a position is
    concentrated only beside others: the first one a portfolio opens is not capped by it). ``allowed`` is
    ``min(requested, caps)``, floored to whole units where ``whole``, and never above ``held``
    while halted; an order is not ``approved`` when it wanted more exposure and gets none.

    >>> from state.portfolio import RiskLimits
    >>> nan = np.array([np.nan])
    >>> limits = RiskLimits(np.array([5_000.0]), nan, nan, nan, nan, nan, nan, nan, np.array([False]))
    >>> d = review_fill(limits, np.array([np.inf]), np.array([0]), np.array([7]), np.array([1.0]),
    ...                 np.array([80.0]), np.array([0.0]), np.array([100.0]), np.array([10_000.0]), whole=True)
    >>> d.allowed.tolist(), [REJECTION_REASONS[r] for r in d.reason], d.approved.tolist(), d.portfolio_id.tolist()
    ([50.0], ['risk_max_position_value'], [True], [0])
    """
    caps = [np.broadcast_to(max_quantity, np.shape(requested))]
    if limits is not None:
        others = 0.0 if others_gross is None else others_gross
        with np.errstate(divide="ignore", invalid="ignore"):
            caps += [_cap(limits.max_position_value / price), _cap(limits.max_position_pct * equity / price),
                     _cap((limits.max_gross_exposure - others) / price),
                     _cap((limits.max_net_exposure - side * others_net) / price),
                     _cap((limits.max_leverage * equity - others) / price),
                     np.where(others > 0.0, _cap(limits.max_concentration * others / (1.0 - limits.max_concentration)
                                                 / price), np.inf)
                     if others_gross is not None else np.full(np.shape(requested), np.inf),
                     np.where(limits.restricted, 0.0, np.inf)]
    stacked = np.vstack(caps)
    room = np.maximum(np.min(stacked, axis=0), 0.0)
    room = np.where(whole, np.floor(room), room)
    allowed = np.minimum(requested, room)
    reason = np.where(room < requested, _CAP_REASONS[np.argmin(stacked, axis=0)], -1).astype(np.int8)
    if halt is not None:
        halted = (halt >= 0) & (requested > held)
        allowed = np.where(halted, np.minimum(allowed, held), allowed)
        reason = np.where(halted, halt, reason).astype(np.int8)
    approved = ~((requested > held) & (allowed <= held) & (requested > 0.0))
    return RiskDecision(lane, bar, approved, reason, requested, allowed)


def _cap(units: np.ndarray) -> np.ndarray:
    """A limit in units; NaN (no limit) becomes ``inf``."""
    return np.where(np.isnan(units), np.inf, units)
