"""Laws of realistic execution, with every feature on: order types, exits, sizers, cost models,
participation, risk limits and loss halts (issue 10).

sparse ≡ streaming, isolation, no look-ahead, conservation (cash and position replay exactly from
the fills, equity is cash + position × close, fees and slippage accounted), fills inside their
bar, and risk caps never exceeded by an order.
"""
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from law_harness import (
    CONTAINER,
    NAN,
    changes_of,
    equity_of,
    lane_signals,
    laws,
    order_rules,
    picker,
    risk_limits,
    with_atr,
)
from law_harness import same_record as same

from fp.costs import CostModel
from fp.orders import Tape, order_schedule
from fp.testing import bars
from pipelines.engine.folds import fold_sparse, fold_streaming
from state.market import Bars
from state.portfolio import LaneSettings, RiskLimits

LAWS = laws(40)


@st.composite
def realistic(draw, max_lanes=4):
    """Lanes covering every execution option, with their order rules (ATR from the data is added later)."""
    n = draw(st.integers(1, max_lanes))
    signals = lane_signals(draw, n)
    pick = picker(draw, n)
    sizing = pick([0, 0, 1, 2], np.int8)
    commission = pick([0.0, 0.001, 0.01])
    slippage = pick([0.0, 0.0005, 0.01])
    costs = None
    if draw(st.booleans()):
        tiers = [draw(st.sampled_from([None, [(0.0, 0.003), (5_000.0, 0.001)]])) for _ in range(n)]
        costs = CostModel.of(rate=np.where([t is None for t in tiers], commission, 0.0),
                             per_share=pick([0.0, 0.005]), minimum=pick([0.0, 1.0]), fixed=pick([0.0, 2.0]),
                             tiers=tiers, slippage=slippage, slippage_fixed=pick([0.0, 0.02]),
                             impact=pick([0.0, 0.1, 2.0]), participation=pick([np.inf, 0.5, 1e-5]))
        commission = costs.rate
    limits = risk_limits(pick, halts=(False, False, False, True)) if draw(st.booleans()) else None
    s = LaneSettings(
        initial_cash=pick([1_000.0, 10_000.0, 123_456.78]),
        fraction=pick([1.0, 0.5]),
        whole=pick([True, False], bool),
        long_only=pick([True, False], bool),
        max_position=pick([np.inf, 3.0, 40.0]),
        commission=commission,
        slippage=slippage,
        fill_on_close=pick([False, True], bool),
        sizing=sizing if sizing.any() else None,
        size=pick([5.0, 2_500.0]) if sizing.any() else None,
        costs=costs,
        limits=limits,
    )
    rules = order_rules(pick, s, fractions=[NAN, NAN, 0.01, 0.03, 0.1], atr=True, holding=[0, 0, 2, 7],
                        participation_bars=costs is not None)
    return signals, s, rules


def sparse(signals, s, rules, data, **options):
    return fold_sparse(CONTAINER, s, changes_of(signals, data), data, rules=with_atr(rules, data), **options)


@LAWS
@given(realistic(), bars(min_size=1, max_size=150))
def test_sparse_fold_equals_the_bar_by_bar_reference_with_every_feature(case, data):
    signals, s, rules = case
    fast = sparse(signals, s, rules, data)
    reference, equity = fold_streaming(CONTAINER, s, signals, data, rules=with_atr(rules, data))
    same(reference.fills, fast.fills)
    same(reference.rejections, fast.rejections)
    same(reference.trades, fast.trades)
    same(reference.final, fast.final)
    same(reference.expired, fast.expired)
    assert np.array_equal(equity, equity_of(fast, s, data))


@LAWS
@given(realistic(), bars(min_size=2, max_size=150))
def test_isolation_holds_with_every_feature(case, data):
    signals, s, rules = case
    together = sparse(signals, s, rules, data)
    for i in range(len(signals)):
        one = slice(i, i + 1)
        alone = sparse([signals[i]], s.rows(one), rules.rows(one), data)
        assert np.array_equal(equity_of(together, s, data)[i], equity_of(alone, s.rows(one), data)[0])
        mine = together.fills.lane == i
        for f in ("bar", "quantity", "price", "commission"):
            assert np.array_equal(getattr(together.fills, f)[mine], getattr(alone.fills, f))
        assert np.array_equal(together.rejections.reason[together.rejections.lane == i], alone.rejections.reason)


@LAWS
@given(realistic(), bars(min_size=3, max_size=150), st.integers(0, 148), st.sampled_from([0.6, 1.5]))
def test_no_lookahead_for_orders_exits_and_halts(case, data, cut, factor):
    signals, s, rules = case
    t = min(cut, len(data) - 2)
    later = Bars(data.symbol, data.time, *(np.concatenate((x[:t + 1], x[t + 1:] * factor))
                                          for x in (data.open, data.high, data.low, data.close)),
                 data.volume, None)
    plain = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
    a, b = sparse(signals, s, rules, plain), sparse(signals, s, rules, later)
    assert np.array_equal(equity_of(a, s, plain)[:, :t + 1], equity_of(b, s, later)[:, :t + 1])
    early_a, early_b = a.fills.bar <= t, b.fills.bar <= t
    for f in ("lane", "bar", "quantity", "price", "commission"):
        assert np.array_equal(getattr(a.fills, f)[early_a], getattr(b.fills, f)[early_b])


