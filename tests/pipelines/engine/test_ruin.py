"""Ruin: a lane whose equity reaches 0 at a close is closed out there and trades no more; its
metrics are defined (-100 %, drawdown 100 %), the ratios that are not are NaN with the reason."""
import math

import numpy as np

import pipelines
from pipelines.engine.folds import fold_sparse
from pipelines.engine.patterns import FULL_BACKTEST, container_for
from state.market import Bars, MarketData
from state.portfolio import LaneSettings

CLOSE = np.array([10.0, 10.0, 12.0, 16.0, 21.0, 25.0])
BARS = Bars("X", np.arange(6).astype("datetime64[D]").astype("datetime64[ns]"), CLOSE, CLOSE, CLOSE, CLOSE,
            np.full(6, 1e9), 2)

ALWAYS_SHORT = '''
import numpy as np
from fp.components import ref, strategy

@strategy(params=(), features={"close": ref("price")})
def always_short(p, f):
    return np.full(len(f["close"]), -1.0)
'''


def settings(n=1):
    one = lambda value, dtype=np.float64: np.full(n, value, dtype)
    return LaneSettings(initial_cash=one(1_000.0), fraction=one(1.0), whole=one(False, bool),
                        long_only=one(False, bool), max_position=one(np.inf), commission=one(0.0),
                        slippage=one(0.0), fill_on_close=one(False, bool))


def test_a_short_through_a_doubling_is_ruined_by_hand():
    """Short from bar 1's open at 10: 100 units, cash 2,000. Equity at the closes: 1,000, 800,
    400, then 2,000 - 100 × 21 = -100 at bar 4: ruined there, bought back at 21 without costs,
    the 100 written off; equity 0 from then on. The trade lost 1,100."""
    folded = fold_sparse(container_for(FULL_BACKTEST), settings(), [(np.array([0]), np.array([-1.0]))], BARS)
    assert [1, 4] == folded.fills.bar.tolist()
    assert [-100.0, 100.0] == folded.fills.quantity.tolist()
    assert [10.0, 21.0] == folded.fills.price.tolist() and [0.0, 0.0] == folded.fills.commission.tolist()
    ruined = folded.ruined
    assert ([0], [4], [21.0], [100.0], [100.0]) == (ruined.lane.tolist(), ruined.bar.tolist(), ruined.price.tolist(),
                                                   ruined.quantity.tolist(), ruined.deficit.tolist())
    equity, position = folded.equity(0, CLOSE, 1_000.0)
    assert [1_000.0, 1_000.0, 800.0, 400.0, 0.0, 0.0] == equity.tolist()
    assert [0.0, -100.0, -100.0, -100.0, 0.0, 0.0] == position.tolist()
    assert ([-1_100.0], [True]) == (folded.trades.pnl.tolist(), folded.trades.closed.tolist())
    assert (0.0, 0.0) == (float(folded.final.cash[0]), float(folded.final.position[0]))


def test_orders_after_the_ruin_never_reach_the_market():
    """The signal turns long at bar 4 (an order for bar 5's open): the lane is ruined at bar 4's
    close first, so nothing fills at bar 5 and nothing is rejected."""
    changes = [(np.array([0, 4]), np.array([-1.0, 1.0]))]
    folded = fold_sparse(container_for(FULL_BACKTEST), settings(), changes, BARS)
    assert [1, 4] == folded.fills.bar.tolist() and 0 == len(folded.rejections.lane)
    assert [4] == folded.ruined.bar.tolist()


