"""Train/test, walk-forward, objectives and phases on GOOG: shapes, selection rules and errors."""

import attrs
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines.workflows.optimize import walk_forward_windows
from state.errors import SpecError

GRID = [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10, 20], "slow_period": [40, 80]}}]


def test_train_test_shows_train_and_test_metrics_side_by_side():
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                       "strategies": GRID, "top_k": 2})
    rows = r.results.to_pylist()
    assert 6 == len(rows) and 2 == sum(row["selected"] for row in rows)
    assert {"train_sharpe", "test_sharpe", "selected", "rank"} <= set(r.results.column_names)
    assert all(row["test_final_equity"] is not None for row in rows)  # every combination was tested
    ranked = r.ranked().to_pylist()
    assert [1, 2] == [ranked[0]["rank"], ranked[1]["rank"]]
    assert ranked[0]["train_sharpe"] >= ranked[1]["train_sharpe"]
    assert {"train", "test"} == set(r.trades.column("part").to_pylist())
    assert r.manifest["overfitting"]["n_trials"] == 6
    # CSCV's blocks: 1,503 training returns of 1,504 bars, the first 15 left out, 16 blocks of 93
    assert {"n_blocks": 16, "n_returns": 1503, "dropped_returns": 15, "block_returns": 93} == \
        {k: r.manifest["overfitting"][k] for k in ("n_blocks", "n_returns", "dropped_returns", "block_returns")}


def test_train_test_tests_every_combination_as_if_run_alone_on_the_test_part():
    """Issue 15: out-of-sample metrics for every combination, not only the selected ones; each is
    the metric of that combination run alone on the test part (the trades too)."""
    from fp.metrics import METRICS
    from pipelines.engine.evaluate import run_plan
    from pipelines.engine.signals import fitted, split_index
    split = ("train", 0.7)
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                       "strategies": GRID, "top_k": 2})
    for row in r.results.to_pylist():
        combo = next(c for c in r.plan.combos if c.combo_id == row["combo_id"])
        alone = run_plan(attrs.evolve(r.plan, combos=(combo,)), r.market,
                         signals=fitted(lambda b: (0, split_index(split, b))),
                         window=lambda b: (split_index(split, b), len(b)))
        (expected,) = alone.results.to_pylist()
        assert {m: expected[m] for m in METRICS} == {m: row[f"test_{m}"] for m in METRICS}
        tested = r.trades.filter(pc.and_(pc.equal(r.trades.column("combo_id"), combo.combo_id),
                                         pc.equal(r.trades.column("part"), "test")))
        assert alone.trades.to_pylist() == tested.drop_columns(["part"]).to_pylist()


def test_train_test_equity_has_the_training_curve_of_every_combination_and_the_test_curve_of_the_selected(tmp_path):
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                       "strategies": GRID, "top_k": 2}, equity=True, out=tmp_path / "tt")
    curves = pq.read_table(tmp_path / "tt" / "equity.parquet")
    assert {"time", "combo_id", "symbol", "equity", "cash", "position", "part"} == set(curves.column_names)
    rows = curves.to_pylist()
    assert 6 * 1504 == sum(row["part"] == "train" for row in rows)
    selected = {row["combo_id"]: row for row in r.results.to_pylist() if row["selected"]}
    tested = [row for row in rows if row["part"] == "test"]
    assert 2 * 644 == len(tested) and set(selected) == {row["combo_id"] for row in tested}
    for combo_id, result in selected.items():
        last = [row["equity"] for row in tested if row["combo_id"] == combo_id][-1]
        assert result["test_final_equity"] == last
    for row in r.results.to_pylist():
        last = [x["equity"] for x in rows if x["part"] == "train" and x["combo_id"] == row["combo_id"]][-1]
        assert row["train_final_equity"] == last


