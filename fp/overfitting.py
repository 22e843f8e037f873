"""Overfitting statistics of a grid optimisation: how much to trust the best combination.

Two statistics, both pure functions of the per-bar returns of the combinations a grid tried:

* :func:`probability_of_backtest_overfitting` — Bailey, Borwein, López de Prado & Zhu (2017),
  "The Probability of Backtest Overfitting": combinatorially symmetric cross-validation (CSCV)
  over time blocks of the returns. The PBO is the fraction of in-sample/out-of-sample splits in
  which the in-sample best combination does no better than the out-of-sample median.
* :func:`deflated_sharpe_ratio` — Bailey & López de Prado (2014), "The Deflated Sharpe Ratio":
  the probability that the chosen combination's true Sharpe ratio exceeds the Sharpe ratio the
  best of ``n_trials`` skill-less trials is expected to reach (:func:`expected_max_sharpe`),
  corrected for skewness, kurtosis and sample length.

Both read the returns only through :class:`ReturnBlocks`: for each combination and each CSCV
block, the block's mean, sum of squared deviations and extremes, and the same moments (to the
fourth) over all the returns — O(combinations × blocks) numbers, never a (bars × combinations)
matrix. :func:`equity_blocks` builds them from a lane's compressed equity curve
(``state.EquityPoints``) without its flat bars, :func:`return_blocks` from a return matrix, and
both give the same numbers bit for bit (every sum runs over a combination's non-zero returns of
one block, or of all, in time order; the zero returns enter as a count). Aggregates of different chunks of combinations
join with :meth:`ReturnBlocks.concat`.

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

import functools
import itertools
import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, NamedTuple

import attrs
import numpy as np

from fp.ledger import equity_returns
from state.errors import AdmfError
from state.ledger import EquityPoints

__all__ = [
    "DSR",
    "PBO",
    "ReturnBlocks",
    "SharpeStatistics",
    "StatisticsError",
    "cscv_blocks",
    "deflated_sharpe_ratio",
    "equity_blocks",
    "expected_max_sharpe",
    "normal_cdf",
    "normal_quantile",
    "probability_of_backtest_overfitting",
    "return_blocks",
    "selection_statistics",
    "sharpe_of",
    "sharpe_statistics",
]

#: The Euler–Mascheroni constant γ of the expected-maximum formula.
EULER_GAMMA = 0.5772156649015329

#: Most blocks CSCV accepts: C(24, 12) = 2,704,156 splits. More would run for hours.
_MAX_BLOCKS = 24

#: Elements of the (halves × combinations) working arrays held at once (~32 MB each).
_CHUNK_ELEMENTS = 1 << 22

#: Blocks per group of CSCV's subset tables: a half's sums add one table entry per group (2^8 rows each).
_GROUP = 8

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


@attrs.frozen(eq=False)
class ReturnBlocks:
    """Per-combination aggregates of per-bar returns: all that CSCV and the deflated Sharpe ratio read.

    ``n_returns`` returns per combination; CSCV leaves out the first ``dropped`` (= ``n_returns
    mod n_blocks``) and cuts the rest into ``n_blocks`` contiguous blocks of ``block_size``.
    Arrays hold one column per combination, in the order the combinations were given:

    * ``block_mean``, ``block_m2``, ``block_low``, ``block_high`` — (n_blocks × combinations):
      each block's mean, sum of squared deviations from that mean, lowest and highest return;
    * ``mean``, ``m2``, ``m3``, ``m4`` — (combinations): the mean of all ``n_returns`` returns and
      the sums of their deviations from it to the 2nd, 3rd and 4th power; ``low``, ``high`` their
      extremes (equal: every return is the same).

    Build them with :func:`return_blocks` or :func:`equity_blocks`; :meth:`concat` joins
    combinations aggregated apart (chunks), :meth:`take` selects some.
    """

    n_returns: int
    n_blocks: int
    block_mean: np.ndarray = attrs.field(repr=False)
    block_m2: np.ndarray = attrs.field(repr=False)
    block_low: np.ndarray = attrs.field(repr=False)
    block_high: np.ndarray = attrs.field(repr=False)
    mean: np.ndarray = attrs.field(repr=False)
    m2: np.ndarray = attrs.field(repr=False)
    m3: np.ndarray = attrs.field(repr=False)
    m4: np.ndarray = attrs.field(repr=False)
    low: np.ndarray = attrs.field(repr=False)
    high: np.ndarray = attrs.field(repr=False)

    @property
    def n_combinations(self) -> int:
        return int(self.mean.shape[0])

    @property
    def block_size(self) -> int:
        return self.n_returns // self.n_blocks

    @property
    def dropped(self) -> int:
        """The first returns CSCV leaves out: ``n_returns mod n_blocks``."""
        return self.n_returns - self.n_blocks * self.block_size

    def take(self, columns) -> "ReturnBlocks":
        """The aggregates of the combinations at ``columns`` (indices or a mask), in that order."""
        return attrs.evolve(self, **{name: getattr(self, name)[..., columns] for name in _ARRAYS})

    @classmethod
    def empty(cls, n_returns: int, n_blocks: int) -> "ReturnBlocks":
        """The aggregates of no combination."""
        block, total = np.empty((n_blocks, 0)), np.empty(0)
        return cls(n_returns, n_blocks, *(block,) * 4, *(total,) * 6)

    @classmethod
    def concat(cls, parts: "list[ReturnBlocks]") -> "ReturnBlocks":
        """Combinations aggregated apart, side by side (every part of the same returns layout)."""
        first = parts[0]
        for part in parts[1:]:
            if (part.n_returns, part.n_blocks) != (first.n_returns, first.n_blocks):
                raise StatisticsError(f"ReturnBlocks of {part.n_returns} returns in {part.n_blocks} blocks cannot join "
                                      f"{first.n_returns} returns in {first.n_blocks} blocks")
        return attrs.evolve(first, **{name: np.concatenate([getattr(p, name) for p in parts], axis=-1)
                                      for name in _ARRAYS})


_ARRAYS = ("block_mean", "block_m2", "block_low", "block_high", "mean", "m2", "m3", "m4", "low", "high")


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
    out = np.full(np.broadcast_shapes(mean.shape, variance.shape), _NAN)
    np.sqrt(variance, out=out, where=positive)
    np.divide(mean, out, out=out, where=positive)
    return out if out.ndim else out[()]


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
    index = np.flatnonzero(series)
    return _sharpe_statistics_of(_aggregate(np.zeros(len(index), np.intp), index, series[index], 1, n, 1), 0)


def _sharpe_statistics_of(blocks: "ReturnBlocks", column: int) -> SharpeStatistics:
    """:class:`SharpeStatistics` of one column of ``blocks`` (over all its returns)."""
    n = blocks.n_returns
    if blocks.low[column] == blocks.high[column]:
        return SharpeStatistics(_NAN, _NAN, _NAN, n)
    m2, m3, m4 = (float(getattr(blocks, name)[column]) / n for name in ("m2", "m3", "m4"))
    sharpe = float(sharpe_of(blocks.mean[column], blocks.m2[column] / (n - 1), n))
    return SharpeStatistics(sharpe, m3 / m2 ** 1.5, m4 / m2 ** 2, n)


# ---- per-block aggregates ---------------------------------------------------------------------------

def cscv_blocks(n_returns: int) -> int | None:
    """The CSCV blocks the workflows cut ``n_returns`` returns into: 16 from 320 returns on,
    fewer (even, about 20 returns each) for shorter series, ``None`` under 40 returns (too few
    to say anything).

    >>> cscv_blocks(2147), cscv_blocks(200), cscv_blocks(39)
    (16, 10, None)
    """
    if n_returns < 40:
        return None
    return 16 if n_returns >= 320 else max(2, (n_returns // 20) // 2 * 2)


def return_blocks(returns: np.ndarray, *, n_blocks: int) -> ReturnBlocks:
    """The :class:`ReturnBlocks` of a (returns × combinations) matrix, one column per combination.

    ``returns`` must be finite; ``n_blocks`` even, 2 to 24, with at least 2 returns per half. Equal, bit for bit, to :func:`equity_blocks` of the equity curves
    the returns come from.

    >>> blocks = return_blocks(np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 2.0]]), n_blocks=2)
    >>> blocks.block_mean.tolist(), blocks.block_m2.tolist(), blocks.mean.tolist()
    ([[2.0, 1.0], [1.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]], [1.5, 1.0])
    """
    matrix = _returns_matrix(returns, "returns")
    n_rows, n_columns = matrix.shape
    _check_blocks(n_blocks, n_rows)
    by_column = np.ascontiguousarray(matrix.T)
    column, index = np.nonzero(by_column)  # by combination, then time
    return _aggregate(column, index, by_column[column, index], n_columns, n_rows, n_blocks)


def equity_blocks(points: EquityPoints, *, n_blocks: int) -> ReturnBlocks:
    """The :class:`ReturnBlocks` (one combination) of the per-bar returns of a compressed equity
    curve, read from its kept points only (``fp.ledger.equity_returns``): the flat bars are never
    built. Law: equal, bit for bit, to :func:`return_blocks` of the full curve's returns
    (``pipelines.engine.tables.bar_returns``).

    >>> from fp.ledger import equity_points
    >>> p = equity_points(np.array([10.0, 11.0, 12.0, 13.0, 14.0]), np.array([1, 3]), np.array([89.0, 102.0]),
    ...                   np.array([1.0, 0.0]), 100.0)
    >>> equity_blocks(p, n_blocks=2).block_mean.round(6).tolist()
    [[0.005], [0.00495]]
    """
    n_returns = points.n_bars - 1
    _check_blocks(n_blocks, n_returns)
    index, values = equity_returns(points)
    if not np.isfinite(values).all():
        at = int(index[np.flatnonzero(~np.isfinite(values))[0]])
        raise StatisticsError(f"the equity curve's return {at} is not finite: every return must be finite")
    return _aggregate(np.zeros(len(index), np.intp), index, values, 1, n_returns, n_blocks)


def _aggregate(column: np.ndarray, index: np.ndarray, values: np.ndarray, n_columns: int, n_returns: int,
               n_blocks: int) -> ReturnBlocks:
    """Aggregate the non-zero returns ``values`` at ``index`` of each ``column`` (sorted by column,
    then index; every other return is 0).

    Every sum is ``np.add.reduceat``'s over one segment — a combination's non-zero returns in one
    block, or all of them — in time order, so a column's numbers depend on its own returns alone,
    never on the other columns or how they were batched; a zero return enters only through the
    count: a block's squared deviations are the sum of ``(r − mean)²`` over its non-zero returns
    plus ``zeros × mean²``.
    """
    size = n_returns // n_blocks
    head = n_returns - n_blocks * size
    width = n_blocks + 1  # bin 0 of each column: the returns CSCV leaves out, then its blocks
    n_bins = n_columns * width
    # where each bin's entries start: entries are sorted by (column, index)
    edges = np.concatenate(([0], head + size * np.arange(n_blocks)))
    key = column.astype(np.int64) * n_returns + index if n_columns > 1 else index
    starts = np.searchsorted(key, (np.arange(n_columns, dtype=np.int64)[:, None] * n_returns + edges).ravel())
    count = np.diff(np.append(starts, len(key)))
    filled = np.flatnonzero(count)
    at = starts[filled]

    def segment_sums(x: np.ndarray) -> np.ndarray:
        out = np.zeros(n_bins)
        if len(at):
            out[filled] = np.add.reduceat(x, at)
        return out

    zeros = (np.array([head] + [size] * n_blocks) - count.reshape(n_columns, width)).ravel()
    mean = segment_sums(values) / size
    square = np.repeat(mean, count)  # each return's block mean, then (r - mean)², in place: few large temporaries
    np.subtract(values, square, out=square)
    np.multiply(square, square, out=square)
    m2 = segment_sums(square) + zeros * (mean * mean)
    low, high = np.full(n_bins, np.inf), np.full(n_bins, -np.inf)
    if len(at):
        low[filled] = np.minimum.reduceat(values, at)
        high[filled] = np.maximum.reduceat(values, at)
    some_zero = zeros > 0
    low = np.where(some_zero, np.minimum(low, 0.0), low).reshape(n_columns, width)
    high = np.where(some_zero, np.maximum(high, 0.0), high).reshape(n_columns, width)
    # all the returns of each column, about their own mean
    per_column = count.reshape(n_columns, width).sum(axis=1)
    column_at = np.flatnonzero(per_column)
    first = starts[::width][column_at]

    def column_sums(x: np.ndarray) -> np.ndarray:
        out = np.zeros(n_columns)
        if len(first):
            out[column_at] = np.add.reduceat(x, first)
        return out

    total_mean = column_sums(values) / n_returns
    deviation = values - (total_mean[0] if n_columns == 1 else np.repeat(total_mean, per_column))
    np.multiply(deviation, deviation, out=square)
    flat = n_returns - per_column
    c = -total_mean  # a zero return's deviation
    c2 = c * c
    total_m2 = column_sums(square) + flat * c2
    np.multiply(square, deviation, out=deviation)
    total_m3 = column_sums(deviation) + flat * (c2 * c)
    np.multiply(square, square, out=square)
    total_m4 = column_sums(square) + flat * (c2 * c2)
    by_block = lambda x: np.ascontiguousarray(x.reshape(n_columns, width)[:, 1:].T)
    return ReturnBlocks(
        n_returns=n_returns, n_blocks=n_blocks,
        block_mean=by_block(mean), block_m2=by_block(m2), block_low=by_block(low), block_high=by_block(high),
        mean=total_mean, m2=total_m2, m3=total_m3, m4=total_m4, low=low.min(axis=1), high=high.max(axis=1),
    )


# ---- the probability of backtest overfitting -------------------------------------------------------

def probability_of_backtest_overfitting(
    returns: np.ndarray | ReturnBlocks,
    *,
    n_blocks: int | None = None,
    objective: Callable[[np.ndarray, np.ndarray, int], np.ndarray] = sharpe_of,
) -> PBO:
    """The probability of backtest overfitting of choosing the best column of ``returns``, by CSCV.

    ``returns`` is a (T returns × N combinations) matrix of per-bar returns, one column per
    combination, finite, with N >= 2 — or its :class:`ReturnBlocks`, which is all CSCV reads
    (``n_blocks`` then comes with them; for a matrix it defaults to 16). CSCV (Bailey, Borwein,
    López de Prado & Zhu 2017):

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
    :func:`sharpe_of`); ``lambda mean, variance, count: mean`` ranks by mean return. A half's
    moments pool its blocks' (Chan et al.; see :func:`_half_objectives`), so the cost is
    O(splits × N) after the aggregates, whatever the number of bars.

    >>> returns = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 2.0]])
    >>> pbo = probability_of_backtest_overfitting(returns, n_blocks=2)
    >>> pbo.probability, pbo.n_splits, [round(x, 4) for x in pbo.logits]
    (0.5, 2, [0.0, 0.6931])
    """
    blocks = _blocks_of(returns, n_blocks)
    n_blocks, n_columns = blocks.n_blocks, blocks.n_combinations
    if n_columns < 2:
        raise StatisticsError(f"returns hold {n_columns} combination(s): needs at least 2 combinations (columns) "
                              "to select from")
    halves = _halves(n_blocks)
    n_splits = len(halves)
    # Split i's OOS half is split (n_splits - 1 - i)'s IS half: the lexicographic list of the
    # k-subsets of 2k blocks, read backwards, lists their complements (complementing flips every
    # bit of a subset's indicator, which reverses their lexicographic order). So each half's
    # objectives are computed once and serve the pair of splits (i, n_splits - 1 - i).
    tables = _SubsetTables.of(blocks)
    codes = tables.codes(halves)
    chosen_is, chosen_oos, ranks = (np.empty(n_splits) for _ in range(3))
    defined = np.empty(n_splits, bool)
    chunk = max(1, _CHUNK_ELEMENTS // n_columns)
    for start in range(0, n_splits // 2, chunk):
        first = np.arange(start, min(start + chunk, n_splits // 2))
        mirror = n_splits - 1 - first
        values = [_half_objectives(tables, codes[:, rows], objective) for rows in (first, mirror)]
        undefined = [np.isnan(v) for v in values]
        scores = [np.where(nan, -np.inf, v) for nan, v in zip(undefined, values)]  # a NaN ranks below every number
        for rows, i, o in ((first, 0, 1), (mirror, 1, 0)):
            chosen_is[rows], chosen_oos[rows], ranks[rows] = _rank_of_is_best(values[i], scores[i], values[o], scores[o])
            defined[rows] = ~undefined[i].all(axis=1)

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


@functools.lru_cache(maxsize=None)
def _halves(n_blocks: int) -> np.ndarray:
    """CSCV's in-sample halves of ``n_blocks`` blocks, in lexicographic order (read-only, shared)."""
    halves = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)), dtype=np.intp)
    halves.setflags(write=False)
    return halves


