"""regimes.parquet: every classifier point's labels per symbol, as change points that expand back
to the labels the run traded on, the same however lanes are chunked."""
import numpy as np
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

import pipelines
import pipelines.workflows.chunking as chunking
from fp.classifiers import CLASSIFIERS, classify
from pipelines.workflows.analytics import query
from pipelines.engine.regime_labels import classifier_id, expand_regimes, regime_changes
from state.market import MarketData
from state.spec import ExecutionOptions

GRID = {"strategies": [{"type": "momentum", "parameters": {"lookback_period": [10, 20]}},
                       {"type": "sma_crossover", "parameters": {"fast_period": 5, "slow_period": 30}}],
        "classifiers": [{"type": "trend_regime", "parameters": {"period": [30, 100]}},
                        {"type": "volatility_regime", "parameters": {"period": 20},
                         "regime_policy": ["gate", {"scale": {0: 0.5, 1: 1.0}}]}]}


@given(st.lists(st.sampled_from([np.nan, 0.0, 1.0, 2.0]), max_size=60), st.integers(0, 60))
def test_change_points_expand_back_to_the_labels(labels, start):
    labels = np.array(labels, dtype=float)
    start = min(start, len(labels))
    at, values = regime_changes(labels, start)
    assert np.array_equal(labels[start:], expand_regimes(at, values, start, len(labels)), equal_nan=True)
    if len(at) > 1:  # only changes are kept
        assert not np.any((values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1])))


def test_a_run_writes_each_classifier_points_labels_once_per_symbol(tmp_path, goog):
    """Three classifier points (one with two policies) crossed with three strategies: three label
    series, each the classifier's own labels of the symbol's bars."""
    result = pipelines.run(GRID, out=tmp_path / "run", market=MarketData((goog,), "GOOG", "x", 252.0))
    table = pq.read_table(tmp_path / "run" / "regimes.parquet")
    assert table.equals(result.regimes)
    points = [("trend_regime", {"period": 30}), ("trend_regime", {"period": 100}),
              ("volatility_regime", {"period": 20, "quantile": 0.5})]
    assert [classifier_id((name, tuple(p.items()))) for name, p in points] == list(
        dict.fromkeys(table.column("classifier_id").to_pylist()))
    for name, params in points:
        mine = table.filter(np.array(table.column("classifier_id").to_pylist()) ==
                            classifier_id((name, tuple(params.items()))))
        regime = np.array([np.nan if r is None else r for r in mine.column("regime").to_pylist()])
        labels = expand_regimes(mine.column("bar_index").to_numpy(), regime, 0, len(goog))
        expected = classify(CLASSIFIERS[name], params, goog).labels
        assert np.array_equal(expected, labels, equal_nan=True)
        assert {name} == set(mine.column("classifier").to_pylist())
        assert [params["period"]] == list(set(mine.column("classifier_period").to_pylist()))
    rows = query(tmp_path / "run", "SELECT count(DISTINCT classifier_id) AS points FROM regimes").to_pylist()
    assert [{"points": 3}] == rows


def test_chunked_runs_write_the_unchunked_labels(goog, monkeypatch):
    market = MarketData((goog,), "GOOG", "x", 252.0)
    whole = pipelines.run(GRID, market=market)
    n = len(whole.plan.combos)
    for partition in ([[i] for i in range(n)], [list(range(n - 1, -1, -4)), [i for i in range(n) if (n - 1 - i) % 4]]):
        planned = chunking.plan_chunks
        monkeypatch.setattr(pipelines.workflows.modes, "plan_chunks",
                            lambda *args, **kwargs: planned(*args, **kwargs, chunks=partition))
        chunked = pipelines.run(GRID, market=market, execution=ExecutionOptions("local"))
        assert whole.regimes.equals(chunked.regimes)
        assert whole.regime_stats.equals(chunked.regime_stats)


def test_a_train_test_run_writes_the_labels_of_its_test_part(goog):
    market = MarketData((goog,), "GOOG", "x", 252.0)
    result = pipelines.run({**GRID, "workflow": {"type": "optimization"}, "data": {"split": {"train": 0.7}}},
                           market=market)
    first = int(round(0.7 * len(goog)))
    assert result.regimes.num_rows > 0
    assert {first} == set(result.regimes.column("bar_index").to_pylist()[:1])
    assert min(result.regimes.column("bar_index").to_pylist()) == first


def test_a_run_without_classifiers_writes_no_labels(goog):
    result = pipelines.run({"strategies": GRID["strategies"]}, market=MarketData((goog,), "GOOG", "x", 252.0))
    assert result.regimes is None
