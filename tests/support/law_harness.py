"""The law harness: what the laws of ``tests/laws`` draw and compare, written once.

* :func:`laws` — a law's hypothesis settings (derandomized, no deadline);
* :func:`picker`, :func:`lane_signals`, :func:`risk_limits`, :func:`order_rules` — the pieces a law
  draws its lanes from: one value per lane out of a pool, strategies with parameters, risk limits
  (loss halts included), order rules with exits;
* :func:`lanes`, :data:`ruinous`, :func:`sparse` — plain lanes (every basic setting; ``ruinous``:
  leveraged ones that often reach zero) and their sparse fold;
* :func:`changes_of`, :func:`with_atr`, :data:`CONTAINER` — what the sparse fold takes;
* :func:`equity_of`, :func:`same_record`, :func:`market_of` — what the laws compare.

Each law file composes its own generator from these, with the value pools its laws need.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fp.features import FEATURES
from fp.strategies import STRATEGIES, signal_changes
from fp.testing import batch_outputs, params_for
from pipelines.engine.folds import LaneSignal, fold_sparse
from pipelines.engine.patterns import FULL_BACKTEST, container_for
from state.market import Bars, MarketData
from state.orders import OrderRules
from state.portfolio import LaneSettings, RiskLimits

NAN = math.nan

#: The full backtest pattern's container, which every fold law folds through.
CONTAINER = container_for(FULL_BACKTEST)


def laws(max_examples: int, *suppressed: HealthCheck) -> settings:
    """A law's settings: ``max_examples`` derandomized examples, no deadline."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, *suppressed])


def picker(draw: Callable, n: int) -> Callable[..., np.ndarray]:
    """``pick(values, dtype=None)``: one value per lane out of ``values``."""
    def pick(values: Sequence, dtype=None) -> np.ndarray:
        return np.array(draw(st.lists(st.sampled_from(list(values)), min_size=n, max_size=n)), dtype)
    return pick


def lane_signals(draw: Callable, n: int) -> list[LaneSignal]:
    """``n`` built-in strategies, each with parameters (windows capped at 12 bars)."""
    signals = []
    for _ in range(n):
        name = draw(st.sampled_from(sorted(STRATEGIES)))
        signals.append(LaneSignal(STRATEGIES[name], draw(params_for(STRATEGIES[name], window_cap=12))))
    return signals


@st.composite
def lanes(draw, max_lanes=4, fractions=(1.0, 0.5, 0.3, 4.0), caps=(np.inf, 3.0, 40.0, 0.0),
          directions=(True, False)):
    """Strategies with parameters and per-lane settings covering every execution option; a
    fraction above 1 is leverage (4: a 25 % move against the position ruins the lane)."""
    n = draw(st.integers(1, max_lanes))
    signals = lane_signals(draw, n)
    pick = picker(draw, n)
    s = LaneSettings(
        initial_cash=pick([1_000.0, 10_000.0, 123_456.78]),
        fraction=pick(fractions),
        whole=pick([True, False]),
        long_only=pick(directions),
        max_position=pick(caps),
        commission=pick([0.0, 0.001, 0.002, 0.01]),
        slippage=pick([0.0, 0.0005, 0.01]),
        fill_on_close=pick([False, True]),
    )
    return signals, s


#: Leveraged long/short lanes without a position cap on series of 30+ bars: about half the
#: examples ruin a lane (its equity reaches 0 at a close), so the laws are checked through ruin.
ruinous = lanes(fractions=(4.0, 10.0, 25.0), caps=(np.inf,), directions=(False,))


def sparse(signals: Sequence[LaneSignal], s: LaneSettings, data: Bars):
    """The sparse fold of ``signals`` under settings ``s`` on ``data`` (no order rules)."""
    return fold_sparse(CONTAINER, s, changes_of(signals, data), data)


def risk_limits(pick: Callable, *, halts: Sequence[bool] = (False, False, True)) -> RiskLimits:
    """Position, value, exposure and leverage caps and the loss halts, each set in some lanes."""
    return RiskLimits(pick([NAN, 500.0, 5_000.0]), pick([NAN, 0.3]), pick([NAN, 2_000.0]), pick([NAN, 800.0]),
                      pick([NAN, 0.5, 2.0]), pick([NAN]), pick([NAN, 0.005, 0.02]), pick([NAN, 0.01, 0.05]),
                      pick(halts, bool))


def order_rules(pick: Callable, s: LaneSettings, *, fractions: Sequence[float], atr: bool,
                holding: Sequence[int], participation_bars: bool = False) -> OrderRules:
    """Order types, time in force and exits by ``fractions`` of the entry (``atr``: also by ATR
    multiples; :func:`with_atr` adds the ATR from the data)."""
    n = len(s)
    by_atr = (lambda values: pick(values)) if atr else (lambda values: np.full(n, NAN))
    return OrderRules(
        delay=np.where(s.fill_on_close, 0, 1).astype(np.int64), order_type=pick([0, 0, 1, 2, 3], np.int64),
        limit_offset=pick([0.0, 0.01]), stop_offset=pick([0.0, 0.01]), good_till_cancelled=pick([True, False], bool),
        stop_loss=pick(fractions), take_profit=pick(fractions), trailing_stop=pick(fractions),
        stop_loss_atr=by_atr([NAN, 1.5]), take_profit_atr=by_atr([NAN, 3.0]), trailing_stop_atr=by_atr([NAN, NAN, 2.0]),
        max_holding=pick(holding, np.int64), target_first=pick([False, True], bool),
        participation_bars=pick([0, 3], np.int64) if participation_bars else None)


def with_atr(rules: OrderRules, data: Bars) -> OrderRules:
    """``rules`` with the 5-bar ATR of ``data`` for every lane's ATR exits."""
    atr = FEATURES["atr"].compute({"period": 5}, (data.high, data.low, data.close), data.price_precision)[0]
    return attrs.evolve(rules, atr=tuple(atr for _ in range(len(rules))))


def changes_of(signals: Sequence[LaneSignal], data: Bars) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each lane's signal changes on ``data`` (the batch form of its strategy)."""
    return [signal_changes(batch_outputs(x.strategy, x.params, data)[0], x.strategy.trigger) for x in signals]


def equity_of(folded, s: LaneSettings, data: Bars) -> np.ndarray:
    """Every lane's equity at every close (lanes × bars)."""
    n = len(s)
    return np.array([folded.equity(i, data.close, float(s.initial_cash[i]))[0] for i in range(n)]).reshape(n, len(data))


def same_record(a, b) -> None:
    """Two batch records (fills, trades, states) equal field by field, bit for bit (NaN equal to NaN)."""
    for f in attrs.fields(type(a)):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            assert x is None and y is None, f.name
            continue
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name


def market_of(data: Bars) -> MarketData:
    """One generated symbol as market data (daily: 252 periods a year)."""
    return MarketData((data,), "generated", f"test-{len(data)}", 252.0)
