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
import numpy as np
import pyarrow.parquet as pq
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


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=60), st.integers(1, 4))
def test_chunks_for_workers_take_the_least_modelled_time(orders, workers):
    """Cutting the lanes for several workers never makes the modelled run slower than one chunk
    (or than one cut per chunk count tried), covers every lane once, and with one worker makes
    one chunk; a grid whose work spreads over many lanes keeps two workers busy."""
    counts = np.array(orders, np.int64)[:, None]
    lane_bytes = np.ones(len(orders), np.int64)
    chunks = chunking._balanced(counts, lane_bytes, 2**40, workers)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(orders)))
    took = chunking.makespan([chunking.chunk_cost(counts[c]) for c in chunks], workers)
    assert took <= chunking.chunk_cost(counts) * (1 + 1e-12)
    if workers == 1:
        assert len(chunks) == 1


def test_two_workers_share_a_grid_of_many_similar_lanes():
    counts = np.full((100, 1), 1000, np.int64)
    chunks = chunking._balanced(counts, np.ones(100, np.int64), 2**40, 2)
    costs = [chunking.chunk_cost(counts[c]) for c in chunks]
    assert len(chunks) >= 2 and chunking.makespan(costs, 2) < 0.6 * chunking.chunk_cost(counts)


# --------------------------------------------------------------------------------------------
# a real cluster: a `dask scheduler` and two `dask worker` processes on localhost


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """End a process this test started, and its children (its own session), for sure."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(address, env)`` of a scheduler and two single-threaded workers, subprocesses started
    outside any test folder with only admf on their path (``env``: what a client needs)."""
    pytest.importorskip("distributed", reason="a Dask cluster needs the scale extra: pip install -e '.[scale]'")
    from distributed import Client
    home = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    started = []
    try:
        started.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            cwd=home, env=env, stdout=open(home / "scheduler.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True))
        for n in range(2):
            started.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{n}"],
                cwd=home, env=env, stdout=open(home / f"worker{n}.log", "w"), stderr=subprocess.STDOUT,
                start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, env
    finally:
        for process in reversed(started):
            _stop(process)


def _admf(*argv, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


CLUSTER_GRID = ("workflow: {type: optimization}\ndata: {dataset: GOOG}\nexecution: {commission: 0.002}\nstrategies:\n"
                "  - type: sma_crossover\n    parameters: {fast_period: {from: 2, to: 40, step: 2}, "
                "slow_period: {from: 50, to: 250, step: 25}}\n")


def _same_run(a: Path, b: Path) -> None:
    for name in ("results.parquet", "trades.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    stats = [json.loads((folder / "manifest.json").read_text())["overfitting"] for folder in (a, b)]
    assert stats[0] == stats[1]


@pytest.mark.slow
def test_a_real_cluster_gives_the_local_tables(cluster, tmp_path):
    address, env = cluster
    (tmp_path / "grid.yaml").write_text(CLUSTER_GRID)
    assert 0 == _admf("run", "grid.yaml", "--out", "local", env=env, cwd=tmp_path).returncode
    done = _admf("run", "grid.yaml", "--scheduler", address, "--memory-limit", "2MB", "--out", "cluster", env=env,
                 cwd=tmp_path)
    assert 0 == done.returncode, done.stderr
    _same_run(tmp_path / "local", tmp_path / "cluster")
    manifest = json.loads((tmp_path / "cluster" / "manifest.json").read_text())
    assert ("dask", address) == (manifest["executor"]["executor"], manifest["executor"]["scheduler"])
    assert 1 < manifest["executor"]["chunks"]


FRAGILE = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("period", "int", 5, minimum=2, doc="bars of the SMA"),),
          features=lambda p: {"sma": ref("sma", period=p["period"]), "close": ref("price")})
def fragile_trend(p, f):
    """Long above the SMA, flat below; raises for period 13 (a bug in the author's code)."""
    if p["period"] == 13:
        raise RuntimeError("period 13 is not handled")
    return np.where(f["close"] > f["sma"], 1.0, 0.0)
'''


@pytest.mark.slow
def test_on_a_real_cluster_a_failing_combination_is_an_error_row_and_the_authors_code_travels(cluster, tmp_path):
    """The author's module sits in the spec's folder only: the workers never see it on their path."""
    address, env = cluster
    (tmp_path / "fragile_signals.py").write_text(FRAGILE)
    (tmp_path / "fragile.yaml").write_text("data: {dataset: GOOG}\nstrategies:\n  - type: 'fragile_signals:fragile_trend'\n"
                                           "    parameters: {period: {from: 5, to: 20, step: 1}}\n")
    done = _admf("run", "fragile.yaml", "--scheduler", address, "--memory-limit", "1MB", "--out", "cluster", env=env,
                 cwd=tmp_path)
    assert 0 == done.returncode, done.stderr
    assert 0 == _admf("run", "fragile.yaml", "--out", "local", env=env, cwd=tmp_path).returncode
    rows = {r["period"]: r
            for r in pq.read_table(tmp_path / "cluster" / "results.parquet").to_pylist()}
    assert "error" == rows[13]["status"] and "RuntimeError: period 13 is not handled" in rows[13]["error"]
    assert {"ok"} == {r["status"] for period, r in rows.items() if period != 13} and 16 == len(rows)
    for name in ("results.parquet", "trades.parquet"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "cluster" / name).read_bytes()


@pytest.mark.slow
def test_on_a_real_cluster_a_killed_client_resumes_to_the_uninterrupted_result(cluster, tmp_path):
    address, env = cluster
    (tmp_path / "grid.yaml").write_text(CLUSTER_GRID)
    assert 0 == _admf("run", "grid.yaml", "--out", "whole", env=env, cwd=tmp_path).returncode
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "run", "grid.yaml", "--scheduler", address,
                             "--memory-limit", "2MB", "--out", str(killed)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list((killed / "parts").glob("chunk-*/done"))) < 2:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list((killed / "parts").glob("chunk-*/done")))
    chunks = json.loads((killed / "parts" / "layout.json").read_text())["chunks"]
    assert 2 <= done_before < chunks and not (killed / "manifest.json").exists()
    resumed = _admf("run", "--resume", killed, env=env, cwd=tmp_path)  # the scheduler recorded in run.json
    assert 0 == resumed.returncode, resumed.stderr
    _same_run(tmp_path / "whole", killed)
    assert address == json.loads((killed / "manifest.json").read_text())["executor"]["scheduler"]


class _Workers:
    """A Dask client's ``run`` as the admf check meets it: every worker's answer, or one's error."""

    def __init__(self, answer):
        self.answer = answer

    def run(self, function):
        if isinstance(self.answer, Exception):
            raise self.answer
        return {address: function() if digest is None else digest for address, digest in self.answer.items()}


def test_workers_must_run_this_admf(tmp_path):
    from state.errors import AdmfError
    executors._check_workers(_Workers({"tcp://a:1": None, "tcp://b:1": None}), "tcp://s:8786")  # the same code
    with pytest.raises(AdmfError, match=r"the Dask worker\(s\) tcp://b:1 of tcp://s:8786 run other admf code than "
                                        "this process: install the same admf version on every worker"):
        executors._check_workers(_Workers({"tcp://a:1": None, "tcp://b:1": "0" * 64}), "tcp://s:8786")
    with pytest.raises(AdmfError, match=r"the Dask workers of tcp://s:8786 cannot run this admf \(No module named "
                                        "'pipelines'\\): install the same admf"):
        executors._check_workers(_Workers(Exception("No module named 'pipelines'")), "tcp://s:8786")
    with pytest.raises(AdmfError, match="tcp://s:8786 has no workers: start some"):
        executors._check_workers(_Workers({}), "tcp://s:8786")


def test_the_spec_s_own_components_are_shipped_by_value(author, tmp_path):
    """A chunk's plan loads in a process that cannot import the author's module."""
    author("shipped_signals", FRAGILE)
    plan = pipelines.plan({"data": {"dataset": "GOOG"},
                           "strategies": [{"type": "shipped_signals:fragile_trend", "parameters": {"period": 7}}]})
    (tmp_path / "plan.pkl").write_bytes(executors._shipped(plan))
    code = ("import pickle, sys; plan = pickle.load(open(sys.argv[1], 'rb')); "
            "print(plan.spec.components[0][1], 'shipped_signals' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "plan.pkl")], cwd=tmp_path.parent,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert (0, "shipped_signals:fragile_trend False\n") == (done.returncode, done.stdout), done.stderr


def test_options_given_to_a_resume_replace_the_recorded_ones_one_by_one(tmp_path, monkeypatch, capsys):
    """``admf run --resume DIR --scheduler OTHER`` keeps the recorded memory budget (the chunks)."""
    from pipelines.cli.main import main
    spec = tmp_path / "grid.yaml"
    spec.write_text(CLUSTER_GRID)
    assert 0 == main(["run", str(spec), "--out", str(tmp_path / "whole")])
    calls = []
    real = executors._run_chunk

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(executors, "_run_chunk", interrupted)
    stopped = tmp_path / "stopped"
    assert 130 == main(["run", str(spec), "--executor", "local", "--memory-limit", "2MB", "--out", str(stopped)])
    monkeypatch.setattr(executors, "_run_chunk", real)
    assert 2 == len(list((stopped / "parts").glob("chunk-*/done")))
    capsys.readouterr()
    assert 0 == main(["run", "--resume", str(stopped), "--workers", "1"]), capsys.readouterr().err
    _same_run(tmp_path / "whole", stopped)
    assert {"executor": "local", "workers": 1, "memory_limit": 2 * 2**20} == {
        k: v for k, v in json.loads((stopped / "manifest.json").read_text())["executor"].items()
        if k in ("executor", "workers", "memory_limit")}


def test_a_chunked_run_failing_before_any_chunk_finished_leaves_nothing(tmp_path, monkeypatch, capsys):
    from pipelines.cli.main import main
    from state.errors import AdmfError

    def refused(*args):
        raise AdmfError("the Dask workers of tcp://s:8786 cannot run this admf")
    monkeypatch.setattr(executors, "_run_chunk", refused)
    spec = tmp_path / "grid.yaml"
    spec.write_text(CLUSTER_GRID)
    (tmp_path / "runs").mkdir()
    assert 2 == main(["run", str(spec), "--executor", "local", "--memory-limit", "2MB", "--out", str(tmp_path / "runs" / "x")])
    assert "admf: error: the Dask workers of tcp://s:8786 cannot run this admf\n" == capsys.readouterr().err
    assert [] == list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_signals_computed_in_groups_equal_the_signals_computed_at_once(n):
    """What Dask workers compute (one group of strategy points each, with only the features those
    read) merges into exactly the held signals of the whole plan."""
    plan = pipelines.plan(GRID)
    market = pipelines.load_market_data(plan.spec.data)
    groups = executors.signal_groups(plan, n)
    assert 1 <= len(groups) <= min(n, len({executors.signal_key(c) for c in plan.combos}))
    assert [c for g in groups for c in g.combos] == list(plan.combos)
    for group in groups:
        assert set(group.features) < set(plan.features) or len(groups) == 1
    whole = hold_signals(plan, market)
    parts = [hold_signals(g, market) for g in groups]
    merged = {k: v for part in parts for k, v in part.changes.items()}
    assert merged.keys() == whole.changes.keys()
    for key, (bars_at, targets) in whole.changes.items():
        assert np.array_equal(bars_at, merged[key][0]) and np.array_equal(targets, merged[key][1])


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_leaves_nothing(tmp_path, capsys):
    from pipelines.cli.main import main
    spec = tmp_path / "grid.yaml"
    spec.write_text(CLUSTER_GRID)
    (tmp_path / "runs").mkdir()
    assert 2 == main(["run", str(spec), "--scheduler", f"tcp://127.0.0.1:{_free_port()}", "--out",
                      str(tmp_path / "runs" / "x")])
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert [] == list((tmp_path / "runs").iterdir())
