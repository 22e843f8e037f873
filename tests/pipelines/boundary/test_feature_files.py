"""Feature stores on disk: what was computed comes back bit for bit, memory-mapped, and goes."""
import numpy as np

import pipelines
from fp.hub import compute_features
from pipelines.boundary.feature_files import drop_features, write_features
from state.spec import ExecutionOptions


def test_a_store_gives_back_the_computed_features(tmp_path, goog):
    plan = pipelines.plan({"strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10],
                                                                                   "slow_period": [30]}},
                                          {"type": "breakout", "parameters": {"period": [20]}}]})
    store = write_features(goog, plan.features, tmp_path / "features")
    computed = compute_features(goog, plan.features)
    assert set(computed) == set(store) and len(plan.features) == len(store)
    for key, outputs in computed.items():
        stored = store[key]
        assert all(isinstance(a, np.memmap) for a in stored)
        assert all(np.array_equal(a, b, equal_nan=True) and a.dtype == b.dtype for a, b in zip(outputs, stored))
    drop_features(tmp_path / "features")
    assert not (tmp_path / "features").exists()
    drop_features(tmp_path / "features")  # gone already: nothing happens


def test_a_run_whose_features_do_not_fit_its_budget_stores_them_and_gives_the_same_tables(tmp_path):
    spec = {"data": {"dataset": "GOOG"}, "execution": {"commission": 0.002},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10, 20], "slow_period": [30, 60]}}]}
    whole = pipelines.run(spec, out=tmp_path / "whole")
    stored = pipelines.run(spec, out=tmp_path / "stored",
                           execution=ExecutionOptions("local", memory_limit=300_000))
    assert "store" == stored.manifest["executor"]["chunking"]["features"]
    for name in ("results.parquet", "trades.parquet"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "stored" / name).read_bytes()
    assert not (tmp_path / "stored" / "parts").exists()
