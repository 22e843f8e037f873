"""Custom components by import path: loading, validation errors naming the spec path, and runs that
treat them like built-ins (parameters checked, features shared, classifiers fitted, phases)."""
from __future__ import annotations

import json
import textwrap

import pytest

import pipelines
from fp.strategies import STRATEGIES
from pipelines.boundary.components import load_component, resolve_component
from pipelines.boundary.specs import spec_from_mapping, spec_from_text
from state.errors import SpecError

SIGNALS = '''
import math
import numpy as np
from fp.classifiers import Classifier, RegimeModel
from fp.components import Param, feature, ref, strategy

@feature(params=(Param("period", "int", 3, minimum=1),), init=())
def rolling_max(p, window, x):
    window = (window + x)[-p["period"]:]
    return window, (max(window) if len(window) == p["period"] else math.nan,)

@strategy(params=(Param("period", "int", 10, minimum=2),),
          features=lambda p: {"top": ref(rolling_max, period=p["period"]), "close": ref("price")})
def new_high(p, f):
    return np.where(f["close"] >= f["top"], 1.0, np.where(f["close"] < f["top"] * 0.95, 0.0, np.nan))

@strategy(params=(Param("period", "int", 10, minimum=2), Param("drop", "float", 0.1, minimum=0.0)),
          features=lambda p: {"top": ref(rolling_max, period=p["period"]), "close": ref("price")})
def off_the_high(p, f):
    return np.where(f["close"] < f["top"] * (1.0 - p["drop"]), -1.0, np.nan)

def _fit(p, bars, train_end):
    return RegimeModel("calm", 2, train_end, (0, 1), (math.nan, math.nan))

def _label(p, model, bars, train_end):
    labels = np.full(len(bars), np.nan)
    labels[train_end:] = (bars.close[train_end:] > bars.open[train_end:]).astype(float)
    return labels

up_day = Classifier("up_day", (Param("period", "int", 5, minimum=1),), _fit, _label)

@strategy(params=(Param("period", "int", 10, minimum=1),), features={"close": ref("price")})
def wrong_shape(p, f):
    return np.array([1.0, 2.0, 3.0])

@strategy(params=(Param("period", "int", 10, minimum=1),), features={"close": ref("price")})
def undeclared(p, f):
    return f["close"] * p["scale"]

def helper(p, f):
    return 0.0
'''


@pytest.fixture
def signals(author):
    return author("author_signals", SIGNALS)


def strategy_error(type_: str, **entry) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_from_mapping({"strategies": [{"type": type_, **entry}]})
    return info.value


# ---- loading: every way it can go wrong names the spec path --------------------------------------

@pytest.mark.parametrize("type_, message", [
    ("author_signals:nope", "module 'author_signals' has no attribute 'nope'; it has these strategies: new_high, "
                            "off_the_high, undeclared, wrong_shape"),
    ("author_signals:new_hgh", "module 'author_signals' has no attribute 'new_hgh' (did you mean 'new_high'?)"),
    ("no_such_module:x", "cannot import module 'no_such_module' (no module named 'no_such_module'): is it installed, "
                         "or its folder on PYTHONPATH?"),
    ("author_signals:helper", "'helper' is a plain function, not a strategy: decorate it with "
                              "@fp.components.strategy(params=..., features=...)"),
    ("author_signals:rolling_max", "'author_signals:rolling_max' is a feature, not a strategy"),
    ("author_signals:up_day", "'up_day' is a classifier, not a strategy"),
    ("author_signals:wrong_shape", "strategy 'wrong_shape': its signal returns shape (3,) for 50 bars: return one "
                                   "float per bar, an array shaped like the feature arrays it is given"),
    ("author_signals:undeclared", "strategy 'undeclared': reads parameter 'scale', which its params= does not "
                                  "declare (declared: 'period')"),
    ("author_signals:", "an import path is 'module:attribute', e.g. mypkg.signals:ema_ribbon"),
    ("author-signals:x", "an import path is 'module:attribute', e.g. mypkg.signals:ema_ribbon"),
])
def test_a_bad_import_path_is_one_error_naming_the_spec_path(signals, type_, message):
    error = strategy_error(type_)
    assert f"strategies[0].type={type_!r}" == error.path
    assert f"strategies[0].type={type_!r}: {message}" == str(error)


def test_a_module_that_fails_to_import_says_why(author):
    author("author_broken", "import numpy\nraise RuntimeError('no config file')\n")
    assert str(strategy_error("author_broken:x")).endswith(
        "importing module 'author_broken' raised RuntimeError: no config file")


def test_custom_parameters_get_the_builtins_errors(signals):
    error = strategy_error("author_signals:new_high", parameters={"perod": 5})
    assert ("strategies[0].parameters.perod: strategy 'author_signals:new_high' has no parameter 'perod' (did you "
            "mean 'period'?); its parameters are period") == str(error)
    error = strategy_error("author_signals:new_high", parameters={"period": [5, 1]})
    assert "strategies[0].parameters.period[1]=1: must be an integer >= 2" == str(error)


def test_a_classifier_or_member_is_loaded_with_its_own_path(signals):
    with pytest.raises(SpecError, match=r"^classifiers\[0\]\.type='author_signals:new_high': 'new_high' is a "
                                        r"strategy, not a classifier$"):
        spec_from_mapping({"strategies": [{"type": "momentum"}], "classifiers": [{"type": "author_signals:new_high"}]})
    with pytest.raises(SpecError, match=r"^strategies\[0\]\.members\[1\]\.type='author_signals:nope': "):
        spec_from_mapping({"strategies": [{"type": "ensemble", "members": [
            {"type": "momentum"}, {"type": "author_signals:nope"}]}], "classifiers": [{"type": "trend_regime"}]})


