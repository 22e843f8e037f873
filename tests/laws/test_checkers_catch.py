"""The law checkers fail on components that break the laws (so passing them means something)."""
import numpy as np
import pytest

from fp.features import FEATURES, Feature
from fp.strategies import Strategy, feature
from fp.testing import assert_no_lookahead, assert_streaming_equals_batch
from state.params import Param


def _peeks_next_bar(p, f):
    close = np.asarray(f["close"], dtype=np.float64)
    if close.ndim == 0:  # streaming: one bar, cannot peek
        return np.nan
    nxt = np.append(close[1:], np.nan)
    return np.where(nxt > close, 1.0, np.where(nxt < close, -1.0, np.nan))


PEEKING = Strategy("peeking", (Param("period", "int", 2, minimum=1),),
                   lambda p: {"close": feature("price")}, _peeks_next_bar)


def test_no_lookahead_catches_a_strategy_reading_the_next_bar():
    with pytest.raises(AssertionError, match=r"looks ahead: output 'signal' at bar \d+"):
        assert_no_lookahead(PEEKING)


def test_streaming_equals_batch_catches_a_batch_form_that_differs():
    sma = FEATURES["sma"]
    off_by_one = Feature("sma_shifted", sma.params, sma.inputs, sma.outputs, sma.init, sma.step,
                         lambda p, inputs, precision: (np.roll(sma.batch(p, inputs, precision)[0], 1),))
    with pytest.raises(AssertionError, match=r"sma_shifted with .* at bar \d+"):
        assert_streaming_equals_batch(off_by_one)
