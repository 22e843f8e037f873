#!/usr/bin/env python3
"""FeatureHub time of the W1 grid: the native ``sma`` against TA-Lib's ``talib.SMA``.

W1 (the peer harness's grid: SMA crossover, fast 5..50 step 5 × slow 20..200 step 20, fast < slow,
90 combinations) needs 18 distinct SMAs; the FeatureHub computes each once. This times that step
alone — ``fp.hub.compute_features`` over the plan's keys — with the native feature (exact decimal
window sums on a price grid, see ``fp/features.py``) and with the same periods as
``talib.SMA(timeperiod=...)`` (TA-Lib's running sum), best and median of ``--reps`` after one
warm-up, and checks the two agree to 1e-9. Needs the ``ta`` extra for the TA-Lib column.

    python bench/features.py [--reps 5] [--datasets GOOG,synth_100k] [--peers-dir DIR]

``synth_100k`` is generated with the peer harness (``bench/README.md``); ``GOOG`` needs nothing.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as B  # noqa: E402
import numpy as np  # noqa: E402

import pipelines  # noqa: E402
from fp.hub import compute_features  # noqa: E402
from pipelines.boundary.specs import spec_from_mapping  # noqa: E402
from pipelines.engine.compiler import plan_from_spec  # noqa: E402
from state.plan import FeatureKey  # noqa: E402
from state.spec import DataSpec  # noqa: E402

W1 = {"strategies": [{"type": "sma_crossover",
                      "parameters": {"fast_period": {"from": 5, "to": 50, "step": 5},
                                     "slow_period": {"from": 20, "to": 200, "step": 20}},
                      "constraints": ["fast_period < slow_period"]}]}


def load(dataset: str, peers: str | None):
    if dataset == "GOOG":
        return pipelines.load_market_data(DataSpec(dataset="GOOG"))
    import bench_admf as A
    A.setup(peers)
    return A.load_market(dataset, peers)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--datasets", default="GOOG,synth_100k")
    parser.add_argument("--peers-dir", default=None)
    args = parser.parse_args(argv)
    native_keys = plan_from_spec(spec_from_mapping(W1)).features
    talib_keys = [FeatureKey("talib.SMA", (("timeperiod", k.param("period")),), k.input) for k in native_keys]
    has_talib = importlib.util.find_spec("talib") is not None
    print(f"W1 FeatureHub: {len(native_keys)} distinct SMAs (periods "
          f"{', '.join(str(k.param('period')) for k in native_keys)})\n")
    print("| dataset | bars | feature | best s | median s | max rel. difference |")
    print("|---|---|---|---|---|---|")
    for dataset in args.datasets.split(","):
        try:
            bars = load(dataset, args.peers_dir).bars[0]
        except SystemExit as e:  # the peer harness is not here: that data set cannot be generated
            print(f"| {dataset} | — | — | — | — | skipped: {e} |")
            continue
        best, median, native = B.best_and_median(args.reps, lambda: compute_features(bars, native_keys), warm_up=True)
        print(f"| {dataset} | {len(bars):,} | sma (native, exact sums) | {best:.4f} | {median:.4f} | — |")
        if not has_talib:
            print(f"| {dataset} | {len(bars):,} | talib.SMA | — | — | needs the ta extra |")
            continue
        best, median, theirs = B.best_and_median(args.reps, lambda: compute_features(bars, talib_keys), warm_up=True)
        worst = max(np.nanmax(np.abs(native[a][0] - theirs[b][0]) / np.maximum(1.0, np.abs(theirs[b][0])))
                    for a, b in zip(native_keys, talib_keys))
        print(f"| {dataset} | {len(bars):,} | talib.SMA (TA-Lib) | {best:.4f} | {median:.4f} | {worst:.1e} |")


if __name__ == "__main__":
    main()
