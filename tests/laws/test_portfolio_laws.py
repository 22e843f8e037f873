"""Laws of shared-cash portfolios (``pipelines.engine.portfolios``, issue 10).

- one symbol: a portfolio of one symbol makes exactly the fills of the per-symbol fold;
- conservation: cash replays from the fills, and equity is cash plus every holding at its
  symbol's latest close;
- no forward-filled fills: every fill happens at one of its own symbol's timestamps, inside
  that bar's [low, high];
- shared cash: a long-only portfolio never spends cash it does not have;
- isolation: a portfolio's fills do not depend on the other portfolios folded beside it.
"""
import math

import attrs
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from law_harness import CONTAINER, NAN, laws, order_rules, picker, risk_limits

from fp.testing import bars, jumping
from pipelines.engine.folds import fold_sparse
from pipelines.engine.portfolios import fold_portfolios
from state.market import Bars
from state.portfolio import LaneSettings

LAWS = laws(40)


@st.composite
def lanes(draw, max_lanes=4):
    """Lane settings (sizing on equity, costs, risk limits with loss halts) and order rules with exits."""
    n = draw(st.integers(1, max_lanes))
    pick = picker(draw, n)
    limits = risk_limits(pick) if draw(st.booleans()) else None
    s = LaneSettings(initial_cash=pick([1_000.0, 10_000.0]), fraction=pick([1.0, 0.5, 0.3]),
                     whole=pick([True, False], bool), long_only=pick([True, False], bool),
                     max_position=pick([np.inf, 3.0]), commission=pick([0.0, 0.001, 0.01]),
                     slippage=pick([0.0, 0.0005, 0.01]), fill_on_close=pick([False, True], bool), limits=limits)
    return s, order_rules(pick, s, fractions=[NAN, NAN, 0.02, 0.1], atr=False, holding=[0, 0, 3])


@st.composite
def changes_for(draw, n_lanes: int, n_bars: int):
    """Each lane's signal changes on a series of ``n_bars`` bars: increasing bars, new targets."""
    out = []
    for _ in range(n_lanes):
        at = sorted(draw(st.sets(st.integers(0, max(n_bars - 1, 0)), min_size=min(n_bars, 2), max_size=8)))
        targets, last = [], 0.0
        for _ in at:
            target = draw(st.sampled_from([t for t in (-1.0, -0.5, 0.0, 0.5, 1.0) if t != last]))
            targets.append(target)
            last = target
        out.append((np.array(at, np.int64), np.array(targets)))
    return out


def portfolio_case(draw_bars):
    return st.tuples(lanes(), draw_bars).flatmap(
        lambda c: st.tuples(st.just(c[0]), st.just(c[1]), changes_for(len(c[0][0]), len(c[1]))))


def either(min_size, max_size):
    """Bars, or bars whose prices triple from one bar on: a short held across the jump is ruined."""
    return st.one_of(bars(min_size=min_size, max_size=max_size), jumping(bars(min_size=min_size, max_size=max_size)))


def shifted(data: Bars, symbol: str, hours: int, keep_every: int) -> Bars:
    """A second symbol on a misaligned timeline: ``data``'s bars moved by ``hours``, some dropped."""
    keep = np.arange(len(data)) % keep_every != 1
    return Bars(symbol, data.time[keep] + np.timedelta64(hours, "h"), *(getattr(data, f)[keep] * 0.5 for f in (
        "open", "high", "low", "close")), data.volume[keep], None)


def short_first(case):
    """``case`` with long/short, all-in, uncapped lanes short from bar 0 by a market order and kept
    short: across a jump (``fp.testing.jumping``) such a lane's equity reaches zero, unless a risk
    limit held it back."""
    (s, rules), data, changes = case
    n = len(s)
    s = attrs.evolve(s, long_only=np.zeros(n, bool), fraction=np.ones(n), max_position=np.full(n, np.inf), uniform=None)
    rules = attrs.evolve(rules, order_type=np.zeros(n, np.int64), max_holding=np.zeros(n, np.int64))
    return (s, rules), data, [(np.array([0]), np.array([-1.0])) for _ in changes]


@LAWS
@given(st.one_of(portfolio_case(either(8, 80)), portfolio_case(jumping(bars(min_size=8, max_size=80))).map(short_first)))
def test_a_one_symbol_portfolio_makes_the_per_symbol_folds_fills(case):
    """Ruin included: a portfolio of one symbol is ruined where, and as, the lane is."""
    (s, rules), data, changes = case
    restricted = np.zeros((len(s), 1), bool) if s.limits is None else s.limits.restricted[:, None]
    alone = fold_sparse(CONTAINER, s, changes, data, rules=rules)
    shared = fold_portfolios(CONTAINER, s, [changes], (data,), [rules], restricted)
    for name in ("lane", "bar", "quantity", "price", "commission"):
        assert np.array_equal(getattr(alone.fills, name), getattr(shared.fills, name)), name
    assert np.array_equal(alone.rejections.lane, shared.rejections.lane)
    assert np.array_equal(alone.rejections.reason, shared.rejections.reason)
    assert np.array_equal(alone.final.cash, shared.final_cash)
    assert np.array_equal(alone.final.position, shared.final_positions[:, 0])
    for i in range(len(s)):
        assert np.allclose(alone.equity(i, data.close, float(s.initial_cash[i]))[0],
                           shared.equity(i, float(s.initial_cash[i]))[0], rtol=1e-12, atol=1e-9)
    ruin_bar = np.full(len(s), -1)
    ruin_bar[alone.ruined.lane] = alone.ruined.bar
    assert np.array_equal(ruin_bar, shared.ruin_bar)
    assert np.array_equal(alone.ruined.deficit, shared.ruin_deficit[alone.ruined.lane])


