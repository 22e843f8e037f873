"""Spec loading: a YAML file, YAML text or a mapping in, a validated :class:`state.spec.Spec` out.

YAML is read with ``yaml.safe_load`` semantics only (plain data: no ``!!python/...`` tags) and a
key given twice in one mapping is refused. Numbers are read as people write them (YAML 1.2's
floats: ``1e-3``, ``1.0e12`` and ``1E5`` are numbers; see ``docs/semantics.md``, "Numbers in YAML"). Every key, component name, parameter value and
constraint is checked here, at the boundary, and the first problem raises a
:class:`state.errors.SpecError` whose message starts with the spec path (``path=value: what was
expected``), e.g. ``strategies[0].parameters.lookback_period=-5: must be an integer >= 1``.

The grammar — every section and key, with its type, default and meaning — is data in
``pipelines.boundary.spec_schema`` (with the registry's settings and components it makes the
generated ``docs/spec-reference.md`` and ``admf list``). A parameter value is one value, a list (a
grid) or a ``{from, to, step}`` range. Top-level ``constraints`` are kept in
:attr:`Spec.constraints` and also appended to every strategy entry whose parameters they name,
so later stages only look at entries.

A strategy or classifier ``type`` is a built-in's name or an author's own component by import
path, ``module:attribute`` (``type: mypkg.signals:ema_ribbon``): ``pipelines.boundary.components`` imports
and validates it, its parameters are checked like a built-in's, and it is kept with the custom
features it needs in :attr:`Spec.components`. From code, the record itself may be the ``type``.

Nothing here prints; the effects are reading the spec file in :func:`spec_from_yaml` and
importing the modules a spec names by import path.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import reprlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs
import yaml

from fp import registry
from fp.components import ComponentError, kind_of, validate
from fp.grid import Constraint, Point, iter_points, parse_constraint, value_range
from fp.metrics import METRICS
from fp.registry import BUILTINS
from fp.templates import nested_component
from pipelines.boundary.components import is_import_path, load_component
from pipelines.boundary.data import bundled_datasets
from pipelines.boundary.spec_schema import (COMPONENT_ENTRY, DATA, EXECUTOR, SESSION, SPLIT, TOP, TOP_KEYS, TRACE,
                                            WORKFLOW)
from pipelines.engine.events import KIND_ALIASES, KINDS
from state.errors import MissingExtraError, SpecError
from state.params import LIST_KINDS, Param
from state.spec import Axis, ComponentSpec, DataSpec, ExecutionOptions, Phase, Spec, TraceSpec, WorkflowSpec

__all__ = ["SpecLike", "load_spec", "parse_memory", "spec_from_mapping", "spec_from_text", "spec_from_yaml", "trace_filter"]

_WALK_FORWARD_KEYS = ("anchored", "step_bars", "test_bars", "train_bars")
_DATA_SOURCES = ("dataset", "path", "paths")
_EXTRA_ENTRY_KEYS = {"classifier": ("regime_policy",), "strategy": ("exits", "learn_bars", "members")}
_ENTRY_KEYS = tuple(k for k in COMPONENT_ENTRY.names if all(k not in extra for extra in _EXTRA_ENTRY_KEYS.values()))
_SETTINGS_SECTIONS = ("portfolio", "execution", "risk")
_ENTRY_LISTS = (("strategies", "strategy"), ("classifiers", "classifier"))
_FIXED_BY_STORE = ("strategies", "classifiers", "constraints")
_DEFAULT_OBJECTIVE = TOP.key("objective").default

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80
_short.maxlist = _short.maxdict = 6


# --------------------------------------------------------------------------------------------
# public API


#: What the entry points accept as a spec: a :class:`Spec`, a mapping, or the path of a YAML file.
SpecLike = Spec | Mapping | str | os.PathLike


def load_spec(spec: SpecLike) -> Spec:
    """A :class:`Spec` from a Spec, a mapping, or the path of a YAML file."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        return spec_from_mapping(spec)
    return spec_from_yaml(spec)


