"""fp.components (the authoring decorators and validation) and fp.registry.Registry (custom
components as a value)."""
import math

import attrs
import numpy as np
import pytest

from fp.classifiers import CLASSIFIERS, Classifier, RegimeModel
from fp.components import (
    ComponentError,
    Param,
    batch_outputs,
    feature,
    kind_of,
    ref,
    sample_bars,
    sample_params,
    strategy,
    streaming_outputs,
    validate,
)
from fp.features import FEATURES, Feature
from fp.hub import compute_features, registry_for_refs
from fp.registry import BUILTINS, Registry, registry_of
from fp.strategies import STRATEGIES, FeatureRef, Strategy
from state.errors import UnknownComponentError
from state.params import REQUIRED


@feature(params=(Param("period", "int", 3, minimum=1),), init=())
def rolling_max(p, window, x):
    window = (window + x)[-p["period"]:]
    return window, (max(window) if len(window) == p["period"] else math.nan,)


@feature(inputs=("high", "low"), outputs=("mid", "range"))
def mid_range(p, state, x):
    high, low = x
    return state, ((high + low) / 2.0, high - low)


@strategy(params=(Param("period", "int", 5, minimum=1),),
          features=lambda p: {"top": ref(rolling_max, period=p["period"]), "close": ref("price")})
def at_the_top(p, f):
    """Long at a new high."""
    return np.where(f["close"] >= f["top"], 1.0, np.nan)


# ---- the decorators -------------------------------------------------------------------------------

def test_strategy_builds_the_record_the_builtins_are():
    assert isinstance(at_the_top, Strategy)
    assert ("at_the_top", "level", "Long at a new high.") == (at_the_top.name, at_the_top.trigger, at_the_top.doc)
    assert ["period"] == [p.name for p in at_the_top.params]
    needs = at_the_top.needs({"period": 7})
    assert "test_components:rolling_max(period=7)@close" == str(needs["top"].key).split(".")[-1]
    assert needs["top"].feature is rolling_max and needs["close"].feature is None


def test_feature_builds_the_record_named_by_its_import_path():
    assert isinstance(rolling_max, Feature)
    assert rolling_max.name.endswith("test_components:rolling_max")
    assert (("x",), ("value",), None) == (rolling_max.inputs, rolling_max.outputs, rolling_max.batch)
    (values,) = rolling_max.compute({"period": 2}, (np.array([1.0, 3.0, 2.0, 1.0]),), None)
    assert [3.0, 3.0, 2.0] == values[1:].tolist() and math.isnan(values[0])


def test_a_feature_of_several_fields_and_outputs():
    bars = sample_bars(5)
    mid, width = batch_outputs(mid_range, {}, bars)
    assert ((bars.high + bars.low) / 2).tolist() == mid.tolist()
    assert (bars.high - bars.low).tolist() == width.tolist()
    assert "range" == ref(mid_range, output="range").output
    assert "bar" == ref(mid_range, output="mid").key.input


def test_a_static_features_mapping_and_a_change_trigger():
    @strategy(features={"px": ref("price")}, trigger="change", name="flip")
    def flip(p, f):
        return np.sign(f["px"] - 100.0)
    assert ("flip", "change") == (flip.name, flip.trigger)
    assert {"px": ref("price")} == flip.needs({})


@pytest.mark.parametrize("make, message", [
    (lambda: strategy(trigger="sometimes"), r"trigger='sometimes': must be one of 'level', 'change'"),
    (lambda: strategy(params=(Param("a", "int", 1),), features=42), r"features=42: must be a function"),
    (lambda: strategy(params=Param("a", "int", 1))(lambda p, f: 0.0), r"params=.* must be a tuple of Param"),
    (lambda: strategy(params=({"name": "a"},))(lambda p, f: 0.0), r"params\[0\]=\{'name': 'a'\} is not a Param"),
    (lambda: strategy(params=(Param("a", "int", 1), Param("a", "int", 2)))(lambda p, f: 0.0),
     r"parameter 'a' is declared twice"),
    (lambda: strategy(params=(Param("a", "int", 0, minimum=1),))(lambda p, f: 0.0),
     r"parameter 'a' has an invalid default: a=0: must be an integer >= 1"),
    (lambda: feature(inputs=("close", "bid"))(lambda p, s, x: (s, (0.0,))), r"inputs=\('close', 'bid'\)"),
    (lambda: feature(outputs=("a", "a"))(lambda p, s, x: (s, (0.0, 0.0))), r"outputs=\('a', 'a'\)"),
])
def test_a_wrong_declaration_is_refused_where_it_is_written(make, message):
    with pytest.raises(ComponentError, match=message):
        make()


