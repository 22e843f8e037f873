"""Property-based testing for strategy authors: market-data generators and law checkers.

Generators (hypothesis strategies):

* :func:`bars` — valid OHLCV series of one symbol: trends, gaps, flat stretches, extreme moves,
  very short series; prices on a decimal grid (``precision``) or off it;
* :func:`params_for` — parameter values drawn from a component's declared schema.

Law checkers, each running hypothesis over a feature or strategy and failing with the minimal
counterexample in domain terms (which bar, which parameters):

* :func:`assert_streaming_equals_batch` — folding the streaming form bar by bar equals the batch form;
* :func:`assert_no_lookahead` — changing bars after ``t`` changes no output at or before ``t``;
* :func:`assert_deterministic` — the same inputs give bit-identical outputs;
* :func:`assert_isolated` — a strategy's signal computed in a grid (features shared through the
  FeatureHub) equals the signal computed alone;
* :func:`assert_schema_respected` — every parameter value within the declared bounds runs.

Example (in an author's pytest file)::

    from fp.testing import assert_no_lookahead, assert_streaming_equals_batch
    from fp.strategies import STRATEGIES

    def test_my_strategy_has_no_lookahead():
        assert_no_lookahead(STRATEGIES["momentum"])
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fp.features import Feature
from fp.hub import FeatureStream, compute_features, feature_of
from fp.strategies import Strategy
from state.market import Bars
from state.params import Param

__all__ = [
    "assert_deterministic",
    "assert_isolated",
    "assert_no_lookahead",
    "assert_schema_respected",
    "assert_streaming_equals_batch",
    "bars",
    "batch_outputs",
    "params_for",
    "streaming_outputs",
]

Component = Feature | Strategy

_DAY = np.timedelta64(1, "D")
_START = np.datetime64("2020-01-01", "ns")


def _to_grid(x: np.ndarray, precision: int | None) -> np.ndarray:
    return x if precision is None else np.round(x, precision)


@st.composite
def bars(draw, *, min_size: int = 1, max_size: int = 120, precision: int | None | object = ...,
         symbol: str = "TEST") -> Bars:
    """A valid OHLCV series: positive prices, low ≤ open, close ≤ high, strictly increasing times.

    Returns mix random-walk steps, flat stretches (zero returns), gaps between close and next
    open, and occasional extreme moves (±30 %). ``precision`` fixes the decimal grid (``None``:
    off-grid floats); by default it is drawn (2, 4 or off-grid).
    """
    n = draw(st.integers(min_size, max_size))
    if precision is ...:
        precision = draw(st.sampled_from([2, 4, None]))
    start = draw(st.floats(5.0, 500.0))
    step = st.one_of(
        st.floats(-0.03, 0.03),
        st.just(0.0),
        st.floats(-0.3, 0.3),
    )
    returns = np.array(draw(st.lists(step, min_size=n, max_size=n)), dtype=np.float64)
    gaps = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(-0.05, 0.05)), min_size=n, max_size=n)))
    wicks = np.array(draw(st.lists(st.floats(0.0, 0.02), min_size=2 * n, max_size=2 * n))).reshape(2, n) if n else np.zeros((2, 0))
    close = start * np.cumprod(1.0 + returns)
    close = np.maximum(_to_grid(close, precision), 0.01)
    prev = np.concatenate(([start], close[:-1]))
    open_ = np.maximum(_to_grid(prev * (1.0 + gaps), precision), 0.01)
    high = _to_grid(np.maximum(open_, close) * (1.0 + wicks[0]), precision)
    low = _to_grid(np.minimum(open_, close) * (1.0 - wicks[1]), precision)
    high = np.maximum.reduce([high, open_, close])
    low = np.maximum(np.minimum.reduce([low, open_, close]), 0.005)
    volume = np.array(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)), dtype=np.float64)
    time = _START + np.arange(n) * _DAY
    return Bars(symbol, time, open_, high, low, close, volume, precision)


def _param_strategy(p: Param, *, window_cap: int) -> st.SearchStrategy:
    if p.choices is not None:
        return st.sampled_from(p.choices)
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "str":
        return st.text(min_size=1, max_size=8)
    lo = p.minimum if p.minimum is not None else (-10 if p.kind == "int" else -10.0)
    if p.kind == "int":
        lo = int(lo) + (1 if p.exclusive_minimum else 0)
        hi = int(p.maximum) if p.maximum is not None else max(lo, window_cap)
        return st.integers(lo, max(lo, min(hi, lo + window_cap)))
    hi = p.maximum if p.maximum is not None else lo + 5.0
    return st.floats(lo, hi, exclude_min=p.exclusive_minimum, allow_nan=False)


def params_for(component: Component, *, window_cap: int = 30) -> st.SearchStrategy[dict[str, Any]]:
    """Parameter dicts within the component's declared schema (integers capped at ``window_cap``
    above their minimum, so windows fit generated series)."""
    return st.fixed_dictionaries({p.name: _param_strategy(p, window_cap=window_cap) for p in component.params})


# ---- evaluating a component both ways ---------------------------------------------------------

def batch_outputs(component: Component, params: Mapping[str, Any], data: Bars) -> tuple[np.ndarray, ...]:
    """The component's outputs over the whole series (batch form)."""
    if isinstance(component, Feature):
        fields = ("close",) if component.single_input else component.inputs
        return component.compute(dict(params), tuple(data.field(f) for f in fields), data.price_precision)
    refs = component.needs(params)
    computed = compute_features(data, [r.key for r in refs.values()])
    values = {name: computed[r.key][feature_of(r.key).outputs.index(r.output)] for name, r in refs.items()}
    return (np.broadcast_to(np.asarray(component.signal(params, values), dtype=np.float64), (len(data),)),)


