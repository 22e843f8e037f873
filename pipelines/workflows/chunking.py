"""Chunk planning: how a memory-bounded run splits its combinations into chunks, and why.

A backtest or optimization first computes every combination's signal changes once per symbol
(``pipelines.engine.signals.hold_signals``): the features of one symbol at a time — in memory
when the data and those features fit the budget, else in a memory-mapped store in the run folder
(``pipelines.boundary.feature_files``), removed once the signals are computed. Chunks then fold
the held changes; none computes a feature.

**Memory** is what is held while a chunk runs (:func:`plan_chunks`): the market data and every
combination's held changes (measured: their arrays' bytes), a fold's fixed working set
(:data:`FOLD_BYTES`), one lane's transient arrays at a time (:data:`BYTES_PER_BAR` × the
longest symbol's bars), and per combination and symbol its orders × :data:`BYTES_PER_ORDER`
(schedules, quotes, fills, trades) plus :data:`BYTES_PER_LANE`, with recorded equity
(:data:`EQUITY_BYTES_PER_BAR` per bar) or traces (:data:`TRACE_BYTES_PER_ORDER`) when asked.
After the chunks the run's merged tables are held and written at once (so that a chunked run's
files are byte for byte an unchunked run's); :meth:`Chunking.output_warning` says so when they
and the data exceed the budget (they are a run's product, not known before it folds).
A combination's orders are counted from its held changes (each change places one order; exits
and participation caps place more, counted as their upper bounds). The per-order and per-bar
constants were measured on the W3 grid (``tracemalloc`` and the process's resident memory around
each chunk: 400–480 bytes per order at 100,000 bars, 240 at 1,000,000), rounded up; the equity
and trace constants are their tables' column widths, checked with ``tracemalloc``.

**Cost** follows the orders: a chunk's fold runs one round per order of its busiest lane on each
symbol (``pipelines.engine.folds``), so the combinations are taken in decreasing order of their
most orders on any symbol and packed into chunks that fit the memory left: the busy lanes share
their rounds in one chunk, and the quiet ones are not held to them. With several workers the
chunks are also cut by cost (:func:`chunk_cost`), and the cut whose modelled wall time on the
workers (:func:`makespan`) is least is taken: enough chunks to keep every worker busy, not so
many that their rounds outweigh the gain.

Law (``tests/pipelines/workflows/test_executors.py``): every chunking gives the same tables.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import attrs
import numpy as np

from fp.registry import registry_of
from pipelines.engine.lanes import settings_values
from pipelines.engine.signals import HeldSignals
from state.market import MarketData
from state.plan import Plan

__all__ = ["BYTES_PER_BAR", "BYTES_PER_LANE", "BYTES_PER_ORDER", "Chunking", "EQUITY_BYTES_PER_BAR", "FOLD_BYTES",
           "OUTPUT_FACTOR", "TRACE_BYTES_PER_ORDER", "chunk_cost", "data_bytes", "default_budget", "feature_bytes",
           "features_fit", "makespan", "order_counts", "plan_chunks"]

#: Bytes a chunk holds per order it folds (schedule, quotes, the fold's outputs, trades).
BYTES_PER_ORDER = 500
#: Bytes per combination and symbol (its result row and small per-lane arrays).
BYTES_PER_LANE = 4096
#: Bytes per bar of one lane's transient arrays (compressed equity, metrics, return aggregates).
BYTES_PER_BAR = 160
#: A fold's fixed working set (a batch of ruin marks, bookkeeping).
FOLD_BYTES = 12 * 2**20
#: Bytes per lane and bar of a recorded equity curve.
EQUITY_BYTES_PER_BAR = 80
#: Bytes per order of a recorded trace (its four to six events).
TRACE_BYTES_PER_ORDER = 1200
#: Memory merging and writing the run's tables takes, per byte of those tables (measured on W3: 3.4).
OUTPUT_FACTOR = 3.5
#: Bytes per bar of the transient arrays computing one feature or one strategy point's signal.
SIGNAL_BYTES_PER_BAR = 64

#: Cost of a fold round and of an order (µs; W3 at 1M bars, chunks timed alone: a round of its
#: busiest lane 6.15, an order 1.06): balances workers.
_ROUND_COST, _ORDER_COST = 6.5, 1.0


def default_budget() -> int:
    """A quarter of this machine's memory (4 GB when it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError):
        return 4 * 2**30


