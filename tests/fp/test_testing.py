"""fp.testing's generators: valid market data with the shapes the laws must survive, and
parameter values and grids within a component's declared schema; components by record or name."""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fp.classifiers import CLASSIFIERS
from fp.components import ComponentError
from fp.features import FEATURES
from fp.strategies import STRATEGIES
from fp.testing import (LAWS, assert_isolated, assert_no_lookahead, bars, component_of, grids_for, laws_for, market,
                        params_for)
from state.market import Bars, MarketData

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def drawn(strategy, n=300):
    """``n`` examples of ``strategy`` as hypothesis generates them (no shrinking), reproducibly."""
    out = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        out.append(value)
    collect()
    return out


def valid(b: Bars) -> bool:
    return bool(len(b.time) == len(b.close) == len(b.volume)
                and (np.diff(b.time.astype(np.int64)) > 0).all()
                and (b.low > 0).all() and (b.low <= b.open).all() and (b.open <= b.high).all()
                and (b.low <= b.close).all() and (b.close <= b.high).all() and (b.volume >= 0).all())


@FAST
@given(bars())
def test_bars_are_valid(b):
    assert valid(b)


@FAST
@given(bars(min_size=5, max_size=9, precision=2))
def test_bars_respect_size_and_precision(b):
    assert 5 <= len(b) <= 9 and 2 == b.price_precision
    assert np.array_equal(b.close, np.round(b.close, 2))


def test_bars_have_every_realistic_shape():
    def returns(b):
        return b.close[1:] / b.close[:-1] - 1.0
    series = drawn(bars(), 300)
    assert any(len(b) <= 3 for b in series)  # very short
    assert any((returns(b) == 0.0).sum() >= 5 for b in series)  # flat stretches
    assert any((np.abs(returns(b)) > 0.14).any() for b in series)  # crashes and spikes
    assert any((b.open[1:] != b.close[:-1]).any() for b in series)  # gaps
    assert any(len(b) > 20 and ((returns(b) > 0).mean() > 0.9 or (returns(b) < 0).mean() > 0.9) for b in series)
    assert {2, 4, None} == {b.price_precision for b in series}


@FAST
@given(market(symbols=3, ragged=False))
def test_a_common_timeline(m):
    assert isinstance(m, MarketData) and ("S0", "S1", "S2") == m.symbols
    assert all(valid(b) for b in m.bars)
    assert all(np.array_equal(m.bars[0].time, b.time) for b in m.bars)


@FAST
@given(market(symbols=("AAA", "BBB"), ragged=True, min_size=2, max_size=40))
def test_a_ragged_timeline(m):
    assert ("AAA", "BBB") == m.symbols
    assert all(valid(b) and len(b) >= 2 for b in m.bars)
    union = np.union1d(m.bars[0].time, m.bars[1].time)
    assert (np.diff(union.astype(np.int64)) % (86_400 * 10**9) == 0).all()  # subsets of one daily timeline


def test_ragged_timelines_differ_between_symbols():
    assert any(len(m.bars[0]) != len(m.bars[1]) for m in drawn(market(symbols=2, ragged=True, min_size=3), 50))


@FAST
@given(st.data())
def test_params_are_within_the_declared_schema(data):
    for component in (*STRATEGIES.values(), *CLASSIFIERS.values()):
        params = data.draw(params_for(component))
        for p in component.params:
            assert params[p.name] == p.check(params[p.name], p.name)


@FAST
@given(grids_for(STRATEGIES["sma_crossover"], min_size=2, max_size=5))
def test_grids_are_distinct_points_of_the_schema(grid):
    assert 2 <= len(grid) <= 5
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)


def test_the_declared_default_is_drawn():
    assert any(p["lookback_period"] == 20 for p in drawn(params_for(STRATEGIES["momentum"]), 100))


def test_the_laws_that_apply():
    assert ("no_lookahead", "streaming_equals_batch", "deterministic", "isolated", "schema_respected") == tuple(LAWS)
    assert tuple(LAWS) == laws_for(STRATEGIES["breakout"])
    assert "isolated" not in laws_for(CLASSIFIERS["trend_regime"])


# ---- components by name ------------------------------------------------------------------------------


@pytest.mark.parametrize("checker", sorted(LAWS))
def test_every_checker_takes_a_builtins_name(checker):
    """``assert_no_lookahead("sma")`` raised AttributeError: 'str' object has no attribute 'params'."""
    name = "breakout" if checker == "isolated" else "sma"
    LAWS[checker](name, max_examples=3, max_bars=20)


def test_generators_and_laws_for_take_a_name_too():
    assert laws_for(CLASSIFIERS["trend_regime"]) == laws_for("trend_regime")
    assert drawn(params_for("breakout"), 20) == drawn(params_for(STRATEGIES["breakout"]), 20)
    assert component_of("sma") is FEATURES["sma"] and component_of(FEATURES["sma"]) is FEATURES["sma"]


@pytest.mark.parametrize("given, message", [
    ("smaa", "assert_no_lookahead('smaa'): not a built-in feature, strategy or classifier (did you mean 'sma'?); "
             "pass your own component's record itself, e.g. assert_no_lookahead(mypkg.signals.ema_ribbon)"),
    (42, "assert_no_lookahead: expects a feature, strategy or classifier (a record, or a built-in's name such as "
         "'sma'); got int 42"),
])
def test_anything_else_is_a_clear_error(given, message):
    with pytest.raises(ComponentError) as info:
        assert_no_lookahead(given)
    assert message == str(info.value)


def test_isolation_of_a_feature_named_is_refused_as_for_the_record():
    with pytest.raises(TypeError, match="assert_isolated checks a Strategy"):
        assert_isolated("sma")