def streaming_outputs(component: Component, params: Mapping[str, Any], data: Bars) -> tuple[np.ndarray, ...]:
    """The component's outputs folded bar by bar (streaming form)."""
    n = len(data)
    if isinstance(component, Feature):
        fields = ("close",) if component.single_input else component.inputs
        columns = [data.field(f).tolist() for f in fields]
        out = [np.empty(n) for _ in component.outputs]
        state = component.init(dict(params), data.price_precision)
        for t in range(n):
            state, values = component.step(dict(params), state, tuple(c[t] for c in columns))
            for o, v in zip(out, values):
                o[t] = v
        return tuple(out)
    refs = component.needs(params)
    stream = FeatureStream(data, [r.key for r in refs.values()])
    out = np.empty(n)
    for t in range(n):
        values = stream.step(t)
        features = {name: values[r.key][feature_of(r.key).outputs.index(r.output)] for name, r in refs.items()}
        out[t] = float(component.signal(params, features))
    return (out,)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _first_difference(a: np.ndarray, b: np.ndarray) -> int:
    diff = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return int(np.flatnonzero(diff)[0])


def _name(component: Component) -> str:
    return getattr(component, "name", repr(component))


def _run(check: Callable, strategy: st.SearchStrategy, max_examples: int) -> None:
    settings(max_examples=max_examples, deadline=None, derandomize=True,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(given(strategy)(check))()


# ---- the law checkers -------------------------------------------------------------------------

def assert_streaming_equals_batch(component: Component, *, max_examples: int = 60, max_bars: int = 80) -> None:
    """Law: the streaming form folded over the bars equals the batch form, bit for bit."""
    def check(case):
        params, data = case
        batch, stream = batch_outputs(component, params, data), streaming_outputs(component, params, data)
        for name, b, s in zip(_outputs(component), batch, stream):
            if not _same(b, s):
                t = _first_difference(b, s)
                raise AssertionError(f"{_name(component)} with {params}: output {name!r} at bar {t} is "
                                     f"{b[t]!r} in batch form but {s[t]!r} streaming "
                                     f"(close[{t}]={data.close[t]!r}, precision={data.price_precision})")
    _run(check, st.tuples(params_for(component), bars(max_size=max_bars)), max_examples)


def _outputs(component: Component) -> tuple[str, ...]:
    return component.outputs if isinstance(component, Feature) else ("signal",)


def _perturbed(data: Bars, t: int, factor: float) -> Bars:
    """The same bars up to ``t``; every price after ``t`` scaled by ``factor``, volume doubled."""
    def tail(x: np.ndarray) -> np.ndarray:
        y = x.copy()
        y[t + 1:] = y[t + 1:] * factor
        return y
    return Bars(data.symbol, data.time, tail(data.open), tail(data.high), tail(data.low), tail(data.close),
                tail(data.volume) * 2.0 if len(data.volume) else data.volume, None)


def assert_no_lookahead(component: Component, *, max_examples: int = 60, max_bars: int = 80) -> None:
    """Law: changing the bars after ``t`` changes no output at or before ``t``."""
    def check(case):
        params, data, cut, factor = case
        t = min(cut, len(data) - 1)
        plain = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
        before, after = batch_outputs(component, params, plain), batch_outputs(component, params, _perturbed(plain, t, factor))
        for name, a, b in zip(_outputs(component), before, after):
            if not _same(a[:t + 1], b[:t + 1]):
                k = _first_difference(a[:t + 1], b[:t + 1])
                raise AssertionError(f"{_name(component)} with {params} looks ahead: output {name!r} at bar {k} "
                                     f"changed from {a[k]!r} to {b[k]!r} when only bars after {t} changed")
    _run(check, st.tuples(params_for(component), bars(min_size=2, max_size=max_bars),
                          st.integers(0, max_bars), st.sampled_from([0.5, 1.7, 3.0])), max_examples)


def assert_deterministic(component: Component, *, max_examples: int = 30, max_bars: int = 80) -> None:
    """Law: the same parameters and bars give bit-identical outputs, run after run."""
    def check(case):
        params, data = case
        first, second = batch_outputs(component, params, data), batch_outputs(component, params, data)
        for name, a, b in zip(_outputs(component), first, second):
            if not _same(a, b):
                t = _first_difference(a, b)
                raise AssertionError(f"{_name(component)} with {params} is not deterministic: output {name!r} "
                                     f"at bar {t} was {a[t]!r} then {b[t]!r}")
    _run(check, st.tuples(params_for(component), bars(max_size=max_bars)), max_examples)


def assert_isolated(strategy: Strategy, *, max_examples: int = 30, max_bars: int = 80, grid_size: int = 4) -> None:
    """Law: a strategy's signal computed within a grid (FeatureHub shared by all points) equals
    the signal of that point computed alone."""
    def check(case):
        grid, data = case
        refs = [strategy.needs(p) for p in grid]
        shared = compute_features(data, [r.key for rs in refs for r in rs.values()])
        for params, rs in zip(grid, refs):
            values = {n: shared[r.key][feature_of(r.key).outputs.index(r.output)] for n, r in rs.items()}
            in_grid = np.broadcast_to(np.asarray(strategy.signal(params, values), dtype=np.float64), (len(data),))
            alone = batch_outputs(strategy, params, data)[0]
            if not _same(in_grid, alone):
                t = _first_difference(in_grid, alone)
                raise AssertionError(f"{strategy.name} with {params}: signal at bar {t} is {in_grid[t]!r} in a grid "
                                     f"of {len(grid)} points but {alone[t]!r} alone")
    _run(check, st.tuples(st.lists(params_for(strategy), min_size=1, max_size=grid_size),
                          bars(max_size=max_bars)), max_examples)


def assert_schema_respected(component: Component, *, max_examples: int = 40, max_bars: int = 60) -> None:
    """Law: every parameter value within the declared bounds runs without error and returns one
    value per bar for every output."""
    def check(case):
        params, data = case
        try:
            outputs = batch_outputs(component, params, data)
        except Exception as e:  # the law is about this: report which values broke it
            raise AssertionError(f"{_name(component)} failed with parameters {params} on {len(data)} bars: "
                                 f"{type(e).__name__}: {e}") from e
        for name, o in zip(_outputs(component), outputs):
            if o.shape != (len(data),):
                raise AssertionError(f"{_name(component)} with {params}: output {name!r} has shape {o.shape}, "
                                     f"expected one value per bar ({len(data)},)")
    _run(check, st.tuples(params_for(component, window_cap=200), bars(min_size=1, max_size=max_bars)), max_examples)