def spec_from_yaml(source: str | os.PathLike) -> Spec:
    """Read and validate the spec file at ``source``.

    ``Spec.source`` is ``source`` as given; relative data paths resolve against the file's folder
    (``DataSpec.base_dir``, made absolute). A missing file, bad YAML (reported with the file, line
    and column) or an invalid spec raises :class:`SpecError`.
    """
    path = os.fsdecode(source)
    if not os.path.exists(path):
        raise SpecError("", f"no such spec file {path!r} (looked for {os.path.abspath(path)}): check the "
                            "file name and folder")
    if os.path.isdir(path):
        raise SpecError("", f"{path!r} is a folder, not a spec file: give the path of a .yaml file")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as exc:
        raise SpecError("", f"{path}: not UTF-8 text (byte {exc.start}): save the spec as UTF-8") from None
    except OSError as exc:
        raise SpecError("", f"{path}: cannot read the spec file: {exc.strerror or exc}") from None
    return spec_from_text(text, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


def spec_from_text(text: str, *, source: str = "<text>", base_dir: str = ".") -> Spec:
    """Parse YAML ``text`` (safe loading, no duplicate keys) and validate it as a spec.

    ``source`` names the text in messages and becomes ``Spec.source``.

    >>> spec = spec_from_text("strategies: [{type: momentum, parameters: {lookback_period: [10, 20]}}]")
    >>> spec.strategies[0].axes
    (Axis(name='lookback_period', values=(10, 20)), Axis(name='signal_threshold', values=(0.0,)))
    """
    try:
        doc = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(source, exc) from None
    except RecursionError:
        raise SpecError("", f"{source}: the YAML is nested too deeply to be a spec") from None
    return spec_from_mapping(doc, source=source, base_dir=base_dir)


def spec_from_mapping(doc: Mapping, *, source: str = "<mapping>", base_dir: str = ".") -> Spec:
    """Validate ``doc`` (a spec as plain data: mappings, lists, scalars) into a :class:`Spec`.

    ``doc`` is not modified. ``Spec.document`` is its canonical JSON (sorted keys, no spaces).

    >>> spec = spec_from_mapping({"strategies": [{"type": "breakout", "parameters": {"period": 30}}],
    ...                           "objective": "-max_drawdown_pct"})
    >>> spec.strategies[0].axes, spec.objective, spec.workflow.type
    ((Axis(name='period', values=(30,)),), '-max_drawdown_pct', 'backtest')
    """
    return _spec(doc, source=source, base_dir=base_dir, fed=False)


def _spec(doc: Mapping, *, source: str, base_dir: str, fed: bool, loaded: _Loaded | None = None,
          phase: bool = False) -> Spec:
    """The spec of ``doc``; ``fed``: a phase fed by an earlier phase, whose strategies it may omit;
    ``loaded``: the custom components resolved so far (shared by the phases of one spec);
    ``phase``: a phase's spec, whose ``data.split`` the phased workflow checks as a whole."""
    loaded = {} if loaded is None else loaded
    if not isinstance(doc, Mapping):
        got = "an empty document" if doc is None else f"a {type(doc).__name__}"
        raise SpecError("", f"{source}: a spec must be a mapping with at least a 'strategies' list; got {got}")
    _require_known_keys(doc, "", TOP_KEYS)
    if "phases" in doc:
        return _phased(doc, source, base_dir)
    workflow = _workflow(doc.get("workflow", {}))
    signals = _workflow_sections(workflow, doc, base_dir)
    data = _data(doc["data"], base_dir) if "data" in doc else DataSpec(base_dir=base_dir)
    portfolio, execution, risk = (_settings(name, doc.get(name, {})) for name in _SETTINGS_SECTIONS)
    _check_fraction_needs_fixed_fraction(doc.get("portfolio", {}), portfolio)
    _check_sizing(doc.get("portfolio", {}), portfolio)
    _check_shared_cash(doc, workflow, portfolio, data)
    exits = _exits(doc["exits"], "exits") if "exits" in doc else None
    replay = workflow.type == "signal_replay"
    if "strategies" not in doc and not replay and not fed:
        raise SpecError("strategies", "required: list the strategies to run, e.g. "
                                      "[{type: sma_crossover, parameters: {fast_period: 10}}]")
    entries = {section: _entries(section, kind, doc.get(section, []),
                                 required=section == "strategies" and not replay and not fed, loaded=loaded)
               for section, kind in _ENTRY_LISTS}
    top_constraints = _constraints(doc.get("constraints", []), "constraints")
    _require_each_applies(top_constraints, entries["strategies"])
    strategies = tuple(_finished(component, own + _applicable(top_constraints, component, own))
                       for component, own in entries["strategies"])
    classifiers = tuple(_finished(component, own) for component, own in entries["classifiers"])
    spec = Spec(
        workflow=workflow,
        data=data,
        portfolio=portfolio,
        execution=execution,
        risk=risk,
        strategies=strategies,
        classifiers=classifiers,
        constraints=tuple(c.text for c in top_constraints),
        objective=_objective(doc.get("objective", _DEFAULT_OBJECTIVE), loaded),
        top=TOP.key("top").param.check(doc.get("top", TOP.key("top").default), "top"),
        source=source,
        document=json.dumps(_plain(doc), sort_keys=True, separators=(",", ":"), default=str),
        signals=signals,
        top_k=TOP.key("top_k").param.check(doc.get("top_k", 1), "top_k"),
        min_trades=TOP.key("min_trades").param.check(doc.get("min_trades", 0), "min_trades"),
        components=_components(strategies, loaded),
        trace=trace_filter(doc.get("trace")),
        equity=TOP.key("equity").param.check(doc.get("equity", False), "equity"),
        executor=_executor(doc["executor"]) if "executor" in doc else None,
        exits=exits,
        report=TOP.key("report").param.check(doc.get("report", False), "report"),
    )
    if not phase:
        _check_split(spec)
    return spec


#: Why ``data.split`` means nothing to a workflow (see :func:`_check_split`).
_SPLIT_UNUSED = {
    "walk_forward": "walk-forward takes its training and test parts from workflow.train_bars, test_bars and "
                    "step_bars",
    "signal_replay": "a replay evaluates its store's signals on all the bars; to select on the training part, "
                     "replay in a phase before an optimization phase (phases)",
    "backtest": "a backtest without classifiers evaluates every bar and selects nothing; for train/test use "
                "workflow.type: optimization (with classifiers, a backtest fits them on the training part)",
    "signal_generation": "signals without classifiers do not depend on it (with classifiers, they fit on the "
                         "training part)",
}


def _check_split(spec: Spec, *, last_phase: bool = False) -> None:
    """Refuse a ``data.split`` the workflow would ignore.

    An optimization selects on the training part and validates on the test part; a backtest or
    a signal generation with classifiers fits them on the training part. With phases, the split
    keeps the test part from every phase but the last, which must be the optimization that
    validates on it.
    """
    if spec.data.split is None:
        return
    kind = spec.workflow.type
    if last_phase:
        if kind != "optimization":
            raise SpecError("data.split", f"with phases, every phase but the last runs on the training part and the "
                                          f"last validates on the test part, so it must be an optimization (it is a "
                                          f"{kind}); add a last phase with workflow: {{type: optimization}} or remove "
                                          "data.split")
        return
    if kind == "optimization" or (kind in ("backtest", "signal_generation") and spec.classifiers):
        return
    raise SpecError("data.split", f"not used by workflow.type {kind}: {_SPLIT_UNUSED[kind]}; remove data.split")


def _executor(raw: Any) -> ExecutionOptions:
    """``executor: {type: local | processes | dask, workers: 2, scheduler: tcp://…, memory_limit: 2GB}``."""
    section = _require_mapping(raw, "executor", "{type: processes, workers: 2}")
    _require_known_keys(section, "executor", EXECUTOR.names)
    kind = EXECUTOR.key("type").param.check(section.get("type", "local"), "executor.type")
    workers = EXECUTOR.key("workers").param.check(section.get("workers"), "executor.workers")
    scheduler = _text(section["scheduler"], "executor.scheduler") if "scheduler" in section else None
    if scheduler is not None and kind != "dask":
        raise SpecError("executor.scheduler", "only applies with type: dask")
    return ExecutionOptions(kind, workers, scheduler, parse_memory(section.get("memory_limit")))


def _phased(doc: Mapping, source: str, base_dir: str) -> Spec:
    """A multi-phase spec: ``phases`` is a list of specs run in order; each inherits the top-level
    ``data`` (and ``objective``) unless it gives its own, and ``from: <earlier phase>`` feeds it
    that phase's store or top combinations."""
    others = sorted(set(doc) - {"phases", "data", "objective", "top", "workflow", "report"})
    if others:
        raise SpecError(others[0], "with phases, give this inside each phase (only data, objective, top and report "
                                   "are shared at the top level)")
    raw = doc["phases"]
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or not raw:
        raise SpecError("phases", "must be a non-empty list of phase specs, each with a name")
    phases: list[Phase] = []
    loaded: _Loaded = {}
    for i, item in enumerate(raw):
        path = f"phases[{i}]"
        entry = dict(_require_mapping(item, path, "{name: signals, workflow: {type: signal_generation}, ...}"))
        name = entry.pop("name", None)
        if not isinstance(name, str) or not name or name in {p.name for p in phases}:
            raise SpecError(f"{path}.name", "required: a name no other phase has")
        origin = entry.pop("from", None)
        if origin is not None and origin not in {p.name for p in phases}:
            raise SpecError(f"{path}.from={_short.repr(origin)}", "must name an earlier phase: "
                                                                 f"{', '.join(p.name for p in phases) or 'none yet'}")
        for key in ("data", "objective", "top"):
            if key in doc and key not in entry:
                entry[key] = doc[key]
        kind = _require_mapping(entry.get("workflow", {}), f"{path}.workflow", "{type: ...}").get("type")
        if kind == "signal_replay" and origin is not None and "signals" not in entry:
            entry["signals"] = f"phase:{origin}"
        try:
            spec = _spec(entry, source=f"{source}#{name}", base_dir=base_dir, fed=origin is not None, loaded=loaded,
                         phase=True)
            if i == len(raw) - 1:
                _check_split(spec, last_phase=True)
        except SpecError as exc:
            raise SpecError(f"{path}.{exc.path}" if exc.path else path, exc.message) from None
        phases.append(Phase(name, spec, origin))
    split = phases[-1].spec.data.split
    for i, p in enumerate(phases):
        if p.spec.data.split != split:
            raise SpecError(f"phases[{i}].data.split", "the phases share one split (the test part is kept from "
                                                      "every phase but the last): give data.split once, at the top "
                                                      "level")
    # a phase may run an earlier phase's combinations: every phase knows every custom component
    components = _components((), loaded)
    phases = [attrs.evolve(p, spec=attrs.evolve(p.spec, components=components)) for p in phases]
    first = phases[0].spec
    return attrs.evolve(first, phases=tuple(phases), source=source, report=TOP.key("report").param.check(doc.get("report", False), "report"),
                        document=json.dumps(_plain(doc), sort_keys=True, separators=(",", ":"), default=str))


# --------------------------------------------------------------------------------------------
# YAML


class _SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (merge keys ``<<`` allowed)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = first_seen.setdefault(key, key_node.start_mark)
                except TypeError:  # unhashable: the base class reports it
                    continue
                if first is not key_node.start_mark:
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"duplicate key {key!r} (first given at line {first.line + 1}): give each key once",
                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> date | datetime:
        """A YAML date or timestamp; an impossible one (``2010-13-01``) is a marked error, not a ValueError."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid date {node.value!r} ({exc}): write an ISO date such as 2024-01-31",
                node.start_mark) from None


_SpecLoader.add_constructor("tag:yaml.org,2002:timestamp", _SpecLoader.construct_yaml_timestamp)

#: Numbers as a person writes them (YAML 1.2's core schema, plus ``_`` between digits): a float
#: has a dot or an exponent, the exponent's sign optional (``1e-3``, ``1.0e12``, ``1E5``, ``.5``,
#: ``-2e-3``, ``1_000.5``); ``.inf`` and ``.nan`` as in YAML 1.1. YAML 1.1's base-60 numbers are
#: gone (``17:00`` is the text ``'17:00'``, not 1020); integers are otherwise YAML 1.1's.
_FLOAT = re.compile(r"""^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                               |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                               |[0-9][0-9_]*[eE][-+]?[0-9]+
                               |\.(?:inf|Inf|INF))$
                    |^\.(?:nan|NaN|NAN)$""", re.X)
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")


def _numbers_as_written(loader: type[yaml.SafeLoader]) -> None:
    """Give ``loader`` (and only it) the number rules of :data:`_FLOAT` and :data:`_INT`."""
    numbers = ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int")
    loader.yaml_implicit_resolvers = {first: [(tag, rule) for tag, rule in resolvers if tag not in numbers]
                                      for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


_numbers_as_written(_SpecLoader)


def _yaml_error(source: str, exc: yaml.YAMLError) -> SpecError:
    """A :class:`SpecError` carrying the file, line and column of a YAML error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if "could not determine a constructor" in problem:
        problem += " (specs are plain YAML: tags such as !!python/object are refused)"
    if mark is None:
        return SpecError("", f"{source}: invalid YAML: {problem}")
    message = f"{source}, line {mark.line + 1}, column {mark.column + 1}: {problem}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        message += f" ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    return SpecError("", message)


