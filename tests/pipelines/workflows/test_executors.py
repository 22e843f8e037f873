"""Executors: identical results however lanes are chunked and wherever chunks run; failures become
rows; killed runs resume to the uninterrupted result; dead workers are retried."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipelines
import pipelines.workflows.chunking as chunking
import pipelines.workflows.executors as executors
from fp.testing import bars, market
from pipelines.engine.signals import hold_signals
from state.market import MarketData
from state.spec import ExecutionOptions

ROOT = Path(__file__).resolve().parents[3]
GRID = {"data": {"dataset": "GOOG"}, "execution": {"commission": 0.002},
        "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10, 20], "slow_period": [30, 60, 90]}},
                       {"type": "momentum", "parameters": {"lookback_period": [10, 20]}}]}


@st.composite
def partitions(draw, n: int):
    """A partition of ``range(n)`` into chunks: any grouping, in any order."""
    order = draw(st.permutations(range(n)))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1))) if n > 1 else []
    return [order[a:b] for a, b in zip([0, *cuts], [*cuts, n])]


def chunked_as(monkeypatch, partition):
    """Make runs fold in the chunks of ``partition`` (combination indices)."""
    planned = chunking.plan_chunks
    monkeypatch.setattr(pipelines.workflows.modes, "plan_chunks",
                        lambda *args, **kwargs: planned(*args, **kwargs, chunks=partition))


def same_tables(a, b) -> None:
    for name in ("results", "trades", "equity", "events", "final", "regime_stats", "regimes", "symbol_stats"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.to_pandas().equals(y.to_pandas()), name


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(market(symbols=2, min_size=30, max_size=120), st.data())
def test_every_chunking_gives_the_tables_of_one_run(monkeypatch, data, draw):
    """Law: however the combinations are grouped into chunks (any grouping, any order, one symbol
    or several, isolated lanes or shared-cash portfolios), the merged tables equal the unchunked
    run's: results, trades, equity, trace events (ids included), final portfolios."""
    spec = {k: v for k, v in GRID.items() if k != "data"}
    shared = draw.draw(st.booleans())
    if shared:
        spec["portfolio"] = {"shared_cash": True}
    whole = pipelines.run(spec, market=data, trace=not shared, equity=True)
    partition = draw.draw(partitions(len(whole.plan.combos)))
    with monkeypatch.context() as patch:
        chunked_as(patch, partition)
        chunked = pipelines.run(spec, market=data, trace=not shared, equity=True, execution=ExecutionOptions("local"))
    assert len(partition) == 1 or len(partition) == chunked.manifest["executor"]["chunks"]
    same_tables(whole, chunked)


def same_statistics(a: dict, b: dict) -> bool:
    """Equal overfitting statistics, NaN equal to NaN."""
    return a.keys() == b.keys() and all(x == y or (x != x and y != y) for x, y in ((a[k], b[k]) for k in a))


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(bars(min_size=60, max_size=150), st.data())
def test_chunking_never_changes_the_overfitting_statistics(monkeypatch, data, draw):
    """Law: an optimization's manifest statistics (PBO, deflated Sharpe) are the unchunked run's."""
    market = MarketData((data,), "generated", "t", 252.0)
    spec = {**{k: v for k, v in GRID.items() if k != "data"}, "workflow": {"type": "optimization"}}
    whole = pipelines.run(spec, market=market)
    with monkeypatch.context() as patch:
        chunked_as(patch, draw.draw(partitions(len(whole.plan.combos))))
        chunked = pipelines.run(spec, market=market, execution=ExecutionOptions("local"))
    assert "overfitting" in whole.manifest
    assert same_statistics(whole.manifest["overfitting"], chunked.manifest["overfitting"])


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_every_executor_gives_the_local_results(executor, tmp_path):
    if executor == "dask":
        pytest.importorskip("distributed")
    grid = {**GRID, "workflow": {"type": "optimization"}}
    local = pipelines.run(grid, out=tmp_path / "local")
    other = pipelines.run(grid, out=tmp_path / executor,
                          execution=ExecutionOptions(executor, workers=2, memory_limit=60_000_000))
    for name in ("results.parquet", "trades.parquet"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / executor / name).read_bytes()
    assert not (tmp_path / executor / "parts").exists() and not (tmp_path / executor / "run.json").exists()
    assert other.manifest["executor"]["executor"] == executor
    assert 1 < other.manifest["executor"]["chunks"]
    written = [json.loads((tmp_path / name / "manifest.json").read_text())["overfitting"] for name in ("local", executor)]
    assert local.manifest["overfitting"] == other.manifest["overfitting"] and written[0] == written[1]
    assert 11 == written[1]["n_trials"]


