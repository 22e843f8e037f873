"""Look at an indicator before writing a strategy: :func:`indicator` on a DataFrame or on arrays.

``fp.indicator("macd", df, fast=12, slow=26, signal=9)`` computes any built-in feature — a basic
one, a native indicator or a TA-Lib function ``talib.<NAME>`` — with the same validation as a
spec (an unknown name or parameter, or an out-of-range value, is a one-line ``ValueError``) and
the same batch form the FeatureHub runs. pandas is optional: it is only touched when a DataFrame
comes in.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fp.catalog import BUILTIN_FEATURES, NATIVE_FEATURES
from fp.strategies import feature
from fp.talib_features import TalibFeatureError
from state.errors import ArgumentError

__all__ = ["indicator"]

_TIME_COLUMNS = ("time", "timestamp", "datetime", "date")


def indicator(name: str, data: Any, *, input: str = "close", **params: Any) -> Any:
    """The outputs of feature ``name`` over ``data``, one per named output.

    ``data`` is a pandas DataFrame with columns open, high, low, close, volume (any case; only
    those the feature reads are needed; a feature that reads the bar time — ``vwap`` — takes a
    DatetimeIndex or a time/date column), or a mapping of such names to arrays. A feature of one
    series reads ``input`` (close by default). ``params`` are the feature's parameters (its
    defaults for those not given). Returns a DataFrame with one column per output and the same
    index when given a DataFrame, else a dict of arrays.

    >>> out = indicator("bollinger", {"close": np.array([1.0, 2.0, 3.0, 4.0])}, period=2, k=1.0)
    >>> out["middle"].tolist(), out["upper"].tolist()
    ([nan, 1.5, 2.5, 3.5], [nan, 2.0, 3.0, 4.0])
    >>> indicator("sma", {"close": np.ones(3)}, lenght=2)
    Traceback (most recent call last):
    ...
    state.errors.ArgumentError: feature 'sma' has no parameter 'lenght'; it takes ['period']
    """
    record = _record(name)
    ref = feature(record, input, output=record.outputs[0], **params)  # the spec's validation of the parameters
    fields = (input,) if record.single_input else record.inputs
    frame = not isinstance(data, Mapping)
    columns = _frame_columns(data, name) if frame else {str(k).lower(): v for k, v in data.items()}
    missing = [f for f in fields if f not in columns]
    if missing:
        raise ArgumentError(f"indicator {name!r} reads {', '.join(fields)}: the data has no {missing[0]!r} "
                         f"{'column' if frame else 'key'} (it has {', '.join(sorted(columns)) or 'none'})")
    arrays = tuple(_array(columns[f], f) for f in fields)
    if len({len(a) for a in arrays}) > 1:
        raise ArgumentError(f"indicator {name!r}: the inputs {', '.join(fields)} differ in length")
    values = record.compute(dict(ref.key.params), arrays, None)
    out = dict(zip(record.outputs, values))
    if frame:
        import pandas as pd
        return pd.DataFrame(out, index=data.index)
    return out


def _record(name: Any):
    try:
        return BUILTIN_FEATURES[name]
    except TalibFeatureError as e:
        raise ArgumentError(str(e)) from None
    except (KeyError, TypeError):
        raise ArgumentError(f"no indicator {name!r}: name one of {', '.join(sorted(NATIVE_FEATURES))}, or a TA-Lib "
                         "function as talib.<NAME> (the ta extra)") from None


def _frame_columns(data: Any, name: str) -> dict[str, Any]:
    if not (hasattr(data, "columns") and hasattr(data, "index")):
        raise ArgumentError(f"indicator {name!r}: data must be a pandas DataFrame or a mapping of column names to "
                         f"arrays; got {type(data).__name__}")
    columns = {str(c).lower(): data[c] for c in data.columns}
    if "time" not in columns:
        time = next((columns[c] for c in _TIME_COLUMNS if c in columns), None)
        if time is None and str(getattr(data.index, "dtype", "")).startswith("datetime64"):
            time = data.index
        if time is not None:
            columns["time"] = time
    return columns


def _array(values: Any, field: str) -> np.ndarray:
    if field == "time":
        return np.asarray(values, dtype="datetime64[ns]")
    return np.asarray(values, dtype=np.float64)
