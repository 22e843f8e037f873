"""Tests of pipelines.cli.main: ``admf run`` and ``admf plan`` as a user meets them.

Every bad input must end in one clear message naming where (spec path, or file and line), exit
code 2, no traceback, and no output folder (nor a stray temporary one) left behind. Most tests call
``main`` in-process; a few run ``python -m pipelines.cli.main`` as a subprocess to prove the exit code
and the absence of a traceback end to end.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from fp.metrics import METRICS
from pipelines.cli.main import main
from pipelines.boundary.specs import spec_from_text

REPO = Path(__file__).resolve().parents[3]
SPECS = REPO / "specs"
RUN_FILES = ["manifest.json", "results.parquet", "trades.parquet"]

#: A small, fast spec: 4 combinations (fast 2, 3 x slow 5, 8) on the spec's data.
SMA = """\
strategies:
  - type: sma_crossover
    parameters: {fast_period: [2, 3], slow_period: [5, 8]}
"""
SMA_PARAMS = ["fast_period", "slow_period"]

HEADER = "timestamp,open,high,low,close,volume"


def good_rows(n: int = 40) -> list[str]:
    """``n`` valid daily bars: a zigzag around 100, so crossovers trade."""
    rows = []
    for i in range(n):
        close = 100 + 5 * math.sin(i / 3)
        open_ = close - 0.5 if i % 2 else close + 0.5
        rows.append(f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{open_:.2f},{max(open_, close) + 1:.2f},"
                    f"{min(open_, close) - 1:.2f},{close:.2f},{1000 + i}")
    return rows


def write_csv(folder: Path, rows: list[str], header: str = HEADER, name: str = "bars.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def write_spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def csv_spec(folder: Path, rows: list[str], header: str = HEADER) -> Path:
    """A spec running :data:`SMA` on a CSV of ``rows`` in ``folder`` (a relative ``data.path``)."""
    write_csv(folder, rows, header)
    return write_spec(folder, "data: {path: bars.csv}\n" + SMA)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def out_dir(tmp_path: Path) -> Path:
    """A not-yet-existing ``--out`` inside an existing empty parent (to spot stray temp folders)."""
    parent = tmp_path / "runs"
    parent.mkdir(exist_ok=True)
    return parent / "out"


def assert_refused(capsys, tmp_path: Path, spec: Path, *fragments: str, command: str = "run") -> str:
    """Run ``spec``; assert exit 2, one ``admf: error:`` message containing ``fragments`` on stderr,
    nothing on stdout, and nothing at all written under the ``--out`` folder's parent."""
    out = out_dir(tmp_path)
    argv = [command, spec] + (["--out", out] if command == "run" else [])
    code, stdout, stderr = cli(capsys, *argv)
    assert 2 == code
    assert "" == stdout
    message = stderr.strip().splitlines()[-1]
    assert message.startswith("admf: error: ")
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in stderr
    assert not out.exists()
    assert [] == list(out.parent.iterdir())
    return message


