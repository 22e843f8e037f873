"""Regime classifiers: label every bar of one symbol with a regime ``0..n_states-1``.

A :class:`Classifier` is a pair of pure functions over one symbol's bars and a *training end*
``train_end`` (the first bar that is not training data):

* ``fit(params, bars, train_end) -> RegimeModel`` fits on bars ``[0, train_end)`` only;
* ``label(params, model, bars, train_end) -> labels`` returns one float per bar: NaN for every
  bar ``t < train_end`` (those bars were fitted on, a label there would look ahead) and, from
  ``train_end`` on, the regime of bar ``t`` computed from bars ``0..t`` only (NaN while the
  classifier's features are not yet defined).

:func:`classify` runs both and returns a :class:`Regimes` record. Fits are deterministic
(``random_state=0`` wherever an estimator draws random numbers) so a fit can be shared by every
lane with the same classifier, parameters, symbol and ``train_end``.

**Canonical labels.** A fitted model's raw states are renumbered by the mean one-bar return
``close[t] / close[t-1] - 1`` of the training bars the model assigns to them (with the same causal
assignment ``label`` uses), ascending: state 0 is the regime with the lowest mean training
return. States no training bar is assigned to go last, ties by raw index. The same data therefore
always gives the same labels, whatever numbering the estimator happened to use.

Laws (tested in ``tests/laws/test_classifier_laws.py``):

* no look-ahead — with the same ``train_end``, changing bars after ``t`` changes no label at or
  before ``t``;
* determinism — the same inputs give bit-identical labels;
* range — labels are NaN before ``train_end`` and in ``{0, …, n_states-1}`` or NaN after;
* canonical order — ``state_mean_return`` ascends over the states that have training bars.

The estimators (hmmlearn, scikit-learn) are the optional extra ``regimes``; they are imported
inside the functions that need them, and a missing one raises :class:`MissingExtraError`.

>>> import numpy as np
>>> from state.market import Bars
>>> close = np.array([10.0, 11.0, 12.0, 11.0, 10.0, 11.0, 12.0, 13.0])
>>> bars = Bars("X", np.arange(8).astype("datetime64[D]").astype("datetime64[ns]"),
...             close, close, close, close, np.zeros(8), 2)
>>> r = classify(CLASSIFIERS["trend_regime"], {"period": 2}, bars, 4)
>>> r.labels.tolist()
[nan, nan, nan, nan, 0.0, 1.0, 1.0, 1.0]
>>> r.state_mean_return[0] < r.state_mean_return[1]
True
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from fp.features import FEATURES, window_sum
from state.errors import AdmfError, ArgumentError, MissingExtraError
from state.market import Bars
from state.params import Param

__all__ = [
    "CLASSIFIERS",
    "Classifier",
    "MIN_TRAINING_ROWS",
    "RegimeModel",
    "Regimes",
    "TrainingDataError",
    "classify",
    "default_train_end",
]

Params = Mapping[str, Any]

#: Fewest training rows (bars before ``train_end`` with defined features and, for the supervised
#: models, a defined target) the ``hmm`` classifier fits on.
MIN_TRAINING_ROWS = 10

_EXTRA = "regimes"


class TrainingDataError(AdmfError, ValueError):
    """Too few bars before ``train_end`` to fit a classifier; the message says how many are needed."""


# ---- records ---------------------------------------------------------------------------------------

@attrs.frozen(eq=False)
class RegimeModel:
    """A fitted classifier: what ``label`` needs, fitted on bars ``[0, train_end)`` only.

    ``canonical[raw]`` is the canonical label of the estimator's raw state ``raw``;
    ``state_mean_return[k]`` the mean one-bar return of the training bars in canonical state ``k``
    (NaN for a state without training bars). ``detail`` is the classifier's own fitted data (a
    threshold, the HMM's parameters and filter state, a scikit-learn estimator); it is never
    mutated. Not hashable on purpose: cache fits by (classifier, params, symbol, train_end).
    """

    classifier: str
    n_states: int
    train_end: int
    canonical: tuple[int, ...]
    state_mean_return: tuple[float, ...]
    detail: Any = None
    fits: int = 1


@attrs.frozen(eq=False)
class Regimes:
    """Regime labels of every bar of one symbol (see the module docstring for the contract).

    ``labels`` is a read-only float array: NaN before ``train_end`` and where the classifier is
    not yet defined, else a canonical state ``0..n_states-1``. ``state_mean_return`` is in
    canonical order; ``fits`` counts the model fits done.
    """

    labels: np.ndarray
    n_states: int
    train_end: int
    state_mean_return: tuple[float, ...]
    fits: int


@attrs.frozen
class Classifier:
    """A classifier's declaration and its two functions (see the module docstring).

    ``extra`` names the optional dependency group its estimators need (``None``: numpy only).
    """

    name: str
    params: tuple[Param, ...]
    fit: Callable[[Params, Bars, int], RegimeModel]
    label: Callable[[Params, RegimeModel, Bars, int], np.ndarray]
    extra: str | None = None
    doc: str = ""


# ---- shared pieces ---------------------------------------------------------------------------------

def _one_bar_returns(close: np.ndarray) -> np.ndarray:
    """``close[t] / close[t-1] - 1`` at ``t`` (NaN at bar 0)."""
    out = np.full(len(close), np.nan)
    if len(close) > 1:
        out[1:] = close[1:] / close[:-1] - 1.0
    return out


def _check_train_end(bars: Bars, train_end: int) -> None:
    if isinstance(train_end, bool) or not isinstance(train_end, (int, np.integer)) or not 0 <= train_end <= len(bars):
        raise ArgumentError(f"train_end={train_end!r}: must be an integer in [0, {len(bars)}] "
                         f"(the number of bars of {bars.symbol})")


def _canonical(raw: np.ndarray, close: np.ndarray, train_end: int, n_states: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Canonical renumbering of raw states from the training bars' mean one-bar returns.

    ``raw`` holds the raw state of each bar (NaN where undefined); only bars ``t < train_end``
    with a raw state and a defined return count.
    """
    returns = _one_bar_returns(close[:train_end])
    states = raw[:train_end]
    used = ~np.isnan(states) & ~np.isnan(returns)
    means = []
    for s in range(n_states):
        r = returns[used & (states == s)]
        means.append(float(r.mean()) if len(r) else math.nan)
    order = sorted(range(n_states), key=lambda s: (math.isnan(means[s]), 0.0 if math.isnan(means[s]) else means[s], s))
    canonical = [0] * n_states
    for k, s in enumerate(order):
        canonical[s] = k
    return tuple(canonical), tuple(means[s] for s in order)


