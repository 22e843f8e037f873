"""admf warmup: the bars each component needs before it stops depending on where the data starts."""
from __future__ import annotations

import numpy as np
import pytest

import pipelines
from pipelines.workflows.warmup import lane_warmups, warmup
from state.errors import SpecError
from state.market import Bars, MarketData


def step_market(n: int = 401, jump: int = 101) -> MarketData:
    """Closes of 1.0 up to bar ``jump - 1``, 0.5 from ``jump`` on (open = high = low = close)."""
    close = np.where(np.arange(n) < jump, 1.0, 0.5)
    time = np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return MarketData((Bars("X", time, close, close, close, close, np.ones(n), 1),), "hand", "hand", 365.0)


def on_feature(name: str, period: int) -> dict:
    return {"type": "threshold", "parameters": {"feature": name, "period": period, "lower": 0.7, "upper": 0.9,
                                                 "mode": "trend"}}


def test_the_later_start_falls_where_the_docstring_says():
    # one start: at 1/4 of the 400 bar times after the first bar, bar 1 + 400 // 4 = 101, where the step is
    report = warmup({"strategies": [on_feature("sma", 7)]}, market=step_market(), starts=1)
    assert (("2020-04-11", (("X", 101),)),) == report.starts


@pytest.mark.parametrize("tolerance, expected", [(1e-6, 59), (1e-3, 28)])
def test_an_ema_forgets_its_start_like_one_minus_alpha_to_the_n(tolerance, expected):
    # EMA(9): alpha = 0.2, seeded with the SMA of its first 9 bars. From bar 0 it is 1.0 up to bar 100,
    # then 0.5 + 0.5 * 0.8^(j+1) at bar 101 + j; started at bar 101 it is undefined for 8 bars, then 0.5.
    # They agree (values below 1: within the tolerance itself) from the m-th bar on, the smallest
    # m >= 9 with 0.5 * 0.8^m <= tolerance: 0.5 * 0.8^59 = 9.6e-7 <= 1e-6 < 1.2e-6 = 0.5 * 0.8^58, and
    # 0.5 * 0.8^28 = 9.7e-4 <= 1e-3 < 1.2e-3 = 0.5 * 0.8^27.
    report = warmup({"strategies": [on_feature("ema", 9)]}, market=step_market(), starts=1, tolerance=tolerance)
    row = report.of("feature", "ema(period=9)@close", "X")
    assert expected == row.bars
    assert 8 == row.first  # defined from its 9th bar


def test_a_strategy_on_the_ema_settles_when_its_position_does():
    # From bar 0 the trend threshold (long above 0.9, short below 0.7) holds its long through bars
    # 101..104 (EMA 0.9, 0.82, 0.756, 0.705: none beyond a level) and goes short at bar 105 (0.664);
    # from bar 101 it is flat until its EMA is defined at bar 109 (0.5: short). Same from the 9th bar.
    report = warmup({"strategies": [on_feature("ema", 9)]}, market=step_market(), starts=1)
    assert 9 == report.of("strategy", "threshold(feature=ema, lower=0.7, upper=0.9, mode=trend, period=9)", "X").bars


@pytest.mark.parametrize("period", [1, 7, 30])
def test_an_sma_needs_exactly_its_period(period):
    report = warmup({"strategies": [on_feature("sma", period)]}, market=step_market(), starts=1)
    assert period == report.of("feature", f"sma(period={period})@close", "X").bars


