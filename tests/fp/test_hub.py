"""The FeatureHub's cross-symbol features: computed on the other symbol's bars, aligned as of the
lane's bar (never later), streaming ≡ batch, and the no-look-ahead checker seeing through them."""
import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fp.components import feature as custom_feature
from fp.hub import FeatureStream, compute_features, cross_symbol_features
from fp.strategies import Strategy, feature
from fp.testing import assert_no_lookahead, market
from state.market import Bars, MarketData
from state.params import Param


def _bars(symbol, close, days) -> Bars:
    close = np.asarray(close, dtype=np.float64)
    time = np.datetime64("2024-01-01", "ns") + np.asarray(days) * np.timedelta64(1, "D")
    return Bars(symbol, time, close, close, close, close, np.ones(len(close)), 2)


A = _bars("A", [10.0, 11.0, 12.0, 13.0, 14.0], [0, 1, 2, 3, 4])
B = _bars("B", [100.0, 90.0, 120.0], [1, 3, 5])  # listed a day later, no bar on day 2 or 4, one after A's last
MARKET = MarketData((A, B), "test", "", 252.0)


def test_a_cross_symbol_feature_is_the_other_symbols_value_as_of_each_bar():
    key = feature("price", symbol="B").key
    own = feature("price").key
    values = compute_features(A, [key, own], market=MARKET)
    # day 0: B not listed yet; day 2: B's day-1 close; day 4: B's day-3 close (its day-5 bar is later)
    assert np.array_equal([np.nan, 100.0, 100.0, 90.0, 90.0], values[key][0], equal_nan=True)
    assert [10.0, 11.0, 12.0, 13.0, 14.0] == values[own][0].tolist()


def test_a_cross_symbol_feature_runs_on_the_other_symbols_own_calendar():
    key = feature("returns", period=1, symbol="B").key
    returns = compute_features(A, [key], market=MARKET)[key][0]
    # B's one-bar returns on its own bars: day 3: 90/100 - 1 (not the change since A's day 2)
    assert np.array_equal([np.nan, np.nan, np.nan, 90.0 / 100.0 - 1.0, 90.0 / 100.0 - 1.0], returns, equal_nan=True)


def test_the_lanes_own_symbol_named_explicitly_is_the_same_computation():
    named, own = feature("sma", period=2, symbol="A").key, feature("sma", period=2).key
    values = compute_features(A, [named, own], market=MARKET)
    assert values[own][0].tolist()[1:] == values[named][0].tolist()[1:]


def test_a_missing_symbol_or_market_is_a_precise_error():
    key = feature("price", symbol="C").key
    with pytest.raises(ValueError, match=r"reads symbol 'C', which the data does not have \(its symbols: A, B\)"):
        compute_features(A, [key], market=MARKET)
    with pytest.raises(ValueError, match="reads symbol 'C': compute it with the run's market data"):
        compute_features(A, [key])


_KEYS = st.sampled_from([
    (("price", {}), "close"), (("sma", {"period": 3}), "close"), (("returns", {"period": 2}), "close"),
    (("ema", {"period": 4}), "high"), (("atr", {"period": 3}), "bar"), (("macd", {"fast": 2, "slow": 4, "signal": 2}), "close"),
])


@settings(max_examples=40, deadline=None)
@given(data=market(symbols=3, ragged=True, min_size=1, max_size=30), spec=_KEYS)
def test_streaming_equals_batch_across_symbols(data, spec):
    (name, params), input_ = spec
    lane = data.bars[0]
    keys = [feature(name, input_ if input_ != "bar" else "close", output=_first(name), symbol=s, **params).key
            for s in data.symbols]
    batch = compute_features(lane, keys, market=data)
    stream = FeatureStream(lane, keys, market=data)
    rows = [stream.step(t) for t in range(len(lane))]
    for key in keys:
        for i, column in enumerate(batch[key]):
            assert np.array_equal(column, np.array([row[key][i] for row in rows]), equal_nan=True), key


def _first(name):
    from fp.catalog import BUILTIN_FEATURES
    return BUILTIN_FEATURES[name].outputs[0]


