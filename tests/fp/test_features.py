"""Features pinned against high-precision references and hand-worked numbers."""
import math
import statistics
from fractions import Fraction

import numpy as np
import pytest

from fp.features import FEATURES, window_sum


def compute(name, x, precision=None, **params):
    f = FEATURES[name]
    full = {p.name: params.get(p.name, p.default) for p in f.params}
    inputs = (x,) if f.single_input else x
    return f.compute(full, inputs, precision)


def decimal_mean(values) -> Fraction:
    return sum(Fraction(str(float(v))) for v in values) / len(values)


@pytest.mark.parametrize("period", [2, 10, 20, 60, 200])
def test_sma_on_a_price_grid_is_the_correctly_rounded_decimal_mean(goog, period):
    sma = compute("sma", goog.close, goog.price_precision, period=period)[0]
    assert np.all(np.isnan(sma[:period - 1]))
    for t in range(period - 1, len(goog), 97):
        assert float(decimal_mean(goog.close[t - period + 1:t + 1])) == sma[t], t


def test_sma_ties_in_decimal_arithmetic_compare_equal(eurusd):
    """EURUSD hourly, SMA 20 vs 60 at bar 519: equal in decimal arithmetic (ARCHITECTURE.md)."""
    fast = compute("sma", eurusd.close, eurusd.price_precision, period=20)[0]
    slow = compute("sma", eurusd.close, eurusd.price_precision, period=60)[0]
    assert decimal_mean(eurusd.close[500:520]) == decimal_mean(eurusd.close[460:520])
    assert fast[519] == slow[519] == 1.111734


def test_sma_off_the_grid_is_within_rounding_of_the_exact_mean():
    x = np.random.default_rng(7).lognormal(0.0, 0.5, 500)
    sma = compute("sma", x, None, period=30)[0]
    exact = [math.fsum(x[t - 29:t + 1]) / 30 for t in range(29, 500)]
    assert np.allclose(sma[29:], exact, rtol=1e-14, atol=0)


def test_window_sum_adds_left_to_right():
    x = np.array([1e16, 1.0, -1e16, 1.0])
    assert [1e16 + 1.0, (1.0 + -1e16), (-1e16 + 1.0)] == window_sum(x, 2)[1:].tolist()


def test_ema_is_seeded_with_the_sma_then_recursive():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    ema = compute("ema", x, period=3)[0]
    assert np.isnan(ema[:2]).all()
    assert [2.0, 2.0 + 0.5 * (4.0 - 2.0), 3.0 + 0.5 * (5.0 - 3.0)] == ema[2:].tolist()


def test_rsi_wilder_by_hand():
    x = np.array([10.0, 11.0, 10.5, 11.5, 12.0, 11.0])
    rsi = compute("rsi", x, period=3)[0]
    gain, loss = (1.0 + 0.0 + 1.0) / 3, (0.0 + 0.5 + 0.0) / 3
    assert np.isnan(rsi[:3]).all()
    assert rsi[3] == pytest.approx(100 - 100 / (1 + gain / loss), rel=1e-15)
    gain, loss = (gain * 2 + 0.5) / 3, (loss * 2 + 0.0) / 3
    assert rsi[4] == pytest.approx(100 - 100 / (1 + gain / loss), rel=1e-15)
    gain, loss = (gain * 2 + 0.0) / 3, (loss * 2 + 1.0) / 3
    assert rsi[5] == pytest.approx(100 - 100 / (1 + gain / loss), rel=1e-15)
    assert [50.0, 100.0] == [compute("rsi", np.ones(5), period=2)[0][-1], compute("rsi", np.arange(1.0, 6.0), period=2)[0][-1]]


def test_atr_wilder_by_hand():
    high, low, close = np.array([11.0, 12.0, 13.0]), np.array([9.0, 10.5, 11.0]), np.array([10.0, 12.0, 11.5])
    atr = compute("atr", (high, low, close), period=2)[0]
    tr = [2.0, max(1.5, 2.0, 0.5), max(2.0, 1.0, 1.0)]
    assert np.isnan(atr[0])
    assert [(tr[0] + tr[1]) / 2, ((tr[0] + tr[1]) / 2 * 1 + tr[2]) / 2] == atr[1:].tolist()


def test_returns_and_volatility_against_the_statistics_module(goog):
    r = compute("returns", goog.close, period=5)[0]
    assert goog.close[10] / goog.close[5] - 1.0 == r[10]
    vol = compute("volatility", goog.close, period=20)[0]
    one_bar = goog.close[1:] / goog.close[:-1] - 1.0
    assert np.isnan(vol[:20]).all()
    for t in (20, 500, 2147):
        assert vol[t] == pytest.approx(statistics.stdev(one_bar[t - 20:t]), rel=1e-12)


def test_highest_lowest_and_bollinger(goog):
    hi = compute("highest", goog.high, period=5)[0]
    lo = compute("lowest", goog.low, period=5)[0]
    mid, upper, lower = compute("bollinger", goog.close, goog.price_precision, period=20, k=2.0)
    z = compute("zscore", goog.close, goog.price_precision, period=20)[0]
    for t in (4, 100, 2147):
        assert max(goog.high[t - 4:t + 1]) == hi[t] and min(goog.low[t - 4:t + 1]) == lo[t]
    for t in (19, 1000, 2147):
        window = goog.close[t - 19:t + 1]
        sd = statistics.pstdev(window)
        assert mid[t] == float(decimal_mean(window))
        assert upper[t] == pytest.approx(mid[t] + 2 * sd, rel=1e-12)
        assert lower[t] == pytest.approx(mid[t] - 2 * sd, rel=1e-12)
        assert z[t] == pytest.approx((goog.close[t] - mid[t]) / sd, rel=1e-9)
