"""Pure functions of admf: features (the basics, the native indicators of ``fp.indicators``, TA-Lib's
functions as ``talib.<NAME>``), strategies and their templates, regime classifiers and policies,
portfolio/risk/execution steps, the ledger, metrics and the research statistics (per lane, and for
every lane of a symbol at once), the report's pure parts (downsampling that keeps every extreme,
the parameter landscape), grids, the component registry, ``fp.components`` (decorators for an
author's own features and strategies), :func:`indicator` (any feature on a DataFrame) and
``fp.testing`` (generators and law checkers for authors' test suites; it needs hypothesis).

No I/O, no clock, no global random state; everything here is a function of its arguments.
"""
from fp.catalog import BUILTIN_FEATURES
from fp.classifiers import CLASSIFIERS, Classifier, Regimes, classify, default_train_end
from fp.downsample import drawdown_indices, extrema_indices, representative_rows
from fp.explore import indicator
from fp.features import FEATURES, Feature
from fp.grid import Constraint, expand, parse_constraint, value_range
from fp.hub import FeatureStream, compute_features
from fp.indicators import INDICATORS
from fp.landscape import axis_values, grid_aggregate, marginal, neighbourhood_mean
from fp.ledger import compress_equity, equity_curve, equity_points, lane_equity_points, trades_from_fills
from fp.metrics import (METRICS, RESEARCH_METRICS, buy_hold_return_pct, core_metrics, drawdown_episodes,
                        drawdown_statistics, lane_drawdown_statistics, lane_research_statistics, lane_trade_statistics,
                        max_drawdown, metrics, research_statistics, trade_statistics, undefined_reasons)
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
    "RESEARCH_METRICS",
    "Regimes",
    "Registry",
    "STRATEGIES",
    "Strategy",
    "TEMPLATES",
    "axis_values",
    "buy_hold_return_pct",
    "classify",
    "compress_equity",
    "compute_features",
    "core_metrics",
    "default_train_end",
    "deflated_sharpe_ratio",
    "drawdown_episodes",
    "drawdown_indices",
    "drawdown_statistics",
    "ensemble_target",
    "equity_curve",
    "equity_points",
    "expand",
    "expand_changes",
    "extrema_indices",
    "feature",
    "grid_aggregate",
    "held_targets",
    "indicator",
    "lane_drawdown_statistics",
    "lane_equity_points",
    "lane_research_statistics",
    "lane_trade_statistics",
    "lookup",
    "marginal",
    "max_drawdown",
    "metrics",
    "names",
    "neighbourhood_mean",
    "parse_constraint",
    "policy_factor",
    "probability_of_backtest_overfitting",
    "registry_of",
    "representative_rows",
    "research_statistics",
    "selection_statistics",
    "signal_changes",
    "trade_statistics",
    "trades_from_fills",
    "trend_filtered",
    "undefined_reasons",
    "value_range",
]