def data_bytes(market: MarketData) -> int:
    """The bytes of the market data's arrays."""
    return sum(v.nbytes for bars in market.bars for f in attrs.fields(type(bars))
               if isinstance(v := getattr(bars, f.name), np.ndarray))


def feature_bytes(plan: Plan, market: MarketData) -> int:
    """The bytes of the plan's features on its longest symbol: what one symbol's features take
    in memory (every output a float64 per bar)."""
    registry = registry_of(plan.spec)
    outputs = sum(len(registry.feature(key.name).outputs) for key in plan.features)
    return outputs * max((len(b) for b in market.bars), default=0) * 8


def features_fit(plan: Plan, market: MarketData, budget: int) -> bool:
    """Whether the data, one symbol's features and a signal's transients fit ``budget``; if not,
    the features go to a memory-mapped store."""
    longest = max((len(b) for b in market.bars), default=0)
    return data_bytes(market) + feature_bytes(plan, market) + SIGNAL_BYTES_PER_BAR * longest <= budget


@attrs.frozen
class Chunking:
    """A run's chunks and the figures they were planned from (bytes).

    ``chunks`` hold combination indices of the plan, each chunk's in plan order, busiest first;
    ``rounds`` is each chunk's fold rounds (its busiest lane's orders, summed over symbols),
    ``orders`` its orders, ``memory`` its estimated bytes; ``shared`` is what every chunk holds
    (data, held signals, the fold's working set and one lane's transients); ``features`` where
    the features were (``"memory"`` or ``"store"``) and ``feature_bytes`` their size;
    ``warnings`` what the budget could not promise.
    """

    budget: int
    shared: int
    data: int
    signals: int
    features: str
    feature_bytes: int
    chunks: tuple[tuple[int, ...], ...]
    rounds: tuple[int, ...]
    orders: tuple[int, ...]
    memory: tuple[int, ...]
    workers: int = 1
    warnings: tuple[str, ...] = ()

    def layout(self, plan: Plan) -> dict:
        """What a resumed run checks: the same combinations in the same chunks."""
        ids = "\n".join(",".join(plan.combos[i].combo_id for i in chunk) for chunk in self.chunks)
        return {"chunks": len(self.chunks), "combinations": [len(c) for c in self.chunks],
                "digest": hashlib.sha256(ids.encode()).hexdigest()[:16]}

    def record(self) -> dict:
        """The manifest's account of the chunking."""
        return {"budget": self.budget, "chunks": len(self.chunks), "combinations": [len(c) for c in self.chunks],
                "rounds": list(self.rounds), "orders": list(self.orders), "estimated_bytes": list(self.memory),
                "shared_bytes": self.shared, "data_bytes": self.data, "signal_bytes": self.signals,
                "features": self.features, "feature_bytes": self.feature_bytes, "warnings": list(self.warnings)}

    def output_warning(self, table_bytes: int) -> list[str]:
        """A warning when the run's merged tables (``table_bytes``; merging and writing them holds
        about :data:`OUTPUT_FACTOR` times that: the parts as read, the tables, the writer's
        buffers) and the data exceed the budget."""
        total = self.data + self.signals + int(OUTPUT_FACTOR * table_bytes)
        if total <= self.budget:
            return []
        return [f"the run's tables ({table_bytes / 2**20:,.0f} MB) are merged and written at once, so that a chunked "
                f"run's files equal an unchunked run's: that takes about {total / 2**20:,.0f} MB with the data, more "
                f"than the memory budget of {self.budget / 2**20:,.0f} MB"]

    def lines(self) -> list[str]:
        """What ``admf plan`` prints: the chunks and why."""
        mb = lambda n: f"{n / 2**20:,.1f} MB"
        n = len(self.chunks)
        out = [f"chunking: {sum(map(len, self.chunks))} combinations in {n} chunk{'s' if n != 1 else ''} "
               f"(memory budget {mb(self.budget)})",
               f"  features: {mb(self.feature_bytes)} per symbol, computed once per symbol "
               + ("in memory" if self.features == "memory" else "into a memory-mapped store in the run folder "
                  "(they do not fit the budget beside the data), dropped once the signals are computed"),
               f"  held by every chunk: {mb(self.shared)} (data {mb(self.data)}, every combination's signal changes "
               f"{mb(self.signals)}, the fold's working set)",
               "  chunks by order count (a chunk's fold runs one round per order of its busiest lane): "
               f"{sum(self.rounds):,} rounds in all"]
        shown = list(range(n)) if n <= 10 else [*range(8), n - 1]
        for i in shown:
            if i == n - 1 and n > 10:
                out.append(f"    … {n - 9} more")
            out.append(f"    chunk {i + 1}: {len(self.chunks[i])} combinations, {self.orders[i]:,} orders, "
                       f"{self.rounds[i]:,} rounds, ~{mb(self.memory[i])}")
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def _packed(orders: np.ndarray, lane_bytes: np.ndarray, room: int, share: float) -> list[np.ndarray]:
    """The combinations in decreasing order of their most orders, packed into chunks that fit
    ``room`` bytes and cost at most ``share`` (:func:`chunk_cost`: the chunk's first lane sets its
    rounds; a combination costing more has a chunk of its own)."""
    order = np.argsort(-orders.max(axis=1, initial=0), kind="stable")
    rounds = orders[order].max(axis=1, initial=0) * _ROUND_COST
    spent = np.concatenate(([0.0], np.cumsum(orders[order].sum(axis=1) * _ORDER_COST)))
    held = np.concatenate(([0], np.cumsum(lane_bytes[order])))
    chunks, start = [], 0
    while start < len(order):
        by_cost = np.searchsorted(spent, spent[start] + (share - rounds[start]), side="right") - 1
        by_bytes = np.searchsorted(held, held[start] + room, side="right") - 1
        stop = max(start + 1, min(by_cost, by_bytes))
        chunks.append(order[start:stop])
        start = stop
    return chunks


