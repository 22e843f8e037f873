"""Property-based testing for component authors: market-data generators and law checkers.

A public module for your own pytest suite (it needs hypothesis, in the ``dev`` extra). Every
built-in feature, strategy and classifier is tested with exactly these checkers, one line per
component per law (``tests/laws/test_component_laws.py``), the way ``returns`` checks its laws.

Generators (hypothesis strategies):

* :func:`bars` — a valid OHLCV series of one symbol with realistic shapes: random-walk stretches,
  trends, flat stretches, gaps between a close and the next open, extreme moves (crashes and
  spikes), very short series (1–3 bars); prices on a decimal grid (``precision``) or off it;
* :func:`jumping` — such a series with every price from one bar on multiplied (a gap that ruins
  a position held against it);
* :func:`market` — several symbols (a :class:`state.market.MarketData`) on a common timeline or a
  ragged one (each symbol trading on its own subset of a base timeline);
* :func:`params_for` — one parameter dict drawn from a component's declared schema;
* :func:`grids_for` — a parameter grid: a small list of distinct such dicts.

Law checkers, each running hypothesis over a feature, strategy or classifier (a record: built-in,
decorated with ``fp.components``, or loaded by import path; or a built-in's name, ``"sma"``, see
:func:`component_of`) and failing with an
``AssertionError`` that names the minimal counterexample in domain terms — which bar, which
parameter values, how many bars — followed by hypothesis' falsifying example:

* :func:`assert_streaming_equals_batch` — the streaming form bar by bar equals the batch form
  (a classifier: the label of bar ``t`` from bars ``0..t`` alone equals its label on the whole series);
* :func:`assert_no_lookahead` — changing bars after ``t`` changes no output at or before ``t``;
* :func:`assert_deterministic` — the same inputs give bit-identical outputs and are not modified;
* :func:`assert_isolated` — a strategy's signal in a grid (features shared through the FeatureHub)
  equals the signal of that combination alone;
* :func:`assert_schema_respected` — every parameter value within the declared bounds runs and
  returns one value per bar (a classifier may refuse too few training bars, precisely).

A strategy that reads other symbols (it declares a parameter of kind ``symbols``, such as
``dual_momentum``'s ``universe``) is checked on a three-symbol :func:`market` (ragged calendars
among the draws): the lane trades the first symbol, the ``symbols`` parameters are drawn from the
market's symbols, and
the no-look-ahead law changes every symbol's bars after the lane's bar ``t`` (by time, whatever
each symbol's calendar).

:data:`LAWS` maps each law's name to its checker and :func:`laws_for` lists the laws that apply
to a component (``admf check`` runs them all). Each checker takes ``max_examples`` (how many
generated cases) and ``max_bars`` (the longest series). Runs are derandomized: the same checker
on the same component draws the same cases, so a failure reproduces.

Example (an author's test file)::

    from fp.testing import assert_no_lookahead, assert_streaming_equals_batch
    from mypkg.signals import ema_ribbon

    def test_ema_ribbon_has_no_lookahead():
        assert_no_lookahead(ema_ribbon)

    def test_ema_ribbon_streams_like_its_batch_form():
        assert_streaming_equals_batch(ema_ribbon)
"""
from __future__ import annotations

import difflib
import hashlib
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from fp.classifiers import Classifier, TrainingDataError
from fp.components import Component, ComponentError, batch_outputs, kind_of, outputs_of, streaming_outputs
from fp.hub import compute_features, registry_for_refs
from fp.registry import BUILTINS, COMPONENT_KINDS
from fp.strategies import Strategy
from state.errors import ArgumentError
from state.market import Bars, MarketData
from state.params import LIST_KINDS, Param

__all__ = [
    "LAWS",
    "assert_deterministic",
    "assert_isolated",
    "assert_no_lookahead",
    "assert_schema_respected",
    "assert_streaming_equals_batch",
    "bars",
    "batch_outputs",
    "component_of",
    "grids_for",
    "jumping",
    "laws_for",
    "market",
    "params_for",
    "streaming_outputs",
]

