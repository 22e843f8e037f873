"""Laws of the backtest fold (ARCHITECTURE.md laws 1, 4, 6, 7 and sparse ≡ streaming)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from law_harness import CONTAINER, equity_of, lanes, laws, ruinous, same_record, sparse

from fp.ledger import compress_equity
from fp.testing import bars
from pipelines.engine.folds import fold_streaming
from state.market import Bars

LAWS = laws(60)


@LAWS
@given(lanes(), bars(min_size=1, max_size=90))
def test_sparse_fold_equals_bar_by_bar_streaming(case, data):
    signals, s = case
    fast = sparse(signals, s, data)
    reference, equity = fold_streaming(CONTAINER, s, signals, data)
    same_record(reference.fills, fast.fills)
    same_record(reference.rejections, fast.rejections)
    same_record(reference.trades, fast.trades)
    same_record(reference.final, fast.final)
    assert np.array_equal(equity, equity_of(fast, s, data))
    for i in range(len(signals)):
        full = compress_equity(*fast.equity(i, data.close, float(s.initial_cash[i])))
        points = fast.equity_points(i, data.close, float(s.initial_cash[i]))
        assert np.array_equal(full.values, points.values)
        assert (full.n_bars, full.exposure_bars) == (points.n_bars, points.exposure_bars)


@LAWS
@given(ruinous, bars(min_size=30, max_size=90))
def test_sparse_fold_equals_bar_by_bar_streaming_through_ruin(case, data):
    """Ruin (equity <= 0 at a close: position closed there, deficit written off, no later order)
    is found by the sparse fold after the fact and by the streaming fold as it goes: the same."""
    signals, s = case
    fast = sparse(signals, s, data)
    reference, equity = fold_streaming(CONTAINER, s, signals, data)
    for name in ("fills", "rejections", "trades", "final", "ruined", "expired"):
        same_record(getattr(reference, name), getattr(fast, name))
    for name in ("change_lane", "change_bar", "change_cash", "change_position"):
        assert np.array_equal(getattr(reference, name), getattr(fast, name)), name
    assert np.array_equal(equity, equity_of(fast, s, data))
    for lane, bar in zip(fast.ruined.lane, fast.ruined.bar):
        assert np.all(equity[lane, bar:] == 0.0) and np.all(equity[lane, :bar] > 0.0)
        assert not np.any(fast.fills.bar[fast.fills.lane == lane] > bar)


def test_the_ruinous_lanes_do_ruin_lanes():
    """The generator above reaches ruin (else the law above would check nothing new)."""
    from hypothesis import Phase, find, settings
    once = settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=200)
    signals, s, data = find(st.tuples(ruinous, bars(min_size=30, max_size=90)).map(lambda c: (*c[0], c[1])),
                            lambda c: len(sparse(*c).ruined.lane) > 0, settings=once)
    assert len(sparse(signals, s, data).ruined.lane) > 0


@LAWS
@given(lanes(max_lanes=5), bars(min_size=2, max_size=90))
def test_isolation_lane_in_a_sweep_equals_the_lane_alone(case, data):
    signals, s = case
    together = sparse(signals, s, data)
    eq_together = equity_of(together, s, data)
    for i in range(len(signals)):
        alone = sparse([signals[i]], s.rows(slice(i, i + 1)), data)
        assert np.array_equal(eq_together[i], equity_of(alone, s.rows(slice(i, i + 1)), data)[0])
        mine = together.fills.lane == i
        for f in ("bar", "quantity", "price", "commission"):
            assert np.array_equal(getattr(together.fills, f)[mine], getattr(alone.fills, f))
        t_mine = together.trades.lane == i
        for f in ("entry_bar", "exit_bar", "size", "pnl", "entry_price"):
            assert np.array_equal(getattr(together.trades, f)[t_mine], getattr(alone.trades, f), equal_nan=True)


@LAWS
@given(lanes(), bars(min_size=3, max_size=90), st.integers(0, 88), st.sampled_from([0.6, 1.5]))
def test_no_lookahead_changing_later_bars_changes_nothing_before(case, data, cut, factor):
    signals, s = case
    t = min(cut, len(data) - 2)
    later = Bars(data.symbol, data.time, *(np.concatenate((x[:t + 1], x[t + 1:] * factor))
                                          for x in (data.open, data.high, data.low, data.close)),
                 data.volume, None)
    plain = Bars(data.symbol, data.time, data.open, data.high, data.low, data.close, data.volume, None)
    a, b = sparse(signals, s, plain), sparse(signals, s, later)
    assert np.array_equal(equity_of(a, s, plain)[:, :t + 1], equity_of(b, s, later)[:, :t + 1])
    early_a, early_b = a.fills.bar <= t, b.fills.bar <= t
    assert np.array_equal(a.fills.quantity[early_a], b.fills.quantity[early_b])


@LAWS
@given(lanes(), bars(min_size=1, max_size=90))
def test_determinism_same_inputs_same_bits(case, data):
    signals, s = case
    a, b = sparse(signals, s, data), sparse(signals, s, data)
    same_record(a.fills, b.fills)
    same_record(a.trades, b.trades)
    assert np.array_equal(equity_of(a, s, data), equity_of(b, s, data))


@LAWS
@given(st.one_of(lanes(), ruinous), bars(min_size=1, max_size=90))
def test_conservation_cash_position_fills_and_trades_add_up(case, data):
    """Cash and position replay from the fills; a ruin's write-off (the deficit) is the one
    change that is not a fill, and with it trades explain the whole change in equity."""
    signals, s = case
    folded = sparse(signals, s, data)
    fills = folded.fills
    deficit = dict(zip(folded.ruined.lane.tolist(), folded.ruined.deficit.tolist()))
    liquidated = dict(zip(folded.ruined.lane.tolist(), folded.ruined.quantity.tolist()))
    # fills happen inside the bar's range and never leave a position above its cap
    assert np.all(fills.price >= data.low[fills.bar]) and np.all(fills.price <= data.high[fills.bar])
    for i in range(len(signals)):
        mine = fills.lane == i
        q, px, fee = fills.quantity[mine], fills.price[mine], fills.commission[mine]
        # cash and position replay exactly from the fills, starting from the initial cash
        cash, position = float(s.initial_cash[i]), 0.0
        cash_path, position_path = [], []
        for qty, price, commission in zip(q, px, fee):
            cash, position = cash - qty * price - commission, position + qty
            cash_path.append(cash)
            position_path.append(position)
        if i in deficit:  # a liquidation (unless flat) was the last fill; the write-off empties the account
            assert (0.0, -deficit[i]) == (position, cash)
            if liquidated[i]:
                assert (liquidated[i], 0.0) == (q[-1], fee[-1]) and px[-1] == data.close[fills.bar[mine][-1]]
                q, px, fee = q[:-1], px[:-1], fee[:-1]
            cash_path.append(cash + deficit[i])
            position_path.append(0.0)
            cash = 0.0
        lo, hi = np.searchsorted(folded.change_lane, [i, i + 1])
        assert np.array_equal(folded.change_cash[lo:hi], cash_path)
        assert np.array_equal(folded.change_position[lo:hi], position_path)
        assert np.all(np.abs(position_path) <= s.max_position[i])
        assert np.allclose(fee, np.abs(q) * px * s.commission[i], rtol=1e-12, atol=0)
        if s.long_only[i]:
            assert np.all(np.asarray(position_path) >= 0.0)
        equity, held = folded.equity(i, data.close, float(s.initial_cash[i]))
        # equity is cash + position × close at every bar
        assert equity[-1] == cash + position * data.close[-1]
        # closed and open trades (and a written-off deficit) explain the whole change in equity
        mine_t = folded.trades.lane == i
        explained = float(np.sum(folded.trades.pnl[mine_t])) + deficit.get(i, 0.0)
        scale = max(s.initial_cash[i], float(np.max(np.abs(folded.trades.pnl[mine_t]), initial=0.0)))
        assert np.isclose(explained, equity[-1] - s.initial_cash[i], rtol=1e-9, atol=1e-6 * scale)


def same_value(a, b) -> bool:
    """Equal, NaN equal to NaN (and of the same kind: a float is not an int)."""
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return type(a) is type(b) and a == b


@LAWS
@given(st.one_of(lanes(max_lanes=6), ruinous), bars(min_size=1, max_size=90))
def test_research_statistics_of_all_lanes_at_once_equal_each_lanes_own(case, data):
    """Batch ≡ per lane: the research statistics a sweep computes for every lane of a symbol at once
    (``fp.metrics.lane_research_statistics``, in the chunks ``lane_outcomes`` takes) equal, bit for
    bit, the per-lane definitions (``fp.metrics.research_statistics``) of each lane's own curve and
    closed trades — ruined lanes included; the batch-built curves equal each lane's own."""
    from fp.metrics import research_statistics
    from pipelines.engine import evaluate
    from pipelines.engine.tables import closed_trades
    signals, s = case
    folded = sparse(signals, s, data)
    n = len(signals)
    bounds = folded.lane_bounds(n, folded.trades.lane)
    for chunk in (evaluate.POINTS_AT_ONCE, 1):  # every lane in one chunk, and one lane a chunk
        evaluate.POINTS_AT_ONCE, before = chunk, evaluate.POINTS_AT_ONCE
        try:
            outcomes = list(evaluate.lane_outcomes(folded, s.initial_cash, data, 0))
        finally:
            evaluate.POINTS_AT_ONCE = before
        for i, (curve, batch) in enumerate(outcomes):
            own = folded.equity_points(i, data.close, float(s.initial_cash[i]))
            assert np.array_equal(own.values, curve.values) and np.array_equal(own.bars, curve.bars)
            assert (own.n_bars, own.exposure_bars) == (curve.n_bars, curve.exposure_bars)
            expected = research_statistics(own, closed_trades(folded.trades, bounds[i], bounds[i + 1], 0), data.close,
                                           data.time)
            assert list(expected) == list(batch)
            for name in expected:
                assert same_value(expected[name], batch[name]), (i, name, expected[name], batch[name])
