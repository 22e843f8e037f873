"""Features: causal functions of market history, each in a streaming and a batch form.

A :class:`Feature` declares its parameters, the inputs it reads and the outputs it produces.
The streaming form ``init(params, precision) -> state`` / ``step(params, state, x) -> (state,
values)`` consumes one bar at a time and is the reference semantics; the batch form
``batch(params, inputs, precision) -> outputs`` computes the same over the whole time axis.

Law (streaming ≡ batch): for every feature, parameters and series, ``batch`` equals folding
``step`` over the bars, bit for bit (NaN where the feature is not yet defined). Features whose
only sensible batch form is the recursion itself derive ``batch`` from ``step``.

Law (no look-ahead): output ``t`` depends on inputs ``0..t`` only.

Moving averages add prices *exactly* when the series lies on a decimal grid
(``Bars.price_precision``): prices become integers in units of the tick, window sums are exact
integer sums, and the mean is one correctly rounded division. Two averages that are equal in
decimal arithmetic therefore compare equal, and the crossover semantics do not hinge on binary
rounding (see ARCHITECTURE.md, "Numerics matter at crossovers").
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from state.params import Param

__all__ = ["FEATURES", "Feature", "WILDER_START", "fold_batch", "wilder_averages", "window_extreme", "window_sum"]

#: Longest window that uses exact decimal sums (keeps integer window sums far from overflow).
EXACT_WINDOW_LIMIT = 4096

Params = Mapping[str, Any]


@attrs.frozen
class Feature:
    """A feature's declaration and its two forms (see the module docstring for the law).

    ``inputs`` names the bar fields read; a single-input feature reads the field named by the
    FeatureKey's ``input`` instead (its ``inputs`` is ``("x",)``).
    """

    name: str
    params: tuple[Param, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    init: Callable[[Params, int | None], Any]
    step: Callable[[Params, Any, tuple[float, ...]], tuple[Any, tuple[float, ...]]]
    batch: Callable[[Params, tuple[np.ndarray, ...], int | None], tuple[np.ndarray, ...]] | None = None
    doc: str = ""

    @property
    def single_input(self) -> bool:
        return self.inputs == ("x",)

    def compute(self, params: Params, inputs: tuple[np.ndarray, ...], precision: int | None) -> tuple[np.ndarray, ...]:
        """The batch form, or the streaming form folded over the series when no batch form exists."""
        if self.batch is not None:
            return self.batch(params, inputs, precision)
        return fold_batch(self, params, inputs, precision)


def fold_batch(feature: Feature, params: Params, inputs: tuple[np.ndarray, ...], precision: int | None) -> tuple[np.ndarray, ...]:
    """Fold ``feature.step`` over every bar: the batch form derived from the streaming form."""
    n = len(inputs[0]) if inputs else 0
    out = [np.empty(n) for _ in feature.outputs]
    state = feature.init(params, precision)
    columns = [x.tolist() for x in inputs]
    step = feature.step
    for t, x in enumerate(zip(*columns)):
        state, values = step(params, state, x)
        for o, v in zip(out, values):
            o[t] = v
    return tuple(out)


# ---- exact and left-to-right window sums -------------------------------------------------------

def window_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``x[t-n+1..t]`` added left to right (NaN for ``t < n-1``), as a loop over ``n``.

    Bit-identical to ``s = 0.0; for v in window: s += v`` for every window.

    >>> window_sum(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist()
    [nan, 3.0, 5.0, 7.0]
    """
    out = np.full(len(x), np.nan)
    m = len(x) - n + 1
    if m <= 0:
        return out
    acc = np.zeros(m)
    for k in range(n):
        acc += x[k:k + m]
    out[n - 1:] = acc
    return out


def _scale(precision: int) -> float:
    return 10.0 ** precision


def _exact(precision: int | None, n: int) -> bool:
    return precision is not None and n < EXACT_WINDOW_LIMIT


def _ticks(x: np.ndarray, precision: int) -> np.ndarray:
    return np.rint(x * _scale(precision)).astype(np.int64)