def test_several_starts_take_the_longest_and_real_data_gives_periods(goog):
    market = MarketData((goog,), "GOOG", "GOOG", 252.0)
    report = warmup({"strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 50}}]},
                    market=market)
    assert 3 == len(report.starts)
    assert [b for _, ((_, b),) in report.starts] == sorted(b for _, ((_, b),) in report.starts)
    assert 10 == report.of("feature", "sma(period=10)@close", "GOOG").bars
    assert 50 == report.of("feature", "sma(period=50)@close", "GOOG").bars


def test_a_cumulative_feature_never_forgets_its_start(goog):
    market = MarketData((goog,), "GOOG", "GOOG", 252.0)
    report = warmup({"strategies": [{"type": "threshold", "parameters": {"feature": "obv", "lower": 0.0,
                                                                         "upper": 1.0}}]}, market=market)
    row = report.of("feature", "obv()@bar", "GOOG")
    assert row.bars is None and 0 == row.first


def test_decisions_before_the_warm_up_is_over_are_warned_about_naming_data_start():
    report = warmup({"data": {"dataset": "GOOG", "start": "2005-01-03"},
                     "strategies": [{"type": "macd_cross", "parameters": {"fast": 12, "slow": 26, "signal": 9}}],
                     "classifiers": [{"type": "hmm", "parameters": {"lookback_days": 20}}]})
    strategy = report.of("strategy", "macd_cross(fast=12, slow=26, signal=9)", "GOOG")
    classifier = report.of("classifier", "hmm(model_type=hmm, lookback_days=20, n_states=2)", "GOOG")
    assert strategy.early and strategy.first < strategy.bars - 1
    assert classifier.bars is None and classifier.early  # refitted on other bars from a later start
    assert 2 == len(report.warnings)
    assert report.warnings[0].startswith("1 strategy point(s) take a position before their warm-up is over, e.g. "
                                         "macd_cross(fast=12, slow=26, signal=9) on GOOG at bar ")
    assert all(w.endswith("depend on data.start 2005-01-03") for w in report.warnings)
    assert "1 classifier point(s) label a bar and still depend on where the data starts" in report.warnings[1]


def test_run_with_warmup_warns_about_lanes_trading_before_it_and_changes_no_result():
    spec = {"data": {"dataset": "GOOG"}, "strategies": [{"type": "macd_cross", "parameters": {"fast": [8, 12]}}]}
    plain = pipelines.run(spec)
    warned = pipelines.run(spec, warmup=True)
    assert plain.results.drop_columns(["combo_id"]).equals(warned.results.drop_columns(["combo_id"]))
    record = warned.manifest["warmup"]
    lanes = record["lanes_trading_before_warmup"]
    assert 2 == len(lanes) and all(lane["first_entry_bar"] < lane["warmup_bars"] - 1 for lane in lanes)
    assert any(w.startswith("2 of 2 lane(s) trade before their warm-up is over") for w in warned.manifest["warnings"])
    assert "warmup" not in plain.manifest


def test_lane_warmups_are_the_longest_of_their_parts():
    spec = pipelines.load_spec({"data": {"dataset": "GOOG"}, "strategies": [{"type": "momentum"}],
                                "classifiers": [{"type": "trend_regime", "parameters": {"period": 50}}]})
    report = warmup(spec)
    plan = pipelines.plan_from_spec(spec)
    strategy = report.of("strategy", "momentum(lookback_period=20, signal_threshold=0.0)", "GOOG").bars
    classifier = report.of("classifier", "trend_regime(period=50)", "GOOG").bars
    expected = None if classifier is None else max(strategy, classifier)
    assert {(plan.combos[0].combo_id, "GOOG"): expected} == lane_warmups(report, plan.combos)


@pytest.mark.parametrize("options, where", [({"tolerance": -1.0}, "--tolerance"), ({"starts": 0}, "--starts"),
                                            ({"starts": 2000}, "--starts")])
def test_bad_options_are_one_clear_error(options, where):
    with pytest.raises(SpecError) as error:
        warmup("specs/sma_crossover.yaml", **options)
    assert str(error.value).startswith(where)


def test_a_replay_has_no_components_to_warm_up():
    with pytest.raises(SpecError, match="signal_replay computes no features"):
        warmup({"workflow": {"type": "signal_replay"}, "signals": "nowhere"})
    with pytest.raises(SpecError, match="--warmup"):
        pipelines.run({"workflow": {"type": "signal_generation"}, "strategies": [{"type": "momentum"}]}, warmup=True)