def test_short_first_cases_do_ruin_portfolios():
    """The law above is checked through ruin: its short-first cases reach it."""
    from hypothesis import Phase, find
    once = settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=100)
    (s, rules), data, changes = find(portfolio_case(jumping(bars(min_size=8, max_size=80))).map(short_first),
                                     lambda c: bool((fold_portfolios(CONTAINER, c[0][0], [c[2]], (c[1],), [c[0][1]],
                                                                     np.zeros((len(c[0][0]), 1), bool)).ruin_bar >= 0).any()),
                                     settings=once)
    assert len(s) >= 1


@st.composite
def two_symbols(draw, data=bars(min_size=8, max_size=60), short=False):
    """Two symbols on misaligned timelines (``short``: long/short lanes short from bar 0, see
    :func:`short_first`)."""
    (s, rules), data = draw(lanes()), draw(data)
    other = shifted(data, "B", draw(st.sampled_from([0, 6, 24])), draw(st.sampled_from([2, 3])))
    both = (data, other)
    changes = [draw(changes_for(len(s), len(b))) for b in both]
    if short:
        (s, rules), _, changes[0] = short_first(((s, rules), data, changes[0]))
        changes[1] = short_first(((s, rules), other, changes[1]))[2]
    return s, rules, both, changes


def fold_two(s, rules, both, changes, restricted=None):
    restricted = np.zeros((len(s), len(both)), bool) if restricted is None else restricted
    return fold_portfolios(CONTAINER, s, changes, both, [rules, rules], restricted)


@LAWS
@given(two_symbols())
def test_portfolio_cash_and_equity_are_conserved(case):
    """Cash replays from the fills (a ruin's close-outs among them) plus a ruin's write-off."""
    conserved(case)


@LAWS
@given(two_symbols(jumping(bars(min_size=8, max_size=60)), short=True))
def test_portfolio_cash_and_equity_are_conserved_through_ruin(case):
    conserved(case)


def conserved(case):
    s, rules, both, changes = case
    out = fold_two(s, rules, both, changes)
    for i in range(len(s)):
        mine = out.fills.lane == i
        spent = out.fills.quantity[mine] * out.fills.price[mine] + out.fills.commission[mine]
        scale = s.initial_cash[i] + float(np.abs(out.fills.quantity[mine] * out.fills.price[mine]).sum())
        assert math.isclose(out.final_cash[i], s.initial_cash[i] - spent.sum() + out.ruin_deficit[i], rel_tol=1e-9,
                            abs_tol=1e-9 * scale)
        if out.ruin_bar[i] >= 0:  # emptied at its ruin, and nothing traded after it
            assert (0.0, [0.0, 0.0]) == (out.final_cash[i], out.final_positions[i].tolist())
            assert np.all(out.fills.bar[mine] <= out.ruin_bar[i])
            assert np.all(out.equity(i, float(s.initial_cash[i]))[0][out.ruin_bar[i]:] == 0.0)
        held = np.zeros(len(both))
        np.add.at(held, out.fill_symbol[mine], out.fills.quantity[mine])
        assert np.allclose(held, out.final_positions[i], atol=1e-9)
        curve, _ = out.equity(i, float(s.initial_cash[i]))
        last = np.array([b.close[-1] for b in both])
        assert math.isclose(curve[-1], out.final_cash[i] + out.final_positions[i] @ last, rel_tol=1e-9, abs_tol=1e-6)


@LAWS
@given(two_symbols())
def test_fills_happen_only_at_their_own_symbols_bars_inside_the_bar(case):
    s, rules, both, changes = case
    out = fold_two(s, rules, both, changes)
    for sym, data in enumerate(both):
        mine = out.fill_symbol == sym
        at = out.time[out.fills.bar[mine]]
        bar = np.searchsorted(data.time, at)
        assert np.all(bar < len(data)) and np.array_equal(data.time[np.minimum(bar, len(data) - 1)], at)
        price = out.fills.price[mine]
        assert np.all((price >= data.low[bar] - 1e-9) & (price <= data.high[bar] + 1e-9))


@LAWS
@given(two_symbols())
def test_a_long_only_portfolio_never_spends_cash_it_does_not_have(case):
    s, rules, both, changes = case
    s = LaneSettings(s.initial_cash, np.ones(len(s)), s.whole, np.ones(len(s), bool), np.full(len(s), np.inf),
                     s.commission, s.slippage, s.fill_on_close)  # all in: each buy wants the whole equity
    out = fold_two(s, rules, both, changes)
    assert np.all(out.change_cash >= -1e-9 * np.maximum(1.0, np.abs(out.change_cash)))
    assert np.all(out.change_positions >= 0.0)


@LAWS
@given(two_symbols(), st.data())
def test_a_portfolio_folds_the_same_alone_as_beside_others(case, data):
    s, rules, both, changes = case
    lane = data.draw(st.integers(0, len(s) - 1))
    together = fold_two(s, rules, both, changes)
    alone = fold_two(s.rows([lane]), rules.rows([lane]), both, [[per[lane]] for per in changes])
    mine = together.fills.lane == lane
    for name in ("bar", "quantity", "price", "commission"):
        assert np.array_equal(getattr(together.fills, name)[mine], getattr(alone.fills, name)), name
    assert np.array_equal(together.fill_symbol[mine], alone.fill_symbol)
