"""``admf lookahead``: a whole spec, on its own data, never decides anything with the future.

``admf check`` proves the laws of one component over generated data; this checks a spec — its
own strategies, features, classifiers, exits and settings together — on the data it names. It
runs the spec's combinations (all of them, or a covering design of ``combos`` of them:
:func:`fp.grid.covering`, every component and every parameter value at least once) on the data
cut at ``cuts`` points spread over its span, and on the data with the bars after each cut
perturbed, and compares every decision made before the cut with the run that saw more:

* **features** (each FeatureHub output), **strategy** signals (each strategy point's raw signal),
  **classifier** labels (each classifier point's) — series, compared bit for bit before the cut;
* the fold's **orders** (what each order was: its signal bar, kind, targets and trigger level;
  resting entries that expired), **fills** (what was approved, filled, paid or rejected; ruins)
  and **exits** (stops, take-profits, trailing stops, time exits) — events, compared when their
  bar is before the cut.

A causal computation gives the same bits whatever comes after, so any difference is look-ahead:
a :class:`Finding` names the combination, the component, the first bar where a decision before
the cut changed, and what changed it.

**The two inputs.** Cut ``i`` falls at a time ``τ_i`` of the data's merged timeline (the cuts
are spread evenly over the bars where every symbol has begun); every symbol is cut at the same
time, so a cross-symbol feature sees the same cut. *Truncated*: the data before ``τ_i`` only,
compared with the whole data. *Perturbed*: the data before ``τ_{i+1}`` (the whole data for the
last cut) with every bar from ``τ_i`` on replaced — another bar of the same stretch (a shuffle
seeded by the cut and the symbol), reflected about the last close before the cut and scaled by
1.5 (``1.5 · C² / price``: rises become falls and no price lands back where it was), volume
``3 v + 1`` — compared with the data truncated at ``τ_{i+1}``: the two differ only after
``τ_i``, so whatever changes before ``τ_i`` was changed by the perturbation. Bars stay valid
(``high ≥ max(open, close) ≥ min(open, close) ≥ low > 0``), times are kept.

**Cost.** One run of the dense work (features, signals, fits) on the whole data, then per cut
one on the bars before it and one on the bars before the next cut: about ``cuts + 2`` times the
dense work of one run, and the sparse fold (cheap) each time; no metrics, tables or files. The
classifiers are refitted every time (a fit that reads the future is what is looked for).

**Workflows.** A backtest or optimization runs as one backtest of the whole data. With
``data.split`` the classifiers are fitted where the test part's fit is (on the training bars of
the whole data, as a run fits them: the split is a place in the data, not a fraction of
whatever is given). A walk-forward is checked as a backtest of the whole data, its classifiers on
their warm-up: each window already reads no bar after its test part (``run_plan``'s window), so
what can look ahead are its components. ``signal_generation`` checks features, signals and
labels (there is no fold); ``signal_replay`` checks orders, fills and exits only (its signals
are read from the store: check the spec that generated them). A classifier fitted on bars
``[0, train_end)`` labels nothing before ``train_end``: cuts before it check its combinations'
features and signals, not its labels or fold (a classified combination is flat until labelled).
Shared-cash portfolios check features, signals and labels (their fold is not traced yet).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from fp.classifiers import default_train_end
from fp.divergence import first_divergence, first_event_divergence
from fp.grid import covering
from fp.hub import compute_features
from fp.registry import Registry, registry_of
from fp.strategies import expand_changes
from pipelines.boundary.data import load_market_data
from pipelines.boundary.store_files import read_store
from pipelines.engine.compiler import feature_keys, plan_from_spec, replay_plan, selected_plan
from pipelines.engine.evaluate import fold_symbol
from pipelines.engine.signals import (ClassifierFit, SignalSource, SymbolSignals, classifier_key, computed_signals,
                                      signal_of, split_index)
from pipelines.boundary.specs import SpecLike, load_spec
from state.errors import SpecError
from state.market import Bars, MarketData
from state.orders import EXITS, ORDER_TYPES
from state.plan import Combination, Plan
from state.spec import Spec

__all__ = ["DECISIONS", "Cut", "Finding", "LookaheadReport", "lookahead", "perturbed", "point_name", "time_text"]

#: The decisions compared, in the order a bar's decisions are made.
DECISIONS = ("feature", "strategy", "classifier", "orders", "fills", "exits")
#: Cuts when none are asked for.
DEFAULT_CUTS = 4
_FOLD = ("orders", "fills", "exits")


@attrs.frozen
class Cut:
    """Cut ``number`` (from 1) at ``time``: each symbol's bars ``[0, bar)`` come before it."""

    number: int
    time: str
    bars: tuple[tuple[str, int], ...]

    def bar(self, symbol: str) -> int:
        return dict(self.bars)[symbol]


