"""Shared-cash portfolios: hand-worked fills on misaligned timelines, runs from a spec, errors."""
import attrs
import numpy as np
import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines.engine.patterns import FULL_BACKTEST, container_for
from pipelines.engine.portfolios import fold_portfolios
from state.errors import SpecError
from state.events import REJECTION_REASONS
from state.market import Bars
from state.orders import OrderRules
from state.portfolio import LaneSettings, RiskLimits

DAY = np.timedelta64(1, "D")
T0 = np.datetime64("2024-01-01T00:00", "ns")


def flat_bars(symbol, days, hour, opens, closes):
    time = T0 + np.array(days) * DAY + np.timedelta64(hour, "h")
    opens, closes = np.array(opens, float), np.array(closes, float)
    return Bars(symbol, time, opens, np.maximum(opens, closes), np.minimum(opens, closes), closes,
                np.full(len(closes), 1e6), 2)


def one_lane(fraction):
    return LaneSettings(initial_cash=np.array([1000.0]), fraction=np.array([fraction]), whole=np.array([True]),
                        long_only=np.array([True]), max_position=np.array([np.inf]), commission=np.array([0.0]),
                        slippage=np.array([0.0]), fill_on_close=np.array([False]))


def test_hand_worked_two_symbols_on_misaligned_timelines():
    # A trades at midnight every day; B at noon, with no bar on day 2.
    a = flat_bars("A", [0, 1, 2, 3, 4], 0, [10, 10, 12, 12, 12], [10, 12, 12, 12, 12])
    b = flat_bars("B", [0, 1, 3, 4], 12, [10, 10, 10, 10], [10, 10, 10, 10])
    changes = [[(np.array([0]), np.array([1.0]))],  # A: long from its first close
               [(np.array([0, 1]), np.array([1.0, 0.0]))]]  # B: long, then flat after its second bar
    out = fold_portfolios(container_for(FULL_BACKTEST), one_lane(0.3), changes, (a, b),
                          [OrderRules.market(np.array([1]))] * 2, np.zeros((1, 2), bool))
    # merged: d0 00, d0 12, d1 00, d1 12, d2 00, d3 00, d3 12, d4 00, d4 12
    assert 9 == len(out.time)
    # A buys 0.3 × 1000 / 10 = 30 at d1 00:00. B buys at d1 12:00 with equity 700 + 30 × 12 (A's
    # close at d1 00:00, the latest before noon) = 1060: 0.3 × 1060 / 10 = 31 units. B's exit,
    # signalled on d1, fills at B's next bar, d3 12:00 (B has no bar on d2: nothing forward-filled).
    assert [2, 3, 6] == out.fills.bar.tolist()
    assert [0, 1, 1] == out.fill_symbol.tolist()
    assert [30.0, 31.0, -31.0] == out.fills.quantity.tolist()
    assert [10.0, 10.0, 10.0] == out.fills.price.tolist()
    assert [700.0, 390.0, 700.0] == out.change_cash.tolist()
    assert 700.0 == out.final_cash[0] and [30.0, 0.0] == out.final_positions[0].tolist()
    curve, gross = out.equity(0, 1000.0)
    assert [1000, 1000, 1060, 1060, 1060, 1060, 1060, 1060, 1060] == curve.tolist()
    assert [0, 0, 360, 670, 670, 670, 360, 360, 360] == gross.tolist()
    assert [0, 1] == (out.trades.lane % 2).tolist() and [30.0, 31.0] == out.trades.size.tolist()


def test_an_open_fill_marks_the_other_holdings_at_their_close_before_it():
    # at day 2's open A has not closed yet (it closes at 20): B is sized on A's day-1 close (10)
    a = flat_bars("A", [0, 1, 2, 3], 0, [10, 10, 10, 20], [10, 10, 20, 20])
    b = flat_bars("B", [0, 1, 2, 3], 0, [10, 10, 10, 10], [10, 10, 10, 10])
    changes = [[(np.array([0]), np.array([1.0]))], [(np.array([1]), np.array([1.0]))]]
    out = fold_portfolios(container_for(FULL_BACKTEST), one_lane(0.3), changes, (a, b),
                          [OrderRules.market(np.array([1]))] * 2, np.zeros((1, 2), bool))
    assert [1, 2] == out.fills.bar.tolist() and [30.0, 30.0] == out.fills.quantity.tolist()


def test_concentration_caps_a_symbol_against_the_portfolios_other_holdings():
    # A opens alone (nothing to be concentrated against); B may hold at most 40 % of the gross
    # exposure: value ≤ 0.4 × 300 / 0.6 = 200, 20 units instead of the 30 its sizing asks for
    a = flat_bars("A", [0, 1, 2, 3], 0, [10] * 4, [10] * 4)
    b = flat_bars("B", [0, 1, 2, 3], 0, [10] * 4, [10] * 4)
    changes = [[(np.array([0]), np.array([1.0]))], [(np.array([1]), np.array([1.0]))]]
    nan = np.array([np.nan])
    settings = attrs.evolve(one_lane(0.3), limits=RiskLimits(nan, nan, nan, nan, nan, np.array([0.4]), nan, nan,
                                                             np.array([False])), uniform=None)
    out = fold_portfolios(container_for(FULL_BACKTEST), settings, changes, (a, b),
                          [OrderRules.market(np.array([1]))] * 2, np.zeros((1, 2), bool))
    assert [30.0, 20.0] == out.fills.quantity.tolist()