@LAWS
@given(realistic(), bars(min_size=1, max_size=150))
def test_conservation_fees_and_slippage_are_accounted_exactly(case, data):
    signals, s, rules = case
    folded = sparse(signals, s, rules, data)
    fills = folded.fills
    assert np.all(fills.price >= data.low[fills.bar]) and np.all(fills.price <= data.high[fills.bar])
    assert np.all(fills.commission >= 0.0)
    if fills.slippage is not None:
        assert np.all(fills.slippage >= 0.0)  # slippage and impact always cost the trader
    for i in range(len(signals)):
        mine = fills.lane == i
        cash, position = float(s.initial_cash[i]), 0.0
        cash_path, position_path = [], []
        for qty, price, commission in zip(fills.quantity[mine], fills.price[mine], fills.commission[mine]):
            cash, position = cash - qty * price - commission, position + qty
            cash_path.append(cash)
            position_path.append(position)
        lo, hi = np.searchsorted(folded.change_lane, [i, i + 1])
        assert np.array_equal(folded.change_cash[lo:hi], cash_path)
        assert np.array_equal(folded.change_position[lo:hi], position_path)
        if s.whole[i]:
            assert np.array_equal(np.floor(position_path), position_path)
        if s.long_only[i]:
            assert np.all(np.asarray(position_path) >= 0.0)
        equity, _ = folded.equity(i, data.close, float(s.initial_cash[i]))
        assert equity[-1] == cash + position * data.close[-1]
        explained = float(np.sum(folded.trades.pnl[folded.trades.lane == i]))
        assert np.isclose(explained, equity[-1] - s.initial_cash[i], rtol=1e-9, atol=1e-6 * s.initial_cash[i])


@LAWS
@given(realistic(), bars(min_size=1, max_size=150))
def test_no_order_takes_a_position_beyond_a_risk_limit(case, data):
    signals, s, rules = case
    changes = changes_of(signals, data)
    full_rules = with_atr(rules, data)
    folded = fold_sparse(CONTAINER, s, changes, data, rules=full_rules, trace=True)
    schedule, _ = order_schedule(changes, full_rules, Tape.of(data))
    trace = folded.trace
    assert np.array_equal(trace.lane, schedule.lane) and np.array_equal(trace.fill_bar, schedule.bar)
    cash = s.initial_cash[schedule.lane].copy()
    for i in range(len(signals)):
        held, money = 0.0, float(s.initial_cash[i])
        for row in np.flatnonzero(schedule.lane == i):
            q, ref = trace.quantity[row], schedule.price[row]
            after = held + q
            if q != 0.0:
                equity = money + held * ref
                same_side = held if np.sign(held) == np.sign(after) else 0.0
                caps = [s.max_position[i]]
                if s.limits is not None:
                    lim = s.limits
                    caps += [lim.max_position_value[i] / ref, lim.max_position_pct[i] * equity / ref,
                             lim.max_gross_exposure[i] / ref, lim.max_net_exposure[i] / ref,
                             lim.max_leverage[i] * equity / ref]
                    if lim.restricted[i]:
                        caps.append(0.0)
                cap = min(c for c in caps if not math.isnan(c))
                assert abs(after) <= max(cap, abs(same_side)) * (1 + 1e-12) + 1e-9, (i, row, after, cap, same_side)
                money -= q * trace.price[row] + trace.commission[row]
            held = after
    del cash


@LAWS
@given(realistic(), bars(min_size=1, max_size=150))
def test_the_general_fill_equals_the_short_path_on_plain_lanes(case, data):
    signals, s, rules = case
    plain = LaneSettings(s.initial_cash, s.fraction, s.whole, s.long_only, s.max_position, s.commission, s.slippage,
                         s.fill_on_close)
    n = len(s)
    nan = np.full(n, NAN)
    no_limits = RiskLimits(nan, nan, nan, nan, nan, nan, nan, nan, np.zeros(n, bool))  # forces the general path
    general = LaneSettings(s.initial_cash, s.fraction, s.whole, s.long_only, s.max_position, s.commission,
                           s.slippage, s.fill_on_close, limits=no_limits)
    assert "plain" in plain.uniform and "plain" not in general.uniform
    a, b = sparse(signals, plain, rules, data), sparse(signals, general, rules, data)
    for f in ("lane", "bar", "quantity", "price", "commission"):
        assert np.array_equal(getattr(a.fills, f), getattr(b.fills, f)), f
    same(a.rejections, b.rejections)
    same(a.final, b.final)
