"""How regimes act on a combination: policies on a strategy's target, and the regime-adaptive ensemble.

A classifier labels bars with regimes ``0..n-1`` (0 = the lowest mean return) or NaN while unknown.

* ``gate`` (the default policy): the strategy's target is taken in every regime but 0, where the
  position goes flat; flat while the regime is unknown.
* ``scale(k=f, ...)``: the target is multiplied by the factor of the bar's regime (regimes not
  listed: 0); flat while the regime is unknown.
* ``ensemble``: several member strategies, weighted per regime by their performance on a learning
  window of labelled bars before the evaluation starts: a member's weight in regime ``k`` is its
  Sharpe ratio on the learning bars of regime ``k`` when positive, normalised over the members
  (all non-positive: flat in that regime). Flat before the evaluation starts.

Law (no look-ahead): each target at ``t`` uses labels and member targets up to ``t`` and weights
learnt from bars before the evaluation start only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from state.errors import ArgumentError

__all__ = ["ensemble_target", "policy_factor"]


def policy_factor(policy: str, labels: np.ndarray) -> np.ndarray:
    """The factor a regime policy applies to the target at every bar.

    >>> policy_factor("gate", np.array([np.nan, 0.0, 1.0, 2.0])).tolist()
    [0.0, 0.0, 1.0, 1.0]
    >>> policy_factor("scale(0=0.5,1=1.0)", np.array([np.nan, 0.0, 1.0, 2.0])).tolist()
    [0.0, 0.5, 1.0, 0.0]
    """
    known = ~np.isnan(labels)
    if policy == "gate":
        return np.where(known & (labels != 0.0), 1.0, 0.0)
    if not (policy.startswith("scale(") and policy.endswith(")")):
        raise ArgumentError(f"unknown regime policy {policy!r}: gate or scale(k=f,...)")
    factor = np.zeros(len(labels))
    for item in policy[len("scale("):-1].split(","):
        regime, value = item.split("=")
        factor[known & (labels == float(regime))] = float(value)
    return factor


def ensemble_target(members: Sequence[np.ndarray], labels: np.ndarray, close: np.ndarray, *,
                    learn_start: int, evaluate_from: int, n_states: int) -> np.ndarray:
    """The ensemble's target: members' held targets weighted by the bar's regime (module docstring).

    ``members`` are the members' held targets (one value per bar); a member earns, at bar ``t``,
    its target at ``t-1`` times the close-to-close return of ``t``, attributed to the regime of
    ``t-1``. Learning uses bars ``[learn_start, evaluate_from)``; the target is flat before
    ``evaluate_from`` and wherever the regime is unknown.

    >>> up, down = np.ones(6), -np.ones(6)
    >>> t = ensemble_target([up, down], np.zeros(6), np.array([1.0, 1.1, 1.2, 1.3, 1.5, 1.6]),
    ...                     learn_start=0, evaluate_from=4, n_states=1)
    >>> t.tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    n = len(close)
    held = np.asarray(members, dtype=np.float64).reshape(len(members), n)
    weights = np.zeros((n_states, len(members)))
    if n > 1 and evaluate_from > learn_start + 1:
        returns = close[1:] / close[:-1] - 1.0
        earned = held[:, :-1] * returns  # earned at bars 1..n-1, by the position held at the bar before
        regime = labels[:-1]
        window = np.zeros(n - 1, bool)
        window[max(learn_start, 0):max(evaluate_from - 1, 0)] = True
        for k in range(n_states):
            rows = window & (regime == k)
            if np.count_nonzero(rows) < 2:
                continue
            pnl = earned[:, rows]
            std = pnl.std(axis=1, ddof=1)
            sharpe = np.divide(pnl.mean(axis=1), std, out=np.zeros(len(members)), where=std > 0.0)
            positive = np.maximum(sharpe, 0.0)
            if positive.sum() > 0.0:
                weights[k] = positive / positive.sum()
    target = np.zeros(n)
    live = np.arange(n) >= evaluate_from
    known = live & ~np.isnan(labels)
    regimes = labels[known].astype(np.int64)
    target[known] = np.einsum("mt,tm->t", held[:, known], weights[regimes])
    return target
