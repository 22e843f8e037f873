"""The Spec: a user's YAML, validated into records (grids as axes, every value checked).

A spec is data only; ``pipelines.specs.spec_from_yaml`` builds it with precise errors and
``pipelines.compiler.plan_from_spec`` expands it into a :class:`state.plan.Plan`.
"""
from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Axis", "ComponentSpec", "DataSpec", "Spec", "WorkflowSpec"]


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

    ``start``/``end`` are inclusive ISO dates or timestamps; ``base_dir`` resolves relative paths
    (the spec file's folder). ``periods_per_year`` overrides the frequency inferred from the data.
    ``split`` divides the bars into a training and a test part: ``("train", 0.7)`` (a fraction of
    each symbol's bars) or ``("train_end", "2010-12-31")`` (the last training bar, inclusive).
    """

    dataset: str | None = None
    path: str | None = None
    paths: tuple[tuple[str, str], ...] = ()
    symbol: str | None = None
    start: str | None = None
    end: str | None = None
    periods_per_year: float | None = None
    base_dir: str = "."
    split: tuple[str, object] | None = None

    @property
    def is_default(self) -> bool:
        return self.dataset is None and self.path is None and not self.paths


@attrs.frozen
class WorkflowSpec:
    """``type`` is the workflow mode: ``backtest`` and ``optimization`` run the full backtest,
    ``signal_generation`` stops at signals and stores them, ``signal_replay`` replays a store through
    portfolio, risk and execution; ``base_pattern`` is the pattern a backtest runs."""

    type: str = "backtest"
    base_pattern: str = "full_backtest"


@attrs.frozen
class Spec:
    """A whole validated spec. ``document`` is the normalised spec as canonical JSON (for manifests);
    ``signals`` is the signal store a ``signal_replay`` workflow reads (resolved path)."""

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

    @property
    def settings(self) -> tuple[ComponentSpec, ...]:
        return (self.portfolio, self.execution, self.risk)
