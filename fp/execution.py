"""Execution: market orders wait in each lane's book and fill against the next quote.

The fill model (one rule set, documented in the README):

* a market order submitted on bar ``t``'s close fills at bar ``t+1``'s open (``next_open``,
  the default) or at bar ``t``'s close (``close``); an order submitted on the last bar never fills;
* slippage moves the price against the trader by ``slippage`` (a fraction; ``slippage_bps / 1e4``)
  and is clipped to the fill bar's [low, high] range, so no fill is outside the bar;
* the order's target is a signed fraction of equity: the part of the position on the wrong side
  is closed first, then the new size is ``equity × |target| × fraction / (price × (1 + commission))``
  with equity marked at the quote after the close, rounded down to whole units unless fractional
  (the floor of the exact quotient, as Python's ``//``), capped by ``max_quantity``; a reversal is
  one fill whose quantity closes the old position and opens the new one;
* commission is ``|quantity| × price × commission`` on every fill;
* an order that would open a position from flat but sizes to zero units is rejected
  (``insufficient_cash``, or ``risk_max_position`` when the cap is zero).
"""
from __future__ import annotations

import numpy as np

from fp.steps import settings_only
from state.events import REJECTION_REASONS, FillQuote, OrderApproved, OrderFilled, OrderRejected
from state.portfolio import LaneSettings, LaneState

__all__ = ["accept_order", "fill_pending", "quote"]

_INSUFFICIENT_CASH = REJECTION_REASONS.index("insufficient_cash")
_MAX_POSITION = REJECTION_REASONS.index("risk_max_position")


def quote(settings: LaneSettings, bar: np.ndarray, price: np.ndarray, low: np.ndarray, high: np.ndarray) -> FillQuote:
    """The quote orders meet at ``bar``: reference price, and buy/sell prices after slippage.

    Shapes broadcast, so a driver may quote one round or every round of every lane at once.
    Without slippage the buy and the sell price are the reference price itself (one array).
    """
    slip = settings.slippage
    if not np.any(slip):
        return FillQuote(bar, price, price, price)
    return FillQuote(bar, price, np.minimum(price * (1.0 + slip), high), np.maximum(price * (1.0 - slip), low))


@settings_only
def accept_order(state: LaneState, event: OrderApproved) -> tuple[LaneState, tuple]:
    """Put approved orders in the lanes' books until the next quote (reads nothing of the state)."""
    return LaneState(state.settings, state.portfolio, event), ()


def fill_pending(state: LaneState, event: FillQuote) -> tuple[LaneState, tuple]:
    """Fill every row's pending order against the quote (see the module docstring for the rules)."""
    order = state.pending
    s, p = state.settings, state.portfolio
    c, uniform = s.commission, s.uniform
    buy, sell = event.buy_price, event.sell_price
    one_price = buy is sell
    position, target = p.position, order.target
    side = np.sign(target)
    # close the part of the position on the wrong side of the target (all of it when going flat)
    held = position * (np.sign(position) == side)
    closed = position - held
    proceeds = closed * (buy if one_price else np.where(closed < 0.0, buy, sell))
    cash = p.cash + proceeds - np.abs(proceeds) * c
    # size the target on the equity after the close, marked at the quote
    wanted = (cash + held * event.price) * np.abs(target)
    if "all_in" not in uniform:
        wanted = wanted * s.fraction
    unit_cost = (buy if one_price else np.where(side > 0.0, buy, sell)) * (1.0 + c)
    if "whole" in uniform:
        units = np.floor_divide(wanted, unit_cost)
    else:
        units = np.where(s.whole, np.floor_divide(wanted, unit_cost), wanted / unit_cost)
    units = np.maximum(units, 0.0)
    if "uncapped" not in uniform:
        units = np.minimum(units, order.max_quantity)
    new_position = side * units
    quantity = new_position - position
    price = buy if one_price else np.where(quantity > 0.0, buy, sell)
    filled = OrderFilled(order.lane, event.bar, quantity, price, np.abs(quantity) * price * c)
    done = LaneState(s, p, None)
    if np.count_nonzero(new_position) == np.count_nonzero(side):
        return done, (filled,)  # every order that wanted a position got one
    rejected = np.flatnonzero((new_position == 0.0) & (side != 0.0) & (held == 0.0))
    if not len(rejected):
        return done, (filled,)
    if "uncapped" in s.uniform:
        reason = np.full(len(rejected), _INSUFFICIENT_CASH, np.int8)
    else:
        reason = np.where(order.max_quantity[rejected] == 0.0, _MAX_POSITION, _INSUFFICIENT_CASH).astype(np.int8)
    return done, (filled, OrderRejected(order.lane[rejected], event.bar[rejected], reason))
