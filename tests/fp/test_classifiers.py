"""Regime classifiers pinned on the bundled GOOG data, against independent reference code."""
import sys

import numpy as np
import pytest

from fp.classifiers import CLASSIFIERS, MIN_TRAINING_ROWS, TrainingDataError, classify, default_train_end
from state.errors import MissingExtraError, SpecError
from state.market import Bars

pytestmark = pytest.mark.filterwarnings("ignore:Number of distinct clusters")


def codes(labels):
    """Labels as a list with None for NaN, so lists compare with ``==``."""
    return [None if v != v else int(v) for v in np.asarray(labels).tolist()]


def canonical_codes(raw, close, train_end, n_states):
    """Reference canonical recoding: raw states ordered by the mean one-bar return of the training
    bars in them, ascending; states without training bars last by raw index; NaN before train_end."""
    returns = [None] + [close[t] / close[t - 1] - 1.0 for t in range(1, len(close))]
    means = {}
    for s in range(n_states):
        r = [returns[t] for t in range(1, train_end) if raw[t] == raw[t] and raw[t] == s]
        means[s] = sum(r) / len(r) if r else None
    order = sorted(range(n_states), key=lambda s: (means[s] is None, means[s] or 0.0, s))
    rank = {s: k for k, s in enumerate(order)}
    return [None if t < train_end or raw[t] != raw[t] else rank[int(raw[t])] for t in range(len(raw))]


def rolling_return_features(close, lookback):
    """Mean and sample std of the last ``lookback`` one-bar returns (NaN rows before ``lookback``)."""
    r = close[1:] / close[:-1] - 1.0
    windows = np.lib.stride_tricks.sliding_window_view(r, lookback)
    x = np.full((len(close), 2), np.nan)
    x[lookback:, 0] = windows.mean(axis=1)
    x[lookback:, 1] = windows.std(axis=1, ddof=1)
    return x


# ---- trend_regime ----------------------------------------------------------------------------------

def test_trend_regime_is_close_above_sma200_recoded(goog):
    ticks = np.rint(goog.close * 100).astype(np.int64)  # exact decimal arithmetic on GOOG's cent grid
    sums = np.convolve(ticks, np.ones(200, dtype=np.int64), mode="valid")
    raw = np.full(len(goog), np.nan)
    raw[199:] = (200 * ticks[199:] > sums).astype(float)
    train_end = default_train_end({"period": 200}, "trend_regime", len(goog))

    regimes = classify(CLASSIFIERS["trend_regime"], {"period": 200}, goog)

    assert 800 == train_end == regimes.train_end
    assert canonical_codes(raw, goog.close.tolist(), train_end, 2) == codes(regimes.labels)
    assert {0, 1} == set(codes(regimes.labels)[train_end:])
    assert regimes.state_mean_return[0] < regimes.state_mean_return[1]


def test_trend_regime_on_a_decimal_tie_is_down():
    """Bar 3: close 10.22 equals SMA(3) = (10.00 + 10.44 + 10.22) / 3 in decimals; the float sum
    puts the mean at 10.219999999999999, below the close. The exact SMA makes it a tie: not above."""
    close = np.array([10.5, 10.0, 10.44, 10.22])
    bars = Bars("X", np.arange(4).astype("datetime64[D]").astype("datetime64[ns]"), close, close, close, close,
                np.zeros(4), 2)
    model = CLASSIFIERS["trend_regime"].fit({"period": 3}, bars, 3)
    labels = CLASSIFIERS["trend_regime"].label({"period": 3}, model, bars, 3)
    assert (10.0 + 10.44 + 10.22) / 3 < 10.22
    assert [None, None, None, model.canonical[0]] == codes(labels)


# ---- volatility_regime -----------------------------------------------------------------------------

@pytest.mark.parametrize("quantile", [0.5, 0.8, 1.0])
def test_volatility_regime_threshold_is_the_training_quantile(goog, quantile):
    params = {"period": 20, "quantile": quantile}
    train_end = 500
    vol = rolling_return_features(goog.close, 20)[:, 1]
    model = CLASSIFIERS["volatility_regime"].fit(params, goog, train_end)

    expected = np.quantile(vol[20:train_end], quantile)
    assert expected == pytest.approx(model.detail, rel=1e-12)
    regimes = classify(CLASSIFIERS["volatility_regime"], params, goog, train_end)
    raw = np.where(np.isnan(vol), np.nan, (vol > model.detail).astype(float))
    assert canonical_codes(raw, goog.close.tolist(), train_end, 2) == codes(regimes.labels)


