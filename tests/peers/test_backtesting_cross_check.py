"""admf equals backtesting.py to 1e-6 under the peers' W0 semantics (SMA 10/20 on GOOG).

The pinned numbers in ``backtesting_py_goog_sma.json`` were produced by backtesting.py 0.6.6
(``make_reference.py``); the ``peers`` tests re-run backtesting.py live when it is installed.
"""
import json
import os

import numpy as np
import pytest

import pipelines
from pipelines.engine.folds import fold_sparse
from pipelines.engine.lanes import lane_settings
from pipelines.engine.signals import signal_of
from fp.hub import compute_features
from fp.metrics import buy_hold_return_pct
from fp.strategies import signal_changes

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = json.load(open(os.path.join(HERE, "backtesting_py_goog_sma.json")))
TOL = 1e-6


def admf(variant: str):
    spec = {
        "data": {"dataset": "GOOG"},
        "portfolio": {"initial_cash": 10_000, "direction": variant},
        "execution": {"fill": "next_open", "commission": 0.002},
        "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 20}}],
    }
    result = pipelines.run(spec)
    bars = result.market.bars[0]
    combo = result.plan.combos[0]
    features = compute_features(bars, result.plan.features)
    changes = signal_changes(signal_of("sma_crossover", dict(combo.strategy_params), features), "change")
    settings = lane_settings(result.plan.combos)
    folded = fold_sparse(pipelines.container_for(pipelines.FULL_BACKTEST), settings, [changes], bars)
    equity, _ = folded.equity(0, bars.close, 10_000.0)
    return result, equity


def check(variant: str, reference: dict) -> None:
    result, equity = admf(variant)
    row = result.results.to_pylist()[0]
    assert reference["final_equity"] == pytest.approx(row["final_equity"], abs=TOL)
    assert reference["max_drawdown_pct"] == pytest.approx(row["max_drawdown_pct"], abs=TOL)
    assert reference["n_trades"] == row["n_trades"]
    assert np.allclose(reference["equity"], equity, rtol=0, atol=TOL)
    trades = result.trades.to_pylist()
    closed = [t for t in trades if t["exit_time"] is not None]
    still_open = [t for t in trades if t["exit_time"] is None]
    assert reference["open_position"] == sum(t["size"] for t in still_open)
    assert len(reference["trades"]) == len(closed)
    for ref, got in zip(reference["trades"], closed):
        assert ref["entry_time"] == str(got["entry_time"].date())
        assert ref["exit_time"] == str(got["exit_time"].date())
        assert ref["size"] == got["size"]
        for field in ("entry_price", "exit_price", "pnl"):
            assert ref[field] == pytest.approx(got[field], abs=TOL), field
    check_statistics(result, reference["stats"])


def check_statistics(result, ref: dict) -> None:
    """The research statistics whose definitions match backtesting.py's ``stats`` (docs/report.md
    says where and why the others differ)."""
    row = result.results.to_pylist()[0]
    assert ref["start"] == str(row["start"].date())
    assert ref["end"] == str(row["end"].date())
    for name in ("cagr_pct", "avg_drawdown_pct", "max_drawdown_days", "best_trade_pct", "worst_trade_pct",
                 "avg_trade_pct", "avg_trade_days", "sqn", "kelly"):
        assert ref[name] == pytest.approx(row[name], abs=TOL), name
    # Calmar: the same ratio of CAGR to the deepest drawdown (backtesting.py's own "Calmar Ratio"
    # divides its annualised geometric-mean daily return instead of the CAGR)
    assert ref["cagr_pct"] / ref["max_drawdown_pct"] == pytest.approx(row["calmar"], abs=TOL)
    # expectancy: the mean pnl of the closed trades, in currency (backtesting.py's "Expectancy [%]"
    # is the mean trade return)
    assert ref["mean_pnl"] == pytest.approx(row["expectancy"], abs=TOL)
    # buy & hold: the same formula; backtesting.py buys at the end of its indicators' warm-up,
    # admf at the first evaluated bar
    close = result.market.bars[0].close
    assert ref["buy_hold_return_pct"] == pytest.approx(buy_hold_return_pct(close[ref["buy_hold_first_bar"]:]), abs=TOL)
    assert buy_hold_return_pct(close) == row["buy_hold_return_pct"]


@pytest.mark.parametrize("variant", ["long_only", "long_short"])
def test_equals_pinned_backtesting_py_numbers(variant):
    check(variant, PINNED[variant])


@pytest.mark.peers
@pytest.mark.parametrize("variant", ["long_only", "long_short"])
def test_equals_backtesting_py_run_live(variant):
    pytest.importorskip("backtesting")
    from peer_backtesting import run_backtesting  # noqa: E402  (tests/peers is on sys.path via conftest)
    check(variant, run_backtesting(variant))
