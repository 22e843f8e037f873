"""Downsampling keeps the extremes, the deepest drawdown and the extreme trades (laws and hand-worked rows)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fp.downsample import drawdown_indices, extrema_indices, representative_rows
from fp.metrics import max_drawdown

SERIES = st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=4000).map(
    lambda steps: 1000.0 * np.cumprod(1.0 + np.array(steps)))
BUDGET = st.integers(6, 300)


@settings(max_examples=200, deadline=None)
@given(SERIES, BUDGET)
def test_extrema_are_kept_within_the_budget(values, budget):
    kept = extrema_indices(values, budget)
    assert kept.tolist() == sorted(set(kept.tolist()))
    assert len(kept) <= budget
    assert (0, len(values) - 1) == (kept[0], kept[-1])
    assert values.max() == values[kept].max()
    assert values.min() == values[kept].min()


@settings(max_examples=200, deadline=None)
@given(SERIES, BUDGET)
def test_the_deepest_drawdown_is_kept(values, budget):
    kept = drawdown_indices(values, budget)
    assert len(kept) <= budget
    assert max_drawdown(values) == max_drawdown(values[kept])
    assert values.max() == values[kept].max() and values.min() == values[kept].min()


def test_hand_worked_buckets_keep_each_buckets_low_and_high():
    values = np.array([5.0, 1.0, 2.0, 9.0, 3.0, 4.0, 0.0, 6.0, 7.0, 8.0])  # buckets [0, 5) and [5, 10)
    assert [0, 1, 3, 6, 9] == extrema_indices(values, 6).tolist()
    assert list(range(10)) == extrema_indices(values, 10).tolist()


def test_a_drawdown_inside_one_bucket_keeps_its_peak():
    # min/max alone keep 90 and 141 of the one bucket: the 120 -> 90 drawdown (25 %) would read 10 %
    equity = np.array([100.0, 120.0, 90.0, 130.0, 125.0, 140.0, 141.0, 110.0])
    assert [0, 2, 6, 7] == extrema_indices(equity, 4).tolist()
    assert [0, 1, 2, 6, 7] == drawdown_indices(equity, 6).tolist()


def test_nan_is_never_an_extreme_unless_a_bucket_has_nothing_else():
    values = np.array([np.nan, np.nan, np.nan, 1.0, 5.0, 2.0, np.nan, 0.5])
    assert [0, 3, 4, 7] == extrema_indices(values, 6).tolist()  # buckets [0, 4) and [4, 8)
    all_nan = np.array([np.nan] * 4 + [1.0, 2.0, 3.0, 4.0])
    assert [0, 4, 7] == extrema_indices(all_nan, 6).tolist()  # an all-NaN bucket keeps its first row


def test_representative_rows_keep_the_best_and_worst_and_spread_the_rest():
    pnl = np.array([3.0, -9.0, 1.0, 0.0, 8.0, 2.0, -1.0, 5.0, 4.0, -2.0, 6.0, 7.0])
    kept = representative_rows(pnl, 8)
    assert 8 == len(kept)
    assert {1, 9, 4, 11} <= set(kept.tolist())  # the two worst (-9, -2) and the two best (8, 7)
    assert list(range(5)) == representative_rows(pnl[:5], 8).tolist()