# --------------------------------------------------------------------------------------------
# sections


def _workflow(raw: Any) -> WorkflowSpec:
    section = _require_mapping(raw, "workflow", "{type: optimization, base_pattern: full_backtest}")
    _require_known_keys(section, "workflow", WORKFLOW.names)
    kind = WORKFLOW.key("type").param.check(section.get("type", WORKFLOW.key("type").default), "workflow.type")
    windows = {}
    if kind == "walk_forward":
        for key in ("train_bars", "test_bars"):
            if key not in section:
                raise SpecError(f"workflow.{key}", "required for walk_forward: how many bars each window trains "
                                                   "and tests on, e.g. {train_bars: 500, test_bars: 100}")
        windows = {key: WORKFLOW.key(key).param.check(section.get(key), f"workflow.{key}")
                   for key in ("train_bars", "test_bars", "step_bars")}
        windows["anchored"] = WORKFLOW.key("anchored").param.check(section.get("anchored", False), "workflow.anchored")
    else:
        for key in _WALK_FORWARD_KEYS:
            if key in section:
                raise SpecError(f"workflow.{key}", "only applies with workflow.type: walk_forward")
    return WorkflowSpec(
        type=kind,
        base_pattern=WORKFLOW.key("base_pattern").param.check(
            section.get("base_pattern", WORKFLOW.key("base_pattern").default), "workflow.base_pattern"),
        **windows,
    )


