"""The FeatureHub: every distinct feature computation of a run, done once and shared by all lanes.

Keys are :class:`state.FeatureKey` (feature, params, input); two strategies needing
``sma(period=20)@close`` share one array. ``compute_features`` is the batch form;
``FeatureStream`` steps the same features bar by bar (the reference form).

A key names its feature; ``registry`` (an :class:`fp.registry.Registry`, the built-ins by
default) says which record that name is, so an author's own features (named by their import
path) join the deduplication like the built-ins: two strategies asking for the same custom
feature with the same parameters share one computation.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from fp.features import Feature
from fp.registry import BUILTINS, Registry
from state.market import Bars
from state.plan import FeatureKey

__all__ = ["FeatureStream", "compute_features", "feature_of", "inputs_of", "registry_for_refs"]


def feature_of(key: FeatureKey, registry: Registry = BUILTINS) -> Feature:
    """The declared feature a key computes."""
    return registry.feature(key.name)


def inputs_of(key: FeatureKey, bars: Bars, registry: Registry = BUILTINS) -> tuple[np.ndarray, ...]:
    """The input arrays a key reads from ``bars``."""
    f = feature_of(key, registry)
    fields = (key.input,) if f.single_input else f.inputs
    return tuple(bars.field(name) for name in fields)


def compute_features(bars: Bars, keys: Iterable[FeatureKey], *,
                     registry: Registry = BUILTINS) -> dict[FeatureKey, tuple[np.ndarray, ...]]:
    """Each distinct key's outputs over the whole series, computed once (batch form)."""
    out: dict[FeatureKey, tuple[np.ndarray, ...]] = {}
    for key in keys:
        if key not in out:
            out[key] = feature_of(key, registry).compute(dict(key.params), inputs_of(key, bars, registry),
                                                         bars.price_precision)
    return out


def registry_for_refs(refs: Iterable[Mapping], base: Registry = BUILTINS) -> Registry:
    """``base`` with the custom features the given ``needs`` mappings (name -> FeatureRef) carry.

    What a caller holding strategies (not a spec) uses to compute their features.

    >>> from fp.strategies import feature
    >>> registry_for_refs([{"fast": feature("sma", period=3)}]) is BUILTINS
    True
    """
    registry = base
    for needs in refs:
        for ref in needs.values():
            if ref.feature is not None:
                registry = registry.with_component("feature", ref.feature)
    return registry


class FeatureStream:
    """The streaming form of a set of keys: ``step(t)`` returns every key's outputs at bar ``t``.

    Holds the per-key states between steps; used by the bar-by-bar reference backtest and tests.
    """

    def __init__(self, bars: Bars, keys: Iterable[FeatureKey], *, registry: Registry = BUILTINS) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self._features = [feature_of(k, registry) for k in self.keys]
        self._params = [dict(k.params) for k in self.keys]
        self._states = [f.init(p, bars.price_precision) for f, p in zip(self._features, self._params)]
        self._inputs = [[x.tolist() for x in inputs_of(k, bars, registry)] for k in self.keys]

    def step(self, t: int) -> dict[FeatureKey, tuple[float, ...]]:
        values = {}
        for i, key in enumerate(self.keys):
            x = tuple(column[t] for column in self._inputs[i])
            self._states[i], values[key] = self._features[i].step(self._params[i], self._states[i], x)
        return values
