"""First-passage searches against plain Python loops, plus hand-worked trailing stops."""
from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fp.triggers as triggers
from fp.triggers import RangeExtremes, first_trailing_hit

NAN = math.nan

# Small integers make ties common; a few off-grid floats and NaNs keep the comparisons honest.
prices = st.one_of(st.integers(0, 6).map(float), st.floats(-100.0, 100.0, allow_nan=False, allow_infinity=False))
levels = st.one_of(prices, st.sampled_from([-math.inf, math.inf, NAN]))


@st.composite
def bar_queries(draw, *, min_bars=0, nan=True):
    """``(values, start, stop)``: up to 300 values and up to 40 ranges, some empty or reversed."""
    value = st.one_of(prices, st.just(NAN)) if nan else prices
    values = draw(st.lists(value, min_size=min_bars, max_size=300))
    n = len(values)
    bar = st.one_of(st.integers(0, n), st.sampled_from([0, n]))
    pairs = draw(st.lists(st.tuples(bar, bar), max_size=40))
    start = np.array([p[0] for p in pairs], dtype=np.intp)
    stop = np.array([p[1] for p in pairs], dtype=np.intp)
    return np.array(values, dtype=np.float64), start, stop


# --- Python loop references -------------------------------------------------------------------


def range_min(values, start, stop):
    present = [v for v in values[start:stop] if not math.isnan(v)]
    return min(present, default=math.inf)


def range_max(values, start, stop):
    present = [v for v in values[start:stop] if not math.isnan(v)]
    return max(present, default=-math.inf)


def first_where(values, start, stop, hits):
    for j in range(start, stop):
        if hits(values[j]):
            return j
    return stop


def trailing_hit(high, low, start, stop, anchor, side, fraction, distance, offset=0.0):
    """The bar loop: the stop from the extreme before bar j, then the bar's test, then the update."""
    extreme = anchor
    for j in range(start, stop):
        if side > 0:
            level = extreme * (1.0 - fraction) - offset if distance is None else extreme - distance
            if low[j] <= level:
                return j, level
            if not math.isnan(high[j]) and (math.isnan(extreme) or high[j] > extreme):
                extreme = high[j]
        else:
            level = extreme * (1.0 + fraction) + offset if distance is None else extreme + distance
            if high[j] >= level:
                return j, level
            if not math.isnan(low[j]) and (math.isnan(extreme) or low[j] < extreme):
                extreme = low[j]
    return stop, NAN


# --- RangeExtremes ----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(bar_queries())
def test_min_and_max_equal_the_loop(case):
    values, start, stop = case
    r = RangeExtremes.of(values)
    assert len(values) == len(r)
    assert [range_min(values, s, e) for s, e in zip(start, stop)] == r.min(start, stop).tolist()
    assert [range_max(values, s, e) for s, e in zip(start, stop)] == r.max(start, stop).tolist()


@settings(max_examples=150, deadline=None)
@given(bar_queries(), st.data())
def test_first_passages_equal_the_loop(case, data):
    values, start, stop = case
    level = np.array(data.draw(st.lists(levels, min_size=len(start), max_size=len(start))))
    r = RangeExtremes.of(values)
    below = [first_where(values, s, e, lambda v, x=x: v <= x) for s, e, x in zip(start, stop, level)]
    above = [first_where(values, s, e, lambda v, x=x: v >= x) for s, e, x in zip(start, stop, level)]
    assert below == r.first_at_or_below(start, stop, level).tolist()
    assert above == r.first_at_or_above(start, stop, level).tolist()


@settings(max_examples=50, deadline=None)
@given(bar_queries(min_bars=1), prices)
def test_scalar_arguments_broadcast(case, level):
    values, start, stop = case
    r = RangeExtremes.of(values)
    expected = [first_where(values, s, len(values), lambda v: v <= level) for s in start]
    assert expected == r.first_at_or_below(start, len(values), level).tolist()
    assert range_max(values, 0, len(values)) == r.max(0, len(values)).item()


