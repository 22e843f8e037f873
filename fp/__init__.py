"""Pure functions of admf: features (the basics, the native indicators of ``fp.indicators``, TA-Lib's
functions as ``talib.<NAME>``), strategies and their templates, regime classifiers and policies,
portfolio/risk/execution steps, the ledger, metrics, grids, the component registry,
``fp.components`` (decorators for an author's own features and strategies), :func:`indicator`
(any feature on a DataFrame) and ``fp.testing`` (generators and law checkers for authors' test
suites; it needs hypothesis).

No I/O, no clock, no global random state; everything here is a function of its arguments.
"""
from fp.catalog import BUILTIN_FEATURES
from fp.classifiers import CLASSIFIERS, Classifier, Regimes, classify, default_train_end
from fp.explore import indicator
from fp.features import FEATURES, Feature
from fp.grid import Constraint, expand, parse_constraint, value_range
from fp.hub import FeatureStream, compute_features
from fp.indicators import INDICATORS
from fp.ledger import equity_curve, trades_from_fills
from fp.metrics import METRICS, max_drawdown, metrics
from fp.overfitting import deflated_sharpe_ratio, probability_of_backtest_overfitting, selection_statistics
from fp.regimes import ensemble_target, policy_factor
from fp.registry import BUILTINS, Registry, lookup, names, registry_of
from fp.strategies import STRATEGIES, FeatureRef, Strategy, expand_changes, feature, held_targets, signal_changes
from fp.templates import TEMPLATES, trend_filtered

__all__ = [
    "BUILTINS",
    "BUILTIN_FEATURES",
    "CLASSIFIERS",
    "Classifier",
    "Constraint",
    "FEATURES",
    "Feature",
    "FeatureRef",
    "FeatureStream",
    "INDICATORS",
    "METRICS",
    "Regimes",
    "Registry",
    "STRATEGIES",
    "Strategy",
    "TEMPLATES",
    "classify",
    "compute_features",
    "default_train_end",
    "deflated_sharpe_ratio",
    "ensemble_target",
    "equity_curve",
    "expand",
    "expand_changes",
    "feature",
    "held_targets",
    "indicator",
    "lookup",
    "max_drawdown",
    "metrics",
    "names",
    "parse_constraint",
    "policy_factor",
    "probability_of_backtest_overfitting",
    "registry_of",
    "selection_statistics",
    "signal_changes",
    "trades_from_fills",
    "trend_filtered",
    "value_range",
]