def _relabel(raw: np.ndarray, canonical: tuple[int, ...], train_end: int) -> np.ndarray:
    """Raw states mapped to canonical labels, NaN before ``train_end`` and where ``raw`` is NaN."""
    out = np.full(len(raw), np.nan)
    tail = raw[train_end:]
    defined = ~np.isnan(tail)
    out[train_end:][defined] = np.asarray(canonical, dtype=np.float64)[tail[defined].astype(np.int64)]
    return out


def _check_model(model: RegimeModel, name: str, train_end: int) -> None:
    if model.classifier != name:
        raise ArgumentError(f"model of classifier {model.classifier!r} given to classifier {name!r}")
    if train_end < model.train_end:
        raise ArgumentError(f"train_end={train_end}: labels before the model's train_end={model.train_end} "
                         f"would use a model fitted on later bars")


# ---- volatility_regime ---------------------------------------------------------------------------

def _volatility(p: Params, bars: Bars) -> np.ndarray:
    return FEATURES["volatility"].compute({"period": p["period"]}, (bars.close,), bars.price_precision)[0]


def _volatility_fit(p: Params, bars: Bars, train_end: int) -> RegimeModel:
    _check_train_end(bars, train_end)
    vol = _volatility(p, bars)
    train = vol[:train_end]
    train = train[~np.isnan(train)]
    if len(train) == 0:
        raise TrainingDataError(
            f"classifier volatility_regime with period={p['period']}: no training bar has a defined "
            f"volatility; train_end={train_end} must be at least {p['period'] + 1} bars")
    threshold = float(np.quantile(train, p["quantile"]))
    raw = _volatility_raw(vol, threshold)
    canonical, means = _canonical(raw, bars.close, train_end, 2)
    return RegimeModel("volatility_regime", 2, train_end, canonical, means, threshold)


