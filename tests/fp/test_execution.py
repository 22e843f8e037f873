"""Sizing, costs and risk at the fill, pinned on hand-worked bars."""
import math

import numpy as np

from fp.costs import CostModel
from pipelines.engine.folds import fold_sparse
from pipelines.engine.patterns import FULL_BACKTEST, container_for
from state.events import REJECTION_REASONS
from state.market import Bars
from state.orders import OrderRules
from state.portfolio import SIZING, LaneSettings, RiskLimits

CONTAINER = container_for(FULL_BACKTEST)
NAN = math.nan


def flat_bars(prices, *, volume=1e6, spread=10.0):
    n = len(prices)
    p = np.array(prices, float)
    t = np.datetime64("2024-01-01", "ns") + np.arange(n) * np.timedelta64(1, "D")
    return Bars("X", t, p, p + spread, p - spread, p, np.full(n, volume))


def lane(**extra):
    base = dict(initial_cash=np.array([10_000.0]), fraction=np.ones(1), whole=np.ones(1, bool),
                long_only=np.ones(1, bool), max_position=np.array([np.inf]), commission=np.zeros(1),
                slippage=np.zeros(1), fill_on_close=np.zeros(1, bool))
    base.update(extra)
    return LaneSettings(**base)


def limits(**given):
    columns = ("max_position_value", "max_position_pct", "max_gross_exposure", "max_net_exposure", "max_leverage",
               "max_concentration", "daily_loss", "max_drawdown")
    return RiskLimits(*(np.array([given.get(c, NAN)]) for c in columns), np.array([given.get("restricted", False)]))


def fold(settings, prices, changes, rules=None, **bars_options):
    return fold_sparse(CONTAINER, settings, [(np.array(changes[0]), np.array(changes[1], float))],
                       flat_bars(prices, **bars_options), rules=rules)


def test_per_share_commission_with_a_minimum_sizes_and_charges_exactly():
    # 199 × 50 + max(1.00, 199 × 0.005) = 9,951 <= 10,000; 200 shares would cost 10,001
    costs = CostModel.of(per_share=0.005, minimum=1.0)
    f = fold(lane(costs=costs), [50.0] * 4, ([0], [1.0]))
    assert [199.0] == f.fills.quantity.tolist() and [1.0] == f.fills.commission.tolist()
    assert [10_000.0 - 199 * 50.0 - 1.0] == f.change_cash.tolist()


def test_market_impact_grows_with_the_order_and_is_paid_as_slippage():
    # q × (100 + 100 × 0.1 × q / 1,000) <= 10,000: 99 units at 100.99; the 0.99 per unit is slippage
    costs = CostModel.of(impact=0.1)
    f = fold(lane(costs=costs), [100.0] * 4, ([0], [1.0]), volume=1_000.0)
    assert [99.0] == f.fills.quantity.tolist()
    assert np.allclose(f.fills.price, [100.99]) and np.allclose(f.fills.slippage, [99 * 0.99])


def test_a_participation_cap_spreads_an_order_over_the_following_bars():
    costs = CostModel.of(participation=0.1)
    rules = OrderRules.market(np.array([1]))
    import attrs
    rules = attrs.evolve(rules, participation_bars=np.array([5]))
    f = fold(lane(costs=costs), [100.0] * 8, ([0], [1.0]), rules=rules, volume=300.0)
    assert [1, 2, 3, 4] == f.fills.bar.tolist() and [30.0, 30.0, 30.0, 10.0] == f.fills.quantity.tolist()


def test_fixed_unit_and_fixed_cash_sizers():
    units = lane(sizing=np.array([SIZING.index("units")], np.int8), size=np.array([12.0]))
    assert [12.0] == fold(units, [100.0] * 3, ([0], [1.0])).fills.quantity.tolist()
    cash = lane(sizing=np.array([SIZING.index("cash")], np.int8), size=np.array([1_050.0]))
    assert [10.0] == fold(cash, [100.0] * 3, ([0], [1.0])).fills.quantity.tolist()


def test_a_value_limit_caps_the_position_and_a_restricted_symbol_rejects_the_entry():
    f = fold(lane(limits=limits(max_position_value=5_000.0)), [100.0] * 3, ([0], [1.0]))
    assert [50.0] == f.fills.quantity.tolist() and 0 == len(f.rejections.lane)
    f = fold(lane(limits=limits(restricted=True)), [100.0] * 3, ([0], [1.0]))
    assert 0 == len(f.fills.lane) and ["restricted"] == [REJECTION_REASONS[r] for r in f.rejections.reason]


def test_a_drawdown_halt_rejects_later_entries_but_not_exits():
    # long 100 units at 100; the close falls to 85 (equity -15 %) and recovers to 100 before the exit:
    # the halt tripped at that close, so the next entry is refused, while the exit went through
    prices = [100.0, 100.0, 95.0, 85.0, 100.0, 100.0, 100.0, 100.0]
    f = fold(lane(limits=limits(max_drawdown=0.1)), prices, ([0, 4, 5], [1.0, 0.0, 1.0]), spread=0.5)
    assert [1, 5] == f.fills.bar.tolist() and [100.0, -100.0] == f.fills.quantity.tolist()
    assert ["max_drawdown"] == [REJECTION_REASONS[r] for r in f.rejections.reason]
    assert [6] == f.rejections.bar.tolist()
    unlimited = fold(lane(), prices, ([0, 4, 5], [1.0, 0.0, 1.0]), spread=0.5)
    assert [1, 5, 6] == unlimited.fills.bar.tolist()