def _blocks_of(returns: np.ndarray | ReturnBlocks, n_blocks: int | None) -> ReturnBlocks:
    """``returns`` as :class:`ReturnBlocks`: aggregated from a matrix in ``n_blocks`` (16 when not
    given), or as given (``n_blocks``, when given, must be theirs)."""
    if not isinstance(returns, ReturnBlocks):
        return return_blocks(returns, n_blocks=16 if n_blocks is None else n_blocks)
    if n_blocks is not None and n_blocks != returns.n_blocks:
        raise StatisticsError(f"n_blocks={n_blocks!r}: the ReturnBlocks given hold {returns.n_blocks} blocks")
    return returns


@attrs.frozen(eq=False)
class _SubsetTables:
    """For each group of up to ``_GROUP`` consecutive blocks, every subset's pooled block
    figures, so that a half's figures are one table entry per group.

    Entry ``mask`` of a group's table pools the blocks whose bits ``mask`` sets, added in block
    order; a half adds its groups' entries in group order. Sums: the block means, and each
    block's squared deviations plus its size × its mean² (its sum of squares about 0); extremes
    (lowest, highest return) only for the columns with a constant block (``constant_columns``):
    no other column can have a constant half.
    """

    groups: tuple[int, ...]                # the first block of each group
    n_blocks: int
    n_in_half: int
    block_size: int
    means: tuple[np.ndarray, ...]          # per group: (2^g, N)
    squares: tuple[np.ndarray, ...]
    constant_columns: np.ndarray           # indices
    lows: tuple[np.ndarray, ...]           # per group: (2^g, len(constant_columns))
    highs: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, blocks: ReturnBlocks) -> "_SubsetTables":
        starts = tuple(range(0, blocks.n_blocks, _GROUP))
        parts = [slice(g, min(g + _GROUP, blocks.n_blocks)) for g in starts]
        mean = blocks.block_mean
        constant = np.flatnonzero((blocks.block_low == blocks.block_high).any(axis=0))
        low, high = blocks.block_low[:, constant], blocks.block_high[:, constant]
        return cls(
            starts, blocks.n_blocks, blocks.n_blocks // 2, blocks.block_size,
            tuple(_subset_table(mean[p], np.add, 0.0) for p in parts),
            tuple(_subset_table(blocks.block_m2[p] + blocks.block_size * (mean[p] * mean[p]), np.add, 0.0)
                  for p in parts),
            constant,
            tuple(_subset_table(low[p], np.minimum, np.inf) for p in parts),
            tuple(_subset_table(high[p], np.maximum, -np.inf) for p in parts),
        )

    def codes(self, halves: np.ndarray) -> np.ndarray:
        """Each half's subset of each group, as the bits of its blocks: (groups × halves)."""
        bit = np.zeros((len(self.groups), self.n_blocks), np.intp)
        for g, first in enumerate(self.groups):
            last = min(first + _GROUP, self.n_blocks)
            bit[g, first:last] = 1 << np.arange(last - first)
        return bit[:, halves].sum(axis=2)

    def pooled(self, tables: tuple[np.ndarray, ...], codes: np.ndarray, op) -> np.ndarray:
        out = tables[0][codes[0]]
        for table, code in zip(tables[1:], codes[1:]):
            op(out, table[code], out=out)
        return out