@attrs.frozen
class Finding:
    """A decision before a cut that changed: in combination ``combo_id`` on ``symbol``, the
    ``kind`` of decision (one of :data:`DECISIONS`) of ``component`` (a feature key, a strategy or
    classifier point, or the kind itself for the fold's decisions) first changed at ``bar``
    (``time``), which is before cut ``cut``, when the data was ``input`` (``truncated`` at the cut
    or ``perturbed`` after it); ``detail`` says how (the values before and after)."""

    combo_id: str
    symbol: str
    kind: str
    component: str
    bar: int
    time: str
    cut: int
    input: str
    detail: str = ""


@attrs.frozen(eq=False)
class LookaheadReport:
    """What ``admf lookahead`` checked and found: the spec's ``source`` and ``workflow``, the
    ``combos`` checked (of ``grid`` in the spec's grid), the ``cuts``, the kinds of decisions
    ``checked``, ``notes`` on what the workflow lets it check, and the ``findings`` (empty: no
    decision before any cut changed)."""

    source: str
    workflow: str
    combos: tuple[Combination, ...]
    grid: int
    cuts: tuple[Cut, ...]
    checked: tuple[str, ...]
    notes: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def found(self) -> bool:
        """Whether look-ahead was found."""
        return bool(self.findings)


def lookahead(spec: SpecLike, *, cuts: int = DEFAULT_CUTS, combos: int | None = None,
              market: MarketData | None = None) -> LookaheadReport:
    """Check that no decision of ``spec`` before a cut depends on the data after it (see the module
    docstring): ``cuts`` cut points, the whole grid or ``combos`` combinations covering every
    component and parameter value, on the spec's data or ``market``. Bad input (a bad spec,
    ``cuts`` or ``combos``) raises a :class:`SpecError`."""
    spec = load_spec(spec)
    if spec.phases:
        raise SpecError("phases", "admf lookahead checks one workflow: check each phase's strategies, classifiers "
                                  "and settings with a spec of its own")
    _check_count("--cuts", cuts)
    if combos is not None:
        _check_count("--combos", combos)
    plan, market, signals, checked, notes = _setup(spec, market)
    chosen, grid = _chosen(plan, combos)
    plan = _subplan(plan, chosen)
    points = _cut_points(market, cuts)
    ends = {b.symbol: split_index(spec.data.split, b) for b in market.bars}
    fit: ClassifierFit = lambda bars: (0, ends[bars.symbol])  # noqa: E731  (where the whole data's run fits)
    warm = _train_ends(plan, market, ends)
    analysis = _Analysis(plan, signals, fit, warm, checked)

    reference = analysis.decisions(market, None)
    findings: list[Finding] = []
    # from the last cut back, so only the run truncated at the next cut is kept besides the whole data's
    longer, longer_market = reference, market
    for i in reversed(range(len(points))):
        cut = points[i]
        changed = analysis.decisions(_perturbed_market(longer_market, cut), cut)
        findings += analysis.compare(longer, changed, cut, "perturbed", market)
        longer_market = _cut(market, points, i)
        longer = analysis.decisions(longer_market, cut)
        findings += analysis.compare(reference, longer, cut, "truncated", market)
    order = {c.combo_id: i for i, c in enumerate(plan.combos)}
    findings.sort(key=lambda f: (order[f.combo_id], f.symbol, DECISIONS.index(f.kind), f.component, f.cut,
                                 f.input != "truncated"))
    if any(dict(c.settings).get("shared_cash", False) for c in plan.combos):
        notes = notes + ("shared-cash portfolios: features, signals and labels are checked, their fold is not",)
    return LookaheadReport(spec.source, spec.workflow.type, plan.combos, grid, points, checked, notes, tuple(findings))