def test_cscv_leaves_out_the_first_returns_that_do_not_fill_a_block():
    """The run's statistics (from per-block aggregates of the compressed curves) are those of the
    dense returns of its equity curves, the first returns that fill no block left out."""
    from fp.overfitting import probability_of_backtest_overfitting, selection_statistics
    from pipelines.engine.tables import bar_returns
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG"}, "strategies": GRID},
                      equity=True)
    stats = r.manifest["overfitting"]
    ids = r.results.column("combo_id").to_pylist()
    curves = r.equity.to_pandas().pivot(index="time", columns="combo_id", values="equity")[ids].to_numpy()
    matrix = bar_returns(curves)
    assert (2147, 3, 134) == (stats["n_returns"], stats["dropped_returns"], stats["block_returns"])
    kept = matrix[stats["dropped_returns"]:]
    assert stats["pbo"] == probability_of_backtest_overfitting(kept, n_blocks=16).probability
    assert stats["pbo"] != probability_of_backtest_overfitting(matrix[:-3], n_blocks=16).probability
    dense = selection_statistics(matrix, ids.index(stats["selected"]), n_blocks=16)
    assert {k: stats[k] for k in dense} == dense


def test_min_trades_guards_the_selection():
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                       "strategies": GRID, "top_k": 6, "min_trades": 25})
    chosen = [row for row in r.results.to_pylist() if row["selected"]]
    assert chosen and all(row["train_n_trades"] >= 25 for row in chosen)
    assert len(chosen) < 6


@pytest.mark.parametrize("doc, where", [
    ({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}}},
     "on the training part"),
    ({"workflow": {"type": "optimization"}}, "in the run"),
    ({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 250}},
     "on the training bars of walk-forward window 1 of GOOG"),
])
def test_min_trades_above_every_combination_refuses_the_run(doc, where):
    with pytest.raises(SpecError, match=f"min_trades=60: no combination has 60 closed trades {where} "
                                        r"\(the most is (\d+)\), so none can be selected; lower min_trades") as info:
        pipelines.run({**doc, "strategies": GRID, "min_trades": 60})
    most = int(str(info.value).split("the most is ")[1].split(")")[0])
    if "split" in doc.get("data", {}):
        assert most == max(pipelines.run({**doc, "strategies": GRID}).results.column("train_n_trades").to_pylist())
    elif doc["workflow"]["type"] == "optimization":
        assert most == max(pipelines.run({**doc, "strategies": GRID}).results.column("n_trades").to_pylist())


def test_an_objective_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_objectives.py").write_text("from fp.components import objective\n\n\n@objective\ndef calmar(row):\n    return row['cagr_pct'] / row['max_drawdown_pct']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    r = pipelines.run({"workflow": {"type": "optimization"}, "strategies": GRID,
                       "objective": "my_objectives:calmar"})
    best = r.ranked().to_pylist()[0]
    assert best["cagr_pct"] / best["max_drawdown_pct"] == max(x["cagr_pct"] / x["max_drawdown_pct"]
                                                               for x in r.results.to_pylist())


def test_a_function_objective_is_a_column_of_the_results(tmp_path, monkeypatch):
    (tmp_path / "calmar_objectives.py").write_text(
        "from fp.components import objective\n\n\n@objective\ndef calmar(row):\n    return row['cagr_pct'] / row['max_drawdown_pct']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = pipelines.run({"workflow": {"type": "optimization"}, "strategies": GRID,
                           "objective": "calmar_objectives:calmar"}, out=tmp_path / "plain")
    for row in pq.read_table(tmp_path / "plain" / "results.parquet").to_pylist():
        assert row["cagr_pct"] / row["max_drawdown_pct"] == row["objective"]
    split = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                           "strategies": GRID, "objective": "calmar_objectives:calmar", "top_k": 2})
    for row in split.results.to_pylist():
        assert row["train_cagr_pct"] / row["train_max_drawdown_pct"] == row["train_objective"]
        assert row["test_cagr_pct"] / row["test_max_drawdown_pct"] == row["test_objective"]
    assert [1, 2] == [r["rank"] for r in sorted(split.results.to_pylist(), key=lambda r: -r["train_objective"])[:2]]
    walk = pipelines.run({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 500}, "strategies": GRID,
                          "objective": "calmar_objectives:calmar"})
    for row in walk.windows.to_pylist():
        assert row["test_cagr_pct"] / row["test_max_drawdown_pct"] == row["test_objective"]
    assert "objective" in walk.results.column_names
    # a metric objective is a column already
    assert "objective" not in pipelines.run({"workflow": {"type": "optimization"}, "strategies": GRID}).results.column_names


