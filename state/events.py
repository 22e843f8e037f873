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
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "SignalChanged",
]

#: Codes of ``OrderRejected.reason``; the index in this tuple is the code.
REJECTION_REASONS: tuple[str, ...] = ("insufficient_cash", "risk_max_position")


@attrs.frozen(eq=False)
class SignalChanged:
    """A lane's target changed at the close of ``bar`` (signed fraction of equity, 0 = flat)."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray


@attrs.frozen(eq=False)
class OrderSubmitted:
    """A portfolio asks for a market order moving its position to ``target`` (signed fraction of
    equity, 0 = flat); the quantity is sized when the order fills, at the fill price."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray


@attrs.frozen(eq=False)
class OrderApproved:
    """An order risk let through, possibly changed (a short target turned flat); ``max_quantity``
    caps the absolute position the fill may leave (``inf`` when no limit applies)."""

    lane: np.ndarray
    bar: np.ndarray
    target: np.ndarray
    max_quantity: np.ndarray


@attrs.frozen(eq=False)
class FeaturesComputed:
    """The FeatureHub's values at the close of bar ``bar``: one tuple of outputs per feature key."""

    bar: int
    values: dict


@attrs.frozen(eq=False)
class FillQuote:
    """The market pending orders meet at ``bar``: the reference ``price`` (that bar's open, or
    the signal bar's close) and the prices a buy and a sell actually get after slippage, clipped
    to the bar's [low, high] range (``fp.execution.quote``)."""

    bar: np.ndarray
    price: np.ndarray
    buy_price: np.ndarray
    sell_price: np.ndarray


@attrs.frozen(eq=False)
class OrderFilled:
    """Orders filled at ``bar``: signed ``quantity`` traded at ``price``, paying ``commission``.

    A reversal is one fill whose quantity first closes the old position, then opens the new one.
    """

    lane: np.ndarray
    bar: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray


@attrs.frozen(eq=False)
class OrderRejected:
    """Orders that could not be filled; ``reason`` codes index :data:`REJECTION_REASONS`."""

    lane: np.ndarray
    bar: np.ndarray
    reason: np.ndarray
