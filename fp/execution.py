"""Execution: orders wait in each lane's book and fill against the quote the schedule gives them.

When and at what reference price an order fills is decided before the fold (``fp.orders``: the
next open, the signal's close, a limit or stop level, an exit); here the order is sized, checked
by risk and paid for. The rules (documented in the README):

* slippage moves the price against the trader by ``slippage`` (a fraction; ``slippage_bps / 1e4``)
  — plus, with a cost model, a fixed amount per unit and market impact growing with the order's
  share of the bar's volume — and is clipped to the fill bar's [low, high] range, so no fill is
  outside the bar; limit fills (limit entries, stop-limits, take-profits) get no slippage;
* the order's target is a signed fraction of equity: the part of the position on the wrong side
  is closed first, then the new size is ``equity × |target| × fraction / (price × (1 + commission))``
  with equity marked at the quote after the close, rounded down to whole units unless fractional
  (the floor of the exact quotient, as Python's ``//``); fixed-units and fixed-cash sizers ask
  for ``size × |target|`` units or cash instead (never more than equity affords), and with a cost
  model the size is the largest whose price and commission fit (``fp.costs.affordable_units``);
  a reversal is one fill whose quantity closes the old position and opens the new one;
* risk then caps the size (``max_position``, and ``fp.risk.review_fill`` for the other limits and
  the loss halts); with a participation cap, one bar fills at most ``participation × volume``
  units and the order keeps working toward its target on the following bars;
* commission is ``|quantity| × price × commission`` on every fill, or the cost model's
  (per share with a minimum, tiered, fixed per order);
* an order that would open a position from flat but sizes to zero units is rejected
  (``insufficient_cash``, or the risk limit that left no room).
"""
from __future__ import annotations

import attrs
import numpy as np

from fp.costs import affordable_units, commission, fill_price, fillable_units
from fp.risk import review_fill
from fp.triggers import first_trailing_hit
from fp.steps import settings_only
from state.events import REJECTION_REASONS, FillQuote, OrderApproved, OrderFilled, OrderRejected
from state.orders import ORDER_KINDS
from state.portfolio import SIZING, LaneSettings, LaneState, RiskWatch

__all__ = ["accept_order", "fill_pending", "quote"]

_INSUFFICIENT_CASH = REJECTION_REASONS.index("insufficient_cash")
_MAX_POSITION = REJECTION_REASONS.index("risk_max_position")
_DAILY_LOSS = REJECTION_REASONS.index("daily_loss")
_MAX_DRAWDOWN = REJECTION_REASONS.index("max_drawdown")
_CONTINUATION = ORDER_KINDS.index("continuation")
_UNITS, _CASH = SIZING.index("units"), SIZING.index("cash")


def quote(slippage: np.ndarray, bar: np.ndarray, price: np.ndarray, low: np.ndarray, high: np.ndarray) -> FillQuote:
    """The quote orders meet at ``bar``: reference price, and buy/sell prices after slippage.

    Shapes broadcast, so a driver may quote one round or every round of every lane at once.
    Without slippage the buy and the sell price are the reference price itself (one array).
    """
    if not np.any(slippage):
        return FillQuote(bar, price, price, price)
    return FillQuote(bar, price, np.minimum(price * (1.0 + slippage), high), np.maximum(price * (1.0 - slippage), low))


@settings_only
def accept_order(state: LaneState, event: OrderApproved) -> tuple[LaneState, tuple]:
    """Put approved orders in the lanes' books until the next quote (reads nothing of the state)."""
    return LaneState(state.settings, state.portfolio, event, state.watch, state.working), ()


def fill_pending(state: LaneState, event: FillQuote) -> tuple[LaneState, tuple]:
    """Fill every row's pending order against the quote (see the module docstring for the rules).

    Lanes with equity sizing, proportional costs and no limit but ``max_position`` (``"plain"``)
    take a short path; the general one gives them the same fills bit for bit.
    """
    if "plain" not in state.settings.uniform:
        return _fill(state, event)
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
        units = np.minimum(units, np.where(s.whole, np.floor(order.max_quantity), order.max_quantity))
    new_position = side * units
    quantity = new_position - position
    price = buy if one_price else np.where(quantity > 0.0, buy, sell)
    filled = OrderFilled(order.lane, event.bar, quantity, price, np.abs(quantity) * price * c)
    done = LaneState(s, p, None)
    if np.count_nonzero(new_position) == np.count_nonzero(side):
        return done, (filled,)  # every order that wanted a position got one
    rejected = np.nonzero((new_position == 0.0) & (side != 0.0) & (held == 0.0))[0]
    if not len(rejected):
        return done, (filled,)
    if "uncapped" in s.uniform:
        reason = np.full(len(rejected), _INSUFFICIENT_CASH, np.int8)
    else:
        reason = np.where(order.max_quantity[rejected] == 0.0, _MAX_POSITION, _INSUFFICIENT_CASH).astype(np.int8)
    return done, (filled, OrderRejected(order.lane[rejected], event.bar[rejected], reason))


