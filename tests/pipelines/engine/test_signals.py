"""Signal sources: held signals (computed once, then read) give a run's tables exactly."""
import pyarrow as pa

import pipelines
from pipelines.engine.evaluate import run_plan
from pipelines.engine.signals import HeldSignals, hold_signals, signal_key

GRID = {"data": {"dataset": "GOOG"},
        "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": [30, 60]}}],
        "classifiers": [{"type": "trend_regime", "parameters": {"period": [20, 50]}}],
        "execution": {"commission": [0.0, 0.002]}}


def same(a: pa.Table | None, b: pa.Table | None) -> bool:
    return (a is None and b is None) or a.to_pandas().equals(b.to_pandas())


def test_a_run_reading_held_signals_equals_a_run_computing_them():
    plan = pipelines.plan(GRID)
    market = pipelines.load_market_data(plan.spec.data)
    computed = run_plan(plan, market, return_blocks=True)
    held = hold_signals(plan, market)
    read = run_plan(plan, market, signals=held, return_blocks=True)
    for name in ("results", "trades", "regime_stats", "regimes", "final"):
        assert same(getattr(computed, name), getattr(read, name)), name
    # settings grids share one signal: 4 strategy points × 2 classifier points, not 16 combinations
    assert 8 == len(held.changes) and 2 == len(held.labels)


FAILS_ON_ONE = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("period", "int", 2, minimum=1),), features=lambda p: {"r": ref("returns", period=p["period"])})
def fails_on_one(p, f):
    if p["period"] == 1:
        raise ValueError("period 1 is not supported")
    return np.sign(f["r"])
'''


def test_held_signals_keep_a_failing_component_an_error_row(author):
    author("held_fails_on_one", FAILS_ON_ONE)
    spec = {"data": {"dataset": "GOOG"},
            "strategies": [{"type": "held_fails_on_one:fails_on_one", "parameters": {"period": [1, 2]}}]}
    plan = pipelines.plan(spec)
    market = pipelines.load_market_data(plan.spec.data)
    held = hold_signals(plan, market)
    assert isinstance(held.changes[(signal_key(plan.combos[0]), "GOOG")], ValueError)
    rows = run_plan(plan, market, signals=held.only(plan.combos)).results.to_pylist()
    assert ["error", "ok"] == [r["status"] for r in rows]
    assert "ValueError: period 1 is not supported" == rows[0]["error"]
    assert rows == run_plan(plan, market).results.to_pylist()


def test_a_chunks_signals_hold_only_what_its_combinations_read():
    plan = pipelines.plan(GRID)
    market = pipelines.load_market_data(plan.spec.data)
    held = hold_signals(plan, market)
    part = held.only(plan.combos[:2])
    assert isinstance(part, HeldSignals)
    assert {signal_key(c) for c in plan.combos[:2]} == {key for key, _ in part.changes}
    assert 0 < part.nbytes < held.nbytes
