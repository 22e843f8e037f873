"""fp.indicator: any feature on a pandas DataFrame or a mapping of arrays, validated like a spec."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from fp import indicator
from fp.components import batch_outputs
from fp.indicators import INDICATORS

pd = pytest.importorskip("pandas", reason="DataFrames need pandas (the dev extra)")


@pytest.fixture(scope="module")
def frame(goog):
    return pd.DataFrame({"Open": goog.open, "High": goog.high, "Low": goog.low, "Close": goog.close,
                         "Volume": goog.volume}, index=pd.DatetimeIndex(goog.time, name="date"))


def test_a_dataframe_in_gives_one_column_per_output_on_the_same_index(frame, goog):
    out = indicator("macd", frame, fast=12, slow=26, signal=9)
    assert ["macd", "signal", "hist"] == list(out.columns) and out.index.equals(frame.index)
    expected = batch_outputs(INDICATORS["macd"], {"fast": 12, "slow": 26, "signal": 9}, goog)
    for column, values in zip(out.columns, expected):
        assert np.array_equal(values, out[column].to_numpy(), equal_nan=True)


def test_a_feature_reading_time_takes_the_datetime_index(frame, goog):
    out = indicator("vwap", frame)
    assert np.array_equal(batch_outputs(INDICATORS["vwap"], {"anchor": "session", "period": 20}, goog)[0],
                          out["value"].to_numpy(), equal_nan=True)


def test_a_mapping_in_gives_a_dict_of_arrays_and_input_picks_the_series():
    data = {"close": np.array([1.0, 2.0, 4.0]), "high": np.array([2.0, 3.0, 8.0])}
    assert {"value": [None, 2.5, 5.5]} == {k: [None if x != x else x for x in v.tolist()]
                                           for k, v in indicator("sma", data, input="high", period=2).items()}


@pytest.mark.skipif(importlib.util.find_spec("talib") is None, reason="TA-Lib features need the ta extra")
def test_a_talib_function_by_name(frame):
    import talib
    out = indicator("talib.ADX", frame, timeperiod=14)
    assert ["real"] == list(out.columns)
    assert np.array_equal(talib.ADX(frame.High.to_numpy(), frame.Low.to_numpy(), frame.Close.to_numpy(), 14),
                          out["real"].to_numpy(), equal_nan=True)


@pytest.mark.parametrize("name, params, message", [
    ("nope", {}, "no indicator 'nope': name one of adx, atr,"),
    ("macd", {"fast": 0}, "macd.fast=0: must be an integer >= 2"),
    ("macd", {"fastperiod": 12}, "feature 'macd' has no parameter 'fastperiod'; it takes ['fast', 'signal', 'slow']"),
    ("atr", {}, "indicator 'atr' reads high, low, close: the data has no 'high' key (it has close)"),
])
def test_bad_requests_are_one_clear_line(name, params, message):
    with pytest.raises(ValueError) as info:
        indicator(name, {"close": np.ones(3)}, **params)
    assert str(info.value).startswith(message)


def test_pandas_is_not_imported_for_arrays():
    code = ("import sys, numpy as np, fp; fp.indicator('sma', {'close': np.ones(4)}, period=2); "
            "print('pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "False" == done.stdout.strip(), done.stderr