def test_volatility_regime_at_quantile_one_leaves_a_state_without_training_bars(goog):
    regimes = classify(CLASSIFIERS["volatility_regime"], {"period": 20, "quantile": 1.0}, goog, 500)
    assert np.isnan(regimes.state_mean_return[1])
    assert {0, 1} == set(codes(regimes.labels)[500:])  # later volatility exceeds the training maximum


# ---- hmm: every model type -------------------------------------------------------------------------

EXTRA = {"hmm": "hmmlearn", "svm": "sklearn", "random_forest": "sklearn"}


@pytest.mark.parametrize("model_type", ["hmm", "svm", "random_forest"])
def test_hmm_model_types_find_regimes_and_are_bit_identical(goog, model_type):
    pytest.importorskip(EXTRA[model_type])
    params = {"model_type": model_type, "lookback_days": 30, "n_states": 2}
    first = classify(CLASSIFIERS["hmm"], params, goog, 600)
    second = classify(CLASSIFIERS["hmm"], params, goog, 600)

    assert first.labels.tobytes() == second.labels.tobytes()
    assert first.state_mean_return == second.state_mean_return
    assert [None] * 600 == codes(first.labels)[:600]
    assert {0, 1} == set(codes(first.labels)[600:])
    assert (2, 600, 1) == (first.n_states, first.train_end, first.fits)


def reference_hmm_labels(close, lookback, n_states, train_end):
    """An independent HMM classifier: own features, own fit, a probability-space forward filter."""
    from hmmlearn.hmm import GaussianHMM

    x = rolling_return_features(close, lookback)
    train = x[lookback:train_end]
    center, scale = train.mean(axis=0), train.std(axis=0)
    z = (x - center) / scale
    hmm = GaussianHMM(n_components=n_states, covariance_type="diag", n_iter=50, random_state=0)
    hmm.fit(z[lookback:train_end])
    var = np.array([np.diag(c) for c in hmm.covars_])
    raw = np.full(len(close), np.nan)
    alpha = None
    for t in range(lookback, len(close)):
        log_b = [-0.5 * np.sum(np.log(2 * np.pi * var[k]) + (z[t] - hmm.means_[k]) ** 2 / var[k]) for k in range(n_states)]
        b = np.exp(np.array(log_b) - max(log_b))
        alpha = hmm.startprob_ * b if alpha is None else (alpha @ hmm.transmat_) * b
        alpha = alpha / alpha.sum()
        raw[t] = int(np.argmax(alpha))
    return canonical_codes(raw, close.tolist(), train_end, n_states)


@pytest.mark.parametrize("lookback, n_states", [(30, 2), (60, 3)])
def test_hmm_labels_equal_a_reference_forward_filter(goog, lookback, n_states):
    pytest.importorskip("hmmlearn")
    params = {"model_type": "hmm", "lookback_days": lookback, "n_states": n_states}
    expected = reference_hmm_labels(goog.close, lookback, n_states, 600)
    assert expected == codes(classify(CLASSIFIERS["hmm"], params, goog, 600).labels)


def test_hmm_labels_do_not_depend_on_later_bars(goog):
    pytest.importorskip("hmmlearn")
    params = {"model_type": "hmm", "lookback_days": 30, "n_states": 2}
    full = classify(CLASSIFIERS["hmm"], params, goog, 600).labels
    short = classify(CLASSIFIERS["hmm"], params, goog.slice(0, 1000), 600).labels
    assert codes(full)[:1000] == codes(short)


@pytest.mark.parametrize("model_type", ["svm", "random_forest"])
def test_supervised_training_targets_stop_before_train_end(goog, model_type):
    """Doubling every close from train_end on leaves the fitted model unchanged."""
    pytest.importorskip("sklearn")
    params = {"model_type": model_type, "lookback_days": 30, "n_states": 3}
    close = goog.close.copy()
    close[600:] *= 2.0
    doubled = Bars(goog.symbol, goog.time, goog.open, goog.high, goog.low, close, goog.volume, goog.price_precision)
    plain = CLASSIFIERS["hmm"].fit(params, goog, 600)
    changed = CLASSIFIERS["hmm"].fit(params, doubled, 600)
    assert plain.canonical == changed.canonical
    assert plain.state_mean_return == changed.state_mean_return
    assert codes(CLASSIFIERS["hmm"].label(params, plain, goog, 600)) == codes(
        CLASSIFIERS["hmm"].label(params, changed, goog, 600))


