"""Traces: what they record, how they are filtered and written, and what they refuse."""
import json

import pyarrow.parquet as pq
import pytest

import pipelines
import pipelines.boundary.trace_files as trace_module
from pipelines.boundary.specs import trace_filter
from pipelines.boundary.trace_files import read_events, TraceError
from pipelines.engine.events import KINDS
from pipelines.workflows.event_sourcing import replay_trace
from state.errors import SpecError

SPEC = {"data": {"dataset": "GOOG"}, "execution": {"commission": 0.002},
        "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": [20, 50]}}]}


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    out = tmp_path_factory.mktemp("traced") / "run"
    return pipelines.run(SPEC, out=out, trace=True), out


def test_every_event_is_recorded_with_its_causes(traced):
    result, out = traced
    events = read_events(out).to_pylist()
    assert set(KINDS) >= {e["kind"] for e in events} >= {"SignalChanged", "OrderSubmitted", "OrderApproved", "OrderFilled"}
    by_id = {e["event_id"]: e for e in events}
    assert list(range(len(events))) == sorted(by_id)
    for e in events:
        if e["kind"] == "SignalChanged":
            assert e["causation_id"] is None and e["component"] == "strategy"
        else:
            cause = by_id[e["causation_id"]]
            assert cause["correlation_id"] == e["correlation_id"] and cause["sequence"] < e["sequence"]
            assert cause["bar_index"] <= e["bar_index"]
    fills = [e for e in events if e["kind"] == "OrderFilled"]
    assert sum(1 for t in result.trades.to_pylist()) <= len(fills)
    assert all(json.loads(e["params"])["commission"] == 0.002 for e in fills)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["trace"]["events"] == len(events)
    assert manifest["trace"]["correlation_ids"][0].startswith(manifest["run_id"] + ":")


def test_ids_are_deterministic(traced, tmp_path):
    again = pipelines.run(SPEC, out=tmp_path / "again", trace=True)
    assert traced[0].events.equals(again.events)


def test_a_filter_keeps_some_kinds_of_some_combinations(traced):
    result, _ = traced
    one = result.plan.combos[1].combo_id
    filtered = pipelines.run({**SPEC, "trace": {"kinds": ["ORDER", "FILL"], "combos": [one]}})
    rows = filtered.events.to_pylist()
    assert rows and {r["kind"] for r in rows} == {"OrderSubmitted", "OrderFilled"}
    assert {r["combo_id"] for r in rows} == {one}


def test_large_traces_are_partitioned_by_combination(tmp_path, monkeypatch):
    monkeypatch.setattr(trace_module, "PARTITION_ROWS", 10)
    result = pipelines.run(SPEC, out=tmp_path / "big", trace=True)
    assert (tmp_path / "big" / "events").is_dir() and not (tmp_path / "big" / "events.parquet").exists()
    assert read_events(tmp_path / "big").num_rows == result.events.num_rows
    assert len(replay_trace(tmp_path / "big")) == 4


@pytest.mark.parametrize("raw, message", [
    ({"kinds": ["NOPE"]}, r"trace.kinds\[0\]='NOPE': must be one of"),
    ({"kind": ["FILL"]}, "trace.kind: unknown key"),
    ("yes", "must be true, false or"),
])
def test_bad_trace_values_are_spec_errors(raw, message):
    with pytest.raises(SpecError, match=message):
        trace_filter(raw)


def test_replay_refuses_a_trace_without_fills(tmp_path):
    pipelines.run({**SPEC, "trace": {"kinds": ["SIGNAL"]}}, out=tmp_path / "signals-only")
    with pytest.raises(TraceError, match="no OrderFilled events"):
        replay_trace(tmp_path / "signals-only")
    with pytest.raises(TraceError, match="no events.parquet"):
        read_events(tmp_path)


def test_tracing_a_train_test_run_is_refused():
    with pytest.raises(SpecError, match="tracing records one fold"):
        pipelines.run({**SPEC, "workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                       "trace": True})


def test_canned_analyses_run_on_a_seed_spec_run(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("hmmlearn")
    pytest.importorskip("duckdb")
    from pipelines.workflows.analytics import causation, correlation, regimes, sensitivity
    out = tmp_path / "seed"
    pipelines.run("specs/seed.yaml", out=out, trace=True, equity=True)
    assert sensitivity(out).num_rows > 0
    assert correlation(out, top=5).num_rows == 5
    assert regimes(out).num_rows >= 2
    combo = pq.read_table(out / "trades.parquet").column("combo_id")[0].as_py()
    chain = causation(out, combo=combo).column("kind").to_pylist()
    assert chain[:4] == ["SignalChanged", "OrderSubmitted", "OrderApproved", "OrderFilled"]


def test_a_filtered_trace_of_several_symbols_has_run_unique_ids(goog):
    """Ids are the rows' numbers in every run: a trace filtered to some kinds, on several
    symbols, numbered each symbol's events from the count of the rows kept before them, so the
    second symbol reused the first's ids. A cause the filter left out is null."""
    import attrs
    from state.market import MarketData
    data = MarketData((goog, attrs.evolve(goog, symbol="OTHER")), "two", "two", 252.0)
    spec = {k: v for k, v in SPEC.items() if k != "data"}
    events = pipelines.run({**spec, "trace": {"kinds": ["ORDER", "FILL"]}}, market=data).events.to_pylist()
    assert {"GOOG", "OTHER"} == {e["symbol"] for e in events}
    assert list(range(len(events))) == [e["event_id"] for e in events]
    by_id = {e["event_id"]: e for e in events}
    for e in events:
        if e["kind"] == "OrderFilled":  # caused by its approval, which the filter left out
            assert e["causation_id"] is None
        elif e["causation_id"] is not None:
            assert by_id[e["causation_id"]]["correlation_id"] == e["correlation_id"]