def _workflow_sections(workflow: WorkflowSpec, doc: Mapping, base_dir: str) -> str | None:
    """Sections each workflow mode owns; returns the resolved signal store path of a replay.

    A replay's strategies are fixed by its store; signal generation stops before portfolios, so
    portfolio, execution and risk settings belong to the replay.
    """
    if workflow.type == "signal_replay":
        for key in _FIXED_BY_STORE:
            if key in doc:
                raise SpecError(key, "a signal replay's strategies are fixed by its signal store; remove this "
                                     "section (every stored combination is replayed over the settings grid)")
        if "signals" not in doc:
            raise SpecError("signals", "required for workflow.type: signal_replay: the folder a "
                                       "signal_generation run wrote, e.g. signals: runs/my-signals")
        return os.path.normpath(os.path.join(base_dir, _text(doc["signals"], "signals", what="path")))
    if "signals" in doc:
        raise SpecError("signals", "only applies with workflow.type: signal_replay")
    if workflow.type == "signal_generation":
        for key in _SETTINGS_SECTIONS:
            if key in doc:
                raise SpecError(key, "signal generation stops at signals; give portfolio, execution and risk "
                                     "settings (and their grids) to the signal_replay spec")
    return None


def _data(raw: Any, base_dir: str) -> DataSpec:
    """The ``data`` section: at most one source; with none (``start``/``end`` alone) it is the default data."""
    section = _require_mapping(raw, "data", "{dataset: GOOG}")
    _require_known_keys(section, "data", DATA.names)
    sources = [key for key in _DATA_SOURCES if key in section]
    if len(sources) > 1:
        raise SpecError("data", f"give exactly one of dataset, path or paths (got {' and '.join(sources)}), "
                                "e.g. dataset: GOOG; or none of them for the bundled GOOG data")
    if "symbol" in section and "path" not in section:
        raise SpecError("data.symbol", "only applies with data.path (it names the one file's symbol): "
                                       "with paths the keys are the symbols")
    start = _moment(section.get("start"), "data.start")
    end = _moment(section.get("end"), "data.end")
    if start is not None and end is not None and _instant(start) > _instant(end, whole_day=True):
        raise SpecError(f"data.start={start!r}", f"must not be after data.end={end!r}: swap or fix the bounds")
    return DataSpec(
        dataset=_dataset(section["dataset"]) if "dataset" in section else None,
        path=_text(section["path"], "data.path") if "path" in section else None,
        paths=_paths(section["paths"]) if "paths" in section else (),
        symbol=_text(section["symbol"], "data.symbol") if "symbol" in section else None,
        symbols=_symbols(section["symbols"]) if "symbols" in section else (),
        start=start,
        end=end,
        periods_per_year=DATA.key("periods_per_year").param.check(section.get("periods_per_year"),
                                                                  "data.periods_per_year"),
        base_dir=base_dir,
        split=_split(section["split"]) if "split" in section else None,
        timezone=_zone(section["timezone"], "data.timezone") if "timezone" in section else None,
        **_session(section["session"]) if "session" in section else {},
    )


def _zone(raw: Any, path: str) -> str:
    """An IANA time zone name that Python's ``zoneinfo`` knows (``America/New_York``, ``UTC``)."""
    import zoneinfo
    if isinstance(raw, str) and raw.strip():
        try:
            zoneinfo.ZoneInfo(raw.strip())
            return raw.strip()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise SpecError(f"{path}={_short.repr(raw)}", "must be an IANA time zone name such as America/New_York, "
                                                  "Europe/London, Australia/Sydney or UTC")


def _session(raw: Any) -> dict[str, str | None]:
    """``{start: '17:00', timezone: America/New_York}``: when each trading day begins (local time)."""
    section = _require_mapping(raw, "data.session", "{start: '17:00', timezone: America/New_York}")
    _require_known_keys(section, "data.session", SESSION.names)
    start = section.get("start")
    if not isinstance(start, str) or not re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?", start.strip()):
        raise SpecError(f"data.session.start={_short.repr(start)}", "must be a time of day, HH:MM or HH:MM:SS, "
                                                                    "such as '17:00' (when a trading day begins)")
    zone = _zone(section["timezone"], "data.session.timezone") if "timezone" in section else None
    return {"session_start": start.strip(), "session_timezone": zone}


def _split(raw: Any) -> tuple[str, Any]:
    """``{train: 0.7}`` (fraction of the bars) or ``{train_end: 2010-12-31}`` (last training bar)."""
    section = _require_mapping(raw, "data.split", "{train: 0.7} or {train_end: 2010-12-31}")
    _require_known_keys(section, "data.split", SPLIT.names)
    if len(section) != 1:
        raise SpecError("data.split", "give one of train (a fraction, e.g. 0.7) or train_end (a date)")
    if "train" in section:
        fraction = SPLIT.key("train").param.check(section["train"], "data.split.train")
        if fraction >= 1.0:
            raise SpecError(f"data.split.train={fraction!r}", "must be below 1: the test part would be empty")
        return ("train", fraction)
    return ("train_end", _moment(section["train_end"], "data.split.train_end"))


def _dataset(raw: Any) -> str:
    known = bundled_datasets()
    if not isinstance(raw, str) or raw.upper() not in {name.upper() for name in known}:
        raise SpecError(f"data.dataset={_short.repr(raw)}",
                        f"must be a bundled data set, one of {', '.join(known)}; for your own file use data.path")
    return raw