_DAY = np.timedelta64(1, "D")
_START = np.datetime64("2020-01-01", "ns")


# ---- market data ------------------------------------------------------------------------------------

def _to_grid(x: np.ndarray, precision: int | None) -> np.ndarray:
    return x if precision is None else np.round(x, precision)


def _segment(kind: str, length: int) -> st.SearchStrategy[list[float]]:
    """One-bar returns of a stretch of ``length`` bars of one shape."""
    if kind == "flat":
        return st.just([0.0] * length)
    if kind == "trend":
        return st.tuples(st.floats(-0.02, 0.02), st.lists(st.floats(-0.004, 0.004), min_size=length,
                                                          max_size=length)).map(
            lambda drift_noise: [drift_noise[0] + e for e in drift_noise[1]])
    if kind == "extreme":
        return st.lists(st.one_of(st.floats(-0.5, -0.15), st.floats(0.15, 0.6)), min_size=length, max_size=length)
    return st.lists(st.floats(-0.03, 0.03), min_size=length, max_size=length)


@st.composite
def _returns(draw, n: int) -> np.ndarray:
    """``n`` one-bar returns made of stretches: random walk, trend, flat, extreme moves."""
    out: list[float] = []
    while len(out) < n:
        kind = draw(st.sampled_from(["walk", "trend", "flat", "extreme"]))
        longest = 3 if kind == "extreme" else n - len(out)
        length = draw(st.integers(1, max(1, min(longest, n - len(out)))))
        out += draw(_segment(kind, length))
    return np.array(out[:n], dtype=np.float64)


@st.composite
def bars(draw, *, min_size: int = 1, max_size: int = 120, precision: int | None | object = ...,
         symbol: str = "TEST") -> Bars:
    """A valid OHLCV series: positive prices, low ≤ open, close ≤ high, strictly increasing daily times.

    Returns come in stretches — random walk (±3 %), trends (a drift up to ±2 % a bar), flat
    stretches (zero returns), extreme moves (-50 % to +60 % a bar) — each return drawn (and
    shrunk) by hypothesis. The open gaps from the previous close (none on half the bars, up to
    ±5 % or, rarely, ±20 %), the wicks and the volume (sometimes zero) come from a generator seeded
    by one drawn number, so long series stay cheap to generate and to shrink. A third of the series
    are as short as ``min_size`` allows (1–3 bars by default). ``precision`` fixes the decimal grid
    (``None``: off-grid floats); by default it is drawn (2, 4 or off-grid).
    """
    short = min(max_size, max(3, min_size + 2))  # a third of the series: as short as allowed (shrinks well)
    n = draw(st.integers(min_size, short) | st.integers(min_size, max_size) | st.integers(min_size, max_size))
    if precision is ...:
        precision = draw(st.sampled_from([2, 4, None]))
    start = draw(st.floats(5.0, 500.0))
    returns = draw(_returns(n)) if n else np.zeros(0)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = rng.random(n)
    gaps = np.where(kind < 0.5, 0.0, np.where(kind < 0.9, rng.uniform(-0.05, 0.05, n), rng.uniform(-0.2, 0.2, n)))
    wicks = rng.uniform(0.0, 0.02, (2, n))
    volume = np.where(rng.random(n) < 0.05, 0.0, rng.integers(0, 10**6, n).astype(np.float64))
    close = start * np.cumprod(1.0 + returns)
    close = np.maximum(_to_grid(close, precision), 0.01)
    prev = np.concatenate(([start], close[:-1]))
    open_ = np.maximum(_to_grid(prev * (1.0 + gaps), precision), 0.01)
    high = _to_grid(np.maximum(open_, close) * (1.0 + wicks[0]), precision)
    low = _to_grid(np.minimum(open_, close) * (1.0 - wicks[1]), precision)
    high = np.maximum.reduce([high, open_, close])
    low = np.maximum(np.minimum.reduce([low, open_, close]), 0.005)
    time = _START + np.arange(n) * _DAY
    return Bars(symbol, time, open_, high, low, close, volume, precision)


