"""Events of the backtest fold, in past tense, batched over lanes.

Every event here is a *batch*: its arrays have one row per lane it concerns (``lane`` holds the
lane ids, ``bar`` the bar index where it happened). One record per kind and round, never one
Python object per lane and bar. Rows of a batch may carry a zero quantity, meaning "nothing
happened for this lane"; sinks drop those rows. Trades are not events: they are derived from the
fills (``fp.ledger``).
"""
from __future__ import annotations

import attrs
import numpy as np

__all__ = [
    "REJECTION_REASONS",
    "FeaturesComputed",
    "FillQuote",
    "OrderApproved",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "PortfolioRuined",
    "RiskDecision",
    "SignalChanged",
]

#: Codes of ``OrderRejected.reason`` and ``RiskDecision.reason``; the index in this tuple is the code.
#: ``insufficient_cash``: the order sizes to zero units; ``risk_*``: the limit of that name
#: (``fp.risk``) leaves no room; ``daily_loss`` / ``max_drawdown``: new entries are halted;
#: ``restricted``: the symbol may not be traded.
REJECTION_REASONS: tuple[str, ...] = (
    "insufficient_cash", "risk_max_position", "risk_max_position_value", "risk_max_position_pct",
    "risk_max_gross_exposure", "risk_max_net_exposure", "risk_max_leverage", "risk_max_concentration",
    "daily_loss", "max_drawdown", "restricted")


@attrs.frozen(eq=False)
class SignalChanged:
    """A lane's target changed at the close of ``bar`` (signed fraction of equity, 0 = flat)."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray


@attrs.frozen(eq=False)
class OrderSubmitted:
    """A portfolio asks for an order moving its position to ``target`` (signed fraction of equity,
    0 = flat); the quantity is sized when the order fills, at the fill price. ``kind`` indexes
    ``state.orders.ORDER_KINDS`` (``None``: market orders) — an order type, or the exit that
    submitted it."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray
    kind: np.ndarray | None = None


@attrs.frozen(eq=False)
class OrderApproved:
    """An order risk let through, possibly changed (a short target turned flat); ``max_quantity``
    caps the absolute position the fill may leave (``inf`` when no limit applies); ``kind`` as
    in :class:`OrderSubmitted`."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray
    max_quantity: np.ndarray
    kind: np.ndarray | None = None


@attrs.frozen(eq=False)
class FeaturesComputed:
    """The FeatureHub's values at the close of bar ``bar``: one tuple of outputs per feature key."""

    bar: int
    values: dict


@attrs.frozen(eq=False)
class FillQuote:
    """The market pending orders meet at ``bar``: the reference ``price`` (the scheduled fill
    price before slippage: an open, a close, or a limit or stop level) and the prices a buy and a
    sell actually get after proportional slippage, clipped to the bar's [low, high] range
    (``fp.execution.quote``).

    The optional fields are there when some lane needs them: the bar's ``volume``, ``low`` and
    ``high`` (market impact, participation), ``slipped`` (whether slippage applies to the row;
    limit fills get none); and for risk's loss halts: ``since``, the bar of the lane's previous
    quote, with the highest and lowest close of the bars ``[since, bar)`` (``mark_high``,
    ``mark_low``) and of those on the quote's trading day (``day_high``, ``day_low``), the trading
    ``day`` of the bar, ``day_close`` (the last close before that day), and ``closes``, the
    symbol's whole close series (shared by every row, for the drawdown search).

    In a shared-cash portfolio (``pipelines.engine.portfolios``) the quote also carries the value of the
    portfolio's holdings in its other symbols (``others_value``, ``others_gross``, ``others_net``)
    and, for the loss halts, the portfolio's equity between quotes as its driver marked it:
    ``equity_high``, ``equity_low_today``, ``drawdown_hit`` and ``day_equity`` (the day's opening
    equity), which then replace the one-symbol marks.
    """

    bar: np.ndarray
    price: np.ndarray
    buy_price: np.ndarray
    sell_price: np.ndarray
    volume: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    slipped: np.ndarray | None = None
    since: np.ndarray | None = None
    mark_high: np.ndarray | None = None
    mark_low: np.ndarray | None = None
    day: np.ndarray | None = None
    day_close: np.ndarray | None = None
    day_high: np.ndarray | None = None
    day_low: np.ndarray | None = None
    closes: np.ndarray | None = attrs.field(default=None, metadata={"shared": True})
    others_value: np.ndarray | None = None
    others_gross: np.ndarray | None = None
    others_net: np.ndarray | None = None
    equity_high: np.ndarray | None = None
    equity_low_today: np.ndarray | None = None
    drawdown_hit: np.ndarray | None = None
    day_equity: np.ndarray | None = None


@attrs.frozen(eq=False)
class OrderFilled:
    """Orders filled at ``bar``: signed ``quantity`` traded at ``price``, paying ``commission``.

    A reversal is one fill whose quantity first closes the old position, then opens the new one.
    ``slippage`` is what the fill paid to slippage and impact, ``quantity × (price − reference)``
    (already inside ``price``; ``None`` when no lane has any).
    """

    lane: np.ndarray
    bar: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray
    slippage: np.ndarray | None = None


@attrs.frozen(eq=False)
class OrderRejected:
    """Orders that could not be filled; ``reason`` codes index :data:`REJECTION_REASONS`."""

    lane: np.ndarray
    bar: np.ndarray
    reason: np.ndarray


@attrs.frozen(eq=False)
class OrderExpired:
    """Resting entry orders (limit, stop, stop-limit) that never filled: submitted at the close of
    ``bar``, they worked until bar ``until`` and were cancelled; ``kind`` as in :class:`OrderSubmitted`."""

    lane: np.ndarray
    bar: np.ndarray
    until: np.ndarray
    kind: np.ndarray


@attrs.frozen(eq=False)
class PortfolioRuined:
    """Lanes ruined at ``bar``: their equity marked at that bar's close was zero or below. The
    position was closed at the close ``price`` without costs (``quantity`` units traded, 0 when
    flat), the ``deficit`` (minus that equity, >= 0) written off so cash and equity are 0, and no
    order of a later bar reaches the market (``docs/semantics.md``, "Undefined statistics and ruin")."""

    lane: np.ndarray
    bar: np.ndarray
    price: np.ndarray
    quantity: np.ndarray
    deficit: np.ndarray


@attrs.frozen(eq=False)
class RiskDecision:
    """Risk's verdict on orders sized at their quote, one row per order (``lane`` is the portfolio).

    ``requested`` is the absolute position the order asked for, in units; ``allowed`` what the
    limits leave (``requested`` when none binds); ``approved`` is False when the order may not
    trade at all; ``reason`` indexes :data:`REJECTION_REASONS` (the binding limit), -1 when
    nothing bound.
    """

    lane: np.ndarray
    bar: np.ndarray
    approved: np.ndarray
    reason: np.ndarray
    requested: np.ndarray
    allowed: np.ndarray

    @property
    def portfolio_id(self) -> np.ndarray:
        """The portfolio each decision is about (its lane)."""
        return self.lane
