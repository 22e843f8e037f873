"""Overfitting statistics of a grid optimisation: how much to trust the best combination.

Two statistics, both pure functions of the per-bar returns of the combinations a grid tried:

* :func:`probability_of_backtest_overfitting` — Bailey, Borwein, López de Prado & Zhu (2017),
  "The Probability of Backtest Overfitting": combinatorially symmetric cross-validation (CSCV)
  over a (bars × combinations) return matrix. The PBO is the fraction of in-sample/out-of-sample
  splits in which the in-sample best combination does no better than the out-of-sample median.
* :func:`deflated_sharpe_ratio` — Bailey & López de Prado (2014), "The Deflated Sharpe Ratio":
  the probability that the chosen combination's true Sharpe ratio exceeds the Sharpe ratio the
  best of ``n_trials`` skill-less trials is expected to reach (:func:`expected_max_sharpe`),
  corrected for skewness, kurtosis and sample length.

Conventions:

* every Sharpe ratio here is *per bar* (per observation): mean / standard deviation (ddof 1),
  risk-free rate 0, never annualised. It is NaN for a constant series (standard deviation 0);
* skewness and kurtosis are the biased (population-moment) estimators ``m3 / m2**1.5`` and
  ``m4 / m2**2``; kurtosis is *not* excess kurtosis (3 for a normal distribution);
* Φ is :func:`normal_cdf` (``math.erfc``) and Φ⁻¹ :func:`normal_quantile` (the standard
  library's ``statistics.NormalDist.inv_cdf``, Wichura's AS 241, accurate to about 1e-16).

:func:`selection_statistics` gathers both for a report row. Bad arguments raise
:class:`StatisticsError`, a ``ValueError``.

>>> rng = np.random.default_rng(0)
>>> noise = rng.normal(0.0, 0.01, size=(400, 10))
>>> round(probability_of_backtest_overfitting(noise, n_blocks=8).probability, 2)  # 0.5 on average
0.39
>>> noise[:, 3] += 0.005  # one combination with a real edge
>>> probability_of_backtest_overfitting(noise, n_blocks=8).probability
0.0
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, NamedTuple

import attrs
import numpy as np

from state.errors import AdmfError

__all__ = [
    "DSR",
    "PBO",
    "SharpeStatistics",
    "StatisticsError",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "normal_cdf",
    "normal_quantile",
    "probability_of_backtest_overfitting",
    "selection_statistics",
    "sharpe_of",
    "sharpe_statistics",
]

#: The Euler–Mascheroni constant γ of the expected-maximum formula.
EULER_GAMMA = 0.5772156649015329

#: Most blocks CSCV accepts: C(24, 12) = 2,704,156 splits. More would run for hours.
_MAX_BLOCKS = 24

#: Elements of the (splits × blocks × combinations) working arrays held at once (~32 MB each).
_CHUNK_ELEMENTS = 1 << 22

_NAN = float("nan")
_STANDARD_NORMAL = NormalDist()

_NO_BEST = "every combination's objective is NaN on every in-sample half: no split has a best combination to choose"


class StatisticsError(AdmfError, ValueError):
    """An argument an overfitting statistic cannot be computed from; the message names it."""


# ---- records ---------------------------------------------------------------------------------------

@attrs.frozen
class PBO:
    """The result of CSCV on a return matrix (see :func:`probability_of_backtest_overfitting`).

    * ``probability`` — the PBO: the fraction of splits whose logit is ``<= 0``;
    * ``logits`` — λ of every split, in split order (split ``i`` takes the ``i``-th element of
      ``itertools.combinations(range(n_blocks), n_blocks // 2)`` as its in-sample blocks);
    * ``n_splits`` — ``C(n_blocks, n_blocks / 2)``; ``n_blocks`` — as given;
    * ``probability_of_loss`` — the fraction of splits whose chosen combination has a negative
      out-of-sample objective (NaN is not negative);
    * ``degradation_slope``, ``degradation_intercept`` — the least-squares line of the chosen
      combination's out-of-sample objective on its in-sample objective, over the splits where
      both are finite (NaN with fewer than two such splits or no spread in-sample). A slope well
      below 1 means in-sample performance does not carry over;
    * ``n_defined_splits`` — the splits with a best in-sample combination (some column's
      in-sample objective is a number); the fractions above are over these, and ``reason`` says
      why ``probability`` is NaN when there is none (empty otherwise).
    """

    probability: float
    logits: tuple[float, ...] = attrs.field(repr=False)
    n_splits: int
    n_blocks: int
    probability_of_loss: float
    degradation_slope: float
    degradation_intercept: float
    n_defined_splits: int = 0
    reason: str = ""


@attrs.frozen
class DSR:
    """A deflated Sharpe ratio (see :func:`deflated_sharpe_ratio`).

    ``probability`` is the DSR itself, in ``[0, 1]`` (NaN when undefined);
    ``expected_max_sharpe`` the benchmark SR₀; ``sharpe`` and ``n_trials`` as given.
    """

    probability: float
    expected_max_sharpe: float
    sharpe: float
    n_trials: int


class SharpeStatistics(NamedTuple):
    """Per-bar Sharpe ratio (ddof 1), biased skewness, biased non-excess kurtosis and the number
    of observations of one return series (see :func:`sharpe_statistics`)."""

    sharpe: float
    skewness: float
    kurtosis: float
    n_observations: int


# ---- the normal distribution -----------------------------------------------------------------------

def normal_cdf(x: float) -> float:
    """Φ(x), the standard normal distribution function, as ``erfc(-x / √2) / 2``.

    ``erfc`` keeps full relative precision in the lower tail, where ``(1 + erf) / 2`` would
    cancel. NaN gives NaN.

    >>> normal_cdf(0.0), normal_cdf(1.0), normal_cdf(-30.0) > 0.0
    (0.5, 0.8413447460685429, True)
    """
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Φ⁻¹(p), the inverse of :func:`normal_cdf`: ``-inf`` at 0, ``inf`` at 1.

    Computed by the standard library (``statistics.NormalDist().inv_cdf``, Wichura's algorithm
    AS 241, accurate to about 1e-16). ``p`` outside ``[0, 1]`` or NaN raises
    :class:`StatisticsError`.

    >>> round(normal_quantile(0.975), 12), normal_quantile(0.5), normal_quantile(1.0)
    (1.95996398454, 0.0, inf)
    """
    if not 0.0 <= p <= 1.0:
        raise StatisticsError(f"p={p!r}: must be a probability in [0, 1]")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return _STANDARD_NORMAL.inv_cdf(p)


# ---- Sharpe ratios ---------------------------------------------------------------------------------

def sharpe_of(mean: np.ndarray, variance: np.ndarray, count: int) -> np.ndarray:
    """The per-bar Sharpe ratio ``mean / sqrt(variance)`` from moments; NaN where ``variance <= 0``.

    ``variance`` is the sample variance (ddof 1) of ``count`` returns. This is the default
    *objective* of :func:`probability_of_backtest_overfitting`: an objective is any function of
    ``(mean, variance, count)`` computed elementwise over float arrays of one shape, returning
    an array of that shape (``count`` is the same for every element). Scalars work too.

    >>> sharpe_of(np.array([0.5, 1.0, 2.0]), np.array([0.25, 0.0, 4.0]), 10).tolist()
    [1.0, nan, 1.0]
    """
    mean = np.asarray(mean, dtype=float)
    variance = np.asarray(variance, dtype=float)
    positive = variance > 0.0
    return np.where(positive, mean / np.sqrt(np.where(positive, variance, 1.0)), _NAN)


def sharpe_statistics(returns: np.ndarray) -> SharpeStatistics:
    """The per-bar Sharpe ratio, skewness, kurtosis and length of one return series.

    Sharpe = mean / std (ddof 1); skewness = m3 / m2^1.5 and kurtosis = m4 / m2² from the biased
    central moments ``mk = mean((r - mean(r))**k)`` — kurtosis is *not* excess (3 for normal
    returns), as the deflated Sharpe ratio expects. A constant series (every return equal) has
    NaN Sharpe, skewness and kurtosis. ``returns`` must be one-dimensional, finite and hold at
    least two returns, else :class:`StatisticsError`.

    >>> stats = sharpe_statistics(np.array([0.0, 0.0, 0.0, 0.04]))
    >>> round(stats.sharpe, 12), round(stats.skewness, 4), round(stats.kurtosis, 4), stats.n_observations
    (0.5, 1.1547, 2.3333, 4)
    """
    series = np.asarray(returns, dtype=float)
    if series.ndim != 1:
        raise StatisticsError(f"returns.shape={series.shape}: must be one-dimensional (one return per bar)")
    _check_finite(series, "returns")
    n = len(series)
    if n < 2:
        raise StatisticsError(f"len(returns)={n}: a Sharpe ratio needs at least 2 returns")
    if series.min() == series.max():
        return SharpeStatistics(_NAN, _NAN, _NAN, n)
    mean = float(series.mean())
    deviations = series - mean
    m2 = float(np.mean(deviations ** 2))
    m3 = float(np.mean(deviations ** 3))
    m4 = float(np.mean(deviations ** 4))
    sharpe = float(sharpe_of(mean, m2 * n / (n - 1), n))
    return SharpeStatistics(sharpe, m3 / m2 ** 1.5, m4 / m2 ** 2, n)


# ---- the probability of backtest overfitting -------------------------------------------------------

def probability_of_backtest_overfitting(
    returns: np.ndarray,
    *,
    n_blocks: int = 16,
    objective: Callable[[np.ndarray, np.ndarray, int], np.ndarray] = sharpe_of,
) -> PBO:
    """The probability of backtest overfitting of choosing the best column of ``returns``, by CSCV.

    ``returns`` is a (T bars × N combinations) matrix of per-bar returns, one column per
    combination, finite, with N >= 2. CSCV (Bailey, Borwein, López de Prado & Zhu 2017):

    1. drop the *first* ``T mod n_blocks`` rows and cut the rest into ``n_blocks`` contiguous
       blocks of equal size (``n_blocks`` even, 2 to 24, and each half at least 2 bars);
    2. for each of the ``C(n_blocks, n_blocks / 2)`` ways to choose half of the blocks as
       in-sample (IS), the other half out-of-sample (OOS): compute ``objective`` of every column
       on IS and on OOS, each half's bars pooled (default :func:`sharpe_of`, the per-bar Sharpe
       ratio; a NaN objective ranks below every number);
    3. take n* = the best IS column (ties: the lowest index); its OOS rank among the N OOS
       objectives (1 = worst, N = best; ties get their average rank) gives the relative rank
       ω = rank / (N + 1) and the logit λ = ln(ω / (1 − ω));
    4. PBO = the fraction of splits with λ <= 0: the IS best does no better than the OOS median.
       (The paper writes λ < 0; <= also counts a chosen combination tied with the median, e.g.
       every OOS objective equal, as overfit.)

    A split whose IS objectives are all NaN has no best combination to choose (with the Sharpe
    ratio: no column's returns vary on that half, e.g. nothing traded): it says nothing about
    overfitting, so its logit is NaN and it is left out of every fraction. With no split left,
    the PBO is undefined: NaN, with the ``reason``.

    ``objective(mean, variance, count)`` receives each half's mean, sample variance (ddof 1;
    exactly 0 for a constant half) and bar count for every column at once (see
    :func:`sharpe_of`); ``lambda mean, variance, count: mean`` ranks by mean return. Each block's
    moments are computed once and combined per half, so the cost is one pass over the data plus
    O(splits × n_blocks × N).

    >>> returns = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 2.0]])
    >>> pbo = probability_of_backtest_overfitting(returns, n_blocks=2)
    >>> pbo.probability, pbo.n_splits, [round(x, 4) for x in pbo.logits]
    (0.5, 2, [0.0, 0.6931])
    """
    matrix = _returns_matrix(returns, "returns")
    n_rows, n_columns = matrix.shape
    block_size = _check_blocks(n_blocks, n_rows)
    blocks = matrix[n_rows - n_blocks * block_size:].reshape(n_blocks, block_size, n_columns)
    block_means = blocks.mean(axis=1)
    block_m2 = ((blocks - block_means[:, None, :]) ** 2).sum(axis=1)
    block_low, block_high = blocks.min(axis=1), blocks.max(axis=1)

    halves = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)
    n_splits = len(halves)
    # Split i's OOS half is split (n_splits - 1 - i)'s IS half: the lexicographic list of the
    # k-subsets of 2k blocks, read backwards, lists their complements (complementing flips every
    # bit of a subset's indicator, which reverses their lexicographic order). So each half's
    # objectives are computed once and serve the pair of splits (i, n_splits - 1 - i).
    count = block_size * (n_blocks // 2)
    chosen_is, chosen_oos, ranks = (np.empty(n_splits) for _ in range(3))
    defined = np.empty(n_splits, bool)
    chunk = max(1, _CHUNK_ELEMENTS // (n_blocks * n_columns))
    for start in range(0, n_splits // 2, chunk):
        first = np.arange(start, min(start + chunk, n_splits // 2))
        mirror = n_splits - 1 - first
        objectives = [
            _half_objectives(halves[rows], block_means, block_m2, block_low, block_high,
                             block_size, count, objective)
            for rows in (first, mirror)
        ]
        for rows, is_objectives, oos_objectives in ((first, *objectives), (mirror, *objectives[::-1])):
            chosen_is[rows], chosen_oos[rows], ranks[rows] = _rank_of_is_best(is_objectives, oos_objectives)
            defined[rows] = ~np.all(np.isnan(is_objectives), axis=1)

    omega = ranks / (n_columns + 1)
    logits = np.where(defined, np.log(omega / (1.0 - omega)), _NAN)
    overfit = 2.0 * ranks[defined] <= n_columns + 1  # λ <= 0, exactly: ranks are halves of integers
    n_defined = int(np.count_nonzero(defined))
    slope, intercept = _least_squares_line(chosen_is[defined], chosen_oos[defined])
    return PBO(
        probability=float(np.mean(overfit)) if n_defined else _NAN,
        logits=tuple(logits.tolist()),
        n_splits=n_splits,
        n_blocks=n_blocks,
        probability_of_loss=float(np.mean(chosen_oos[defined] < 0.0)) if n_defined else _NAN,
        degradation_slope=slope,
        degradation_intercept=intercept,
        n_defined_splits=n_defined,
        reason="" if n_defined else _NO_BEST,
    )


def _half_objectives(halves, block_means, block_m2, block_low, block_high, block_size, count, objective):
    """``objective`` of every column on each half (rows of block indices), NaN as -inf.

    A half's moments pool its blocks' (Chan et al.): with equal block sizes ``b`` the mean is the
    mean of the block means and ``M2 = Σ M2_b + b Σ (mean_b − mean)²``. Every column goes
    through the same operations in the same order, so equal columns get bit-equal objectives.
    """
    means = block_means[halves]                                  # (halves, blocks per half, N)
    mean = means.mean(axis=1)
    m2 = block_m2[halves].sum(axis=1) + block_size * ((means - mean[:, None, :]) ** 2).sum(axis=1)
    constant = block_low[halves].min(axis=1) == block_high[halves].max(axis=1)
    variance = np.where(constant, 0.0, np.maximum(m2, 0.0) / (count - 1))
    values = np.asarray(objective(mean, variance, count), dtype=float)
    if values.shape != mean.shape:
        raise StatisticsError(f"objective returned shape {values.shape}: must return one value per "
                              f"column and half, shape {mean.shape}")
    return values


def _rank_of_is_best(is_objectives: np.ndarray, oos_objectives: np.ndarray):
    """Per split (row): the IS-best column's IS and OOS objectives and its average OOS rank."""
    is_scores = np.where(np.isnan(is_objectives), -np.inf, is_objectives)
    oos_scores = np.where(np.isnan(oos_objectives), -np.inf, oos_objectives)
    best = np.argmax(is_scores, axis=1)  # the first maximum: ties go to the lowest index
    rows = np.arange(len(best))
    target = oos_scores[rows, best][:, None]
    below = np.count_nonzero(oos_scores < target, axis=1)
    equal = np.count_nonzero(oos_scores == target, axis=1)
    return is_objectives[rows, best], oos_objectives[rows, best], below + (equal + 1) / 2.0


def _least_squares_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line of ``y`` on ``x`` over finite pairs."""
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(x) < 2:
        return _NAN, _NAN
    dx = x - x.mean()
    spread = float(np.dot(dx, dx))
    if spread == 0.0:
        return _NAN, _NAN
    slope = float(np.dot(dx, y - y.mean())) / spread
    return slope, float(y.mean() - slope * x.mean())


# ---- the deflated Sharpe ratio ---------------------------------------------------------------------

def expected_max_sharpe(*, n_trials: int, trials_sharpe_variance: float) -> float:
    """SR₀, the expected maximum per-bar Sharpe ratio of ``n_trials`` skill-less trials.

    SR₀ = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))), with V = ``trials_sharpe_variance``
    (the variance of the trials' Sharpe ratios), N = ``n_trials`` and γ the Euler–Mascheroni
    constant (Bailey & López de Prado 2014, after the false strategy theorem). SR₀ = 0 for one
    trial (nothing was selected); it grows with N. A NaN variance gives NaN (with more than one
    trial); ``n_trials`` < 1 or a negative variance raises :class:`StatisticsError`.

    >>> expected_max_sharpe(n_trials=1, trials_sharpe_variance=0.04)
    0.0
    >>> round(expected_max_sharpe(n_trials=100, trials_sharpe_variance=0.5 / 250), 4)
    0.1132
    """
    _check_count(n_trials, "n_trials", 1)
    if trials_sharpe_variance < 0.0:
        raise StatisticsError(f"trials_sharpe_variance={trials_sharpe_variance!r}: "
                              f"a variance cannot be negative")
    if n_trials == 1:
        return 0.0
    # Φ⁻¹(1 − q) = −Φ⁻¹(q): avoids rounding 1 − q before inverting
    spread = (1.0 - EULER_GAMMA) * -normal_quantile(1.0 / n_trials) \
        + EULER_GAMMA * -normal_quantile(1.0 / (n_trials * math.e))
    return math.sqrt(trials_sharpe_variance) * spread


def deflated_sharpe_ratio(
    sharpe: float,
    *,
    n_trials: int,
    n_observations: int,
    skewness: float,
    kurtosis: float,
    trials_sharpe_variance: float,
) -> DSR:
    """The deflated Sharpe ratio of a per-bar Sharpe ratio chosen as the best of ``n_trials``.

    DSR = Φ((SR − SR₀) √(T − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 · SR²)) (Bailey & López de Prado
    2014), with SR = ``sharpe`` (per bar, not annualised), SR₀ = :func:`expected_max_sharpe`,
    T = ``n_observations`` (the bars SR was measured on), γ₃ = ``skewness`` and γ₄ = ``kurtosis``
    (non-excess; :func:`sharpe_statistics` gives all three). It is the probability that the
    true Sharpe ratio exceeds SR₀. With ``n_trials`` = 1, SR₀ = 0 and the DSR is the
    probabilistic Sharpe ratio against 0.

    The probability is NaN when the term under the square root is not positive (a Sharpe ratio
    far outside what the moments allow; never for γ₃ = 0), or when any input is NaN. It falls
    as ``n_trials`` grows, and rises with ``sharpe`` wherever
    ``1 − γ₃ (SR + SR₀)/2 + SR₀ SR (γ₄ − 1)/4 > 0`` — every realistic per-bar Sharpe ratio.
    ``n_trials`` < 1, ``n_observations`` < 2 or a negative variance raise
    :class:`StatisticsError`.

    The paper's example: annualised SR 2.5 over 5 years of daily bars, skewness −3, kurtosis 10,
    best of 100 trials whose annualised Sharpe ratios have variance 1/2:

    >>> dsr = deflated_sharpe_ratio(2.5 / 250 ** 0.5, n_trials=100, n_observations=1250,
    ...                             skewness=-3.0, kurtosis=10.0, trials_sharpe_variance=0.5 / 250)
    >>> round(dsr.expected_max_sharpe, 4), round(dsr.probability, 4)
    (0.1132, 0.9004)
    """
    _check_count(n_observations, "n_observations", 2)
    benchmark = expected_max_sharpe(n_trials=n_trials, trials_sharpe_variance=trials_sharpe_variance)
    under_root = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe ** 2
    if not under_root > 0.0:  # also NaN
        probability = _NAN
    else:
        probability = normal_cdf((sharpe - benchmark) * math.sqrt(n_observations - 1) / math.sqrt(under_root))
    return DSR(probability=probability, expected_max_sharpe=benchmark, sharpe=sharpe, n_trials=n_trials)


# ---- a report row ----------------------------------------------------------------------------------

def selection_statistics(returns_matrix: np.ndarray, chosen: int, *, n_blocks: int = 16) -> dict[str, Any]:
    """Overfitting statistics of choosing column ``chosen`` of a (bars × combinations) matrix.

    Returns a new dict, for a report row:

    * ``pbo``, ``pbo_splits`` — :func:`probability_of_backtest_overfitting` with ``n_blocks``
      (it measures the selection rule "take the best Sharpe", whichever column ``chosen`` is);
    * ``deflated_sharpe``, ``expected_max_sharpe``, ``sharpe`` — :func:`deflated_sharpe_ratio`
      of the chosen column over all its bars, with ``n_trials`` = the number of columns and the
      trials' Sharpe variance = the sample variance (ddof 1) of the columns' per-bar Sharpe
      ratios, over the columns whose Sharpe ratio is defined (NaN with fewer than two);
    * ``n_trials`` — the number of columns;
    * ``logit_values``, ``logit_counts`` — the distinct logits of the defined CSCV splits and how
      many splits have each (the histogram a report draws; ranks are halves of integers, so there are at most 2N + 1);
    * ``reasons`` — for each of these statistics that is undefined (NaN), why (a new dict,
      empty when every one is a number).

    >>> returns = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 2.0]])
    >>> sorted(selection_statistics(returns, 0, n_blocks=2).items())[-3:]
    [('pbo_splits', 2), ('reasons', {}), ('sharpe', 1.161895003862225)]
    >>> flat = selection_statistics(np.zeros((4, 2)), 0, n_blocks=2)
    >>> flat["pbo"], flat["reasons"]["pbo"][:51]
    (nan, "no combination's returns vary on any in-sample half")
    """
    matrix = _returns_matrix(returns_matrix, "returns_matrix")
    n_rows, n_columns = matrix.shape
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)) or not 0 <= chosen < n_columns:
        raise StatisticsError(f"chosen={chosen!r}: must be a column index in [0, {n_columns})")
    pbo = probability_of_backtest_overfitting(matrix, n_blocks=n_blocks)
    constant = matrix.min(axis=0) == matrix.max(axis=0)
    sharpes = sharpe_of(matrix.mean(axis=0), np.where(constant, 0.0, matrix.var(axis=0, ddof=1)), n_rows)
    defined = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(defined, ddof=1)) if len(defined) >= 2 else _NAN
    moments = sharpe_statistics(matrix[:, int(chosen)])
    dsr = deflated_sharpe_ratio(moments.sharpe, n_trials=n_columns, n_observations=n_rows,
                                skewness=moments.skewness, kurtosis=moments.kurtosis,
                                trials_sharpe_variance=variance)
    logits = np.array(pbo.logits)
    logit_values, logit_counts = np.unique(logits[~np.isnan(logits)], return_counts=True)  # defined splits only
    stats = {
        "pbo": pbo.probability,
        "pbo_splits": pbo.n_splits,
        "deflated_sharpe": dsr.probability,
        "expected_max_sharpe": dsr.expected_max_sharpe,
        "sharpe": dsr.sharpe,
        "n_trials": n_columns,
        "logit_values": logit_values.tolist(),
        "logit_counts": logit_counts.tolist(),
    }
    flat = "the selected combination's returns never vary (it never traded)"
    few = (f"{len(defined)} of {n_columns} combinations have returns that vary (traded); the spread of the "
           "trials' Sharpe ratios needs two")
    why = {"pbo": "no combination's returns vary on any in-sample half (nothing traded): no split has a best "
                  "combination to choose" if pbo.reason else "",
           "sharpe": flat, "expected_max_sharpe": few,
           "deflated_sharpe": (flat if math.isnan(dsr.sharpe) else few if math.isnan(dsr.expected_max_sharpe) else
                               "its Sharpe ratio lies outside what its skewness and kurtosis allow")}
    stats["reasons"] = {name: why[name] for name in why if math.isnan(stats[name])}
    return stats


# ---- argument checks -------------------------------------------------------------------------------

def _returns_matrix(returns: np.ndarray, name: str) -> np.ndarray:
    matrix = np.asarray(returns, dtype=float)
    if matrix.ndim != 2:
        raise StatisticsError(f"{name}.shape={matrix.shape}: must be 2-D, one row per bar and one "
                              f"column per combination")
    if matrix.shape[1] < 2:
        raise StatisticsError(f"{name}.shape={matrix.shape}: needs at least 2 combinations (columns) "
                              f"to select from")
    _check_finite(matrix, name)
    return matrix


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        index = ", ".join(map(str, where))
        raise StatisticsError(f"{name}[{index}]={values[where]!r}: every return must be finite")


def _check_count(value: int, name: str, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise StatisticsError(f"{name}={value!r}: must be an integer >= {least}")


def _check_blocks(n_blocks: int, n_rows: int) -> int:
    """The block size for ``n_blocks`` blocks of ``n_rows`` bars, or :class:`StatisticsError`."""
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) \
            or n_blocks < 2 or n_blocks % 2 or n_blocks > _MAX_BLOCKS:
        raise StatisticsError(f"n_blocks={n_blocks!r}: must be an even integer from 2 to {_MAX_BLOCKS}")
    block_size = n_rows // n_blocks
    if block_size * (n_blocks // 2) < 2:
        raise StatisticsError(f"n_blocks={n_blocks} with {n_rows} bars: each half needs at least 2 bars; "
                              f"use fewer blocks or more bars")
    return block_size
