"""Laws of the overfitting statistics' per-block aggregates (issue 15, item 1).

* the aggregates a fold builds from its compressed equity curves (``fp.overfitting.equity_blocks``)
  equal those of the full curves' return matrix (``return_blocks``), bit for bit;
* ``return_blocks`` computes the documented sums: every sum numpy's (``np.add.reduceat``) over
  a combination's non-zero returns of one block (or of all) in time order, the zero returns
  entering as a count (a computation block by block from the matrix gives the same bits);
* block-aggregate PBO and deflated Sharpe ratio ≡ the dense computation over the whole matrix
  (``tests/support/dense_cscv.py``, the former implementation) on random data: the same PBO,
  logits, defined splits and probability of loss, the floats equal to rounding.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dense_cscv import dense_pbo, dense_selection
from fp.overfitting import ReturnBlocks, equity_blocks, probability_of_backtest_overfitting, return_blocks, \
    selection_statistics
from fp.testing import bars
from pipelines.engine.tables import bar_returns
from law_harness import lanes, ruinous, sparse

LAWS = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ARRAYS = ("block_mean", "block_m2", "block_low", "block_high", "mean", "m2", "m3", "m4", "low", "high")


def same_blocks(a: ReturnBlocks, b: ReturnBlocks) -> None:
    assert (a.n_returns, a.n_blocks) == (b.n_returns, b.n_blocks)
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def blocks_for(n_returns: int, draw, *, least: int = 2, most: int = 24) -> int | None:
    """An even block count from 2 to ``most`` leaving each half ``least`` returns, if there is one."""
    choices = [n for n in range(2, most + 1, 2) if (n_returns // n) * (n // 2) >= least]
    return draw(st.sampled_from(choices)) if choices else None


@LAWS
@given(st.one_of(lanes(), ruinous), bars(min_size=3, max_size=90), st.data())
def test_aggregates_from_compressed_equity_equal_those_of_the_full_curves(case, data, draw):
    signals, s = case
    folded = sparse(signals, s, data)
    n_blocks = blocks_for(len(data) - 1, draw.draw)
    if n_blocks is None:
        return
    cash = [float(c) for c in s.initial_cash]
    full = np.column_stack([folded.equity(i, data.close, cash[i])[0] for i in range(len(signals))])
    dense = return_blocks(bar_returns(full), n_blocks=n_blocks)
    sparse_blocks = ReturnBlocks.concat([equity_blocks(folded.equity_points(i, data.close, cash[i]), n_blocks=n_blocks)
                                         for i in range(len(signals))])
    same_blocks(dense, sparse_blocks)


@st.composite
def return_matrices(draw, min_rows=4, max_rows=200, max_columns=8, zeros=(0.0, 0.5, 0.95)):
    """Random returns with flat stretches (exact zeros), constant and duplicated columns."""
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rows = draw(st.integers(min_rows, max_rows))
    columns = draw(st.integers(2, max_columns))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(draw(st.sampled_from([0.0, 1e-3, -2e-3])), 0.01, size=(rows, columns))
    matrix[rng.random((rows, columns)) < draw(st.sampled_from(zeros))] = 0.0
    if draw(st.booleans()):
        matrix[:, rng.integers(columns)] = draw(st.sampled_from([0.0, 0.001]))
    if draw(st.booleans()):
        matrix[:, 0] = matrix[:, -1]
    return matrix


def numpy_sum(x: np.ndarray) -> float:
    """numpy's sum of a segment of returns, as ``np.add.reduceat`` takes it (0 for none)."""
    return float(np.add.reduceat(x, [0])[0]) if len(x) else 0.0


@LAWS
@given(return_matrices(), st.data())
def test_aggregates_are_sums_over_the_non_zero_returns(matrix, draw):
    n_rows, n_columns = matrix.shape
    n_blocks = blocks_for(n_rows, draw.draw)
    if n_blocks is None:
        return
    got = return_blocks(matrix, n_blocks=n_blocks)
    size = n_rows // n_blocks
    head = n_rows - n_blocks * size
    for c in range(n_columns):
        series = matrix[:, c]
        for b in range(n_blocks):
            block = series[head + b * size:head + (b + 1) * size]
            moved = block[block != 0.0]
            mean = numpy_sum(moved) / size
            m2 = numpy_sum((moved - mean) * (moved - mean)) + (size - len(moved)) * (mean * mean)
            assert (mean, m2, block.min(), block.max()) == (got.block_mean[b, c], got.block_m2[b, c],
                                                            got.block_low[b, c], got.block_high[b, c])
        moved = series[series != 0.0]
        mean = numpy_sum(moved) / n_rows
        d = moved - mean
        c1 = -mean
        flat = n_rows - len(moved)
        assert mean == got.mean[c]
        assert numpy_sum(d * d) + flat * (c1 * c1) == got.m2[c]
        assert numpy_sum((d * d) * d) + flat * ((c1 * c1) * c1) == got.m3[c]
        assert numpy_sum((d * d) * (d * d)) + flat * ((c1 * c1) * (c1 * c1)) == got.m4[c]
        assert (series.min(), series.max()) == (got.low[c], got.high[c])


def close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)


@LAWS
@given(return_matrices(min_rows=80, max_rows=600, zeros=(0.0, 0.3, 0.6)), st.data())
def test_block_pbo_equals_dense_pbo_on_random_data(matrix, draw):
    """Random returns, some flat: halves of 40 returns or more, so that no two combinations'
    objectives tie in exact arithmetic (one non-zero return in a half of n gives a Sharpe ratio
    of ±1/√n whatever the return: such ties are broken by rounding, by either computation)."""
    n_blocks = blocks_for(len(matrix), draw.draw, least=40, most=12)  # C(12, 6) = 924 splits: quick
    dense = dense_pbo(matrix, n_blocks)
    pbo = probability_of_backtest_overfitting(matrix, n_blocks=n_blocks)
    assert close(dense["probability"], pbo.probability)
    assert (dense["n_defined_splits"], ) == (pbo.n_defined_splits, )
    assert np.array_equal(dense["logits"], np.array(pbo.logits), equal_nan=True)
    assert close(dense["probability_of_loss"], pbo.probability_of_loss)
    assert close(dense["degradation_slope"], pbo.degradation_slope)
    assert close(dense["degradation_intercept"], pbo.degradation_intercept)
    chosen = draw.draw(st.integers(0, matrix.shape[1] - 1))
    reference = dense_selection(matrix, chosen)
    stats = selection_statistics(matrix, chosen, n_blocks=n_blocks)
    for name, value in reference.items():
        assert close(value, stats[name]), name
