"""Composition and effects of admf: patterns, the compiler, runners, data and spec loading, results, CLI.

Library use::

    import pipelines
    result = pipelines.run("specs/sma_crossover.yaml")      # or a mapping, or a Spec
    result.ranked().slice(0, 5).to_pylist()
    pipelines.plan("specs/seed.yaml").combos
    pipelines.plan_chunking("big.yaml").lines()              # its chunks under its executor: {memory_limit: 2GB}
    store = pipelines.generate_signals("specs/signals_generate.yaml")   # sparse signal changes
    pipelines.replay({"workflow": {"type": "signal_replay"}, "signals": "unused",
                      "execution": {"commission": [0.0, 0.002]}}, store=store)
    result.plot()                                            # the best combination's panels (plotly)
    result.heatmap("fast_period", "slow_period", metric="sharpe")
    pipelines.report("runs/sma", out="sma.html")             # the offline HTML report of a run folder
    pipelines.load_run("runs/sma").plot("f31b49a682b4")
    pipelines.lookahead("specs/seed.yaml").findings         # decisions before a cut that later data changed
    pipelines.warmup("specs/seed.yaml").rows                 # bars each component needs to forget its start
"""
from pipelines.engine.folds import Folded, LaneSignal, fold_sparse, fold_streaming
from pipelines.workflows.check import check_component
from pipelines.engine.compiler import plan_from_spec
from pipelines.boundary.components import load_component
from pipelines.engine.container import Container, fold
from pipelines.boundary.data import load_market_data, read_bars
from pipelines.engine.patterns import (
    FULL_BACKTEST,
    PATTERNS,
    SIGNAL_GENERATION,
    SIGNAL_REPLAY,
    Pattern,
    Stage,
    container_for,
    validate,
)
from pipelines.boundary.outputs import write_run
from pipelines.workflows.results import RunResult
from pipelines.reporting.run_folder import RunFolder, load_run
from pipelines.reporting.html import report
from pipelines.engine.evaluate import run_plan
from pipelines.boundary.specs import spec_from_mapping, spec_from_text, spec_from_yaml
from pipelines.boundary.store_files import read_store, write_store
from pipelines.engine.signal_store import SignalStore
from pipelines.boundary.trace_files import read_events
from pipelines.workflows.event_sourcing import replay_trace
from pipelines.workflows.analytics import connect, query
from pipelines.workflows.lookahead import lookahead
from pipelines.workflows.modes import (PhasedResult, generate_signals, load_spec, plan, plan_chunking, replay, run,
                                       run_phases)
from pipelines.workflows.warmup import warmup

__all__ = [
    "Container",
    "FULL_BACKTEST",
    "Folded",
    "LaneSignal",
    "PATTERNS",
    "Pattern",
    "PhasedResult",
    "RunFolder",
    "RunResult",
    "SIGNAL_GENERATION",
    "SIGNAL_REPLAY",
    "SignalStore",
    "Stage",
    "check_component",
    "connect",
    "container_for",
    "fold",
    "fold_sparse",
    "fold_streaming",
    "generate_signals",
    "load_component",
    "load_market_data",
    "load_run",
    "load_spec",
    "lookahead",
    "plan",
    "plan_chunking",
    "plan_from_spec",
    "query",
    "read_bars",
    "read_events",
    "read_store",
    "replay",
    "replay_trace",
    "report",
    "run",
    "run_phases",
    "run_plan",
    "spec_from_mapping",
    "spec_from_text",
    "spec_from_yaml",
    "validate",
    "warmup",
    "write_run",
    "write_store",
]