@st.composite
def jumping(draw, data: st.SearchStrategy[Bars], *, factor: float = 3.0) -> Bars:
    """Bars drawn from ``data`` (at least 3) whose prices are multiplied by ``factor`` from a drawn
    bar on (the second or later): a gap that ruins an all-in short held across it (``factor`` 3)
    or a long levered ``k`` times (``factor`` below ``1 - 1/k``). Volume is kept.

    >>> from hypothesis import Phase, find, settings
    >>> once = settings(database=None, derandomize=True, phases=[Phase.generate])
    >>> b = find(jumping(bars(min_size=5, max_size=5, precision=None)), lambda b: True, settings=once)
    >>> bool(np.any(b.close[1:] / b.close[:-1] > 2.0))
    True
    """
    base = draw(data.filter(lambda b: len(b) >= 3))
    t = draw(st.integers(2, len(base) - 1))
    scaled = lambda x: np.concatenate((x[:t], x[t:] * factor))
    return Bars(base.symbol, base.time, scaled(base.open), scaled(base.high), scaled(base.low), scaled(base.close),
                base.volume, None)


@st.composite
def market(draw, *, symbols: int | tuple[str, ...] = 2, ragged: bool | None = None, min_size: int = 1,
           max_size: int = 80, precision: int | None | object = ...) -> MarketData:
    """Several symbols' bars as a :class:`MarketData` (daily, 252 periods a year).

    ``symbols`` is a count (named ``S0``, ``S1``, …) or the names. On a common timeline every
    symbol has a bar at every time; on a ragged one (``ragged=True``; drawn when ``None``) each
    symbol trades on its own strictly increasing subset of a base timeline (at least
    ``min_size`` bars), as instruments with different holidays or listing dates do.

    >>> from hypothesis import Phase, find, settings
    >>> once = settings(database=None, derandomize=True, phases=[Phase.generate])
    >>> m = find(market(symbols=("A", "B"), ragged=True, min_size=2), lambda m: True, settings=once)
    >>> m.symbols, all(len(b) >= 2 for b in m.bars)
    (('A', 'B'), True)
    """
    names = tuple(f"S{i}" for i in range(symbols)) if isinstance(symbols, int) else tuple(symbols)
    if not names or len(set(names)) != len(names):
        raise ArgumentError(f"symbols={symbols!r}: give a positive count or distinct names")
    if ragged is None:
        ragged = draw(st.booleans())
    n = draw(st.integers(min_size, max_size))
    base = _START + np.arange(n) * _DAY
    out = []
    for name in names:
        index = np.arange(n)
        if ragged:
            chosen = draw(st.lists(st.integers(0, n - 1), min_size=min(min_size, n), max_size=n, unique=True))
            index = np.array(sorted(chosen), dtype=np.int64)
        series = draw(bars(min_size=len(index), max_size=len(index), precision=precision, symbol=name))
        out.append(attrs.evolve(series, time=base[index]))
    digest = hashlib.sha256()
    for b in out:
        for column in (b.time.view(np.int64), b.open, b.high, b.low, b.close, b.volume):
            digest.update(np.ascontiguousarray(column).tobytes())
    return MarketData(tuple(out), "fp.testing.market", digest.hexdigest(), 252.0)


# ---- components by record or by name ----------------------------------------------------------------