def _fill(state: LaneState, event: FillQuote) -> tuple[LaneState, tuple]:
    """The general fill: sizers, cost models, risk limits and halts, participation."""
    order, s, p = state.pending, state.settings, state.portfolio
    position, cash, ref = p.position, p.cash, event.price
    target = order.target
    idle = np.zeros(len(target), bool)
    if state.working is not None and order.kind is not None:
        continuing = order.kind == _CONTINUATION
        idle = continuing & np.isnan(state.working)
        target = np.where(continuing, np.nan_to_num(state.working), target)
    watch, halt = _watch(state, event)
    side = np.sign(target)
    held = position * (np.sign(position) == side)
    closing = position - held
    closed_price = _price(s, event, -closing)
    cash_after_close = cash + closing * closed_price - _fee(s, -closing, closed_price)
    equity = cash_after_close + held * ref + _others(event)
    magnitude = np.abs(target)
    budget = equity * magnitude if "all_in" in s.uniform else equity * magnitude * s.fraction
    sizing = s.sizing
    if sizing is not None and np.any(sizing == _CASH):
        budget = np.where(sizing == _CASH, np.minimum(s.size * magnitude, equity), budget)
    requested = _affordable(s, event, budget, side)
    if sizing is not None and np.any(sizing == _UNITS):
        units = np.where(s.whole, np.floor(s.size * magnitude), s.size * magnitude)
        requested = np.where(sizing == _UNITS, np.minimum(units, _affordable(s, event, equity, side)), requested)
    if event.others_value is not None:  # a shared-cash portfolio: a buy spends only the cash it has
        requested = np.where(side > 0.0, np.minimum(requested, held + _affordable(s, event, cash_after_close, side)),
                             requested)
    requested = np.where(side != 0.0, requested, 0.0)
    decision = review_fill(s.limits, order.max_quantity, order.lane, event.bar, side, requested, np.abs(held), ref,
                           cash + position * ref + _others(event), halt, s.whole, others_gross=event.others_gross,
                           others_net=0.0 if event.others_net is None else event.others_net)
    quantity = np.where(idle, 0.0, side * decision.allowed - position)
    working = state.working
    if working is not None:
        part = fillable_units(s.costs, quantity, event.volume, whole=s.whole)
        working = np.where(part != quantity, target, np.nan)
        quantity = part
    price = _price(s, event, quantity)
    fee = _fee(s, quantity, price)
    filled = OrderFilled(order.lane, event.bar, quantity, price, fee, quantity * (price - ref))
    done = LaneState(s, p, None, watch, working)
    refused = ~idle & (side != 0.0) & (held == 0.0) & (decision.allowed == 0.0)
    if not np.any(refused):
        return done, (filled,)
    rows = np.nonzero(refused)[0]
    reason = np.where(decision.reason[rows] >= 0, decision.reason[rows],
                      np.where(order.max_quantity[rows] == 0.0, _MAX_POSITION, _INSUFFICIENT_CASH)).astype(np.int8)
    return done, (filled, OrderRejected(order.lane[rows], event.bar[rows], reason))