def _subset_table(values: np.ndarray, op, identity: float) -> np.ndarray:
    """``op`` over every subset of the rows of ``values`` (g × N): row ``mask`` combines the rows
    whose bits ``mask`` sets, in row order (the identity for the empty subset)."""
    g, n = values.shape
    table = np.empty((1 << g, n))
    table[0] = identity
    for j in range(g):
        table[1 << j:2 << j] = op(table[:1 << j], values[j])
    return table


def _half_objectives(tables: _SubsetTables, codes: np.ndarray, objective) -> np.ndarray:
    """``objective`` of every column on each half (its groups' subsets in ``codes``).

    A half's moments pool its k blocks' of ``b`` returns each (Chan et al.): the mean is the
    mean of the block means and ``M2 = Σ (M2_b + b mean_b²) − k b mean²`` (``= Σ M2_b + b Σ
    (mean_b − mean)²``); a half is constant when its lowest and highest returns are equal (its
    variance is then exactly 0). Every column goes through the same operations in the same order,
    so equal columns get bit-equal objectives.
    """
    k, size = tables.n_in_half, tables.block_size
    count = size * k
    mean = tables.pooled(tables.means, codes, np.add)
    mean /= k
    m2 = tables.pooled(tables.squares, codes, np.add)
    m2 -= count * (mean * mean)
    variance = np.maximum(m2, 0.0, out=m2)
    variance /= count - 1
    if len(tables.constant_columns):
        constant = tables.pooled(tables.lows, codes, np.minimum) == tables.pooled(tables.highs, codes, np.maximum)
        columns = variance[:, tables.constant_columns]
        columns[constant] = 0.0
        variance[:, tables.constant_columns] = columns
    values = np.asarray(objective(mean, variance, count), dtype=float)
    if values.shape != mean.shape:
        raise StatisticsError(f"objective returned shape {values.shape}: must return one value per "
                              f"column and half, shape {mean.shape}")
    return values