def component_of(component: Component | str, *, caller: str = "component_of") -> Component:
    """The record a checker or generator runs on: a component record as given, or the built-in
    named ``component`` (``"sma"``, ``"momentum"``, ``"trend_regime"``).

    Anything else raises :class:`fp.components.ComponentError` (a ``TypeError``) saying what is
    accepted; an author's own component is passed as its record (the decorated function, or the
    ``Classifier``), never by name.

    >>> component_of("sma").name, component_of("trend_regime").name
    ('sma', 'trend_regime')
    >>> component_of("smaa")
    Traceback (most recent call last):
    ...
    state.errors.ComponentError: component_of('smaa'): not a built-in feature, strategy or classifier (did you mean 'sma'?); pass your own component's record itself, e.g. component_of(mypkg.signals.ema_ribbon)
    """
    if isinstance(component, str):
        found = [(kind, BUILTINS.of(kind)[component]) for kind in COMPONENT_KINDS if component in BUILTINS.of(kind)]
        if len(found) == 1:
            return found[0][1]
        if found:
            kinds = " and a built-in ".join(kind for kind, _ in found)
            raise ComponentError(f"{caller}({component!r}): names a built-in {kinds}; pass the record, e.g. "
                                 f"{caller}(fp.registry.BUILTINS.{found[0][0]}({component!r}))")
        known = sorted(name for kind in COMPONENT_KINDS for name in BUILTINS.of(kind))
        close = difflib.get_close_matches(component, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ComponentError(f"{caller}({component!r}): not a built-in feature, strategy or classifier{hint}; pass "
                             f"your own component's record itself, e.g. {caller}(mypkg.signals.ema_ribbon)")
    if kind_of(component) is None:
        raise ComponentError(f"{caller}: expects a feature, strategy or classifier (a record, or a built-in's name "
                             f"such as 'sma'); got {type(component).__name__} {reprlib.repr(component)}")
    return component


# ---- parameters -------------------------------------------------------------------------------------

def _param_strategy(p: Param, *, window_cap: int) -> st.SearchStrategy:
    if p.choices is not None:
        return st.sampled_from(p.choices)
    if p.kind == "bool":
        return st.booleans()
    if p.kind in LIST_KINDS:  # a list of names or tiers: its declared default (a law's case draws symbols itself)
        return st.just(p.default if not p.required else ())
    if p.kind == "str":
        return st.text(min_size=1, max_size=8)
    lo = p.minimum if p.minimum is not None else (-10 if p.kind == "int" else -10.0)
    if p.kind == "int":
        lo = int(lo) + (1 if p.exclusive_minimum else 0)
        hi = int(p.maximum) if p.maximum is not None else max(lo, window_cap)
        hi = max(lo, min(hi, lo + window_cap))
        values = st.integers(lo, hi)
    else:
        hi = p.maximum if p.maximum is not None else lo + 5.0
        values = st.floats(lo, hi, exclude_min=p.exclusive_minimum, allow_nan=False)
    default = p.default
    if isinstance(default, (int, float)) and not isinstance(default, bool) and lo <= default <= hi and not (
            p.exclusive_minimum and default == lo):
        return st.one_of(values, st.just(default))  # the declared default: the value most runs use
    return values


def params_for(component: Component | str, *, window_cap: int = 30) -> st.SearchStrategy[dict[str, Any]]:
    """Parameter dicts within the component's declared schema: choices, booleans, and numbers
    within their bounds (integers capped at ``window_cap`` above their minimum, so windows fit
    generated series; unbounded floats within 5 of their minimum, or of -10), the declared
    default among them when it lies within those bounds. ``component``: a record or a built-in's name."""
    component = component_of(component, caller="params_for")
    return st.fixed_dictionaries({p.name: _param_strategy(p, window_cap=window_cap) for p in component.params})


def grids_for(component: Component | str, *, min_size: int = 1, max_size: int = 4,
              window_cap: int = 30) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Parameter grids of a component: lists of ``min_size`` to ``max_size`` distinct parameter
    dicts drawn from its schema (see :func:`params_for`).

    >>> from hypothesis import Phase, find, settings
    >>> from fp.strategies import STRATEGIES
    >>> once = settings(database=None, derandomize=True, phases=[Phase.generate])
    >>> grid = find(grids_for(STRATEGIES["breakout"], min_size=3), lambda g: True, settings=once)
    >>> len(grid), len({g["period"] for g in grid})
    (3, 3)
    """
    component = component_of(component, caller="grids_for")
    return st.lists(params_for(component, window_cap=window_cap), min_size=min_size, max_size=max_size,
                    unique_by=lambda params: tuple(sorted((k, repr(v)) for k, v in params.items())))


# ---- cases: what a law is checked on, shown in domain terms ------------------------------------------

def _closes(data: Bars, around: int | None = None) -> str:
    close = data.close.tolist()
    if around is None:
        shown, first = close[:8], 0
    else:
        first = max(0, around - 3)
        shown = close[first:around + 2]
    body = ", ".join(f"{v:g}" for v in shown)
    return f"close[{first}:{first + len(shown)}]=[{body}]" + ("" if first + len(shown) >= len(close) else " ...")


class _Case:
    """What one example of a law is run on; its repr is what hypothesis shows as the counterexample.

    ``market`` is set for a strategy that reads other symbols (it declares a ``symbols``
    parameter): ``data`` is then its first symbol's bars, the symbol the lane trades.
    """

    def __init__(self, params: Mapping[str, Any], data: Bars, *, cut: int | None = None, factor: float | None = None,
                 train_end: int | None = None, grid: list | None = None, market: MarketData | None = None) -> None:
        self.params, self.data, self.cut, self.factor, self.train_end, self.grid, self.market = (
            params, data, cut, factor, train_end, grid, market)

    def __repr__(self) -> str:
        what = f"grid={self.grid!r}" if self.grid is not None else f"params={dict(self.params)!r}"
        parts = [what, f"{len(self.data)} bars (precision={self.data.price_precision})", _closes(self.data)]
        if self.market is not None:
            parts.append("market of " + ", ".join(f"{b.symbol} ({len(b)} bars)" for b in self.market.bars))
        if self.train_end is not None:
            parts.append(f"train_end={self.train_end}")
        if self.cut is not None:
            parts.append(f"bars after {self.cut} scaled by {self.factor}")
        return "Case(" + ", ".join(parts) + ")"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _distinct_points(component: Component, window_cap: int) -> int:
    """How many distinct parameter dicts :func:`params_for` can draw, up to 2."""
    count = 1
    for p in component.params:
        if p.choices is not None:
            count *= len(p.choices)
        elif p.kind == "bool":
            count *= 2
        elif p.kind == "int":
            lo = (int(p.minimum) if p.minimum is not None else -10) + (1 if p.exclusive_minimum else 0)
            hi = int(p.maximum) if p.maximum is not None else lo + window_cap
            count *= max(1, min(hi, lo + window_cap) - lo + 1)
        elif p.kind == "float":
            count *= 1 if p.minimum is not None and p.maximum == p.minimum else 2
        else:  # str
            count *= 2
        if count >= 2:
            return 2
    return count


@st.composite
def _cases(draw, component: Component, *, min_bars: int, max_bars: int, window_cap: int = 30,
           cut: bool = False, grid_size: int = 0) -> _Case:
    classifier = isinstance(component, Classifier)
    if classifier:  # a fit per example: short windows (a series too short to fit on is skipped), and
        # enough bars for a labelled bar with bars after it
        window_cap, min_bars = min(window_cap, 10), max(min_bars, 4)
    # a grid of one point shares nothing: at least two whenever the schema has two
    smallest = min(2, grid_size, _distinct_points(component, window_cap))
    grid = draw(grids_for(component, min_size=smallest, max_size=grid_size, window_cap=window_cap)) \
        if grid_size else None
    params = grid[0] if grid else draw(params_for(component, window_cap=window_cap))
    universe = _symbol_params(component)
    market_data = None
    if universe:  # a cross-symbol strategy: a ragged market, the lane trading its first symbol
        market_data = draw(market(symbols=3, min_size=min_bars, max_size=max(min_bars, max_bars)))
        chosen = {name: tuple(draw(st.lists(st.sampled_from(market_data.symbols), max_size=3, unique=True)))
                  for name in universe}
        grid = [{**g, **chosen} for g in grid] if grid else None
        params = grid[0] if grid else {**params, **chosen}
        data = market_data.bars[0]
    else:
        data = draw(bars(min_size=min_bars, max_size=max(min_bars, max_bars)))
    n = len(data)
    train_end = draw(st.integers(n // 2, n)) if classifier else None
    # a classifier labels nothing before train_end: cut from just before it on, and often just before
    # the last bar, which compares the most labels
    first = max(0, min(train_end, n) - 3) if classifier else 0
    cuts = st.integers(first, n - 1) | st.just(max(first, n - 2)) if classifier else st.integers(0, n - 1)
    t, factor = (draw(cuts), draw(st.sampled_from([0.5, 1.7, 3.0]))) if cut else (None, None)
    return _Case(params, data, cut=t, factor=factor, train_end=train_end, grid=grid, market=market_data)


def _symbol_params(component: Component) -> tuple[str, ...]:
    """The names of a strategy's ``symbols`` parameters: the symbols of the data it reads."""
    if not isinstance(component, Strategy):
        return ()
    return tuple(p.name for p in component.params if p.kind == "symbols")


def _outputs(component: Component, case: _Case, data: Bars | None = None, *, streaming: bool = False,
             market: MarketData | None = None) -> tuple:
    """The component's outputs on the case (a classifier refusing too few training bars: the example is skipped)."""
    form = streaming_outputs if streaming else batch_outputs
    kwargs = {"train_end": case.train_end} if isinstance(component, Classifier) else {}
    if case.market is not None:
        kwargs["market"] = case.market if market is None else market
    try:
        return form(component, case.params, case.data if data is None else data, **kwargs)
    except TrainingDataError:
        reject()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _first_difference(a: np.ndarray, b: np.ndarray) -> int:
    diff = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return int(np.flatnonzero(diff)[0])


def _v(value: Any) -> str:
    """A number as a user writes it (``nan``, ``1.0``), not ``np.float64(nan)``."""
    return repr(float(value))


def _name(component: Component) -> str:
    return getattr(component, "name", repr(component))


def _where(component: Component, case: _Case) -> str:
    extra = f", train_end={case.train_end}" if case.train_end is not None else ""
    return f"{_name(component)} with {dict(case.params)} on {len(case.data)} bars{extra}"


def _run(check: Callable, strategy: st.SearchStrategy, max_examples: int) -> None:
    settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.filter_too_much])(given(strategy)(check))()


