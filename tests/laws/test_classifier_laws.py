"""Laws of every regime classifier (fp/classifiers.py), for every model type.

* no look-ahead: with the same ``train_end``, changing bars after ``t`` changes no label at or before ``t``;
* training data only: a model fitted on the bars before ``train_end`` alone labels the same;
* determinism: two runs give bit-identical labels;
* range: NaN before ``train_end``; from it on a state ``0..n_states-1``, NaN exactly while the
  classifier's features are undefined;
* canonical order: ``state_mean_return`` ascends over the states with training bars, the others last.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fp.classifiers import CLASSIFIERS, MIN_TRAINING_ROWS, classify
from fp.testing import bars
from state.market import Bars

pytestmark = pytest.mark.filterwarnings("ignore:Number of distinct clusters")


def _perturbed(data: Bars, t: int, factor: float) -> Bars:
    """The same bars up to ``t``; every price after ``t`` scaled by ``factor`` (kept on the grid)."""
    def tail(x):
        y = x.copy()
        y[t + 1:] = y[t + 1:] * factor
        if data.price_precision is not None:
            y[t + 1:] = np.maximum(np.round(y[t + 1:], data.price_precision), 0.01)
        return y
    return Bars(data.symbol, data.time, tail(data.open), tail(data.high), tail(data.low), tail(data.close),
                data.volume, data.price_precision)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _hmm_params(model_type, max_states):
    return st.fixed_dictionaries({"model_type": st.just(model_type), "lookback_days": st.integers(2, 10),
                                  "n_states": st.integers(2, max_states)})


# classifier name, parameter strategy, fewest training bars, first bar with defined features, examples
CASES = {
    "hmm-hmm": ("hmm", _hmm_params("hmm", 4), lambda p: p["lookback_days"] + MIN_TRAINING_ROWS,
                lambda p: p["lookback_days"], 30),
    "hmm-svm": ("hmm", _hmm_params("svm", 6), lambda p: 2 * p["lookback_days"] + MIN_TRAINING_ROWS,
                lambda p: p["lookback_days"], 60),
    "hmm-random_forest": ("hmm", _hmm_params("random_forest", 6),
                          lambda p: 2 * p["lookback_days"] + MIN_TRAINING_ROWS, lambda p: p["lookback_days"], 20),
    "volatility_regime": ("volatility_regime",
                          st.fixed_dictionaries({"period": st.integers(2, 10),
                                                 "quantile": st.one_of(st.just(1.0), st.floats(0.01, 1.0))}),
                          lambda p: p["period"] + 1, lambda p: p["period"], 60),
    "trend_regime": ("trend_regime", st.fixed_dictionaries({"period": st.one_of(st.integers(2, 10), st.integers(50, 120))}),
                     lambda p: 0, lambda p: p["period"] - 1, 60),
}

EXTRA = {"hmm-hmm": "hmmlearn", "hmm-svm": "sklearn", "hmm-random_forest": "sklearn"}


@st.composite
def _cases(draw, params_strategy, min_train, first_defined):
    params = draw(params_strategy)
    data = draw(bars(min_size=60, max_size=200))
    n = len(data)
    train_end = draw(st.integers(min(min_train(params), n), n))
    t = draw(st.integers(max(0, train_end - 3), n - 1))
    factor = draw(st.sampled_from([0.5, 1.7, 3.0]))
    return params, data, train_end, t, factor


@pytest.mark.parametrize("case", sorted(CASES))
def test_classifier_laws(case):
    if case in EXTRA:
        pytest.importorskip(EXTRA[case])
    name, params_strategy, min_train, first_defined, examples = CASES[case]
    classifier = CLASSIFIERS[name]

    def check(drawn):
        params, data, train_end, t, factor = drawn
        where = f"{name} with {params}, train_end={train_end}, {len(data)} bars"
        first = classify(classifier, params, data, train_end)
        labels = first.labels

        # determinism
        assert _same(labels, classify(classifier, params, data, train_end).labels), where

        # no look-ahead
        after = classify(classifier, params, _perturbed(data, t, factor), train_end).labels
        changed = ~((labels[:t + 1] == after[:t + 1]) | (np.isnan(labels[:t + 1]) & np.isnan(after[:t + 1])))
        assert [] == np.flatnonzero(changed).tolist(), f"{where}: labels changed when only bars after {t} did"

        # training data only
        model = classifier.fit(params, data.slice(0, train_end), train_end)
        assert _same(labels, classifier.label(params, model, data, train_end)), where

        # range
        assert first.n_states == (params.get("n_states", 2))
        assert np.isnan(labels[:train_end]).all(), where
        tail = labels[train_end:]
        undefined = np.arange(train_end, len(data)) < first_defined(params)
        assert undefined.tolist() == np.isnan(tail).tolist(), where
        assert set(tail[~undefined].tolist()) <= set(float(k) for k in range(first.n_states)), where

        # canonical order
        means = first.state_mean_return
        assert first.n_states == len(means)
        known = [m for m in means if not math.isnan(m)]
        assert sorted(known) == known, where
        assert [False] * len(known) + [True] * (len(means) - len(known)) == [math.isnan(m) for m in means], where
        assert 1 == first.fits

    settings(max_examples=examples, deadline=None, derandomize=True,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(
        given(_cases(params_strategy, min_train, first_defined))(check))()
