"""Look-ahead bugs planted on purpose, for the tests of ``admf lookahead``: the family the issue names.

* :data:`peek` — a strategy reading the close ``k`` bars ahead inside its function (a shifted
  price): its signal at bar ``t`` reads bar ``t + k``, so with the data cut at ``c`` its first
  wrong decision is at ``c - k``;
* :data:`follow_ahead` over :data:`ahead` — a clean strategy over a feature whose batch form reads
  ``k`` bars ahead (its streaming form is right: the bug hides in a fast path);
* :data:`normalised` (read by :data:`zscored`) — a feature whose batch form normalises over the
  whole series: every value depends on every bar, its first wrong value is its first;
* :data:`future_fit` — a classifier that fits on every bar it is given, ``train_end`` ignored.

Signals are real-valued (``tanh`` of a return, a clipped z-score) so a changed input always changes
the decision: the bar where a bug first leaks is then known from its construction.
"""
from __future__ import annotations

import math

import numpy as np

from fp.classifiers import Classifier, RegimeModel
from fp.components import Param, feature, ref, strategy

_K = Param("k", "int", 1, minimum=1, maximum=20, doc="bars read ahead")


def _shifted(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    if k < len(x):
        out[:len(x) - k] = x[k:]
    return out


@strategy(params=(_K,), features={"close": ref("price")})
def peek(p, f):
    """The mistake: the close ``k`` bars ahead, inside the signal."""
    close = np.asarray(f["close"], dtype=np.float64)
    if close.ndim == 0:
        return math.nan
    return np.tanh(50.0 * (_shifted(close, p["k"]) / close - 1.0))


def _ahead_batch(p, inputs, precision):
    return (_shifted(np.asarray(inputs[0], dtype=np.float64), p["k"]),)


@feature(params=(_K,), init=(), batch=_ahead_batch)
def ahead(p, state, x):
    """The streaming form is causal (the bar itself); the batch form reads ``k`` bars ahead."""
    return state, (x[0],)


@strategy(params=(_K,), features=lambda p: {"ahead": ref(ahead, k=p["k"]), "close": ref("price")})
def follow_ahead(p, f):
    """A clean signal over a leaky feature."""
    return np.tanh(50.0 * (f["ahead"] / f["close"] - 1.0))


def _normalised_batch(p, inputs, precision):
    x = np.asarray(inputs[0], dtype=np.float64)
    spread = x.std()
    return ((x - x.mean()) / spread if spread > 0 else np.zeros(len(x)),)


@feature(params=(Param("period", "int", 5, minimum=1),), init=(), batch=_normalised_batch)
def normalised(p, state, x):
    """The mistake: the batch form is a z-score over the whole series."""
    return state, (0.0,)


@strategy(params=(Param("period", "int", 5, minimum=1),), features=lambda p: {"z": ref(normalised, period=p["period"])})
def zscored(p, f):
    """A clean signal over the leaky feature."""
    return np.clip(f["z"], -1.0, 1.0)


def _future_fit(p, bars, train_end):
    return RegimeModel("lookahead_bugs:future_fit", 2, train_end, (0, 1), (math.nan, math.nan),
                       float(np.median(bars.close)))  # the mistake: every bar, not bars[:train_end]


def _future_label(p, model, bars, train_end):
    out = np.full(len(bars), np.nan)
    out[train_end:] = (bars.close[train_end:] > model.detail).astype(np.float64)
    return out


future_fit = Classifier("lookahead_bugs:future_fit", (Param("period", "int", 20, minimum=2),), _future_fit,
                        _future_label, doc="Above or below the median close of every bar: fitted on the future.")
