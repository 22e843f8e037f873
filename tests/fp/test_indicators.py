"""The native indicators against TA-Lib (the oracle) and against hand-worked numbers.

Each native indicator equals TA-Lib's function to 1e-9 wherever TA-Lib has a value and is NaN
exactly where TA-Lib has none (its warm-up), on the bundled data and on generated series with
gaps, flat stretches and spikes (``fp.testing.bars``). The laws (streaming ≡ batch, no
look-ahead, determinism) are checked for every feature in ``tests/laws/test_component_laws.py``.
"""
import numpy as np
import pytest
from hypothesis import given, settings

from fp.components import batch_outputs
from fp.indicators import INDICATORS
from fp.testing import bars, params_for
from pipelines.boundary.data import load_market_data
from state.market import Bars
from state.spec import DataSpec

talib = pytest.importorskip("talib", reason="the TA-Lib cross-checks need the ta extra: pip install -e '.[ta]'")


def _session_vwap(b: Bars, p) -> tuple:
    """TA-Lib's VWAP over each UTC day's bars; NaN where the day has traded no volume yet (admf's choice)."""
    days = b.time.astype("datetime64[D]")
    out = np.empty(len(b))
    for day in np.unique(days):
        i = np.flatnonzero(days == day)
        out[i] = talib.VWAP(b.high[i], b.low[i], b.close[i], b.volume[i])
        out[i[np.cumsum(b.volume[i]) == 0.0]] = np.nan
    return (out,)


def _rolling_vwap(b: Bars, p) -> tuple:
    total = (lambda x: talib.SUM(x, p["period"])) if p["period"] > 1 else (lambda x: x)  # TA-Lib's SUM: period >= 2
    flow, volume = total(talib.TYPPRICE(b.high, b.low, b.close) * b.volume), total(b.volume)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(volume > 0.0, flow / volume, np.nan),)


def _supertrend(b: Bars, p) -> tuple:
    line, trend = talib.SUPERTREND(b.high, b.low, b.close, p["period"], p["k"])
    return line, np.where(np.isnan(line), np.nan, trend)  # TA-Lib's integer trend is 0 while warming up


def _bands(upper, middle, lower) -> tuple:
    return middle, upper, lower


#: native name -> TA-Lib's outputs in the native's output order, from the bars and the native's parameters
ORACLES = {
    "wma": lambda b, p: talib.WMA(b.close, p["period"]),
    "hma": lambda b, p: talib.HMA(b.close, p["period"]),
    "kama": lambda b, p: talib.KAMA(b.close, p["period"]),
    "macd": lambda b, p: talib.MACD(b.close, p["fast"], p["slow"], p["signal"]),
    "roc": lambda b, p: talib.ROC(b.close, p["period"]),
    "stochastic": lambda b, p: talib.STOCH(b.high, b.low, b.close, p["period"], p["smooth_k"], 0, p["smooth_d"], 0),
    "stoch_rsi": lambda b, p: talib.STOCHRSI(b.close, p["period"], p["stoch_period"], p["smooth_d"], 0),
    "williams_r": lambda b, p: talib.WILLR(b.high, b.low, b.close, p["period"]),
    "cci": lambda b, p: talib.CCI(b.high, b.low, b.close, p["period"]),
    "adx": lambda b, p: (talib.ADX(b.high, b.low, b.close, p["period"]),
                         talib.PLUS_DI(b.high, b.low, b.close, p["period"]),
                         talib.MINUS_DI(b.high, b.low, b.close, p["period"])),
    "supertrend": _supertrend,
    "psar": lambda b, p: talib.SAR(b.high, b.low, p["step"], p["max_step"]),
    "keltner": lambda b, p: _bands(*talib.KC(b.high, b.low, b.close, p["period"], p["atr_period"], p["k"])),
    "donchian": lambda b, p: _bands(*talib.DONCHIAN(b.high, b.low, p["period"])),
    "obv": lambda b, p: talib.OBV(b.close, b.volume),
    "mfi": lambda b, p: talib.MFI(b.high, b.low, b.close, b.volume, p["period"]),
    "vwap": lambda b, p: _session_vwap(b, p) if p["anchor"] == "session" else _rolling_vwap(b, p),
}

