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


# ---- every checker fails, in domain terms, on a component breaking its law ----------------------

import itertools  # noqa: E402
import re  # noqa: E402

from fp.classifiers import CLASSIFIERS, Classifier, RegimeModel  # noqa: E402
from fp.components import Param as P  # noqa: E402
from fp.components import ref, strategy
from fp.testing import assert_deterministic, assert_isolated, assert_schema_respected  # noqa: E402


def notes(info):
    return "\n".join(getattr(info.value, "__notes__", ()))


def test_a_no_lookahead_failure_shows_the_minimal_case():
    with pytest.raises(AssertionError) as info:
        assert_no_lookahead(PEEKING)
    assert re.match(r"peeking with \{'period': \d+\} on 2 bars looks ahead: output 'signal' at bar 0 changed "
                    r"from nan to -?1\.0 when only bars after 0 changed", str(info.value))
    assert re.search(r"Case\(params=\{'period': \d+\}, 2 bars \(precision=\w+\), close\[0:2\]=", notes(info))


def _peeking_label(p, model, bars, train_end):
    labels = np.full(len(bars), np.nan)
    up = np.append(bars.close[1:] > bars.close[:-1], False)  # tomorrow's close: look-ahead
    labels[train_end:] = up[train_end:]
    return labels


PEEKING_CLASSIFIER = Classifier("peeking_regime", (), lambda p, bars, train_end: RegimeModel(
    "peeking_regime", 2, train_end, (0, 1), (np.nan, np.nan)), _peeking_label)


def test_no_lookahead_and_streaming_catch_a_classifier_reading_the_next_bar():
    with pytest.raises(AssertionError, match=r"peeking_regime with \{\} on \d+ bars, train_end=\d+ looks ahead: "
                                             r"output 'label' at bar \d+"):
        assert_no_lookahead(PEEKING_CLASSIFIER, max_examples=30)
    with pytest.raises(AssertionError, match=r"output 'label' at bar \d+ is .* in batch form but .* streaming"):
        assert_streaming_equals_batch(PEEKING_CLASSIFIER, max_examples=30)


def test_the_checkers_pass_a_correct_classifier():
    assert_no_lookahead(CLASSIFIERS["trend_regime"], max_examples=10)
    assert_streaming_equals_batch(CLASSIFIERS["trend_regime"], max_examples=10)


_calls = itertools.count()


@strategy(features={"close": ref("price")})
def drifting(p, f):
    """Not deterministic: the n-th call returns n (state kept between calls)."""
    return np.full(np.shape(f["close"]), float(next(_calls)))


def test_deterministic_catches_a_strategy_with_hidden_state():
    with pytest.raises(AssertionError, match=r"drifting with \{\} on \d+ bars is not deterministic: output 'signal' "
                                             r"at bar 0 was \d+\.0 then \d+\.0"):
        assert_deterministic(drifting)


def _scaling_step(p, state, x):
    return state, (x[0],)


def _scaling_batch(p, inputs, precision):
    inputs[0][:] = inputs[0] * 2.0  # modifies the bars it was given
    return (inputs[0].copy(),)


def test_deterministic_catches_a_feature_modifying_its_input():
    mutating = Feature("mutating", (), ("x",), ("value",), lambda p, precision: None, _scaling_step, _scaling_batch)
    with pytest.raises(AssertionError, match=r"mutating with \{\} on \d+ bars modified its input: close\[0\] was"):
        assert_deterministic(mutating)


@strategy(params=(P("offset", "float", 0.0, minimum=0.0, maximum=1.0),),
          features=lambda p: {"ret": ref("returns", period=1)})
def in_place(p, f):
    """Breaks isolation: shifts the shared feature array in place, which later grid points then read."""
    ret = f["ret"]
    if np.ndim(ret):
        ret += p["offset"]
    return np.sign(ret)


def test_isolated_catches_a_strategy_modifying_a_shared_feature():
    with pytest.raises(AssertionError, match=r"in_place with \{'offset': .*\} on \d+ bars: signal at bar \d+ is .* "
                                             r"in a grid of \d+ points but .* alone"):
        assert_isolated(in_place)


@strategy(params=(P("period", "int", 5, minimum=1),), features=lambda p: {"close": ref("price")})
def fragile(p, f):
    """Breaks its schema: declares every period >= 1 but fails above 12."""
    if p["period"] > 12:
        raise ValueError("period too long")
    return np.sign(f["close"])


def test_schema_respected_catches_a_declared_value_that_fails():
    with pytest.raises(AssertionError, match=r"fragile with \{'period': 13\} on \d+ bars failed: ValueError: "
                                             r"period too long"):
        assert_schema_respected(fragile)


# ---- the checkers change only what their law is about -------------------------------------------

VOLUME_NOW = Feature("volume_now", (), ("volume",), ("value",), lambda p, pr: None,
                     lambda p, state, x: (state, (x[0],)),
                     doc="The bar's own volume: causal by construction.")


def test_no_lookahead_leaves_the_volume_up_to_the_cut_unchanged():
    """A feature of the bar's own volume never looks ahead; the checker once doubled every bar's
    volume (not only those after the cut) and called it a look-ahead."""
    assert_no_lookahead(VOLUME_NOW)