def chunk_cost(orders: np.ndarray) -> float:
    """The modelled time (µs) of folding the combinations whose orders (combinations × symbols)
    are given in one chunk: one round per order of its busiest lane on each symbol, plus its orders."""
    return float(orders.max(axis=0, initial=0).sum()) * _ROUND_COST + float(orders.sum()) * _ORDER_COST


def makespan(costs: Sequence[float], workers: int) -> float:
    """When ``workers`` finish chunks of these ``costs`` handed out largest first, each to the
    first free worker: the modelled wall time of a run."""
    free = [0.0] * workers
    for cost in sorted(costs, reverse=True):
        free[free.index(min(free))] += cost
    return max(free)


def _balanced(orders: np.ndarray, lane_bytes: np.ndarray, room: int, workers: int) -> list[np.ndarray]:
    """The chunks (fitting ``room``) whose modelled wall time on ``workers`` is least.

    One worker: as few chunks as fit (every extra chunk pays its own rounds). Several: splitting
    the lanes into more chunks keeps every worker busy, but each chunk runs one round per order of
    its busiest lane; so for each count of chunks from the fewest that fit up to four per worker,
    the most even cut into that many (the least cost per chunk that packs into them, found by
    bisection) is tried, and the cut with the least :func:`makespan` is taken (ties: fewer chunks).
    """
    fewest = _packed(orders, lane_bytes, room, np.inf)
    if workers <= 1:
        return fewest
    whole = chunk_cost(orders)
    best, best_time = fewest, makespan([chunk_cost(orders[c]) for c in fewest], workers)
    for parts in range(len(fewest) + 1, 4 * workers + 1):
        low, high, chunks = 0.0, whole, fewest  # a share of the whole run's cost cuts only where memory must
        for _ in range(30):
            share = (low + high) / 2
            cut = _packed(orders, lane_bytes, room, share)
            if len(cut) <= parts:
                high, chunks = share, cut
            else:
                low = share
        time = makespan([chunk_cost(orders[c]) for c in chunks], workers)
        if time < best_time:
            best, best_time = chunks, time
    return best


