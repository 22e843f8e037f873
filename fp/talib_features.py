"""TA-Lib's functions as features named ``talib.<NAME>`` (the optional ``ta`` extra).

Every function of the installed TA-Lib (``talib.get_functions()``: 201 in TA-Lib 0.8) is a
:class:`~fp.features.Feature` record built from TA-Lib's own description of it:

* parameters — TA-Lib's optional inputs with their defaults, types and ranges as the C library
  declares them (``TA_GetOptInputParameterInfo``; the Python wrapper does not expose the
  ranges, so they are read from the library itself): periods are integers with TA-Lib's bounds
  (``timeperiod`` of ``talib.RSI`` is 2..100000), moving-average types are choices (0 = SMA,
  1 = EMA, ...), real parameters are bounded where TA-Lib bounds them. A spec or ``ref`` is
  validated against them like any feature: an unknown parameter or an out-of-range value is a
  one-line error naming where it is.
* inputs — a function of one price series (``talib.SMA``, ``talib.RSI``, ...) reads the field the
  reference names (``input``, close by default), like ``sma``; the others read the bar fields
  TA-Lib names (``talib.ATR``: high, low, close; ``talib.BETA`` and ``talib.CORREL``: TA-Lib's
  defaults, high and low).
* outputs — TA-Lib's output names (``talib.MACD``: ``macd``, ``macdsignal``, ``macdhist``;
  one-output functions: ``real`` or ``integer``), as float arrays. Integer outputs (candlestick
  patterns, ``talib.SUPERTREND``'s trend) are NaN before TA-Lib's lookback, like the real ones,
  instead of TA-Lib's 0 there.

The batch form calls TA-Lib on the whole series. The streaming form recomputes the function over
the prefix at every bar and keeps the last value: quadratic, meant for the laws (streaming ≡
batch, no look-ahead) that ``tests/fp/test_talib_features.py`` checks for every function on
generated data with gaps, flat stretches and spikes. A function that failed the no-look-ahead law
would be listed in :data:`LOOKAHEAD` and refused; none of TA-Lib 0.6–0.8's does (their outputs are
placed on the bar that completes them — ``FRACTAL`` marks a pivot on the bar that confirms it).
:data:`REFUSED` lists the functions that are not features and why (``MAVP`` reads a series of
periods, not a bar field).

``talib`` is imported on first use, so ``fp`` imports without it; without it, naming a
``talib.`` feature raises :class:`state.errors.MissingExtraError` naming the ``ta`` extra.
"""
from __future__ import annotations

import ctypes
import difflib
import functools
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from fp.features import Feature
from state.errors import AdmfError, ArgumentError, MissingExtraError
from state.params import Param

__all__ = ["EXTRA", "LOOKAHEAD", "PREFIX", "REFUSED", "TALIB_FEATURES", "TalibFeatureError", "is_talib_name",
           "talib_feature", "talib_names"]

#: Feature names of TA-Lib functions start with this.
PREFIX = "talib."
#: The optional extra that installs TA-Lib (the ``ta-lib`` wheel bundles the C library).
EXTRA = "ta"

#: TA-Lib functions that are not features, and why.
REFUSED: Mapping[str, str] = MappingProxyType({
    "MAVP": "its second input is a series of periods, not a bar field; use talib.MA (or a native average) "
            "with a fixed period",
})

#: TA-Lib functions refused because an output at bar t changed when only bars after t changed on
#: generated data (the no-look-ahead law). None of TA-Lib 0.6–0.8's functions does; the test
#: suite checks every function and names any that starts to.
LOOKAHEAD: tuple[str, ...] = ()

_BAR_FIELDS = ("open", "high", "low", "close", "volume")
_REAL_UNBOUNDED = 1e37  # TA-Lib's TA_REAL_MIN / TA_REAL_MAX (±3e37) mean "no bound"