def test_tables_hold_block_extremes_with_nan_read_as_infinity():
    r = RangeExtremes.of(np.array([2, 7, 1, 8]))
    inf = math.inf
    assert [[2.0, 7.0, 1.0, 8.0, inf], [2.0, 1.0, 1.0, 8.0, inf], [1.0, 1.0, 1.0, 8.0, inf]] == r.minima.tolist()
    assert [[2.0, -inf, -inf], [2.0, -inf, -inf]] == RangeExtremes.of(np.array([2.0, NAN])).maxima.tolist()


def test_queries_keep_their_shape():
    r = RangeExtremes.of(np.array([5.0, 3.0, 4.0, 1.0]))
    start = np.array([[0, 1], [2, 4]])
    assert [[3, 3], [3, 4]] == r.first_at_or_below(start, 4, 1.0).tolist()
    assert [[5.0, 4.0], [4.0, -np.inf]] == r.max(start, 4).tolist()


def test_first_at_or_below_runs_on_100k_bars_and_10k_queries():
    rng = np.random.default_rng(7)
    values = 100.0 + np.cumsum(rng.normal(0.0, 1.0, 100_000))
    start = rng.integers(0, 100_000, 10_000)
    stop = np.minimum(start + rng.integers(0, 50_000, 10_000), 100_000)
    level = values[start] - rng.uniform(0.0, 20.0, 10_000)
    found = RangeExtremes.of(values).first_at_or_below(start, stop, level)
    assert (10_000,) == found.shape
    for s, e, x, j in list(zip(start, stop, level, found))[:50]:
        hits = np.flatnonzero(values[s:e] <= x)
        assert (s + hits[0] if len(hits) else e) == j


# --- first_trailing_hit -----------------------------------------------------------------------


@st.composite
def trailing_queries(draw):
    """High/low bars (high >= low, rare NaNs) and up to 30 long and short queries."""
    n = draw(st.integers(1, 300))
    low = np.array(draw(st.lists(st.integers(90, 110).map(float), min_size=n, max_size=n)))
    high = low + np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=n, max_size=n)))
    for j in draw(st.lists(st.integers(0, n - 1), max_size=3)):
        (high if draw(st.booleans()) else low)[j] = NAN
    bar = st.one_of(st.integers(0, n), st.sampled_from([0, n]))
    k = draw(st.integers(0, 30))

    def column(strategy):
        return np.array(draw(st.lists(strategy, min_size=k, max_size=k)))

    start, stop = column(bar).astype(np.intp), column(bar).astype(np.intp)
    anchor = column(st.integers(90, 112).map(float))
    side = column(st.sampled_from([1, -1])).astype(np.int64)
    fraction = column(st.one_of(st.sampled_from([0.0, 0.01, 0.05, 0.25]), st.floats(0.0, 0.2)))
    distance = column(st.one_of(st.sampled_from([0.0, 0.5, 2.0]), st.floats(0.0, 8.0)))
    offset = column(st.one_of(st.just(0.0), st.floats(-3.0, 3.0)))  # with negative fractions: equity drawdowns
    fraction = np.where(offset != 0.0, np.where(side > 0, fraction, -fraction), fraction)
    return high, low, start, stop, anchor, side, fraction, distance, offset


def assert_trailing_matches_loop(high, low, start, stop, anchor, side, fraction, distance, offset):
    for by_fraction in (True, False):
        given_size = {"fraction": fraction, "offset": offset} if by_fraction else {"distance": distance}
        bar, level = first_trailing_hit(high, low, start, stop, anchor, side, **given_size)
        expected = [
            trailing_hit(high, low, *q, f, None if by_fraction else d, o if by_fraction else 0.0)
            for *q, f, d, o in zip(start, stop, anchor, side, fraction, distance, offset)
        ]
        assert [e[0] for e in expected] == bar.tolist()
        np.testing.assert_array_equal(np.array([e[1] for e in expected]), level)


@settings(max_examples=100, deadline=None)
@given(trailing_queries())
def test_trailing_hit_equals_the_bar_loop(case):
    assert_trailing_matches_loop(*case)


