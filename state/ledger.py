"""Ledger records: what fills add up to."""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["Trades"]


@attrs.frozen(eq=False)
class Trades:
    """Round trips, one row each: entry and exit bar and price, signed size, pnl, closed or open."""

    lane: np.ndarray
    entry_bar: np.ndarray
    entry_price: np.ndarray
    exit_bar: np.ndarray
    exit_price: np.ndarray
    size: np.ndarray
    pnl: np.ndarray
    closed: np.ndarray

    def take(self, index) -> "Trades":
        return Trades(*(getattr(self, f.name)[index] for f in attrs.fields(Trades)))

    def __len__(self) -> int:
        return int(self.size.shape[0])
