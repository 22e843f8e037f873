"""Regime classifiers: declarations (name, parameters) that specs are validated against.

A classifier labels every bar with a regime; strategies × classifiers form the grid. This module
declares the classifiers' parameter schemas so specs using them validate and plan; running them
is not implemented yet, and a run whose spec has classifiers is refused with that message.
"""
from __future__ import annotations

import attrs

from state.params import Param

__all__ = ["CLASSIFIERS", "Classifier"]


@attrs.frozen
class Classifier:
    """A classifier's declaration: its parameters and what it does."""

    name: str
    params: tuple[Param, ...]
    doc: str = ""


CLASSIFIERS: dict[str, Classifier] = {
    c.name: c
    for c in (
        Classifier("hmm", (
            Param("model_type", "str", "hmm", choices=("hmm", "svm", "random_forest"),
                  doc="Gaussian HMM (hmmlearn), SVM or random forest (scikit-learn)"),
            Param("lookback_days", "int", 60, minimum=2, doc="bars of the features the model sees, and of its fit"),
            Param("n_states", "int", 2, minimum=2, maximum=10, doc="number of regimes"),
        ), "Regimes from a fitted model over returns and volatility."),
        Classifier("volatility_regime", (
            Param("period", "int", 20, minimum=2, doc="rolling volatility window"),
            Param("quantile", "float", 0.5, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                  doc="volatility quantile (of its own past) separating calm from turbulent"),
        ), "Calm vs turbulent by rolling volatility against its own past quantile."),
        Classifier("trend_regime", (
            Param("period", "int", 200, minimum=2, doc="long moving average window"),
        ), "Up vs down trend: price above or below a long moving average."),
    )
}