# ---- the law checkers -------------------------------------------------------------------------------

def assert_streaming_equals_batch(component: Component | str, *, max_examples: int = 60, max_bars: int = 80) -> None:
    """Law: the streaming form folded bar by bar equals the batch form, bit for bit.

    For a classifier, the streaming form labels bar ``t`` from bars ``0..t`` alone (the model fitted
    once on the training bars): a label must not depend on how much of the series was available.
    """
    component = component_of(component, caller="assert_streaming_equals_batch")

    def check(case: _Case) -> None:
        batch, stream = _outputs(component, case), _outputs(component, case, streaming=True)
        for name, b, s in zip(outputs_of(component), batch, stream):
            if not _same(b, s):
                t = _first_difference(b, s)
                raise AssertionError(f"{_where(component, case)}: output {name!r} at bar {t} is {_v(b[t])} in batch "
                                     f"form but {_v(s[t])} streaming ({_closes(case.data, t)}, "
                                     f"precision={case.data.price_precision})")
    _run(check, _cases(component, min_bars=1, max_bars=max_bars), max_examples)


def _perturbed(data: Bars, t: int, factor: float) -> Bars:
    """The same bars up to ``t``; after ``t`` every price scaled by ``factor`` and the volume doubled."""
    def tail(x: np.ndarray, scale: float) -> np.ndarray:
        y = x.copy()
        y[t + 1:] = y[t + 1:] * scale
        return y
    return Bars(data.symbol, data.time, tail(data.open, factor), tail(data.high, factor), tail(data.low, factor),
                tail(data.close, factor), tail(data.volume, 2.0), None)


