"""The registry makes every built-in discoverable: name, parameters (type, default, range, doc),
inputs, outputs and a doc string — what ``admf list`` and the generated reference are built from."""
import importlib.util

import pytest

from fp.indicators import INDICATORS
from fp.registry import BUILTINS, SETTINGS, names
from fp.templates import TEMPLATES

COMPONENTS = [pytest.param(kind, name, id=f"{kind}:{name}") for kind in ("feature", "strategy", "classifier")
              for name in BUILTINS.of(kind)]


@pytest.mark.parametrize("kind, name", COMPONENTS)
def test_every_component_and_parameter_has_a_doc(kind, name):
    component = BUILTINS.get(kind, name)
    assert component.name == name and component.doc.strip()
    for p in component.params:
        assert p.doc.strip(), f"{kind} {name}: parameter {p.name} has no doc"
        assert p.describe()  # type and range, as a sentence
        if not p.required:
            assert p.default == p.check(p.default, f"{name}.{p.name}")


@pytest.mark.parametrize("section", sorted(SETTINGS))
def test_every_settings_parameter_has_a_doc(section):
    assert SETTINGS[section].doc and all(p.doc for p in SETTINGS[section].params)


def test_features_list_their_inputs_and_outputs():
    for name in BUILTINS.features:
        record = BUILTINS.feature(name)
        assert record.inputs and record.outputs, name


def test_the_natives_and_templates_are_registered_like_the_built_ins():
    assert set(INDICATORS) <= set(names("feature")) and set(TEMPLATES) <= set(names("strategy"))
    talib = importlib.util.find_spec("talib") is not None
    assert talib == ("talib.MACD" in names("feature"))


def test_a_missing_feature_names_the_native_ones_and_talibs():
    with pytest.raises(KeyError) as info:
        BUILTINS.feature("no_such")
    message = str(info.value)
    assert "no feature 'no_such' in the registry (it has adx, atr, bollinger," in message
    assert "and TA-Lib's functions as talib.<NAME> (the ta extra)" in message and "talib.ACOS" not in message
