"""Metrics pinned on small hand-worked curves."""
import math

import attrs
import numpy as np
import pytest

from fp.ledger import compress_equity
from fp.metrics import METRICS, metrics


def test_hand_worked_metrics():
    equity = np.array([100.0, 110.0, 99.0, 121.0])
    m = metrics(compress_equity(equity, np.array([0.0, 1.0, 1.0, 0.0])), np.array([30.0, -9.0]), 1.5,
                initial_cash=100.0, periods_per_year=4.0, years=0.75)
    r = np.array([0.1, -0.1, 121.0 / 99.0 - 1.0])
    assert list(METRICS) == list(m)
    assert m["final_equity"] == 121.0
    assert m["total_return_pct"] == pytest.approx(21.0)
    assert m["cagr_pct"] == pytest.approx((1.21 ** (1 / 0.75) - 1) * 100)
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * 2.0)
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(0.01 / 3) * 2.0)
    assert m["max_drawdown_pct"] == pytest.approx(10.0)
    assert (2, 50.0) == (m["n_trades"], m["win_rate_pct"])
    assert m["profit_factor"] == pytest.approx(30.0 / 9.0)
    assert (50.0, 1.5) == (m["exposure_pct"], m["commission"])


def test_no_trades_and_flat_curves_give_nan_not_errors():
    m = metrics(compress_equity(np.full(5, 100.0), np.zeros(5)), np.empty(0), 0.0, initial_cash=100.0,
                periods_per_year=252.0, years=1.0)
    assert math.isnan(m["sharpe"]) and math.isnan(m["win_rate_pct"]) and math.isnan(m["profit_factor"])
    assert (0.0, 0.0, 0) == (m["max_drawdown_pct"], m["exposure_pct"], m["n_trades"])


def test_only_winners_give_an_infinite_profit_factor():
    m = metrics(compress_equity(np.array([100.0, 101.0]), np.zeros(2)), np.array([1.0]), 0.0, initial_cash=100.0,
                periods_per_year=252.0, years=1.0)
    assert math.isinf(m["profit_factor"])


def test_metrics_of_a_compressed_curve_equal_the_full_formulas():
    rng = np.random.default_rng(3)
    position = np.repeat(rng.choice([0.0, 5.0, -3.0], 40), rng.integers(1, 30, 40))
    equity = 1000.0 + np.cumsum(rng.normal(0, 3, len(position)) * (position != 0))
    m = metrics(compress_equity(equity, position), np.empty(0), 0.0, initial_cash=1000.0, periods_per_year=252.0, years=2.0)
    r = equity[1:] / equity[:-1] - 1.0
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252.0), rel=1e-10)
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(252.0), rel=1e-10)
    peak = np.maximum.accumulate(equity)
    assert m["max_drawdown_pct"] == pytest.approx(np.max(1 - equity / peak) * 100, rel=1e-12)
    assert m["exposure_pct"] == pytest.approx(np.count_nonzero(position) / len(position) * 100)


from hypothesis import given, settings
from hypothesis import strategies as st

from fp.metrics import max_drawdown


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.floats(-0.05, 0.05), min_size=1, max_size=3000), st.sampled_from([4, 16, 256]))
def test_max_drawdown_by_blocks_equals_the_direct_formula(steps, block):
    values = 1000.0 * np.cumprod(1.0 + np.array(steps))
    direct = 1.0 - float(np.min(values / np.maximum.accumulate(values)))
    assert direct == max_drawdown(values, block=block)


