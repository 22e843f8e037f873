"""The compiler: a validated Spec becomes a Plan (grids expanded, features deduplicated).

``plan_from_spec`` expands every strategy entry's grid (with its constraints), crosses it with
the classifier grid and the settings grid (portfolio × execution × risk), gives each combination
a content-derived id, and collects the FeatureHub's deduplicated feature set. It reads no data.

Combination ids are the first 12 hex digits of the sha256 of the combination's canonical text
(strategy type and parameters, classifier and its parameters, the settings that differ from their
defaults), so the same spec gives the same ids, growing a grid does not renumber existing points,
and neither does a new setting with a default.
"""
from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

from fp.grid import expand, parse_constraint
from fp.registry import BUILTINS, SETTINGS, Registry, registry_of
from pipelines.engine.columns import check_columns
from pipelines.engine.patterns import PATTERNS, Pattern
from state.errors import SpecError
from state.plan import Combination, FeatureKey, Plan
from state.spec import ComponentSpec, DataSpec, Spec

__all__ = [
    "PATTERN_OF_WORKFLOW",
    "combo_id",
    "feature_keys",
    "pattern_of",
    "plan_from_spec",
    "replay_plan",
    "selected_plan",
    "signal_id",
    "symbols_of",
]

#: Which pattern each workflow type runs.
PATTERN_OF_WORKFLOW = {"backtest": "full_backtest", "optimization": "full_backtest", "walk_forward": "full_backtest",
                       "signal_generation": "signal_generation", "signal_replay": "signal_replay"}

Point = tuple[tuple[str, Any], ...]


def pattern_of(spec: Spec) -> Pattern:
    """The validated pattern a spec's workflow runs."""
    name = PATTERN_OF_WORKFLOW.get(spec.workflow.type)
    if name is None:
        raise SpecError("workflow.type", f"{spec.workflow.type!r} has no pattern; choose one of {sorted(PATTERN_OF_WORKFLOW)}")
    return PATTERNS[name]


def symbols_of(data: DataSpec) -> tuple[str, ...]:
    """The symbols a data section names, without reading any file (the loader uses the same rule):
    ``data.symbols`` when given. A folder, glob or long file (``data.path``) names symbols only its
    files know: ``pipelines.boundary.data.data_symbols`` reads them."""
    if data.symbols:
        return tuple(data.symbols)
    if data.paths:
        return tuple(symbol for symbol, _ in data.paths)
    if data.path:
        stem = data.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return (data.symbol or stem,)
    return ((data.dataset or "GOOG").upper(),)


_SETTING_DEFAULTS = {param.name: param.default for section in SETTINGS.values() for param in section.params}
_NO_DEFAULT = object()


def combo_id(strategy: str, params: Point, classifier: str | None, classifier_params: Point, settings: Point) -> str:
    """The stable id of one combination: a digest of the ``repr`` of its parts (canonical for the
    str, int, float, bool and None values parameters hold; floats print their shortest round-trip
    form); settings at their default value are left out.

    >>> combo_id("momentum", (("lookback_period", 10),), None, (), ())
    'e9f0217208d0'
    """
    settings = tuple((name, value) for name, value in settings if _SETTING_DEFAULTS.get(name, _NO_DEFAULT) != value)
    text = repr((strategy, tuple(params), classifier, tuple(classifier_params), settings))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def feature_keys(strategy: str, params: Point, registry: Registry = BUILTINS) -> set[FeatureKey]:
    """The FeatureHub keys a strategy point needs (an ensemble: its members'); ``registry`` knows
    the spec's custom strategies (``fp.registry.registry_of(spec)``)."""
    if strategy == "ensemble":
        return {k for member, member_params in dict(params)["members"]
                for k in feature_keys(member, member_params, registry)}
    return {ref.key for ref in registry.strategy(strategy).needs(dict(params)).values()}


def signal_id(combo: Combination) -> str:
    """The id of the signal a combination trades: its combination id without the settings.

    Signal stores key their signals by it, so a replay finds the signal of every combination.
    """
    return combo_id(combo.strategy, combo.strategy_params, combo.classifier, combo.classifier_params, ())


def _points(component: ComponentSpec) -> tuple[Point, ...]:
    constraints = tuple(parse_constraint(text, f"{component.path}.constraints[{i}]")
                        for i, text in enumerate(component.constraints))
    points = expand(component.axes, constraints)
    if not points:
        raise SpecError(component.path, "no parameter combination satisfies the constraints "
                                        f"{list(component.constraints)}; widen the grid or relax them")
    return points


def _settings_points(spec: Spec, entry: ComponentSpec | None = None) -> tuple[Point, ...]:
    """The settings grid: portfolio × execution × risk × exits (a strategy entry's own exits
    replace the spec's)."""
    own = entry.option("exits") if entry is not None else None
    sections = [_points(s) for s in (spec.portfolio, spec.execution, spec.risk)]
    exits = own if own is not None else spec.exits
    if exits is not None:
        sections.append(_points(exits))
    return tuple(tuple(itertools.chain.from_iterable(parts)) for parts in itertools.product(*sections))