# ---- validation: what the spec loader checks ------------------------------------------------------

def test_every_builtin_is_valid():
    for kind, components in (("feature", FEATURES), ("strategy", STRATEGIES), ("classifier", CLASSIFIERS)):
        for component in components.values():
            if kind == "classifier" and component.extra:
                continue  # fitting a model: tests/laws cover it
            assert component is validate(component, kind)


def test_a_custom_strategy_and_its_feature_are_valid():
    assert at_the_top is validate(at_the_top, "strategy")
    assert rolling_max is validate(rolling_max)
    assert "feature" == kind_of(rolling_max) and kind_of(print) is None


def _strategy(signal, params=(Param("period", "int", 5, minimum=1),), features=None):
    return strategy(params=params, features=features or (lambda p: {"close": ref("price")}))(signal)


@pytest.mark.parametrize("component, kind, message", [
    (lambda p, f: 0.0, "strategy", r"'<lambda>' is a plain function, not a strategy: decorate it with "
                                   r"@fp.components.strategy"),
    (42, None, r"int 42 is not a component"),
    (rolling_max, "strategy", r"'.*:rolling_max' is a feature, not a strategy"),
    (_strategy(lambda p, f: f["close"] * p["scale"]), "strategy",
     r"strategy '<lambda>': reads parameter 'scale', which its params= does not declare \(declared: 'period'\)"),
    (_strategy(lambda p, f: f["atr"]), "strategy",
     r"reads feature 'atr', which its features= does not declare \(declared: 'close'\)"),
    (_strategy(lambda p, f: np.array([1.0, 2.0, 3.0])), "strategy",
     r"its signal returns shape \(3,\) for 50 bars: return one float per bar"),
    (_strategy(lambda p, f: np.ones((50, 2))), "strategy", r"returns shape \(50, 2\) for 50 bars"),
    (_strategy(lambda p, f: "long"), "strategy", r"its signal returns str 'long', not numbers"),
    (_strategy(lambda p, f: 1 / 0), "strategy",
     r"its signal raised ZeroDivisionError: division by zero \(parameters \{'period': 5\}, on a 50-bar sample"),
    (_strategy(lambda p, f: 0.0, features=lambda p: {"x": ref("sma", period=p["window"])}), "strategy",
     r"reads parameter 'window', which its params= does not declare"),
    (_strategy(lambda p, f: 0.0, features=lambda p: ["sma"]), "strategy", r"its features must map names to references"),
    (attrs.evolve(at_the_top, trigger="always"), "strategy", r"trigger='always' must be one of"),
    (attrs.evolve(rolling_max, step=lambda p, s, x: (s, (1.0, 2.0))), "feature",
     r"its step returns 2 value\(s\) at bar 0 for the 1 declared output\(s\)"),
    (attrs.evolve(rolling_max, batch=lambda p, inputs, precision: (inputs[0], inputs[0])), "feature",
     r"its batch form returns 2 value\(s\) for the 1 declared output\(s\)"),
    (attrs.evolve(rolling_max, step=lambda p, s, x: (s, 1.0), batch=FEATURES["sma"].batch), "feature",
     r"its step returns a float at bar 0 for the 1 declared output\(s\)"),
    (attrs.evolve(rolling_max, batch=lambda p, inputs, precision: (inputs[0][:10],)), "feature",
     r"output 'value' has shape \(10,\) for 50 bars"),
    (Classifier("bad", (), lambda p, b, t: RegimeModel("bad", 2, t, (0, 1), (0.0, 0.0)),
                lambda p, m, b, t: np.zeros(3)),
     "classifier", r"classifier 'bad': its labels have shape \(3,\) for 400 bars"),
])
def test_validation_names_what_is_wrong(component, kind, message):
    with pytest.raises(ComponentError, match=message):
        validate(component, kind)


def test_a_strategy_whose_feature_is_broken_names_the_feature():
    broken = attrs.evolve(rolling_max, name="tests:broken", step=lambda p, s, x: (s, ()),
                          batch=lambda p, i, pr: (i[0],))
    s = _strategy(lambda p, f: f["close"], features=lambda p: {"close": ref(broken)})
    with pytest.raises(ComponentError, match=r"strategy '<lambda>': its feature 'tests:broken': its step returns 0"):
        validate(s)