def subprocess_cli(*argv, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------------------------
# plan


@pytest.mark.parametrize(("name", "combinations"), [("seed.yaml", 24), ("seed_large.yaml", 54)])
def test_plan_of_the_seed_specs(capsys, name, combinations):
    code, out, err = cli(capsys, "plan", SPECS / name)
    assert (0, "") == (code, err)
    assert f"combinations: {combinations} = 6 strategy × {combinations // 6} classifier × 1 settings" in out


def test_plan_reads_no_data(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {path: missing.csv}\n" + SMA)
    code, out, err = cli(capsys, "plan", spec)
    assert (0, "") == (code, err)
    assert "combinations: 4 = 4 strategy × 1 classifier × 1 settings" in out


def test_plan_of_a_replay_counts_the_stored_signals(capsys, tmp_path):
    write_csv(tmp_path, good_rows())
    generate = write_spec(tmp_path, "workflow: {type: signal_generation}\ndata: {path: bars.csv}\n" + SMA, "gen.yaml")
    assert 0 == cli(capsys, "run", generate, "--out", tmp_path / "signals")[0]
    replay = write_spec(tmp_path, "workflow: {type: signal_replay}\nsignals: signals\n"
                                  "execution: {commission: [0.0, 0.001]}\n", "replay.yaml")
    code, out, err = cli(capsys, "plan", replay)
    assert (0, "") == (code, err)
    assert "combinations: 8 = 4 stored signals × 2 settings" in out
    assert "lanes (isolated portfolios): 8 = 8 combinations × 1 symbol(s) [bars]" in out
    code, out, err = cli(capsys, "run", replay, "--out", tmp_path / "replayed")
    assert out.startswith("8 lane(s): 8 combination(s)")


def test_plan_of_phases_shows_every_phase(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {dataset: GOOG, split: {train: 0.7}}\nphases:\n"
                                "  - {name: grid, workflow: {type: optimization}, top_k: 2, strategies: "
                                "[{type: sma_crossover, parameters: {fast_period: [2, 3], slow_period: [5, 8]}}]}\n"
                                "  - {name: costs, from: grid, workflow: {type: optimization}, "
                                "execution: {commission: [0.0, 0.001, 0.002]}}\n")
    code, out, err = cli(capsys, "plan", spec)
    assert (0, "") == (code, err)
    assert "phase grid (workflow optimization):" in out and "phase costs (workflow optimization, fed by phase grid):" in out
    assert "combinations: 4 = 2 strategy × 2 classifier × 1 settings" not in out
    assert "combinations: 4 = 4 strategy × 1 classifier × 1 settings" in out
    assert "combinations: 6 = 2 selected (the top 2 of phase grid) × 3 settings" in out


def test_plan_with_a_budget_shows_the_chunks_the_run_folds(capsys, tmp_path):
    """``admf plan --memory-limit`` says how a run under that budget is chunked, and why; the run
    then folds exactly those chunks."""
    spec = write_spec(tmp_path, "data: {dataset: GOOG}\nstrategies: [{type: sma_crossover, parameters: "
                                "{fast_period: [2, 3, 5, 8], slow_period: [13, 21, 34]}}]\n")
    code, out, err = cli(capsys, "plan", spec, "--memory-limit", "13MB")
    assert (0, "") == (code, err)
    line = next(l for l in out.splitlines() if l.startswith("chunking:"))
    chunks = int(line.split(" in ")[1].split(" chunk")[0])
    assert line == f"chunking: 12 combinations in {chunks} chunks (memory budget 13.0 MB)" and chunks > 1
    assert "features: " in out and "computed once per symbol in memory" in out
    assert "chunks by order count (a chunk's fold runs one round per order of its busiest lane)" in out
    assert chunks == sum(l.strip().startswith("chunk ") for l in out.splitlines())
    assert 0 == cli(capsys, "run", spec, "--memory-limit", "13MB", "--out", tmp_path / "run")[0]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert chunks == manifest["executor"]["chunks"] == manifest["executor"]["chunking"]["chunks"]
    code, out, err = cli(capsys, "plan", spec)
    assert "chunking" not in out  # without a budget or executor, plan reads no data


def test_a_run_refused_while_computing_its_signals_leaves_nothing_behind(capsys, tmp_path):
    """On an executor, a run works in its folder from the start (its feature store, what a resume
    needs); bad input found computing the signals (a classifier that would label no bar) leaves
    nothing there (it left run.json)."""
    spec = write_spec(tmp_path, "data: {dataset: GOOG, end: 2005-06-30}\nexecutor: {type: processes, workers: 1}\n"
                                "strategies: [{type: sma_crossover}]\n"
                                "classifiers: [{type: trend_regime, parameters: {period: 200}}]\n")
    assert_refused(capsys, tmp_path, spec, "classifiers[0]", "labels only the bars after them")


def test_plan_refuses_a_bad_spec(capsys, tmp_path):
    spec = write_spec(tmp_path, "strategies: [{type: momentum, parameters: {lookback_period: 0}}]\n")
    assert_refused(capsys, tmp_path, spec, "strategies[0].parameters.lookback_period=0", command="plan")


# --------------------------------------------------------------------------------------------
# run: the happy path


def test_run_writes_exactly_the_three_files(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    out = out_dir(tmp_path)
    code, stdout, stderr = cli(capsys, "run", spec, "--out", out)
    assert (0, "") == (code, stderr)
    assert RUN_FILES == sorted(p.name for p in out.iterdir())
    assert [out] == list(out.parent.iterdir())  # no temporary sibling left
    assert 0o777 & ~_umask() == out.stat().st_mode & 0o777  # as mkdir makes it, not mkdtemp's 0o700

    results = pq.read_table(out / "results.parquet")
    assert 4 == results.num_rows  # one row per combination (one symbol)
    assert ["combo_id", "symbol", "strategy", *SMA_PARAMS, *METRICS, "n_rejected", "ruined", "ruin_time", "notes",
            "status", "error"] == results.column_names
    assert 4 == len(set(results.column("combo_id").to_pylist()))
    assert {"bars"} == set(results.column("symbol").to_pylist())
    assert {(2, 5), (2, 8), (3, 5), (3, 8)} == set(zip(*(results.column(p).to_pylist() for p in SMA_PARAMS)))

    trades = pq.read_table(out / "trades.parquet")
    assert ["combo_id", "symbol", "entry_time", "entry_price", "exit_time", "exit_price", "size", "pnl"] \
        == trades.column_names
    assert set(trades.column("combo_id").to_pylist()) <= set(results.column("combo_id").to_pylist())

    manifest = json.loads((out / "manifest.json").read_text())
    assert 4 == manifest["combinations"]
    assert {"bars": 40} == manifest["data"]["bars"]
    assert str(spec) == manifest["spec_source"]

    # the printed table: a header line with the parameters and the objective, then one row per combination
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("combo_id"))
    assert lines[header].split()[:4] == ["combo_id", *SMA_PARAMS, "sharpe"]
    assert set(lines[header + 1]) <= {"-", " "}
    shown = lines[header + 2: header + 6]
    assert sorted(line.split()[0] for line in shown) == sorted(results.column("combo_id").to_pylist())
    assert "top 4 of 4 by sharpe:" in stdout
    assert f"wrote {out}/results.parquet" in stdout


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_run_on_two_symbols_has_a_row_per_combination_and_symbol(capsys, tmp_path):
    write_csv(tmp_path, good_rows(), name="a.csv")
    write_csv(tmp_path, good_rows(30), name="b.csv")
    spec = write_spec(tmp_path, "data: {paths: {AAA: a.csv, BBB: b.csv}}\n" + SMA)
    out = out_dir(tmp_path)
    code, stdout, _ = cli(capsys, "run", spec, "--out", out)
    assert 0 == code
    results = pq.read_table(out / "results.parquet")
    assert 8 == results.num_rows
    assert ["AAA"] * 4 + ["BBB"] * 4 == sorted(results.column("symbol").to_pylist())
    assert 4 == len(set(results.column("combo_id").to_pylist()))
    assert "top 8 of 8 by sharpe:" in stdout


def test_run_top_limits_the_table(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    code, stdout, _ = cli(capsys, "run", spec, "--out", out_dir(tmp_path), "--top", 2)
    assert 0 == code
    assert "top 2 of 4 by sharpe:" in stdout
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("combo_id"))
    assert lines[header + 4].startswith("wrote ")  # header, rule, two rows


def test_a_train_test_header_says_how_many_were_selected(capsys, tmp_path):
    spec = write_spec(tmp_path, "workflow: {type: optimization}\ndata: {dataset: GOOG, split: {train: 0.7}}\n"
                                "top_k: 2\n" + SMA)
    code, stdout, _ = cli(capsys, "run", spec, "--out", out_dir(tmp_path), "--top", 3)
    assert 0 == code
    assert ("4 combination(s) ranked on the training part by sharpe; the best 2 (top_k: 2) tested on the test part; "
            "the first 3 of 4 row(s):") in stdout


def test_a_function_objective_is_shown(capsys, tmp_path, monkeypatch):
    (tmp_path / "shown_objectives.py").write_text("from fp.components import objective\n\n\n@objective\ndef trades(row):\n    return row['n_trades'] * 1.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = write_spec(tmp_path, "workflow: {type: optimization}\nobjective: shown_objectives:trades\n" + SMA)
    code, stdout, _ = cli(capsys, "run", spec, "--out", out_dir(tmp_path))
    assert 0 == code
    header = next(line for line in stdout.splitlines() if line.startswith("combo_id"))
    assert header.split()[3] == "objective"  # combo_id fast_period slow_period objective ...
    rows = pq.read_table(out_dir(tmp_path) / "results.parquet").to_pylist()
    assert [1.5 * r["n_trades"] for r in rows] == [r["objective"] for r in rows]


@pytest.mark.parametrize("top", ["0", "-1", "x"])
def test_run_refuses_a_bad_top(capsys, tmp_path, top):
    spec = csv_spec(tmp_path, good_rows())
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(spec), "--out", str(out_dir(tmp_path)), "--top", top])
    assert 2 == exit_info.value.code
    assert "--top" in capsys.readouterr().err
    assert [] == list((tmp_path / "runs").iterdir())


def test_run_into_an_existing_empty_folder(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    out = out_dir(tmp_path)
    out.mkdir()
    code, _, stderr = cli(capsys, "run", spec, "--out", out)
    assert (0, "") == (code, stderr)
    assert RUN_FILES == sorted(p.name for p in out.iterdir())


def test_default_out_is_a_new_folder_under_runs(capsys, tmp_path, monkeypatch):
    spec = csv_spec(tmp_path, good_rows())
    monkeypatch.chdir(tmp_path)
    assert 0 == cli(capsys, "run", spec)[0]
    assert 0 == cli(capsys, "run", spec)[0]
    runs = sorted((tmp_path / "runs").iterdir())
    assert 2 == len(runs)  # two runs in the same second get two folders
    for run in runs:
        assert run.name.startswith("spec-")
        assert RUN_FILES == sorted(p.name for p in run.iterdir())


def test_runs_are_deterministic(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    first, second = tmp_path / "a", tmp_path / "b"
    assert 0 == cli(capsys, "run", spec, "--out", first)[0]
    assert 0 == cli(capsys, "run", spec, "--out", second)[0]
    for name in ("results.parquet", "trades.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert pq.read_table(first / "trades.parquet").num_rows > 0  # the comparison compared something


def test_no_data_section_runs_on_goog_with_a_notice(capsys, tmp_path):
    spec = write_spec(tmp_path, "strategies: [{type: momentum, parameters: {lookback_period: 20}}]\n")
    out = out_dir(tmp_path)
    code, stdout, stderr = cli(capsys, "run", spec, "--out", out)
    assert 0 == code
    assert "note: no data.dataset, data.path or data.paths given; running on the bundled GOOG daily data\n" == stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert "GOOG" == manifest["data"]["source"]
    assert {"GOOG": 2148} == manifest["data"]["bars"]
    assert "on GOOG" in stdout


def test_start_and_end_alone_select_goog_between_the_dates(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {start: 2006-01-01, end: 2006-12-31}\n"
                                "strategies: [{type: momentum, parameters: {lookback_period: 20}}]\n")
    out = out_dir(tmp_path)
    code, _, stderr = cli(capsys, "run", spec, "--out", out)
    assert 0 == code
    assert "GOOG" in stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert "GOOG" == manifest["data"]["source"]
    assert {"GOOG": 251} == manifest["data"]["bars"]  # the trading days of 2006
    assert {"start": "2006-01-01", "end": "2006-12-31"} == manifest["spec"]["data"]


@pytest.mark.parametrize(("data", "is_default"), [
    ("{start: 2006-01-01, end: 2006-12-31}", True),
    ("{periods_per_year: 252}", True),
    ("{}", True),
    ("{dataset: GOOG, start: 2006-01-01}", False),
    ("{path: a.csv, start: 2006-01-01}", False),
    ("{paths: {A: a.csv}, end: 2006-01-01}", False),
])
def test_data_is_default_only_without_a_source(data, is_default):
    assert is_default == spec_from_text(f"data: {data}\nstrategies: [{{type: momentum}}]\n").data.is_default


def test_a_dataset_gets_no_notice(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {dataset: GOOG, start: 2006-01-01, end: 2006-12-31}\n"
                                "strategies: [{type: momentum}]\n")
    code, _, stderr = cli(capsys, "run", spec, "--out", out_dir(tmp_path))
    assert (0, "") == (code, stderr)


# --------------------------------------------------------------------------------------------
# run: bad specs


@pytest.mark.parametrize(("text", "fragments"), [
    pytest.param("strategies: [{type: sma_cross}]\n",
                 ["strategies[0].type='sma_cross'", "did you mean 'sma_crossover'"], id="unknown-component"),
    pytest.param("strategies: [{type: momentum, parameters: {lookback: 5}}]\n",
                 ["strategies[0].parameters.lookback", "no parameter 'lookback'"], id="unknown-parameter"),
    pytest.param("strategies: [{type: momentum, parameters: {lookback_period: ten}}]\n",
                 ["strategies[0].parameters.lookback_period='ten'", "integer"], id="wrong-type"),
    pytest.param("strategies: [{type: momentum, parameters: {lookback_period: -5}}]\n",
                 ["strategies[0].parameters.lookback_period=-5", ">= 1"], id="out-of-range"),
    pytest.param("strategies: [{type: momentum, parameters: {lookback_period: [10, 0]}}]\n",
                 ["strategies[0].parameters.lookback_period[1]=0"], id="out-of-range-in-grid"),
    pytest.param("strategies: [{type: momentum, parameters: {lookback_period: []}}]\n",
                 ["strategies[0].parameters.lookback_period=[]", "empty grid"], id="empty-grid"),
    pytest.param("strategies: [{type: sma_crossover, parameters: {fast_period: [50, 60], slow_period: [20, 30]}}]\n"
                 "constraints: [fast_period < slow_period]\n",
                 ["strategies[0]", "no combination satisfies", "fast_period < slow_period"],
                 id="empty-after-constraints"),
    pytest.param("strategies: [{type: momentum}]\nportfolio: {initial_cash: 0}\n",
                 ["portfolio.initial_cash=0"], id="bad-setting"),
    pytest.param("strategies: [{type: momentum}]\ndata: {dataset: GOOGL}\n",
                 ["data.dataset='GOOGL'", "GOOG"], id="unknown-dataset"),
    pytest.param("strategies: [{type: momentum}]\nobjective: profit\n",
                 ["objective='profit'", "sharpe"], id="unknown-objective"),
    pytest.param("strategies: []\n", ["strategies", "is empty"], id="no-strategies"),
    pytest.param("", ["a spec must be a mapping", "empty document"], id="empty-file"),
])
def test_bad_spec_is_refused(capsys, tmp_path, text, fragments):
    spec = write_spec(tmp_path, text)
    assert_refused(capsys, tmp_path, spec, *fragments)


def test_a_run_where_min_trades_leaves_nothing_to_select_fails_and_writes_nothing(capsys, tmp_path):
    spec = write_spec(tmp_path, "workflow: {type: optimization}\nmin_trades: 1000\n" + SMA)
    assert_refused(capsys, tmp_path, spec, "min_trades=1000: no combination has 1000 closed trades in the run")


def test_missing_spec_file(capsys, tmp_path):
    assert_refused(capsys, tmp_path, tmp_path / "nope.yaml", "no such spec file", "nope.yaml")


def test_spec_folder_instead_of_file(capsys, tmp_path):
    (tmp_path / "specdir").mkdir()
    assert_refused(capsys, tmp_path, tmp_path / "specdir", "is a folder")


def test_yaml_syntax_error_names_file_line_and_column(capsys, tmp_path):
    spec = write_spec(tmp_path, "strategies:\n  - type: momentum\n    parameters: {lookback_period: [10, 20}\n")
    assert_refused(capsys, tmp_path, spec, f"{spec}, line 3, column")


def test_yaml_python_tags_are_refused(capsys, tmp_path):
    marker = tmp_path / "executed"
    spec = write_spec(tmp_path, f"strategies: !!python/object/apply:os.system ['touch {marker}']\n")
    message = assert_refused(capsys, tmp_path, spec, f"{spec}, line 1", "tags such as !!python/object are refused")
    assert "python/object/apply:os.system" in message
    assert not marker.exists()


def test_duplicate_key_is_refused(capsys, tmp_path):
    spec = write_spec(tmp_path, "strategies: [{type: momentum}]\nstrategies: [{type: breakout}]\n")
    assert_refused(capsys, tmp_path, spec, f"{spec}, line 2", "duplicate key 'strategies'")


def test_the_seed_spec_runs_verbatim_with_regime_attribution(capsys, tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("hmmlearn")
    out = tmp_path / "seed"
    assert 0 == main(["run", str(SPECS / "seed.yaml"), "--out", str(out), "--top", "3"])
    printed = capsys.readouterr().out
    assert "24 lane(s)" in printed and "regime attribution" in printed
    assert {"results.parquet", "trades.parquet", "regime_stats.parquet", "regimes.parquet", "manifest.json"} == set(
        os.listdir(out))
    results = pq.read_table(out / "results.parquet")
    assert 24 == results.num_rows
    assert {"lookback_period", "signal_threshold", "classifier", "classifier_model_type", "classifier_lookback_days",
            "classifier_n_states", "classifier_regime_policy"} <= set(results.column_names)
    stats = pq.read_table(out / "regime_stats.parquet")
    assert ["combo_id", "symbol", "regime", "bars", "return_pct", "trades", "exposure_pct"] == stats.column_names
    assert set(results.column("combo_id").to_pylist()) == set(stats.column("combo_id").to_pylist())
    assert 4 == json.loads((out / "manifest.json").read_text())["classifier_fits"]


# --------------------------------------------------------------------------------------------
# run: bad data files


def with_row(index: int, row: str) -> list[str]:
    rows = good_rows()
    rows[index] = row
    return rows


# rows[i] is on line i + 2 (the header is line 1)
@pytest.mark.parametrize(("rows", "line", "fragment"), [
    pytest.param(with_row(5, "2020-01-02,100,101,99,100,1"), 7, "earlier than the previous row", id="unsorted"),
    pytest.param(with_row(5, "2020-01-05,100,101,99,100,1"), 7, "duplicate timestamp 2020-01-05", id="duplicate"),
    pytest.param(with_row(9, "2020-01-10,100,99,101,100,1"), 11, "high 99.0 is below low 101.0", id="high-below-low"),
    pytest.param(with_row(3, "2020-01-04,100,101,99,NaN,1"), 5, "close is missing", id="nan"),
    pytest.param(with_row(3, "2020-01-04,100,101,99,,1"), 5, "close is missing", id="empty-value"),
    pytest.param(with_row(3, "2020-01-04,100,inf,99,100,1"), 5, "high is inf: prices must be finite numbers",
                 id="infinite"),
    pytest.param(with_row(12, "2020-01-13,0,101,0,100,1"), 14, "open is 0.0, but prices must be positive",
                 id="zero-price"),
    pytest.param(with_row(12, "2020-01-13,-1,-1,-2,-1,1"), 14, "prices must be positive", id="negative-price"),
    pytest.param(with_row(7, "2020-01-08,abc,101,99,100,1"), 9, "cannot read open 'abc' as a number",
                 id="not-a-number"),
    pytest.param(with_row(7, "01/08/2020,100,101,99,100,1"), 9, "cannot read timestamp '01/08/2020'",
                 id="bad-timestamp"),
    pytest.param(with_row(7, "2020-01-08,100,101,99"), 9, "expected 6 fields", id="short-row"),
])
def test_malformed_csv_names_file_and_line(capsys, tmp_path, rows, line, fragment):
    spec = csv_spec(tmp_path, rows)
    assert_refused(capsys, tmp_path, spec, f"{tmp_path / 'bars.csv'}, line {line}: ", fragment)


def test_missing_columns_are_named(capsys, tmp_path):
    spec = csv_spec(tmp_path, [row.rsplit(",", 2)[0] for row in good_rows()], header="timestamp,open,high,low")
    assert_refused(capsys, tmp_path, spec, f"{tmp_path / 'bars.csv'}, line 1: ", "missing required column close")


def test_missing_data_file(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {path: nope.csv}\n" + SMA)
    assert_refused(capsys, tmp_path, spec, f"{tmp_path / 'nope.csv'}: file not found")


def test_empty_data_file(capsys, tmp_path):
    (tmp_path / "bars.csv").write_text("")
    spec = write_spec(tmp_path, "data: {path: bars.csv}\n" + SMA)
    assert_refused(capsys, tmp_path, spec, "bars.csv", "the file is empty")


def test_no_bars_between_the_bounds(capsys, tmp_path):
    write_csv(tmp_path, good_rows())
    spec = write_spec(tmp_path, "data: {path: bars.csv, start: 2021-01-01}\n" + SMA)
    assert_refused(capsys, tmp_path, spec, "bars.csv", "no bars between start 2021-01-01")


# --------------------------------------------------------------------------------------------
# run: the output folder


def test_existing_non_empty_out_is_refused_and_untouched(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    out = tmp_path / "runs" / "out"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    code, stdout, stderr = cli(capsys, "run", spec, "--out", out)
    assert (2, "") == (code, stdout)
    assert f"admf: error: {out}: already exists and is not empty" in stderr
    assert ["keep.txt"] == [p.name for p in out.iterdir()]
    assert "mine" == (out / "keep.txt").read_text()
    assert [out] == list(out.parent.iterdir())


def test_out_that_is_a_file_is_refused(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    out = tmp_path / "runs" / "out"
    out.parent.mkdir()
    out.write_text("mine")
    code, _, stderr = cli(capsys, "run", spec, "--out", out)
    assert 2 == code
    assert f"admf: error: {out}: is a file" in stderr
    assert "mine" == out.read_text()


def test_out_below_a_file_is_refused(capsys, tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    blocker = tmp_path / "runs"
    blocker.write_text("mine")
    code, _, stderr = cli(capsys, "run", spec, "--out", blocker / "out")
    assert 2 == code
    assert f"admf: error: {blocker / 'out'}: cannot create the run folder" in stderr
    assert "mine" == blocker.read_text()


def test_out_is_checked_before_running(capsys, tmp_path, monkeypatch):
    """A refused --out costs no run: the check happens before any data is read."""
    import pipelines.workflows.modes
    monkeypatch.setattr(pipelines.workflows.modes, "load_market_data", lambda *_: pytest.fail("data was read"))
    spec = csv_spec(tmp_path, good_rows())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert 2 == cli(capsys, "run", spec, "--out", out)[0]


# --------------------------------------------------------------------------------------------
# as a real process: exit codes and no traceback


def test_subprocess_happy_path(tmp_path):
    spec = csv_spec(tmp_path, good_rows())
    done = subprocess_cli("run", spec, "--out", "runs/out", cwd=tmp_path)
    assert (0, "") == (done.returncode, done.stderr)
    assert "top 4 of 4 by sharpe:" in done.stdout
    assert RUN_FILES == sorted(p.name for p in (tmp_path / "runs" / "out").iterdir())


@pytest.mark.parametrize(("make", "fragment"), [
    pytest.param(lambda d: write_spec(d, "strategies: [{type: momentum, parameters: {lookback_period: -5}}]\n"),
                 "strategies[0].parameters.lookback_period=-5", id="bad-parameter"),
    pytest.param(lambda d: csv_spec(d, with_row(9, "2020-01-10,100,99,101,100,1")), "bars.csv, line 11:",
                 id="bad-csv"),
    pytest.param(lambda d: write_spec(d, "strategies: !!python/object/apply:os.system ['echo pwned']\n"),
                 "tags such as !!python/object are refused", id="python-tag"),
    pytest.param(lambda d: d / "missing.yaml", "no such spec file", id="missing-spec"),
])
def test_subprocess_errors_exit_2_without_traceback(tmp_path, make, fragment):
    spec = make(tmp_path)
    done = subprocess_cli("run", spec, "--out", "runs/out", cwd=tmp_path)
    assert 2 == done.returncode
    assert "" == done.stdout
    assert "Traceback" not in done.stderr
    assert 1 == len(done.stderr.strip().splitlines())
    assert fragment in done.stderr
    assert not (tmp_path / "runs").exists()


def test_subprocess_usage_error_exits_2(tmp_path):
    done = subprocess_cli("run", cwd=tmp_path)
    assert 2 == done.returncode
    assert "Traceback" not in done.stderr
    assert "usage: admf run" in done.stderr


@pytest.mark.parametrize("classifier, fragments", [
    ("{type: trend_regime, parameters: {period: 30}}",
     ("classifiers[0]: trend_regime(period=30) fits on its first 252 bars", "bars has 40 bars",
      "give it more than 252 bars of data")),
    ("{type: volatility_regime, parameters: {period: 100}}",
     ("classifiers[0]: volatility_regime(period=100, quantile=0.5) fits on its first 400 bars",
      "give it more than 400 bars of data, or a shorter window")),
])
def test_a_classifier_that_can_never_label_a_bar_is_refused(capsys, tmp_path, classifier, fragments):
    """Every combination with it would stay flat, with NaN Sharpe and no word said."""
    write_csv(tmp_path, good_rows())
    spec = write_spec(tmp_path, "data: {path: bars.csv}\n" + SMA + f"classifiers: [{classifier}]\n")
    assert_refused(capsys, tmp_path, spec, *fragments)


OBJECTIVE = '''from fp.components import objective
@objective
def score(row):
    return row["sharpe"] / (row["slow_period"] - 8)  # 0 for slow_period 8: ZeroDivisionError
'''


@pytest.mark.parametrize("workflow", ["backtest", "optimization"])
def test_an_objective_that_raises_is_one_line_and_writes_nothing(capsys, tmp_path, author, workflow):
    """Today: exit 1 with a traceback (and, for a backtest, a run folder already written)."""
    author("author_objective", OBJECTIVE)
    write_csv(tmp_path, good_rows())
    spec = write_spec(tmp_path, f"workflow: {{type: {workflow}}}\ndata: {{path: bars.csv}}\n" + SMA
                      + "objective: author_objective:score\n")
    assert_refused(capsys, tmp_path, spec,
                   "objective='author_objective:score': raised ZeroDivisionError: float division by zero (",
                   "author_objective.py, line 4) on the row of combination ")


def test_a_run_piped_into_a_reader_that_stops_ends_quietly(tmp_path):
    """``admf run SPEC | head``: no BrokenPipeError traceback; the run folder is complete."""
    spec = csv_spec(tmp_path, good_rows())
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli.main", "run", str(spec), "--out", str(out)],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    process.stdout.close()  # the reader is gone before the first line is printed
    stderr = process.stderr.read().decode()
    assert (141, "") == (process.wait(timeout=120), stderr)
    assert RUN_FILES == sorted(p.name for p in out.iterdir())


def test_version_prints_the_installed_package_version(capsys):
    import importlib.metadata
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert 0 == info.value.code
    assert f"admf {importlib.metadata.version('admf')}\n" == capsys.readouterr().out


def test_an_undefined_pbo_is_null_in_the_manifest_and_printed_as_undefined(capsys, tmp_path):
    """A grid where nothing trades printed 'probability of backtest overfitting 1.00'."""
    out = tmp_path / "flat"
    spec = write_spec(tmp_path, "workflow: {type: optimization}\n"
                                "strategies: [{type: breakout, parameters: {period: [5000, 6000]}}]\n")
    code, stdout, _ = cli(capsys, "run", spec, "--out", out)
    assert 0 == code
    stats = json.loads((out / "manifest.json").read_text())["overfitting"]
    assert (None, None, None) == (stats["pbo"], stats["deflated_sharpe"], stats["sharpe"])
    assert stats["reasons"]["pbo"].startswith("no combination's returns vary on any in-sample half (nothing traded)")
    assert "probability of backtest overfitting undefined (no combination's returns vary" in stdout
    assert "deflated Sharpe ratio of the selection undefined (the selected combination's returns never vary" in stdout


def test_trace_on_a_shared_cash_spec_names_the_flag(capsys, tmp_path):
    """Issue 16: `--trace` on a shared-cash spec failed naming no flag (the spec's `trace:` was refused)."""
    spec = write_spec(tmp_path, "data: {dataset: GOOG}\nportfolio: {shared_cash: true}\n" + SMA)
    out = tmp_path / "traced"
    assert 2 == main(["run", str(spec), "--trace", "--out", str(out)])
    err = capsys.readouterr().err
    assert err.startswith("admf: error: --trace: tracing does not cover shared-cash portfolios yet") and "\n" == err[-1]
    assert "Traceback" not in err and not out.exists()


# --------------------------------------------------------------------------------------------
# lookahead and warmup

PEEK = """\
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("k", "int", 1, minimum=1),), features={"close": ref("price")})
def peek(p, f):
    close = np.asarray(f["close"], dtype=np.float64)
    ahead = np.append(close[p["k"]:], [np.nan] * p["k"]) if close.ndim else np.nan  # close[t + k]
    return np.where(ahead > close, 1.0, 0.0)
"""


def test_lookahead_exits_0_when_no_decision_changes(capsys, goog):
    code, stdout, stderr = cli(capsys, "lookahead", SPECS / "seed.yaml", "--combos", "3", "--cuts", "2")
    assert (0, "") == (code, stderr)
    lines = stdout.splitlines()
    assert lines[0] == (f"admf lookahead {SPECS / 'seed.yaml'}: optimization, 3 of 24 combinations (every component "
                        "and parameter value covered) on GOOG, 2 cut(s)")
    # 2147 bar times after the first; cut i at the (i * 2147 // 3)-th of them: bars 1 + 715 and 1 + 1431
    day = lambda bar: str(goog.time[bar].astype("datetime64[D]"))  # noqa: E731
    assert [f"  cut 1 at {day(716)} (GOOG bar 716)", f"  cut 2 at {day(1432)} (GOOG bar 1432)"] == lines[1:3]
    assert "no look-ahead: no decision before a cut changed" == lines[-1]


def test_lookahead_exits_1_and_names_the_strategy_reading_the_next_bar(capsys, tmp_path, author):
    author("cli_peek", PEEK)
    spec = write_spec(tmp_path, "data: {dataset: GOOG}\nstrategies:\n  - type: cli_peek:peek\n    parameters: {k: 1}\n"
                                "  - type: momentum\n")
    code, stdout, _ = cli(capsys, "lookahead", spec, "--cuts", "1")
    assert 1 == code
    rows = [line.split() for line in stdout.splitlines() if line.split()[1:2] == ["strategy"]]
    assert [["strategy", "cli_peek:peek(k=1)", "1073"]] == [row[1:4] for row in rows]  # cut 1 at bar 1074: 1074 - 1
    assert stdout.splitlines()[-1] == ("look-ahead found: decisions before a cut changed in 1 component(s) of 1 of 2 "
                                       "combination(s)")


@pytest.mark.parametrize("argv, fragment", [
    (["--combos", "2"], "--combos: 2: covering every component and parameter value of this spec takes 3 of its 24"),
    (["--cuts", "100000"], "--cuts: 100000: the data has 2147 bar time(s) after every symbol has begun"),
])
def test_lookahead_exits_2_on_bad_input(capsys, argv, fragment):
    code, stdout, stderr = cli(capsys, "lookahead", SPECS / "seed.yaml", *argv)
    assert (2, "") == (code, stdout)
    assert stderr.startswith("admf: error: ") and fragment in stderr and "Traceback" not in stderr


def test_lookahead_and_warmup_exit_2_on_a_bad_spec_as_a_subprocess(tmp_path):
    spec = write_spec(tmp_path, "strategies: [{type: momentum, parameters: {lookback_period: -5}}]\n")
    for command in ("lookahead", "warmup"):
        done = subprocess_cli(command, spec, cwd=tmp_path)
        assert 2 == done.returncode and "" == done.stdout
        assert done.stderr.startswith("admf: error: strategies[0].parameters.lookback_period=-5") and \
            "Traceback" not in done.stderr


def test_warmup_prints_the_table_and_warns_on_stderr(capsys):
    code, stdout, stderr = cli(capsys, "warmup", SPECS / "sma_crossover.yaml", "--tolerance", "1e-6")
    assert 0 == code
    lines = stdout.splitlines()
    assert lines[0] == (f"admf warmup {SPECS / 'sma_crossover.yaml'}: GOOG from the data's first bar (GOOG: 2004-08-19); "
                        "measured from 3 later start(s) (2005-09-13, 2006-10-05, 2007-10-31), tolerance 1e-06")
    assert ["feature", "sma(period=5)@close", "5", "4"] == lines[3].split()
    assert "" == stderr or stderr.startswith("warning: ")


def test_warmup_exits_2_on_a_bad_tolerance(capsys):
    code, stdout, stderr = cli(capsys, "warmup", SPECS / "sma_crossover.yaml", "--tolerance", "-1")
    assert (2, "") == (code, stdout)
    assert "admf: error: --tolerance: -1.0: must be a number at least 0" == stderr.strip()


def test_run_with_warmup_records_it_and_warns(capsys, tmp_path):
    spec = write_spec(tmp_path, "data: {dataset: GOOG}\nstrategies: [{type: macd_cross}]\n")
    code, _, stderr = cli(capsys, "run", spec, "--out", tmp_path / "out", "--warmup")
    assert 0 == code
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert 1 == len(manifest["warmup"]["lanes_trading_before_warmup"])
    assert "warning: 1 of 1 lane(s) trade before their warm-up is over" in stderr


# --------------------------------------------------------------------------------------------
# universes: a folder, a glob, a long file


def universe(tmp_path: Path) -> Path:
    """``data/`` with AAA.csv (40 bars) and BBB.csv (a late listing that delists early)."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder, good_rows(), name="AAA.csv")
    write_csv(folder, good_rows()[10:35], name="BBB.csv")
    return folder


def test_a_folder_runs_like_its_files_given_one_by_one(capsys, tmp_path):
    universe(tmp_path)
    folder = write_spec(tmp_path, "data: {path: data}\n" + SMA, "folder.yaml")
    paths = write_spec(tmp_path, "data: {paths: {AAA: data/AAA.csv, BBB: data/BBB.csv}}\n" + SMA, "paths.yaml")
    code, stdout, stderr = cli(capsys, "run", folder, "--out", tmp_path / "f")
    assert (0, "") == (code, stderr)
    assert "8 lane(s): 4 combination(s) × 2 symbol(s) on data (AAA: 40 bars, BBB: 25 bars)" in stdout
    code, stdout, stderr = cli(capsys, "run", paths, "--out", tmp_path / "p")
    assert (0, "") == (code, stderr)
    for name in ("results.parquet", "trades.parquet"):
        assert (tmp_path / "f" / name).read_bytes() == (tmp_path / "p" / name).read_bytes()


def test_a_run_on_many_symbols_counts_them(capsys, tmp_path):
    folder = universe(tmp_path)
    for i in range(6):
        write_csv(folder, good_rows(30 + i), name=f"S{i}.csv")
    spec = write_spec(tmp_path, "data: {path: 'data/*.csv'}\n" + SMA)
    code, stdout, stderr = cli(capsys, "run", spec, "--out", tmp_path / "out")
    assert (0, "") == (code, stderr)
    assert "32 lane(s): 4 combination(s) × 8 symbol(s) on data/*.csv (8 symbols, 25 to 40 bars each, 260 in all)" \
        in stdout
    code, stdout, stderr = cli(capsys, "plan", spec)
    assert "lanes (isolated portfolios): 32 = 4 combinations × 8 symbol(s) [AAA, BBB, S0, S1, S2 and 3 more]" in stdout
    shared = write_spec(tmp_path, "data: {path: 'data/*.csv'}\nportfolio: {shared_cash: true}\n" + SMA, "shared.yaml")
    code, stdout, stderr = cli(capsys, "run", shared, "--out", tmp_path / "shared")
    assert (0, "") == (code, stderr)
    assert " AAA+BBB+S0+… (8 symbols) " in stdout


@pytest.mark.parametrize(("data", "fragments"), [
    pytest.param("{path: empty}", ("data.path='empty': the folder", "holds no .csv, .parquet or .pq file"),
                 id="empty-folder"),
    pytest.param("{path: 'data/*.parquet'}", ("data.path='data/*.parquet': matches no file",), id="glob-matches-nothing"),
    pytest.param("{path: mixed}", ("mixed/BBB.csv, line 1: missing required columns high, low",), id="mixed-columns"),
    pytest.param("{path: twice}", ("data.path='twice': symbol 'AAA' comes from both", "AAA.csv and",
                                   "AAA.parquet: keep one file per symbol"), id="duplicate-symbols"),
    pytest.param("{path: corrupt}", ("corrupt/BBB.csv, line 5: cannot read close 'x' as a number",),
                 id="corrupt-file"),
    pytest.param("{path: data, symbols: [AAA, CCC]}", ("data.symbols[1]='CCC': is not in data",
                                                        "check the name or remove it"), id="symbol-not-there"),
])
def test_a_bad_universe_is_one_line_exit_2_and_nothing_written(capsys, tmp_path, data, fragments):
    universe(tmp_path)
    (tmp_path / "empty").mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_csv(mixed, good_rows(), name="AAA.csv")
    write_csv(mixed, [",".join(r.split(",")[::4]) for r in good_rows()], header="date,open,close", name="BBB.csv")
    twice = tmp_path / "twice"
    twice.mkdir()
    write_csv(twice, good_rows(), name="AAA.csv")
    pq.write_table(pa_csv.read_csv(twice / "AAA.csv"), twice / "AAA.parquet")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    write_csv(corrupt, good_rows(), name="AAA.csv")
    rows = good_rows()
    rows[3] = rows[3].rsplit(",", 2)[0] + ",x," + rows[3].rsplit(",", 1)[1]
    write_csv(corrupt, rows, name="BBB.csv")
    spec = write_spec(tmp_path, f"data: {data}\n" + SMA)
    assert_refused(capsys, tmp_path, spec, *fragments)