class TalibFeatureError(AdmfError, KeyError):
    """A ``talib.`` name that is not a usable feature: no such function, or a refused one."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def is_talib_name(name: Any) -> bool:
    """Whether ``name`` names a TA-Lib feature (``talib.RSI``).

    >>> is_talib_name("talib.RSI"), is_talib_name("rsi")
    (True, False)
    """
    return isinstance(name, str) and name.startswith(PREFIX)


def _talib(what: str) -> Any:
    try:
        import talib
    except ImportError:
        raise MissingExtraError(what, EXTRA, "talib") from None
    return talib


def _available() -> bool:
    try:
        _talib("")
    except MissingExtraError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _functions() -> tuple[str, ...]:
    """Every usable function of the installed TA-Lib, sorted (refused ones left out)."""
    talib = _talib("TA-Lib features")
    return tuple(sorted(set(talib.get_functions()) - set(REFUSED) - set(LOOKAHEAD)))


def talib_names() -> tuple[str, ...]:
    """The feature names (``talib.ADX``, ...) of every usable TA-Lib function; empty without TA-Lib."""
    return tuple(PREFIX + f for f in _functions()) if _available() else ()


def talib_feature(name: str) -> Feature:
    """The feature record of ``talib.<NAME>``.

    Raises :class:`MissingExtraError` without TA-Lib, :class:`TalibFeatureError` for a function
    TA-Lib does not have (with the closest name) or one that is refused (with the reason).
    """
    if not is_talib_name(name):
        raise TalibFeatureError(f"{name!r} is not a TA-Lib feature name (talib.<NAME>, e.g. talib.RSI)")
    function = name[len(PREFIX):]
    if function in REFUSED:
        raise TalibFeatureError(f"feature {name!r} is not available: {REFUSED[function]}")
    if function in LOOKAHEAD:
        raise TalibFeatureError(f"feature {name!r} is refused: it looks ahead (an output changes when only later "
                                "bars change)")
    _talib(f"feature {name!r}")
    if function not in _functions():
        close = difflib.get_close_matches(function.upper(), _functions(), n=1)
        hint = f" (did you mean {PREFIX + close[0]!r}?)" if close else ""
        raise TalibFeatureError(f"TA-Lib has no function {function!r}{hint}; feature names are talib.<NAME> "
                                f"with NAME one of talib.get_functions()")
    return _record(function)


# ---- the records -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _record(function: str) -> Feature:
    from talib import abstract
    info = abstract.Function(function).info
    names = list(info["input_names"].items())
    fields: list[str] = []
    for _, value in names:
        fields += list(value) if isinstance(value, (list, tuple)) else [value]
    single = len(names) == 1 and not isinstance(names[0][1], (list, tuple))
    outputs = tuple(info["output_names"])
    params = _params(function, info["parameters"])
    inputs = ("x",) if single else tuple(fields)
    integer = _integer_outputs(function, len(fields))
    batch = functools.partial(_batch, function, integer)
    return Feature(PREFIX + function, params, inputs, outputs, _prefix_init, functools.partial(_prefix_step, batch),
                   batch, doc=f"TA-Lib {info['display_name']} ({info['group']}).")


def _params(function: str, defaults: Mapping[str, Any]) -> tuple[Param, ...]:
    from talib import _ta_lib
    out = []
    for index, (name, default) in enumerate(defaults.items()):
        help_text = _ta_lib._ta_getOptInputParameterInfo(function.encode(), index)["help"]
        out.append(_param(name, default, help_text, _range(function, index)))
    return tuple(out)


def _param(name: str, default: Any, help_text: str, declared: tuple | None) -> Param:
    doc = help_text.rstrip(".") or name
    if declared is None:  # the library's ranges could not be read: TA-Lib checks the values itself
        return Param(name, "int" if isinstance(default, int) else "float", default, doc=doc)
    kind, bounds = declared
    if kind == "choices":
        doc += " (" + ", ".join(f"{value}={label}" for value, label in bounds) + ")"
        return Param(name, "int", int(default), choices=tuple(value for value, _ in bounds), doc=doc)
    low, high = bounds
    if kind == "int":
        return Param(name, "int", int(default), minimum=low, maximum=high, doc=doc)
    return Param(name, "float", float(default), minimum=None if low <= -_REAL_UNBOUNDED else low,
                 maximum=None if high >= _REAL_UNBOUNDED else high, doc=doc)


def _integer_outputs(function: str, inputs: int) -> tuple[bool, ...]:
    """Which outputs TA-Lib returns as integers (it says so only through the arrays' type)."""
    import talib
    result = getattr(talib, function)(*(np.ones(1) for _ in range(inputs)))
    columns = result if isinstance(result, tuple) else (result,)
    return tuple(np.issubdtype(column.dtype, np.integer) for column in columns)


def _batch(function: str, integer: tuple[bool, ...], params: Mapping[str, Any], inputs: tuple[np.ndarray, ...],
           precision: int | None) -> tuple[np.ndarray, ...]:
    import talib
    from talib import abstract
    arrays = [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]
    values = dict(params)
    try:
        result = getattr(talib, function)(*arrays, **values)
        lookback = abstract.Function(function, **values).lookback if any(integer) else 0
    except Exception as e:  # TA-Lib's own check of a combination of values (its message says which code)
        raise ArgumentError(f"{PREFIX}{function}({', '.join(f'{k}={v!r}' for k, v in values.items())}): TA-Lib "
                         f"refused it: {e}") from None
    result = result if isinstance(result, tuple) else (result,)
    out = []
    for column, is_integer in zip(result, integer):
        column = np.asarray(column, dtype=np.float64)
        if is_integer:
            column[:lookback] = np.nan
        out.append(column)
    return tuple(out)


def _prefix_init(params, precision):
    return ()


def _prefix_step(batch, params, prefix, x):
    """The streaming form: the batch form over the bars so far, its last value of each output."""
    prefix = prefix + (x,)
    columns = tuple(np.array(column, dtype=np.float64) for column in zip(*prefix))
    return prefix, tuple(float(column[-1]) for column in batch(params, columns, None))


# ---- the ranges TA-Lib declares (read from the C library) -------------------------------------

class _OptInputInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("paramName", ctypes.c_char_p), ("flags", ctypes.c_int),
                ("displayName", ctypes.c_char_p), ("dataSet", ctypes.c_void_p), ("defaultValue", ctypes.c_double),
                ("hint", ctypes.c_char_p), ("helpFile", ctypes.c_char_p)]


