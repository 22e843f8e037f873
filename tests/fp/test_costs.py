"""Cost models: the laws of ``fp.costs`` as hypothesis properties, and numbers worked by hand."""
import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fp.costs
from fp.costs import CostModel, CostModelError, affordable_units, commission, fill_price, fillable_units

laws = settings(max_examples=70, deadline=None, derandomize=True, database=None)


# ---- strategies ---------------------------------------------------------------------------------

@st.composite
def schedules(draw):
    """One row's tiers: (0, r0), (b1, r1), ... with bounds ascending (rates may rise or fall)."""
    k = draw(st.integers(1, 3))
    bounds = [0.0] + sorted(draw(st.lists(st.sampled_from([500.0, 1_000.0, 2_500.0, 10_000.0, 50_000.0]),
                                          min_size=k - 1, max_size=k - 1, unique=True)))
    rates = draw(st.lists(st.sampled_from([0.0, 0.0005, 0.002, 0.01, 0.03]), min_size=k, max_size=k))
    return list(zip(bounds, rates))


@st.composite
def models(draw, n, *, rate_only=False):
    """A model of ``n`` rows; each parameter is often 0, so the fast paths are drawn too."""
    def column(values):
        return draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))

    slippage = column([0.0, 0.0, 0.0005, 0.001, 0.02])
    if rate_only:
        return CostModel.of(rate=column([0.0, 0.001, 0.002, 0.0025, 0.01]), slippage=slippage)
    tiers = draw(st.lists(st.none() | schedules(), min_size=n, max_size=n))
    rate = [0.0 if t else r for t, r in zip(tiers, column([0.0, 0.001, 0.002, 0.01]))]
    return CostModel.of(rate=rate, per_share=column([0.0, 0.0, 0.005, 0.1]), minimum=column([0.0, 0.0, 1.0, 7.5]),
                        fixed=column([0.0, 0.0, 0.5, 3.0]), tiers=tiers, slippage=slippage,
                        slippage_fixed=column([0.0, 0.0, 0.01, 0.25]), impact=column([0.0, 0.0, 0.05, 1.0, 5.0]),
                        participation=column([np.inf, 0.01, 0.1, 1.0]))


prices = st.floats(0.05, 500.0)


@st.composite
def markets(draw, n):
    """Bars of ``n`` rows: 0 < low <= high, a reference anywhere near them, volumes often unknown."""
    low = np.array(draw(st.lists(prices, min_size=n, max_size=n)))
    high = low * np.array(draw(st.lists(st.floats(1.0, 1.5), min_size=n, max_size=n)))
    reference = np.array(draw(st.lists(st.floats(0.5, 1.5), min_size=n, max_size=n))) * (low + high) / 2
    volume = np.array(draw(st.lists(st.sampled_from([np.nan, 0.0, 40.0, 1_000.0, 1e5]) | st.floats(1.0, 1e6),
                                    min_size=n, max_size=n)))
    side = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    return side, reference, volume, low, high


def budgets(n, low=-100.0, high=1e6):
    return st.lists(st.sampled_from([0.0, -1.0]) | st.floats(low, high), min_size=n, max_size=n).map(np.array)


def wholes(n):
    return st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)


def cost(model, q, side, reference, volume, low, high):
    """What a fill of ``q`` units costs, with the public functions only (the law's definition)."""
    price = fill_price(model, side, reference, q, volume, low, high)
    return q * price + commission(model, q, price)


def sell_cap(model, side, reference, volume, low, high):
    """The documented size past which a sell with impact is not sized (its notional's peak)."""
    base = reference * (1.0 + side * model.slippage) + side * model.slippage_fixed
    with np.errstate(all="ignore"):
        slope = np.where((volume > 0.0) & (model.impact > 0.0), reference * model.impact / volume, 0.0)
        return np.where((side < 0) & (slope > 0) & (low < base / 2), np.maximum(base - high, base / 2) / slope, np.inf)


def clip(x, low, high):
    return np.minimum(np.maximum(x, low), high)


def without_facts(model):
    """The same model with no ``uniform`` facts: every function takes its general path."""
    return CostModel(*(getattr(model, f.name) for f in attrs.fields(CostModel)[:-1]), uniform=frozenset())


# ---- fill price ---------------------------------------------------------------------------------

@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(models(n), markets(n), st.lists(st.floats(0, 1e5), min_size=2 * n,
                                                                                        max_size=2 * n))))