@settings(max_examples=40, deadline=None)
@given(trailing_queries())
def test_trailing_hit_is_unchanged_by_query_slicing(case):
    with mock.patch.object(triggers, "_CELLS", 40):  # slices of 1-2 queries, blocks capped at 40 bars
        assert_trailing_matches_loop(*case)


HIGH = np.array([100.0, 104.0, 108.0, 106.0, 101.0, 95.0])
LOW = np.array([96.0, 99.0, 100.0, 82.0, 80.0, 90.0])


def test_long_trailing_stop_by_fraction():
    # peaks before each bar: 100, 100, 104, 108, 108 -> stops 75, 75, 78, 81, 81; low 80 <= 81 at bar 4
    bar, level = first_trailing_hit(HIGH, LOW, [0], [6], [100.0], [1], fraction=[0.25])
    assert ([4], [81.0]) == (bar.tolist(), level.tolist())
    # from bar 1 with the anchor 90 below the highs: stops 67.5, 78, 81, 81 -> none in [1, 4), bar 4 in [1, 5)
    bar, level = first_trailing_hit(HIGH, LOW, 1, np.array([4, 5]), 90.0, 1, fraction=0.25)
    assert [4, 4] == bar.tolist()
    np.testing.assert_array_equal([NAN, 81.0], level)


def test_long_trailing_stop_by_distance():
    # peaks 100, 100, 104, 108 -> stops 95, 95, 99, 103; low 99 > 95 at bar 1, 100 > 99 at 2, 82 <= 103 at 3
    bar, level = first_trailing_hit(HIGH, LOW, 0, 6, 100.0, 1, distance=5.0)
    assert (3, 103.0) == (bar.item(), level.item())


def test_short_trailing_stop_by_fraction():
    # troughs before each bar from bar 4: 84, 80 -> stops 105, 100; highs 101 < 105, 95 < 100: no hit
    bar, level = first_trailing_hit(HIGH, LOW, 4, 6, 84.0, -1, fraction=0.25)
    assert (6, True) == (bar.item(), math.isnan(level.item()))
    # from bar 3 with the anchor at 80 the first stop is 100: the high 106 of bar 3 hits at once
    bar, level = first_trailing_hit(HIGH, LOW, 3, 6, 80.0, -1, fraction=0.25)
    assert (3, 100.0) == (bar.item(), level.item())


def test_short_trailing_stop_by_distance():
    # troughs from bar 3 with anchor 90: 90, 82, 80 -> stops 96, 88, 86; high 106 >= 96 at bar 3
    bar, level = first_trailing_hit(HIGH, LOW, [3, 4], 6, 90.0, -1, distance=[6.0, 14.0])
    # the second query starts at bar 4 with stops 104, 94: high 101 < 104, then 95 >= 94 at bar 5
    assert ([3, 5], [96.0, 94.0]) == (bar.tolist(), level.tolist())


def test_trailing_needs_exactly_one_size():
    with pytest.raises(ValueError, match="exactly one"):
        first_trailing_hit(HIGH, LOW, 0, 6, 100.0, 1)
    with pytest.raises(ValueError, match="exactly one"):
        first_trailing_hit(HIGH, LOW, 0, 6, 100.0, 1, fraction=0.1, distance=1.0)


def test_trailing_runs_on_100k_bars_and_10k_queries():
    rng = np.random.default_rng(11)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, 100_000))
    high, low = close + 0.5, close - 0.5
    start = rng.integers(0, 100_000, 10_000)
    side = rng.choice([-1, 1], 10_000)
    bar, level = first_trailing_hit(high, low, start, 100_000, close[start], side, fraction=0.05)
    assert (10_000,) == bar.shape == level.shape
    expected = [trailing_hit(high, low, s, 100_000, close[s], d, 0.05, None) for s, d in zip(start[:20], side[:20])]
    assert [e[0] for e in expected] == bar[:20].tolist()
    np.testing.assert_array_equal([e[1] for e in expected], level[:20])


def test_exports():
    assert sorted(triggers.__all__) == triggers.__all__
    assert all(hasattr(triggers, name) for name in triggers.__all__)
