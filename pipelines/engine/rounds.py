"""Rounds: the layout both sparse folds (``folds``, ``portfolios``) walk their orders in.

A fold over orders proceeds in rounds: round ``k`` holds the ``k``-th order of every lane that has
one, so the lanes with most orders set the number of rounds and every round is one vectorised step
over the lanes still active. Batch events are kept as columns (:func:`event_columns`), moved once
to the round-major layout (:func:`round_major`) and sliced per round (:func:`event_slice`) without
copying. Pure numpy, no I/O.
"""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["event_columns", "event_slice", "round_layout", "round_major", "with_field"]


def round_layout(lane: np.ndarray, n_lanes: int) -> tuple[np.ndarray, ...]:
    """The rounds of a fold over orders sorted by lane (then time): ``order`` the lanes by how
    many orders they have (most first), ``rank`` each lane's place in it, ``active[k]`` how many
    lanes have a ``k``-th order, ``offsets[k]`` where round ``k`` starts in the round-major
    layout and ``slot`` where each order (lane-major) sits in it."""
    counts = np.bincount(lane, minlength=n_lanes)
    order = np.argsort(-counts, kind="stable")
    rounds = int(counts[order[0]]) if n_lanes else 0
    active = n_lanes - np.cumsum(np.bincount(counts[order], minlength=rounds + 1))[:rounds]
    offsets = np.concatenate(([0], np.cumsum(active)))
    rank = np.empty(n_lanes, np.int64)
    rank[order] = np.arange(n_lanes)
    ordinal = np.arange(len(lane)) - (np.cumsum(counts) - counts)[lane]
    return order, rank, active, offsets, offsets[ordinal] + rank[lane]


def event_columns(event, n: int) -> tuple[list[np.ndarray], tuple[list, tuple[tuple[int, int], ...]]]:
    """A batch event's distinct arrays (broadcast to ``n`` rows) and its layout: a template of
    the fields (``None``, or a field every row shares whole) and, for each other field, its
    position and which distinct array it is.

    Fields holding the same array (a quote's buy and sell price without slippage) stay one object
    when sliced, so steps can tell by identity.
    """
    fields = attrs.fields(type(event))
    template, slots, distinct, uniques = [], [], {}, []
    for position, f in enumerate(fields):
        a = getattr(event, f.name)
        if a is None or f.metadata.get("shared", False):  # whole to every row (FillQuote.closes)
            template.append(a)
            continue
        if id(a) not in distinct:
            distinct[id(a)] = len(uniques)
            uniques.append(np.broadcast_to(a, (n,)))
        template.append(None)
        slots.append((position, distinct[id(a)]))
    return uniques, (template, tuple(slots))


def round_major(kind, columns: tuple[list[np.ndarray], tuple], slot: np.ndarray):
    """An event's lane-major columns moved to the round-major layout (``slot``: where each row goes)."""
    uniques, layout = columns
    moved = []
    for column in uniques:
        out = np.empty(len(slot), column.dtype)
        out[slot] = column
        moved.append(out)
    return kind, (moved, layout)


def with_field(kind, columns: tuple[list[np.ndarray], tuple], name: str, values: np.ndarray):
    """The event's columns with field ``name`` reading ``values`` (one per row) instead."""
    uniques, (template, slots) = columns
    position = next(i for i, f in enumerate(attrs.fields(kind)) if f.name == name)
    template = list(template)
    template[position] = None
    slots = tuple(s for s in slots if s[0] != position) + ((position, len(uniques)),)
    uniques = [*uniques, values]
    kept = sorted({i for _, i in slots})  # an array no field reads any more is dropped
    renumber = {old: new for new, old in enumerate(kept)}
    return kind, ([uniques[i] for i in kept], (template, tuple((p, renumber[i]) for p, i in slots)))


def event_slice(kind, columns: tuple[list[np.ndarray], tuple], lo: int, hi: int):
    """The rows ``lo:hi`` of a batch event laid out by ``event_columns`` (the round loop's hot path)."""
    uniques, (template, slots) = columns
    views = [u[lo:hi] for u in uniques]
    args = template.copy()
    for position, i in slots:
        args[position] = views[i]
    return kind(*args)