def test_a_missing_objective_function_is_a_spec_error(tmp_path, monkeypatch):
    with pytest.raises(SpecError, match="cannot import module 'nowhere_at_all'"):
        pipelines.plan({"strategies": GRID, "objective": "nowhere_at_all:f"})
    (tmp_path / "objs.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SpecError, match="module 'objs' has no attribute 'missing'"):
        pipelines.plan({"strategies": GRID, "objective": "objs:missing"})


def test_walk_forward_windows_roll_and_anchor():
    assert [(0, 4, 4, 6), (2, 6, 6, 8), (4, 8, 8, 10)] == walk_forward_windows(10, train_bars=4, test_bars=2,
                                                                              step_bars=2, anchored=False)
    assert [] == walk_forward_windows(4, train_bars=4, test_bars=2, step_bars=None, anchored=False)


def test_the_last_walk_forward_window_tests_the_bars_left():
    assert [(0, 4, 4, 6), (2, 6, 6, 7)] == walk_forward_windows(7, train_bars=4, test_bars=2, step_bars=None,
                                                                anchored=False)
    assert [(0, 4, 4, 7), (0, 7, 7, 8)] == walk_forward_windows(8, train_bars=4, test_bars=3, step_bars=None,
                                                                anchored=True)


def test_walk_forward_on_goog_has_a_window_table_and_a_stitched_curve():
    r = pipelines.run({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 250},
                       "data": {"dataset": "GOOG"}, "strategies": GRID})
    # 2,148 bars: six full windows test bars 500-1999, a seventh the 148 bars left
    assert 7 == r.windows.num_rows and 6 * 250 + 148 == r.equity.num_rows
    assert [250] * 6 + [148] == r.windows.column("test_bars").to_pylist()
    assert {"window", "train_start", "train_end", "test_start", "test_end", "fast_period", "slow_period",
            "train_sharpe", "test_sharpe"} <= set(r.windows.column_names)
    (row,) = r.results.to_pylist()
    assert 7 == row["windows"] and 1648 == row["out_of_sample_bars"]
    assert str(r.windows.column("test_end")[-1].as_py())[:10] == "2013-03-01"  # the last bar is tested
    assert ["walk-forward window 7 of GOOG tests the 148 bars left after the last full window (test_bars: 250); "
            "its test metrics cover fewer bars than the others'"] == r.manifest["warnings"]


@pytest.mark.parametrize("doc, message", [
    ({"workflow": {"type": "walk_forward", "train_bars": 3000, "test_bars": 100}}, "one window needs"),
    ({"workflow": {"type": "optimization"}, "data": {"split": {"train": 0.9999}}}, "leaves .* test bars"),
    ({"workflow": {"type": "optimization"}, "data": {"split": {"train_end": "2020-01-01"}}}, "leaves .* 0 test bars"),
    ({"workflow": {"type": "walk_forward", "test_bars": 10}}, "workflow.train_bars: required"),
    ({"workflow": {"type": "backtest", "train_bars": 10}}, "only applies with workflow.type: walk_forward"),
    ({"data": {"split": {"train": 1.0}}}, "must be below 1"),
])
def test_impossible_splits_are_refused(doc, message):
    with pytest.raises(SpecError, match=message):
        pipelines.run({**doc, "strategies": GRID})


PHASES = {
    "data": {"dataset": "GOOG", "split": {"train": 0.7}},
    "phases": [
        {"name": "signals", "workflow": {"type": "signal_generation"}, "strategies": GRID},
        {"name": "costs", "from": "signals", "workflow": {"type": "signal_replay"}, "top_k": 3,
         "execution": {"commission": [0.0, 0.002]}},
        {"name": "validate", "from": "costs", "workflow": {"type": "optimization"}},
    ]}