def _check_count(option: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SpecError(option, f"{value!r}: must be a positive integer")


# ---- what the workflow lets us check -----------------------------------------------------------

def _setup(spec: Spec, market: MarketData | None) -> tuple[Plan, MarketData, SignalSource | None, tuple[str, ...],
                                                            tuple[str, ...]]:
    """The plan to check, its data, where its signals come from (``None``: computed), the decisions
    checked and notes saying what the workflow lets be checked."""
    kind = spec.workflow.type
    if kind == "signal_replay":
        store = read_store(spec.signals)
        if market is None:
            market = load_market_data(store.data_spec() if spec.data.is_default else spec.data)
        store.check_data(market)
        plan = replay_plan(spec, store.combinations(), symbols=market.symbols)
        return plan, market, _until_end(store.source()), _FOLD, (
            "signal_replay: its signals are read from the store, not computed; orders, fills and exits are checked "
            "(check the spec that generated the store for its features, signals and labels)",)
    market = market if market is not None else load_market_data(spec.data)
    plan = plan_from_spec(spec, symbols=market.symbols)
    checked = DECISIONS[:3] if kind == "signal_generation" else DECISIONS
    if not spec.classifiers:
        checked = tuple(k for k in checked if k != "classifier")
    notes = {
        "signal_generation": "signal_generation: features, signals and labels are checked (no fold: no orders)",
        "walk_forward": "walk_forward: checked as one backtest of the whole data, classifiers fitted on their "
                        "warm-up; each window reads no bar after its test part by construction",
    }
    note = notes.get(kind)
    if spec.data.split is not None:
        note = ("data.split: checked as one backtest of the whole data, classifiers fitted on the training part as "
                "for the test part")
    return plan, market, None, checked, (note,) if note else ()


def _until_end(source: SignalSource) -> SignalSource:
    """A stored signal source on data that may end earlier: the changes at bars the data has."""
    def cut(plan: Plan, bars: Bars) -> SymbolSignals:
        signals = source(plan, bars)

        def changes(combo: Combination) -> tuple[np.ndarray, np.ndarray]:
            at, values = signals.changes(combo)
            keep = at < len(bars)
            return at[keep], values[keep]
        return SymbolSignals(changes, signals.labels)
    return cut


def _chosen(plan: Plan, combos: int | None) -> tuple[tuple[Combination, ...], int]:
    """The combinations checked (all, or a covering design of ``combos`` of them) and the grid's size."""
    if combos is None or combos >= len(plan.combos):
        return plan.combos, len(plan.combos)
    items = [_items(c) for c in plan.combos]
    needed = covering(items)
    if combos < len(needed):
        raise SpecError("--combos", f"{combos}: covering every component and parameter value of this spec takes "
                                    f"{len(needed)} of its {len(plan.combos)} combinations; give --combos "
                                    f"{len(needed)} or more, or leave it out to check the whole grid")
    return tuple(plan.combos[i] for i in covering(items, combos)), len(plan.combos)


def _items(combo: Combination) -> set[tuple]:
    """What a combination exercises: its strategy and classifier and each of their parameter
    values, and each setting's value."""
    strategy = combo.strategy_path or combo.strategy
    items = {("strategy", strategy), ("classifier", combo.classifier)}
    items |= {("strategy", strategy, name, repr(value)) for name, value in combo.strategy_params}
    items |= {("classifier", combo.classifier, name, repr(value)) for name, value in combo.classifier_params}
    items |= {("setting", name, repr(value)) for name, value in combo.settings}
    return items


def _subplan(plan: Plan, combos: tuple[Combination, ...]) -> Plan:
    """``plan`` with ``combos`` only (and only their features)."""
    if combos == plan.combos:
        return plan
    if plan.spec.workflow.type == "signal_replay":
        return attrs.evolve(plan, combos=combos)
    return selected_plan(plan.spec, combos, symbols=plan.symbols, own_settings=False)


def _train_ends(plan: Plan, market: MarketData, ends: Mapping[str, int | None]) -> dict[tuple, int]:
    """The first bar each classifier point labels on each symbol, ``(point, symbol) -> bar``, as the
    run on the whole data fits it."""
    registry = registry_of(plan.spec)
    out = {}
    for combo in plan.combos:
        if combo.classifier is None or plan.spec.workflow.type == "signal_replay":
            continue
        key = classifier_key(combo)
        for bars in market.bars:
            end = ends[bars.symbol]
            out[(key, bars.symbol)] = end if end is not None else default_train_end(
                dict(key[1]), registry.classifier(key[0]), len(bars))
    return out


# ---- cuts and the data around them ----------------------------------------------------------------

def _cut_points(market: MarketData, n: int) -> tuple[Cut, ...]:
    """``n`` cuts spread evenly over the merged timeline's bars after every symbol's first bar."""
    timeline = np.unique(np.concatenate([b.time for b in market.bars]))
    begun = max(b.time[0] for b in market.bars)
    after = timeline[timeline > begun]
    if len(after) < n:
        raise SpecError("--cuts", f"{n}: the data has {len(after)} bar time(s) after every symbol has begun "
                                  f"({time_text(market.bars[0], begun)}); give fewer cuts or more data")
    at = [after[(i * len(after)) // (n + 1)] for i in range(1, n + 1)]
    return tuple(Cut(i, time_text(market.bars[0], t),
                     tuple((b.symbol, int(np.searchsorted(b.time, t, side="left"))) for b in market.bars))
                 for i, t in enumerate(at, start=1))


def time_text(bars: Bars, t: np.datetime64) -> str:
    """A time as the data writes it (its zone's wall clock; the date alone at midnight)."""
    i = int(np.searchsorted(bars.time, t))
    local = bars.local_time[i] if i < len(bars) and bars.time[i] == t else t
    text = str(np.datetime64(local, "s")).replace("T", " ")
    return text.removesuffix(" 00:00:00")


def _cut(market: MarketData, cuts: Sequence[Cut], i: int) -> MarketData:
    """Every symbol's bars before cut ``i`` (its calendars kept: the whole data's)."""
    cut = cuts[i]
    return attrs.evolve(market, bars=tuple(b.slice(0, cut.bar(b.symbol)) for b in market.bars),
                        source=f"{market.source} (truncated at cut {cut.number})",
                        sha256=f"{market.sha256}:cut{cut.number}")


def perturbed(bars: Bars, start: int, *, seed: int | Sequence[int] = 0) -> Bars:
    """``bars`` with every bar from ``start`` on replaced, and the bars before it as they are.

    Bar ``t >= start`` becomes bar ``π(t)`` of the same stretch (``π`` a permutation drawn from a
    generator seeded with ``seed``), reflected about the last close ``C`` before ``start`` and
    scaled by 1.5: each price ``p`` becomes ``1.5 · C² / p`` (the high from the low and the low
    from the high), so rises become falls and no price stays where it was; volume ``v`` becomes
    ``3 v + 1``. Times are kept, and every bar stays valid. Pure: the same arguments give the same bars.

    >>> from fp.components import sample_bars
    >>> b = sample_bars(6)
    >>> p = perturbed(b, 4)
    >>> bool((p.close[:4] == b.close[:4]).all()), bool((p.close[4:] != b.close[4:]).all())
    (True, True)
    >>> bool((p.low <= np.minimum(p.open, p.close)).all() and (np.maximum(p.open, p.close) <= p.high).all())
    True
    """
    n = len(bars)
    if start >= n:
        return bars
    start = max(start, 0)
    order = start + np.random.default_rng(seed).permutation(n - start)
    pivot = bars.close[start - 1] if start > 0 else bars.close[0]
    scale = 1.5 * pivot * pivot

    def replaced(x: np.ndarray, tail: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=np.float64)
        out[start:] = tail
        return out
    return attrs.evolve(
        bars, open=replaced(bars.open, scale / bars.open[order]), high=replaced(bars.high, scale / bars.low[order]),
        low=replaced(bars.low, scale / bars.high[order]), close=replaced(bars.close, scale / bars.close[order]),
        volume=replaced(bars.volume, 3.0 * bars.volume[order] + 1.0))


def _perturbed_market(market: MarketData, cut: Cut) -> MarketData:
    """Every symbol's bars from ``cut`` on perturbed (:func:`perturbed`, seeded by the cut and the symbol)."""
    return attrs.evolve(market, bars=tuple(perturbed(b, cut.bar(b.symbol), seed=(cut.number, i))
                                           for i, b in enumerate(market.bars)),
                        source=f"{market.source} (perturbed after cut {cut.number})",
                        sha256=f"{market.sha256}:perturbed{cut.number}")


# ---- the decisions of one run and their comparison -------------------------------------------------

Events = tuple[np.ndarray, list[np.ndarray]]


@attrs.frozen(eq=False)
class _Decisions:
    """One symbol's decisions in one run: each feature's outputs, each strategy point's signal,
    each classifier point's labels, and each folded combination's events by kind (a list of
    event sequences per kind)."""

    bars: Bars
    features: Mapping[Any, tuple[np.ndarray, ...]]
    signals: Mapping[tuple, np.ndarray]
    labels: Mapping[tuple, np.ndarray]
    lanes: Mapping[str, Mapping[str, list[Events]]]


@attrs.frozen(eq=False)
class _Analysis:
    """The plan checked, where its signals come from, where classifiers fit, the first bar each
    classifier point labels, and the decisions checked."""

    plan: Plan
    signals: SignalSource | None
    fit: ClassifierFit
    train_ends: Mapping[tuple, int]
    checked: tuple[str, ...]

    @functools.cached_property
    def registry(self) -> Registry:
        return registry_of(self.plan.spec)

    @functools.cached_property
    def needs(self) -> dict[str, tuple[list, list, tuple | None, tuple | None]]:
        """Each combination's feature keys, strategy points, classifier point and, for an ensemble,
        the key of its own target (its members weighted per regime: a decision of its own)."""
        out = {}
        for c in self.plan.combos:
            computed = self.signals is None
            keys = sorted(feature_keys(c.strategy, c.strategy_params, self.registry)) if computed else []
            ensemble = c.strategy == "ensemble"
            points = ([(m, p) for m, p in dict(c.strategy_params)["members"]] if ensemble
                      else [(c.strategy, c.strategy_params)]) if computed else []
            classifier = classifier_key(c) if c.classifier is not None and computed else None
            target = ("ensemble", c.strategy_params, classifier) if ensemble and computed else None
            out[c.combo_id] = (keys, points, classifier, target)
        return out

    def labelled(self, combo: Combination, symbol: str, stop: int | None) -> bool:
        """Whether a combination's classifier labels a bar before ``stop`` (always without a classifier)."""
        if combo.classifier is None or self.signals is not None or stop is None:
            return True
        return self.train_ends[(classifier_key(combo), symbol)] < stop

    def decisions(self, market: MarketData, cut: Cut | None) -> dict[str, _Decisions]:
        """Every symbol's decisions on ``market``; for a run compared before ``cut``, the
        combinations whose classifier labels nothing before it are not folded (it cannot be
        fitted on the bars before the cut, and they are flat there)."""
        out = {}
        for index, bars in enumerate(market.bars):
            stop = cut.bar(bars.symbol) if cut is not None else None
            combos = tuple(c for c in self.plan.combos if self.labelled(c, bars.symbol, stop))
            out[bars.symbol] = self._symbol(bars, market, combos, market.annualisation_of(index).periods_per_year)
        return out

    def _symbol(self, bars: Bars, market: MarketData, combos: tuple[Combination, ...],
                periods_per_year: float) -> _Decisions:
        plan = self.plan
        if combos != plan.combos:
            plan = _subplan(self.plan, combos)
        features: dict = {}
        signals: dict = {}
        if self.signals is None:
            features = compute_features(bars, self.plan.features, registry=self.registry, market=market)
            for c in self.plan.combos:
                for name, params in self.needs[c.combo_id][1]:
                    if (name, params) not in signals:
                        signals[(name, params)] = signal_of(name, dict(params), features, self.registry)
        if not combos:
            return _Decisions(bars, features, signals, {}, {})
        source = (computed_signals(plan, bars, market, fit=self.fit, features=features) if self.signals is None
                  else self.signals(plan, bars))
        labels = {}
        for c in combos:
            _, _, key, target = self.needs[c.combo_id]
            if key is not None and key not in labels:
                labels[key] = source.labels(c)
            if target is not None and target not in signals:
                signals[target] = expand_changes(*source.changes(c), len(bars))
        lanes: dict = {}
        folded = tuple(c for c in combos if not dict(c.settings).get("shared_cash", False))
        if any(k in self.checked for k in _FOLD) and folded:
            if folded != plan.combos:
                plan = _subplan(self.plan, folded)
            changes = [source.changes(c) for c in folded]
            _, result = fold_symbol(plan, bars, changes, periods_per_year, trace=True)
            lanes = _lane_events(folded, result)
        return _Decisions(bars, features, signals, labels, lanes)

    def compare(self, reference: Mapping[str, _Decisions], other: Mapping[str, _Decisions], cut: Cut, given: str,
                market: MarketData) -> list[Finding]:
        """The findings of ``other`` against ``reference`` before ``cut``."""
        found = []
        for bars in market.bars:
            symbol, stop = bars.symbol, cut.bar(bars.symbol)
            ref, run = reference[symbol], other[symbol]

            def finding(combo: Combination, kind: str, component: str, bar: int, detail: str = "") -> Finding:
                return Finding(combo.combo_id, symbol, kind, component, bar, time_text(bars, bars.time[bar]), cut.number,
                               given, detail)
            features = {key: _series_divergence(ref.features[key], run.features[key], stop) for key in run.features}
            signals = {p: _series_divergence((ref.signals[p],), (run.signals[p],), stop) for p in run.signals}
            labels = {p: _series_divergence((ref.labels[p],), (run.labels[p],), stop) for p in run.labels}
            for combo in self.plan.combos:
                keys, points, classifier, target = self.needs[combo.combo_id]
                for key in keys:
                    if features.get(key):
                        bar, detail = features[key]
                        found.append(finding(combo, "feature", str(key), bar, detail))
                for name, params in points:
                    if signals.get((name, params)):
                        bar, detail = signals[(name, params)]
                        found.append(finding(combo, "strategy", point_name(name, params), bar, detail))
                if classifier is not None and labels.get(classifier) and self.labelled(combo, symbol, stop):
                    bar, detail = labels[classifier]
                    found.append(finding(combo, "classifier", point_name(*classifier), bar, detail))
                if target is not None and signals.get(target) and self.labelled(combo, symbol, stop):
                    bar, detail = signals[target]
                    found.append(finding(combo, "strategy", point_name("ensemble", combo.strategy_params), bar, detail))
                if combo.combo_id in run.lanes:
                    for kind in _FOLD:
                        bar = _events_divergence(ref.lanes[combo.combo_id][kind], run.lanes[combo.combo_id][kind], stop)
                        if bar is not None:
                            found.append(finding(combo, kind, kind, bar))
        return found


def _series_divergence(reference: tuple[np.ndarray, ...], other: tuple[np.ndarray, ...],
                       stop: int) -> tuple[int, str] | None:
    """The first bar before ``stop`` where any output differs, and the values there."""
    first = None
    for a, b in zip(reference, other):
        bar = first_divergence(a, b, stop)
        if bar is not None and (first is None or bar < first[0]):
            first = (bar, f"{_value(a[bar])} became {_value(b[bar])}")
    return first


def _value(x: float) -> str:
    return "nan" if x != x else f"{float(x):.6g}"


def _events_divergence(reference: list[tuple[Events, int]], other: list[tuple[Events, int]], stop: int) -> int | None:
    """The first bar before ``stop`` where any of the event sequences part ways (a sequence with a
    margin ``m`` is compared before ``stop - m`` only)."""
    bars = [first_event_divergence(a, b, stop - margin) for (a, margin), (b, _) in zip(reference, other)]
    bars = [b for b in bars if b is not None]
    return min(bars) if bars else None


def _lane_events(combos: Sequence[Combination], folded) -> dict[str, dict[str, list[tuple[Events, int]]]]:
    """Each combination's orders, fills and exits as event sequences stamped with their bar, each
    with its margin (see :func:`_events_divergence`).

    Orders: what each entry or resize order was (signal bar, kind, targets, level), at its fill bar,
    and the resting entries that expired, at the bar they were cancelled — with a margin of one
    bar, since on the bar before a cut an entry still working is cut off by the end of the data,
    not cancelled. Fills: what each order was approved, filled, paid or refused; the ruins. Exits:
    each exit's kind, level and fill.
    """
    t = folded.trace
    bounds = np.searchsorted(t.lane, np.arange(len(combos) + 1))
    exit_kind = (t.kind >= len(ORDER_TYPES)) & (t.kind < len(ORDER_TYPES) + len(EXITS))
    expired, ruined = t.expired, t.ruined
    by_lane = np.lexsort((expired.until, expired.lane))
    e_lane, e_until, e_bar, e_kind = (x[by_lane] for x in (expired.lane, expired.until, expired.bar, expired.kind))
    out = {}
    for i, combo in enumerate(combos):
        rows = slice(bounds[i], bounds[i + 1])
        exits = exit_kind[rows]
        entries = ~exits

        def pick(mask, *names):
            return [getattr(t, name)[rows][mask] for name in names]
        lo, hi = np.searchsorted(e_lane, [i, i + 1])
        r = ruined.lane == i
        out[combo.combo_id] = {
            "orders": [((t.fill_bar[rows][entries], pick(entries, "signal_bar", "kind", "signal_target",
                                                          "submitted_target", "level")), 0),
                       ((e_until[lo:hi], [e_bar[lo:hi], e_kind[lo:hi]]), 1)],
            "fills": [((t.fill_bar[rows], pick(slice(None), "approved_target", "max_quantity", "quantity", "price",
                                               "commission", "reason")), 0),
                      ((ruined.bar[r], [ruined.price[r], ruined.quantity[r], ruined.deficit[r]]), 0)],
            "exits": [((t.fill_bar[rows][exits], pick(exits, "kind", "signal_bar", "level", "quantity", "price")), 0)],
        }
    return out


def point_name(name: str, params: Sequence[tuple[str, Any]]) -> str:
    """A strategy or classifier point as text (an ensemble: its members).

    >>> point_name("momentum", (("lookback_period", 10), ("signal_threshold", 0.01)))
    'momentum(lookback_period=10, signal_threshold=0.01)'
    >>> point_name("ensemble", (("members", (("momentum", (("lookback_period", 10),)),)),))
    'ensemble(momentum(lookback_period=10))'
    """
    if name == "ensemble":
        return f"ensemble({', '.join(point_name(m, p) for m, p in dict(params)['members'])})"
    return f"{name}({', '.join(f'{k}={v}' for k, v in params)})"
