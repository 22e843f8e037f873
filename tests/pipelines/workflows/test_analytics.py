"""SQL over run folders: views of the tables present, read-only queries, canned analyses, the CLI glue.

The run folders are built here with pyarrow (known numbers, a constructed causation chain), so
the tests do not depend on the engine; one end-to-end test runs the real engine.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fp.metrics import METRICS
from pipelines.cli.query import add_query_parser, query_command
from pipelines.workflows.analytics import (ANALYSES, causation, connect, correlation, query, QueryError, regimes, sensitivity, TABLES)
from state.errors import AdmfError

T0 = datetime(2024, 1, 1)
BARS = 50
TIMES = [T0 + timedelta(days=i) for i in range(BARS)]

#: combo_id -> (fast_period, slow_period)
COMBOS = {"c1": (5, 20), "c2": (5, 40), "c3": (10, 20), "c4": (10, 40)}
SHARPE = {"c1": 1.5, "c2": 0.5, "c3": -0.25, "c4": float("nan")}  # c4 never traded
RETURN = {"c1": 12.0, "c2": 4.0, "c3": -3.0, "c4": 0.0}


def results_table() -> pa.Table:
    ids = list(COMBOS)
    columns = {"combo_id": ids, "symbol": ["AAA"] * 4, "strategy": ["sma_crossover"] * 4,
               "fast_period": [COMBOS[c][0] for c in ids], "slow_period": [COMBOS[c][1] for c in ids]}
    for i, name in enumerate(METRICS):
        columns[name] = [float(i + k) for k in range(4)]
    columns["sharpe"] = [SHARPE[c] for c in ids]
    columns["total_return_pct"] = [RETURN[c] for c in ids]
    columns["n_trades"] = pa.array([2, 1, 1, 0], pa.int64())
    columns["n_rejected"] = pa.array([0, 0, 1, 0], pa.int64())
    return pa.table(columns)


def equity_curves() -> dict[str, np.ndarray]:
    """c2 is an exact copy of c1, c3 mostly its mirror image, c4 flat (never traded)."""
    rng = np.random.default_rng(7)
    r1 = rng.normal(0, 0.01, BARS - 1)
    r3 = -r1 + rng.normal(0, 0.004, BARS - 1)
    c1 = 10_000 * np.concatenate(([1.0], np.cumprod(1 + r1)))
    c3 = 10_000 * np.concatenate(([1.0], np.cumprod(1 + r3)))
    return {"c1": c1, "c2": c1.copy(), "c3": c3, "c4": np.full(BARS, 10_000.0)}


def equity_table() -> pa.Table:
    rows = [(t, c, "AAA", float(e)) for c, curve in equity_curves().items() for t, e in zip(TIMES, curve)]
    return pa.table({
        "time": pa.array([r[0] for r in rows], pa.timestamp("ns")),
        "combo_id": [r[1] for r in rows], "symbol": [r[2] for r in rows],
        "equity": [r[3] for r in rows], "cash": [r[3] for r in rows], "position": [0.0] * len(rows),
    })


TRADE_SCHEMA = pa.schema([
    ("combo_id", pa.string()), ("symbol", pa.string()),
    ("entry_time", pa.timestamp("ns")), ("entry_price", pa.float64()),
    ("exit_time", pa.timestamp("ns")), ("exit_price", pa.float64()),
    ("size", pa.float64()), ("pnl", pa.float64()),
])


def trades_table() -> pa.Table:
    # c1: a long from bar 4 to bar 10, reversed there into a short closed at bar 15; c2: one
    # long from bar 4 to bar 10; c3: a long opened at bar 20 and still open at the end.
    rows = [
        ("c1", "AAA", TIMES[4], 100.0, TIMES[10], 110.0, 10.0, 100.0),
        ("c1", "AAA", TIMES[10], 110.0, TIMES[15], 105.0, -10.0, 50.0),
        ("c2", "AAA", TIMES[4], 100.0, TIMES[10], 110.0, 5.0, 50.0),
        ("c3", "AAA", TIMES[20], 90.0, None, None, 3.0, 0.0),
    ]
    return pa.Table.from_pylist([dict(zip(TRADE_SCHEMA.names, r)) for r in rows], schema=TRADE_SCHEMA)


EVENT_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("correlation_id", pa.string()), ("causation_id", pa.int64()),
    ("sequence", pa.int64()), ("time", pa.timestamp("us")), ("bar_index", pa.int64()),
    ("kind", pa.string()), ("component", pa.string()), ("params", pa.string()),
    ("combo_id", pa.string()), ("symbol", pa.string()),
    ("target", pa.float64()), ("quantity", pa.float64()), ("price", pa.float64()),
    ("commission", pa.float64()), ("max_quantity", pa.float64()), ("reason", pa.string()),
])

_COMPONENT = {"SignalChanged": "strategy", "OrderSubmitted": "portfolio", "OrderApproved": "risk",
              "OrderFilled": "execution", "OrderRejected": "execution"}


def events_table() -> pa.Table:
    rows = []
    sequence: dict[str, int] = {}

    def emit(event_id, combo, kind, bar, cause=None, **payload):
        sequence[combo] = sequence.get(combo, 0) + 1
        rows.append({"event_id": event_id, "correlation_id": f"run1:{combo}:AAA", "causation_id": cause,
                     "sequence": sequence[combo], "time": TIMES[bar], "bar_index": bar, "kind": kind,
                     "component": _COMPONENT[kind], "params": json.dumps({"combo": combo}),
                     "combo_id": combo, "symbol": "AAA", **payload})

    def chain(first_id, combo, signal_bar, target, quantity, price):
        emit(first_id, combo, "SignalChanged", signal_bar, target=target)
        emit(first_id + 1, combo, "OrderSubmitted", signal_bar, first_id, target=target)
        emit(first_id + 2, combo, "OrderApproved", signal_bar, first_id + 1, target=target, max_quantity=math.inf)
        emit(first_id + 3, combo, "OrderFilled", signal_bar + 1, first_id + 2, quantity=quantity, price=price,
             commission=0.0)

    chain(1, "c1", 3, 1.0, 10.0, 100.0)      # opens trade 1 at bar 4
    chain(5, "c1", 9, -1.0, -20.0, 110.0)    # reversal at bar 10: closes trade 1, opens trade 2
    emit(9, "c1", "SignalChanged", 12, target=0.5)
    emit(10, "c1", "OrderSubmitted", 12, 9, target=0.5)
    emit(11, "c1", "OrderRejected", 13, 10, reason="insufficient_cash")
    chain(12, "c1", 14, 0.0, 10.0, 105.0)    # closes trade 2 at bar 15
    chain(101, "c2", 3, 1.0, 5.0, 100.0)     # c2: the same bars, other events
    chain(105, "c2", 9, 0.0, -5.0, 110.0)
    chain(201, "c3", 19, 1.0, 3.0, 90.0)     # c3: opened at bar 20, never closed
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


def regime_stats_table() -> pa.Table:
    rows = []
    for i, combo in enumerate(COMBOS):
        for regime in (0, 1):
            rows.append({"combo_id": combo, "symbol": "AAA", "regime": regime, "bars": 20 + 10 * regime,
                         "return_pct": float(i - 1 + 3 * regime), "trades": i + regime,
                         "exposure_pct": 10.0 * (i + 1) + regime})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("combo_id", pa.string()), ("symbol", pa.string()), ("regime", pa.int64()), ("bars", pa.int64()),
        ("return_pct", pa.float64()), ("trades", pa.int64()), ("exposure_pct", pa.float64())]))


def write_run(path, tables: dict[str, pa.Table]):
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}\n")
    for name, table in tables.items():
        pq.write_table(table, path / f"{name}.parquet")
    return path


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run", {
        "results": results_table(), "trades": trades_table(), "equity": equity_table(),
        "events": events_table(), "regime_stats": regime_stats_table()})


@pytest.fixture
def bare_run(tmp_path):
    """A run written without the optional tables: results and trades only."""
    return write_run(tmp_path / "bare", {"results": results_table(), "trades": trades_table()})


def views(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


# --- connect -------------------------------------------------------------------------------


def test_views_exist_only_for_the_tables_present(run_dir, bare_run):
    con = connect(bare_run)
    try:
        assert {"results", "trades"} == views(con)
    finally:
        con.close()
    con = connect(run_dir)
    try:
        assert {"results", "trades", "equity", "events", "regime_stats"} == views(con)
        assert 4 * BARS == con.execute("SELECT count(*) FROM equity").fetchone()[0]
    finally:
        con.close()


def test_a_partitioned_table_folder_is_one_view_with_its_partition_columns(tmp_path):
    run = write_run(tmp_path / "run", {"results": results_table()})
    events = events_table()
    for combo in ("c1", "c2"):
        part = run / "events" / f"part={combo}"
        part.mkdir(parents=True)
        pq.write_table(events.filter(pa.compute.equal(events.column("combo_id"), combo)), part / "0.parquet")
    (run / "trades").mkdir()  # a folder without Parquet files is no table
    got = query(run, "SELECT part, count(*) AS n FROM events GROUP BY part ORDER BY part").to_pylist()
    counts = {c: sum(1 for x in events.column("combo_id").to_pylist() if x == c) for c in ("c1", "c2")}
    assert [{"part": "c1", "n": counts["c1"]}, {"part": "c2", "n": counts["c2"]}] == got
    con = connect(run)
    try:
        assert {"results", "events"} == views(con)
    finally:
        con.close()


def test_a_path_with_quotes_is_escaped(tmp_path):
    run = write_run(tmp_path / "it's a \"run\"", {"results": results_table()})
    assert 4 == query(run, "SELECT count(*) AS n FROM results").column("n")[0].as_py()


def test_a_signal_store_gets_signals_and_combos_views(tmp_path):
    store = write_run(tmp_path / "store", {
        "signals": pa.table({"combo_id": ["s1", "s1"], "symbol": ["AAA", "AAA"], "bar_index": [3, 9],
                             "time": pa.array(TIMES[3:10:6], pa.timestamp("ns")), "value": [1.0, 0.0]}),
        "combos": pa.table({"combo_id": ["s1"], "strategy": ["sma_crossover"]})})
    got = query(store, "SELECT c.strategy, sum(s.value) AS v FROM signals s JOIN combos c USING (combo_id) GROUP BY 1")
    assert [{"strategy": "sma_crossover", "v": 1.0}] == got.to_pylist()


def test_a_missing_folder_is_a_query_error_naming_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(QueryError, match="no such folder") as info:
        connect(missing)
    assert str(missing) in str(info.value) and "results.parquet" in str(info.value)
    assert isinstance(info.value, AdmfError) and isinstance(info.value, ValueError)


def test_a_folder_without_tables_or_a_file_is_a_query_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text("{}")
    with pytest.raises(QueryError, match="holds none of results.parquet") as info:
        query(empty, "SELECT 1")
    assert str(empty) in str(info.value)
    file = tmp_path / "results.parquet"
    file.write_text("x")
    with pytest.raises(QueryError, match="is a file"):
        connect(file)


def test_a_corrupt_table_is_a_query_error_naming_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.parquet").write_text("not parquet")
    with pytest.raises(QueryError, match="table results cannot be read as Parquet"):
        connect(run)


# --- query ---------------------------------------------------------------------------------


def test_select_returns_the_expected_numbers(run_dir):
    got = query(run_dir, "SELECT fast_period, avg(total_return_pct) AS r, count(*) AS n "
                         "FROM results GROUP BY 1 ORDER BY 1")
    expected = [{"fast_period": f, "r": statistics.mean(RETURN[c] for c in COMBOS if COMBOS[c][0] == f),
                 "n": sum(1 for c in COMBOS if COMBOS[c][0] == f)} for f in (5, 10)]
    assert isinstance(got, pa.Table)
    assert expected == got.to_pylist()


def test_tables_join(run_dir):
    got = query(run_dir, "SELECT r.combo_id, sum(t.pnl) AS pnl FROM results r JOIN trades t USING (combo_id) "
                         "GROUP BY 1 ORDER BY 1")
    assert [{"combo_id": "c1", "pnl": 150.0}, {"combo_id": "c2", "pnl": 50.0},
            {"combo_id": "c3", "pnl": 0.0}] == got.to_pylist()


@pytest.mark.parametrize("sql", [
    "DESCRIBE results", "SHOW TABLES", "SUMMARIZE trades", "PRAGMA table_info('results')",
    "EXPLAIN SELECT * FROM results", "FROM results LIMIT 1", "-- a comment\n(SELECT 1 AS x)",
    "WITH best AS (SELECT * FROM results ORDER BY sharpe DESC LIMIT 1) SELECT combo_id FROM best",
    "select 1 as x;",
])
def test_reading_statements_run(run_dir, sql):
    assert query(run_dir, sql).num_rows >= 1


def test_a_typo_is_a_query_error_listing_the_views_and_their_columns(run_dir):
    with pytest.raises(QueryError) as info:
        query(run_dir, "SELECT sharp FROM results")
    message = str(info.value)
    assert message.splitlines()[0].startswith("Binder Error")
    assert '"sharpe"' in message  # DuckDB's candidate
    assert "results(combo_id, symbol, strategy, fast_period, slow_period, final_equity" in message
    for view in ("trades(", "equity(", "events(", "regime_stats("):
        assert view in message


@pytest.mark.parametrize("sql, first", [
    ("SELECT * FROM resuls", "Catalog Error"),
    ("SELEC 1", None),  # refused by keyword: not a reading statement
    ("SELECT FROM WHERE", "Parser Error"),
])
def test_bad_sql_is_a_query_error(run_dir, sql, first):
    with pytest.raises(QueryError) as info:
        query(run_dir, sql)
    if first:
        assert str(info.value).startswith(first)
        assert "views of" in str(info.value) and "results(" in str(info.value)


@pytest.mark.parametrize("sql", [
    "CREATE TABLE x AS SELECT * FROM results",
    "COPY results TO '{out}'",
    "COPY (SELECT * FROM results) TO '{out}'",
    "INSERT INTO results SELECT * FROM results",
    "ATTACH '{out}' AS other",
    "DROP VIEW results",
    "SELECT 1; DROP VIEW results",
    "WITH x AS (SELECT 1) INSERT INTO results SELECT * FROM x",
    "EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1",
    "EXPLAIN ANALYZE COPY results TO '{out}'",
    "PRAGMA threads=1",
    "PRAGMA enable_profiling",
    "SET threads = 1",
    "INSTALL httpfs",
    "LOAD httpfs",
    "EXPORT DATABASE '{out}'",
    "CALL pragma_table_info('results')",
    "  /* sneaky */ copy results to '{out}'",
    "",
    "-- nothing",
])
def test_statements_other_than_reads_are_refused_without_running(run_dir, tmp_path, sql):
    out = tmp_path / "written.out"
    with pytest.raises(QueryError):
        query(run_dir, sql.format(out=out))
    assert not out.exists()
    assert 4 == query(run_dir, "SELECT count(*) AS n FROM results").column("n")[0].as_py()


def test_a_refusal_says_the_query_is_read_only(run_dir):
    with pytest.raises(QueryError, match="COPY statements are refused: admf query is read-only"):
        query(run_dir, "COPY results TO 'x.csv'")


# --- sensitivity ---------------------------------------------------------------------------


def expected_sensitivity(metric_of: dict[str, float]) -> list[dict]:
    rows = []
    for i, parameter in enumerate(("fast_period", "slow_period")):
        for value in sorted({p[i] for p in COMBOS.values()}):
            values = [metric_of[c] for c, p in COMBOS.items() if p[i] == value and not math.isnan(metric_of[c])]
            rows.append({"parameter": parameter, "value": str(value), "mean": statistics.mean(values),
                         "median": statistics.median(values), "min": min(values), "max": max(values),
                         "n": len(values)})
    return rows


def test_sensitivity_marginalises_the_metric_per_parameter_value(run_dir):
    assert expected_sensitivity(SHARPE) == sensitivity(run_dir).to_pylist()
    assert expected_sensitivity(RETURN) == sensitivity(run_dir, metric="total_return_pct").to_pylist()


def test_sensitivity_orders_values_numerically_and_covers_settings_columns(tmp_path):
    results = pa.table({"combo_id": ["a", "b", "c"], "symbol": ["X"] * 3, "strategy": ["s"] * 3,
                        "lookback_period": [5, 10, 40], "execution_commission": [0.001, 0.001, 0.0],
                        "sharpe": [1.0, 2.0, 4.0]})
    got = sensitivity(write_run(tmp_path / "run", {"results": results})).to_pylist()
    assert [("lookback_period", "5"), ("lookback_period", "10"), ("lookback_period", "40"),
            ("execution_commission", "0.0"), ("execution_commission", "0.001")] == \
        [(r["parameter"], r["value"]) for r in got]
    assert {"mean": 1.5, "n": 2} == {k: got[-1][k] for k in ("mean", "n")}


def test_sensitivity_refuses_an_unknown_metric(run_dir):
    with pytest.raises(QueryError, match="metric='sharp': not a metric .* choose one of final_equity"):
        sensitivity(run_dir, metric="sharp")


SMALL_GRID = [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": [40, 80]}}]


def test_a_phased_run_is_queried_one_phase_at_a_time(tmp_path):
    import pipelines
    pipelines.run({"data": {"dataset": "GOOG", "split": {"train": 0.7}}, "phases": [
        {"name": "signals", "workflow": {"type": "signal_generation"}, "strategies": SMALL_GRID},
        {"name": "costs", "from": "signals", "workflow": {"type": "signal_replay"}, "top_k": 2,
         "execution": {"commission": [0.0, 0.002]}},
        {"name": "validate", "from": "costs", "workflow": {"type": "optimization"}}]}, out=tmp_path / "phased")
    with pytest.raises(QueryError, match="a run of phases, one folder each: query one phase, e.g. admf query "
                                         ".*phased/costs ...; phases: costs, signals, validate"):
        query(tmp_path / "phased", "SELECT * FROM signals")
    assert 4 == query(tmp_path / "phased" / "signals", "SELECT count(*) AS n FROM combos").column("n")[0].as_py()
    assert ["combo_id", "symbol", "bar_index", "time", "value"] == \
        query(tmp_path / "phased" / "signals", "SELECT * FROM signals LIMIT 1").column_names


def test_sensitivity_of_a_train_test_run_uses_the_training_metrics(tmp_path, capsys):
    import pipelines
    from pipelines.cli.main import main
    run = pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                         "strategies": SMALL_GRID}, out=tmp_path / "tt")
    rows = run.results.to_pylist()
    table = sensitivity(tmp_path / "tt")
    assert {b"metric": b"train_sharpe"} == table.schema.metadata
    fast5 = next(r for r in table.to_pylist() if (r["parameter"], r["value"]) == ("fast_period", "5"))
    assert statistics.mean(r["train_sharpe"] for r in rows if r["fast_period"] == 5) == pytest.approx(fast5["mean"])
    assert 2 == fast5["n"]
    assert {"fast_period", "slow_period"} == {r["parameter"] for r in table.to_pylist()}
    tested = sensitivity(tmp_path / "tt", metric="test_sharpe").to_pylist()
    assert 4 == sum(r["n"] for r in tested if r["parameter"] == "fast_period")  # every combination
    assert 0 == main(["query", str(tmp_path / "tt"), "--analysis", "sensitivity"])
    assert "note: a train/test run has every combination's metrics on both parts: train_sharpe, the part the " \
           "selection was made on, not sharpe (the out-of-sample metric: --metric test_sharpe)" \
        in capsys.readouterr().err


def test_correlation_of_a_train_test_run_is_over_the_training_part(tmp_path):
    import pipelines
    pipelines.run({"workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
                   "strategies": SMALL_GRID, "top_k": 4}, equity=True, out=tmp_path / "tt")
    pairs = correlation(tmp_path / "tt").to_pylist()
    assert 6 == len(pairs) and {1503} == {p["bars"] for p in pairs}  # 1,504 training bars, every combination


def test_sensitivity_of_a_walk_forward_run_is_refused_with_what_to_query(tmp_path):
    import pipelines
    pipelines.run({"workflow": {"type": "walk_forward", "train_bars": 500, "test_bars": 500},
                   "data": {"dataset": "GOOG"}, "strategies": SMALL_GRID}, out=tmp_path / "wf")
    with pytest.raises(QueryError, match="a walk-forward run: results.parquet holds one stitched out-of-sample row "
                                         "per symbol, not a parameter grid"):
        sensitivity(tmp_path / "wf")


# --- correlation ---------------------------------------------------------------------------


def test_correlation_ranks_pairs_of_equity_returns(run_dir):
    curves = equity_curves()
    returns = {c: curves[c][1:] / curves[c][:-1] - 1 for c in ("c1", "c2", "c3")}  # c4 is flat: left out
    expected = sorted(((float(np.corrcoef(returns[a], returns[b])[0, 1]), a, b)
                       for a, b in (("c1", "c2"), ("c1", "c3"), ("c2", "c3"))), key=lambda e: -e[0])
    got = correlation(run_dir).to_pylist()
    assert ["combo_a", "combo_b", "correlation", "symbol", "bars"] == list(got[0])
    assert [(a, b) for _, a, b in expected] == [(r["combo_a"], r["combo_b"]) for r in got]
    assert ("c1", "c2") == (got[0]["combo_a"], got[0]["combo_b"])
    assert got[0]["correlation"] == pytest.approx(1.0, abs=1e-12)
    for (value, _, _), row in zip(expected, got):
        assert row["correlation"] == pytest.approx(value, abs=1e-9)
        assert ("AAA", BARS - 1) == (row["symbol"], row["bars"])
    assert got[-1]["correlation"] < -0.8


def test_correlation_keeps_the_top_pairs(run_dir):
    got = correlation(run_dir, top=1).to_pylist()
    assert [("c1", "c2")] == [(r["combo_a"], r["combo_b"]) for r in got]
    with pytest.raises(QueryError, match="top=0: must be a positive integer"):
        correlation(run_dir, top=0)


def test_correlation_pairs_only_combinations_of_the_same_symbol(tmp_path):
    equity = equity_table()
    other = equity.set_column(2, "symbol", pa.array(["BBB"] * equity.num_rows))
    run = write_run(tmp_path / "run", {"equity": pa.concat_tables([equity, other])})
    got = correlation(run, top=100).to_pylist()
    assert 6 == len(got)
    assert [("c1", "c2", "AAA"), ("c1", "c2", "BBB")] == [(r["combo_a"], r["combo_b"], r["symbol"]) for r in got[:2]]


def test_correlation_without_equity_says_to_rerun_with_equity(bare_run):
    with pytest.raises(QueryError, match="no equity.parquet.*--equity.*equity: true"):
        correlation(bare_run)


# --- regimes -------------------------------------------------------------------------------


def test_regimes_summarise_performance_per_regime(run_dir):
    stats = regime_stats_table().to_pylist()
    expected = []
    for regime in (0, 1):
        rows = [r for r in stats if r["regime"] == regime]
        expected.append({"regime": regime, "n_combos": 4, "mean_bars": statistics.mean(r["bars"] for r in rows),
                         "mean_return_pct": statistics.mean(r["return_pct"] for r in rows),
                         "median_return_pct": statistics.median(r["return_pct"] for r in rows),
                         "mean_exposure_pct": statistics.mean(r["exposure_pct"] for r in rows),
                         "trades": sum(r["trades"] for r in rows)})
    assert expected == regimes(run_dir).to_pylist()


def test_regimes_group_by_results_parameters(run_dir):
    got = regimes(run_dir, by=["fast_period"]).to_pylist()
    assert [(5, 0), (5, 1), (10, 0), (10, 1)] == [(r["fast_period"], r["regime"]) for r in got]
    stats = {(r["combo_id"], r["regime"]): r for r in regime_stats_table().to_pylist()}
    assert statistics.mean([stats["c3", 1]["return_pct"], stats["c4", 1]["return_pct"]]) == got[3]["mean_return_pct"]
    assert 2 == got[3]["n_combos"]
    with pytest.raises(QueryError, match="by='sharpe': not a parameter column"):
        regimes(run_dir, by=["sharpe"])


def test_regimes_without_classifiers_say_so(bare_run):
    with pytest.raises(QueryError, match="no regime_stats.parquet.*classifiers"):
        regimes(bare_run)


# --- causation -----------------------------------------------------------------------------


def chain_of(table: pa.Table) -> list[tuple]:
    return [(r["leg"], r["event_id"], r["kind"]) for r in table.to_pylist()]


def test_causation_walks_a_trade_back_to_its_signal_and_on_to_its_close(run_dir):
    got = causation(run_dir, combo="c1")
    assert [("open", 1, "SignalChanged"), ("open", 2, "OrderSubmitted"), ("open", 3, "OrderApproved"),
            ("open", 4, "OrderFilled"),
            ("close", 5, "SignalChanged"), ("close", 6, "OrderSubmitted"), ("close", 7, "OrderApproved"),
            ("close", 8, "OrderFilled")] == chain_of(got)
    assert ["leg", "symbol", "event_id", "causation_id", "sequence", "time", "bar_index", "kind", "component",
            "target", "quantity", "price", "commission", "max_quantity", "reason", "params"] == got.column_names
    rows = got.to_pylist()
    assert [None, 1, 2, 3] == [r["causation_id"] for r in rows[:4]]
    assert (10.0, 100.0, 4) == (rows[3]["quantity"], rows[3]["price"], rows[3]["bar_index"])
    assert {"AAA"} == set(got.column("symbol").to_pylist())


def test_causation_of_a_reversal_shares_the_fill_and_skips_rejected_orders(run_dir):
    got = chain_of(causation(run_dir, combo="c1", trade=2))
    assert [("open", 5, "SignalChanged"), ("open", 6, "OrderSubmitted"), ("open", 7, "OrderApproved"),
            ("open", 8, "OrderFilled"),
            ("close", 12, "SignalChanged"), ("close", 13, "OrderSubmitted"), ("close", 14, "OrderApproved"),
            ("close", 15, "OrderFilled")] == got


def test_causation_picks_the_events_of_the_combination(run_dir):
    assert [101, 102, 103, 104, 105, 106, 107, 108] == [e for _, e, _ in chain_of(causation(run_dir, combo="c2"))]


def test_causation_of_an_open_trade_has_no_close_leg(run_dir):
    assert [("open", 201, "SignalChanged"), ("open", 202, "OrderSubmitted"), ("open", 203, "OrderApproved"),
            ("open", 204, "OrderFilled")] == chain_of(causation(run_dir, combo="c3"))


@pytest.mark.parametrize("options, message", [
    ({"combo": "c1", "trade": 3}, "trade=3: combo_id='c1' has 2 trade"),
    ({"combo": "c4"}, "combo_id='c4': made no trades; combinations with trades include c1, c2, c3"),
    ({"combo": "zz"}, "combo_id='zz': not a combination of"),
    ({"combo": "c1", "symbol": "BBB"}, "made no trades on BBB"),
    ({"combo": ""}, "needs a combination id"),
    ({"combo": "c1", "trade": 0}, "trade=0: must be a positive integer"),
])
def test_causation_reports_a_trade_it_cannot_find(run_dir, options, message):
    with pytest.raises(QueryError, match=message):
        causation(run_dir, **options)


def test_causation_without_events_says_to_rerun_with_the_trace(bare_run):
    with pytest.raises(QueryError, match="no events.parquet.*--trace"):
        causation(bare_run, combo="c1")


def test_causation_with_events_of_another_run_says_so(tmp_path):
    events = events_table()
    run = write_run(tmp_path / "run", {"results": results_table(), "trades": trades_table(),
                                       "events": events.filter(pa.compute.not_equal(events.column("event_id"), 4))})
    with pytest.raises(QueryError, match="no OrderFilled event of combo_id='c1' on AAA at entry_time"):
        causation(run, combo="c1")


def test_analyses_are_named():
    assert {"causation", "correlation", "regimes", "sensitivity"} == set(ANALYSES)
    assert {"results", "trades", "signals", "events", "equity", "regime_stats", "regimes", "windows", "symbol_stats",
            "combos"} == set(TABLES)


# --- the command ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="admf")
    add_query_parser(p.add_subparsers(dest="command", required=True))
    return p


def namespace(run_dir, sql=None, **options) -> argparse.Namespace:
    defaults = {"analysis": None, "metric": None, "top": None, "combo": None, "trade": None, "symbol": None,
                "by": None, "csv": False, "json": False}
    return argparse.Namespace(run_dir=str(run_dir), sql=sql, **{**defaults, **options})


SQL = "SELECT combo_id, sharpe FROM results ORDER BY combo_id"


def test_query_command_prints_a_table(run_dir, capsys):
    assert 0 == query_command(namespace(run_dir, SQL))
    lines = capsys.readouterr().out.splitlines()
    assert ["combo_id", "sharpe"] == lines[0].split()
    assert ["c1", "1.5000"] == lines[2].split()
    assert ["c4", "nan"] == lines[5].split()


def test_query_command_prints_csv(run_dir, capsys):
    assert 0 == query_command(namespace(run_dir, SQL, csv=True))
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert ["c1", "c2", "c3", "c4"] == [r["combo_id"] for r in rows]
    assert 1.5 == float(rows[0]["sharpe"])


def test_query_command_prints_json_lines(run_dir, capsys):
    assert 0 == query_command(namespace(run_dir, SQL, json=True))
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [{"combo_id": "c1", "sharpe": 1.5}, {"combo_id": "c2", "sharpe": 0.5},
            {"combo_id": "c3", "sharpe": -0.25}, {"combo_id": "c4", "sharpe": None}] == rows


def test_query_command_runs_an_analysis(run_dir, capsys):
    assert 0 == query_command(namespace(run_dir, analysis="causation", combo="c1", trade=2, json=True))
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [5, 6, 7, 8, 12, 13, 14, 15] == [r["event_id"] for r in rows]
    assert TIMES[10].isoformat() == rows[3]["time"]
    assert 0 == query_command(namespace(run_dir, analysis="correlation", top=1))
    assert ["c1", "c2", "1.0000", "AAA", "49"] == capsys.readouterr().out.splitlines()[2].split()


@pytest.mark.parametrize("make, message", [
    (lambda d: namespace(d, "SELECT sharp FROM results"), "Binder Error"),
    (lambda d: namespace(d / "missing", SQL), "no such folder"),
    (lambda d: namespace(d, "COPY results TO 'x.csv'"), "read-only"),
    (lambda d: namespace(d, SQL, analysis="sensitivity"), "either SQL or --analysis"),
    (lambda d: namespace(d), "either SQL or --analysis"),
    (lambda d: namespace(d, SQL, top=3), "--top applies to --analysis correlation only"),
    (lambda d: namespace(d, analysis="sensitivity", combo="c1"), "--combo applies to --analysis causation"),
    (lambda d: namespace(d, analysis="causation"), "needs a combination id"),
])
def test_query_command_reports_errors_on_stderr_with_exit_code_2(run_dir, capsys, make, message):
    assert 2 == query_command(make(run_dir))
    captured = capsys.readouterr()
    assert "" == captured.out
    assert captured.err.startswith("admf: error: ")
    assert message in captured.err


def test_query_command_on_a_missing_folder(tmp_path, capsys):
    assert 2 == query_command(namespace(tmp_path / "nope", SQL))
    err = capsys.readouterr().err
    assert err.startswith(f"admf: error: {tmp_path / 'nope'}: no such folder")


def test_the_parser_takes_sql_or_an_analysis(run_dir):
    args = parser().parse_args(["query", str(run_dir), SQL, "--csv"])
    assert (SQL, None, True, query_command) == (args.sql, args.analysis, args.csv, args.func)
    args = parser().parse_args(["query", str(run_dir), "--analysis", "correlation", "--top", "3"])
    assert (None, "correlation", 3) == (args.sql, args.analysis, args.top)


@pytest.mark.parametrize("argv", [
    ["query", "RUN"],                                                # neither
    ["query", "RUN", "SELECT 1", "--analysis", "sensitivity"],       # both
    ["query", "RUN", "--analysis", "nope"],
    ["query", "RUN", "--analysis", "correlation", "--top", "0"],
    ["query", "RUN", "SELECT 1", "--csv", "--json"],
])
def test_the_parser_exits_2_on_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(argv)
    assert 2 == info.value.code


# --- end to end ----------------------------------------------------------------------------


def test_queries_a_run_of_the_real_engine(tmp_path):
    import pipelines
    result = pipelines.run({"strategies": [{"type": "sma_crossover",
                                            "parameters": {"fast_period": [5, 10], "slow_period": [20, 40]}}]},
                           out=tmp_path / "run")
    got = query(tmp_path / "run", "SELECT fast_period, avg(sharpe) AS sharpe FROM results GROUP BY 1 ORDER BY 1")
    rows = result.results.to_pylist()
    expected = [{"fast_period": f, "sharpe": pytest.approx(statistics.mean(r["sharpe"] for r in rows
                                                                          if r["fast_period"] == f))}
                for f in (5, 10)]
    assert expected == got.to_pylist()
    table = sensitivity(tmp_path / "run")
    assert [("fast_period", "5"), ("fast_period", "10"), ("slow_period", "20"), ("slow_period", "40")] == \
        list(zip(table.column("parameter").to_pylist(), table.column("value").to_pylist()))
    assert [2, 2, 2, 2] == table.column("n").to_pylist()
    by_slow = {r["slow_period"]: [] for r in rows}
    for r in rows:
        by_slow[r["slow_period"]].append(r["sharpe"])
    assert pytest.approx(max(by_slow[40])) == table.column("max")[3].as_py()


def test_nan_is_answered_exactly_despite_nan_blind_parquet_statistics(run_dir):
    # pyarrow's min/max statistics leave NaN out; DuckDB must not trust them to fold NaN away.
    got = query(run_dir, "SELECT count(*) FILTER (WHERE isnan(sharpe)) AS nans, max(sharpe) AS top, "
                         "list(combo_id ORDER BY combo_id) FILTER (WHERE isnan(sharpe)) AS ids FROM results")
    row = got.to_pylist()[0]
    assert (1, ["c4"]) == (row["nans"], row["ids"]) and math.isnan(row["top"])
    assert ["c4"] == query(run_dir, "SELECT combo_id FROM results WHERE isnan(sharpe)").column("combo_id").to_pylist()


def test_correlation_over_many_combinations_matches_a_full_correlation_matrix(tmp_path):
    rng = np.random.default_rng(3)
    n, bars = 300, 30  # more combinations than one block of the pairwise product
    base = rng.normal(0, 0.01, (bars - 1, 1))
    returns = base * rng.uniform(-1, 1, n) + rng.normal(0, 0.01, (bars - 1, n))
    curves = 100 * np.vstack([np.ones(n), np.cumprod(1 + returns, axis=0)])
    ids = [f"k{i:03d}" for i in range(n)]
    equity = pa.table({"time": pa.array(np.tile(np.array(TIMES[:bars], "datetime64[ns]"), n)),
                       "combo_id": np.repeat(ids, bars), "symbol": ["AAA"] * (n * bars),
                       "equity": curves.T.ravel(), "cash": [0.0] * (n * bars), "position": [0.0] * (n * bars)})
    got = correlation(write_run(tmp_path / "run", {"equity": equity}), top=10).to_pylist()
    full = np.corrcoef((curves[1:] / curves[:-1] - 1).T)
    i, j = np.triu_indices(n, 1)
    best = np.argsort(-full[i, j])[:10]
    assert [(ids[i[b]], ids[j[b]]) for b in best] == [(r["combo_a"], r["combo_b"]) for r in got]
    assert full[i[best], j[best]] == pytest.approx([r["correlation"] for r in got], abs=1e-12)


def test_without_duckdb_every_entry_point_names_the_extra(run_dir, monkeypatch, capsys):
    import sys

    from state.errors import MissingExtraError
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingExtraError, match=r'pip install -e "\.\[query\]"'):
        query(run_dir, SQL)
    assert 2 == query_command(namespace(run_dir, SQL))
    assert "admf: error: admf query needs the optional package 'duckdb'" in capsys.readouterr().err