def test_sample_data_and_parameters_are_deterministic():
    a, b = sample_bars(30, seed=1), sample_bars(30, seed=1)
    assert a.close.tolist() == b.close.tolist() and a.close.tolist() != sample_bars(30, seed=2).close.tolist()
    assert ((a.low <= a.open) & (a.open <= a.high) & (a.low <= a.close) & (a.close <= a.high)).all()
    required = Strategy("r", (Param("w", "int", REQUIRED, minimum=3), Param("x", "float", REQUIRED, minimum=0.5),
                              Param("k", "str", REQUIRED, choices=("a", "b")), Param("b", "bool", REQUIRED)),
                        lambda p: {}, lambda p, f: 0.0)
    assert {"w": 3, "x": 0.5, "k": "a", "b": False} == sample_params(required)


def test_batch_and_streaming_outputs_of_a_classifier():
    bars = sample_bars(120)
    trend = CLASSIFIERS["trend_regime"]
    (batch,), (stream,) = (f(trend, {"period": 5}, bars, train_end=40) for f in (batch_outputs, streaming_outputs))
    assert np.isnan(batch[:40]).all() and not np.isnan(batch[45:]).any()
    assert np.array_equal(batch, stream, equal_nan=True)


# ---- the registry: custom components as a value ------------------------------------------------------

def test_a_registry_with_a_component_is_a_new_registry():
    custom = attrs.evolve(at_the_top, name="pkg:at_the_top")
    registry = BUILTINS.with_component("strategy", custom)
    assert registry.strategy("pkg:at_the_top") is custom and registry.strategy("momentum") is STRATEGIES["momentum"]
    assert "pkg:at_the_top" not in BUILTINS.strategies
    assert registry is registry.with_component("strategy", custom)


@pytest.mark.parametrize("kind, component, message", [
    ("strategy", attrs.evolve(at_the_top, name="momentum"),
     r"strategy name 'momentum' is already taken by a built-in strategy"),
    ("feature", at_the_top, r"a feature component must be a Feature record; got Strategy"),
    ("sizer", at_the_top, r"kind='sizer'"),
])
def test_a_registry_refuses_a_clash_or_a_wrong_record(kind, component, message):
    """Each is an AdmfError (ComponentError), never a bare built-in exception."""
    with pytest.raises(ComponentError, match=message):
        BUILTINS.with_component(kind, component)


def test_a_missing_name_says_what_is_registered():
    with pytest.raises(UnknownComponentError, match=r"no strategy 'pkg:nope' in the registry \(it has bollinger_breakout, "):
        BUILTINS.strategy("pkg:nope")


def test_registry_of_a_specs_components():
    custom = attrs.evolve(at_the_top, name="pkg:at_the_top")
    registry = registry_of((("feature", rolling_max.name, rolling_max), ("strategy", custom.name, custom)))
    assert isinstance(registry, Registry)
    assert registry.feature(rolling_max.name) is rolling_max and registry.strategy("pkg:at_the_top") is custom
    with pytest.raises(ComponentError, match="registered as 'x' is named"):
        registry_of((("strategy", "x", custom),))


def test_custom_features_share_one_computation_in_the_hub():
    refs = [at_the_top.needs({"period": 4}), at_the_top.needs({"period": 4}), at_the_top.needs({"period": 6})]
    registry = registry_for_refs(refs)
    keys = [r.key for rs in refs for r in rs.values()]
    computed = compute_features(sample_bars(), keys, registry=registry)
    assert 3 == len(computed)  # price, rolling_max(4), rolling_max(6)
    assert registry.feature(rolling_max.name) is rolling_max


def test_ref_of_a_name_in_a_registry_or_of_an_unknown_name():
    registry = BUILTINS.with_component("feature", rolling_max)
    by_name = ref(rolling_max.name, period=4, registry=registry)
    assert by_name == ref(rolling_max, period=4) and by_name.feature is rolling_max
    assert ref("sma", registry=registry).feature is None
    assert isinstance(by_name, FeatureRef)
    with pytest.raises(ValueError, match=r"no built-in feature 'smaa'.*pass its Feature record"):
        ref("smaa")