def _mean_exact(x: np.ndarray, n: int, precision: int) -> np.ndarray:
    """Window means from exact integer tick sums, one correctly rounded division each."""
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    cs = np.concatenate(([0], np.cumsum(_ticks(x, precision))))  # wraps on overflow; differences stay exact
    sums = cs[n:] - cs[:-n]
    out[n - 1:] = sums.astype(np.float64) / float(n * 10 ** precision)
    return out


def _window_mean(x: np.ndarray, n: int, precision: int | None) -> np.ndarray:
    if _exact(precision, n):
        return _mean_exact(x, n, precision)
    return window_sum(x, n) / n


def _window_mean_scalar(window, n: int, precision: int | None) -> float:
    if _exact(precision, n):
        scale = _scale(precision)
        return float(sum(round(v * scale) for v in window)) / float(n * 10 ** precision)
    s = 0.0
    for v in window:
        s += v
    return s / n


def _window_dev(x: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """Sum of squared deviations from ``mean[t]`` over each window, added left to right."""
    out = np.full(len(x), np.nan)
    m = len(x) - n + 1
    if m <= 0:
        return out
    mu = mean[n - 1:]
    acc = np.zeros(m)
    for k in range(n):
        d = x[k:k + m] - mu
        acc += d * d
    out[n - 1:] = acc
    return out


def _window_dev_scalar(window, mu: float) -> float:
    s = 0.0
    for v in window:
        d = v - mu
        s += d * d
    return s


def _push(window: tuple, v: float, n: int) -> tuple:
    return (window + (v,))[-n:]


# ---- the features ---------------------------------------------------------------------------------

_PERIOD = Param("period", "int", 20, minimum=1, doc="window length in bars")
_NAN = float("nan")


def _price_step(p, state, x):
    return state, (x[0],)


def _price_batch(p, inputs, precision):
    return (np.array(inputs[0], dtype=np.float64),)


# SMA keeps its precision in the state: (precision, window)
def _sma_init(p, precision):
    return (precision, ())


def _sma_step(p, state, x):
    precision, window = state
    n = p["period"]
    window = _push(window, x[0], n)
    value = _window_mean_scalar(window, n, precision) if len(window) == n else _NAN
    return (precision, window), (value,)


def _sma_batch(p, inputs, precision):
    return (_window_mean(inputs[0], p["period"], precision),)


def _ema_init(p, precision):
    return ((), _NAN)  # (warm-up window, last ema)


def _ema_step(p, state, x):
    n = p["period"]
    window, ema = state
    v = x[0]
    if len(window) < n:
        window = window + (v,)
        if len(window) < n:
            return (window, _NAN), (_NAN,)
        s = 0.0
        for w in window:
            s += w
        ema = s / n
        return (window, ema), (ema,)
    alpha = 2.0 / (n + 1.0)
    ema = ema + alpha * (v - ema)
    return (window, ema), (ema,)


#: The state of :func:`wilder_averages` before the first bar.
WILDER_START = (_NAN, 0, 0.0, 0.0)  # (previous x, changes seen, average gain, average loss)


def wilder_averages(n: int, state: tuple, v: float, *, reciprocal: bool = False) -> tuple[tuple, bool]:
    """One bar of Wilder's average gain and loss over ``n`` one-bar changes: ``(state, ready)``.

    ``state`` is ``(previous x, changes seen, average gain, average loss)`` (start with
    :data:`WILDER_START`); the averages are ready from the ``n``-th change on. The first average
    is the plain mean of the first ``n`` gains (losses), then each bar
    ``average = (average × (n - 1) + today's) / n`` — Wilder's smoothing, an EMA with
    ``alpha = 1/n``, seeded as Wilder and TA-Lib's RSI seed it. ``reciprocal`` multiplies by
    ``1/n`` instead of dividing by ``n``, which is how TA-Lib 0.8's RSI rounds (bit for bit).

    >>> state, ready = WILDER_START, False
    >>> for v in (10.0, 11.0, 10.5):
    ...     state, ready = wilder_averages(2, state, v)
    >>> ready, state[2:]
    (True, (0.5, 0.25))
    """
    prev, seen, gain, loss = state
    if prev != prev:  # first bar
        return (v, 0, 0.0, 0.0), False
    change = v - prev
    up = change if change > 0.0 else 0.0
    down = -change if change < 0.0 else 0.0
    seen += 1
    if seen < n:
        return (v, seen, gain + up, loss + down), False
    if seen > n:
        gain, loss = gain * (n - 1) + up, loss * (n - 1) + down
    else:
        gain, loss = gain + up, loss + down
    if reciprocal:
        gain, loss = gain * (1.0 / n), loss * (1.0 / n)
    else:
        gain, loss = gain / n, loss / n
    return (v, seen, gain, loss), True


def _rsi_init(p, precision):
    return WILDER_START


def _rsi_step(p, state, x):
    state, ready = wilder_averages(p["period"], state, x[0])
    return state, (_rsi_value(state[2], state[3]) if ready else _NAN,)


def _rsi_value(gain: float, loss: float) -> float:
    if loss == 0.0:
        return 100.0 if gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def _atr_init(p, precision):
    return (_NAN, 0, 0.0)  # (previous close, true ranges seen, running sum or average)


def _atr_step(p, state, x):
    n = p["period"]
    prev_close, seen, acc = state
    high, low, close = x
    tr = high - low
    if prev_close == prev_close:
        tr = max(tr, abs(high - prev_close), abs(low - prev_close))
    seen += 1
    if seen < n:
        return (close, seen, acc + tr), (_NAN,)
    if seen == n:
        acc = (acc + tr) / n
    else:
        acc = (acc * (n - 1) + tr) / n
    return (close, seen, acc), (acc,)


def _returns_init(p, precision):
    return ()


def _returns_step(p, state, x):
    n = p["period"]
    window = _push(state, x[0], n + 1)
    return window, ((window[-1] / window[0] - 1.0) if len(window) == n + 1 else _NAN,)


def _returns_batch(p, inputs, precision):
    x, n = inputs[0], p["period"]
    out = np.full(len(x), np.nan)
    if len(x) > n:
        out[n:] = x[n:] / x[:-n] - 1.0
    return (out,)


def _volatility_init(p, precision):
    return (_NAN, ())  # (previous x, window of returns)


def _volatility_step(p, state, x):
    n = p["period"]
    prev, window = state
    v = x[0]
    if prev != prev:
        return (v, window), (_NAN,)
    window = _push(window, v / prev - 1.0, n)
    if len(window) < n or n < 2:
        return (v, window), (_NAN,)
    mu = _window_mean_scalar(window, n, None)
    return (v, window), (math.sqrt(_window_dev_scalar(window, mu) / (n - 1)),)


def _volatility_batch(p, inputs, precision):
    x, n = inputs[0], p["period"]
    out = np.full(len(x), np.nan)
    if len(x) < 2 or n < 2:
        return (out,)
    r = x[1:] / x[:-1] - 1.0
    mu = window_sum(r, n) / n
    out[1:] = np.sqrt(_window_dev(r, mu, n) / (n - 1))
    return (out,)


def _extreme(fn):
    def step(p, state, x):
        n = p["period"]
        window = _push(state, x[0], n)
        return window, (fn(window) if len(window) == n else _NAN,)
    return step


def window_extreme(x: np.ndarray, n: int, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc`` (``np.maximum`` or ``np.minimum``) over each window ``x[t-n+1..t]`` (NaN for ``t < n-1``).

    >>> window_extreme(np.array([1.0, 3.0, 2.0]), 2, np.maximum).tolist()
    [nan, 3.0, 3.0]
    """
    out = np.full(len(x), np.nan)
    m = len(x) - n + 1
    if m > 0:
        acc = x[:m].copy()
        for k in range(1, n):
            ufunc(acc, x[k:k + m], out=acc)
        out[n - 1:] = acc
    return out


def _extreme_batch(ufunc):
    def batch(p, inputs, precision):
        return (window_extreme(inputs[0], p["period"], ufunc),)
    return batch


def _bands_scalar(window, n, k, precision):
    mid = _window_mean_scalar(window, n, precision)
    std = math.sqrt(_window_dev_scalar(window, mid) / n)
    return mid, std


def _bollinger_init(p, precision):
    return (precision, ())


def _bollinger_step(p, state, x):
    precision, window = state
    n, k = p["period"], p["k"]
    window = _push(window, x[0], n)
    if len(window) < n:
        return (precision, window), (_NAN, _NAN, _NAN)
    mid, std = _bands_scalar(window, n, k, precision)
    return (precision, window), (mid, mid + k * std, mid - k * std)


def _bands(x, n, precision):
    mid = _window_mean(x, n, precision)
    std = np.sqrt(_window_dev(x, mid, n) / n)
    return mid, std


def _bollinger_batch(p, inputs, precision):
    n, k = p["period"], p["k"]
    mid, std = _bands(inputs[0], n, precision)
    return (mid, mid + k * std, mid - k * std)


def _zscore_step(p, state, x):
    precision, window = state
    n = p["period"]
    window = _push(window, x[0], n)
    if len(window) < n:
        return (precision, window), (_NAN,)
    mid, std = _bands_scalar(window, n, 0.0, precision)
    return (precision, window), (((x[0] - mid) / std) if std > 0.0 else 0.0,)


def _zscore_batch(p, inputs, precision):
    x, n = inputs[0], p["period"]
    mid, std = _bands(x, n, precision)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0.0, (x - mid) / std, 0.0)
    z[np.isnan(mid)] = np.nan
    return (z,)


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("price", (), ("x",), ("value",), lambda p, pr: None, _price_step, _price_batch,
                doc="The input itself (a strategy that reads raw prices declares it)."),
        Feature("sma", (_PERIOD,), ("x",), ("value",), _sma_init, _sma_step, _sma_batch,
                doc="Simple moving average; exact decimal sums on a price grid."),
        Feature("ema", (_PERIOD,), ("x",), ("value",), _ema_init, _ema_step, None,
                doc="Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first period bars."),
        Feature("rsi", (Param("period", "int", 14, minimum=1, doc="one-bar changes averaged (Wilder's smoothing)"),),
                ("x",), ("value",), _rsi_init, _rsi_step, None,
                doc="Wilder's relative strength index (0..100; 50 while nothing moved, where TA-Lib's RSI shows 0)."),
        Feature("atr", (Param("period", "int", 14, minimum=1, doc="true ranges averaged (Wilder's smoothing)"),),
                ("high", "low", "close"), ("value",), _atr_init, _atr_step, None,
                doc="Wilder's average true range, seeded with the first period bars' ranges (the first bar's "
                    "high - low included; TA-Lib's ATR starts one bar later)."),
        Feature("returns", (Param("period", "int", 1, minimum=1, doc="bars back"),), ("x",), ("value",), _returns_init,
                _returns_step, _returns_batch, doc="Simple return over period bars: x[t] / x[t-period] - 1."),
        Feature("volatility", (Param("period", "int", 20, minimum=2, doc="one-bar returns in the sample"),), ("x",),
                ("value",), _volatility_init, _volatility_step, _volatility_batch,
                doc="Sample standard deviation of one-bar returns over period returns."),
        Feature("highest", (_PERIOD,), ("x",), ("value",), lambda p, pr: (), _extreme(max),
                _extreme_batch(np.maximum), doc="Rolling maximum over period bars (including the current one)."),
        Feature("lowest", (_PERIOD,), ("x",), ("value",), lambda p, pr: (), _extreme(min),
                _extreme_batch(np.minimum), doc="Rolling minimum over period bars (including the current one)."),
        Feature("bollinger", (_PERIOD, Param("k", "float", 2.0, minimum=0.0, doc="band width in standard deviations")),
                ("x",), ("middle", "upper", "lower"),
                _bollinger_init, _bollinger_step, _bollinger_batch,
                doc="Bollinger bands: SMA ± k population standard deviations."),
        Feature("zscore", (_PERIOD,), ("x",), ("value",), _bollinger_init, _zscore_step, _zscore_batch,
                doc="(x - SMA) / population standard deviation over period bars (0 when the window is flat)."),
    )
}
