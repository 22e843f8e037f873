"""The FeatureHub: every distinct feature computation of a run, done once and shared by all lanes.

Keys are :class:`state.FeatureKey` (feature, params, input); two strategies needing
``sma(period=20)@close`` share one array. ``compute_features`` is the batch form;
``FeatureStream`` steps the same features bar by bar (the reference form).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fp.features import FEATURES, Feature
from state.market import Bars
from state.plan import FeatureKey

__all__ = ["FeatureStream", "compute_features", "feature_of", "inputs_of"]


def feature_of(key: FeatureKey) -> Feature:
    """The declared feature a key computes."""
    return FEATURES[key.name]


def inputs_of(key: FeatureKey, bars: Bars) -> tuple[np.ndarray, ...]:
    """The input arrays a key reads from ``bars``."""
    f = feature_of(key)
    fields = (key.input,) if f.single_input else f.inputs
    return tuple(bars.field(name) for name in fields)


def compute_features(bars: Bars, keys: Iterable[FeatureKey]) -> dict[FeatureKey, tuple[np.ndarray, ...]]:
    """Each distinct key's outputs over the whole series, computed once (batch form)."""
    out: dict[FeatureKey, tuple[np.ndarray, ...]] = {}
    for key in keys:
        if key not in out:
            out[key] = feature_of(key).compute(dict(key.params), inputs_of(key, bars), bars.price_precision)
    return out


class FeatureStream:
    """The streaming form of a set of keys: ``step(t)`` returns every key's outputs at bar ``t``.

    Holds the per-key states between steps; used by the bar-by-bar reference backtest and tests.
    """

    def __init__(self, bars: Bars, keys: Iterable[FeatureKey]) -> None:
        self.keys = tuple(dict.fromkeys(keys))
        self._features = [feature_of(k) for k in self.keys]
        self._params = [dict(k.params) for k in self.keys]
        self._states = [f.init(p, bars.price_precision) for f, p in zip(self._features, self._params)]
        self._inputs = [[x.tolist() for x in inputs_of(k, bars)] for k in self.keys]

    def step(self, t: int) -> dict[FeatureKey, tuple[float, ...]]:
        values = {}
        for i, key in enumerate(self.keys):
            x = tuple(column[t] for column in self._inputs[i])
            self._states[i], values[key] = self._features[i].step(self._params[i], self._states[i], x)
        return values
