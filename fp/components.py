"""Custom components: an author's own features, strategies and objectives, declared with a decorator.

An author writes a pure function in their own module and declares its parameters (type, bounds,
default: :class:`Param`) and, for a strategy, the features it needs::

    from fp.components import Param, ref, strategy

    @strategy(params=(Param("fast", "int", 8, minimum=1), Param("slow", "int", 21, minimum=2)),
              features=lambda p: {"fast": ref("ema", period=p["fast"]), "slow": ref("ema", period=p["slow"])})
    def ema_ribbon(p, f):
        return np.sign(f["fast"] - f["slow"])

The decorator returns the same record the built-ins are (:class:`fp.strategies.Strategy`,
:class:`fp.features.Feature`), so everything that runs a built-in runs it: ``fp.testing``'s law
checkers, ``admf check mymodule:ema_ribbon``, and a spec naming it by import path
(``type: mymodule:ema_ribbon``; the spec loader imports it, validates it and registers it under
that path). A classifier is a :class:`fp.classifiers.Classifier` record written directly.

* :func:`strategy` — ``signal(params, features) -> target`` (one float per bar: a signed
  fraction of equity, NaN to hold), written with element-wise numpy so it runs on whole arrays
  and on one bar's values; ``features`` maps local names to :func:`ref` references.
* :func:`feature` — ``step(params, state, x) -> (state, values)`` over one bar (``x`` the tuple
  of input values, ``values`` one per declared output), with ``init(params, precision) -> state``
  and an optional batch form ``batch(params, inputs, precision) -> outputs``. Its name is its
  import path (``module:function``), so it never collides with a built-in or another author's
  feature in the FeatureHub; strategies reference it with ``ref(my_feature, period=...)``.
* :func:`ref` — a reference to one output of a feature (built-in by name, or a record).
* :func:`objective` — ``score(row) -> float`` over one result row (higher is better), named in a
  spec as ``objective: module:function`` (:class:`fp.objectives.Objective`).

:func:`validate` checks a record the way the spec loader does before a run: parameters are
:class:`Param` with valid defaults, the features it needs exist, it reads no parameter or
feature it does not declare, and on a small sample series it returns one value per bar.
:func:`batch_outputs` and :func:`streaming_outputs` evaluate any component both ways (the law
checkers in ``fp.testing`` compare them). Everything here is pure: no I/O, no global state.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from fp.classifiers import Classifier, TrainingDataError, classify
from fp.features import Feature
from fp.hub import FeatureStream, compute_features, registry_for_refs
from fp.objectives import Objective
from fp.registry import BUILTINS, COMPONENT_KINDS
from fp.strategies import FeatureRef, Strategy
from fp.strategies import feature as ref
from state.errors import ComponentError, MissingExtraError, SpecError
from state.market import Bars, MarketData
from state.params import REQUIRED, Param

__all__ = [
    "Classifier",
    "Component",
    "ComponentError",
    "Param",
    "REQUIRED",
    "batch_outputs",
    "feature",
    "kind_of",
    "objective",
    "outputs_of",
    "ref",
    "sample_bars",
    "sample_params",
    "strategy",
    "streaming_outputs",
    "validate",
]

Component = Feature | Strategy | Classifier | Objective

_TRIGGERS = ("level", "change")
_BAR_FIELDS = ("open", "high", "low", "close", "volume")
#: Bars of the sample series :func:`validate` runs a feature or strategy on (a classifier: 8 times more).
SAMPLE_BARS = 50


# ---- the decorators -----------------------------------------------------------------------------

def strategy(*, params: tuple[Param, ...] = (), features: Callable[[Mapping], Mapping[str, FeatureRef]]
             | Mapping[str, FeatureRef] | None = None, trigger: str = "level", name: str | None = None,
             doc: str | None = None) -> Callable[[Callable], Strategy]:
    """Turn ``signal(params, features) -> target`` into a :class:`Strategy` record.

    ``features`` is a function of the parameters returning ``{local name: ref(...)}`` (or that
    mapping itself when it does not depend on them); ``trigger`` is ``level`` or ``change``
    (see ``fp.strategies``). The name defaults to the function's name (a spec names the strategy
    by import path, and the loader renames it to that path); ``doc`` to its docstring.

    >>> @strategy(params=(Param("lookback", "int", 5, minimum=1),),
    ...           features=lambda p: {"ret": ref("returns", period=p["lookback"])})
    ... def up_or_down(p, f):
    ...     return np.sign(f["ret"])
    >>> up_or_down.name, [p.name for p in up_or_down.params], str(up_or_down.needs({"lookback": 5})["ret"].key)
    ('up_or_down', ['lookback'], 'returns(period=5)@close')
    """
    if trigger not in _TRIGGERS:
        raise ComponentError(f"trigger={trigger!r}: must be one of {', '.join(map(repr, _TRIGGERS))}")
    if features is None:
        features = {}
    if isinstance(features, Mapping):
        needs = _constant_needs(dict(features))
    elif callable(features):
        needs = features
    else:
        raise ComponentError(f"features={features!r}: must be a function of the parameters returning "
                             "{name: ref(...)}, or such a mapping")

    def decorate(signal: Callable) -> Strategy:
        if not callable(signal):
            raise ComponentError(f"@strategy decorates a function signal(params, features); got {signal!r}")
        label = name or signal.__name__
        record = Strategy(label, _declared_params(params, f"strategy {label!r}"), needs, signal, trigger,
                          _doc(doc, signal))
        _picklable(signal, {"signal": signal, "needs": needs})
        return record
    return decorate


def objective(score: Callable | None = None, *, name: str | None = None,
              doc: str | None = None) -> Objective | Callable[[Callable], Objective]:
    """Turn ``score(row) -> float`` into an :class:`Objective` record (used bare, ``@objective``, or
    with a name or doc, ``@objective(doc=...)``). ``row`` maps each result column to its value;
    higher is better; NaN ranks last.

    >>> @objective
    ... def return_over_drawdown(row):
    ...     "Total return per point of maximum drawdown."
    ...     return row["total_return_pct"] / max(row["max_drawdown_pct"], 1e-9)
    >>> return_over_drawdown.name, return_over_drawdown.doc
    ('return_over_drawdown', 'Total return per point of maximum drawdown.')
    """
    def decorate(function: Callable) -> Objective:
        if not callable(function):
            raise ComponentError(f"@objective decorates a function score(row) -> float; got {function!r}")
        record = Objective(name or function.__name__, function, _doc(doc, function))
        _picklable(function, {"score": function})
        return record
    return decorate(score) if score is not None else decorate


def feature(*, params: tuple[Param, ...] = (), inputs: tuple[str, ...] = ("x",), outputs: tuple[str, ...] = ("value",),
            init: Any = None, batch: Callable | None = None, name: str | None = None,
            doc: str | None = None) -> Callable[[Callable], Feature]:
    """Turn ``step(params, state, x) -> (state, values)`` into a :class:`Feature` record.

    ``inputs`` is ``("x",)`` for a feature of one series (the bar field a reference names, close
    by default) or the bar fields it reads (``("high", "low", "close")``); ``x`` is the tuple of
    their values at one bar and ``values`` has one float per name in ``outputs`` (NaN while the
    feature is not defined). ``init(params, precision)`` gives the state before the first bar
    (a non-callable ``init`` is that state itself; none: ``None``). ``batch``, when given, must
    equal folding ``step`` (the law ``assert_streaming_equals_batch`` checks it). The name
    defaults to the import path ``module:function``.

    >>> @feature(params=(Param("period", "int", 3, minimum=1),), init=())
    ... def rolling_max(p, window, x):
    ...     window = (window + x)[-p["period"]:]
    ...     return window, (max(window) if len(window) == p["period"] else float("nan"),)
    >>> rolling_max.name.endswith(":rolling_max")
    True
    >>> rolling_max.compute({"period": 2}, (np.array([1.0, 3.0, 2.0]),), None)
    (array([nan,  3.,  3.]),)
    """
    inputs, outputs = tuple(inputs), tuple(outputs)
    if not inputs or not all(isinstance(i, str) for i in inputs) or (
            inputs != ("x",) and not set(inputs) <= set(_BAR_FIELDS)):
        raise ComponentError(f"inputs={inputs!r}: must be ('x',) (one series, chosen by the reference) or bar "
                             f"fields among {', '.join(_BAR_FIELDS)}")
    if not outputs or not all(isinstance(o, str) and o for o in outputs) or len(set(outputs)) != len(outputs):
        raise ComponentError(f"outputs={outputs!r}: must be distinct non-empty names, e.g. ('value',)")
    if batch is not None and not callable(batch):
        raise ComponentError(f"batch={batch!r}: must be a function batch(params, inputs, precision) -> outputs")
    start = init if callable(init) else _constant_state(init)

    def decorate(step: Callable) -> Feature:
        if not callable(step):
            raise ComponentError(f"@feature decorates a function step(params, state, x); got {step!r}")
        label = name or f"{step.__module__}:{step.__qualname__}"
        record = Feature(label, _declared_params(params, f"feature {label!r}"), inputs, outputs, start, step, batch,
                         _doc(doc, step))
        _picklable(step, {"step": step, "init": start, "batch": batch})
        return record
    return decorate


def _picklable(decorated: Callable, parts: Mapping[str, Callable | None]) -> None:
    """Let pickle find the record's functions by reference, as ``module.<name>.<field>``.

    The decorator puts the record where the function was (``module.ema_ribbon`` is the record), so
    pickle — a process pool sending a plan to its workers — would look the function up there and
    find the record. Naming each function after its field of the record (``ema_ribbon.signal``,
    and a lambda or constant given for ``features``/``init``: ``ema_ribbon.needs``) makes that
    lookup find the function itself. Functions defined elsewhere under their own name are left alone.
    """
    owner, module = decorated.__qualname__, decorated.__module__
    if "<" in owner:  # defined inside a function: not importable, nothing to fix
        return
    for field, function in parts.items():
        if function is None or not hasattr(function, "__qualname__"):
            continue
        if function is decorated or "<lambda>" in function.__qualname__ or function.__module__ == __name__:
            function.__module__, function.__qualname__ = module, f"{owner}.{field}"


def _constant_needs(needs: dict) -> Callable[[Mapping], Mapping[str, FeatureRef]]:
    return lambda params: needs


def _constant_state(state: Any) -> Callable[[Mapping, int | None], Any]:
    return lambda params, precision: state


def _doc(doc: str | None, function: Callable) -> str:
    return doc if doc is not None else " ".join((function.__doc__ or "").split())


def _declared_params(params: Any, owner: str) -> tuple[Param, ...]:
    """``params`` as a tuple of :class:`Param` with distinct names and valid defaults, or a ComponentError."""
    if isinstance(params, Param) or not isinstance(params, (tuple, list)):
        raise ComponentError(f"{owner}: params={params!r} must be a tuple of Param(...) declarations")
    seen: set[str] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Param):
            raise ComponentError(f"{owner}: params[{i}]={p!r} is not a Param: declare it as "
                                 "Param(name, kind, default, minimum=..., maximum=...)")
        if p.name in seen:
            raise ComponentError(f"{owner}: parameter {p.name!r} is declared twice")
        seen.add(p.name)
        if not p.required:
            try:
                p.check(p.default, p.name)
            except SpecError as e:
                raise ComponentError(f"{owner}: parameter {p.name!r} has an invalid default: {e}") from None
    return tuple(params)


# ---- evaluating a component both ways -------------------------------------------------------------

def kind_of(component: Any) -> str | None:
    """``feature``, ``strategy``, ``classifier`` or ``objective`` for a component record; ``None`` for
    anything else."""
    for kind, record in COMPONENT_KINDS.items():
        if isinstance(component, record):
            return kind
    return None


def outputs_of(component: Component) -> tuple[str, ...]:
    """The names of a component's outputs: a feature's own, ``signal`` or ``label``."""
    if isinstance(component, Feature):
        return component.outputs
    return ("label",) if isinstance(component, Classifier) else ("signal",)


def _feature_inputs(component: Feature, data: Bars) -> tuple[np.ndarray, ...]:
    fields = ("close",) if component.single_input else component.inputs
    return tuple(data.field(f) for f in fields)


def _train_end(data: Bars, train_end: int | None) -> int:
    return len(data) // 2 if train_end is None else train_end


def batch_outputs(component: Component, params: Mapping[str, Any], data: Bars, *,
                  train_end: int | None = None, market: MarketData | None = None) -> tuple[np.ndarray, ...]:
    """The component's outputs over the whole series (batch form).

    A feature reads close (one-series features) or its declared fields; a strategy's features are
    computed by the FeatureHub (custom ones its references carry included; ``market`` supplies the
    other symbols a cross-symbol strategy reads); a classifier is fitted on bars ``[0, train_end)``
    (default: the first half) and labels every bar.
    """
    if isinstance(component, Feature):
        return component.compute(dict(params), _feature_inputs(component, data), data.price_precision)
    if isinstance(component, Classifier):
        return (classify(component, params, data, _train_end(data, train_end)).labels,)
    refs = component.needs(params)
    registry = registry_for_refs([refs])
    computed = compute_features(data, [r.key for r in refs.values()], registry=registry, market=market)
    values = {name: computed[r.key][registry.feature(r.key.name).outputs.index(r.output)] for name, r in refs.items()}
    return (np.broadcast_to(np.asarray(component.signal(params, values), dtype=np.float64), (len(data),)),)


def streaming_outputs(component: Component, params: Mapping[str, Any], data: Bars, *,
                      train_end: int | None = None, market: MarketData | None = None) -> tuple[np.ndarray, ...]:
    """The component's outputs computed bar by bar (streaming form).

    A feature folds ``step``; a strategy calls ``signal`` on each bar's feature values from a
    :class:`fp.hub.FeatureStream`; a classifier, fitted once on bars ``[0, train_end)``, labels
    bar ``t`` from bars ``0..t`` alone (NaN before ``train_end``).
    """
    n = len(data)
    if isinstance(component, Feature):
        columns = [x.tolist() for x in _feature_inputs(component, data)]
        out = [np.empty(n) for _ in component.outputs]
        state = component.init(dict(params), data.price_precision)
        for t in range(n):
            state, values = component.step(dict(params), state, tuple(c[t] for c in columns))
            for o, v in zip(out, values):
                o[t] = v
        return tuple(out)
    if isinstance(component, Classifier):
        return (_streaming_labels(component, params, data, _train_end(data, train_end)),)
    refs = component.needs(params)
    registry = registry_for_refs([refs])
    stream = FeatureStream(data, [r.key for r in refs.values()], registry=registry, market=market)
    out = np.empty(n)
    for t in range(n):
        values = stream.step(t)
        features = {name: values[r.key][registry.feature(r.key.name).outputs.index(r.output)]
                    for name, r in refs.items()}
        out[t] = float(component.signal(params, features))
    return (out,)


def _streaming_labels(classifier: Classifier, params: Mapping[str, Any], data: Bars, train_end: int) -> np.ndarray:
    p = {q.name: params.get(q.name, q.default) for q in classifier.params}
    model = classifier.fit(p, data.slice(0, train_end), train_end)
    out = np.full(len(data), np.nan)
    for t in range(train_end, len(data)):
        out[t] = classifier.label(p, model, data.slice(0, t + 1), train_end)[t]
    return out


# ---- validation ---------------------------------------------------------------------------------

def sample_bars(n: int = SAMPLE_BARS, *, seed: int = 0, symbol: str = "SAMPLE") -> Bars:
    """A deterministic, valid daily OHLCV series of ``n`` bars on a 2-decimal grid (a random walk
    from 100 drawn from a generator seeded with ``seed``: the same arguments give the same bars).

    >>> b = sample_bars(5)
    >>> len(b), b.price_precision, bool((b.low <= b.close).all() and (b.close <= b.high).all())
    (5, 2, True)
    """
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.015, n)), 2)
    open_ = np.round(np.concatenate(([100.0], close[:-1])) * (1.0 + rng.normal(0.0, 0.003, n)), 2)
    high = np.round(np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n)), 2)
    low = np.round(np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n)), 2)
    high, low = np.maximum.reduce([high, open_, close]), np.minimum.reduce([low, open_, close])
    time = np.datetime64("2020-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Bars(symbol, time, open_, high, low, close, rng.integers(0, 10**6, n).astype(np.float64), 2)


def sample_params(component: Component) -> dict[str, Any]:
    """One valid value per declared parameter: its default, or for a required one the smallest
    value its bounds allow (the first choice; ``False``; ``"x"``).

    >>> from fp.strategies import STRATEGIES
    >>> sample_params(STRATEGIES["momentum"])
    {'lookback_period': 20, 'signal_threshold': 0.0}
    """
    return {p.name: _sample_value(p) for p in component.params}


def _sample_value(p: Param) -> Any:
    if not p.required:
        return p.default
    if p.choices:
        return p.choices[0]
    if p.kind == "bool":
        return False
    if p.kind == "str":
        return "x"
    low = p.minimum if p.minimum is not None else (p.maximum if p.maximum is not None else 1)
    if p.kind == "int":
        return int(low) + (1 if p.exclusive_minimum else 0)
    return float(low) + (min(1.0, (p.maximum - low) / 2) if p.exclusive_minimum and p.maximum is not None
                         else 1.0 if p.exclusive_minimum else 0.0)


class _Undeclared(Exception):
    """A component read a parameter or feature it does not declare."""


class _Declared(dict):
    """A dict whose missing keys are reported as undeclared names (what validation passes in)."""

    def __init__(self, values: Mapping, what: str, where: str) -> None:
        super().__init__(values)
        self._what, self._where = what, where

    def __missing__(self, key: Any) -> Any:
        declared = ", ".join(map(repr, self)) or "none"
        raise _Undeclared(f"reads {self._what} {key!r}, which its {self._where} does not declare (declared: "
                          f"{declared})")


def validate(component: Any, kind: str | None = None) -> Component:
    """``component`` when it is a well-declared component of ``kind`` (any kind when ``None``),
    else a :class:`ComponentError` saying what is wrong.

    Checks: the record type; its parameters (:class:`Param`, distinct names, valid defaults);
    a strategy's trigger and the features it needs at its default parameters (built-in, or a
    custom feature record passed to :func:`ref`, itself validated); and, on :func:`sample_bars`,
    that it runs reading only declared parameters and features and returns one float per bar
    (a feature: one array per declared output, from its batch and its streaming form; a
    classifier: one label per bar).

    >>> from fp.strategies import STRATEGIES
    >>> validate(STRATEGIES["breakout"]).name
    'breakout'
    >>> validate(STRATEGIES["breakout"], "feature")
    Traceback (most recent call last):
    ...
    state.errors.ComponentError: 'breakout' is a strategy, not a feature
    """
    found = kind_of(component)
    if kind is not None and kind not in COMPONENT_KINDS:
        raise ComponentError(f"kind={kind!r}: must be one of {', '.join(COMPONENT_KINDS)}")
    if found is None:
        raise ComponentError(_not_a_component(component, kind))
    if kind is not None and found != kind:
        raise ComponentError(f"{component.name!r} is a {found}, not a {kind}")
    if not isinstance(component.name, str) or not component.name:
        raise ComponentError(f"a {found} needs a non-empty name; got {component.name!r}")
    owner = f"{found} {component.name!r}"
    _declared_params(component.params, owner)
    {"feature": _validate_feature, "strategy": _validate_strategy, "classifier": _validate_classifier,
     "objective": _validate_objective}[found](component, owner)
    return component


def _not_a_component(value: Any, kind: str | None) -> str:
    what = kind or "component (a feature, strategy or classifier)"
    if callable(value) and not isinstance(value, type):
        how = {"strategy": "decorate it with @fp.components.strategy(params=..., features=...)",
               "feature": "decorate its step function with @fp.components.feature(params=..., init=...)",
               "classifier": "build an fp.classifiers.Classifier(name, params, fit, label) record",
               "objective": "decorate it with @fp.components.objective"}
        return (f"{getattr(value, '__name__', value)!r} is a plain function, not {_article(what)} {what}: "
                f"{how.get(kind or 'strategy')}")
    return f"{type(value).__name__} {_short(value)} is not {_article(what)} {what}"


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _validate_objective(o: Objective, owner: str) -> None:
    """An objective's score is a function of one result row. It is not run here: it may read any
    column of the results (a parameter, a metric), which only a run has."""
    if not callable(o.score):
        raise ComponentError(f"{owner}: score must be a function of one result row; got {o.score!r}")


def _run(owner: str, what: str, call: Callable[[], Any], params: Mapping, n: int) -> Any:
    try:
        return call()
    except _Undeclared as e:
        raise ComponentError(f"{owner}: {e}") from None
    except MissingExtraError:
        raise
    except Exception as e:  # turned into a precise error naming the component, the call and the values
        raise ComponentError(f"{owner}: {what} raised {type(e).__name__}: {e} (parameters {dict(params)}, "
                             f"on a {n}-bar sample series)") from None


def _validate_strategy(s: Strategy, owner: str) -> None:
    if s.trigger not in _TRIGGERS:
        raise ComponentError(f"{owner}: trigger={s.trigger!r} must be one of {', '.join(map(repr, _TRIGGERS))}")
    for part in ("needs", "signal"):
        if not callable(getattr(s, part)):
            raise ComponentError(f"{owner}: {part} must be a function; got {getattr(s, part)!r}")
    params = sample_params(s)
    data = sample_bars()
    n = len(data)
    refs = _run(owner, "its features", lambda: s.needs(_Declared(params, "parameter", "params=")), params, n)
    if not isinstance(refs, Mapping) or not all(isinstance(k, str) and isinstance(r, FeatureRef)
                                                for k, r in refs.items()):
        raise ComponentError(f"{owner}: its features must map names to references ref('sma', period=...); got "
                             f"{refs!r}")
    for local, r in refs.items():
        if r.feature is not None:
            if r.feature.name in BUILTINS.features:
                raise ComponentError(f"{owner}: feature {local!r} is a custom feature named like the built-in "
                                     f"{r.feature.name!r}: give it another name")
            _validate_feature(r.feature, f"{owner}: its feature {r.feature.name!r}")
        elif r.key.name not in BUILTINS.features:
            raise ComponentError(f"{owner}: feature {local!r} names {r.key.name!r}, which is not a built-in feature: "
                                 "pass your own feature's record, ref(my_feature, ...)")
    try:
        registry = registry_for_refs([refs])
    except ValueError as e:
        raise ComponentError(f"{owner}: {e}") from None
    computed = compute_features(data, [r.key for r in refs.values()], registry=registry)
    values = {local: computed[r.key][registry.feature(r.key.name).outputs.index(r.output)] for local, r in refs.items()}
    out = _run(owner, "its signal", lambda: s.signal(_Declared(params, "parameter", "params="),
                                                      _Declared(values, "feature", "features=")), params, n)
    try:
        shape = np.shape(out)
        array = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise ComponentError(f"{owner}: its signal returns {type(out).__name__} {_short(out)}, not numbers: return "
                             "one float per bar (+1 long, -1 short, 0 flat, NaN hold)") from None
    if array.shape not in ((), (n,)):
        raise ComponentError(f"{owner}: its signal returns shape {shape} for {n} bars: return one float per bar, "
                             "an array shaped like the feature arrays it is given")


def _validate_feature(f: Feature, owner: str) -> None:
    if not f.inputs or not (f.inputs == ("x",) or set(f.inputs) <= set(_BAR_FIELDS)):
        raise ComponentError(f"{owner}: inputs={f.inputs!r} must be ('x',) or bar fields among "
                             f"{', '.join(_BAR_FIELDS)}")
    if not f.outputs:
        raise ComponentError(f"{owner}: declares no outputs")
    for part in ("init", "step"):
        if not callable(getattr(f, part)):
            raise ComponentError(f"{owner}: {part} must be a function; got {getattr(f, part)!r}")
    params = sample_params(f)
    data = sample_bars()
    n = len(data)
    declared = _Declared(params, "parameter", "params=")
    inputs = _feature_inputs(f, data)
    batch = _run(owner, "its batch form", lambda: f.compute(declared, inputs, data.price_precision), params, n)
    if not isinstance(batch, tuple) or len(batch) != len(f.outputs):
        raise ComponentError(f"{owner}: its batch form returns {_count(batch)} for the {len(f.outputs)} declared "
                             f"output(s) {f.outputs}: return a tuple with one array per output")
    for name, column in zip(f.outputs, batch):
        if np.shape(column) != (n,):
            raise ComponentError(f"{owner}: output {name!r} has shape {np.shape(column)} for {n} bars: return one "
                                 "value per bar")
    state = _run(owner, "its init", lambda: f.init(declared, data.price_precision), params, n)
    columns = [x.tolist() for x in inputs]
    for t in range(n):
        x = tuple(c[t] for c in columns)
        result = _run(owner, f"its step at bar {t}", lambda: f.step(declared, state, x), params, n)
        if not isinstance(result, tuple) or len(result) != 2:
            raise ComponentError(f"{owner}: its step returns {_short(result)}: return (state, values), values "
                                 "one float per output")
        state, values = result
        if not isinstance(values, tuple) or len(values) != len(f.outputs):
            raise ComponentError(f"{owner}: its step returns {_count(values)} at bar {t} for the "
                                 f"{len(f.outputs)} declared output(s) {f.outputs}: return (state, (value, ...))")


def _validate_classifier(c: Classifier, owner: str) -> None:
    for part in ("fit", "label"):
        if not callable(getattr(c, part)):
            raise ComponentError(f"{owner}: {part} must be a function; got {getattr(c, part)!r}")
    params = sample_params(c)
    data = sample_bars(8 * SAMPLE_BARS)
    n = len(data)
    checked = attrs.evolve(c, fit=_strict(c.fit), label=_strict(c.label))

    def labels_or_none():
        try:
            return classify(checked, params, data, n // 2).labels
        except TrainingDataError:  # needs more training bars than the sample has: nothing to check here
            return None
    labels = _run(owner, "classify", labels_or_none, params, n)
    if labels is None:
        return
    if np.shape(labels) != (n,):
        raise ComponentError(f"{owner}: its labels have shape {np.shape(labels)} for {n} bars: return one label "
                             "per bar")


def _strict(function: Callable) -> Callable:
    def call(params, *args):
        return function(_Declared(params, "parameter", "params="), *args)
    return call


def _count(value: Any) -> str:
    return f"{len(value)} value(s)" if isinstance(value, tuple) else f"a {type(value).__name__}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
