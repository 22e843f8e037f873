"""Metrics pinned on small hand-worked curves."""
import math

import numpy as np
import pytest

from fp.ledger import compress_equity
from fp.metrics import METRICS, metrics


def test_hand_worked_metrics():
    equity = np.array([100.0, 110.0, 99.0, 121.0])
    m = metrics(compress_equity(equity, np.array([0.0, 1.0, 1.0, 0.0])), np.array([30.0, -9.0]), 1.5,
                initial_cash=100.0, periods_per_year=4.0, years=0.75)
    r = np.array([0.1, -0.1, 121.0 / 99.0 - 1.0])
    assert list(METRICS) == list(m)
    assert m["final_equity"] == 121.0
    assert m["total_return_pct"] == pytest.approx(21.0)
    assert m["cagr_pct"] == pytest.approx((1.21 ** (1 / 0.75) - 1) * 100)
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * 2.0)
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(0.01 / 3) * 2.0)
    assert m["max_drawdown_pct"] == pytest.approx(10.0)
    assert (2, 50.0) == (m["n_trades"], m["win_rate_pct"])
    assert m["profit_factor"] == pytest.approx(30.0 / 9.0)
    assert (50.0, 1.5) == (m["exposure_pct"], m["commission"])


def test_no_trades_and_flat_curves_give_nan_not_errors():
    m = metrics(compress_equity(np.full(5, 100.0), np.zeros(5)), np.empty(0), 0.0, initial_cash=100.0,
                periods_per_year=252.0, years=1.0)
    assert math.isnan(m["sharpe"]) and math.isnan(m["win_rate_pct"]) and math.isnan(m["profit_factor"])
    assert (0.0, 0.0, 0) == (m["max_drawdown_pct"], m["exposure_pct"], m["n_trades"])


def test_only_winners_give_an_infinite_profit_factor():
    m = metrics(compress_equity(np.array([100.0, 101.0]), np.zeros(2)), np.array([1.0]), 0.0, initial_cash=100.0,
                periods_per_year=252.0, years=1.0)
    assert math.isinf(m["profit_factor"])


def test_metrics_of_a_compressed_curve_equal_the_full_formulas():
    rng = np.random.default_rng(3)
    position = np.repeat(rng.choice([0.0, 5.0, -3.0], 40), rng.integers(1, 30, 40))
    equity = 1000.0 + np.cumsum(rng.normal(0, 3, len(position)) * (position != 0))
    m = metrics(compress_equity(equity, position), np.empty(0), 0.0, initial_cash=1000.0, periods_per_year=252.0, years=2.0)
    r = equity[1:] / equity[:-1] - 1.0
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252.0), rel=1e-10)
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(252.0), rel=1e-10)
    peak = np.maximum.accumulate(equity)
    assert m["max_drawdown_pct"] == pytest.approx(np.max(1 - equity / peak) * 100, rel=1e-12)
    assert m["exposure_pct"] == pytest.approx(np.count_nonzero(position) / len(position) * 100)


from hypothesis import given, settings
from hypothesis import strategies as st

from fp.metrics import max_drawdown


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.floats(-0.05, 0.05), min_size=1, max_size=3000), st.sampled_from([4, 16, 256]))
def test_max_drawdown_by_blocks_equals_the_direct_formula(steps, block):
    values = 1000.0 * np.cumprod(1.0 + np.array(steps))
    direct = 1.0 - float(np.min(values / np.maximum.accumulate(values)))
    assert direct == max_drawdown(values, block=block)


def test_metrics_do_not_depend_on_how_many_threads_blas_uses():
    """Sharpe and Sortino reduce with numpy's own (single-threaded, order-fixed) sums, never BLAS:
    a multi-threaded BLAS splits a long dot product by thread count, so a Dask worker (one
    thread) and the local process (one per core) would round differently."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(3)
    equity = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, 200_000))
    curve = compress_equity(equity, np.ones(len(equity)))
    def run():
        return metrics(curve, np.array([1.0]), 0.0, initial_cash=10_000.0, periods_per_year=252.0, years=1.0)
    many = run()
    with threadpoolctl.threadpool_limits(1):
        one = run()
    assert (many["sharpe"], many["sortino"]) == (one["sharpe"], one["sortino"])