def _volatility_raw(vol: np.ndarray, threshold: float) -> np.ndarray:
    raw = (vol > threshold).astype(np.float64)
    raw[np.isnan(vol)] = np.nan
    return raw


def _volatility_label(p: Params, model: RegimeModel, bars: Bars, train_end: int) -> np.ndarray:
    _check_train_end(bars, train_end)
    _check_model(model, "volatility_regime", train_end)
    return _relabel(_volatility_raw(_volatility(p, bars), model.detail), model.canonical, train_end)


# ---- trend_regime ----------------------------------------------------------------------------------

def _trend_raw(p: Params, bars: Bars) -> np.ndarray:
    sma = FEATURES["sma"].compute({"period": p["period"]}, (bars.close,), bars.price_precision)[0]
    raw = (bars.close > sma).astype(np.float64)
    raw[np.isnan(sma)] = np.nan
    return raw


def _trend_fit(p: Params, bars: Bars, train_end: int) -> RegimeModel:
    _check_train_end(bars, train_end)
    canonical, means = _canonical(_trend_raw(p, bars.slice(0, train_end)), bars.close, train_end, 2)
    return RegimeModel("trend_regime", 2, train_end, canonical, means)


def _trend_label(p: Params, model: RegimeModel, bars: Bars, train_end: int) -> np.ndarray:
    _check_train_end(bars, train_end)
    _check_model(model, "trend_regime", train_end)
    return _relabel(_trend_raw(p, bars), model.canonical, train_end)


# ---- hmm: features ---------------------------------------------------------------------------------

def _return_features(bars: Bars, lookback: int) -> np.ndarray:
    """Mean and sample std of the last ``lookback`` one-bar returns at each bar, shape (T, 2).

    Row ``t`` reads ``close[t-lookback..t]``; rows before ``lookback`` are NaN.
    """
    close = bars.close
    out = np.full((len(close), 2), np.nan)
    if len(close) > 1:
        out[1:, 0] = window_sum(close[1:] / close[:-1] - 1.0, lookback) / lookback
    out[:, 1] = FEATURES["volatility"].compute({"period": lookback}, (close,), None)[0]
    return out


def _finite_rows(x: np.ndarray) -> np.ndarray:
    """The rows of ``x`` whose features are all finite (with valid, positive prices: every row
    from ``lookback`` on)."""
    return x[np.isfinite(x).all(axis=1)]


