"""Result columns: one owner per column (strategy parameters bare, classifier parameters
``classifier_<name>``, settings ``<section>_<name>``), collisions refused, every reader agreeing."""
from __future__ import annotations

import json

import pytest

import pipelines
from pipelines.workflows.analytics import sensitivity
from pipelines.engine.compiler import plan_from_spec
from pipelines.boundary.specs import spec_from_mapping
from state.errors import SpecError

MIXED = {
    "data": {"dataset": "GOOG", "end": "2010-12-31"},
    "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 5, "slow_period": 20}},
                   {"type": "mean_reversion", "parameters": {"period": [10, 20]}}],
    "classifiers": [{"type": "trend_regime", "parameters": {"period": [30, 50]}}],
}


def test_a_classifier_parameter_never_shares_a_strategy_parameter_column(tmp_path):
    result = pipelines.run(MIXED, out=tmp_path / "run", trace=True)
    rows = result.results.to_pylist()
    assert 6 == len(rows)
    by_strategy = {(r["strategy"], r["period"], r["classifier_period"]) for r in rows}
    # the SMA crossover has no period: its cell is empty, never the classifier's period
    assert {("sma_crossover", None, 30), ("sma_crossover", None, 50), ("mean_reversion", 10, 30),
            ("mean_reversion", 10, 50), ("mean_reversion", 20, 30), ("mean_reversion", 20, 50)} == by_strategy
    assert {"gate"} == {r["classifier_regime_policy"] for r in rows}
    assert "regime_policy" not in result.results.column_names
    # the trace names the classifier's parameters the same way
    params = {json.loads(p)["strategy"]: json.loads(p) for p in result.events.column("params").to_pylist()
              if "classifier" in json.loads(p)}
    assert {"classifier_period", "classifier_regime_policy"} <= set(params["sma_crossover"])
    assert "period" not in params["sma_crossover"]


def test_sensitivity_keeps_a_strategy_parameter_apart_from_a_classifiers(tmp_path):
    pipelines.run(MIXED, out=tmp_path / "run")
    blocks = {}
    for row in sensitivity(tmp_path / "run").to_pylist():
        blocks.setdefault(row["parameter"], {})[row["value"]] = row["n"]
    assert {"10": 2, "20": 2} == blocks["period"]  # only mean_reversion rows, each over both classifier points
    assert {"30": 3, "50": 3} == blocks["classifier_period"]


def test_a_signal_stores_combos_name_classifier_parameters_like_results(tmp_path):
    store = pipelines.generate_signals({**MIXED, "workflow": {"type": "signal_generation"}})
    combos = store.combos
    assert {30, 50} == set(combos.column("classifier_period").to_pylist())
    assert {None, 10, 20} == set(combos.column("period").to_pylist())


SHADOWING = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("sharpe", "int", 10, minimum=1),), features={"close": ref("price")})
def sharpe_named(p, f):
    return np.sign(f["close"] - f["close"][0])

@strategy(params=(Param("classifier_period", "int", 10, minimum=1),), features={"close": ref("price")})
def prefixed(p, f):
    return np.sign(f["close"] - f["close"][0])

@strategy(params=(Param("execution_commission", "int", 10, minimum=1),), features={"close": ref("price")})
def setting_named(p, f):
    return np.sign(f["close"] - f["close"][0])
'''


@pytest.mark.parametrize("strategy, extra, message", [
    ("sharpe_named", {}, "strategies[0].parameters.sharpe: names the result column 'sharpe' (a run's outcome); "
                         "rename the parameter"),
    ("prefixed", {"classifiers": [{"type": "trend_regime"}]},
     "strategies[0].parameters.classifier_period: names the result column 'classifier_period' (a classifier "
     "parameter's column); rename the parameter"),
    ("setting_named", {"execution": {"commission": [0.0, 0.001]}},
     "strategies[0].parameters.execution_commission: names the result column 'execution_commission' (a gridded "
     "setting's column); rename the parameter"),
])
def test_a_parameter_that_would_share_a_column_is_refused(author, strategy, extra, message):
    author("author_columns", SHADOWING)
    spec = spec_from_mapping({"strategies": [{"type": f"author_columns:{strategy}"}], **extra})
    with pytest.raises(SpecError) as info:
        plan_from_spec(spec)
    assert message == str(info.value)
