"""Law: ``admf plan`` counts what ``admf run`` runs, for every workflow (issue 19, item 10).

For generated specs — strategy entries with their own exits or not, settings grids, and every
workflow: backtest, optimization, train/test, walk-forward, signal generation, a replay of a
store on disk, and phases — the plan's lanes are the run's result rows (a walk-forward: the lanes
each window runs, one stitched row per symbol), and the printed combination count is the product
(or sum of products) it says it is.
"""
import re

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from law_harness import laws

import pipelines
from fp.testing import bars
from pipelines.cli.terminal import format_plan
from state.market import MarketData

LAWS = laws(12, HealthCheck.function_scoped_fixture)


def _subset(values):
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True)


@st.composite
def strategy_entries(draw):
    entries = []
    for kind in draw(st.lists(st.sampled_from(["sma_crossover", "momentum"]), min_size=1, max_size=2, unique=True)):
        if kind == "sma_crossover":
            entry = {"type": kind, "parameters": {"fast_period": draw(_subset([2, 3])),
                                                  "slow_period": draw(_subset([5, 8]))}}
        else:
            entry = {"type": kind, "parameters": {"lookback_period": draw(_subset([2, 4, 6]))}}
        if draw(st.booleans()):
            entry["exits"] = {"stop_loss": draw(_subset([0.02, 0.05, 0.1]))}
        entries.append(entry)
    return entries


@st.composite
def settings_sections(draw):
    sections = {}
    if draw(st.booleans()):
        sections["execution"] = {"commission": draw(_subset([0.0, 0.001, 0.002]))}
    if draw(st.booleans()):
        sections["portfolio"] = {"direction": draw(_subset(["long_only", "long_short"]))}
    if draw(st.booleans()):
        sections["exits"] = {"take_profit": draw(_subset([0.05, 0.1]))}
    return sections


WORKFLOWS = ["backtest", "optimization", "train_test", "walk_forward", "signal_generation", "signal_replay",
             "phases"]


def _numbers(text: str) -> int:
    """The value of a printed count formula such as ``8 × 1 × 4 [strategies[0]] + 4 × 1 × 2 [...]``."""
    text = re.sub(r"\[[^\]]*\]\]?", "", re.sub(r"\([^)]*\)", "", text))
    total = 0
    for term in text.split("+"):
        numbers = [int(n) for n in re.findall(r"\d+", term.split("−")[0])]
        dropped = [int(n) for n in re.findall(r"\d+", term.split("−")[1])] if "−" in term else [0]
        product = 1
        for n in numbers:
            product *= n
        total += product - dropped[0]
    return total


def assert_counts_add_up(printed: str) -> None:
    for line in printed.splitlines():
        if line.strip().startswith("combinations:"):
            count, formula = line.split(":", 1)[1].split("=", 1)
            if "selected" in formula and "×" not in formula:
                continue  # "3 = 3 selected (...), each with its settings"
            assert int(count) == _numbers(formula), line


def rows_of(result) -> int:
    if isinstance(result, pipelines.SignalStore):
        return result.combos.num_rows
    return result.results.num_rows


@pytest.mark.parametrize("workflow", WORKFLOWS)
@LAWS
@given(data=bars(min_size=40, max_size=70, symbol="GOOG"), strategies=strategy_entries(),
       sections=settings_sections(), top_k=st.integers(1, 3))
def test_the_plan_counts_what_the_run_runs(tmp_path_factory, workflow, data, strategies, sections, top_k):
    market = MarketData((data,), "generated", f"gen-{len(data)}", 252.0)
    spec = {"strategies": strategies, **sections, "top_k": top_k}
    if workflow in ("backtest", "optimization", "walk_forward"):
        spec["workflow"] = {"type": workflow}
        if workflow == "walk_forward":
            spec["workflow"].update(train_bars=20, test_bars=10)
    elif workflow == "train_test":
        spec.update(workflow={"type": "optimization"}, data={"split": {"train": 0.6}})
    elif workflow == "signal_generation":
        spec = {"workflow": {"type": "signal_generation"}, "strategies": strategies}
    elif workflow == "signal_replay":
        store = tmp_path_factory.mktemp("store") / "signals"
        pipelines.generate_signals({"strategies": strategies}, out=store, market=market)
        spec = {"workflow": {"type": "signal_replay"}, "signals": str(store), **sections}
    else:
        spec = {"data": {"split": {"train": 0.6}}, "phases": [
            {"name": "signals", "workflow": {"type": "signal_generation"}, "strategies": strategies},
            {"name": "costs", "from": "signals", "workflow": {"type": "signal_replay"}, "top_k": top_k, **sections},
            {"name": "validate", "from": "costs", "workflow": {"type": "optimization"},
             **({"execution": {"commission": [0.0, 0.003]}} if top_k == 2 else {})}]}
    the_plan = pipelines.plan(spec)
    assert_counts_add_up(format_plan(the_plan))
    result = pipelines.run(spec, market=market)
    if workflow == "phases":
        assert [p.name for p in the_plan] == [name for name, _ in result.phases]
        for phase in the_plan:
            assert phase.plan.n_lanes == rows_of(result[phase.name]), phase.name
    elif workflow == "walk_forward":
        assert the_plan.n_lanes == result.plan.n_lanes and len(the_plan.symbols) == result.results.num_rows
        assert {c.combo_id for c in the_plan.combos} >= set(result.windows.column("combo_id").to_pylist())
    else:
        assert the_plan.n_lanes == rows_of(result)