# ---- errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("model_type, module", [("hmm", "hmmlearn"), ("svm", "sklearn"), ("random_forest", "sklearn")])
def test_a_missing_extra_names_regimes(goog, monkeypatch, model_type, module):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError) as e:
        classify(CLASSIFIERS["hmm"], {"model_type": model_type, "lookback_days": 30}, goog, 600)
    assert "regimes" == e.value.extra
    assert f"classifier hmm with model_type {model_type!r}" in str(e.value)
    assert '.[regimes]' in str(e.value)


@pytest.mark.parametrize("model_type, needed", [("hmm", 30 + MIN_TRAINING_ROWS), ("svm", 60 + MIN_TRAINING_ROWS),
                                                ("random_forest", 60 + MIN_TRAINING_ROWS)])
def test_too_little_training_data_says_how_many_bars_are_needed(goog, model_type, needed):
    pytest.importorskip(EXTRA[model_type])
    with pytest.raises(TrainingDataError) as e:
        classify(CLASSIFIERS["hmm"], {"model_type": model_type, "lookback_days": 30}, goog, needed - 1)
    assert f"train_end must be at least {needed} bars" in str(e.value)
    assert isinstance(e.value, ValueError)
    classify(CLASSIFIERS["hmm"], {"model_type": model_type, "lookback_days": 30}, goog, needed)


def test_volatility_without_a_defined_training_bar_is_refused(goog):
    with pytest.raises(TrainingDataError, match="train_end=20 must be at least 21 bars"):
        classify(CLASSIFIERS["volatility_regime"], {"period": 20}, goog, 20)


def test_trend_without_training_bars_still_labels(goog):
    regimes = classify(CLASSIFIERS["trend_regime"], {"period": 200}, goog, 0)
    assert [True, True] == [m != m for m in regimes.state_mean_return]
    assert [None] * 199 == codes(regimes.labels)[:199]
    assert {0, 1} == set(codes(regimes.labels)[199:])


@pytest.mark.parametrize("train_end", [-1, 2149, 1.5, True])
def test_train_end_outside_the_bars_is_refused(goog, train_end):
    with pytest.raises(ValueError, match=f"train_end={train_end!r}: must be an integer in \\[0, 2148\\]"):
        classify(CLASSIFIERS["trend_regime"], {"period": 20}, goog, train_end)


def test_labels_before_the_models_train_end_are_refused(goog):
    model = CLASSIFIERS["trend_regime"].fit({"period": 20}, goog, 500)
    with pytest.raises(ValueError, match="train_end=400: labels before the model's train_end=500"):
        CLASSIFIERS["trend_regime"].label({"period": 20}, model, goog, 400)


def test_parameters_are_checked_and_defaulted(goog):
    with pytest.raises(SpecError, match="hmm.n_states=11: must be an integer >= 2 and <= 10"):
        classify(CLASSIFIERS["hmm"], {"n_states": 11}, goog, 600)
    with pytest.raises(ValueError, match="classifier 'trend_regime' has no parameter 'lookback_days'"):
        classify(CLASSIFIERS["trend_regime"], {"lookback_days": 20}, goog)
    assert codes(classify(CLASSIFIERS["trend_regime"], {}, goog).labels) == codes(
        classify(CLASSIFIERS["trend_regime"], {"period": 200}, goog, 800).labels)


def test_labels_are_read_only(goog):
    labels = classify(CLASSIFIERS["trend_regime"], {"period": 20}, goog).labels
    with pytest.raises(ValueError):
        labels[0] = 1.0


@pytest.mark.parametrize("name, params, n_bars, expected", [
    ("hmm", {"lookback_days": 30}, 2148, 252),
    ("hmm", {"lookback_days": 90}, 2148, 360),
    ("hmm", {}, 2148, 252),
    ("volatility_regime", {"period": 20}, 2148, 252),
    ("trend_regime", {"period": 200}, 2148, 800),
    ("trend_regime", {"period": 200}, 500, 500),
])
def test_default_train_end(name, params, n_bars, expected):
    assert expected == default_train_end(params, name, n_bars)


def test_the_registry_declares_the_extra():
    assert {"hmm": "regimes", "volatility_regime": None, "trend_regime": None} == {
        name: c.extra for name, c in CLASSIFIERS.items()}
