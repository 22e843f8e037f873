"""TA-Lib's functions as features ``talib.<NAME>``: every function that loads is a valid feature
with TA-Lib's parameters, inputs and named outputs, computes what TA-Lib computes, and obeys the
no-look-ahead law (and streaming ≡ batch) on generated data; the refused ones are refused."""
import subprocess
import sys

import numpy as np
import pytest

from fp.catalog import BUILTIN_FEATURES
from fp.components import sample_bars
from fp.registry import BUILTINS
from fp.strategies import feature
from fp.talib_features import LOOKAHEAD, REFUSED, TALIB_FEATURES, talib_feature, talib_names
from fp.testing import assert_no_lookahead, assert_streaming_equals_batch

talib = pytest.importorskip("talib", reason="TA-Lib features need the ta extra: pip install -e '.[ta]'")
from talib import abstract  # noqa: E402

FUNCTIONS = sorted(set(talib.get_functions()) - set(REFUSED) - set(LOOKAHEAD))
BARS = sample_bars(120)


def test_every_function_of_talib_is_a_feature_or_refused_with_a_reason():
    assert sorted(set(talib.get_functions())) == sorted(FUNCTIONS + list(REFUSED) + list(LOOKAHEAD))
    assert ["talib." + f for f in FUNCTIONS] == list(talib_names()) == [n for n in BUILTIN_FEATURES if
                                                                         n.startswith("talib.")]
    assert len(FUNCTIONS) >= 150


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_feature_is_talibs_function(function):
    record = BUILTINS.feature("talib." + function)
    info = abstract.Function(function).info
    assert tuple(info["output_names"]) == record.outputs
    assert list(info["parameters"]) == [p.name for p in record.params]
    assert record.doc and all(p.doc for p in record.params)
    for p in record.params:
        assert p.default == p.check(p.default, p.name)  # TA-Lib's defaults lie within its declared ranges
    fields = record.inputs if record.inputs != ("x",) else ("close",)
    inputs = tuple(BARS.field(f) for f in fields)
    ours = record.compute({p.name: p.default for p in record.params}, inputs, BARS.price_precision)
    theirs = getattr(talib, function)(*inputs)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    lookback = abstract.Function(function).lookback
    for a, b in zip(ours, theirs):
        assert (len(BARS),) == a.shape and np.float64 == a.dtype
        expected = np.asarray(b, dtype=np.float64)
        if np.issubdtype(b.dtype, np.integer):
            expected[:lookback] = np.nan  # an integer output is NaN before TA-Lib's lookback, like a real one
        assert np.array_equal(expected, a, equal_nan=True)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_lookahead(function):
    assert_no_lookahead(TALIB_FEATURES["talib." + function], max_examples=6, max_bars=40)


@pytest.mark.slow
@pytest.mark.parametrize("function", FUNCTIONS)
def test_streaming_equals_batch(function):
    assert_streaming_equals_batch(TALIB_FEATURES["talib." + function], max_examples=4, max_bars=30)


def test_parameters_carry_talibs_declared_ranges():
    macd = {p.name: p for p in BUILTINS.feature("talib.MACD").params}
    assert (2, 100000, 12) == (macd["fastperiod"].minimum, macd["fastperiod"].maximum, macd["fastperiod"].default)
    assert 1 == macd["signalperiod"].minimum
    ma = {p.name: p for p in BUILTINS.feature("talib.MA").params}
    assert 0 in ma["matype"].choices and 1 in ma["matype"].choices and "1=EMA" in ma["matype"].doc
    sar = {p.name: p for p in BUILTINS.feature("talib.SAR").params}
    assert (0.0, None) == (sar["acceleration"].minimum, sar["acceleration"].maximum)
    t3 = {p.name: p for p in BUILTINS.feature("talib.T3").params}
    assert (0.0, 1.0) == (t3["vfactor"].minimum, t3["vfactor"].maximum)


def test_inputs_follow_talib():
    assert ("x",) == BUILTINS.feature("talib.RSI").inputs  # a price series: the reference chooses (close)
    assert ("high", "low", "close") == BUILTINS.feature("talib.ATR").inputs
    assert ("close", "volume") == BUILTINS.feature("talib.OBV").inputs
    assert ("open", "high", "low", "close") == BUILTINS.feature("talib.CDLENGULFING").inputs


def test_a_reference_names_outputs_and_is_validated_like_any_feature():
    ref = feature("talib.MACD", fastperiod=12, slowperiod=26, signalperiod=9, output="macdsignal")
    assert "talib.MACD(fastperiod=12, slowperiod=26, signalperiod=9)@close" == str(ref.key)
    assert ref == feature("talib.MACD", output="macdsignal")  # defaults filled in: one FeatureHub key
    assert "real" == feature("talib.RSI", "open").output and "open" == feature("talib.RSI", "open").key.input
    with pytest.raises(ValueError, match=r"feature 'talib.MACD' has no parameter 'fast'; it takes \['fastperiod', "):
        feature("talib.MACD", fast=12)
    with pytest.raises(ValueError, match=r"talib.MACD.fastperiod=1: must be an integer >= 2 and <= 100000"):
        feature("talib.MACD", fastperiod=1, output="macd")
    with pytest.raises(ValueError, match="has no output 'signal'; it has \\['macd', 'macdsignal', 'macdhist'\\]"):
        feature("talib.MACD", output="signal")
    with pytest.raises(ValueError, match=r"TA-Lib has no function 'MACDX' \(did you mean 'talib.MACD'\?\)"):
        feature("talib.MACDX")


def test_refused_functions_say_why():
    with pytest.raises(ValueError, match="feature 'talib.MAVP' is not available: its second input is a series of "
                                         "periods, not a bar field"):
        feature("talib.MAVP")
    assert "talib.MAVP" not in BUILTIN_FEATURES
    with pytest.raises(KeyError, match="talib.MAVP"):
        talib_feature("talib.MAVP")


def test_talib_refusing_values_is_a_clear_error():
    """Values reach TA-Lib validated (above); code calling the batch form directly gets TA-Lib's refusal in one line."""
    with pytest.raises(ValueError, match=r"^talib.CCI\(timeperiod=1\): TA-Lib refused it: .*TA_BAD_PARAM"):
        BUILTINS.feature("talib.CCI").compute({"timeperiod": 1}, (BARS.high, BARS.low, BARS.close), 2)


def test_fp_imports_without_importing_talib():
    code = "import sys, fp, fp.registry, fp.templates; assert 'talib' not in sys.modules; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "ok" == done.stdout.strip(), done.stderr


def test_without_talib_a_talib_feature_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "talib", None)
    with pytest.raises(ImportError, match=r"feature 'talib.RSI' needs the optional package 'talib': "
                                          r"pip install -e \"\.\[ta\]\""):
        feature("talib.RSI")
    assert "talib.RSI" not in BUILTIN_FEATURES and () == talib_names()
    assert "rsi" in BUILTIN_FEATURES


def test_a_function_listed_as_looking_ahead_is_refused(monkeypatch):
    import fp.talib_features as bridge
    monkeypatch.setattr(bridge, "LOOKAHEAD", ("FRACTAL",))
    bridge._functions.cache_clear()
    try:
        with pytest.raises(ValueError, match="feature 'talib.FRACTAL' is refused: it looks ahead"):
            feature("talib.FRACTAL", output="swinghigh")
        assert "talib.FRACTAL" not in BUILTIN_FEATURES
    finally:
        monkeypatch.undo()
        bridge._functions.cache_clear()
    assert "talib.FRACTAL" in BUILTIN_FEATURES
