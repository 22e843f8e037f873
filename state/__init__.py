"""Records of admf: frozen attrs classes for market data, events, component states, specs and plans.

Only data and validation live here; behaviour lives in :mod:`fp` (pure functions) and effects in
:mod:`pipelines`.
"""
from state.errors import AdmfError, DataError, MissingExtraError, PatternError, SpecError, StoreError
from state.events import (
    REJECTION_REASONS,
    FeaturesComputed,
    FillQuote,
    OrderApproved,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    SignalChanged,
)
from state.ledger import EquityPoints, LaneCurves, Trades
from state.market import Annualisation, BarClosed, Bars, MarketData
from state.params import REQUIRED, Param
from state.plan import Combination, FeatureKey, PhasePlan, Plan
from state.portfolio import LaneSettings, LaneState, PortfolioState
from state.spec import Axis, ComponentSpec, DataSpec, ExecutionOptions, Phase, Spec, TraceSpec, WorkflowSpec

__all__ = [
    "AdmfError",
    "Annualisation",
    "Axis",
    "BarClosed",
    "Bars",
    "Combination",
    "ComponentSpec",
    "DataError",
    "DataSpec",
    "EquityPoints",
    "ExecutionOptions",
    "FeatureKey",
    "FeaturesComputed",
    "FillQuote",
    "LaneCurves",
    "LaneSettings",
    "LaneState",
    "MarketData",
    "MissingExtraError",
    "OrderApproved",
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "Param",
    "PatternError",
    "Phase",
    "PhasePlan",
    "Plan",
    "PortfolioState",
    "REJECTION_REASONS",
    "REQUIRED",
    "SignalChanged",
    "Spec",
    "SpecError",
    "StoreError",
    "TraceSpec",
    "Trades",
    "WorkflowSpec",
]
