"""Strategy signals and their sparse changes, against plain scalar references."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fp.strategies import STRATEGIES, expand_changes, held_targets, signal_changes


def changes_by_hand(signal, trigger):
    """Walk the bars: a 'level' target starts flat, a 'change' one starts at its first value."""
    out, last = [], (0.0 if trigger == "level" else None)
    for t, v in enumerate(signal):
        if math.isnan(v):
            continue
        if last is not None and v != last:
            out.append((t, v))
        last = v
    return out


values = st.lists(st.sampled_from([np.nan, -1.0, 0.0, 0.5, 1.0]), max_size=40)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values, st.sampled_from(["level", "change"]))
def test_signal_changes_match_a_walk_over_the_bars(raw, trigger):
    signal = np.array(raw, dtype=float)
    bars, targets = signal_changes(signal, trigger)
    assert changes_by_hand(signal, trigger) == list(zip(bars.tolist(), targets.tolist()))
    held = held_targets(signal, trigger)
    assert np.array_equal(held, expand_changes(bars, targets, len(signal)))


def test_sma_crossover_enters_on_a_cross_not_on_the_warm_up_side():
    fast = np.array([np.nan, 2.0, 3.0, 1.0, 1.0, 4.0])
    slow = np.array([np.nan, 1.0, 1.0, 2.0, 1.0, 1.0])
    s = STRATEGIES["sma_crossover"]
    signal = s.signal({}, {"fast": fast, "slow": slow})
    assert [1.0, 1.0, -1.0] == signal[1:4].tolist() and math.isnan(signal[4])  # a tie holds
    assert ([3, 5], [-1.0, 1.0]) == tuple(x.tolist() for x in signal_changes(signal, s.trigger))


def test_momentum_holds_between_the_thresholds():
    s = STRATEGIES["momentum"]
    signal = s.signal({"signal_threshold": 0.02}, {"ret": np.array([0.03, 0.0, -0.03, 0.01])})
    assert [1.0, -1.0] == [signal[0], signal[2]] and np.isnan(signal[[1, 3]]).all()