def order_counts(plan: Plan, market: MarketData, signals: HeldSignals) -> np.ndarray:
    """Each combination's orders on each symbol (combinations × symbols): its signal changes,
    times what exits and participation caps may add (upper bounds)."""
    changes = np.array([[signals.changes_of(c, b.symbol) for b in market.bars] for c in plan.combos],
                       np.int64).reshape(len(plan.combos), len(market.bars))
    factor = np.array([_orders_per_change(x) for x in settings_values(plan.combos)], np.int64)
    return changes * factor[:, None]


def _orders_per_change(settings: dict) -> int:
    exits = any(settings[name] is not None for name in ("stop_loss", "take_profit", "trailing_stop", "stop_loss_atr",
                                                        "take_profit_atr", "trailing_stop_atr")) or \
        bool(settings["max_holding_bars"])
    continuation = settings["participation_bars"] if settings["participation"] is not None else 0
    return (2 if exits else 1) * (1 + int(continuation))


def plan_chunks(plan: Plan, market: MarketData, signals: HeldSignals, budget: int, *, features: str = "memory",
                workers: int = 1, equity: bool = False, trace: bool = False,
                chunks: Sequence[Sequence[int]] | None = None) -> Chunking:
    """Chunks for ``plan`` under ``budget`` bytes (see the module docstring); ``workers`` > 1
    also balances the work over them. ``chunks`` imposes a partition (of combination indices)
    instead: a test's, or a run's being resumed."""
    orders = order_counts(plan, market, signals)
    bars = np.array([len(b) for b in market.bars], np.int64)
    lane_bytes = orders.sum(axis=1) * (BYTES_PER_ORDER + (TRACE_BYTES_PER_ORDER if trace else 0)) \
        + len(bars) * BYTES_PER_LANE + (int(bars.sum()) * EQUITY_BYTES_PER_BAR if equity else 0)
    data, held = data_bytes(market), signals.nbytes
    shared = data + held + FOLD_BYTES + BYTES_PER_BAR * int(bars.max(initial=0))
    room = budget - shared
    warnings = []
    if chunks is None:
        chunks = _balanced(orders, lane_bytes, room, workers)
        if room < int(lane_bytes.max(initial=0)):
            warnings.append(f"the memory budget of {budget / 2**20:,.0f} MB cannot be honoured: the data and the held "
                            f"signals take {shared / 2**20:,.0f} MB and the largest combination needs "
                            f"{lane_bytes.max() / 2**20:,.0f} MB more; give at least "
                            f"{(shared + lane_bytes.max()) / 2**20:,.0f} MB (--memory-limit)")
    chunks = tuple(tuple(sorted(int(i) for i in chunk)) for chunk in chunks)
    return Chunking(
        budget=budget, shared=shared, data=data, signals=held, features=features,
        feature_bytes=feature_bytes(plan, market), chunks=chunks,
        rounds=tuple(int(orders[list(c)].max(axis=0, initial=0).sum()) for c in chunks),
        orders=tuple(int(orders[list(c)].sum()) for c in chunks),
        memory=tuple(shared + int(lane_bytes[list(c)].sum()) for c in chunks), workers=workers,
        warnings=tuple(warnings))