def test_always_short_goog_is_ruined_with_defined_metrics(author, goog):
    """Issue 19: the always-short GOOG run ended at -59,812: total_return_pct -698,
    max_drawdown_pct 692.9 and a Sharpe ratio of sign-flipped returns."""
    author("ruin_signals", ALWAYS_SHORT)
    result = pipelines.run({"portfolio": {"direction": "long_short"},
                            "strategies": [{"type": "ruin_signals:always_short"}]},
                           market=MarketData((goog,), "GOOG", "x", 252.0))
    (row,) = result.results.to_pylist()
    assert (True, -100.0, 100.0, -100.0, 0.0) == (row["ruined"], row["total_return_pct"], row["max_drawdown_pct"],
                                                 row["cagr_pct"], row["final_equity"])
    assert math.isnan(row["sharpe"]) and math.isnan(row["sortino"])
    first_double = int(np.argmax(goog.close >= 2.0 * goog.open[1]))  # the close where the short's equity is gone
    assert goog.time[first_double] == np.datetime64(row["ruin_time"])
    assert row["notes"].startswith(f"ruined at {str(goog.time[first_double])[:10]}: equity -")
    assert row["notes"].endswith("sharpe, sortino undefined: equity reached 0 (ruin): no return is defined after it")
    assert 1 == row["n_trades"] and 1 == result.trades.num_rows
    assert result.manifest["warnings"][0].startswith("1 of 1 lane(s) ruined: equity reached 0 at a close")


def test_a_ruined_lane_takes_part_in_overfitting_statistics(author, goog):
    """Its returns after the ruin are 0 (an empty account), not 0/0."""
    author("ruin_signals", ALWAYS_SHORT)
    result = pipelines.run({"workflow": {"type": "optimization"}, "portfolio": {"direction": "long_short"},
                            "strategies": [{"type": "ruin_signals:always_short"},
                                           {"type": "momentum", "parameters": {"lookback_period": [10, 20]}}]},
                           market=MarketData((goog,), "GOOG", "x", 252.0))
    stats = result.manifest["overfitting"]
    assert 3 == stats["n_trials"] and 0.0 <= stats["pbo"] <= 1.0
    assert [True, False, False] == result.results.column("ruined").to_pylist()


def test_train_test_results_say_which_part_ruined_a_lane(author, goog):
    author("ruin_signals", ALWAYS_SHORT)
    result = pipelines.run({"workflow": {"type": "optimization"}, "data": {"split": {"train": 0.3}},
                            "portfolio": {"direction": "long_short"}, "top_k": 2,
                            "strategies": [{"type": "ruin_signals:always_short"},
                                           {"type": "momentum", "parameters": {"lookback_period": 10}}]},
                           market=MarketData((goog,), "GOOG", "x", 252.0))
    short, momentum = result.results.to_pylist()
    assert {"train_ruined", "train_ruin_time", "train_notes", "test_ruined", "test_ruin_time", "test_notes"} <= set(short)
    assert "ruined" not in short
    assert (True, False) == (short["train_ruined"], momentum["train_ruined"])
    assert short["test_ruined"] == (short["test_ruin_time"] is not None)
    assert any("on the training part" in w for w in result.manifest["warnings"])


def test_a_shared_cash_portfolio_is_ruined_like_a_lane(author, goog):
    """Two symbols (GOOG, and GOOG at half the price), both always short, sharing cash."""
    author("ruin_signals", ALWAYS_SHORT)
    half = Bars("HALF", goog.time, goog.open / 2, goog.high / 2, goog.low / 2, goog.close / 2, goog.volume, None)
    market = MarketData((goog, half), "two", "x", 252.0)
    spec = {"portfolio": {"direction": "long_short", "shared_cash": True},
            "strategies": [{"type": "ruin_signals:always_short"}]}
    result = pipelines.run(spec, market=market)
    (row,) = result.results.to_pylist()
    assert (True, -100.0, 100.0, 0.0) == (row["ruined"], row["total_return_pct"], row["max_drawdown_pct"],
                                         row["final_equity"])
    assert math.isnan(row["sharpe"]) and row["notes"].startswith("ruined at ")
    assert [0.0, 0.0] == result.final.column("position").to_pylist() and {0.0} == set(result.final.column("cash").to_pylist())
    # both shorts were closed at the ruin's timestamp, the last trades of the run
    assert {np.datetime64(row["ruin_time"])} == {np.datetime64(t) for t in result.trades.column("exit_time").to_pylist()}