def _market_perturbed(data: MarketData, time: np.datetime64, factor: float) -> MarketData:
    """Every symbol off the price grid, its bars after ``time`` scaled as :func:`_perturbed` does."""
    out = []
    for b in data.bars:
        b = attrs.evolve(b, price_precision=None)
        last = int(np.searchsorted(b.time, time, side="right")) - 1
        out.append(_perturbed(b, last, factor) if factor != 1.0 else b)
    return MarketData(tuple(out), data.source, data.sha256, data.periods_per_year)


def assert_no_lookahead(component: Component | str, *, max_examples: int = 60, max_bars: int = 80) -> None:
    """Law: changing the bars after ``t`` changes no output at or before ``t``.

    The bars after ``t`` are scaled (prices by 0.5, 1.7 or 3.0, volume doubled), the bars up to
    ``t`` are left as they are; both series are taken off the decimal grid so only the future differs.
    """
    component = component_of(component, caller="assert_no_lookahead")

    def check(case: _Case) -> None:
        t = case.cut
        plain = attrs.evolve(case.data, price_precision=None)
        if case.market is None:
            before = _outputs(component, case, plain)
            after = _outputs(component, case, _perturbed(plain, t, case.factor))
        else:  # every symbol's bars after the lane's bar t change (the market's other calendars too)
            plain_market = _market_perturbed(case.market, case.data.time[t], 1.0)
            changed = _market_perturbed(case.market, case.data.time[t], case.factor)
            before = _outputs(component, case, plain_market.bars[0], market=plain_market)
            after = _outputs(component, case, changed.bars[0], market=changed)
        for name, a, b in zip(outputs_of(component), before, after):
            if not _same(a[:t + 1], b[:t + 1]):
                k = _first_difference(a[:t + 1], b[:t + 1])
                raise AssertionError(f"{_where(component, case)} looks ahead: output {name!r} at bar {k} changed from "
                                     f"{_v(a[k])} to {_v(b[k])} when only bars after {t} changed (scaled by "
                                     f"{case.factor}; {_closes(plain, k)})")
    _run(check, _cases(component, min_bars=2, max_bars=max_bars, cut=True), max_examples)


