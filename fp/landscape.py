"""The parameter landscape of a grid: a metric over pairs of parameters, per value, per neighbourhood.

A broad plateau of good cells is robust; a single bright cell among poor neighbours is overfit.
These pure functions turn one metric value per combination (``z``, NaN when undefined) and the
combinations' parameter values into what the report draws:

* :func:`grid_aggregate` — a 2-D grid over two parameters, the other dimensions aggregated with
  ``max`` (the best the others can make of a cell) or ``mean``; cells no combination reaches (a
  constraint removed them) are NaN, and so are cells whose values are all NaN;
* :func:`marginal` — the metric marginalised per value of one parameter (mean, median, min,
  max and count of the defined values), as ``admf query --analysis sensitivity`` computes it;
* :func:`neighbourhood_mean` — each combination's robustness: the mean of the metric over its
  grid neighbours (every gridded parameter at most one grid step away, itself included).

Parameter values keep their natural order: numbers ascending, anything else in first-seen order.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from state.errors import ArgumentError

__all__ = ["axis_values", "grid_aggregate", "marginal", "neighbourhood_mean"]


def axis_values(values: Sequence) -> list:
    """The distinct values of a parameter in their natural order (``None`` left out).

    >>> axis_values([20, 5, 10, 5]), axis_values(["svm", "hmm", "svm"])
    ([5, 10, 20], ['svm', 'hmm'])
    """
    seen = list(dict.fromkeys(v for v in values if v is not None))
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in seen):
        return sorted(seen)
    return seen


def _codes(values: Sequence, axis: list) -> np.ndarray:
    """Each value's position on its axis (-1 for ``None``)."""
    where = {v: i for i, v in enumerate(axis)}
    return np.array([where.get(v, -1) if v is not None else -1 for v in values], np.int64)


def grid_aggregate(x: Sequence, y: Sequence, z: np.ndarray, how: str = "max") -> tuple[list, list, np.ndarray]:
    """``(x_axis, y_axis, grid)``: ``grid[j, i]`` aggregates (``how``: ``"max"`` or ``"mean"``)
    the defined ``z`` of the rows whose x is ``x_axis[i]`` and y is ``y_axis[j]``; NaN where no
    row has a defined value (a constraint hole, or nothing defined).

    >>> xs, ys, grid = grid_aggregate([5, 5, 10], [20, 40, 40], np.array([1.0, 2.0, 3.0]))
    >>> xs, ys, grid.tolist()
    ([5, 10], [20, 40], [[1.0, nan], [2.0, 3.0]])
    """
    if how not in ("max", "mean"):
        raise ArgumentError(f"how={how!r}: must be 'max' or 'mean'")
    x_axis, y_axis = axis_values(x), axis_values(y)
    i, j = _codes(x, x_axis), _codes(y, y_axis)
    z = np.asarray(z, dtype=np.float64)
    ok = (i >= 0) & (j >= 0) & ~np.isnan(z)
    cell = j[ok] * len(x_axis) + i[ok]
    size = len(x_axis) * len(y_axis)
    count = np.bincount(cell, minlength=size)
    if how == "mean":
        total = np.bincount(cell, weights=z[ok], minlength=size)
        flat = np.divide(total, count, out=np.full(size, np.nan), where=count > 0)
    else:
        flat = np.full(size, -np.inf)
        np.maximum.at(flat, cell, z[ok])
        flat[count == 0] = np.nan
    return x_axis, y_axis, flat.reshape(len(y_axis), len(x_axis))


def marginal(x: Sequence, z: np.ndarray) -> list[dict]:
    """One row per value of ``x`` (natural order): ``value``, and ``mean``, ``median``, ``min``,
    ``max`` and ``n`` of the defined ``z`` of the rows holding it (NaN statistics with none).

    >>> [(r["value"], r["mean"], r["n"]) for r in marginal([5, 10, 5], np.array([1.0, 4.0, 3.0]))]
    [(5, 2.0, 2), (10, 4.0, 1)]
    """
    z = np.asarray(z, dtype=np.float64)
    axis = axis_values(x)
    codes = _codes(x, axis)
    out = []
    for k, value in enumerate(axis):
        defined = z[(codes == k) & ~np.isnan(z)]
        stats = ((float(np.mean(defined)), float(np.median(defined)), float(defined.min()), float(defined.max()))
                 if len(defined) else (np.nan,) * 4)
        out.append(dict(zip(("value", "mean", "median", "min", "max", "n"), (value, *stats, len(defined)))))
    return out


def neighbourhood_mean(params: Sequence[Sequence], z: np.ndarray) -> np.ndarray:
    """Robustness of each row: the mean of the defined ``z`` over the grid cells within one step of
    its own on every parameter (``params``: one sequence of values per gridded parameter; several
    rows on one cell count as their mean). NaN when nothing around it is defined.

    >>> neighbourhood_mean([[5, 10, 15, 5], [20, 20, 20, 40]], np.array([1.0, 2.0, 9.0, np.nan])).tolist()
    [1.5, 4.0, 5.5, 1.5]
    """
    z = np.asarray(z, dtype=np.float64)
    axes = [axis_values(p) for p in params]
    codes = [_codes(p, a) for p, a in zip(params, axes)]
    shape = tuple(len(a) for a in axes)
    ok = np.all([c >= 0 for c in codes], axis=0) & ~np.isnan(z) if codes else ~np.isnan(z)
    flat = np.ravel_multi_index(tuple(c[ok] for c in codes), shape) if codes else np.zeros(int(ok.sum()), np.int64)
    size = int(np.prod(shape)) if shape else 1
    count = np.bincount(flat, minlength=size).astype(np.float64)
    cell = np.divide(np.bincount(flat, weights=z[ok], minlength=size), count, out=np.zeros(size), where=count > 0)
    defined = (count > 0).reshape(shape)
    padded_sum = np.pad(cell.reshape(shape), 1)
    padded_n = np.pad(defined.astype(np.float64), 1)
    total, n = np.zeros(shape), np.zeros(shape)
    for offset in itertools.product((0, 1, 2), repeat=len(shape)):
        window = tuple(slice(o, o + s) for o, s in zip(offset, shape))
        total += padded_sum[window]
        n += padded_n[window]
    mean = np.divide(total, n, out=np.full(shape, np.nan), where=n > 0).reshape(-1)
    inside = np.all([c >= 0 for c in codes], axis=0) if codes else np.ones(len(z), bool)
    rows = np.full(len(z), np.nan)
    rows[inside] = mean[np.ravel_multi_index(tuple(c[inside] for c in codes), shape)] if codes else mean[0]
    return rows