def test_fill_price_is_in_the_bar_against_the_trader_and_monotone_in_size(drawn):
    model, (side, reference, volume, low, high), sizes = drawn
    n = len(model)
    small, large = np.sort(np.array(sizes).reshape(2, n), axis=0) * np.where(np.arange(n) % 2, 1.0, -1.0)
    p_small = fill_price(model, side, reference, small, volume, low, high)
    p_large = fill_price(model, side, reference, large, volume, low, high)
    for p in (p_small, p_large):
        assert np.all((low <= p) & (p <= high))
        assert np.all(np.where(side > 0, p >= clip(reference, low, high), p <= clip(reference, low, high)))
    assert np.all(np.where(side > 0, p_large >= p_small, p_large <= p_small))


@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(models(n), markets(n), st.lists(st.floats(0, 1e5), min_size=n,
                                                                                        max_size=n))))
def test_fill_price_follows_its_formula_and_the_fast_path_is_the_formula(drawn):
    model, (side, reference, volume, low, high), sizes = drawn
    q = np.array(sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        participation = np.where(volume > 0, q / volume, 0.0)
    expected = clip(reference * (1 + side * model.slippage) + side * model.slippage_fixed
                    + side * (reference * model.impact * participation), low, high)
    dry = ~(volume > 0) & (model.impact > 0) & (q > 0)  # no volume, no liquidity: the bar's worst price
    expected = np.where(dry, np.where(side > 0, high, low), expected)
    assert expected.tolist() == fill_price(model, side, reference, q, volume, low, high).tolist()
    assert expected.tolist() == fill_price(without_facts(model), side, reference, q, volume, low, high).tolist()
    frictionless = CostModel.of(rate=model.rate)
    assert "no_slippage" in frictionless.uniform
    assert (fill_price(without_facts(frictionless), side, reference, q, volume, low, high).tolist()
            == fill_price(frictionless, side, reference, q, volume, low, high).tolist())


def test_fill_price_by_hand():
    m = CostModel.of(slippage=0.001, slippage_fixed=0.01, impact=0.1)
    # buy 500 of 10,000: 100 * 1.001 + 0.01 + 100 * 0.1 * 0.05 = 100.1 + 0.01 + 0.5
    assert [100.61, 99.39] == fill_price(m, np.array([1.0, -1.0]), 100.0, 500.0, 10_000.0, 90.0, 110.0).round(9).tolist()
    assert [100.5, 99.5] == fill_price(m, np.array([1.0, -1.0]), 100.0, 500.0, 10_000.0, 99.5, 100.5).tolist()
    # no volume (0 or unknown): no liquidity, the bar's worst price; nothing traded moves nothing
    assert [110.0, 110.0] == fill_price(m, 1.0, 100.0, 500.0, np.array([0.0, np.nan]), 90.0, 110.0).tolist()
    assert [90.0, 90.0] == fill_price(m, -1.0, 100.0, 500.0, np.array([0.0, np.nan]), 90.0, 110.0).tolist()
    assert [100.11] == fill_price(m, 1.0, 100.0, 0.0, 0.0, 90.0, 110.0).round(9).tolist()


# ---- commission ---------------------------------------------------------------------------------

def scalar_commission(model, row, quantity, price):
    """The commission formula, one row at a time in plain Python (the oracle)."""
    if quantity == 0:
        return 0.0
    size = abs(quantity)
    notional = size * price
    bounds, rates = model.tier_bounds[row].tolist(), model.tier_rates[row].tolist()
    rate = rates[max(k for k, b in enumerate(bounds) if b <= notional)]
    return max(float(model.minimum[row]), rate * notional + float(model.per_share[row]) * size + float(model.fixed[row]))


@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    models(n), st.lists(st.sampled_from([0.0, -0.0]) | st.floats(-1e5, 1e5), min_size=n, max_size=n),
    st.lists(prices, min_size=n, max_size=n))))
def test_commission_follows_its_formula_and_charges_only_fills(drawn):
    model, quantities, ps = drawn
    q, price = np.array(quantities), np.array(ps)
    fee = commission(model, q, price)
    assert [scalar_commission(model, i, q[i], price[i]) for i in range(len(q))] == fee.tolist()
    assert np.all(np.where(q == 0, fee == 0.0, fee >= model.minimum))
    assert commission(model, -q, price).tolist() == fee.tolist()


@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    models(n, rate_only=True), st.lists(st.floats(-1e5, 1e5), min_size=n, max_size=n),
    st.lists(prices, min_size=n, max_size=n))))
