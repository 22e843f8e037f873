"""What a run returns: the plan, the data, the tables and the manifest, ranked and drawn on request."""
from __future__ import annotations

import math
from typing import Any

import attrs
import pyarrow as pa

from fp.registry import registry_of
from pipelines.engine.objectives import objective_values
from state.market import MarketData
from state.plan import Plan

__all__ = ["RunResult"]


@attrs.frozen(eq=False)
class RunResult:
    """What ``pipelines.run`` returns: the plan, the data it ran on, the tables and the manifest.

    ``return_blocks``, when the run kept them (an optimization, a phase), are each symbol's
    per-block aggregates of the per-bar returns of the combinations that ran without error
    (``fp.overfitting.ReturnBlocks``, or ``None`` under 40 returns): in memory only, never written."""

    plan: Plan
    market: MarketData
    results: pa.Table
    trades: pa.Table
    manifest: dict[str, Any]
    regime_stats: pa.Table | None = None
    equity: pa.Table | None = None
    windows: pa.Table | None = None
    events: pa.Table | None = None
    final: pa.Table | None = None
    symbol_stats: pa.Table | None = None
    regimes: pa.Table | None = None
    return_blocks: tuple[tuple[str, Any], ...] | None = attrs.field(default=None, repr=False)

    def ranked(self, objective: str | None = None) -> pa.Table:
        """Results sorted best first by ``objective`` (default: the spec's); NaN last, ties by order.

        Train/test results put the selected combinations first, in the order of their rank."""
        values = objective_values(self.results, objective or self.plan.spec.objective, registry_of(self.plan.spec))
        ranks = (self.results.column("rank").to_pylist() if "rank" in self.results.column_names
                 else [None] * len(values))
        keyed = sorted(range(len(values)), key=lambda i: (ranks[i] is None, ranks[i] or 0, math.isnan(values[i]),
                                                          -values[i] if not math.isnan(values[i]) else 0, i))
        return self.results.take(keyed)

    def best(self, objective: str | None = None) -> dict[str, Any]:
        """The best row as a dict."""
        return self.ranked(objective).slice(0, 1).to_pylist()[0]

    def to_pandas(self):
        """The results table as a pandas DataFrame (needs pandas)."""
        return self.results.to_pandas()

    def plot(self, combo_id: str | None = None):
        """The linked panels (equity with buy-and-hold, drawdown, price with trades, position) of
        ``combo_id`` (default: the best by the objective) as a plotly figure; needs the ``report``
        extra. Without recorded equity the combination is re-folded (cheap, exact)."""
        from pipelines.reporting.run_folder import RunFolder
        return RunFolder.from_result(self).plot(combo_id)

    def heatmap(self, x: str, y: str, *, metric: str | None = None, aggregate: str = "max"):
        """``metric`` (default: the objective) over parameters ``x`` and ``y``, the other parameters
        aggregated by ``aggregate`` (``max``, ``mean`` or ``robustness``), as a plotly figure."""
        from pipelines.reporting.run_folder import RunFolder
        return RunFolder.from_result(self).heatmap(x, y, metric=metric, aggregate=aggregate)
