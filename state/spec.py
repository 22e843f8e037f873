"""The Spec: a user's YAML, validated into records (grids as axes, every value checked).

A spec is data only; ``pipelines.boundary.specs.spec_from_yaml`` builds it with precise errors and
``pipelines.engine.compiler.plan_from_spec`` expands it into a :class:`state.plan.Plan`.
"""
from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Axis", "ComponentSpec", "DataSpec", "ExecutionOptions", "Phase", "Spec", "TraceSpec", "WorkflowSpec"]


@attrs.frozen
class Axis:
    """One parameter of a component and the values to try (one value = fixed, more = a grid)."""

    name: str
    values: tuple


@attrs.frozen
class ComponentSpec:
    """A component entry of the spec: its registered ``type``, its axes and constraints.

    ``path`` is where it sits in the spec (``strategies[1]``), for error messages; ``kind`` is
    ``strategy``, ``classifier`` or a settings section (``portfolio``, ``execution``, ``risk``).
    ``options`` holds validated entry-level keys other than parameters (e.g. ``regime_policy``).
    """

    kind: str
    type: str
    axes: tuple[Axis, ...]
    constraints: tuple[str, ...] = ()
    path: str = ""
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@attrs.frozen
class DataSpec:
    """Where market data comes from: a bundled ``dataset``, one ``path`` or ``paths`` per symbol.

    ``path`` may also be a universe: a folder or a glob of CSV/Parquet files (one symbol per file,
    named after its stem), or a long file with a ``symbol`` column (one symbol per value).
    ``symbols`` selects symbols of the data, in that order (empty: every symbol, sorted by name).

    ``start``/``end`` are inclusive ISO dates or timestamps; ``base_dir`` resolves relative paths
    (the spec file's folder). ``periods_per_year`` overrides the frequency inferred from the data.
    ``split`` divides the bars into a training and a test part: ``("train", 0.7)`` (a fraction of
    each symbol's bars) or ``("train_end", "2010-12-31")`` (the last training bar, inclusive).
    ``timezone`` (an IANA name) is the market's zone: times without a UTC offset are local times
    there, times with one are converted to it; trading days are its dates, or sessions starting
    at ``session_start`` (``"17:00"``) in ``session_timezone`` (default: the data's zone).
    """

    dataset: str | None = None
    path: str | None = None
    paths: tuple[tuple[str, str], ...] = ()
    symbol: str | None = None
    symbols: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    periods_per_year: float | None = None
    base_dir: str = "."
    split: tuple[str, object] | None = None
    timezone: str | None = None
    session_start: str | None = None
    session_timezone: str | None = None

    @property
    def is_default(self) -> bool:
        return self.dataset is None and self.path is None and not self.paths


@attrs.frozen
class WorkflowSpec:
    """``type`` is the workflow mode: ``backtest`` and ``optimization`` run the full backtest (with
    ``data.split``, an optimization selects on the training part and validates on the test part),
    ``walk_forward`` repeats that over rolling (or ``anchored``) windows of ``train_bars`` and
    ``test_bars`` moved by ``step_bars``, ``signal_generation`` stops at signals and stores them,
    ``signal_replay`` replays a store through portfolio, risk and execution; ``base_pattern`` is
    the pattern a backtest runs."""

    type: str = "backtest"
    base_pattern: str = "full_backtest"
    train_bars: int | None = None
    test_bars: int | None = None
    step_bars: int | None = None
    anchored: bool = False


@attrs.frozen
class Spec:
    """A whole validated spec. ``document`` is the normalised spec as canonical JSON (for manifests);
    ``signals`` is the signal store a ``signal_replay`` workflow reads (resolved path). ``objective``
    ranks combinations (a metric, ``-metric`` to minimise it, or ``module:function`` of a result
    row); ``top_k`` are selected, among those with at least ``min_trades`` closed trades.
    ``phases``, when given, are run in order instead (see :class:`Phase`). ``trace`` records the
    fold's events (see :class:`TraceSpec`); ``equity`` records every combination's equity curve;
    ``report`` writes the run folder's HTML report (``report.html``) after the run.
    ``exits`` are the exits every position gets (a strategy entry's ``exits`` option replaces
    them for that entry's combinations). ``components`` are the custom components the spec names by import path (``mypkg.signals:ema_ribbon``),
    as ``(kind, name, record)`` sorted by kind and name: opaque records here (``state`` knows no
    component types), the registry a run looks names up in (``fp.registry.registry_of``)."""

    workflow: WorkflowSpec
    data: DataSpec
    portfolio: ComponentSpec
    execution: ComponentSpec
    risk: ComponentSpec
    strategies: tuple[ComponentSpec, ...]
    classifiers: tuple[ComponentSpec, ...] = ()
    constraints: tuple[str, ...] = ()
    objective: str = "sharpe"
    top: int = 10
    source: str = "<mapping>"
    document: str = "{}"
    signals: str | None = None
    top_k: int = 1
    min_trades: int = 0
    phases: tuple["Phase", ...] = ()
    trace: "TraceSpec | None" = None
    equity: bool = False
    executor: "ExecutionOptions | None" = None
    components: tuple[tuple[str, str, Any], ...] = ()
    exits: ComponentSpec | None = None
    report: bool = False

    @property
    def settings(self) -> tuple[ComponentSpec, ...]:
        """The settings sections crossed into every combination (``exits``: the spec's own)."""
        return (self.portfolio, self.execution, self.risk) + ((self.exits,) if self.exits is not None else ())


@attrs.frozen
class Phase:
    """One phase of a multi-phase workflow: a name, its own spec, and where its input comes from.

    ``source`` names an earlier phase: after a ``signal_generation`` phase, a ``signal_replay``
    phase replays its store; after a phase with results, this phase runs that phase's ``top_k``
    best combinations (their strategy, classifier and settings), crossed with this phase's own
    settings grid where it gives one.
    """

    name: str
    spec: Spec
    source: str | None = None


@attrs.frozen
class TraceSpec:
    """Which events a traced run records: ``kinds`` (event class names) of the ``combos`` given
    (combination ids; empty: every combination)."""

    kinds: tuple[str, ...] = ("SignalChanged", "OrderSubmitted", "OrderApproved", "OrderFilled", "OrderRejected",
                              "PortfolioRuined")
    combos: tuple[str, ...] = ()


@attrs.frozen
class ExecutionOptions:
    """How a run is executed: ``executor`` (``local``, ``processes``, ``dask``), ``workers``, a Dask
    ``scheduler`` address, the memory budget in bytes (``None``: a quarter of the machine's memory)
    and whether to show a progress bar."""

    executor: str = "local"
    workers: int | None = None
    scheduler: str | None = None
    memory_limit: int | None = None
    progress: bool = False