@settings(max_examples=40, deadline=None)
@given(data=market(symbols=3, ragged=True, min_size=2, max_size=30), cut=st.integers(0, 29),
       factor=st.sampled_from([0.5, 3.0]))
def test_no_value_at_or_before_t_depends_on_any_symbols_bars_after_t(data, cut, factor):
    lane = data.bars[0]
    t = min(cut, len(lane) - 1)
    keys = [feature("sma", period=2, symbol=s).key for s in data.symbols]
    changed = []
    for b in data.bars:
        later = b.time > lane.time[t]
        changed.append(attrs.evolve(b, close=np.where(later, b.close * factor, b.close)))
    after = MarketData(tuple(changed), "", "", 252.0)
    before_values = compute_features(lane, keys, market=data)
    after_values = compute_features(after.bars[0], keys, market=after)
    for key in keys:
        assert np.array_equal(before_values[key][0][:t + 1], after_values[key][0][:t + 1], equal_nan=True), key


# ---- a universe computes each symbol's features once ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(data=market(symbols=4, ragged=True, min_size=1, max_size=30), spec=_KEYS)
def test_features_computed_once_for_the_run_are_those_computed_per_symbol(data, spec):
    """Law: reusing :func:`cross_symbol_features` changes no value, for any calendars (early ends cut
    the other symbols' bars at other places)."""
    (name, params), input_ = spec
    keys = [feature(name, input_ if input_ != "bar" else "close", output=_first(name), symbol=s, **params).key
            for s in data.symbols]
    cross = cross_symbol_features(data, keys)
    for lane in data.bars:
        alone, shared = compute_features(lane, keys, market=data), compute_features(lane, keys, market=data, cross=cross)
        for key in keys:
            assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(alone[key], shared[key])), key


def test_n_symbols_reading_each_other_compute_each_symbols_feature_once_per_cut():
    calls = []

    def counted(p, inputs, precision):
        calls.append(len(inputs[0]))
        return (inputs[0] * 2.0,)

    doubled = custom_feature(params=(), init=None, batch=counted, name="doubled")(lambda p, state, x: (state, (x[0],)))
    c = _bars("C", [5.0, 6.0], [0, 1])  # delists early: A and B are cut at its last day for it
    data = MarketData((A, B, c), "test", "", 252.0)
    keys = [feature(doubled, symbol=s).key for s in data.symbols]
    from fp.registry import BUILTINS
    registry = BUILTINS.with_component("feature", doubled)
    cross = cross_symbol_features(data, keys, registry=registry)
    # A: read by B (all 5 bars) and C (2 bars); B: read by A (its 2 bars to day 4), C (1 bar); C: by A and B (2)
    assert sorted([5, 2, 2, 1, 2]) == sorted(calls)
    calls.clear()
    values = {lane.symbol: compute_features(lane, keys, market=data, registry=registry, cross=cross)
              for lane in data.bars}
    assert [5, 3, 2] == calls  # each symbol's own feature only
    assert [np.nan, 200.0, 200.0, 180.0, 180.0] == pytest.approx(values["A"][keys[1]][0].tolist(), nan_ok=True)


# ---- the law checker sees a look-ahead through another symbol ---------------------------------------

def _peek_step(p, state, x):
    return state, (float("nan"),)


def _peek_batch(p, inputs, precision):
    x = inputs[0]
    return (np.append(x[1:], np.nan),)  # tomorrow's close: a look-ahead


PEEK = custom_feature(params=(), init=None, batch=_peek_batch, name="peek_next")(_peek_step)


def _reads_others_tomorrow_needs(p):
    return {f"peer.{s}": feature(PEEK, symbol=s) for s in p["universe"]}


def _reads_others_tomorrow(p, f):
    values = list(f.values())
    return values[0] * 1e-3 if values else np.nan  # a target that moves with the other symbol's next close


PEEKING_ACROSS = Strategy("peeking_across", (Param("universe", "symbols", (), doc="symbols to read"),),
                          _reads_others_tomorrow_needs, _reads_others_tomorrow, doc="reads another symbol's next bar")


def test_the_no_lookahead_checker_catches_a_look_ahead_through_another_symbol():
    with pytest.raises(AssertionError, match="looks ahead"):
        assert_no_lookahead(PEEKING_ACROSS, max_examples=60)
