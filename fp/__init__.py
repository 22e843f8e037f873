"""Pure functions of admf: features, strategies, classifiers' schemas, portfolio/risk/execution
steps, the ledger, metrics, grids, the component registry, and ``fp.testing`` for authors.

No I/O, no clock, no global random state; everything here is a function of its arguments.
"""
from fp.features import FEATURES, Feature
from fp.grid import Constraint, expand, parse_constraint, value_range
from fp.hub import FeatureStream, compute_features
from fp.ledger import equity_curve, trades_from_fills
from fp.metrics import METRICS, metrics
from fp.registry import lookup, names
from fp.strategies import STRATEGIES, FeatureRef, Strategy, expand_changes, feature, held_targets, signal_changes

__all__ = [
    "Constraint",
    "FEATURES",
    "Feature",
    "FeatureRef",
    "FeatureStream",
    "METRICS",
    "STRATEGIES",
    "Strategy",
    "compute_features",
    "equity_curve",
    "expand",
    "expand_changes",
    "feature",
    "held_targets",
    "lookup",
    "metrics",
    "names",
    "parse_constraint",
    "signal_changes",
    "trades_from_fills",
    "value_range",
]
