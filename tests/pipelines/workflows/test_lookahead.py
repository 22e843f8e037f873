"""admf lookahead: every built-in spec passes, every planted look-ahead bug is reported where it leaks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lookahead_bugs as bugs
import pipelines
from fp.classifiers import classify
from fp.components import batch_outputs, sample_bars
from fp.registry import BUILTINS
from fp.testing import bars as generated_bars
from fp.testing import market as generated_market
from fp.testing import params_for
from pipelines.workflows.lookahead import lookahead, perturbed
from state.errors import SpecError
from state.market import MarketData

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def as_market(bars) -> MarketData:
    return MarketData((bars,), "generated", "generated", 252.0)


def spec_with(strategy, params, *, classifier=None, classifier_params=None, **sections) -> dict:
    spec = {"strategies": [{"type": strategy, "parameters": params}], **sections}
    if classifier is not None:
        spec["classifiers"] = [{"type": classifier, "parameters": classifier_params or {}}]
    return spec


def first_leak(full: np.ndarray, cut: np.ndarray, stop: int) -> int | None:
    """The oracle: the first bar before ``stop`` where a component's output on the data cut at
    ``stop`` differs from its output on the whole data (NaN equal to NaN)."""
    a, b = full[:stop], cut[:stop]
    differs = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))
    return int(differs[0]) if len(differs) else None


def earliest(report, kind: str, component: str, cut: int) -> int | None:
    bars = [f.bar for f in report.findings if f.kind == kind and f.component == component and f.cut == cut]
    return min(bars) if bars else None


# ---- the specs of the repository --------------------------------------------------------------------

@pytest.mark.parametrize("path", ["specs/seed.yaml", "specs/sma_crossover.yaml"])
def test_the_seed_and_the_reference_grid_have_no_lookahead(path):
    report = lookahead(path)
    assert () == report.findings
    assert len(report.combos) == report.grid and 4 == len(report.cuts)
    assert ("feature", "strategy") == report.checked[:2] and "fills" in report.checked


def test_cuts_spread_over_the_data_and_each_symbol_is_cut_at_the_same_time():
    report = lookahead("specs/dual_momentum.yaml", cuts=3, combos=4)
    data = pipelines.load_market_data(pipelines.load_spec("specs/dual_momentum.yaml").data)
    timeline = np.unique(np.concatenate([b.time for b in data.bars]))
    for cut in report.cuts:
        at = [data[symbol].time[bar] for symbol, bar in cut.bars]
        before = [data[symbol].time[bar - 1] for symbol, bar in cut.bars]
        assert max(before) < min(at)  # one time cuts every symbol
    positions = [int(np.searchsorted(timeline, min(data[s].time[b] for s, b in c.bars))) for c in report.cuts]
    gaps = np.diff([int(np.searchsorted(timeline, max(b.time[0] for b in data.bars)))] + positions)
    assert [1, 2, 3] == [c.number for c in report.cuts] and gaps.max() - gaps.min() <= 1  # evenly spread


# ---- the perturbation ------------------------------------------------------------------------------

@SETTINGS
@given(generated_bars(min_size=2, max_size=60), st.data())
def test_the_perturbation_keeps_the_past_and_every_bar_valid_and_changes_every_later_price(data, draw):
    start = draw.draw(st.integers(1, len(data) - 1))
    changed = perturbed(data, start, seed=(1, 0))
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(data, name)[:start], getattr(changed, name)[:start])
    assert np.array_equal(data.time, changed.time)
    assert (changed.low <= np.minimum(changed.open, changed.close)).all()
    assert (np.maximum(changed.open, changed.close) <= changed.high).all() and (changed.low > 0).all()
    assert (changed.volume[start:] != data.volume[start:]).all()
    # a price equal to its old value needs p' = 1.5 C^2 / p'' to land on it exactly: never on these draws
    assert (changed.close[start:] != data.close[start:]).all()


def test_the_perturbation_reverses_the_moves_after_the_cut():
    data = sample_bars(40)
    changed = perturbed(data, 20, seed=0)
    order = np.argsort(np.argsort(changed.close[20:]))  # the shuffled, reflected closes rank in reverse
    pivot = data.close[19]
    np.testing.assert_allclose(changed.close[20:] * np.sort(data.close[20:])[::-1][order], 1.5 * pivot * pivot)


def test_an_entry_still_working_when_the_data_ends_is_not_an_expiry():
    # good-till-cancelled limits far below the market: at the end of the data truncated at a cut an
    # entry is cut off, not cancelled; an expiry on the bar before the cut is not compared
    spec = {"data": {"dataset": "GOOG"}, "execution": {"order_type": "limit", "limit_offset": [0.02, 0.05]},
            "strategies": [{"type": "momentum", "parameters": {"lookback_period": [5, 10, 20]}}]}
    assert () == lookahead(spec, cuts=12).findings


# ---- random specs over the built-ins report nothing ----------------------------------------------

_STRATEGIES = sorted(set(BUILTINS.strategies) - {"dual_momentum"})  # a universe of symbols: its own test below
_EXITS = st.fixed_dictionaries({}, optional={
    "stop_loss": st.sampled_from([0.02, 0.05]), "take_profit": st.sampled_from([0.03, 0.1]),
    "trailing_stop": st.sampled_from([0.03, 0.08]), "max_holding_bars": st.integers(2, 15)})
_EXECUTION = st.fixed_dictionaries({}, optional={
    "fill": st.sampled_from(["next_open", "close"]), "commission": st.sampled_from([0.0, 0.002]),
    "slippage_bps": st.sampled_from([0.0, 5.0]), "order_type": st.sampled_from(["market", "limit", "stop"]),
    "limit_offset": st.sampled_from([0.0, 0.01]), "stop_offset": st.sampled_from([0.0, 0.01]),
    "time_in_force": st.sampled_from(["gtc", "day"])})
_PORTFOLIO = st.fixed_dictionaries({}, optional={
    "direction": st.sampled_from(["long_only", "long_short"]),
    "sizing": st.sampled_from(["all_in", "fixed_fraction", "volatility", "atr", "kelly"]),
    "fractional": st.booleans()})
_RISK = st.fixed_dictionaries({}, optional={
    "daily_loss_limit": st.sampled_from([0.01, 0.05]), "max_drawdown_limit": st.sampled_from([0.1, 0.3]),
    "max_position_pct": st.sampled_from([0.5, 1.0])})


@st.composite
def builtin_specs(draw) -> dict:
    """A spec over the built-ins: a strategy (the threshold template reaches every native feature)
    and its parameters, perhaps a classifier, and drawn exits, execution, sizing and risk settings."""
    name = draw(st.sampled_from(_STRATEGIES))
    spec = spec_with(name, draw(params_for(name, window_cap=25)), exits=draw(_EXITS), execution=draw(_EXECUTION),
                     portfolio=draw(_PORTFOLIO), risk=draw(_RISK))
    classifier = draw(st.sampled_from([None, "trend_regime", "volatility_regime"]))
    if classifier is not None:
        spec["classifiers"] = [{"type": classifier, "parameters": draw(params_for(classifier, window_cap=20))}]
        # fitted before the split (a place in the whole data) rather than on a warm-up of 252 bars
        spec["data"] = {"split": {"train": draw(st.sampled_from([0.3, 0.5]))}}
    return {key: value for key, value in spec.items() if value != {}}


@SETTINGS
@given(builtin_specs(), generated_bars(min_size=120, max_size=360))
def test_random_specs_over_the_built_ins_report_no_lookahead(spec, data):
    try:
        report = lookahead(spec, cuts=3, market=as_market(data))
    except SpecError:
        assume(False)  # a spec the loader refuses (or data too short for it) is not a case
    assert () == report.findings, report.findings[:3]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(generated_market(symbols=3, min_size=40, max_size=140), params_for("dual_momentum", window_cap=20))
def test_cross_symbol_strategies_on_ragged_calendars_report_no_lookahead(data, params):
    try:
        report = lookahead(spec_with("dual_momentum", params), cuts=3, market=data)
    except SpecError:
        assume(False)
    assert () == report.findings, report.findings[:3]


def test_every_native_feature_through_the_threshold_template_reports_no_lookahead(goog):
    features = [p for p in BUILTINS.strategy("threshold").params if p.name == "feature"][0].choices
    spec = {"strategies": [{"type": "threshold", "parameters": {"feature": name, "lower": -1.0, "upper": 1.0}}
                           for name in features], "exits": {"stop_loss": 0.05}}
    report = lookahead(spec, cuts=3, market=as_market(goog.slice(0, 600)))
    assert len(features) == len(report.combos)
    assert () == report.findings


def test_every_classifier_and_talib_features_report_no_lookahead(goog):
    spec = {"strategies": [{"type": "threshold", "parameters": {"feature": name, "lower": -100.0, "upper": 100.0}}
                           for name in ("talib.CCI", "talib.MFI", "talib.EMA", "talib.MACD.macdhist")],
            "classifiers": [{"type": "hmm", "parameters": {"model_type": ["hmm", "svm", "random_forest"],
                                                             "lookback_days": 20}},
                            {"type": "volatility_regime"}, {"type": "trend_regime", "parameters": {"period": 50}}]}
    report = lookahead(spec, cuts=2, combos=5, market=as_market(goog.slice(0, 700)))
    assert () == report.findings
    assert {"hmm", "volatility_regime", "trend_regime"} == {c.classifier for c in report.combos}


# ---- planted bugs are reported, at the right component, no later than they leak ------------------

@SETTINGS
@given(st.sampled_from(["peek", "follow_ahead", "zscored"]), st.integers(1, 6),
       generated_bars(min_size=80, max_size=300), st.integers(1, 5))
def test_every_planted_bug_is_reported_at_its_component_no_later_than_it_leaks(bug, k, data, cuts):
    strategy = getattr(bugs, bug)
    params = {"period": 5} if bug == "zscored" else {"k": k}
    report = lookahead(spec_with(strategy, params), cuts=cuts, market=as_market(data))
    kind = "strategy" if bug == "peek" else "feature"
    leaky = bugs.peek if bug == "peek" else (bugs.ahead if bug == "follow_ahead" else bugs.normalised)
    named = {f.component for f in report.findings if f.kind == kind}
    upstream = {f.component for f in report.findings if f.kind == "feature"} if kind == "strategy" else set()
    assert set() == upstream  # the strategy itself is the bug: its feature (the price) is clean
    leaked_somewhere = False
    for cut in report.cuts:
        stop = cut.bar(data.symbol)
        (full,) = batch_outputs(leaky, params, data)
        (short,) = batch_outputs(leaky, params, data.slice(0, stop))
        leak = first_leak(full, short, stop)
        if bug != "zscored":
            assert (stop - k if stop - k >= 0 else None) == leak  # the oracle agrees with the construction
        if leak is None:
            continue
        leaked_somewhere = True
        (component,) = named
        assert earliest(report, kind, component, cut.number) is not None
        assert earliest(report, kind, component, cut.number) <= leak
    if leaked_somewhere:
        assert report.found


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(generated_bars(min_size=80, max_size=300, precision=2), st.integers(2, 40), st.integers(1, 4))
def test_a_classifier_fitted_on_the_future_is_reported_no_later_than_its_labels_change(data, period, cuts):
    spec = spec_with("momentum", {"lookback_period": 5}, classifier=bugs.future_fit, classifier_params={"period": period},
                     data={"split": {"train": 0.25}})
    report = lookahead(spec, cuts=cuts, market=as_market(data))
    assert set() == {f.kind for f in report.findings} - {"classifier", "orders", "fills", "exits"}
    train_end = int(round(0.25 * len(data)))
    full = classify(bugs.future_fit, {"period": period}, data, train_end).labels
    for cut in report.cuts:
        stop = cut.bar(data.symbol)
        if stop <= train_end:
            continue
        leak = first_leak(full, classify(bugs.future_fit, {"period": period}, data.slice(0, stop), train_end).labels,
                          stop)
        if leak is not None:
            found = earliest(report, "classifier", f"lookahead_bugs:future_fit(period={period})", cut.number)
            assert found is not None and found <= leak


def test_each_planted_bug_is_found_on_real_data(goog):
    report = lookahead({"strategies": [{"type": bugs.peek, "parameters": {"k": [1, 3]}},
                                       {"type": bugs.zscored}, {"type": "momentum"}],
                        "classifiers": [{"type": bugs.future_fit}]}, market=as_market(goog))
    named = {(f.kind, f.component) for f in report.findings if f.kind in ("feature", "strategy", "classifier")}
    assert {("strategy", "peek(k=1)"), ("strategy", "peek(k=3)"), ("feature", "lookahead_bugs:normalised(period=5)@close"),
            ("strategy", "zscored(period=5)"), ("classifier", "lookahead_bugs:future_fit(period=20)")} == named
    for cut in report.cuts:
        for k in (1, 3):
            assert cut.bar("GOOG") - k == earliest(report, "strategy", f"peek(k={k})", cut.number)
        assert 0 == earliest(report, "feature", "lookahead_bugs:normalised(period=5)@close", cut.number)


# ---- workflows -------------------------------------------------------------------------------------

def test_a_replay_checks_the_fold_of_its_stored_signals(tmp_path):
    store = pipelines.generate_signals({"data": {"dataset": "GOOG"}, "strategies": [
        {"type": "sma_crossover", "parameters": {"fast_period": [10, 20], "slow_period": 50}}]}, out=tmp_path / "store")
    report = lookahead({"workflow": {"type": "signal_replay"}, "signals": str(tmp_path / "store"),
                        "exits": {"stop_loss": [0.03, 0.1]}}, cuts=3)
    assert ("orders", "fills", "exits") == report.checked and () == report.findings
    assert 4 == len(report.combos) and "signal_replay" in report.notes[0]
    del store


def test_a_train_test_split_fits_classifiers_where_the_whole_data_puts_the_split():
    spec = {"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
            "strategies": [{"type": "momentum"}], "classifiers": [{"type": "trend_regime", "parameters": {"period": 50}}]}
    report = lookahead(spec, cuts=5)
    assert () == report.findings and "data.split" in report.notes[0]


def test_a_walk_forward_and_a_signal_generation_say_what_they_check():
    walk = lookahead({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 250},
                      "data": {"dataset": "GOOG"}, "strategies": [{"type": "momentum"}]}, cuts=2)
    generate = lookahead({"workflow": {"type": "signal_generation"}, "data": {"dataset": "GOOG"},
                          "strategies": [{"type": "momentum"}]}, cuts=2)
    assert "walk_forward" in walk.notes[0] and "fills" in walk.checked
    assert ("feature", "strategy") == generate.checked and () == walk.findings + generate.findings


def test_the_builtin_ensemble_learns_on_a_window_no_later_bar_moves():
    """It learned on the first half of the labelled bars, so the data's length decided when it began to
    trade: a look-ahead this check found. It now learns on its first ``learn_bars`` labelled bars."""
    spec = {"data": {"dataset": "GOOG"}, "classifiers": [{"type": "trend_regime", "parameters": {"period": 50}}],
            "strategies": [{"type": "ensemble", "learn_bars": 300, "members": [{"type": "momentum"},
                                                                                 {"type": "sma_crossover"}]}]}
    assert () == tuple(lookahead(spec, cuts=2).findings)
    result = pipelines.run(spec)
    entries = result.trades.column("entry_time").to_numpy()
    learnt = result.market.bars[0].time[252 + 300]  # labels from bar 252 (the warm-up), then 300 bars of learning
    assert len(entries) > 0 and entries.min() > learnt


# ---- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, where", [({"cuts": 0}, "--cuts"), ({"combos": 0}, "--combos"),
                                            ({"combos": 2}, "--combos"), ({"cuts": 5000}, "--cuts")])
def test_bad_options_are_one_clear_error(options, where):
    with pytest.raises(SpecError) as error:
        lookahead("specs/seed.yaml", **options)
    assert str(error.value).startswith(where)


def test_combos_cover_every_component_and_parameter_value():
    report = lookahead("specs/seed.yaml", combos=3, cuts=1)
    assert 3 == len(report.combos) and 24 == report.grid
    seen = {(name, value) for c in report.combos for name, value in c.strategy_params + c.classifier_params}
    assert {("lookback_period", 10), ("lookback_period", 20), ("lookback_period", 30), ("signal_threshold", 0.01),
            ("signal_threshold", 0.02), ("model_type", "hmm"), ("model_type", "svm"), ("lookback_days", 30),
            ("lookback_days", 60)} <= seen


def test_phases_are_refused_with_what_to_do():
    with pytest.raises(SpecError, match="phases"):
        lookahead({"phases": [{"name": "a", "strategies": [{"type": "momentum"}]}]})


def test_perturbed_leaves_short_data_alone():
    data = sample_bars(5)
    assert perturbed(data, 5) is data
