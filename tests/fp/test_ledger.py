"""The FIFO ledger against a plain scalar oracle, including adds, partial closes and reversals."""
from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fp.ledger import compress_equity, equity_curve, equity_points, trades_from_fills
from fp.metrics import metrics


def fifo_oracle(fills, mark):
    """Scalar FIFO: lots [bar, price, units, fee]; returns (entry_bar, exit_bar, size, pnl) rows."""
    lots, out, position = deque(), [], 0.0
    for bar, q, price, fee in fills:
        reduce = min(abs(q), abs(position)) if position * q < 0 else 0.0
        close_fee = fee * reduce / abs(q)
        remaining = reduce
        while remaining > 0:
            lot = lots[0]
            take = min(remaining, lot[2])
            side = 1.0 if position > 0 else -1.0
            entry_fee = lot[3] * take / lot[2]
            out.append((lot[0], bar, side * take, side * take * (price - lot[1]) - entry_fee - close_fee * take / reduce))
            lot[3] -= entry_fee
            lot[2] -= take
            remaining -= take
            if lot[2] <= 1e-12:
                lots.popleft()
        position += q
        opened = abs(q) - reduce
        if opened > 0:
            lots.append([bar, price, opened, fee - close_fee])
    side = 1.0 if position > 0 else -1.0
    for lot in lots:
        out.append((lot[0], -1, side * lot[2], side * lot[2] * (mark - lot[1]) - lot[3]))
    return out


quantities = st.lists(st.integers(-6, 6).filter(bool), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(quantities, st.data())
def test_trades_match_a_scalar_fifo_oracle(qs, data):
    prices = data.draw(st.lists(st.integers(50, 150), min_size=len(qs), max_size=len(qs)))
    fees = [abs(q) * p * 0.001 for q, p in zip(qs, prices)]
    bars = list(range(1, 2 * len(qs) + 1, 2))
    position_after = np.cumsum(np.array(qs, dtype=float))
    t = trades_from_fills(np.zeros(len(qs), np.int64), np.array(bars), np.array(qs, float), np.array(prices, float),
                          np.array(fees), position_after, np.array([99.0]))
    expected = fifo_oracle(list(zip(bars, qs, prices, fees)), 99.0)
    # trades come in the order they closed, open ones last
    exit_order = np.where(t.closed, t.exit_bar, np.iinfo(np.int64).max)
    assert np.all(np.diff(exit_order) >= 0)
    closed = sorted(r for r in expected if r[1] >= 0)
    got_closed = sorted(zip(t.entry_bar[t.closed].tolist(), t.exit_bar[t.closed].tolist(),
                            t.size[t.closed].tolist(), t.pnl[t.closed].tolist()))
    assert [r[:3] for r in closed] == [r[:3] for r in got_closed]
    assert np.allclose([r[3] for r in closed], [r[3] for r in got_closed], rtol=1e-12, atol=1e-9)
    still_open = sorted(r for r in expected if r[1] < 0)
    got_open = sorted(zip(t.entry_bar[~t.closed].tolist(), t.size[~t.closed].tolist(), t.pnl[~t.closed].tolist()))
    assert [(r[0], r[2]) for r in still_open] == [r[:2] for r in got_open]
    assert np.allclose([r[3] for r in still_open], [r[2] for r in got_open], rtol=1e-12, atol=1e-9)


def test_lanes_do_not_mix():
    lane = np.array([0, 0, 1, 1, 1])
    t = trades_from_fills(lane, np.array([1, 3, 1, 2, 4]), np.array([5.0, -5.0, -2.0, 4.0, -2.0]),
                          np.array([10.0, 12.0, 20.0, 18.0, 19.0]), np.zeros(5),
                          np.array([5.0, 0.0, -2.0, 2.0, 0.0]), np.array([11.0, 21.0]))
    assert [0, 1, 1] == t.lane.tolist()
    assert [10.0, 4.0, 2.0] == t.pnl.tolist()  # 5×(12−10); −2×(18−20); 2×(19−18)
    assert [5.0, -2.0, 2.0] == t.size.tolist()


def test_equity_curve_holds_state_from_each_change_on():
    eq, pos = equity_curve(np.array([1.0, 2.0, 3.0]), np.array([0, 2]), np.array([5.0, 11.0]),
                           np.array([5.0, 0.0]), 10.0)
    assert [10.0, 15.0, 11.0] == eq.tolist()
    assert [5.0, 5.0, 0.0] == pos.tolist()


# ---- the compressed curve keeps a flat bar whose equity moved ----------------------------------

def test_a_lane_ruined_on_its_entry_bar_ends_at_zero_in_both_compressed_forms():
    # entered at bar 2's open (800 shares at 5.0), closed out at its close 2.5 and the deficit
    # written off: three change rows at bar 2, flat before and after. The compressed curve used to
    # keep only bar 0 (1000): a final equity of 1000 instead of 0.
    close, bars = np.array([5.0, 5.0, 2.5]), np.array([2, 2, 2])
    cash, position = np.array([-3000.0, -1000.0, 0.0]), np.array([800.0, 0.0, 0.0])
    full = compress_equity(*equity_curve(close, bars, cash, position, 1000.0))
    points = equity_points(close, bars, cash, position, 1000.0)
    assert [1000.0, 0.0] == full.values.tolist() == points.values.tolist()
    assert [0, 2] == full.bars.tolist() == points.bars.tolist()
    assert 0.0 == metrics(full, np.array([-1000.0]), 0.0, initial_cash=1000.0, periods_per_year=252.0,
                          years=1.0)["final_equity"]


def test_a_round_trip_that_moves_nothing_adds_no_point():
    # bought and sold at 10.0 within bar 1: equity 100 throughout, one point
    close, bars = np.array([10.0, 10.0, 10.0]), np.array([1, 1])
    cash, position = np.array([0.0, 100.0]), np.array([10.0, 0.0])
    assert [100.0] == equity_points(close, bars, cash, position, 100.0).values.tolist()
    assert [100.0] == compress_equity(*equity_curve(close, bars, cash, position, 100.0)).values.tolist()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_equity_points_equal_the_compressed_full_curve(data):
    n = data.draw(st.integers(1, 12))
    k = data.draw(st.integers(0, 8))
    bars = np.sort(np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), np.int64))
    cash = np.array(data.draw(st.lists(st.sampled_from([-50.0, 0.0, 40.0, 100.0]), min_size=k, max_size=k)))
    position = np.array(data.draw(st.lists(st.sampled_from([-2.0, 0.0, 0.0, 3.0]), min_size=k, max_size=k)))
    close = np.array(data.draw(st.lists(st.floats(1.0, 20.0), min_size=n, max_size=n)))
    full = compress_equity(*equity_curve(close, bars, cash, position, 100.0))
    points = equity_points(close, bars, cash, position, 100.0)
    assert full.values.tolist() == points.values.tolist() and full.bars.tolist() == points.bars.tolist()
    assert (full.n_bars, full.exposure_bars) == (points.n_bars, points.exposure_bars)
