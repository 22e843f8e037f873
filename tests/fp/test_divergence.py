"""fp.divergence: where two runs of a component part ways, and from which bar they agree."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fp.divergence import agrees, first_divergence, first_event_divergence, warm_up

NAN = np.nan


def test_first_divergence_is_bit_exact_and_nan_equals_nan():
    a = np.array([1.0, NAN, 0.1 + 0.2, 4.0])
    assert first_divergence(a, np.array([1.0, NAN, 0.3, 4.0]), 4) == 2  # 0.30000000000000004 is not 0.3
    assert first_divergence(a, np.array([1.0, NAN, 0.1 + 0.2, 5.0]), 3) is None  # only bars before the stop
    assert first_divergence(a, np.array([1.0, 2.0]), 2) == 1  # NaN against a number


def test_events_part_ways_at_the_earlier_bar_of_the_first_differing_pair():
    fills = (np.array([2, 5, 9]), [np.array([1.0, -1.0, 1.0]), np.array([10.0, 11.0, 12.0])])
    assert first_event_divergence(fills, (np.array([2, 5, 9]), [np.array([1.0, -1.0, 1.0]),
                                                                 np.array([10.0, 11.5, 12.0])]), 10) == 5
    assert first_event_divergence(fills, (np.array([2, 4]), [np.array([1.0, -1.0]), np.array([10.0, 11.0])]), 10) == 4
    assert first_event_divergence(fills, (np.array([2, 5]), [np.array([1.0, -1.0]), np.array([10.0, 11.0])]), 9) is None
    assert first_event_divergence(fills, (np.array([2, 5]), [np.array([1.0, -1.0]), np.array([10.0, 11.0])]), 10) == 9
    empty = (np.empty(0, np.int64), [np.empty(0), np.empty(0)])
    assert first_event_divergence(empty, fills, 3) == 2 and first_event_divergence(empty, empty, 3) is None


def test_agreement_is_relative_above_one_and_absolute_below():
    a = np.array([0.5, 0.5, 2000.0, 2000.0, NAN])
    b = np.array([0.5 + 9e-7, 0.5 + 1.1e-6, 2000.0019, 2000.0021, NAN])
    assert [True, False, True, False, True] == agrees(a, b, 1e-6).tolist()


def test_warm_up_counts_bars_up_to_and_including_the_first_settled_one():
    reference = np.array([3.0, 3.0, 3.0, 3.0, 3.0])
    assert 1 == warm_up(reference, reference, 0.0)
    assert 3 == warm_up(reference, np.array([NAN, 2.0, 3.0, 3.0, 3.0]), 0.0)
    assert 5 == warm_up(reference, np.array([NAN, 3.0, 3.0, 2.0, 3.0]), 0.0)  # for good: bar 3 still differs
    assert warm_up(reference, np.array([3.0, 3.0, 3.0, 3.0, 2.0]), 0.0) is None


@given(st.integers(1, 30), st.integers(0, 60))
def test_a_moving_average_of_n_bars_needs_n(n, extra):
    x = np.arange(1.0, n + extra + 1.0) ** 1.5
    full = np.convolve(np.concatenate(([7.0] * n, x)), np.ones(n) / n, "valid")[1:]  # history before the start
    later = np.full(len(x), NAN)
    later[n - 1:] = np.convolve(x, np.ones(n) / n, "valid")
    assert n == warm_up(full, later, 1e-9)


@pytest.mark.parametrize("alpha, tolerance, expected", [(0.2, 1e-6, 62), (0.5, 1e-3, 10)])
def test_an_exponential_decay_settles_when_it_falls_below_the_tolerance(alpha, tolerance, expected):
    # difference (1 - alpha)^(n+1) at bar n: 0.8^62 = 9.8e-7 <= 1e-6 < 0.8^61; 0.5^10 = 9.8e-4 <= 1e-3 < 0.5^9
    n = np.arange(200)
    assert expected == warm_up(np.full(200, 0.5) + (1 - alpha) ** (n + 1), np.full(200, 0.5), tolerance)