def _fresh(data: Bars) -> Bars:
    return Bars(data.symbol, data.time.copy(), data.open.copy(), data.high.copy(), data.low.copy(), data.close.copy(),
                data.volume.copy(), data.price_precision)


def assert_deterministic(component: Component | str, *, max_examples: int = 30, max_bars: int = 80) -> None:
    """Law: the same parameters and bars give bit-identical outputs, run after run (on a fresh copy
    of the bars too), and the component does not modify the bars it is given."""
    component = component_of(component, caller="assert_deterministic")

    def check(case: _Case) -> None:
        original = _fresh(case.data)
        first = _outputs(component, case)
        for field in ("open", "high", "low", "close", "volume"):
            if not _same(getattr(original, field), getattr(case.data, field)):
                t = _first_difference(getattr(original, field), getattr(case.data, field))
                raise AssertionError(f"{_where(component, case)} modified its input: {field}[{t}] was "
                                     f"{_v(getattr(original, field)[t])}, is {_v(getattr(case.data, field)[t])}")
        second = _outputs(component, case, original)
        for name, a, b in zip(outputs_of(component), first, second):
            if not _same(a, b):
                t = _first_difference(a, b)
                raise AssertionError(f"{_where(component, case)} is not deterministic: output {name!r} at bar {t} "
                                     f"was {_v(a[t])} then {_v(b[t])} ({_closes(case.data, t)})")
    _run(check, _cases(component, min_bars=1, max_bars=max_bars), max_examples)