def _rank_of_is_best(is_objectives: np.ndarray, is_scores: np.ndarray, oos_objectives: np.ndarray,
                     oos_scores: np.ndarray):
    """Per split (row): the IS-best column's IS and OOS objectives and its average OOS rank
    (``*_scores``: the objectives with NaN as -inf)."""
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
    spread = float((dx * dx).sum())  # not BLAS: its threads would spin on the cores a sweep runs on
    if spread == 0.0:
        return _NAN, _NAN
    slope = float((dx * (y - y.mean())).sum()) / spread
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

def selection_statistics(returns: np.ndarray | ReturnBlocks, chosen: int, *,
                         n_blocks: int | None = None) -> dict[str, Any]:
    """Overfitting statistics of choosing column ``chosen`` of a (bars × combinations) matrix, or
    of its :class:`ReturnBlocks` (``n_blocks`` as in :func:`probability_of_backtest_overfitting`).

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
    blocks = _blocks_of(returns, n_blocks)
    n_rows, n_columns = blocks.n_returns, blocks.n_combinations
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)) or not 0 <= chosen < n_columns:
        raise StatisticsError(f"chosen={chosen!r}: must be a column index in [0, {n_columns})")
    pbo = probability_of_backtest_overfitting(blocks, objective=sharpe_of)
    constant = blocks.low == blocks.high
    sharpes = sharpe_of(blocks.mean, np.where(constant, 0.0, blocks.m2 / (n_rows - 1)), n_rows)
    defined = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(defined, ddof=1)) if len(defined) >= 2 else _NAN
    moments = _sharpe_statistics_of(blocks, int(chosen))
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
    if matrix.shape[1] < 1:
        raise StatisticsError(f"{name}.shape={matrix.shape}: needs a column per combination")
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