@pytest.mark.parametrize("limit, halted", [(0.2, True), (0.3, False)])
def test_the_drawdown_halt_watches_the_whole_portfolio_between_its_fills(limit, halted):
    # A (midnight) is bought with half the equity, closes at 5 on day 2 and back at 10 on day 3:
    # between its fills the portfolio fell to 500 + 50 × 5 = 750, 25 % below its peak, though it
    # is whole again when B's entry comes (noon, day 3). A 20 % drawdown limit refuses that entry
    # for the rest of the run; under a 30 % one it goes through.
    a = flat_bars("A", [0, 1, 2, 3, 4], 0, [10, 10, 10, 5, 10], [10, 10, 5, 10, 10])
    b = flat_bars("B", [0, 1, 2, 3, 4], 12, [10] * 5, [10] * 5)
    changes = [[(np.array([0]), np.array([1.0]))], [(np.array([2]), np.array([1.0]))]]
    nan = np.array([np.nan])
    settings = attrs.evolve(one_lane(0.5), limits=RiskLimits(nan, nan, nan, nan, nan, nan, nan, np.array([limit]),
                                                             np.array([False])), uniform=None)
    out = fold_portfolios(container_for(FULL_BACKTEST), settings, changes, (a, b),
                          [OrderRules.market(np.array([1]))] * 2, np.zeros((1, 2), bool))
    if halted:
        assert [50.0] == out.fills.quantity.tolist()
        assert ["max_drawdown"] == [REJECTION_REASONS[r] for r in out.rejections.reason]
        assert [1] == out.rejection_symbol.tolist()
    else:
        assert [50.0, 50.0] == out.fills.quantity.tolist()  # 0.5 × 1000 / 10
        assert 0 == len(out.rejections.reason)


def test_a_buy_spends_only_the_cash_the_portfolio_has():
    # all in: A takes the whole equity, B's buy finds no cash left and is refused
    a = flat_bars("A", [0, 1, 2], 0, [10, 10, 10], [10, 10, 10])
    b = flat_bars("B", [0, 1, 2], 12, [10, 10, 10], [10, 10, 10])
    changes = [[(np.array([0]), np.array([1.0]))], [(np.array([0]), np.array([1.0]))]]
    out = fold_portfolios(container_for(FULL_BACKTEST), one_lane(1.0), changes, (a, b),
                          [OrderRules.market(np.array([1]))] * 2, np.zeros((1, 2), bool))
    assert [100.0] == out.fills.quantity.tolist() and 0.0 == out.final_cash[0]
    assert [1] == out.rejection_symbol.tolist()


def write_csv(path, bars):
    rows = ["Date,Open,High,Low,Close,Volume"]
    rows += [f"{np.datetime_as_string(t, 'm').replace('T', ' ')},{o},{h},{l},{c},{v:.0f}"
             for t, o, h, l, c, v in zip(bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume)]
    path.write_text("\n".join(rows) + "\n")