def _standardizer(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = train.mean(axis=0)
    scale = train.std(axis=0)
    scale = np.where(scale > 0.0, scale, 1.0)
    return center, scale


def _too_few(p: Params, rows: int, needed_bars: int, train_end: int) -> TrainingDataError:
    return TrainingDataError(
        f"classifier hmm with model_type={p['model_type']!r}, lookback_days={p['lookback_days']}: "
        f"{rows} usable training rows before train_end={train_end}, needs {MIN_TRAINING_ROWS}; "
        f"train_end must be at least {needed_bars} bars")


# ---- hmm: Gaussian HMM with a causal forward filter ---------------------------------------------

@attrs.frozen(eq=False)
class _GaussianFilter:
    """A fitted diagonal Gaussian HMM and the forward filter's state at the last training bar."""

    center: np.ndarray
    scale: np.ndarray
    log_start: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    log_alpha: np.ndarray  # unnormalised log filter probabilities at bar train_end - 1


def _log_emissions(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Log densities of each row of ``x`` (m, d) under each diagonal Gaussian, shape (m, K)."""
    d = x[:, None, :] - means[None, :, :]
    return -0.5 * (np.sum(np.log(2.0 * np.pi * variances), axis=1)[None, :] + np.sum(d * d / variances[None, :, :], axis=2))


def _forward_filter(log_b: np.ndarray, log_alpha: np.ndarray | None, log_start: np.ndarray,
                    transmat: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Filtered most likely state of each row: ``alpha_t ∝ b(x_t) * (alpha_{t-1} @ A)``.

    Starts from ``startprob`` when ``log_alpha`` is None, else continues from it. Each step is
    rescaled by its maximum (log space), so nothing underflows. A row with a non-finite emission
    (an undefined feature) is a missing observation: the filter only predicts and the state is
    NaN. Returns the argmax states (ties: lowest index) and the last log alpha.
    """
    m = len(log_b)
    states = np.full(m, np.nan)
    finite = np.isfinite(log_b).all(axis=1).tolist()
    with np.errstate(divide="ignore"):
        for t in range(m):
            if log_alpha is None:
                log_alpha = log_start.copy()
            else:
                log_alpha = np.log(np.exp(log_alpha - log_alpha.max()) @ transmat)
            if finite[t]:
                log_alpha = log_alpha + log_b[t]
                states[t] = np.argmax(log_alpha)
    return states, log_alpha


def _gaussian_hmm(p: Params) -> Any:
    """The estimator the brief fixes. Its k-means initialisation runs single-threaded (threadpoolctl):
    on a few hundred rows OpenMP threads cost up to 100x in spin-waiting on a busy 2-core machine
    (measured: 6 ms vs 0.3-1.8 s per fit), and one thread makes the fit independent of the core count.
    """
    what = "classifier hmm with model_type 'hmm'"
    try:
        import hmmlearn  # noqa: F401  (imported first so a missing package fails here)
        from hmmlearn.hmm import GaussianHMM
    except ImportError as e:
        raise MissingExtraError(what, _EXTRA, "hmmlearn") from e
    return GaussianHMM(n_components=p["n_states"], covariance_type="diag", n_iter=50, random_state=0)


def _hmm_fit_gaussian(p: Params, bars: Bars, train_end: int) -> RegimeModel:
    lookback, n_states = p["lookback_days"], p["n_states"]
    estimator = _gaussian_hmm(p)
    x = _return_features(bars.slice(0, train_end), lookback)[lookback:]
    train = _finite_rows(x)
    if len(train) < MIN_TRAINING_ROWS:
        raise _too_few(p, len(train), lookback + MIN_TRAINING_ROWS, train_end)
    center, scale = _standardizer(train)
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency, present with hmmlearn
    with threadpool_limits(limits=1):  # see _gaussian_hmm
        estimator.fit((train - center) / scale)
    covars = np.asarray(estimator.covars_, dtype=np.float64)
    variances = np.diagonal(covars, axis1=1, axis2=2).copy() if covars.ndim == 3 else covars.copy()
    means = np.array(estimator.means_, dtype=np.float64)
    transmat = np.array(estimator.transmat_, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_start = np.log(np.array(estimator.startprob_, dtype=np.float64))
    raw = np.full(train_end, np.nan)
    raw[lookback:], log_alpha = _forward_filter(_log_emissions((x - center) / scale, means, variances),
                                                None, log_start, transmat)
    canonical, mean_returns = _canonical(raw, bars.close, train_end, n_states)
    detail = _GaussianFilter(center, scale, log_start, transmat, means, variances, log_alpha)
    return RegimeModel("hmm", n_states, train_end, canonical, mean_returns, detail)


def _hmm_label_gaussian(p: Params, model: RegimeModel, bars: Bars, train_end: int) -> np.ndarray:
    f: _GaussianFilter = model.detail
    start = model.train_end  # the filter state is stored at bar model.train_end - 1
    x = _return_features(bars, p["lookback_days"])[start:]
    states, _ = _forward_filter(_log_emissions((x - f.center) / f.scale, f.means, f.variances),
                                f.log_alpha, f.log_start, f.transmat)
    raw = np.full(len(bars), np.nan)
    raw[start:] = states
    return _relabel(raw, model.canonical, train_end)


# ---- hmm: supervised (svm, random forest) ------------------------------------------------------

@attrs.frozen(eq=False)
class _Supervised:
    """A fitted scikit-learn classifier over standardized features (``constant``: one class seen)."""

    center: np.ndarray
    scale: np.ndarray
    estimator: Any
    constant: int | None


def _sklearn_estimator(p: Params) -> Any:
    what = f"classifier hmm with model_type {p['model_type']!r}"
    try:
        import sklearn  # noqa: F401  (imported first so a missing package fails here)
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.svm import SVC
    except ImportError as e:
        raise MissingExtraError(what, _EXTRA, "scikit-learn") from e
    if p["model_type"] == "svm":
        return SVC(kernel="rbf", C=1.0)
    return RandomForestClassifier(n_estimators=100, max_depth=5, random_state=0)


def _quantile_buckets(values: np.ndarray, n: int) -> np.ndarray:
    """Equal-count buckets ``0..n-1`` by ascending value, as ints: bucket ``rank * n // m`` with
    ``rank`` the number of smaller values, so equal values share a bucket (which may leave some
    bucket empty) and the result does not depend on the order of the values.

    >>> _quantile_buckets(np.array([0.3, -0.1, 0.2, 0.0]), 2).tolist()
    [1, 0, 1, 0]
    >>> _quantile_buckets(np.array([0.0, 0.0, 0.0, 1.0]), 2).tolist()
    [0, 0, 0, 1]
    """
    ranks = np.searchsorted(np.sort(values), values, side="left")
    return ranks * n // len(values)


def _hmm_fit_supervised(p: Params, bars: Bars, train_end: int) -> RegimeModel:
    lookback, n_states = p["lookback_days"], p["n_states"]
    estimator = _sklearn_estimator(p)
    close = bars.close[:train_end]
    x = _return_features(bars.slice(0, train_end), lookback)
    # targets: rows s >= lookback whose forward return close[s+h]/close[s]-1 is known before train_end
    h = lookback
    s = np.arange(lookback, max(lookback, train_end - h))
    forward = close[s + h] / close[s] - 1.0
    usable = np.isfinite(x[s]).all(axis=1) & np.isfinite(forward)
    s, forward = s[usable], forward[usable]
    if len(s) < MIN_TRAINING_ROWS:
        raise _too_few(p, len(s), 2 * lookback + MIN_TRAINING_ROWS, train_end)
    target = _quantile_buckets(forward, n_states)
    center, scale = _standardizer(_finite_rows(x[lookback:]))
    z = (x - center) / scale
    classes = np.unique(target)
    if len(classes) < 2:
        supervised = _Supervised(center, scale, None, int(classes[0]))
    else:
        estimator.fit(z[s], target)
        supervised = _Supervised(center, scale, estimator, None)
    raw = np.full(train_end, np.nan)
    raw[lookback:] = _predict(supervised, z[lookback:])
    canonical, mean_returns = _canonical(raw, bars.close, train_end, n_states)
    return RegimeModel("hmm", n_states, train_end, canonical, mean_returns, supervised)


def _predict(model: _Supervised, z: np.ndarray) -> np.ndarray:
    """Raw class of each row; NaN for rows with an undefined feature."""
    out = np.full(len(z), np.nan)
    finite = np.isfinite(z).all(axis=1)
    if not finite.any():
        return out
    if model.constant is not None:
        out[finite] = float(model.constant)
    else:
        out[finite] = model.estimator.predict(z[finite])
    return out


def _hmm_label_supervised(p: Params, model: RegimeModel, bars: Bars, train_end: int) -> np.ndarray:
    f: _Supervised = model.detail
    x = _return_features(bars, p["lookback_days"])[train_end:]
    raw = np.full(len(bars), np.nan)
    raw[train_end:] = _predict(f, (x - f.center) / f.scale)
    return _relabel(raw, model.canonical, train_end)


def _hmm_fit(p: Params, bars: Bars, train_end: int) -> RegimeModel:
    _check_train_end(bars, train_end)
    if p["model_type"] == "hmm":
        return _hmm_fit_gaussian(p, bars, train_end)
    return _hmm_fit_supervised(p, bars, train_end)


def _hmm_label(p: Params, model: RegimeModel, bars: Bars, train_end: int) -> np.ndarray:
    _check_train_end(bars, train_end)
    _check_model(model, "hmm", train_end)
    if isinstance(model.detail, _GaussianFilter):
        return _hmm_label_gaussian(p, model, bars, train_end)
    return _hmm_label_supervised(p, model, bars, train_end)


# ---- the registry and the convenience runner --------------------------------------------------------

CLASSIFIERS: dict[str, Classifier] = {
    c.name: c
    for c in (
        Classifier("hmm", (
            Param("model_type", "str", "hmm", choices=("hmm", "svm", "random_forest"),
                  doc="Gaussian HMM with a causal forward filter (hmmlearn), or an RBF SVM / random "
                      "forest (scikit-learn) trained on forward-return quantiles"),
            Param("lookback_days", "int", 60, minimum=2,
                  doc="bars of the return mean/std features; also the forward-return horizon of the "
                      "svm and random_forest training targets"),
            Param("n_states", "int", 2, minimum=2, maximum=10, doc="number of regimes"),
        ), _hmm_fit, _hmm_label, _EXTRA,
            "Regimes from a model fitted on the training bars over the rolling mean and volatility "
            "of one-bar returns."),
        Classifier("volatility_regime", (
            Param("period", "int", 20, minimum=2, doc="rolling volatility window"),
            Param("quantile", "float", 0.5, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="quantile of the training bars' volatility separating calm from turbulent"),
        ), _volatility_fit, _volatility_label, None,
            "Calm vs turbulent: rolling volatility above a quantile of its training values."),
        Classifier("trend_regime", (
            Param("period", "int", 200, minimum=2, doc="long moving average window"),
        ), _trend_fit, _trend_label, None,
            "Up vs down trend: close above or below a long simple moving average."),
    )
}


def _window(params: Params, classifier: str | Classifier) -> int:
    record = CLASSIFIERS[classifier] if isinstance(classifier, str) else classifier
    declared = {p.name: p.default for p in record.params}
    name = "lookback_days" if "lookback_days" in declared else "period"
    if name not in declared:
        return 0
    value = params.get(name, declared[name])
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def default_train_end(params: Params, classifier: str | Classifier, n_bars: int) -> int:
    """The warm-up a classifier fits on when no data split is given:
    ``min(n_bars, max(252, 4 * window))``, ``window`` being its ``lookback_days`` or ``period``
    parameter (0 for a classifier with neither). ``classifier`` is a built-in's name or a record.

    >>> default_train_end({"period": 200}, "trend_regime", 2148)
    800
    >>> default_train_end({"lookback_days": 30}, "hmm", 100)
    100
    """
    return min(n_bars, max(252, 4 * _window(params, classifier)))


def _resolved(classifier: Classifier, params: Params) -> dict[str, Any]:
    unknown = sorted(set(params) - {p.name for p in classifier.params})
    if unknown:
        raise ArgumentError(f"classifier {classifier.name!r} has no parameter {unknown[0]!r}; "
                         f"it takes {[p.name for p in classifier.params]}")
    return {p.name: p.check(params.get(p.name, p.default), f"{classifier.name}.{p.name}") for p in classifier.params}


def classify(classifier: Classifier, params: Params, bars: Bars, train_end: int | None = None) -> Regimes:
    """Fit ``classifier`` on bars ``[0, train_end)`` and label every bar (see the module docstring).

    Missing parameters take their declared defaults; ``train_end`` defaults to
    :func:`default_train_end`.
    """
    p = _resolved(classifier, params)
    if train_end is None:
        train_end = default_train_end(p, classifier, len(bars))
    model = classifier.fit(p, bars, train_end)
    labels = classifier.label(p, model, bars, train_end)
    labels.setflags(write=False)
    return Regimes(labels, model.n_states, train_end, model.state_mean_return, model.fits)
