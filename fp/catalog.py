"""Every built-in feature by name, in one read-only mapping: the basics (``fp.features``), the
native indicators (``fp.indicators``) and TA-Lib's functions as ``talib.<NAME>``
(``fp.talib_features``, built on first use, empty without the ``ta`` extra).

``fp.strategies.feature`` and the registry (``fp.registry.BUILTINS``) look names up here, so a
feature of any of the three kinds is referenced, validated and deduplicated in the FeatureHub the
same way.

>>> BUILTIN_FEATURES["macd"].outputs
('macd', 'signal', 'hist')
>>> "sma" in BUILTIN_FEATURES, "no_such_feature" in BUILTIN_FEATURES
(True, False)
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from fp.features import FEATURES, Feature
from fp.indicators import INDICATORS
from fp.talib_features import TALIB_FEATURES

__all__ = ["BUILTIN_FEATURES", "NATIVE_FEATURES"]

#: The features that need no extra: the basics and the native indicators.
NATIVE_FEATURES: Mapping[str, Feature] = MappingProxyType({**FEATURES, **INDICATORS})



class _BuiltinFeatures(Mapping):
    """The native features, then TA-Lib's; a ``talib.`` name raises TA-Lib's own errors (no such
    function, refused, the extra missing) instead of a bare ``KeyError``."""

    def __getitem__(self, name: str) -> Feature:
        native = NATIVE_FEATURES.get(name)
        return native if native is not None else TALIB_FEATURES[name]

    def __contains__(self, name: object) -> bool:
        return name in NATIVE_FEATURES or name in TALIB_FEATURES

    def __iter__(self) -> Iterator[str]:
        yield from NATIVE_FEATURES
        yield from TALIB_FEATURES

    def __len__(self) -> int:
        return len(NATIVE_FEATURES) + len(TALIB_FEATURES)

    def __repr__(self) -> str:
        return f"<built-in features: {len(NATIVE_FEATURES)} native + TA-Lib's>"


#: Every built-in feature: the native ones, then TA-Lib's (``talib.<NAME>``).
BUILTIN_FEATURES: Mapping[str, Feature] = _BuiltinFeatures()