def _paths(raw: Any) -> tuple[tuple[str, str], ...]:
    section = _require_mapping(raw, "data.paths", "{AAPL: aapl.csv, MSFT: msft.csv}")
    if not section:
        raise SpecError("data.paths", "is empty: give one file per symbol, e.g. {AAPL: aapl.csv}")
    for symbol in section:
        _text(symbol, "data.paths", what="symbol")
    return tuple((symbol, _text(path, f"data.paths.{symbol}")) for symbol, path in section.items())


def _symbols(raw: Any) -> tuple[str, ...]:
    """``data.symbols``: the symbols to run, in order, each once."""
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"data.symbols={_short.repr(raw)}", "must be a non-empty list of symbols, e.g. [AAPL, MSFT]")
    symbols = tuple(_text(symbol, f"data.symbols[{i}]", what="a symbol (quote numbers: '1301')")
                    for i, symbol in enumerate(raw))
    for i, symbol in enumerate(symbols):
        if symbol in symbols[:i]:
            raise SpecError(f"data.symbols[{i}]={symbol!r}", f"is given twice (also data.symbols[{symbols.index(symbol)}]): "
                                                             "list each symbol once")
    return symbols


def _settings(section: str, raw: Any, path: str | None = None) -> ComponentSpec:
    """A settings section (``portfolio``, ``execution``, ``exits``, ``risk``) at ``path`` (its name
    by default): its keys are parameters."""
    path = path or section
    component = registry.lookup(section, section)
    values = _require_mapping(raw, path, f"{{{component.params[0].name}: ...}}")
    axes = _axes(component.params, values, path, f"the {section} section")
    return ComponentSpec(kind=section, type=section, axes=axes, path=path)


def _exits(raw: Any, path: str) -> ComponentSpec:
    """An ``exits`` section (the spec's, or a strategy entry's own): one exit of each kind at most,
    by fraction or by ATR multiple."""
    section = _settings("exits", raw, path)
    given = {axis.name: axis.values for axis in section.axes}
    for exit_ in ("stop_loss", "take_profit", "trailing_stop"):
        if given[exit_] != (None,) and given[f"{exit_}_atr"] != (None,):
            raise SpecError(f"{path}.{exit_}_atr", f"give {exit_} as a fraction or as ATR multiples ({exit_}_atr), "
                                                   "not both")
    return section


def _check_sizing(raw: Mapping, portfolio: ComponentSpec) -> None:
    """``size`` goes with (and only with) the fixed sizers."""
    sizing = next(axis.values for axis in portfolio.axes if axis.name == "sizing")
    fixed = {"fixed_units", "fixed_cash"} & set(sizing)
    if fixed and "size" not in raw:
        raise SpecError("portfolio.size", f"required by sizing: {sorted(fixed)[0]}: the units or cash of a full "
                                          "signal, e.g. size: 100")
    if "size" in raw and not fixed:
        raise SpecError("portfolio.size", "only applies to sizing: fixed_units or fixed_cash; set one of them or "
                                          "remove size")


def _check_shared_cash(doc: Mapping, workflow: WorkflowSpec, portfolio: ComponentSpec, data: DataSpec) -> None:
    """``shared_cash`` is one choice for the whole run, and folds one timeline: not windowed runs
    (train/test, walk-forward) nor a trace yet."""
    values = next(axis.values for axis in portfolio.axes if axis.name == "shared_cash")
    if len(values) > 1:
        raise SpecError("portfolio.shared_cash", "one value for the whole run (true or false), not a grid: run "
                                                 "shared and separate portfolios as two specs")
    if not values[0]:
        return
    windowed = workflow.type == "walk_forward" or (workflow.type == "optimization" and data.split is not None)
    if windowed:
        raise SpecError("portfolio.shared_cash", "not supported with train/test or walk-forward windows yet; run "
                                                 "a backtest or an optimization without data.split")
    if trace_filter(doc.get("trace")) is not None:
        raise SpecError("trace", "tracing does not cover shared-cash portfolios yet; remove trace or "
                                 "portfolio.shared_cash")


def _check_fraction_needs_fixed_fraction(raw: Mapping, portfolio: ComponentSpec) -> None:
    sizing = next(axis.values for axis in portfolio.axes if axis.name == "sizing")
    if "fraction" in raw and "fixed_fraction" not in sizing:
        raise SpecError("portfolio.fraction", "fraction only applies to sizing: fixed_fraction; set "
                                              "portfolio.sizing: fixed_fraction (or add it to the sizing grid) "
                                              "or remove fraction")


def _objective(raw: Any, loaded: _Loaded) -> str:
    """A metric's name (``-`` to minimise), or an author's objective by import path, imported and
    validated now (``pipelines.boundary.components``) and kept with the spec's components."""
    if isinstance(raw, str) and ":" in raw:
        loaded[("objective", raw)] = load_component("objective", raw, "objective")
        return raw
    if not isinstance(raw, str) or raw.removeprefix("-") not in METRICS:
        raise SpecError(f"objective={_short.repr(raw)}", f"must be a metric (prefix it with '-' to minimise it): "
                                                         f"one of {', '.join(METRICS)}; or a function "
                                                         "'module:function' of a result row")
    return raw


# --------------------------------------------------------------------------------------------
# component entries (strategies, classifiers)


#: An entry as checked: its spec (constraints still empty) and its own parsed constraints.
_Entry = tuple[ComponentSpec, tuple[Constraint, ...]]


def _entries(section: str, kind: str, raw: Any, *, required: bool, loaded: _Loaded) -> tuple[_Entry, ...]:
    example = "[{type: sma_crossover, parameters: {fast_period: 10}}]" if kind == "strategy" else \
              "[{type: hmm, parameters: {model_type: hmm}}]"
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise SpecError(f"{section}={_short.repr(raw)}", f"must be a list of {kind} entries, e.g. {example}")
    if required and not raw:
        raise SpecError(section, f"is empty: list at least one {kind}, e.g. {example}")
    return tuple(_entry(kind, item, f"{section}[{i}]", loaded) for i, item in enumerate(raw))


