"""The tutorial's tests (docs/tutorial.md): fp.testing's laws, one line each, and a property of our own."""
import numpy as np
from hypothesis import given, settings

from fp.components import batch_outputs
from fp.testing import (
    assert_deterministic,
    assert_isolated,
    assert_no_lookahead,
    assert_schema_respected,
    assert_streaming_equals_batch,
    bars,
    params_for,
)
from my_signals import efficiency, ema_ribbon


def test_ema_ribbon_has_no_lookahead():
    assert_no_lookahead(ema_ribbon)


def test_ema_ribbon_streams_like_its_batch_form():
    assert_streaming_equals_batch(ema_ribbon)


def test_ema_ribbon_is_deterministic():
    assert_deterministic(ema_ribbon)


def test_ema_ribbon_in_a_grid_equals_it_alone():
    assert_isolated(ema_ribbon)


def test_ema_ribbon_runs_on_every_declared_parameter_value():
    assert_schema_respected(ema_ribbon)


def test_efficiency_has_no_lookahead_and_streams_like_its_batch_form():
    assert_no_lookahead(efficiency)
    assert_streaming_equals_batch(efficiency)


@settings(max_examples=50, deadline=None)
@given(bars(min_size=1, max_size=80), params_for(efficiency))
def test_efficiency_is_between_0_and_1(data, params):
    (ratio,) = batch_outputs(efficiency, params, data)
    defined = ratio[~np.isnan(ratio)]
    assert ((0.0 <= defined) & (defined <= 1.0)).all()


@settings(max_examples=50, deadline=None)
@given(bars(min_size=1, max_size=80), params_for(ema_ribbon))
def test_targets_are_long_short_flat_or_hold(data, params):
    (signal,) = batch_outputs(ema_ribbon, params, data)
    assert set(signal[~np.isnan(signal)].tolist()) <= {-1.0, 0.0, 1.0}