def test_a_failing_combination_becomes_an_error_row_and_the_others_finish():
    result = pipelines.run({
        "data": {"dataset": "GOOG", "end": "2006-12-31", "split": {"train": 0.3}},
        "strategies": [{"type": "momentum", "parameters": {"lookback_period": 10}}],
        "classifiers": [{"type": "hmm", "parameters": {"model_type": "svm", "lookback_days": [10, 200]}}],
    }) if _has_sklearn() else pytest.skip("needs the regimes extra")
    rows = {r["classifier_lookback_days"]: r for r in result.results.to_pylist()}
    assert rows[10]["status"] == "ok" and rows[10]["error"] is None and rows[10]["final_equity"] is not None
    assert rows[200]["status"] == "error" and "TrainingDataError" in rows[200]["error"]
    assert rows[200]["final_equity"] is None


def _has_sklearn():
    try:
        import sklearn  # noqa: F401
        return True
    except ImportError:
        return False


def _die_once(plan, market, signals, run_options, part):
    marker = Path(part).parent / "died"
    if not marker.exists():
        marker.write_text("x")
        os._exit(3)
    return executors._run_chunk(plan, market, signals, run_options, part)


def test_a_chunk_whose_worker_died_is_retried(tmp_path):
    plan = pipelines.plan(GRID)
    market = pipelines.load_market_data(plan.spec.data)
    signals = hold_signals(plan, market)
    chunks = [attrs.evolve(plan, combos=plan.combos[i:i + 4]) for i in range(0, len(plan.combos), 4)]
    parts = [tmp_path / "parts" / f"chunk-{i:05d}" for i in range(len(chunks))]
    (tmp_path / "parts").mkdir()
    executors._in_processes(chunks, parts, list(range(len(chunks))), market, lambda i: signals.only(chunks[i].combos),
                            {}, 2, None, task=_die_once)
    assert all((p / "done").is_file() for p in parts)
    merged = executors._in_plan_order(executors._merge(parts, plan, market).results, plan)
    assert merged.to_pandas().equals(pipelines.run(GRID).results.to_pandas())


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    spec = tmp_path / "grid.yaml"
    spec.write_text("workflow: {type: optimization}\ndata: {dataset: GOOG}\nexecution: {commission: 0.002}\nstrategies:\n"
                    "  - type: sma_crossover\n    parameters: {fast_period: {from: 2, to: 40, step: 2}, "
                    "slow_period: {from: 50, to: 250, step: 25}}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pipelines.cli.main", "run", str(spec), "--executor", "processes", "--workers", "1",
               "--memory-limit", "2MB"]
    subprocess.run(command + ["--out", str(tmp_path / "whole")], env=env, check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(command + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((killed / "parts").glob("chunk-*/done"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((killed / "parts").glob("chunk-*/done")))
    assert done_before >= 2 and not (killed / "manifest.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "run", "--resume", str(killed)], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("results.parquet", "trades.parquet"):
        assert (tmp_path / "whole" / name).read_bytes() == (killed / name).read_bytes()
    assert not (killed / "parts").exists()
    statistics = [json.loads((folder / "manifest.json").read_text())["overfitting"] for folder in (tmp_path / "whole", killed)]
    assert statistics[0] == statistics[1] and 180 == statistics[1]["n_trials"]


def test_resume_refuses_a_complete_or_foreign_folder(tmp_path, capsys):
    from pipelines.cli.main import main
    pipelines.run(GRID, out=tmp_path / "done")
    assert 2 == main(["run", "--resume", str(tmp_path / "done")])
    assert "complete" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert 2 == main(["run", "--resume", str(tmp_path / "empty")])
    assert "not a resumable run" in capsys.readouterr().err


def test_a_smaller_budget_makes_more_chunks_each_within_it():
    plan = pipelines.plan(GRID)
    market = pipelines.load_market_data(plan.spec.data)
    signals = hold_signals(plan, market)
    large = chunking.plan_chunks(plan, market, signals, 2**30)
    largest = max(large.chunks[0], key=lambda i: chunking.plan_chunks(plan, market, signals, 2**30,
                                                                      chunks=[[i]]).memory[0])
    lane = chunking.plan_chunks(plan, market, signals, 2**30, chunks=[[largest]]).memory[0] - large.shared
    small = chunking.plan_chunks(plan, market, signals, large.shared + 2 * lane)
    assert 1 == len(large.chunks) < len(small.chunks)
    assert all(memory <= small.budget for memory in small.memory) and not small.warnings
    # the busiest combinations come first, together: a chunk's fold runs as many rounds as its busiest lane
    assert list(small.rounds) == sorted(small.rounds, reverse=True)
    tiny = chunking.plan_chunks(plan, market, signals, large.shared + lane // 2)  # the largest cannot fit: said
    assert "cannot be honoured" in tiny.warnings[0]
    assert all(len(chunk) == 1 for chunk, memory in zip(tiny.chunks, tiny.memory) if memory > tiny.budget)
    assert sorted(i for chunk in small.chunks for i in chunk) == list(range(len(plan.combos)))