class _IntegerRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_int), ("max", ctypes.c_int)]


class _RealRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_double), ("max", ctypes.c_double)]


class _IntegerPair(ctypes.Structure):
    _fields_ = [("value", ctypes.c_int), ("string", ctypes.c_char_p)]


class _IntegerList(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(_IntegerPair)), ("count", ctypes.c_uint)]


_REAL_RANGE, _INTEGER_RANGE, _INTEGER_LIST = 0, 2, 3


@functools.lru_cache(maxsize=1)
def _library() -> Any:
    """TA-Lib's C library, for the parameter ranges; ``None`` where it cannot be reached."""
    from talib import _ta_lib
    try:
        library = ctypes.CDLL(_ta_lib.__file__)
        library.TA_GetFuncHandle.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        library.TA_GetOptInputParameterInfo.argtypes = [ctypes.c_void_p, ctypes.c_uint,
                                                        ctypes.POINTER(ctypes.POINTER(_OptInputInfo))]
    except (OSError, AttributeError):
        return None
    return library


def _range(function: str, index: int) -> tuple | None:
    """``("int", (min, max))``, ``("float", (min, max))`` or ``("choices", ((value, label), ...))`` of
    one optional input, as TA-Lib's C library declares it; ``None`` when it cannot be read."""
    library = _library()
    if library is None:
        return None
    handle = ctypes.c_void_p()
    info = ctypes.POINTER(_OptInputInfo)()
    if library.TA_GetFuncHandle(function.encode(), ctypes.byref(handle)) != 0 or \
            library.TA_GetOptInputParameterInfo(handle, index, ctypes.byref(info)) != 0 or not info.contents.dataSet:
        return None
    declared = info.contents
    if declared.type == _INTEGER_RANGE:
        r = ctypes.cast(declared.dataSet, ctypes.POINTER(_IntegerRange)).contents
        return "int", (r.min, r.max)
    if declared.type == _REAL_RANGE:
        r = ctypes.cast(declared.dataSet, ctypes.POINTER(_RealRange)).contents
        return "float", (r.min, r.max)
    if declared.type == _INTEGER_LIST:
        items = ctypes.cast(declared.dataSet, ctypes.POINTER(_IntegerList)).contents
        return "choices", tuple((items.data[i].value, items.data[i].string.decode()) for i in range(items.count))
    return None


# ---- the mapping the registry holds ------------------------------------------------------------

class _TalibFeatures(Mapping):
    """Every usable TA-Lib function as a feature, built on first use (TA-Lib is imported lazily).

    ``[name]`` raises :class:`MissingExtraError` for a ``talib.`` name without TA-Lib, and
    :class:`TalibFeatureError` (a ``KeyError``) for any name that is not a usable TA-Lib feature;
    ``in``, iteration and ``len`` see nothing without TA-Lib.
    """

    def __getitem__(self, name: str) -> Feature:
        if not is_talib_name(name):
            raise KeyError(name)
        return talib_feature(name)

    def __contains__(self, name: object) -> bool:
        return is_talib_name(name) and name in talib_names()

    def __iter__(self) -> Iterator[str]:
        return iter(talib_names())

    def __len__(self) -> int:
        return len(talib_names())

    def __repr__(self) -> str:
        return f"<TA-Lib features: {len(self)} functions>"


#: ``talib.<NAME>`` → its feature record, for every usable function (lazy; see :class:`_TalibFeatures`).
TALIB_FEATURES: Mapping[str, Feature] = _TalibFeatures()