def _watch(state: LaneState, event: FillQuote) -> tuple[RiskWatch | None, np.ndarray | None]:
    """The loss halts' memory brought up to the quote, and each row's halt code (-1: none).

    Equity is judged at every close since the lane's previous quote (the bars ``[since, bar)``,
    where the position was constant) and at this quote. The drawdown halt trips, for good, once
    equity is ``max_drawdown`` below its peak so far: between quotes that is a trailing stop on
    the closes (a constant position's equity is ``cash + position × close``), found with
    ``fp.triggers.first_trailing_hit``. The daily-loss halt holds for the rest of a trading day
    once equity at one of its closes (or a quote) is ``daily_loss`` below the day's opening
    equity (equity at the previous day's last close).
    """
    watch = state.watch
    if watch is None:
        return None, None
    limits, p = state.settings.limits, state.portfolio
    cash, position = p.cash, p.position
    now = cash + position * event.price + _others(event)
    drawdown = limits.max_drawdown
    if event.equity_high is not None:  # a portfolio: its driver marked equity between quotes
        best, worst_today, opening = event.equity_high, event.equity_low_today, event.day_equity
        halted = watch.halted | event.drawdown_hit
        halted |= now <= np.fmax(watch.peak, np.fmax(best, now)) * (1.0 - drawdown)
    else:
        holding = position != 0.0
        long = position > 0.0
        with np.errstate(invalid="ignore"):
            best = np.where(holding, cash + position * np.where(long, event.mark_high, event.mark_low), cash)
            worst_today = np.where(holding, cash + position * np.where(long, event.day_low, event.day_high), cash)
        opening = cash + position * event.day_close
        halted = watch.halted | (now <= np.fmax(watch.peak, np.fmax(best, now)) * (1.0 - drawdown))
        search = ~halted & ~np.isnan(drawdown) & holding & (event.since < event.bar)
        if np.any(search):
            rows = np.flatnonzero(search)
            q, c, d = position[rows], cash[rows], drawdown[rows]
            hit, _ = first_trailing_hit(event.closes, event.closes, event.since[rows], event.bar[rows],
                                        (watch.peak[rows] - c) / q, np.sign(q), fraction=np.where(q > 0.0, d, -d),
                                        offset=d * c / np.abs(q))
            halted[rows] |= hit < event.bar[rows]
    peak = np.fmax(watch.peak, np.fmax(best, now))
    new_day = event.day != watch.day
    day_start = np.where(new_day & ~np.isnan(opening), opening, watch.day_start)
    lost = np.fmin(worst_today, now) <= day_start * (1.0 - limits.daily_loss)
    halt_day = np.where(lost, event.day, np.where(new_day, -1, watch.halt_day))
    halt = np.where(halted, _MAX_DRAWDOWN, np.where(halt_day == event.day, _DAILY_LOSS, -1)).astype(np.int8)
    return RiskWatch(peak, np.asarray(event.day, np.int64), day_start, halt_day, halted), halt


def _others(event: FillQuote) -> np.ndarray | float:
    """The value of a portfolio's holdings in its other symbols (0 for one-symbol lanes)."""
    return 0.0 if event.others_value is None else event.others_value


def _price(s: LaneSettings, event: FillQuote, quantity: np.ndarray) -> np.ndarray:
    """The price a fill of ``quantity`` gets at the quote (with the lanes' slippage and impact)."""
    if s.costs is None:
        return event.buy_price if event.buy_price is event.sell_price else np.where(
            quantity > 0.0, event.buy_price, event.sell_price)
    priced = fill_price(s.costs, np.where(quantity < 0.0, -1.0, 1.0), event.price, quantity, event.volume,
                        event.low, event.high)
    return np.where(event.slipped, priced, event.price)


def _fee(s: LaneSettings, quantity: np.ndarray, price: np.ndarray) -> np.ndarray:
    if s.costs is None:
        return np.abs(quantity) * price * s.commission
    return commission(s.costs, quantity, price)


def _affordable(s: LaneSettings, event: FillQuote, budget: np.ndarray, side: np.ndarray) -> np.ndarray:
    """The most units ``budget`` buys (or sells short) at the quote, after slippage and commission."""
    if s.costs is None:
        unit_cost = (event.buy_price if event.buy_price is event.sell_price else
                     np.where(side > 0.0, event.buy_price, event.sell_price)) * (1.0 + s.commission)
        units = np.where(s.whole, np.floor_divide(budget, unit_cost), budget / unit_cost)
        return np.maximum(units, 0.0)
    costs = s.costs
    if not np.all(event.slipped):  # limit fills pay no slippage or impact
        costs = attrs.evolve(costs, slippage=costs.slippage * event.slipped,
                             slippage_fixed=costs.slippage_fixed * event.slipped,
                             impact=costs.impact * event.slipped, uniform=None)
    sided = np.where(side < 0.0, event.sell_price, event.buy_price)
    reference = np.where(costs.rate_only, sided, event.price)
    return affordable_units(costs, budget, reference, np.where(side < 0.0, -1.0, 1.0), event.volume, event.low,
                            event.high, s.whole)