def test_a_proportional_commission_is_the_engines_arithmetic(drawn):
    model, quantities, ps = drawn
    q, price = np.array(quantities), np.array(ps)
    assert "proportional" in model.uniform
    engine = np.abs(q) * price * model.rate  # fp.execution's formula
    assert engine.tolist() == commission(model, q, price).tolist()
    assert engine.tolist() == commission(without_facts(model), q, price).tolist()


def test_per_share_commission_with_a_minimum_by_hand():
    m = CostModel.of(per_share=0.005, minimum=1.0)
    # 100 shares: 0.50 < minimum 1.00; 1000 shares: 5.00; nothing filled: nothing charged
    assert [1.0, 5.0, 0.0] == commission(m, np.array([100.0, 1000.0, 0.0]), 50.0).tolist()


def test_tiered_commission_by_hand():
    m = CostModel.of(tiers=[[(0, 0.003), (10_000, 0.002), (50_000, 0.001)]], minimum=1.0)
    # notionals 5,000 / 10,000 (on the bound: the higher tier) / 20,000 / 100,000, and 1 share: the minimum
    fees = commission(m, np.array([100.0, 200.0, 400.0, 2_000.0, 1.0]), 50.0)
    assert [15.0, 20.0, 40.0, 100.0, 1.0] == fees.round(9).tolist()


def test_fixed_fee_and_rate_by_hand():
    m = CostModel.of(rate=0.001, fixed=2.5)
    assert [0.0, 12.5] == commission(m, np.array([0.0, -100.0]), 100.0).round(9).tolist()


# ---- affordable units ---------------------------------------------------------------------------

@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(models(n), markets(n), budgets(n), wholes(n))))
def test_affordable_units_fit_the_budget_and_one_more_does_not(drawn):
    model, (side, reference, volume, low, high), budget, whole = drawn
    q = affordable_units(model, budget, reference, side, volume, low, high, whole)
    assert np.all(q >= 0)
    assert np.all(q[budget <= 0] == 0)
    assert np.all(q[whole] == np.floor(q[whole]))
    general = ~model.rate_only
    spent = cost(model, q, side, reference, volume, low, high)
    assert np.all((spent <= np.maximum(budget, 0.0))[general])
    more = np.where(whole, q + 1.0, np.nextafter(q, np.inf))
    beyond = more > sell_cap(model, side, reference, volume, low, high)
    too_much = cost(model, more, side, reference, volume, low, high) > budget
    assert np.all((too_much | beyond)[general & (budget > 0)])


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.tuples(models(1), markets(1), budgets(1, -10.0, 3_000.0)))
def test_affordable_units_are_the_largest_affordable_whole_size(drawn):
    """Against brute force over every size up to 3,000 units, tier cliffs included."""
    model, (side, reference, volume, low, high), budget = drawn
    q = affordable_units(model, budget, reference, side, volume, low, high, True)
    sizes = np.arange(3_001.0)
    fits = cost(model, sizes, side[0], reference[0], volume[0], low[0], high[0]) <= budget[0]
    fits &= sizes <= sell_cap(model, side, reference, volume, low, high)[0]
    if model.rate_only[0] or fits[-1]:
        return  # the fast path answers differently by design; or the answer lies beyond the brute force
    assert sizes[fits].max(initial=0.0) == q[0]


@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(models(n), markets(n), budgets(n), wholes(n),
                                                     st.lists(st.floats(0, 1e5), min_size=n, max_size=n))))
def test_more_budget_never_gives_fewer_units(drawn):
    model, (side, reference, volume, low, high), budget, whole, extra = drawn
    q = affordable_units(model, budget, reference, side, volume, low, high, whole)
    for more in (budget + np.array(extra), np.nextafter(budget, np.inf)):
        assert np.all(affordable_units(model, more, reference, side, volume, low, high, whole) >= q)


@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(models(n, rate_only=True), markets(n), budgets(n), wholes(n))))
def test_the_fast_path_is_the_engines_floor_divide(drawn):
    model, (side, reference, volume, low, high), budget, whole = drawn
    unit_cost = reference * (1.0 + model.rate)  # fp.execution: price * (1 + commission)
    engine = np.maximum(np.where(whole, np.floor_divide(budget, unit_cost), budget / unit_cost), 0.0)
    assert engine.tolist() == affordable_units(model, budget, reference, side, volume, low, high, whole).tolist()
    assert (np.floor_divide(budget, unit_cost)[budget >= 0].tolist()
            == affordable_units(model, budget, reference, side, volume, low, high, True)[budget >= 0].tolist())
    assert ((budget / unit_cost)[budget >= 0].tolist()
            == affordable_units(model, budget, reference, side, volume, low, high, False)[budget >= 0].tolist())