#: TA-Lib functions the oracles call that older TA-Lib releases lack (added in TA-Lib 0.6.5+ / 0.8).
_NEEDS = {"hma": "HMA", "supertrend": "SUPERTREND", "keltner": "KC", "donchian": "DONCHIAN", "vwap": "VWAP"}

#: TA-Lib requires a few periods above the native minimum (its DONCHIAN needs 2 bars).
_TALIB_MINIMUM = {("donchian", "period"): 2}
#: Parameters TA-Lib fixes: its KAMA's fastest and slowest EMA periods.
_TALIB_FIXED = {"kama": {"fast": 2, "slow": 30}}


def _full(name: str, **given) -> dict:
    return {p.name: given.get(p.name, p.default) for p in INDICATORS[name].params}


def _oracle(name: str, data: Bars, params: dict) -> tuple:
    if name in _NEEDS and not hasattr(talib, _NEEDS[name]):
        pytest.skip(f"TA-Lib {talib.__version__} has no {_NEEDS[name]}")
    out = ORACLES[name](data, params)
    return tuple(np.asarray(column, dtype=np.float64) for column in (out if isinstance(out, tuple) else (out,)))


def assert_matches_talib(name: str, data: Bars, params: dict) -> None:
    ours = batch_outputs(INDICATORS[name], params, data)
    theirs = _oracle(name, data, params)
    assert len(INDICATORS[name].outputs) == len(theirs)
    for output, a, b in zip(INDICATORS[name].outputs, ours, theirs):
        assert np.isnan(b).tolist() == np.isnan(a).tolist(), f"{name}{params}: {output} warms up differently"
        defined = ~np.isnan(b)
        error = np.abs(a[defined] - b[defined]) / np.maximum(1.0, np.abs(b[defined]))
        assert error.max(initial=0.0) <= 1e-9, f"{name}{params}: {output} differs by {error.max():.3g} at bar " \
                                               f"{np.flatnonzero(defined)[np.argmax(error)]}"


def test_every_native_indicator_has_an_oracle():
    assert sorted(INDICATORS) == sorted(ORACLES)


_BUNDLED = {}


def _bundled(dataset: str) -> Bars:
    if dataset not in _BUNDLED:
        _BUNDLED[dataset] = load_market_data(DataSpec(dataset=dataset)).bars[0]
    return _BUNDLED[dataset]


#: Parameters besides the defaults, chosen to reach the seeding rules (keltner's ATR longer than its
#: EMA and shorter, macd's swapped periods and one-bar signal, HMA's degenerate periods 2 and 3).
_MORE = {
    "macd": [dict(fast=26, slow=12, signal=1), dict(fast=5, slow=35, signal=5)],
    "keltner": [dict(period=5, atr_period=14, k=1.5), dict(period=30, atr_period=3)],
    "hma": [dict(period=2), dict(period=3), dict(period=55)],
    "stochastic": [dict(period=5, smooth_k=1, smooth_d=4)],
    "stoch_rsi": [dict(period=5, stoch_period=3, smooth_d=1)],
    "adx": [dict(period=2), dict(period=30)],
    "supertrend": [dict(period=2, k=0.0), dict(period=21, k=1.5)],
    "psar": [dict(step=0.3, max_step=0.2), dict(step=0.01, max_step=0.5)],
    "kama": [dict(period=2), dict(period=30)],
    "vwap": [dict(anchor="rolling", period=1), dict(anchor="rolling", period=50)],
    "mfi": [dict(period=2)],
    "cci": [dict(period=2), dict(period=100)],
}


@pytest.mark.parametrize("dataset", ["GOOG", "EURUSD", "BTCUSD"])
@pytest.mark.parametrize("name", sorted(ORACLES))
def test_matches_talib_on_the_bundled_data(name, dataset):
    for given_params in [{}] + _MORE.get(name, []):
        assert_matches_talib(name, _bundled(dataset), _full(name, **given_params))


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_matches_talib_on_generated_data(name):
    """Series with gaps, flat stretches and spikes, on and off a price grid, 1 to 120 bars."""
    feature = INDICATORS[name]

    @settings(max_examples=60, deadline=None)
    @given(params=params_for(feature), data=bars(max_size=120))
    def check(params, data):
        params = {k: max(v, _TALIB_MINIMUM.get((name, k), v)) if isinstance(v, int) else v for k, v in params.items()}
        params.update(_TALIB_FIXED.get(name, {}))
        assert_matches_talib(name, data, params)
    check()


