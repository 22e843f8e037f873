"""Downsampling that keeps what a researcher looks for: extremes, drawdowns, the worst and best trades.

A chart of a million bars needs a few thousand points; thinning by a stride would drop the spike
or the crash a researcher is looking for. These functions choose *which* points to keep (as
sorted row indices) so the thinned series keeps them:

* :func:`extrema_indices` — the first and last point and, in each of equal-sized buckets, the lowest
  and the highest (per column of a 2-D array). The maximum and minimum of the series survive.
* :func:`drawdown_indices` — :func:`extrema_indices` plus, in each bucket, the point of its
  deepest drawdown and the running peak that drawdown is measured from. Law: the kept points
  have the same maximum drawdown as the whole curve, bit for bit.
* :func:`representative_rows` — for tables too long to mark in full (trades): the rows with the
  largest and smallest values, and an even spread of the rest.

Pure numpy; NaN values are never chosen as extremes unless a bucket holds nothing else.
"""
from __future__ import annotations

import numpy as np

__all__ = ["drawdown_indices", "extrema_indices", "representative_rows"]


def _bucket_size(n: int, buckets: int) -> int:
    """Rows per bucket so that ``buckets`` buckets cover ``n`` rows (the last may be shorter)."""
    return -(-n // buckets)


def _bucket_arg(values: np.ndarray, size: int, lowest: bool) -> np.ndarray:
    """Row of each ``size``-row bucket's lowest (or highest) value, NaN ignored (a bucket of NaN:
    its first row); the earliest row wins a tie. One pass over a (buckets × size) view."""
    n = len(values)
    buckets = _bucket_size(n, size)
    fill = np.inf if lowest else -np.inf
    padded = np.full(buckets * size, fill)
    padded[:n] = values
    padded[:n][np.isnan(values)] = fill
    rows = padded.reshape(buckets, size)
    at = rows.argmin(axis=1) if lowest else rows.argmax(axis=1)
    return np.minimum(np.arange(buckets) * size + at, n - 1)


def extrema_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted rows to keep of ``values`` (1-D, or 2-D with one series per column sharing the rows):
    every row when there are at most ``max_points``; else the first and last row and, in each of
    ``(max_points - 2) // (2 × columns)`` equal buckets, the rows of each column's lowest and
    highest value.

    >>> extrema_indices(np.array([5.0, 1.0, 2.0, 9.0, 3.0, 4.0, 0.0, 6.0, 7.0, 8.0]), 6).tolist()
    [0, 1, 3, 6, 9]
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    columns = values.reshape(n, -1)
    size = _bucket_size(n, max(1, (max_points - 2) // (2 * columns.shape[1])))
    keep = [np.array([0, n - 1])]
    for column in columns.T:
        keep += [_bucket_arg(column, size, True), _bucket_arg(column, size, False)]
    return np.unique(np.concatenate(keep))


def drawdown_indices(equity: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted rows to keep of an equity curve: :func:`extrema_indices` with half the budget, and in
    each bucket the row of its deepest drawdown and of the running peak before it.

    Law: ``max_drawdown(equity[kept]) == max_drawdown(equity)`` (the deepest drawdown's trough
    and its peak are both kept, and a subset of points cannot dig a deeper one).

    >>> drawdown_indices(np.array([100.0, 120.0, 90.0, 130.0, 125.0, 140.0, 141.0, 110.0]), 6).tolist()
    [0, 1, 2, 6, 7]
    """
    equity = np.asarray(equity, dtype=np.float64)
    n = len(equity)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 4)
    clean = np.where(np.isnan(equity), -np.inf, equity)
    peak = np.maximum.accumulate(clean)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(peak) & (peak != 0.0), clean / peak, 1.0)
    trough = _bucket_arg(ratio, _bucket_size(n, buckets), True)
    rows = np.arange(n)
    peak_row = np.maximum.accumulate(np.where(clean >= peak, rows, 0))[trough]  # the row that set each trough's peak
    keep = [extrema_indices(equity, 2 * buckets + 2), trough, peak_row]
    return np.unique(np.concatenate(keep))


def representative_rows(values: np.ndarray, max_rows: int) -> np.ndarray:
    """Sorted rows to keep of a long table (e.g. trades by pnl): every row when there are at most
    ``max_rows``; else the ``max_rows // 4`` largest and ``max_rows // 4`` smallest ``values`` and
    rows evenly spread over the rest, ``max_rows`` in all.

    >>> representative_rows(np.array([3.0, -9.0, 1.0, 0.0, 8.0, 2.0, -1.0, 5.0]), 4).tolist()
    [0, 1, 4, 7]
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n <= max_rows:
        return np.arange(n)
    k = max_rows // 4
    order = np.argsort(np.where(np.isnan(values), 0.0, values), kind="stable")
    extremes = np.concatenate((order[:k], order[n - k:]))
    rest = np.setdiff1d(np.arange(n), extremes)
    spread = rest[np.linspace(0, len(rest) - 1, max_rows - 2 * k).round().astype(np.int64)]
    return np.unique(np.concatenate((extremes, spread)))