def _entry(kind: str, raw: Any, path: str, loaded: _Loaded) -> _Entry:
    entry = _require_mapping(raw, path, "{type: ..., parameters: {...}}")
    _require_known_keys(entry, path, _ENTRY_KEYS + _EXTRA_ENTRY_KEYS[kind])
    if kind == "strategy" and entry.get("type") == "ensemble":
        return _ensemble(entry, path, loaded), ()
    known = registry.names(kind)
    if "type" not in entry:
        raise SpecError(f"{path}.type", f"required: name the {kind}, one of {', '.join(known)}")
    name = entry["type"]
    if is_import_path(name) or kind_of(name) is not None:
        component = _custom(kind, name, f"{path}.type", loaded)
        name = component.name
    elif not isinstance(name, str) or name not in known:
        raise SpecError(f"{path}.type={_short.repr(name)}",
                        f"must be a registered {kind}{_did_you_mean(name, known)}: one of {', '.join(known)}, or "
                        f"your own {kind} by import path 'module:attribute'")
    else:
        component = registry.lookup(kind, name)
    values = _require_mapping(entry.get("parameters", {}), f"{path}.parameters", "{name: value or [values]}")
    axes = _axes(_with_nested(component, values, f"{path}.parameters"), values, f"{path}.parameters",
                 f"{kind} {name!r}")
    constraints = _constraints(entry.get("constraints", []), f"{path}.constraints")
    for constraint in constraints:
        unknown = sorted(constraint.names - _names(axes))
        if unknown:
            raise SpecError(f"{constraint.path}={constraint.text!r}",
                            f"{kind} {name!r} has no parameter {unknown[0]!r}; its parameters are "
                            f"{', '.join(axis.name for axis in axes)}")
    options = (("regime_policy", _regime_policies(entry["regime_policy"], f"{path}.regime_policy")),) \
        if "regime_policy" in entry else ()
    if "exits" in entry:
        options += (("exits", _exits(entry["exits"], f"{path}.exits")),)
    if "members" in entry:
        raise SpecError(f"{path}.members", "only an ensemble strategy has members (type: ensemble)")
    return ComponentSpec(kind=kind, type=name, axes=axes, path=path, options=options), constraints


def _with_nested(component: Any, values: Mapping, path: str) -> tuple[Param, ...]:
    """A strategy's parameters, with those of the component it nests (``Strategy.nests``:
    ``trend_filter``'s member strategy, ``threshold``'s feature) when it names one."""
    nests = getattr(component, "nests", None)
    if not nests:
        return component.params
    name, kind = nests
    own = {p.name: p for p in component.params}
    raw = values.get(name, own[name].default)
    where = f"{path}.{name}={_short.repr(raw)}"
    if isinstance(raw, (list, tuple, Mapping)):
        raise SpecError(where, f"name one {kind}, not a grid (their parameters differ): list one strategy entry per "
                               f"{kind} to compare several")
    try:
        nested = nested_component(component, raw)
    except (ValueError, KeyError, MissingExtraError) as exc:
        raise SpecError(where, str(exc)) from None
    clash = sorted({p.name for p in nested.params} & set(own))
    if clash:
        raise SpecError(where, f"its parameter {clash[0]!r} is also {component.name}'s own: they cannot be told apart")
    chosen = attrs.evolve(own[name], default=raw, choices=None)  # validated above, TA-Lib names included
    return tuple(chosen if p.name == name else p for p in component.params) + nested.params


#: Custom components resolved while loading one spec: ``(kind, name) -> record``.
_Loaded = dict[tuple[str, str], Any]


def _custom(kind: str, name: Any, path: str, loaded: _Loaded) -> Any:
    """A custom component: imported by its path ``module:attribute`` (validated, named by that
    path) or, from code, a record given as the type itself; loaded once per spec."""
    if is_import_path(name):
        if (kind, name) not in loaded:
            loaded[(kind, name)] = load_component(kind, name, path)
        return loaded[(kind, name)]
    where = f"{path}={name.name!r}"
    if kind_of(name) != kind:
        raise SpecError(where, f"is a {kind_of(name)}, not a {kind}")
    if BUILTINS.of(kind).get(name.name) is name:
        return name
    if name.name in BUILTINS.of(kind):
        raise SpecError(where, f"a custom {kind} may not take the built-in name {name.name!r}: rename it")
    known = loaded.get((kind, name.name))
    if known is not None and known is not name:
        raise SpecError(where, f"another {kind} is already named {name.name!r} in this spec: rename one of them")
    if known is None:
        loaded[(kind, name.name)] = _validated_record(kind, name, path)
    return name


def _validated_record(kind: str, component: Any, path: str) -> Any:
    """A record given in code, validated like an imported one."""
    try:
        return validate(component, kind)
    except ComponentError as exc:
        raise SpecError(f"{path}={component.name!r}", str(exc)) from None


def _components(strategies: tuple[ComponentSpec, ...], loaded: _Loaded) -> tuple[tuple[str, str, Any], ...]:
    """The spec's custom components, with the custom features its custom strategies need at any
    point of their grids (a reference carries its feature's record), sorted by kind and name."""
    for entry in strategies:
        if entry.type == "ensemble":
            points = [(member, params) for member, params in entry.axes[0].values[0]]
        else:
            points = [(entry.type, point) for point in _entry_points(entry)]
        for name, point in points:
            strategy = loaded.get(("strategy", name))
            if strategy is None:
                continue
            try:
                needs = strategy.needs(dict(point))
            except Exception as exc:  # the author's function: name the point that broke it
                raise SpecError(entry.path, f"strategy {name!r} at {dict(point)}: its features raised "
                                            f"{type(exc).__name__}: {exc}") from None
            for ref in needs.values():
                f = getattr(ref, "feature", None)
                if f is None:
                    continue
                known = loaded.setdefault(("feature", f.name), f)
                if known is not f or f.name in BUILTINS.features:
                    raise SpecError(entry.path, f"strategy {name!r} needs a feature named {f.name!r}, a name another "
                                                "feature has: give one of them another name")
    return tuple((kind, name, record) for (kind, name), record in sorted(loaded.items(), key=lambda kv: kv[0]))