def test_session_vwap_restarts_every_utc_day_on_hourly_data():
    eurusd = _bundled("EURUSD")
    vwap = batch_outputs(INDICATORS["vwap"], _full("vwap"), eurusd)[0]
    first_bars = np.flatnonzero(np.diff(eurusd.time.astype("datetime64[D]").astype(np.int64)) != 0) + 1
    typical = (eurusd.high + eurusd.low + eurusd.close) / 3.0
    traded = eurusd.volume[first_bars] > 0
    first = typical[first_bars] * eurusd.volume[first_bars] / eurusd.volume[first_bars]  # one bar: its own price
    assert first[traded].tolist() == vwap[first_bars][traded].tolist()
    assert len(first_bars) > 200


# ---- hand-worked numbers ----------------------------------------------------------------------------

def _bars(close, high=None, low=None, volume=None, times=None) -> Bars:
    close = np.asarray(close, dtype=np.float64)
    n = len(close)
    time = np.datetime64("2024-01-01", "ns") + (np.arange(n) * np.timedelta64(1, "D") if times is None
                                                else np.asarray(times) * np.timedelta64(1, "h"))
    return Bars("X", time, close, close if high is None else np.asarray(high, float),
                close if low is None else np.asarray(low, float), close,
                np.ones(n) if volume is None else np.asarray(volume, float), None)


def _values(name, data, output=0, **params):
    return batch_outputs(INDICATORS[name], _full(name, **params), data)[output].tolist()


def test_wma_weighs_the_newest_bar_most():
    assert [None, None, (1 * 1 + 2 * 2 + 3 * 4) / 6, (1 * 2 + 2 * 4 + 3 * 8) / 6] == [
        None if v != v else v for v in _values("wma", _bars([1.0, 2.0, 4.0, 8.0]), period=3)]


def test_roc_is_a_percentage_and_zero_after_a_zero_price():
    assert [None, 50.0, -100.0, 0.0] == [None if v != v else v for v in _values("roc", _bars([2.0, 3.0, 0.0, 5.0]),
                                                                                   period=1)]


def test_obv_starts_at_the_first_volume_and_follows_the_close():
    data = _bars([10.0, 11.0, 11.0, 9.0], volume=[5.0, 7.0, 100.0, 2.0])
    assert [5.0, 12.0, 12.0, 10.0] == _values("obv", data)


def test_donchian_channel_by_hand():
    data = _bars([2.0, 2.0, 2.0, 2.0], high=[3.0, 5.0, 4.0, 2.5], low=[1.0, 2.0, 1.5, 2.0])
    middle, upper, lower = (_values("donchian", data, i, period=2) for i in range(3))
    assert [5.0, 5.0, 4.0] == upper[1:] and [1.0, 1.5, 1.5] == lower[1:] and [3.0, 3.25, 2.75] == middle[1:]


def test_session_vwap_by_hand_and_nan_before_the_first_volume_of_a_session():
    # hours 0, 1, 2 of day one; hours 24, 25 of day two (a zero-volume first bar)
    data = _bars([10.0, 20.0, 30.0, 40.0, 50.0], volume=[1.0, 3.0, 0.0, 0.0, 2.0], times=[0, 1, 2, 24, 25])
    vwap = _values("vwap", data)
    assert [10.0, (10.0 + 60.0) / 4.0, (10.0 + 60.0) / 4.0, 50.0] == [vwap[i] for i in (0, 1, 2, 4)]
    assert vwap[3] != vwap[3]


def test_macd_seeds_the_fast_ema_on_the_window_ending_where_the_slow_one_starts():
    x = [1.0, 2.0, 4.0, 8.0, 16.0]
    macd, signal, hist = (_values("macd", _bars(x), i, fast=2, slow=3, signal=2) for i in range(3))
    fast, slow = (2.0 + 4.0) / 2, (1.0 + 2.0 + 4.0) / 3            # both start on bar 2
    first = fast - slow
    fast, slow = (8.0 - fast) * (2 / 3) + fast, (8.0 - slow) * 0.5 + slow
    line = (first + (fast - slow)) / 2                                 # the signal starts on bar 3
    assert [fast - slow, line, fast - slow - line] == [macd[3], signal[3], hist[3]]
    assert macd[2] != macd[2]                                          # NaN until the signal line exists