def two_symbol_spec(tmp_path, **portfolio):
    n = 400
    rng = np.random.default_rng(7)
    for symbol, hour, drop in (("AAA", 0, 5), ("BBB", 12, 3)):
        keep = np.arange(n) % drop != 1
        close = np.round(100 * np.cumprod(1 + rng.normal(0, 0.02, n)), 2)[keep]
        opens = np.round(close * (1 + rng.normal(0, 0.003, len(close))), 2)
        write_csv(tmp_path / f"{symbol}.csv", flat_bars(symbol, np.arange(n)[keep], hour, opens, close))
    return {"data": {"paths": {"AAA": str(tmp_path / "AAA.csv"), "BBB": str(tmp_path / "BBB.csv")}},
            "portfolio": {"shared_cash": True, "sizing": "fixed_fraction", "fraction": 0.5, **portfolio},
            "execution": {"commission": 0.001}, "exits": {"stop_loss": [0.03, 0.1]},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": 30}}]}


def test_a_shared_cash_spec_runs_one_portfolio_per_combination(tmp_path):
    result = pipelines.run(two_symbol_spec(tmp_path), out=tmp_path / "run")
    rows = result.results.to_pylist()
    assert 4 == len(rows) and {"AAA+BBB"} == {r["symbol"] for r in rows}
    stats = pq.read_table(tmp_path / "run" / "symbol_stats.parquet").to_pylist()
    assert 8 == len(stats) and {"AAA", "BBB"} == {s["symbol"] for s in stats}
    trades = result.trades.to_pylist()
    for r in rows:
        mine = [s for s in stats if s["combo_id"] == r["combo_id"]]
        assert r["n_trades"] == sum(s["n_trades"] for s in mine)
        assert r["final_equity"] == pytest.approx(10_000.0 + sum(s["net_pnl"] for s in mine), abs=1e-6)
        assert r["commission"] == pytest.approx(sum(s["commission"] for s in mine))
        assert {"AAA", "BBB"} == {t["symbol"] for t in trades if t["combo_id"] == r["combo_id"]}
    final = result.final.to_pylist()
    assert 8 == len(final) and all(f["cash"] == final[0]["cash"] for f in final[:2])


def test_shared_cash_research_statistics_are_each_portfolios_own(tmp_path, monkeypatch):
    """Computed for every portfolio at once, the research statistics equal the per-portfolio
    definitions on its own curve (the equity on the merged timeline) and closed trades, bit for bit."""
    from fp.ledger import compress_equity
    from fp.metrics import research_statistics
    from pipelines.engine import portfolios
    folds = []
    monkeypatch.setattr(portfolios, "fold_portfolios", lambda *a: folds.append(fold_portfolios(*a)) or folds[-1])
    rows = pipelines.run(two_symbol_spec(tmp_path)).results.to_pylist()
    (folded,) = folds
    owner = folded.trades.lane // len(folded.symbols)
    for i, row in enumerate(rows):
        curve, gross = folded.equity(i, 10_000.0)
        closed = folded.trades.take(np.flatnonzero((owner == i) & folded.trades.closed))
        expected = research_statistics(compress_equity(curve, gross), closed, folded.marks, folded.time)
        assert expected["best_trade_pct"] == expected["best_trade_pct"]  # the portfolios trade
        for name, value in expected.items():
            got = np.datetime64(row[name]) if name in ("start", "end") else row[name]
            assert value == got or (np.isnan(value) and np.isnan(got)), name


def test_shared_cash_is_not_a_grid(tmp_path):
    spec = two_symbol_spec(tmp_path, shared_cash=[True, False])
    with pytest.raises(SpecError, match="portfolio.shared_cash"):
        pipelines.run(spec)


@pytest.mark.parametrize("extra, where", [
    ({"workflow": {"type": "walk_forward", "train_bars": 100, "test_bars": 50}}, "portfolio.shared_cash"),
    ({"trace": True}, "trace"),
])
def test_shared_cash_refuses_what_it_does_not_support(tmp_path, extra, where):
    with pytest.raises(SpecError, match=where):
        pipelines.run({**two_symbol_spec(tmp_path), **extra})


def test_chunked_processes_give_the_same_portfolio_tables(tmp_path):
    spec = two_symbol_spec(tmp_path)
    local = pipelines.run(spec)
    chunked = pipelines.run({**spec, "executor": {"type": "processes", "workers": 2, "memory_limit": "1MB"}})
    for name in ("results", "trades", "symbol_stats", "final"):
        assert getattr(local, name).equals(getattr(chunked, name)), name


def test_symbol_stats_is_a_sql_view_of_the_run(tmp_path):
    pytest.importorskip("duckdb")
    from pipelines.workflows.analytics import query
    pipelines.run(two_symbol_spec(tmp_path), out=tmp_path / "run")
    table = query(tmp_path / "run", "SELECT symbol, count(*) AS n FROM symbol_stats GROUP BY 1 ORDER BY 1")
    assert [("AAA", 4), ("BBB", 4)] == list(zip(*(table.column(c).to_pylist() for c in ("symbol", "n"))))


def test_replaying_stored_signals_into_shared_cash_portfolios_equals_the_backtest(tmp_path):
    spec = two_symbol_spec(tmp_path)
    store = pipelines.generate_signals({"data": spec["data"], "strategies": spec["strategies"]})
    pipelines.write_store(store, tmp_path / "signals")
    replayed = pipelines.replay({"workflow": {"type": "signal_replay"}, "signals": str(tmp_path / "signals"),
                                 **{k: spec[k] for k in ("data", "portfolio", "execution", "exits")}})
    backtest = pipelines.run(spec)
    for name in ("results", "trades", "symbol_stats"):
        assert getattr(backtest, name).equals(getattr(replayed, name)), name


FRAGILE = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("period", "int", 10, minimum=2),), features=lambda p: {"close": ref("price")})
def fragile(p, f):
    if p["period"] == 7 and len(f["close"]) < 300:  # fails on BBB (267 bars) only, not on AAA (320)
        raise ValueError("period 7 is not supported")
    return np.sign(np.diff(f["close"], prepend=f["close"][0]))
'''


def test_a_combination_failing_on_one_symbol_is_an_error_row_and_trades_no_symbol(tmp_path, author):
    author("portfolio_fragile", FRAGILE)
    spec = {**two_symbol_spec(tmp_path), "strategies": [{"type": "portfolio_fragile:fragile",
                                                         "parameters": {"period": [5, 7]}}]}
    result = pipelines.run(spec)
    rows = {r["period"]: r for r in result.results.to_pylist()}
    assert rows[5]["status"] == "ok" and rows[5]["final_equity"] is not None
    assert rows[7]["status"] == "error" and "period 7 is not supported" in rows[7]["error"]
    assert rows[7]["final_equity"] is None
    assert not [t for t in result.trades.to_pylist() if t["combo_id"] == rows[7]["combo_id"]]
