"""Event sourcing: a traced run's folder folded back into every lane's final portfolio.

Law (event sourcing): folding a run's recorded fills and ruins through the portfolio reducers
reproduces every lane's final portfolio bit for bit (``tests/laws/test_event_sourcing.py``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import toolz

from fp.portfolio import apply_fill, apply_ruin
from pipelines.boundary.specs import spec_from_mapping
from pipelines.boundary.trace_files import TraceError, read_events
from pipelines.engine.compiler import plan_from_spec
from pipelines.engine.lanes import lane_settings
from state.events import OrderFilled, PortfolioRuined
from state.portfolio import LaneState, PortfolioState

__all__ = ["replay_trace"]


def replay_trace(run_dir: str | os.PathLike) -> dict[tuple[str, str], PortfolioState]:
    """Fold a traced run's fills and ruins back through the portfolio reducers: each lane's final
    portfolio.

    Lanes the trace does not cover, or whose fills (or ruins) it filtered out, are refused with the reason.
    """
    root = Path(run_dir)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise TraceError(f"{root}/manifest.json: unreadable ({exc}); give a run folder written by admf run") from None
    trace = manifest.get("trace") or {}
    if "OrderFilled" not in trace.get("kinds", ()):
        raise TraceError(f"{root}: the trace has no OrderFilled events (kinds {trace.get('kinds')}); "
                         "run again with every kind traced to replay it")
    ruined = any("ruined" in warning for warning in manifest.get("warnings", ()))
    if ruined and "PortfolioRuined" not in trace.get("kinds", ()):
        raise TraceError(f"{root}: lanes were ruined but the trace has no PortfolioRuined events (kinds "
                         f"{trace.get('kinds')}); run again with every kind traced to replay it")
    spec = spec_from_mapping(manifest["spec"], base_dir=str(root))
    the_plan = plan_from_spec(spec, symbols=tuple(manifest["data"]["symbols"]))
    settings = lane_settings(the_plan.combos)
    events = read_events(root)
    fills = events.filter(pc.is_in(events.column("kind"), pa.array(["OrderFilled", "PortfolioRuined"]))).sort_by(
        [("correlation_id", "ascending"), ("sequence", "ascending")])
    by_lane = toolz.groupby(lambda row: (row["combo_id"], row["symbol"]), fills.select(
        ["kind", "combo_id", "symbol", "bar_index", "quantity", "price", "commission"]).to_pylist())
    covered = set(trace.get("combos") or [c.combo_id for c in the_plan.combos])
    out = {}
    for i, combo in enumerate(the_plan.combos):
        if combo.combo_id not in covered:
            continue
        for symbol in the_plan.symbols:
            state = LaneState(settings.rows(slice(i, i + 1)), PortfolioState.initial(settings.initial_cash[i:i + 1]))
            for row in by_lane.get((combo.combo_id, symbol), ()):
                if row["kind"] == "PortfolioRuined":
                    state, _ = apply_ruin(state, PortfolioRuined(np.array([i]), np.array([row["bar_index"]]),
                                                                 np.array([row["price"]]), np.array([row["quantity"]]),
                                                                 np.array([np.nan])))
                    continue
                fill = OrderFilled(np.array([i]), np.array([row["bar_index"]]), np.array([row["quantity"]]),
                                   np.array([row["price"]]), np.array([row["commission"]]))
                state, _ = apply_fill(state, fill)
            out[(combo.combo_id, symbol)] = state.portfolio
    return out
