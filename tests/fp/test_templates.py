"""Each strategy template on one hand-worked example; the laws are in tests/laws/test_component_laws.py."""
import numpy as np
import pytest

from fp.components import batch_outputs
from fp.strategies import STRATEGIES, held_targets
from fp.templates import TEMPLATES, nested_component, split_feature, trend_filtered
from state.market import Bars, MarketData

NAN = float("nan")


def same(expected, actual) -> bool:
    return np.array_equal(np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64), equal_nan=True)


def bars(close, *, high=None, low=None, days=None, symbol="X") -> Bars:
    close = np.asarray(close, dtype=np.float64)
    days = np.arange(len(close)) if days is None else np.asarray(days)
    time = np.datetime64("2024-01-01", "ns") + days * np.timedelta64(1, "D")
    return Bars(symbol, time, close, close if high is None else np.asarray(high, float),
                close if low is None else np.asarray(low, float), close, np.ones(len(close)), None)


def signal(name, data, market=None, **params):
    template = TEMPLATES[name]
    full = {p.name: params.get(p.name, p.default) for p in template.params}
    return batch_outputs(template, {**params, **full}, data, market=market)[0]


def test_rsi_reversion_enters_beyond_the_levels_and_exits_near_50():
    rsi = np.array([25.0, 40.0, 52.0, 75.0, 60.0])
    params = {"period": 14, "lower": 30.0, "upper": 70.0, "exit": 5.0}
    assert same([1.0, NAN, 0.0, -1.0, NAN], TEMPLATES["rsi_reversion"].signal(params, {"rsi": rsi}))


def test_macd_cross_takes_the_side_of_the_histogram_and_holds_a_tie():
    hist = np.array([NAN, 0.5, 0.0, -0.2])
    assert same([NAN, 1.0, NAN, -1.0], TEMPLATES["macd_cross"].signal({}, {"hist": hist}))
    assert "change" == TEMPLATES["macd_cross"].trigger


def test_bollinger_reversion_is_mean_reversion_in_band_terms():
    close = [10.0, 10.0, 10.0, 13.0, 10.0, 7.0, 10.0]
    z = batch_outputs(STRATEGIES["mean_reversion"], {"period": 3, "entry_z": 1.2, "exit_z": 0.1}, bars(close))[0]
    assert same(z, signal("bollinger_reversion", bars(close), period=3, k=1.2, exit_k=0.1))
    # by hand: z = (x - mean) / population std of the last 3 closes
    # bar 3: [10, 10, 13], mean 11, std √2 -> z = 2/√2 = 1.41 > 1.2: short
    # bar 4: [10, 13, 10] -> z = -1/√2 = -0.71: hold; bar 5: [13, 10, 7], mean 10, z = -3/√6 = -1.22: long
    # bar 6: [10, 7, 10], mean 9, std √2 -> z = 0.71: hold
    assert same([NAN, NAN, 0.0, -1.0, NAN, 1.0, NAN], z)


def test_bollinger_breakout_takes_the_side_of_a_close_outside_the_bands():
    close, upper, lower = np.array([10.0, 12.5, 11.0, 7.0]), np.array([12.0] * 4), np.array([8.0] * 4)
    assert same([NAN, 1.0, NAN, -1.0],
                TEMPLATES["bollinger_breakout"].signal({}, {"close": close, "upper": upper, "lower": lower}))


def test_donchian_breakout_enters_on_a_new_high_and_exits_on_a_new_low():
    high = [10.0, 11.0, 10.5, 12.0, 11.8, 11.0, 11.5]
    low = [9.0, 10.0, 9.8, 11.0, 11.2, 10.0, 10.6]
    long_ = signal("donchian_breakout", bars(high, high=high, low=low), period=3, exit_period=2, side="long")
    # bar 2: 9.8 is the 2-bar low: flat (already); bar 3: 12.0 is the 3-bar high: long; bar 4: neither
    # (11.8 < 12, 11.2 > 11.0): hold; bar 5: 10.0 is the 2-bar low: flat; bar 6: neither
    assert same([NAN, NAN, 0.0, 1.0, NAN, 0.0, NAN], long_)
    assert same([0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], held_targets(long_, "level"))
    short = signal("donchian_breakout", bars(high, high=high, low=low), period=3, exit_period=2, side="short")
    # short, mirrored: bars 1 and 3 reach the 2-bar high (flat); bar 5's low 10.0 is the 3-bar low:
    # short; bar 6's high 11.5 is the 2-bar high: flat
    assert same([NAN, 0.0, NAN, 0.0, NAN, -1.0, 0.0], short)


