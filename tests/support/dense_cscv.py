"""The dense reference of the overfitting statistics: CSCV and the deflated Sharpe ratio over a
(bars × combinations) return matrix, as ``fp.overfitting`` computed them before it read per-block
aggregates (kept here only, for the law that both agree: ``tests/laws/test_overfitting_laws.py``).

Each block's moments come straight from the matrix (numpy's reductions over the block's rows),
each half pools its blocks' moments with deviations from the half's mean, and the deflated
Sharpe ratio reads the chosen column's moments from its whole series.
"""
from __future__ import annotations

import itertools

import numpy as np

from fp.overfitting import deflated_sharpe_ratio, sharpe_of

__all__ = ["dense_pbo", "dense_selection"]


def dense_pbo(matrix: np.ndarray, n_blocks: int) -> dict:
    """PBO, logits, loss probability, degradation line and defined splits of ``matrix``."""
    n_rows, n_columns = matrix.shape
    size = n_rows // n_blocks
    blocks = matrix[n_rows - n_blocks * size:].reshape(n_blocks, size, n_columns)
    means = blocks.mean(axis=1)
    m2 = ((blocks - means[:, None, :]) ** 2).sum(axis=1)
    low, high = blocks.min(axis=1), blocks.max(axis=1)
    halves = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)
    count = size * (n_blocks // 2)

    def objectives(rows):
        half_means = means[rows]
        mean = half_means.mean(axis=1)
        pooled = m2[rows].sum(axis=1) + size * ((half_means - mean[:, None, :]) ** 2).sum(axis=1)
        constant = low[rows].min(axis=1) == high[rows].max(axis=1)
        return sharpe_of(mean, np.where(constant, 0.0, np.maximum(pooled, 0.0) / (count - 1)), count)

    values = objectives(halves)
    n_splits = len(halves)
    is_values, oos_values = values, values[::-1]
    is_scores = np.where(np.isnan(is_values), -np.inf, is_values)
    oos_scores = np.where(np.isnan(oos_values), -np.inf, oos_values)
    best = np.argmax(is_scores, axis=1)
    rows = np.arange(n_splits)
    target = oos_scores[rows, best][:, None]
    ranks = np.count_nonzero(oos_scores < target, axis=1) + (np.count_nonzero(oos_scores == target, axis=1) + 1) / 2.0
    defined = ~np.all(np.isnan(is_values), axis=1)
    omega = ranks / (n_columns + 1)
    chosen_is, chosen_oos = is_values[rows, best][defined], oos_values[rows, best][defined]
    finite = np.isfinite(chosen_is) & np.isfinite(chosen_oos)
    x, y = chosen_is[finite], chosen_oos[finite]
    slope = intercept = float("nan")
    if len(x) >= 2 and np.dot(x - x.mean(), x - x.mean()) > 0.0:
        slope = float(np.dot(x - x.mean(), y - y.mean())) / float(np.dot(x - x.mean(), x - x.mean()))
        intercept = float(y.mean() - slope * x.mean())
    n_defined = int(defined.sum())
    return {
        "probability": float(np.mean(2.0 * ranks[defined] <= n_columns + 1)) if n_defined else float("nan"),
        "logits": np.where(defined, np.log(omega / (1.0 - omega)), np.nan),
        "probability_of_loss": float(np.mean(chosen_oos < 0.0)) if n_defined else float("nan"),
        "degradation_slope": slope, "degradation_intercept": intercept, "n_defined_splits": n_defined,
    }


def dense_selection(matrix: np.ndarray, chosen: int) -> dict:
    """The deflated Sharpe ratio of column ``chosen``: its Sharpe, SR₀ and the DSR."""
    n_rows, n_columns = matrix.shape
    constant = matrix.min(axis=0) == matrix.max(axis=0)
    sharpes = sharpe_of(matrix.mean(axis=0), np.where(constant, 0.0, matrix.var(axis=0, ddof=1)), n_rows)
    defined = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(defined, ddof=1)) if len(defined) >= 2 else float("nan")
    series = matrix[:, chosen]
    if series.min() == series.max():
        sharpe = skewness = kurtosis = float("nan")
    else:
        deviations = series - series.mean()
        m2, m3, m4 = (float(np.mean(deviations ** k)) for k in (2, 3, 4))
        sharpe = float(sharpe_of(series.mean(), m2 * n_rows / (n_rows - 1), n_rows))
        skewness, kurtosis = m3 / m2 ** 1.5, m4 / m2 ** 2
    dsr = deflated_sharpe_ratio(sharpe, n_trials=n_columns, n_observations=n_rows, skewness=skewness,
                                kurtosis=kurtosis, trials_sharpe_variance=variance)
    return {"sharpe": sharpe, "expected_max_sharpe": dsr.expected_max_sharpe, "deflated_sharpe": dsr.probability}