def test_metrics_do_not_depend_on_how_many_threads_blas_uses():
    """Sharpe and Sortino reduce with numpy's own (single-threaded, order-fixed) sums, never BLAS:
    a multi-threaded BLAS splits a long dot product by thread count, so a Dask worker (one
    thread) and the local process (one per core) would round differently."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(3)
    equity = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, 200_000))
    curve = compress_equity(equity, np.ones(len(equity)))
    def run():
        return metrics(curve, np.array([1.0]), 0.0, initial_cash=10_000.0, periods_per_year=252.0, years=1.0)
    many = run()
    with threadpoolctl.threadpool_limits(1):
        one = run()
    assert (many["sharpe"], many["sortino"]) == (one["sharpe"], one["sortino"])


# ---- research statistics (issue 14): hand-worked; tests/peers cross-checks them with backtesting.py

from fp.ledger import equity_points
from fp.metrics import RESEARCH_METRICS, buy_hold_return_pct, drawdown_statistics, trade_statistics
from state.ledger import Trades

DAYS = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-08", "2024-01-09",
                 "2024-01-10"], "datetime64[ns]")


def trades_of(entry_bar, exit_bar, entry_price, size, pnl) -> Trades:
    n = len(pnl)
    return Trades(np.zeros(n, np.int64), np.array(entry_bar), np.array(entry_price, float), np.array(exit_bar),
                  np.full(n, np.nan), np.array(size, float), np.array(pnl, float), np.ones(n, bool))


def test_hand_worked_drawdown_episodes_durations_and_calendar_days():
    # peaks 100 (bar 0), 120 (bar 1), 125 (bar 3); episodes: bar 2 (deepest 90/120, recovered at bar 3)
    # and bars 4-6 (deepest 100/125, never recovered: it ends at the last bar)
    equity = np.array([100.0, 120.0, 90.0, 125.0, 112.5, 100.0, 100.0])
    s = drawdown_statistics(compress_equity(equity, np.ones(7)), DAYS)
    assert (25.0 + 20.0) / 2 == pytest.approx(s["avg_drawdown_pct"], abs=1e-12)
    assert 3 == s["max_drawdown_duration"]  # bar 3 -> bar 6 (bar 1 -> bar 3 is 2)
    assert 6.0 == s["max_drawdown_days"]  # 2024-01-04 -> 2024-01-10, over a weekend


def test_drawdown_durations_count_the_flat_bars_a_compressed_curve_leaves_out():
    # flat (no position) from bar 2 on, below the peak of bar 1: one episode from bar 1 to the last bar
    equity = np.array([100.0, 110.0, 99.0, 99.0, 99.0, 99.0, 99.0])
    position = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    curve = compress_equity(equity, position)
    assert 3 == len(curve.values)
    s = drawdown_statistics(curve, DAYS)
    assert (10.0, 5, 8.0) == (pytest.approx(s["avg_drawdown_pct"]), s["max_drawdown_duration"], s["max_drawdown_days"])


def test_a_curve_that_never_dips_has_no_drawdown_episode():
    s = drawdown_statistics(compress_equity(np.array([100.0, 100.0, 101.0]), np.ones(3)), DAYS[:3])
    assert {"avg_drawdown_pct": 0.0, "max_drawdown_duration": 0, "max_drawdown_days": 0.0} == s


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 2.0, -1.0]), st.integers(1, 6)), min_size=1, max_size=20),
       st.lists(st.floats(-0.05, 0.05), min_size=120, max_size=120))
def test_drawdown_statistics_of_a_compressed_curve_equal_those_of_the_full_curve(runs, steps):
    position = np.repeat([p for p, _ in runs], [k for _, k in runs])
    n = len(position)
    moves = np.where(position[:n] != 0.0, np.array(steps[:n]), 0.0)
    equity = 1000.0 * np.cumprod(1.0 + moves)
    time = np.arange(n).astype("datetime64[D]").astype("datetime64[ns]")
    full = drawdown_statistics(compress_equity(equity, np.ones(n)), time)
    assert full == drawdown_statistics(compress_equity(equity, position), time)


def test_equity_points_carry_the_bars_of_their_values():
    p = equity_points(np.array([10.0, 11.0, 12.0, 13.0, 14.0]), np.array([1, 3]), np.array([89.0, 102.0]),
                      np.array([1.0, 0.0]), 100.0)
    assert [0, 1, 2, 3] == p.bars.tolist()
    assert [0, 1, 2, 3] == compress_equity(np.array([100.0, 100.0, 101.0, 102.0, 102.0]),
                                           np.array([0.0, 1.0, 1.0, 0.0, 0.0])).bars.tolist()


def test_hand_worked_trade_statistics():
    # returns: 50/(10*100) = 5 %, -20/(5*80) = -5 %, 30/(2*50) = 30 %
    t = trades_of([0, 1, 3], [2, 4, 6], [100.0, 80.0, 50.0], [10.0, -5.0, 2.0], [50.0, -20.0, 30.0])
    s = trade_statistics(t, DAYS)
    assert 30.0 == pytest.approx(s["best_trade_pct"])
    assert -5.0 == pytest.approx(s["worst_trade_pct"])
    assert ((1.05 * 0.95 * 1.30) ** (1 / 3) - 1) * 100 == pytest.approx(s["avg_trade_pct"], rel=1e-12)
    assert (2 + 3 + 3) / 3 == s["avg_trade_duration"]
    assert (2 + 6 + 6) / 3 == pytest.approx(s["avg_trade_days"])  # 01-01→03, 01-02→08, 01-04→10
    assert 20.0 == s["expectancy"]
    assert math.sqrt(3) * 20.0 / np.std([50.0, -20.0, 30.0], ddof=1) == pytest.approx(s["sqn"], rel=1e-12)
    assert 2 / 3 - (1 / 3) / (40.0 / 20.0) == pytest.approx(s["kelly"], rel=1e-12)


def test_trade_statistics_without_a_loss_or_with_a_total_loss():
    winners = trade_statistics(trades_of([0], [1], [100.0], [1.0], [10.0]), DAYS)
    assert math.isnan(winners["kelly"]) and math.isnan(winners["sqn"])  # no loss; one trade
    ruined = trade_statistics(trades_of([0, 1], [1, 2], [100.0, 100.0], [1.0, -1.0], [10.0, -150.0]), DAYS)
    assert -100.0 == ruined["avg_trade_pct"]  # a trade lost more than it staked: compounding is ruined
    none = trade_statistics(trades_of([], [], [], [], []), DAYS)
    assert all(math.isnan(v) for v in none.values())


def test_buy_and_hold_of_one_symbol_and_of_an_equal_weight_basket():
    assert 25.0 == buy_hold_return_pct(np.array([100.0, 90.0, 125.0]))
    # A: 100 -> 120 (+20 %), B from its first bar: 50 -> 40 (-20 %)
    assert 0.0 == buy_hold_return_pct(np.array([[100.0, np.nan], [110.0, 50.0], [120.0, 40.0]]))


def test_metrics_give_the_research_statistics_and_keep_the_core_unchanged():
    equity = np.array([100.0, 110.0, 99.0, 121.0])
    curve = compress_equity(equity, np.array([0.0, 1.0, 1.0, 0.0]))
    core = metrics(curve, np.array([30.0, -9.0]), 1.5, initial_cash=100.0, periods_per_year=4.0, years=0.75)
    t = trades_of([1, 2], [2, 3], [10.0, 9.0], [3.0, 1.0], [30.0, -9.0])
    m = metrics(curve, np.array([30.0, -9.0]), 1.5, initial_cash=100.0, periods_per_year=4.0, years=0.75,
                trades=t, close=np.array([10.0, 11.0, 9.0, 12.0]), time=DAYS[:4])
    assert list(METRICS) == list(m)
    assert {k: core[k] for k in METRICS if k not in RESEARCH_METRICS} == \
        {k: m[k] for k in METRICS if k not in RESEARCH_METRICS}
    r = np.array([0.1, -0.1, 121.0 / 99.0 - 1.0])
    assert r.std(ddof=1) * 2.0 * 100 == pytest.approx(m["volatility_ann_pct"], rel=1e-12)
    assert m["cagr_pct"] / 10.0 == pytest.approx(m["calmar"], rel=1e-12)
    assert 20.0 == pytest.approx(m["buy_hold_return_pct"])
    assert (DAYS[0], DAYS[3]) == (m["start"], m["end"])
    assert (10.0, 2, 2.0) == (pytest.approx(m["avg_drawdown_pct"]), m["max_drawdown_duration"], m["max_drawdown_days"])
    assert math.isnan(core["best_trade_pct"]) and core["start"] is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-0.05, 0.05), min_size=1, max_size=3000), st.sampled_from([1, 4, 16, 256]),
       st.integers(0, 3))
def test_drawdown_episodes_by_blocks_equal_the_direct_scan(steps, block, flat_every):
    from fp.metrics import drawdown_episodes
    moves = np.array(steps)
    if flat_every:  # flat stretches: equity equal to its peak (ties) as well as below it
        moves[::flat_every + 1] = 0.0
    values = 1000.0 * np.cumprod(1.0 + moves)
    direct = drawdown_episodes(values, block=len(values) + 1)
    blocked = drawdown_episodes(values, block=block)
    for a, b in zip(direct, blocked):
        assert a.tolist() == b.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(-0.05, 0.05), min_size=0, max_size=300), st.floats(1.0, 1e6),
                          st.integers(0, 3)), min_size=1, max_size=6),
       st.sampled_from([None, 1, 4, 16, 256]))
def test_drawdown_episodes_of_lanes_are_each_lanes_own(lanes, block):
    """Lanes concatenated (``offsets``) have the episodes of each lane alone — found by the direct
    scan — shifted by its offset; an episode that never recovers ends at the end of its lane."""
    from fp.metrics import drawdown_episodes
    curves = []
    for steps, start, flat_every in lanes:
        moves = np.array(steps)
        if flat_every and len(moves):
            moves[::flat_every + 1] = 0.0
        curves.append(start * np.cumprod(np.concatenate(([1.0], 1.0 + moves))))
    offsets = np.concatenate(([0], np.cumsum([len(c) for c in curves])))
    together = drawdown_episodes(np.concatenate(curves), offsets=offsets, block=block)
    alone = [drawdown_episodes(c, block=len(c) + 1) for c in curves]
    assert np.concatenate([s + o for (s, _, _), o in zip(alone, offsets)]).tolist() == together[0].tolist()
    assert np.concatenate([e + o for (_, e, _), o in zip(alone, offsets)]).tolist() == together[1].tolist()
    assert np.concatenate([low for _, _, low in alone]).tolist() == together[2].tolist()


def test_lanes_without_trades_or_drawdowns_get_nan_and_zeros_in_the_batch():
    from fp.ledger import lane_equity_points
    from fp.metrics import lane_research_statistics
    close = np.array([10.0, 12.0, 9.0, 12.0, 13.0, 13.0, 14.0])
    # lane 0 never trades; lane 1 holds 1 unit from bar 0 (a dip 12 -> 9, recovered at bar 3);
    # lane 2 is empty (no change rows) like lane 0
    curves = lane_equity_points(close, np.array([1]), np.array([0]), np.array([90.0]), np.array([1.0]),
                                np.array([100.0, 100.0, 50.0]))
    trades = trades_of([0, 3], [3, 6], [10.0, 12.0], [1.0, 1.0], [2.0, 2.0])
    trades = attrs.evolve(trades, lane=np.array([1, 1]))
    s = lane_research_statistics(curves, trades, close, DAYS)
    assert [0.0, (1 - 99.0 / 102.0) * 100, 0.0] == pytest.approx(s["avg_drawdown_pct"].tolist(), rel=1e-12)
    assert [0, 2, 0] == s["max_drawdown_duration"].tolist()  # peak at bar 1, back at bar 3
    assert math.isnan(s["best_trade_pct"][0]) and math.isnan(s["best_trade_pct"][2])
    # returns 2 / 10 and 2 / 12
    assert (20.0, 2.0 / 12.0 * 100, 2.0) == pytest.approx((s["best_trade_pct"][1], s["worst_trade_pct"][1],
                                                           s["expectancy"][1]), rel=1e-12)
    assert [(14.0 / 10.0 - 1.0) * 100.0] * 3 == s["buy_hold_return_pct"].tolist()
    assert [DAYS[0]] * 3 == list(s["start"]) and [DAYS[6]] * 3 == list(s["end"])