def test_phases_before_the_last_see_only_the_training_part():
    result = pipelines.run(PHASES)
    costs, validate = result["costs"], result["validate"]
    assert {"GOOG": 1504} == costs.manifest["data"]["bars"] == result["signals"].manifest["data"]["bars"]
    assert {"GOOG": 2148} == validate.manifest["data"]["bars"]
    # the replay ranked on the training part: its metrics are the validation's training metrics
    trained = {r["combo_id"]: r for r in validate.results.to_pylist()}
    ranked = costs.ranked().to_pylist()
    assert {r["combo_id"] for r in ranked[:3]} == set(trained)
    for row in ranked[:3]:
        assert row["sharpe"] == trained[row["combo_id"]]["train_sharpe"]
    # sma 10/40 at commission 0.002: 1.1299 on the training part, 0.9677 on all 2,148 bars
    assert 1.1299 == round(next(r for r in ranked if r["fast_period"] == 10 and r["slow_period"] == 40
                                and r["execution_commission"] == 0.002)["sharpe"], 4)


def test_the_deflated_sharpe_of_phases_counts_every_trial_of_every_phase():
    result = pipelines.run(PHASES)
    stats = result["validate"].manifest["overfitting"]
    assert 12 == stats["n_trials"] and {"costs": 12, "validate": 3} == stats["trials_by_phase"]
    assert stats == result.manifest["overfitting"]
    # the same statistics as one optimization of the 12 on the training part (same trials and bars)
    whole = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "end": "2010-08-09"},
                           "strategies": GRID, "execution": {"commission": [0.0, 0.002]}})
    assert 1504 == whole.manifest["data"]["bars"]["GOOG"]
    same = whole.manifest["overfitting"]
    assert same["selected"] == stats["selected"]
    for key in ("pbo", "deflated_sharpe", "expected_max_sharpe", "sharpe", "n_trials", "pbo_splits"):
        assert same[key] == stats[key], key


@pytest.mark.parametrize("doc, message", [
    ({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 250}},
     "data.split: not used by workflow.type walk_forward: walk-forward takes its training and test parts from "
     "workflow.train_bars"),
    ({"workflow": {"type": "backtest"}}, "data.split: not used by workflow.type backtest"),
    ({"workflow": {"type": "signal_generation"}}, "data.split: not used by workflow.type signal_generation"),
    ({"workflow": {"type": "signal_replay"}, "signals": "somewhere", "strategies": None},
     "data.split: not used by workflow.type signal_replay: a replay evaluates its store's signals on all the bars"),
    ({"phases": [{"name": "grid", "workflow": {"type": "optimization"}, "strategies": GRID},
                 {"name": "costs", "from": "grid", "execution": {"commission": [0.0, 0.001]}}]},
     r"phases\[1\].data.split: with phases, every phase but the last runs on the training part and the last "
     "validates on the test part, so it must be an optimization \\(it is a backtest\\)"),
    ({"phases": [{"name": "grid", "workflow": {"type": "optimization"}, "strategies": GRID, "data": {"dataset": "GOOG"}},
                 {"name": "check", "from": "grid", "workflow": {"type": "optimization"}}]},
     r"phases\[0\].data.split: the phases share one split"),
])
def test_a_split_the_workflow_would_ignore_is_refused(doc, message):
    doc = {"data": {"dataset": "GOOG", "split": {"train": 0.7}}, "strategies": GRID, **doc}
    doc = {k: v for k, v in doc.items() if v is not None and not ("phases" in doc and k == "strategies")}
    with pytest.raises(SpecError, match=message):
        pipelines.plan(doc)


def test_a_split_fits_the_classifiers_of_a_backtest():
    spec = pipelines.load_spec({"data": {"dataset": "GOOG", "split": {"train": 0.7}}, "strategies": GRID,
                                "classifiers": [{"type": "trend_regime", "parameters": {"period": 50}}]})
    assert ("train", 0.7) == spec.data.split