def _entry_points(entry: ComponentSpec) -> list[Point]:
    constraints = tuple(parse_constraint(text, f"{entry.path}.constraints[{i}]")
                        for i, text in enumerate(entry.constraints))
    return list(iter_points(entry.axes, constraints))


def _regime_policies(raw: Any, path: str) -> tuple[str, ...]:
    """A classifier's ``regime_policy``: one policy, or a list of them (a grid: every classifier
    point runs under each), as canonical texts without repeats."""
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise SpecError(f"{path}=[]", "empty grid: give at least one policy, e.g. [gate, {scale: {0: 0.5, 1: 1.0}}]")
        return tuple(dict.fromkeys(_regime_policy(item, f"{path}[{i}]") for i, item in enumerate(raw)))
    return (_regime_policy(raw, path),)


def _regime_policy(raw: Any, path: str) -> str:
    """``gate`` or ``{scale: {regime: factor}}``, as canonical text (``scale(0=0.0,1=1.0)``)."""
    if raw == "gate":
        return "gate"
    section = _require_mapping(raw, path, "gate, {scale: {0: 0.0, 1: 1.0}}, or a list of these (a grid)")
    _require_known_keys(section, path, ("scale",))
    scale = _require_mapping(section.get("scale"), f"{path}.scale", "{0: 0.0, 1: 1.0}")
    if not scale:
        raise SpecError(f"{path}.scale", "is empty: give a factor per regime, e.g. {0: 0.0, 1: 1.0}")
    factors = {}
    for regime, factor in scale.items():
        if isinstance(regime, bool) or not isinstance(regime, int) or regime < 0:
            raise SpecError(f"{path}.scale.{_short.repr(regime)}", "regimes are integers 0, 1, ...")
        factors[regime] = Param("factor", "float", 1.0, minimum=-1.0, maximum=1.0).check(factor, f"{path}.scale.{regime}")
    return "scale(" + ",".join(f"{k}={factors[k]!r}" for k in sorted(factors)) + ")"


def _ensemble(entry: Mapping, path: str, loaded: _Loaded) -> ComponentSpec:
    """An ensemble strategy: fixed member strategies, weighted per regime by a classifier after
    ``learn_bars`` labelled bars (a grid when a list)."""
    if "parameters" in entry or "constraints" in entry:
        raise SpecError(path, "an ensemble has members, not parameters: members: [{type: ..., parameters: {...}}]")
    raw = entry.get("members")
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or len(raw) < 2:
        raise SpecError(f"{path}.members", "list at least two member strategies, e.g. "
                                           "[{type: sma_crossover}, {type: momentum}]")
    members = []
    for i, item in enumerate(raw):
        member, _ = _entry("strategy", item, f"{path}.members[{i}]", loaded)
        if member.type == "ensemble" or any(len(axis.values) != 1 for axis in member.axes):
            raise SpecError(f"{path}.members[{i}]", "members have fixed parameters (one value each) and are "
                                                   "not ensembles; grid the ensemble by listing several")
        members.append((member.type, tuple((axis.name, axis.values[0]) for axis in member.axes)))
    learn = COMPONENT_ENTRY.key("learn_bars").param
    learn_bars = _axis_values(learn, entry.get("learn_bars", learn.default), f"{path}.learn_bars")
    return ComponentSpec(kind="strategy", type="ensemble",
                         axes=(Axis("members", (tuple(members),)), Axis("learn_bars", learn_bars)), path=path)


def _require_each_applies(constraints: tuple[Constraint, ...], strategies: tuple[_Entry, ...]) -> None:
    """Every top-level constraint must name parameters that some strategy entry has, all of them."""
    for constraint in constraints:
        if not any(constraint.names <= _names(component.axes) for component, _ in strategies):
            raise SpecError(f"{constraint.path}={constraint.text!r}",
                            f"no strategy entry has all of {', '.join(sorted(constraint.names))}: fix the "
                            "names or move the constraint into the entry it is meant for")


def _applicable(top: tuple[Constraint, ...], component: ComponentSpec,
                own: tuple[Constraint, ...]) -> tuple[Constraint, ...]:
    """The top-level constraints an entry gets: those naming only its parameters, and not already its own."""
    return tuple(c for c in top
                 if c.names <= _names(component.axes) and c.text not in {o.text for o in own})


def _finished(component: ComponentSpec, constraints: tuple[Constraint, ...]) -> ComponentSpec:
    """``component`` with its constraint texts, once a point of its grid is known to satisfy them."""
    _require_a_point(component.path, component.axes, constraints)
    return attrs.evolve(component, constraints=tuple(c.text for c in constraints))


def _names(axes: tuple[Axis, ...]) -> frozenset[str]:
    return frozenset(axis.name for axis in axes)


def _constraints(raw: Any, path: str) -> tuple[Constraint, ...]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise SpecError(f"{path}={_short.repr(raw)}", "must be a list of expressions, e.g. "
                                                      "['fast_period < slow_period']")
    return tuple(parse_constraint(text, f"{path}[{i}]") for i, text in enumerate(raw))


def _require_a_point(path: str, axes: tuple[Axis, ...], constraints: tuple[Constraint, ...]) -> None:
    """Evaluate every constraint at every point (so evaluation errors surface here) and insist one survives."""
    if sum(1 for _ in iter_points(axes, constraints)) == 0:
        texts = "; ".join(c.text for c in constraints)
        raise SpecError(path, f"no combination satisfies the constraints ({texts}): widen the grids or "
                              "relax the constraints")


# --------------------------------------------------------------------------------------------
# parameter values


