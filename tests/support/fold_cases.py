"""Generated lanes for the laws of the fold: strategies with parameters and per-lane settings
(``lanes``, ``ruinous``), and their sparse fold (``sparse``)."""
import numpy as np
from hypothesis import strategies as st

from fp.strategies import STRATEGIES, signal_changes
from fp.testing import batch_outputs, params_for
from pipelines.engine.folds import LaneSignal, fold_sparse
from pipelines.engine.patterns import FULL_BACKTEST, container_for
from state.market import Bars
from state.portfolio import LaneSettings

__all__ = ["CONTAINER", "lanes", "ruinous", "sparse"]

CONTAINER = container_for(FULL_BACKTEST)


@st.composite
def lanes(draw, max_lanes=4, fractions=(1.0, 0.5, 0.3, 4.0), caps=(np.inf, 3.0, 40.0, 0.0),
          directions=(True, False)):
    """Strategies with parameters and per-lane settings covering every execution option; a
    fraction above 1 is leverage (4: a 25 % move against the position ruins the lane)."""
    n = draw(st.integers(1, max_lanes))
    signals = []
    for _ in range(n):
        strategy = draw(st.sampled_from(sorted(STRATEGIES)))
        signals.append(LaneSignal(STRATEGIES[strategy], draw(params_for(STRATEGIES[strategy], window_cap=12))))
    pick = lambda values: np.array(draw(st.lists(st.sampled_from(values), min_size=n, max_size=n)))
    s = LaneSettings(
        initial_cash=pick([1_000.0, 10_000.0, 123_456.78]),
        fraction=pick(list(fractions)),
        whole=pick([True, False]),
        long_only=pick(list(directions)),
        max_position=pick(list(caps)),
        commission=pick([0.0, 0.001, 0.002, 0.01]),
        slippage=pick([0.0, 0.0005, 0.01]),
        fill_on_close=pick([False, True]),
    )
    return signals, s


#: Leveraged long/short lanes without a position cap on series of 30+ bars: about half the
#: examples ruin a lane (its equity reaches 0 at a close), so the laws are checked through ruin.
ruinous = lanes(fractions=(4.0, 10.0, 25.0), caps=(np.inf,), directions=(False,))


def sparse(signals, s, data: Bars):
    changes = [signal_changes(batch_outputs(x.strategy, x.params, data)[0], x.strategy.trigger) for x in signals]
    return fold_sparse(CONTAINER, s, changes, data)