def test_phases_generate_replay_top_k_then_validate_out_of_sample(tmp_path):
    result = pipelines.run({
        "data": {"dataset": "GOOG", "split": {"train": 0.7}},
        "phases": [
            {"name": "signals", "workflow": {"type": "signal_generation"}, "strategies": GRID},
            {"name": "costs", "from": "signals", "workflow": {"type": "signal_replay"}, "top_k": 3,
             "execution": {"commission": [0.0, 0.002]}},
            {"name": "validate", "from": "costs", "workflow": {"type": "optimization"}},
        ]}, out=tmp_path / "phased")
    assert 12 == result["costs"].results.num_rows
    validated = result["validate"].results.to_pylist()
    assert 3 == len(validated) and 1 == sum(r["selected"] for r in validated)
    assert {"signals", "costs", "validate", "manifest.json"} == {p.name for p in (tmp_path / "phased").iterdir()}


ABOVE_THE_HIGH = '''
import math
import numpy as np
from fp.classifiers import Classifier, RegimeModel
from fp.components import Param, ref, strategy

@strategy(params=(Param("size", "float", 1.0, minimum=0.0),), features={"close": ref("price")})
def always_long(p, f):
    return np.full(len(f["close"]), p["size"])

def _fit(p, bars, train_end):
    return RegimeModel("above_the_high", 2, train_end, (0, 1), (math.nan, math.nan), float(bars.close[:train_end].max()))

def _label(p, model, bars, train_end):
    labels = np.full(len(bars), np.nan)
    labels[train_end:] = (bars.close[train_end:] > model.detail).astype(float)
    return labels

above_the_high = Classifier("above_the_high", (Param("unused", "int", 1, minimum=1),), _fit, _label)
'''


def test_walk_forward_refits_classifiers_on_each_windows_training_bars(author, goog):
    """Each window's test labels come from a fit on that window's training bars only: regime 1
    above the highest training close. Gated, an always-long strategy enters at the open after
    every close that rises above that high."""
    author("above_the_high_components", ABOVE_THE_HIGH)
    r = pipelines.run({"workflow": {"type": "walk_forward", "train_bars": 300, "test_bars": 200},
                       "data": {"dataset": "GOOG"},
                       "strategies": [{"type": "above_the_high_components:always_long"}],
                       "classifiers": [{"type": "above_the_high_components:above_the_high"}]})
    close, time = goog.close, goog.time
    entries = {window: [] for window in range(1, r.windows.num_rows + 1)}
    for row in r.trades.to_pylist():
        entries[row["window"]].append(np.datetime64(row["entry_time"], "ns"))
    for window, (start, end) in enumerate(((s, e) for s, e, _, _ in walk_forward_windows(
            len(goog), train_bars=300, test_bars=200, step_bars=None, anchored=False)), start=1):
        stop = min(end + 200, len(goog))
        above = close[end:stop] > close[start:end].max()
        rising = np.flatnonzero(above & ~np.concatenate(([False], above[:-1]))) + end
        expected = [time[t + 1] for t in rising if t + 1 < stop]
        assert expected == entries[window], window
    assert sum(map(len, entries.values())) > 3  # the windows do trade


FAILS_ON_ONE = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("period", "int", 2, minimum=1),), features=lambda p: {"r": ref("returns", period=p["period"])})
def fails_on_one(p, f):
    if p["period"] == 1:
        raise ValueError("period 1 is not supported")
    return np.sign(f["r"])
'''


def test_overfitting_statistics_leave_out_a_combination_that_failed(author):
    author("fails_on_one_components", FAILS_ON_ONE)
    r = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG"},
                       "strategies": [{"type": "fails_on_one_components:fails_on_one",
                                       "parameters": {"period": [1, 2, 3, 5]}}]})
    rows = r.results.to_pylist()
    assert ["error", "ok", "ok", "ok"] == [row["status"] for row in rows]
    stats = r.manifest["overfitting"]
    assert 3 == stats["n_trials"]
    assert max(rows[1:], key=lambda row: row["sharpe"])["combo_id"] == stats["selected"]
