"""The Plan: a spec expanded into combinations, lanes and the shared feature set."""
from __future__ import annotations

from typing import Any

import attrs

from state.spec import Spec

__all__ = ["Combination", "FeatureKey", "PhasePlan", "Plan"]


@attrs.frozen(order=True)
class FeatureKey:
    """Identity of one feature computation in the FeatureHub: (feature, params, input, symbol).

    Two strategies needing ``sma(period=20)`` of ``close`` ask for the same key, so it is
    computed once. ``symbol`` is empty for the symbol a lane trades; a cross-symbol key names
    another symbol of the data, whose feature the hub computes on that symbol's bars and aligns
    causally onto the lane's timeline (``fp.hub``).

    >>> str(FeatureKey("sma", (("period", 20),), "close"))
    'sma(period=20)@close'
    >>> str(FeatureKey("returns", (("period", 63),), "close", "SPY"))
    'returns(period=63)@SPY.close'
    """

    name: str
    params: tuple[tuple[str, Any], ...]
    input: str = "close"
    symbol: str = ""

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}({args})@{self.symbol + '.' if self.symbol else ''}{self.input}"

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


@attrs.frozen
class Combination:
    """One point of the grid: a strategy with parameters, the settings it runs with, a stable id.

    ``combo_id`` is derived from the content (strategy, its parameters, classifier and settings),
    so the same spec gives the same ids and adding grid points does not renumber the others.
    """

    combo_id: str
    strategy: str
    strategy_params: tuple[tuple[str, Any], ...]
    settings: tuple[tuple[str, Any], ...]
    classifier: str | None = None
    classifier_params: tuple[tuple[str, Any], ...] = ()
    strategy_path: str = ""

    def setting(self, name: str) -> Any:
        return dict(self.settings)[name]


@attrs.frozen
class Plan:
    """What a run will do: the pattern, combinations, symbols, the deduplicated features.

    Lanes are (combination, symbol) pairs in combination-major order; ``naive_feature_count`` is
    how many feature computations one-container-per-lane would do, ``len(features)`` how many the
    shared FeatureHub does. ``varying`` names the gridded settings as result columns,
    ``<section>_<parameter>`` (``execution_commission``), apart from the metrics.
    """

    spec: Spec
    pattern: str
    combos: tuple[Combination, ...]
    symbols: tuple[str, ...]
    features: tuple[FeatureKey, ...]
    naive_feature_count: int
    shared: tuple[str, ...]
    per_lane: tuple[str, ...]
    varying: tuple[str, ...] = ()

    @property
    def n_lanes(self) -> int:
        return len(self.combos) * len(self.symbols)

    @property
    def classifier_fits(self) -> int:
        """Distinct classifier points × symbols: each is fitted once and shared by its lanes."""
        points = {(c.classifier, tuple(p for p in c.classifier_params if p[0] != "regime_policy"))
                  for c in self.combos if c.classifier is not None}
        return len(points) * len(self.symbols)

    @property
    def sharing_efficiency(self) -> float:
        """Naive feature computations per shared one (1.0 = no sharing)."""
        shared = len(self.features) * len(self.symbols)
        return self.naive_feature_count / shared if shared else 1.0


@attrs.frozen
class PhasePlan:
    """One phase of a phased spec's plan: its ``name``, its :class:`Plan`, the phase it is fed by
    (``source``) and, for a phase running an earlier phase's best combinations, how many it takes
    (``selected``, at most that phase's ``top_k``). Which ones is known only once the earlier
    phase has run: until then ``plan.combos`` holds stand-ins (the right number, not the right
    points)."""

    name: str
    plan: Plan
    source: str | None = None
    selected: int | None = None