def plan_from_spec(spec: Spec, *, symbols: tuple[str, ...] | None = None) -> Plan:
    """Expand ``spec`` into a :class:`Plan` (see the module docstring).

    ``symbols`` overrides the symbols the data section names (data composed in code).
    """
    pattern = pattern_of(spec)
    registry = registry_of(spec)
    symbols = symbols_of(spec.data) if symbols is None else tuple(symbols)
    classifiers: list[tuple[str | None, Point]] = [
        (c.type, point + (("regime_policy", policy),))
        for c in spec.classifiers for point in _points(c) for policy in c.option("regime_policy", ("gate",))
    ] or [(None, ())]
    combos: list[Combination] = []
    feature_sets: list[tuple[FeatureKey, ...]] = []
    seen: set[str] = set()
    for entry in spec.strategies:
        if entry.type == "ensemble" and not spec.classifiers:
            raise SpecError(entry.path, "an ensemble weights its members per regime: add a classifiers section")
        settings = ((),) if spec.workflow.type == "signal_generation" else _settings_points(spec, entry)
        for point in _points(entry):
            point = _with_symbols(entry, point, registry, symbols)
            keys = tuple(sorted(feature_keys(entry.type, point, registry)))
            for (classifier, cpoint), spoint in itertools.product(classifiers, settings):
                cid = combo_id(entry.type, point, classifier, cpoint, spoint)
                if cid in seen:  # the same point reached from two strategy entries
                    continue
                seen.add(cid)
                combos.append(Combination(cid, entry.type, point, spoint, classifier, cpoint, entry.path))
                feature_sets.append(keys)
    per_lane = pattern.per_lane if not spec.classifiers else _with_classifier(pattern.per_lane)
    return _plan(spec, pattern, tuple(combos), symbols, feature_sets, per_lane)


def _with_symbols(entry: ComponentSpec, point: Point, registry: Registry, symbols: tuple[str, ...]) -> Point:
    """A strategy point whose ``symbols`` parameters (``dual_momentum``'s universe) name the data's
    symbols: an empty list means every symbol of the run; a symbol the data lacks is an error."""
    if entry.type == "ensemble":
        return point
    kinds = {p.name: p.kind for p in registry.strategy(entry.type).params}
    out = []
    for name, value in point:
        if kinds.get(name) == "symbols":
            value = value or tuple(sorted(symbols))
            missing = sorted(set(value) - set(symbols))
            if missing:
                raise SpecError(f"{entry.path}.parameters.{name}", f"symbol {missing[0]!r} is not in the data (its "
                                                                  f"symbols: {', '.join(symbols)})")
        out.append((name, value))
    return tuple(out)


def replay_plan(spec: Spec, signals: Sequence[Combination], *, symbols: tuple[str, ...]) -> Plan:
    """The plan of a signal replay: every stored signal (a combination without settings) × the
    spec's settings grid. No features: the signals are read, not computed."""
    pattern = pattern_of(spec)
    combos = tuple(
        Combination(combo_id(s.strategy, s.strategy_params, s.classifier, s.classifier_params, point),
                    s.strategy, s.strategy_params, point, s.classifier, s.classifier_params, "signals")
        for s in signals for point in _settings_points(spec))
    return _plan(spec, pattern, combos, symbols, [() for _ in combos], pattern.per_lane)


def selected_plan(spec: Spec, combos: Sequence[Combination], *, symbols: tuple[str, ...], own_settings: bool) -> Plan:
    """The plan of a phase that runs an earlier phase's selected combinations: their strategy and
    classifier points, with their own settings or crossed with this spec's settings grid."""
    pattern = pattern_of(spec)
    if own_settings:
        combos = [Combination(combo_id(c.strategy, c.strategy_params, c.classifier, c.classifier_params, point),
                              c.strategy, c.strategy_params, point, c.classifier, c.classifier_params, c.strategy_path)
                  for c in combos for point in _settings_points(spec)]
    registry = registry_of(spec)
    feature_sets = [tuple(sorted(feature_keys(c.strategy, c.strategy_params, registry))) for c in combos]
    per_lane = pattern.per_lane if not any(c.classifier for c in combos) else _with_classifier(pattern.per_lane)
    return _plan(spec, pattern, tuple(dict.fromkeys(combos)), symbols, feature_sets, per_lane)


def _plan(spec: Spec, pattern: Pattern, combos: tuple[Combination, ...], symbols: tuple[str, ...],
          feature_sets: Sequence[tuple[FeatureKey, ...]], per_lane: tuple[str, ...]) -> Plan:
    features = tuple(sorted({k for keys in feature_sets for k in keys}))
    section_of = {param.name: name for name, section in SETTINGS.items() for param in section.params}
    names = dict.fromkeys(name for combo in combos for name, _ in combo.settings)
    values: dict[str, set] = {name: set() for name in names}
    for combo in combos:
        given = dict(combo.settings)
        for name in names:  # a strategy entry without exits has none: None, like an unset exit
            values[name].add(repr(given.get(name)))
    varying = tuple(f"{section_of[name]}_{name}" for name, seen in values.items() if len(seen) > 1)
    check_columns(combos, varying)
    return Plan(
        spec=spec,
        pattern=pattern.name,
        combos=tuple(combos),
        symbols=symbols,
        features=features,
        naive_feature_count=sum(len(keys) for keys in feature_sets) * len(symbols),
        shared=pattern.shared,
        per_lane=per_lane,
        varying=varying,
    )


def _with_classifier(per_lane: Sequence[str]) -> tuple[str, ...]:
    out = list(per_lane)
    out.insert(out.index("strategy") + 1, "classifier")
    return tuple(out)