@laws
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(models(n, rate_only=True), models(n), markets(2 * n),
                                                     budgets(2 * n), wholes(2 * n))))
def test_a_row_is_sized_the_same_alone_and_in_a_mixed_model(drawn):
    """Isolation: the fast path is chosen per row, so a lane's units do not depend on its neighbours."""
    fast, other, (side, reference, volume, low, high), budget, whole = drawn
    mixed = CostModel(*(np.concatenate([getattr(fast, f), getattr(other, f)])
                        for f in ("rate", "per_share", "minimum", "fixed")),
                      *_padded_tiers(fast, other),
                      *(np.concatenate([getattr(fast, f), getattr(other, f)])
                        for f in ("slippage", "slippage_fixed", "impact", "participation")))
    together = affordable_units(mixed, budget, reference, side, volume, low, high, whole)
    for i in range(len(mixed)):
        alone = affordable_units(mixed.rows(i), budget[i], reference[i], side[i], volume[i], low[i], high[i], whole[i])
        assert alone.tolist() == [together[i]]


def _padded_tiers(a, b):
    k = max(a.tier_bounds.shape[1], b.tier_bounds.shape[1])
    def pad(m):
        extra = k - m.tier_bounds.shape[1]
        return (np.pad(m.tier_bounds, ((0, 0), (0, extra)), constant_values=np.inf),
                np.pad(m.tier_rates, ((0, 0), (0, extra)), mode="edge"))
    (ab, ar), (bb, br) = pad(a), pad(b)
    return np.concatenate([ab, bb]), np.concatenate([ar, br])


def test_fixed_fee_sizes_by_hand():
    m = CostModel.of(rate=0.001, fixed=1.0)  # cost(q) = 100.1 q + 1
    q = affordable_units(m, 1000.0, 100.0, 1.0, np.nan, 90.0, 110.0, np.array([True, False]))
    assert 9.0 == q[0]
    assert 999 / 100.1 == pytest.approx(q[1], rel=1e-15)
    assert [0.0, 0.0] == affordable_units(m, np.array([0.99, -5.0]), 100.0, 1.0, np.nan, 90.0, 110.0, False).tolist()


def test_a_minimum_commission_sizes_by_hand():
    m = CostModel.of(per_share=0.005, minimum=1.0)
    # 19 shares at 50: 950 + 1.00 (minimum) = 951 <= 1000; 20 shares: 1001 > 1000
    assert [19.0, 0.0] == affordable_units(m, np.array([1000.0, 0.5]), 50.0, 1.0, np.nan, 40.0, 60.0, True).tolist()


def test_a_cheaper_higher_tier_is_found_past_unaffordable_sizes():
    m = CostModel.of(tiers=[[(0, 0.02), (10_000, 0.005)]])
    # at 50: 197 units cost 9,850 * 1.02 = 10,047; 198 cost 10,098 and 199 cost 10,149 (the 2 % tier);
    # 200 cost 10,000 * 1.005 = 10,050 (the 0.5 % tier); 201 cost 10,100.25
    budget = np.array([10_100.0, 10_060.0, 10_049.0])
    assert [200.0, 200.0, 197.0] == affordable_units(m, budget, 50.0, 1.0, np.nan, 40.0, 60.0, True).tolist()


def test_impact_sizes_by_hand():
    m = CostModel.of(impact=0.1)
    # buy at 100 on 1,000 volume: price 100 + 0.01 q, cost 100 q + 0.01 q²; 100 units cost 10,100 exactly
    args = (1.0, 100.0, 1.0, 1_000.0, 90.0, 110.0)
    assert [100.0, 99.0] == affordable_units(m, np.array([10_100.0, 10_099.0]), *args[1:], True).tolist()
    assert 100.0 == pytest.approx(affordable_units(m, 10_100.0, *args[1:], False)[0], rel=1e-15)
    # past 1,000 units the price is clipped at the high, 110: 2,727 * 110 = 299,970 <= 300,000 < 2,728 * 110
    assert [2_727.0] == affordable_units(m, 300_000.0, *args[1:], True).tolist()
    # a sell: price 100 - 0.01 q; 100 units raise 9,900; 101 would take 9,997.99
    assert [100.0] == affordable_units(m, 9_900.0, 100.0, -1.0, 1_000.0, 90.0, 110.0, True).tolist()
    # a sell whose low (10) is below half the price: sized up to the notional's peak, 5,000 units at 50
    assert [5_000.0] == affordable_units(m, 1e6, 100.0, -1.0, 1_000.0, 10.0, 110.0, True).tolist()
    # a bar without volume fills at its worst price: 10,100 / 110 = 91.8 units (a sell at 90 needs 112.2)
    assert [91.0] == affordable_units(m, 10_100.0, 100.0, 1.0, 0.0, 90.0, 110.0, True).tolist()
    assert [112.0] == affordable_units(m, 10_100.0, 100.0, -1.0, np.nan, 90.0, 110.0, True).tolist()


