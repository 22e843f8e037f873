"""Laws of strategy × classifier grids: isolation, determinism, replay, and no look-ahead end to end."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from law_harness import laws, market_of

import pipelines
from fp.testing import bars
from state.market import Bars

LAWS = laws(15)
STRATEGIES = [{"type": "momentum", "parameters": {"lookback_period": [3, 6], "signal_threshold": 0.0}},
              {"type": "sma_crossover", "parameters": {"fast_period": 3, "slow_period": 8}}]
CLASSIFIERS = [{"type": "trend_regime", "parameters": {"period": [5, 10]}},
               {"type": "volatility_regime", "parameters": {"period": 5}, "regime_policy": {"scale": {0: 0.5, 1: 1.0}}}]


def spec(**extra):
    return {"data": {"split": {"train": 0.4}}, "strategies": STRATEGIES, "classifiers": CLASSIFIERS,
            "portfolio": {"direction": "long_short"}, **extra}


def rows(result):
    return {r["combo_id"]: r for r in result.results.to_pylist()}


def same_row(a, b):
    """Every column of ``b`` equal in ``a`` (NaN equal to NaN); ``a`` may have more (a grid's union)."""
    return all((a[k] == v) or (isinstance(v, float) and np.isnan(a[k]) and np.isnan(v)) for k, v in b.items())


@LAWS
@given(bars(min_size=30, max_size=120))
def test_isolation_each_strategy_classifier_lane_equals_it_run_alone(data):
    market = market_of(data)
    grid = pipelines.run(spec(), market=market)
    assert 3 * 3 == grid.results.num_rows
    together = rows(grid)
    for combo in grid.plan.combos:
        strategy = {"type": combo.strategy, "parameters": dict(combo.strategy_params)}
        params = dict(combo.classifier_params)
        policy = params.pop("regime_policy")
        classifier = {"type": combo.classifier, "parameters": params}
        if policy != "gate":
            classifier["regime_policy"] = {"scale": {int(k): float(v) for k, v in
                                                    (item.split("=") for item in policy[6:-1].split(","))}}
        alone = pipelines.run(spec(strategies=[strategy], classifiers=[classifier]), market=market)
        (row,) = alone.results.to_pylist()
        assert same_row(together[combo.combo_id], row)


@LAWS
@given(bars(min_size=30, max_size=120))
def test_determinism_and_replay_with_classifiers(data):
    market = market_of(data)
    first, second = pipelines.run(spec(), market=market), pipelines.run(spec(), market=market)
    assert all(same_row(first_row, second_row)
               for first_row, second_row in zip(first.results.to_pylist(), second.results.to_pylist()))
    assert first.regime_stats.equals(second.regime_stats)
    store = pipelines.generate_signals(spec(), market=market)
    replayed = pipelines.replay({"workflow": {"type": "signal_replay"}, "signals": "unused",
                                 "portfolio": {"direction": "long_short"}}, store=store, market=market)
    assert all(same_row(a, b) for a, b in zip(first.results.to_pylist(), replayed.results.to_pylist()))


@LAWS
@given(bars(min_size=30, max_size=120), st.integers(10, 110), st.sampled_from([0.5, 2.0]))
def test_no_lookahead_changing_later_bars_changes_no_earlier_equity(data, cut, factor):
    t = min(cut, len(data) - 2)
    later = Bars(data.symbol, data.time, *(np.concatenate((x[:t + 1], x[t + 1:] * factor))
                                          for x in (data.open, data.high, data.low, data.close)), data.volume, None)
    plain = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
    split = {"split": {"train_end": str(data.time[max(t // 2, 1)])[:10]}}
    a = pipelines.run(spec(data=split), market=market_of(plain))
    b = pipelines.run(spec(data=split), market=market_of(later))
    def early(result):
        # units entered per entry: a later partial exit splits one entry into several trade rows
        entered = {}
        for r in result.trades.to_pylist():
            if r["entry_time"] <= plain.time[t]:
                key = (r["combo_id"], r["entry_time"], r["entry_price"])
                entered[key] = entered.get(key, 0.0) + r["size"]
        return sorted(entered.items())
    assert early(a) == early(b)


def test_an_ensemble_is_flat_until_it_has_learnt_and_runs_from_yaml(goog):
    result = pipelines.run({
        "data": {"dataset": "GOOG", "split": {"train": 0.6}},
        "strategies": [{"type": "ensemble", "members": [
            {"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 50}},
            {"type": "momentum", "parameters": {"lookback_period": 20, "signal_threshold": 0.01}},
            {"type": "breakout", "parameters": {"period": 40}}]}],
        "classifiers": [{"type": "trend_regime", "parameters": {"period": 100}}],
    })
    (row,) = result.results.to_pylist()
    first_entry = min(t["entry_time"] for t in result.trades.to_pylist())
    assert first_entry >= goog.time[int(round(0.6 * len(goog)))]
    assert row["n_trades"] > 0 and "members" in row


def test_an_ensemble_without_a_classifier_is_refused():
    with pytest.raises(ValueError, match="ensemble weights its members per regime"):
        pipelines.plan({"strategies": [{"type": "ensemble", "members": [{"type": "momentum"}, {"type": "breakout"}]}]})


def test_a_regime_policy_grid_runs_every_policy_on_one_fit(goog):
    """``regime_policy`` takes a list like a parameter grid: each classifier point runs under every
    policy, on one fit, and each lane equals that policy run alone."""
    market = market_of(goog)
    policies = ["gate", {"scale": {0: 0.5, 1: 1.0}}, {"scale": {0: -1.0, 1: 1.0}}]
    strategies = [{"type": "momentum", "parameters": {"lookback_period": 20}}]
    grid = pipelines.run({"strategies": strategies, "classifiers": [
        {"type": "trend_regime", "parameters": {"period": 60}, "regime_policy": policies}]}, market=market)
    assert ["gate", "scale(0=0.5,1=1.0)", "scale(0=-1.0,1=1.0)"] == grid.results.column(
        "classifier_regime_policy").to_pylist()
    assert 1 == grid.manifest["classifier_fits"]
    for policy, row in zip(policies, grid.results.to_pylist()):
        alone = pipelines.run({"strategies": strategies, "classifiers": [
            {"type": "trend_regime", "parameters": {"period": 60}, "regime_policy": policy}]}, market=market)
        assert same_row(row, alone.results.to_pylist()[0])
    assert len({r["final_equity"] for r in grid.results.to_pylist()}) == 3


def test_a_bad_policy_in_a_policy_grid_is_named_by_its_place():
    with pytest.raises(ValueError, match=r"^classifiers\[0\]\.regime_policy\[1\]\.scale\.0=2\.0: "):
        pipelines.plan({"strategies": [{"type": "momentum"}], "classifiers": [
            {"type": "trend_regime", "regime_policy": ["gate", {"scale": {0: 2.0}}]}]})