def test_threshold_reads_any_feature_with_its_own_parameters():
    data = bars([100.0, 102.0, 99.0, 99.0])  # roc(1): nan, 2.0, -2.94..., 0.0
    assert same([NAN, 1.0, -1.0, NAN], signal("threshold", data, feature="roc", period=1, lower=-1.0, upper=1.0,
                                              mode="trend"))
    assert same([NAN, -1.0, 1.0, NAN], signal("threshold", data, feature="roc", period=1, lower=-1.0, upper=1.0,
                                              mode="reversion"))


def test_threshold_names_an_output_after_a_dot():
    assert ("bollinger", "upper") == tuple(getattr(x, "name", x) for x in split_feature("bollinger.upper"))
    assert ("rsi", "value") == tuple(getattr(x, "name", x) for x in split_feature("rsi"))
    with pytest.raises(ValueError, match="feature 'macd' has no output 'histo'; it has macd, signal, hist"):
        split_feature("macd.histo")
    with pytest.raises(ValueError, match="no built-in feature 'nope'"):
        split_feature("nope")


def test_trend_filter_holds_an_entry_against_the_trend():
    data = bars([10.0, 9.0, 8.0, 8.5, 9.0, 12.0])
    gated = signal("trend_filter", data, member="momentum", lookback_period=1, signal_threshold=0.0,
                   filter="sma", filter_period=3)
    # momentum(1): nan, -1, -1, +1, +1, +1; SMA(3): nan, nan, 9, 8.5, 8.5, 9.83
    # bars 0-1: the filter is not defined yet (flat for a level member); bar 2: short below the SMA;
    # bar 3: a long entry at the SMA (8.5 is not above it) is held back; bars 4-5: long above the SMA
    assert same([0.0, 0.0, -1.0, NAN, 1.0, 1.0], gated)
    assert same([0.0, 0.0, -1.0, -1.0, 1.0, 1.0], held_targets(gated, TEMPLATES["trend_filter"].trigger))
    alone = batch_outputs(STRATEGIES["momentum"], {"lookback_period": 1, "signal_threshold": 0.0}, data)[0]
    assert same([0.0, -1.0, -1.0, 1.0, 1.0, 1.0], held_targets(alone, "level"))


def test_trend_filtered_gates_any_strategy_with_its_trigger():
    gated = trend_filtered(STRATEGIES["sma_crossover"])
    assert "change" == gated.trigger and "fast_period" == gated.params[0].name
    data = bars([10.0, 9.0, 8.0, 8.5, 9.0, 12.0])
    params = {"fast_period": 1, "slow_period": 2, "filter": "sma", "filter_period": 3, "filter_level": 25.0}
    # fast - slow: nan, -0.5, -0.5, +0.25, +0.25, +1.5; the filter blocks the long at bar 3 (on the SMA)
    assert same([NAN, NAN, -1.0, NAN, 1.0, 1.0], batch_outputs(gated, params, data)[0])
    with pytest.raises(ValueError, match="named like the filter's: 'filter'"):
        trend_filtered(attrs_evolved_with_filter_param())


def attrs_evolved_with_filter_param():
    import attrs

    from state.params import Param
    return attrs.evolve(STRATEGIES["momentum"], params=STRATEGIES["momentum"].params + (Param("filter", "int", 1),))


def test_trend_filter_gates_built_in_strategies_only():
    assert "rsi_reversion" == nested_component(TEMPLATES["trend_filter"], "rsi_reversion").name
    with pytest.raises(ValueError, match="trend_filtered"):
        nested_component(TEMPLATES["trend_filter"], "mypkg:mine")


def test_dual_momentum_holds_the_leader_across_calendars():
    a = bars([100.0, 101.0, 103.0, 102.0, 104.0, 105.0], symbol="A")
    b = bars([50.0, 52.0, 53.0, 52.0, 54.0], days=[0, 1, 3, 4, 5], symbol="B")  # B does not trade on day 2
    market = MarketData((a, b), "test", "", 252.0)
    params = dict(universe=("A", "B"), lookback=1, threshold=0.0)
    # one-bar returns, B's as of each A bar: day 1: A 1% < B 4%; day 2: A 1.98% < B 4% (B's day 1,
    # nothing later); day 3: A -0.97%; day 4: A 1.96% > B -1.89%; day 5: A 0.96% < B 3.85%
    assert same([NAN, 0.0, 0.0, 0.0, 1.0, 0.0], signal("dual_momentum", a, market, **params))
    # B's lane on its own calendar: day 1: 4% > 1%; day 3: 1.92% > A's -0.97%; day 4: -1.89% < 0; day 5: 3.85%
    assert same([NAN, 1.0, 1.0, 0.0, 1.0], signal("dual_momentum", b, market, **params))


def test_dual_momentum_without_a_universe_is_absolute_momentum():
    data = bars([100.0, 101.0, 100.5, 102.0])
    assert same([NAN, 1.0, 0.0, 1.0], signal("dual_momentum", data, lookback=1, threshold=0.0))