def assert_isolated(strategy: Strategy | str, *, max_examples: int = 30, max_bars: int = 80, grid_size: int = 4) -> None:
    """Law: a strategy's signal computed within a grid (the FeatureHub computing every distinct
    feature once for all points) equals the signal of that point computed alone."""
    strategy = component_of(strategy, caller="assert_isolated")
    if not isinstance(strategy, Strategy):
        raise TypeError(f"assert_isolated checks a Strategy (features and classifiers share nothing across a "
                        f"grid); got {type(strategy).__name__}")

    def check(case: _Case) -> None:
        grid, data = case.grid, case.data
        refs = [strategy.needs(p) for p in grid]
        registry = registry_for_refs(refs)
        shared = compute_features(data, [r.key for rs in refs for r in rs.values()], registry=registry,
                                  market=case.market)
        for params, rs in zip(grid, refs):
            values = {n: shared[r.key][registry.feature(r.key.name).outputs.index(r.output)] for n, r in rs.items()}
            in_grid = np.broadcast_to(np.asarray(strategy.signal(params, values), dtype=np.float64), (len(data),))
            alone = batch_outputs(strategy, params, data, market=case.market)[0]
            if not _same(in_grid, alone):
                t = _first_difference(in_grid, alone)
                raise AssertionError(f"{strategy.name} with {params} on {len(data)} bars: signal at bar {t} is "
                                     f"{_v(in_grid[t])} in a grid of {len(grid)} points but {_v(alone[t])} alone "
                                     f"({_closes(data, t)})")
    _run(check, _cases(strategy, min_bars=1, max_bars=max_bars, grid_size=grid_size), max_examples)


def assert_schema_respected(component: Component | str, *, max_examples: int = 40, max_bars: int = 60) -> None:
    """Law: every parameter value within the declared bounds runs without error and returns one
    value per bar for every output (windows up to 200 bars, longer than the series).

    A classifier may refuse a series with too few training bars for its parameters
    (``TrainingDataError``, a precise message): that is its declared contract, not a failure.
    """
    component = component_of(component, caller="assert_schema_respected")

    def check(case: _Case) -> None:
        try:
            outputs = _outputs(component, case)
        except Exception as e:  # the law is about this: report which values broke it
            if type(e).__module__.startswith("hypothesis"):
                raise
            raise AssertionError(f"{_where(component, case)} failed: {type(e).__name__}: {e}") from e
        for name, o in zip(outputs_of(component), outputs):
            if np.shape(o) != (len(case.data),):
                raise AssertionError(f"{_where(component, case)}: output {name!r} has shape {np.shape(o)}, expected "
                                     f"one value per bar ({len(case.data)},)")
    _run(check, _cases(component, min_bars=1, max_bars=max_bars, window_cap=200), max_examples)


#: Every law by name, in the order ``admf check`` runs them.
LAWS: dict[str, Callable[..., None]] = {
    "no_lookahead": assert_no_lookahead,
    "streaming_equals_batch": assert_streaming_equals_batch,
    "deterministic": assert_deterministic,
    "isolated": assert_isolated,
    "schema_respected": assert_schema_respected,
}


def laws_for(component: Component | str) -> tuple[str, ...]:
    """The names of the laws that apply to ``component`` (isolation: strategies only).

    >>> from fp.features import FEATURES
    >>> laws_for(FEATURES["sma"])
    ('no_lookahead', 'streaming_equals_batch', 'deterministic', 'schema_respected')
    """
    component = component_of(component, caller="laws_for")
    return tuple(name for name in LAWS if name != "isolated" or isinstance(component, Strategy))