# ---- fillable units -----------------------------------------------------------------------------

@laws
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    models(n), st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n),
    st.lists(st.sampled_from([np.nan, 0.0]) | st.floats(1.0, 1e7), min_size=n, max_size=n), wholes(n))))
def test_fillable_units_keep_the_sign_and_respect_the_cap(drawn):
    model, wanted, volume, whole = drawn
    wanted, volume = np.array(wanted), np.array(volume)
    got = fillable_units(model, wanted, volume, whole=whole)
    assert np.all(np.sign(got) * np.sign(wanted) >= 0) and np.all(np.abs(got) <= np.abs(wanted))
    known = volume > 0
    uncapped = np.isinf(model.participation)
    assert np.all(np.abs(got)[known] <= model.participation[known] * volume[known])
    assert np.all(got[~known & ~uncapped] == 0.0)  # a bar without volume has no capacity
    assert np.all(got[uncapped] == wanted[uncapped])


def test_fillable_units_by_hand():
    m = CostModel.of(participation=[0.1, 0.1, np.inf])
    assert [123.4, -50.0, 1e9] == fillable_units(m, np.array([500.0, -50.0, 1e9]), 1234.0).tolist()
    assert [123.0, -50.0, 1e9] == fillable_units(m, np.array([500.0, -50.0, 1e9]), 1234.0, whole=True).tolist()
    # zero or unknown volume: no capacity under a cap (it was unlimited), no effect without one
    assert [0.0, -0.0, 1e9] == fillable_units(m, np.array([500.0, -50.0, 1e9]), 0.0).tolist()
    assert [0.0, -0.0, 1e9] == fillable_units(m, np.array([500.0, -50.0, 1e9]), np.nan).tolist()


# ---- the record ---------------------------------------------------------------------------------

def test_of_pads_tiers_and_derives_the_facts():
    m = CostModel.of(rate=[0.001, 0.0, 0.002], tiers=[None, [(0, 0.003), (1e4, 0.002), (5e4, 0.001)], None],
                     slippage=0.001)
    assert [[0.0, np.inf, np.inf], [0.0, 1e4, 5e4], [0.0, np.inf, np.inf]] == m.tier_bounds.tolist()
    assert [0.001, 0.003, 0.002] == m.rate.tolist() == m.tier_rates[:, 0].tolist()
    assert [True, False, True] == m.rate_only.tolist()
    assert frozenset({"uncapped"}) == m.uniform
    sub = m.rows(np.array([1]))
    assert 1 == len(sub) and [[0.0, 1e4, 5e4]] == sub.tier_bounds.tolist() and sub.uniform == m.uniform
    assert 1 == len(m.rows(2))
    assert {"proportional", "rate_only", "no_slippage", "uncapped"} == set(CostModel.of(rate=0.002).uniform)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rate": -0.1}, "rate=-0.1: must be a finite number >= 0"),
    ({"per_share": [0.0, np.nan]}, "per_share[1]=nan: must be a finite number >= 0"),
    ({"slippage": 1.5}, "slippage=1.5: must be a fraction in [0, 1)"),
    ({"participation": 0.0}, "participation=0.0: must be > 0"),
    ({"rate": [0.1, 0.2], "fixed": [1.0, 2.0, 3.0]}, "disagree on the number of rows"),
    ({"tiers": [(0, 0.01), (100, 0.005)]}, "tiers[0]=(0, 0.01): must be None or a non-empty sequence"),
    ({"tiers": [[(10, 0.01)]]}, "must start at 0"),
    ({"tiers": [[(0, 0.01), (100, 0.005), (50, 0.001)]]}, "ascend strictly"),
    ({"rate": 0.002, "tiers": [[(0, 0.01)]]}, "rate[0]=0.002: tiers replace rate"),
    ({"rate": [0.1, 0.2], "rows": 3}, "rate has 2 rows, rows=3"),
])
def test_of_rejects_bad_arguments_naming_them(kwargs, message):
    with pytest.raises(CostModelError) as caught:
        CostModel.of(**kwargs)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_all_is_sorted_and_complete():
    assert sorted(fp.costs.__all__) == list(fp.costs.__all__)
    assert all(hasattr(fp.costs, name) for name in fp.costs.__all__)
