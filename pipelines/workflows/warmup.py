"""``admf warmup``: how many bars each component of a spec needs before it stops depending on where
the data starts.

An exponential average started on a later bar differs from the one started on the data's first
bar by ``(1 - alpha)^n`` of their difference at the start, ``n`` bars later; a moving average of
``n`` bars agrees from its ``n``-th bar on; a Wilder RSI, an ATR, a MACD forget their start like
an EMA; a cumulative feature (on-balance volume) never does; a classifier refitted on the bars it
is given learns other regimes from another start. :func:`warmup` measures this on the spec's own
data: it runs the spec's features, strategies (the target each strategy point holds) and
classifiers (their labels, fitted as a run starting there would fit them) from ``starts`` later
starts spread over the first half of the data, and compares each with the run from the first
bar on the bars both cover (:func:`fp.divergence.warm_up`, within ``tolerance`` relative to the
values). A component's warm-up is the most bars any start needed; ``None`` when some start still
differs at the data's last bar.

It then warns about every strategy point that takes a position — and every classifier that
labels a bar — before its warm-up is over: its decisions until then depend on where the data
starts (``data.start``, or the data's first bar), and would differ with more history.

``admf run --warmup`` (``pipelines.run(spec, warmup=True)``) measures the same before a backtest,
optimization or walk-forward, records it in the manifest (``warmup``), and warns about every lane
whose first trade comes before its warm-up is over (its strategy's, and its classifier's). It
warns rather than refuses: trading from the first defined signal is what every peer engine does
(the bundled peer cross-checks depend on it), and a warm-up measured within a tolerance is a
judgement for the researcher, not a rule. It is opt-in because it costs about ``starts`` more
computations of the features, signals and fits (``admf warmup``'s table is the same numbers).
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from fp.classifiers import classify, default_train_end
from fp.divergence import warm_up
from fp.hub import compute_features
from fp.registry import registry_of
from fp.strategies import held_targets
from pipelines.boundary.data import load_market_data
from pipelines.boundary.specs import SpecLike, load_spec
from pipelines.engine.compiler import plan_from_spec
from pipelines.engine.signals import classifier_key, signal_of, split_index
from pipelines.workflows.lookahead import point_name, time_text
from state.errors import SpecError
from state.market import MarketData
from state.plan import Combination, Plan
from state.spec import Spec

__all__ = ["DEFAULT_STARTS", "DEFAULT_TOLERANCE", "Warmup", "WarmupReport", "lane_warmups", "record_warmup", "warmup"]

#: Values agree when ``|a - b| <= tolerance * max(1, |a|, |b|)``.
DEFAULT_TOLERANCE = 1e-6
#: Later starts measured when none are given.
DEFAULT_STARTS = 3


@attrs.frozen
class Warmup:
    """One component's warm-up on one symbol: ``kind`` (feature, strategy, classifier), the
    ``component`` (a feature key, a strategy or classifier point), the warm-up ``bars`` measured
    (``None``: it still depends on its start at the data's last bar), and ``first``: the first
    bar it decides anything on the whole data — a feature's first defined value, the first bar a
    strategy holds a position, a classifier's first label (``None``: never). ``note`` says why a
    warm-up could not be measured."""

    kind: str
    component: str
    symbol: str
    bars: int | None
    first: int | None
    note: str = ""

    @property
    def early(self) -> bool:
        """Whether it decides something before its warm-up is over (features decide nothing)."""
        if self.kind == "feature" or self.first is None or self.note:
            return False
        return self.bars is None or self.first < self.bars - 1


@attrs.frozen(eq=False)
class WarmupReport:
    """What ``admf warmup`` measured: the spec's ``source``, the ``tolerance``, the later
    ``starts`` (each a time and each symbol's first bar from it), where the data starts
    (``data_start``: ``data.start`` or the first bar's time), one :class:`Warmup` per component
    and symbol (``rows``), and the ``warnings``."""

    source: str
    tolerance: float
    starts: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    data_start: str
    rows: tuple[Warmup, ...]
    warnings: tuple[str, ...]

    def of(self, kind: str, component: str, symbol: str) -> Warmup:
        """The row of one component on one symbol."""
        for row in self.rows:
            if (row.kind, row.component, row.symbol) == (kind, component, symbol):
                return row
        raise KeyError((kind, component, symbol))


def warmup(spec: SpecLike, *, tolerance: float = DEFAULT_TOLERANCE, starts: int = DEFAULT_STARTS,
           market: MarketData | None = None) -> WarmupReport:
    """Measure the warm-up of every feature, strategy point and classifier point of ``spec`` on its
    data (or ``market``) from ``starts`` later starts (see the module docstring)."""
    spec = load_spec(spec)
    _check(spec, tolerance, starts)
    market = market if market is not None else load_market_data(spec.data)
    plan = plan_from_spec(spec, symbols=market.symbols)
    times = _start_times(market, starts)
    full = _values(plan, market)
    measured: dict[tuple, list[int | None]] = {}
    unmeasured: dict[tuple, str] = {}
    positions = []
    for t in times:
        later = attrs.evolve(market, bars=tuple(b.slice(int(np.searchsorted(b.time, t)), len(b)) for b in market.bars))
        positions.append((time_text(market.bars[0], t),
                          tuple((b.symbol, int(np.searchsorted(b.time, t))) for b in market.bars)))
        values = _values(plan, later)
        for bars, short in zip(market.bars, later.bars):
            start = len(bars) - len(short)
            later_series, later_notes = values[short.symbol]
            for key, series in full[bars.symbol][0].items():
                found = later_series.get(key)
                if found is None:
                    unmeasured.setdefault((*key, bars.symbol), later_notes.get(key, "not measured"))
                    continue
                bars_needed = [warm_up(a[start:], b, tolerance) for a, b in zip(series, found)]
                measured.setdefault((*key, bars.symbol), []).append(
                    None if None in bars_needed else max(bars_needed, default=1))
    rows = []
    for bars in market.bars:
        for key, series in full[bars.symbol][0].items():
            got = measured.get((*key, bars.symbol), [])
            bars_needed = None if not got or None in got else max(got)
            note = unmeasured.get((*key, bars.symbol), "") if not got else ""
            rows.append(Warmup(key[0], key[1], bars.symbol, bars_needed, _first(key[0], series), note))
    data_start = f"data.start {spec.data.start}" if spec.data.start else \
        f"the data's first bar ({', '.join(f'{b.symbol}: {time_text(b, b.time[0])}' for b in market.bars)})"
    report = WarmupReport(spec.source, tolerance, tuple(positions), data_start, tuple(rows), ())
    return attrs.evolve(report, warnings=tuple(_warnings(report, market)))


def _check(spec: Spec, tolerance: float, starts: int) -> None:
    if spec.phases:
        raise SpecError("phases", "admf warmup measures one workflow's components: measure each phase's with a spec "
                                  "of its own")
    if spec.workflow.type == "signal_replay":
        raise SpecError("workflow.type", "signal_replay computes no features or signals (it reads a store): measure "
                                         "the warm-up of the spec that generated the store")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not (tolerance >= 0.0) \
            or math.isinf(tolerance):
        raise SpecError("--tolerance", f"{tolerance!r}: must be a number at least 0")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise SpecError("--starts", f"{starts!r}: must be a positive integer")


def _start_times(market: MarketData, n: int) -> list[np.datetime64]:
    """``n`` later starts spread over the first half of the merged timeline after every symbol has
    begun: at ``k / (2 n + 2)`` of it, ``k = 1..n``."""
    timeline = np.unique(np.concatenate([b.time for b in market.bars]))
    after = timeline[timeline > max(b.time[0] for b in market.bars)]
    if len(after) < 2 * n + 2:
        raise SpecError("--starts", f"{n}: the data has {len(after)} bar time(s) after every symbol has begun; give "
                                    "fewer starts or more data")
    return list(dict.fromkeys(after[(k * len(after)) // (2 * n + 2)] for k in range(1, n + 1)))


def _values(plan: Plan, market: MarketData) -> dict[str, tuple[dict, dict]]:
    """Every symbol's values of every component, ``(kind, component) -> outputs``: feature outputs,
    strategy points' held targets, classifier points' labels; and why some could not be computed."""
    registry = registry_of(plan.spec)
    out = {}
    for bars in market.bars:
        series: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
        notes: dict[tuple[str, str], str] = {}
        features = compute_features(bars, plan.features, registry=registry, market=market)
        for key in plan.features:
            series[("feature", str(key))] = features[key]
        for name, params in _strategy_points(plan.combos):
            trigger = registry.strategy(name).trigger
            series[("strategy", point_name(name, params))] = (
                held_targets(signal_of(name, dict(params), features, registry), trigger),)
        for name, params in dict.fromkeys(classifier_key(c) for c in plan.combos if c.classifier is not None):
            key = ("classifier", point_name(name, params))
            classifier = registry.classifier(name)
            train_end = split_index(plan.spec.data.split, bars)
            needs = default_train_end(dict(params), classifier, sys.maxsize) if train_end is None else train_end
            if needs >= len(bars):
                notes[key] = f"fits on its first {needs} bars: a later start leaves too few"
                continue
            series[key] = (classify(classifier, dict(params), bars, train_end).labels,)
        out[bars.symbol] = (series, notes)
    return out


def _strategy_points(combos: Sequence[Combination]) -> list[tuple[str, tuple]]:
    """The distinct strategy points (an ensemble's members)."""
    points: dict[tuple[str, tuple], None] = {}
    for c in combos:
        members = dict(c.strategy_params)["members"] if c.strategy == "ensemble" else [(c.strategy, c.strategy_params)]
        for name, params in members:
            points[(name, params)] = None
    return list(points)


def _first(kind: str, series: tuple[np.ndarray, ...]) -> int | None:
    """The first bar a component decides something: defined (a feature), holds a position (a
    strategy), labels (a classifier)."""
    decided = np.zeros(len(series[0]), bool)
    for values in series:
        decided |= (values != 0.0) & ~np.isnan(values) if kind == "strategy" else ~np.isnan(values)
    where = np.flatnonzero(decided)
    return int(where[0]) if len(where) else None


def _warnings(report: WarmupReport, market: MarketData) -> list[str]:
    """One line per kind of early decision: how many components decide before their warm-up is
    over, the one that does so the most bars early as the example, and what their decisions depend on."""
    out = []
    by_symbol = {b.symbol: b for b in market.bars}
    for kind, what in (("strategy", "take a position"), ("classifier", "label a bar")):
        for settled in (True, False):
            rows = [r for r in report.rows if r.kind == kind and r.early and (r.bars is not None) == settled]
            if not rows:
                continue
            row = max(rows, key=lambda r: ((r.bars or sys.maxsize) - r.first, -r.first))
            bars = by_symbol[row.symbol]
            at = f"at bar {row.first} ({time_text(bars, bars.time[row.first])})"
            if settled:
                end = min(row.bars - 1, len(bars) - 1)
                out.append(f"{len(rows)} {kind} point(s) {what} before their warm-up is over, e.g. {row.component} on "
                           f"{row.symbol} {at} with a warm-up of {row.bars} bars (until bar {end}, "
                           f"{time_text(bars, bars.time[end])}): their decisions until then depend on "
                           f"{report.data_start}")
            else:
                why = " (a classifier is fitted on the bars it is given)" if kind == "classifier" else ""
                out.append(f"{len(rows)} {kind} point(s) {what} and still depend on where the data starts at its last "
                           f"bar{why}, e.g. {row.component} on {row.symbol} from {at[3:]}: their decisions depend on "
                           f"{report.data_start}")
    return out


# ---- admf run --warmup --------------------------------------------------------------------------------

def lane_warmups(report: WarmupReport, combos: Sequence[Combination]) -> dict[tuple[str, str], int | None]:
    """Each lane's warm-up, ``(combo_id, symbol) -> bars``: the longest of its strategy points' and
    its classifier's (``None`` when one of them never stops depending on its start)."""
    out = {}
    symbols = dict.fromkeys(row.symbol for row in report.rows)
    for combo in combos:
        parts = [("strategy", point_name(n, p)) for n, p in _strategy_points([combo])]
        if combo.classifier is not None:
            parts.append(("classifier", point_name(*classifier_key(combo))))
        for symbol in symbols:
            rows = [report.of(kind, name, symbol) for kind, name in parts]
            needed = [r.bars for r in rows if not r.note]
            out[(combo.combo_id, symbol)] = None if None in needed else max(needed, default=1)
    return out


def record_warmup(report: WarmupReport, result: Any) -> None:
    """Add the warm-up to a run's manifest (``warmup``) and warn, in its ``warnings``, about every
    lane whose first trade comes before its warm-up is over (``lane_warmups``)."""
    manifest = result.manifest
    plan, market = result.plan, result.market
    warm = lane_warmups(report, plan.combos)
    first = _first_entries(result.trades)
    early = []
    for (combo_id, symbol), bars_needed in warm.items():
        entry = first.get((combo_id, symbol))
        if entry is None:
            continue
        bars = market[symbol]
        at = int(np.searchsorted(bars.time.view(np.int64), entry))
        if bars_needed is None or at < bars_needed - 1:
            early.append((combo_id, symbol, at, bars_needed))
    manifest["warmup"] = {
        "tolerance": report.tolerance, "starts": [{"time": t, "bars": dict(b)} for t, b in report.starts],
        "components": [attrs.asdict(row) for row in report.rows],
        "lanes_trading_before_warmup": [{"combo_id": c, "symbol": s, "first_entry_bar": at, "warmup_bars": w}
                                        for c, s, at, w in early],
    }
    warnings = manifest.setdefault("warnings", [])
    warnings.extend(report.warnings)
    if early:
        c, s, at, w = early[0]
        bars = market[s]
        said = (f"its warm-up is {w} bars" if w is not None else "its decisions depend on where the data starts "
                "throughout")
        warnings.append(f"{len(early)} of {len(warm)} lane(s) trade before their warm-up is over (manifest: "
                        f"warmup.lanes_trading_before_warmup), e.g. {c} on {s} enters at bar {at} "
                        f"({time_text(bars, bars.time[at])}), {said}; their early trades depend on {report.data_start}")


def _first_entries(trades: Any) -> dict[tuple[str, str], int]:
    """The first entry time (ns, as the bars' times) of each lane of a trades table."""
    out: dict[tuple[str, str], int] = {}
    if trades is None or not trades.num_rows:
        return out
    import pyarrow as pa
    times = trades.column("entry_time").cast(pa.int64()).to_pylist()
    for combo_id, symbol, t in zip(trades.column("combo_id").to_pylist(), trades.column("symbol").to_pylist(), times):
        key = (combo_id, symbol)
        if key not in out or t < out[key]:
            out[key] = t
    return out
