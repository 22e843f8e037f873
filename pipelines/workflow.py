"""The library entry points: ``plan`` and ``run`` a spec given as a path, YAML text, mapping or Spec.

``run`` is the whole effectful pipeline: load the spec and the data, compile the plan, run it,
and (when ``out`` is given) write the run directory atomically. Everything between loading and
writing is pure.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines.compiler import plan_from_spec
from pipelines.data import load_market_data
from pipelines.results import RunResult, check_run_dir, write_run
from pipelines.runner import run_plan
from pipelines.specs import spec_from_mapping, spec_from_yaml
from state.errors import SpecError
from state.market import MarketData
from state.plan import Plan
from state.spec import Spec

__all__ = ["load_spec", "plan", "run"]

SpecLike = Spec | Mapping | str | os.PathLike

_PACKAGES = ("admf", "numpy", "pyarrow", "attrs", "toolz", "PyYAML")


def load_spec(spec: SpecLike) -> Spec:
    """A :class:`Spec` from a Spec, a mapping, or the path of a YAML file."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return spec_from_mapping(spec)
    return spec_from_yaml(spec)


def plan(spec: SpecLike) -> Plan:
    """The :class:`Plan` of a spec (no data is read)."""
    return plan_from_spec(load_spec(spec))


def run(spec: SpecLike, *, out: str | os.PathLike | None = None, market: MarketData | None = None) -> RunResult:
    """Run a spec and return its :class:`RunResult`; write the run directory when ``out`` is given.

    ``market`` overrides the spec's data section (power users composing pipelines in code).
    The spec, then ``out`` (see :func:`pipelines.results.check_run_dir`) are checked before any data
    is read, so a bad spec or output folder fails fast; a spec with classifiers is refused.
    """
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    spec = load_spec(spec)
    if spec.classifiers:
        raise SpecError("classifiers", "running regime classifiers is not implemented yet; "
                                       "`admf plan` shows their grid — remove the section to run the strategies alone")
    if out is not None:
        check_run_dir(out)
    market = market if market is not None else load_market_data(spec.data)
    the_plan = plan_from_spec(spec, symbols=market.symbols)
    results, trades = run_plan(the_plan, market)
    manifest = _manifest(spec, the_plan, market, started, time.perf_counter() - clock)
    result = RunResult(the_plan, market, results, trades, manifest)
    if out is not None:
        write_run(result, out)
    return result


def _spec_sha256(spec: Spec) -> str:
    path = Path(spec.source)
    if spec.source not in ("<mapping>", "<text>") and path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(spec.document.encode()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _manifest(spec: Spec, the_plan: Plan, market: MarketData, started: datetime, seconds: float) -> dict[str, Any]:
    import json
    return {
        "spec": json.loads(spec.document),
        "spec_source": spec.source,
        "spec_sha256": _spec_sha256(spec),
        "data": {
            "source": market.source,
            "sha256": market.sha256,
            "symbols": list(market.symbols),
            "bars": {b.symbol: len(b) for b in market.bars},
            "periods_per_year": market.periods_per_year,
        },
        "workflow": spec.workflow.type,
        "pattern": the_plan.pattern,
        "combinations": len(the_plan.combos),
        "lanes": the_plan.n_lanes,
        "features": {"shared": len(the_plan.features) * len(the_plan.symbols),
                     "naive": the_plan.naive_feature_count,
                     "sharing_efficiency": round(the_plan.sharing_efficiency, 4)},
        "objective": spec.objective,
        "versions": _versions(),
        "started_at": started.isoformat(timespec="seconds"),
        "run_seconds": round(seconds, 4),
    }