def test_load_and_resolve(signals):
    loaded = load_component("strategy", "author_signals:new_high")
    assert "author_signals:new_high" == loaded.name
    assert ("strategy", STRATEGIES["momentum"]) == resolve_component("momentum")
    kind, feature = resolve_component("author_signals:rolling_max")
    assert ("feature", "author_signals:rolling_max") == (kind, feature.name)
    with pytest.raises(SpecError, match=r"^component='smaa': not a built-in component \(did you mean 'sma'\?\)"):
        resolve_component("smaa", path="component")
    with pytest.raises(SpecError, match=r"not a built-in strategy"):
        resolve_component("sma", kind="strategy")


# ---- running: custom components are first-class ------------------------------------------------------

def test_a_custom_strategy_runs_from_yaml_by_import_path(signals, goog):
    spec = spec_from_text(textwrap.dedent("""
        data: {dataset: GOOG}
        strategies:
          - type: author_signals:new_high
            parameters: {period: [20, 40]}
          - type: sma_crossover
            parameters: {fast_period: 10, slow_period: 30}
    """))
    assert [("feature", "author_signals:rolling_max"), ("strategy", "author_signals:new_high")] == \
        [(kind, name) for kind, name, _ in spec.components]
    result = pipelines.run(spec)
    rows = result.results.to_pylist()
    assert ["author_signals:new_high"] * 2 + ["sma_crossover"] == [r["strategy"] for r in rows]
    assert all(r["n_trades"] > 0 for r in rows)
    assert json.loads(spec.document)["strategies"][0]["type"] == "author_signals:new_high"


def test_two_custom_strategies_share_one_computation_of_a_custom_feature(signals):
    plan = pipelines.plan({"strategies": [{"type": "author_signals:new_high", "parameters": {"period": [20, 40]}},
                                          {"type": "author_signals:off_the_high",
                                           "parameters": {"period": 20, "drop": [0.05, 0.1]}}]})
    custom = [str(k) for k in plan.features if k.name == "author_signals:rolling_max"]
    assert ["author_signals:rolling_max(period=20)@close", "author_signals:rolling_max(period=40)@close"] == custom
    assert 4 == len(plan.combos) and 3 == len(plan.features) and 8 == plan.naive_feature_count


def test_a_custom_classifier_runs_by_import_path(signals):
    result = pipelines.run({"data": {"dataset": "GOOG", "split": {"train": 0.5}},
                            "strategies": [{"type": "momentum", "parameters": {"lookback_period": 20}}],
                            "classifiers": [{"type": "author_signals:up_day", "parameters": {"period": [3, 5]}}]})
    assert {"author_signals:up_day"} == {r["classifier"] for r in result.results.to_pylist()}
    assert result.regime_stats.num_rows > 0


def test_an_ensemble_of_a_custom_and_a_builtin_strategy(signals):
    result = pipelines.run({"data": {"dataset": "GOOG", "split": {"train": 0.6}},
                            "strategies": [{"type": "ensemble", "members": [
                                {"type": "author_signals:new_high", "parameters": {"period": 30}},
                                {"type": "momentum", "parameters": {"lookback_period": 20}}]}],
                            "classifiers": [{"type": "trend_regime", "parameters": {"period": 100}}]})
    assert 1 == result.results.num_rows


def test_phases_run_an_earlier_phases_custom_combinations(signals):
    result = pipelines.run({"data": {"dataset": "GOOG", "split": {"train": 0.7}}, "phases": [
        {"name": "grid", "workflow": {"type": "optimization"},
         "strategies": [{"type": "author_signals:new_high", "parameters": {"period": [20, 40]}}]},
        {"name": "costs", "from": "grid", "workflow": {"type": "optimization"}, "top_k": 1,
         "execution": {"commission": [0.0, 0.001]}}]})
    costs = result["costs"]
    assert {"author_signals:new_high"} == {r["strategy"] for r in costs.results.to_pylist()}
    assert 2 == costs.results.num_rows


def test_a_record_from_code_is_its_own_type(signals):
    from author_signals import new_high
    spec = spec_from_mapping({"strategies": [{"type": new_high, "parameters": {"period": [20, 30]}}]})
    assert "new_high" == spec.strategies[0].type
    assert '"type":"new_high"' in spec.document
    assert 2 == len(pipelines.run(spec).results)
    with pytest.raises(SpecError, match=r"may not take the built-in name 'momentum'"):
        import attrs
        spec_from_mapping({"strategies": [{"type": attrs.evolve(new_high, name="momentum")}]})


def test_yaml_cannot_smuggle_code():
    with pytest.raises(SpecError, match="tags such as !!python/object are refused"):
        spec_from_text("strategies: [{type: !!python/name:os.system }]")


def test_a_plan_with_custom_components_pickles_for_worker_processes(signals, tmp_path):
    import pickle
    from state.spec import ExecutionOptions
    spec = spec_from_mapping({"strategies": [{"type": "author_signals:new_high", "parameters": {"period": [20, 40]}},
                                             {"type": "author_signals:off_the_high"}],
                              "classifiers": [{"type": "author_signals:up_day"}]})
    plan = pipelines.plan(spec)
    again = pickle.loads(pickle.dumps(plan))
    assert [(k, n) for k, n, _ in plan.spec.components] == [(k, n) for k, n, _ in again.spec.components]
    assert again.spec.components[2][2].signal is plan.spec.components[2][2].signal  # by reference
    local = pipelines.run(spec)
    pooled = pipelines.run(spec, out=tmp_path / "run", execution=ExecutionOptions(executor="processes", workers=2))
    columns = ["combo_id", "final_equity", "n_trades"]
    assert local.results.select(columns).to_pylist() == pooled.results.select(columns).to_pylist()