def _axes(params: tuple[Param, ...], values: Mapping, path: str, owner: str) -> tuple[Axis, ...]:
    """One axis per declared parameter, in declaration order; defaults fill what ``values`` omits."""
    declared = [param.name for param in params]
    for name in values:
        if name not in declared:
            raise SpecError(_join(path, name), f"{owner} has no parameter {name!r}"
                                               f"{_did_you_mean(name, declared)}; its parameters are "
                                               f"{', '.join(declared)}")
    axes = []
    for param in params:
        where = _join(path, param.name)
        if param.name in values:
            axes.append(Axis(param.name, _axis_values(param, values[param.name], where)))
        elif param.required:
            raise SpecError(where, f"required by {owner}: give {param.describe()}")
        else:
            axes.append(Axis(param.name, (param.default,)))
    return tuple(axes)


def _axis_values(param: Param, raw: Any, path: str) -> tuple:
    """A value (1-value axis), a list (a grid, duplicates dropped) or a ``{from, to, step}`` range;
    a list-valued parameter (symbols, tiers) takes one list."""
    if param.kind in LIST_KINDS:
        return (param.check(raw, path),)
    if isinstance(raw, Mapping):
        return tuple(dict.fromkeys(param.check(value, path) for value in value_range(raw, path)))
    if isinstance(raw, (list, tuple)):
        if not raw:
            raise SpecError(f"{path}=[]", f"empty grid: give at least one value ({param.describe()}), or "
                                          f"remove the key to use the default {param.default!r}")
        return tuple(dict.fromkeys(_scalar(param, item, f"{path}[{i}]") for i, item in enumerate(raw)))
    return (_scalar(param, raw, path),)


def _scalar(param: Param, raw: Any, path: str) -> Any:
    if isinstance(raw, (Mapping, list, tuple, set)):
        raise SpecError(f"{path}={_short.repr(raw)}", f"must be {param.describe()}: a grid is a flat list of "
                                                      "values or one {from, to, step} range")
    return param.check(raw, path)


# --------------------------------------------------------------------------------------------
# small checks


def _require_mapping(raw: Any, path: str, example: str) -> Mapping:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path}={_short.repr(raw)}", f"must be a mapping, e.g. {example}")
    return raw


def _require_known_keys(section: Mapping, path: str, allowed: Sequence[str]) -> None:
    for key in section:
        if key not in allowed:
            where = "here" if path else "at the top level"
            raise SpecError(_join(path, key), f"unknown key{_did_you_mean(key, allowed)}; allowed keys {where}: "
                                              f"{', '.join(sorted(allowed))}")


def _text(raw: Any, path: str, *, what: str = "value") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(f"{path}={_short.repr(raw)}", f"{what} must be a non-empty string")
    return raw


def _moment(raw: Any, path: str) -> str | None:
    """An ISO date or timestamp as text (YAML dates and datetimes become their ISO form)."""
    if raw is None:
        return None
    if isinstance(raw, (date, datetime)):
        return raw.isoformat()
    if isinstance(raw, str):
        try:
            datetime.fromisoformat(raw.strip())
        except ValueError:
            pass
        else:
            return raw.strip()
    raise SpecError(f"{path}={_short.repr(raw)}", "must be an ISO date or timestamp such as 2024-01-31 or "
                                                  "2024-01-31 09:30:00")


def _instant(text: str, *, whole_day: bool = False) -> datetime:
    """``text`` as a naive UTC datetime; with ``whole_day`` a date alone means the end of that day."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if whole_day and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        moment += timedelta(days=1) - timedelta(microseconds=1)
    return moment


def _did_you_mean(name: Any, candidates: Sequence[str]) -> str:
    """A hint naming the closest candidate: one that ``name`` begins (``sma_cross``: sma_crossover), else difflib's."""
    if not isinstance(name, str):
        return ""
    close = sorted(c for c in candidates if name and c.startswith(name)) or difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _plain(value: Any) -> Any:
    """``value`` with every mapping a dict (for ``json.dumps``); the spec is validated, so shallow."""
    if kind_of(value) is not None:  # a component record given in code: documented by its name
        return value.name
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def trace_filter(raw: Any, path: str = "trace") -> TraceSpec | None:
    """The filter a spec's ``trace`` value asks for: ``false``/absent → ``None``, ``true`` → all."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return TraceSpec()
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path}={raw!r}", "must be true, false or {kinds: [ORDER, FILL], combos: [...]}")
    unknown = sorted(set(raw) - set(TRACE.names))
    if unknown:
        raise SpecError(f"{path}.{unknown[0]}", f"unknown key; allowed keys here: {', '.join(sorted(TRACE.names))}")
    kinds = set(KINDS)
    if "kinds" in raw:
        kinds = set()
        for i, k in enumerate(_trace_list(raw["kinds"], f"{path}.kinds")):
            name = KIND_ALIASES.get(str(k).upper(), k)
            if name not in KINDS:
                raise SpecError(f"{path}.kinds[{i}]={k!r}", f"must be one of {', '.join(KINDS)} "
                                                            f"or {', '.join(KIND_ALIASES)}")
            kinds.add(name)
    combos = sorted({str(c) for c in _trace_list(raw.get("combos", []), f"{path}.combos")})
    return TraceSpec(tuple(k for k in KINDS if k in kinds), tuple(combos))


def _trace_list(raw: Any, path: str) -> list:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise SpecError(f"{path}={raw!r}", "must be a list")
    return list(raw)


def parse_memory(text: str | int | None) -> int | None:
    """Bytes from ``'512MB'``, ``'4GB'``, ``'2.5G'`` or a number of bytes.

    >>> parse_memory("4GB"), parse_memory("512mb"), parse_memory(1000)
    (4294967296, 536870912, 1000)
    """
    if text is None or isinstance(text, int):
        return text
    units = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30, "GB": 2**30, "T": 2**40,
             "TB": 2**40}
    raw = text.strip().upper()
    number = raw.rstrip("KMGTB")
    try:
        value = float(number) * units[raw[len(number):]]
    except (ValueError, KeyError):
        raise SpecError(f"memory_limit={text!r}", "must be a size such as 512MB, 4GB or a number of bytes") from None
    if value <= 0:
        raise SpecError(f"memory_limit={text!r}", "must be positive")
    return int(value)
