"""Laws of signal generation and replay (ARCHITECTURE.md law 2)."""
import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from law_harness import laws, market_of

import pipelines
from fp.strategies import STRATEGIES, expand_changes, held_targets
from fp.testing import bars, batch_outputs, params_for

LAWS = laws(30)
SETTINGS = {
    "portfolio": {"direction": ["long_only", "long_short"], "fractional": [False, True]},
    "execution": {"fill": ["next_open", "close"], "commission": [0.0, 0.002], "slippage_bps": [0.0, 5.0]},
}


def same_table(a, b) -> bool:
    """Equal schemas and values, NaN equal to NaN (``Table.equals`` treats NaN as unequal)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type):
            if not np.array_equal(x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False), equal_nan=True):
                return False
        elif not x.equals(y):
            return False
    return True


@st.composite
def strategy_grids(draw):
    names = draw(st.lists(st.sampled_from(sorted(STRATEGIES)), min_size=1, max_size=2, unique=True))
    return [{"type": n, "parameters": {p: draw(st.lists(st.just(v), min_size=1, max_size=1))
                                       for p, v in draw(params_for(STRATEGIES[n], window_cap=10)).items()}}
            for n in names]


@LAWS
@given(strategy_grids(), bars(min_size=2, max_size=80))
def test_replay_of_generated_signals_equals_the_backtest_bit_for_bit(strategies, data):
    market = market_of(data)
    backtest = pipelines.run({**SETTINGS, "strategies": strategies}, market=market)
    store = pipelines.generate_signals({"strategies": strategies}, market=market)
    replayed = pipelines.replay({**SETTINGS, "workflow": {"type": "signal_replay"}, "signals": "unused"},
                                store=store, market=market)
    assert same_table(backtest.results, replayed.results)
    assert same_table(backtest.trades, replayed.trades)
    assert 2 * 2 * 2 * 2 * 2 * len(store.combinations()) == replayed.results.num_rows


@LAWS
@given(st.sampled_from(sorted(STRATEGIES)), st.data(), bars(min_size=1, max_size=80))
def test_a_sparse_store_expands_back_to_the_dense_signal(name, draw, data):
    strategy = STRATEGIES[name]
    params = draw.draw(params_for(strategy, window_cap=10))
    store = pipelines.generate_signals({"strategies": [{"type": name, "parameters": params}]}, market=market_of(data))
    (combo,) = store.combinations()
    index, values = store.changes[(combo.combo_id, data.symbol)]
    dense = held_targets(batch_outputs(strategy, params, data)[0], strategy.trigger)
    assert np.array_equal(dense, expand_changes(index, values, len(data)))
