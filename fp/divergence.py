"""Where two runs of one component part ways: the first bar they differ, and the bar from which they agree.

Two questions about a whole spec compare a run on some data with a run on other data:

* **look-ahead** (``admf lookahead``): with the data cut or changed after bar ``stop``, does any
  value before ``stop`` change? :func:`first_divergence` answers it for a series (a feature, a
  signal, regime labels), :func:`first_event_divergence` for a sequence of events stamped with
  their bar (orders, fills, exits): both exactly, bit for bit, NaN equal to NaN, since a causal
  computation gives the same bits whatever comes after.
* **warm-up** (``admf warmup``): a run started later than the data's first bar agrees with the
  run from the first bar on the bars both cover once the component has forgotten where it
  started. :func:`warm_up` counts the bars that takes, within a tolerance (an EMA's dependence
  on its start decays like ``(1 - alpha)^n`` and never reaches exactly zero).

Everything here is pure.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["agrees", "first_divergence", "first_event_divergence", "warm_up"]


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two series differ bit for bit, NaN equal to NaN."""
    return ~((a == b) | (np.isnan(a) & np.isnan(b)))


def first_divergence(reference: np.ndarray, other: np.ndarray, stop: int) -> int | None:
    """The first bar before ``stop`` where two series differ (NaN equals NaN), ``None`` when their
    first ``stop`` values are identical. Both have at least ``stop`` values.

    >>> first_divergence(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1.0, np.nan, 3.5, 4.0]), 4)
    2
    >>> first_divergence(np.array([1.0, np.nan, 3.0, 4.0]), np.array([1.0, np.nan, 3.0]), 3) is None
    True
    """
    a = np.asarray(reference, dtype=np.float64)[:stop]
    b = np.asarray(other, dtype=np.float64)[:stop]
    differs = np.flatnonzero(_differs(a, b))
    return int(differs[0]) if len(differs) else None


def first_event_divergence(reference: tuple[np.ndarray, Sequence[np.ndarray]],
                           other: tuple[np.ndarray, Sequence[np.ndarray]], stop: int) -> int | None:
    """The bar of the first event before ``stop`` that differs between two event sequences,
    ``None`` when their events before ``stop`` are the same.

    Each sequence is ``(bars, fields)``: the bar of every event, in time order, and one array
    per field (the same fields in both). Only events at bars before ``stop`` are compared; where
    the sequences part ways — a field differs, or one has an event the other has not — the answer
    is the earlier of the two events' bars.

    >>> fills = (np.array([3, 7, 12]), [np.array([10.0, -10.0, 5.0])])
    >>> first_event_divergence(fills, (np.array([3, 7]), [np.array([10.0, -10.0])]), 12) is None
    True
    >>> first_event_divergence(fills, (np.array([3, 8]), [np.array([10.0, -10.0])]), 12)
    7
    >>> first_event_divergence(fills, (np.array([3]), [np.array([10.0])]), 12)
    7
    """
    a_bars, a_fields = reference
    b_bars, b_fields = other
    a_n = int(np.searchsorted(a_bars, stop))
    b_n = int(np.searchsorted(b_bars, stop))
    n = min(a_n, b_n)
    differs = _differs(a_bars[:n].astype(np.float64), b_bars[:n].astype(np.float64))
    for a, b in zip(a_fields, b_fields):
        differs |= _differs(np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64))
    where = np.flatnonzero(differs)
    if len(where):
        i = int(where[0])
        return int(min(a_bars[i], b_bars[i]))
    if a_n != b_n:  # one has an event the other has not
        return int(a_bars[n]) if a_n > n else int(b_bars[n])
    return None


def agrees(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    """Where two series agree within ``tolerance``, relative to their magnitude (absolute below 1):
    ``|a - b| <= tolerance * max(1, |a|, |b|)``; NaN agrees with NaN only.

    >>> agrees(np.array([1.0, 1000.0, np.nan, 0.5]), np.array([1.0 + 1e-7, 1000.0005, np.nan, np.nan]), 1e-6).tolist()
    [True, True, True, False]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= tolerance * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return (a == b) | (np.isnan(a) & np.isnan(b)) | close


def warm_up(reference: np.ndarray, later: np.ndarray, tolerance: float) -> int | None:
    """How many bars a run started later needs to agree for good with the run from the start.

    ``later`` is a component's values from a later start and ``reference`` its values from the
    first bar on the same bars (aligned: ``reference[i]`` and ``later[i]`` are one bar). The
    warm-up is the number of bars, counted from the later start, up to and including the first
    bar from which every value agrees within ``tolerance`` (:func:`agrees`): a simple moving
    average of ``n`` bars agrees from its ``n``-th bar on, a warm-up of ``n``; a component that
    never depended on its start has a warm-up of 1. ``None`` when the last bar still differs: the
    component still depends on where it started at the end of the data.

    >>> warm_up(np.array([2.0, 2.5, 3.0, 3.5]), np.array([np.nan, np.nan, 3.0, 3.5]), 1e-6)
    3
    >>> warm_up(np.array([2.0, 2.5]), np.array([2.0, 2.6]), 1e-6) is None
    True
    """
    ok = agrees(reference, later, tolerance)
    if len(ok) and not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1]) + 2 if len(bad) else 1
