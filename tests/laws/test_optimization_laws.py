"""Laws of train/test and walk-forward (issue: optimization workflows)."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from law_harness import laws, market_of

import pipelines
from fp.metrics import METRICS
from fp.testing import bars
from state.market import Bars

LAWS = laws(20)
STRATEGIES = [{"type": "sma_crossover", "parameters": {"fast_period": [2, 4], "slow_period": [6, 10]}},
              {"type": "momentum", "parameters": {"lookback_period": [3, 8]}}]


def same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))


def assert_one_window_equals_train_test(market, fraction, **sections):
    data = market.bars[0]
    cut = int(round(fraction * len(data)))
    tt = pipelines.run({"workflow": {"type": "optimization"}, "data": {"split": {"train": fraction}},
                        "strategies": STRATEGIES, "portfolio": {"direction": "long_short"}, **sections}, market=market)
    wf = pipelines.run({"workflow": {"type": "walk_forward", "train_bars": cut, "test_bars": len(data) - cut,
                                     "anchored": True},
                        "strategies": STRATEGIES, "portfolio": {"direction": "long_short"}, **sections}, market=market)
    (best,) = [r for r in tt.results.to_pylist() if r["rank"] == 1]
    (window,) = wf.windows.to_pylist()
    assert best["combo_id"] == window["combo_id"]
    for m in METRICS:
        assert same(best[f"train_{m}"], window[f"train_{m}"]), m
        assert same(best[f"test_{m}"], window[f"test_{m}"]), m
    (stitched,) = wf.results.to_pylist()
    for m in ("final_equity", "total_return_pct", "sharpe", "max_drawdown_pct", "exposure_pct"):
        assert same(best[f"test_{m}"], stitched[m]), m
    return tt


@LAWS
@given(bars(min_size=40, max_size=120), st.floats(0.3, 0.8))
def test_walk_forward_with_one_window_equals_train_test(data, fraction):
    assert_one_window_equals_train_test(market_of(data), fraction)


#: Classifiers label from their warm-up (252 bars of these) on: the training parts below are longer.
CLASSIFIERS = [{"type": "trend_regime", "parameters": {"period": [5, 30]}},
               {"type": "volatility_regime", "parameters": {"period": 10, "quantile": [0.3, 0.7]}}]


@settings(LAWS, max_examples=10, suppress_health_check=[*LAWS.suppress_health_check, HealthCheck.large_base_example])
@given(bars(min_size=420, max_size=520), st.floats(0.65, 0.85))
def test_walk_forward_with_one_window_equals_train_test_with_classifiers(data, fraction):
    """The law holds with classifiers too: in both, a classifier learns on its warm-up of the
    training part for the training metrics, and on the whole training part for the test."""
    tt = assert_one_window_equals_train_test(market_of(data), fraction, classifiers=CLASSIFIERS)
    assert {"trend_regime", "volatility_regime"} == set(tt.results.column("classifier").to_pylist())


@LAWS
@given(bars(min_size=40, max_size=120), st.floats(0.4, 0.7), st.sampled_from([0.5, 1.8]))
def test_no_test_bar_changes_a_training_choice(data, fraction, factor):
    # both series off the decimal grid (scaled prices are), so only the test bars differ: exact and
    # binary window sums may order a flat stretch's tied averages differently
    data = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
    cut = int(round(fraction * len(data)))
    later = Bars(data.symbol, data.time, *(np.concatenate((x[:cut], x[cut:] * factor))
                                          for x in (data.open, data.high, data.low, data.close)), data.volume, None)
    spec = {"workflow": {"type": "optimization"}, "data": {"split": {"train": fraction}}, "top_k": 2,
            "strategies": STRATEGIES}
    a = pipelines.run(spec, market=market_of(data))
    b = pipelines.run(spec, market=market_of(later))
    pick = lambda r: [(row["combo_id"], row["rank"]) for row in r.results.to_pylist() if row["selected"]]
    assert pick(a) == pick(b)
    wf = {"workflow": {"type": "walk_forward", "train_bars": cut // 2, "test_bars": max(cut // 4, 1)},
          "strategies": STRATEGIES}
    wa, wb = pipelines.run(wf, market=market_of(data)), pipelines.run(wf, market=market_of(later))
    for x, y in zip(wa.windows.to_pylist(), wb.windows.to_pylist()):
        if x["train_end"] < data.time[cut]:
            assert x["combo_id"] == y["combo_id"]


@LAWS
@given(bars(min_size=40, max_size=120), st.floats(0.4, 0.7), st.sampled_from([0.5, 1.8]))
def test_no_test_bar_changes_a_phase_before_the_last(data, fraction, factor):
    """With a split, every phase but the last sees only the training part: changing the test
    bars changes none of their results, nor the last phase's selection."""
    data = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
    cut = int(round(fraction * len(data)))
    later = Bars(data.symbol, data.time, *(np.concatenate((x[:cut], x[cut:] * factor))
                                          for x in (data.open, data.high, data.low, data.close)), data.volume, None)
    spec = {"data": {"split": {"train": fraction}}, "phases": [
        {"name": "signals", "workflow": {"type": "signal_generation"}, "strategies": STRATEGIES},
        {"name": "costs", "from": "signals", "workflow": {"type": "signal_replay"}, "top_k": 2,
         "execution": {"commission": [0.0, 0.01]}},
        {"name": "validate", "from": "costs", "workflow": {"type": "optimization"}}]}
    a, b = pipelines.run(spec, market=market_of(data)), pipelines.run(spec, market=market_of(later))
    assert a["signals"].signals.equals(b["signals"].signals)
    for x, y in zip(a["costs"].results.to_pylist(), b["costs"].results.to_pylist()):
        assert all(same(x[k], y[k]) for k in x)
    for x, y in zip(a["validate"].results.to_pylist(), b["validate"].results.to_pylist()):
        assert all(same(x[k], y[k]) for k in x if not k.startswith("test_"))


@LAWS
@given(bars(min_size=40, max_size=100))
def test_optimizations_are_deterministic(data):
    market = market_of(data)
    spec = {"workflow": {"type": "walk_forward", "train_bars": 20, "test_bars": 10}, "strategies": STRATEGIES}
    a, b = pipelines.run(spec, market=market), pipelines.run(spec, market=market)
    assert a.trades.equals(b.trades)
    for table in ("windows", "results"):
        for x, y in zip(getattr(a, table).to_pylist(), getattr(b, table).to_pylist()):
            assert all(same(x[k], y[k]) for k in x)
