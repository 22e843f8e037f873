"""A symbol's features on disk: each output of each feature one ``.npy`` file, read back memory-mapped.

What a memory-bounded run uses when one symbol's features do not fit its budget
(``pipelines.workflows.chunking``): each feature is computed once (``fp.hub.compute_features`` of
that key alone), written and dropped, so at most one feature's arrays are in memory while the
store is built; a strategy then reads the two or three arrays it needs through the page cache,
and they leave memory when it is done with them. The store lives in the run folder and is
removed when the signals are computed.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from fp.hub import compute_features
from fp.registry import BUILTINS, Registry
from state.market import Bars, MarketData
from state.plan import FeatureKey

__all__ = ["FeatureFiles", "drop_features", "write_features"]


class FeatureFiles(Mapping):
    """The features of one symbol in ``folder``: ``files[key]`` is the tuple of its outputs as
    read-only memory-mapped arrays (bit for bit the arrays ``compute_features`` gave)."""

    def __init__(self, folder: Path, names: Mapping[FeatureKey, tuple[str, ...]]) -> None:
        self.folder = folder
        self._names = dict(names)

    def __getitem__(self, key: FeatureKey) -> tuple[np.ndarray, ...]:
        return tuple(np.load(self.folder / name, mmap_mode="r") for name in self._names[key])

    def __iter__(self) -> Iterator[FeatureKey]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def write_features(bars: Bars, keys: Iterable[FeatureKey], folder: Path, *, registry: Registry = BUILTINS,
                   market: MarketData | None = None) -> FeatureFiles:
    """Compute each distinct key on ``bars`` once and write its outputs into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[FeatureKey, tuple[str, ...]] = {}
    for key in keys:
        if key in names:
            continue
        outputs = compute_features(bars, [key], registry=registry, market=market)[key]
        names[key] = tuple(f"{len(names)}.{j}.npy" for j in range(len(outputs)))
        for name, values in zip(names[key], outputs):
            np.save(folder / name, np.asarray(values), allow_pickle=False)
    return FeatureFiles(folder, names)


def drop_features(folder: Path) -> None:
    """Remove a feature store (nothing happens when it is gone already)."""
    shutil.rmtree(folder, ignore_errors=True)
