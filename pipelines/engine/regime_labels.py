"""Persisted regime labels: ``regimes.parquet``, one classifier point's labels per symbol, sparse.

A run with classifiers writes the labels every classifier point (a classifier and its parameters;
the regime policy is not part of the fit) gave each symbol's bars, the way a signal store keeps
signals: as *change points*. One row per bar where the label changes, the first evaluated bar
always included; the label holds until the next row of the same point and symbol (or the last
evaluated bar). Columns:

* ``classifier_id`` — the point's id, a digest of the classifier and its parameters (the same
  point in two runs has the same id);
* ``symbol``, ``classifier``, ``parameters`` (the exact JSON) and each parameter as
  ``classifier_<name>`` (``pipelines.engine.columns``: the names of the results' columns, so a results
  row finds its labels by ``symbol``, ``classifier`` and those columns);
* ``bar_index`` (in the symbol's bars), ``time``, ``regime`` (``0..n_states-1``, 0 the regime
  with the lowest mean training return; null where the bar has no label: the classifier's fit
  window or warm-up).

Rows are sorted by point (in the order combinations first use them), symbol (data order) and
bar. Shading a chart from it costs one rectangle per row. Law: expanding the rows back to one
label per bar gives the labels the run traded on (``expand_regimes``).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import toolz

from pipelines.engine.columns import classifier_column
from state.market import Bars
from state.plan import Combination

__all__ = ["classifier_id", "expand_regimes", "in_point_order", "regime_changes", "regimes_table"]

_FIXED = ("classifier_id", "symbol", "classifier", "parameters")

#: One classifier point: its name and parameters (without the regime policy).
Point = tuple[str, tuple[tuple[str, Any], ...]]


def classifier_id(point: Point) -> str:
    """The stable id of a classifier point (12 hex digits of a sha256 of its canonical text).

    >>> classifier_id(("trend_regime", (("period", 50),)))
    '4a14852111ac'
    """
    return hashlib.sha256(repr((point[0], tuple(point[1]))).encode()).hexdigest()[:12]


def regime_changes(labels: np.ndarray, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The bars (from ``start``) where ``labels`` change, the first always, and the label there
    (NaN: unlabelled; two NaN are the same label).

    >>> regime_changes(np.array([np.nan, np.nan, 0.0, 0.0, 1.0, 1.0, 0.0]))
    (array([0, 2, 4, 6]), array([nan,  0.,  1.,  0.]))
    """
    x = labels[start:]
    if not len(x):
        return np.empty(0, np.int64), np.empty(0)
    same = (x[1:] == x[:-1]) | (np.isnan(x[1:]) & np.isnan(x[:-1]))
    at = np.concatenate(([0], np.flatnonzero(~same) + 1)).astype(np.int64)
    return at + start, x[at]


def expand_regimes(bar_index: np.ndarray, regime: np.ndarray, start: int, stop: int) -> np.ndarray:
    """One label per bar of ``[start, stop)`` from change points (the inverse of :func:`regime_changes`).

    >>> expand_regimes(np.array([0, 2, 4]), np.array([np.nan, 0.0, 1.0]), 0, 6).tolist()
    [nan, nan, 0.0, 0.0, 1.0, 1.0]
    """
    lengths = np.diff(np.concatenate((bar_index, [stop])))
    return np.repeat(regime, lengths)[: stop - start]


def in_point_order(table: pa.Table, combos: Sequence[Combination]) -> pa.Table:
    """A merged ``regimes`` table (chunks of a run) with the columns a whole run of ``combos``
    writes, in its order: each classifier parameter where combinations first name it."""
    names = dict.fromkeys(name for c in combos for name, _ in c.classifier_params if name != "regime_policy")
    columns = [*_FIXED, *(classifier_column(name) for name in names), "bar_index", "time", "regime"]
    return pa.table({name: table.column(name) if name in table.column_names else pa.nulls(table.num_rows)
                     for name in columns})


def regimes_table(points: Sequence[tuple[Point, Bars, np.ndarray, int]]) -> pa.Table:
    """``regimes.parquet`` of labelled points: ``(point, bars of a symbol, labels, start)`` each,
    the labels covering ``bars`` and written from bar ``start`` on, in the order given."""
    names = list(toolz.unique(name for (_, params), *_ in points for name, _ in params))
    columns: dict[str, list] = {**{name: [] for name in _FIXED}, **{classifier_column(name): [] for name in names}}
    index, time, regime = [], [], []
    for (name, params), bars, labels, start in points:
        at, values = regime_changes(labels, start)
        n = len(at)
        given = dict(params)
        for column, value in (("classifier_id", classifier_id((name, params))), ("symbol", bars.symbol),
                              ("classifier", name), ("parameters", json.dumps(params))):
            columns[column] += [value] * n
        for param in names:
            columns[classifier_column(param)] += [given.get(param)] * n
        index.append(at)
        time.append(bars.time[at])
        regime.append(values)
    at = np.concatenate(index) if index else np.empty(0, np.int64)
    values = np.concatenate(regime) if regime else np.empty(0)
    table = {name: pa.array(values_, pa.string() if name in _FIXED else None) for name, values_ in columns.items()}
    table["bar_index"] = pa.array(at, pa.int64())
    table["time"] = pa.array(np.concatenate(time) if time else np.empty(0, "datetime64[ns]"), pa.timestamp("ns"))
    table["regime"] = pa.array(np.nan_to_num(values, nan=-1).astype(np.int64), pa.int64(), mask=np.isnan(values))
    return pa.table(table)
