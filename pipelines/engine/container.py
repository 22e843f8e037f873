"""Containers: reducers that fold an event stream through handlers, routing what they emit.

A :class:`Container` maps each event kind to the handler that consumes it; a handler is a step
``(state, event) -> (state, events)``. ``fold`` processes each input event depth first — the
events a handler emits are folded before the next input — so an order submitted on a signal
reaches the book before the quote that fills it. Kinds no handler consumes are sunk: they end
up in the returned log with everything else that was emitted.

Law: ``fold(c, s, a + b) == fold(c, *fold(c, s, a)[0:1], b)`` with the logs concatenated — a
fold of a stream equals folding its parts in order (so a run can stop and resume at any event).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Container", "fold"]

Handler = Callable[[Any, Any], tuple[Any, tuple]]


@attrs.frozen
class Container:
    """Routing table ``event kind -> handler``; build one from a pattern with ``patterns.container_for``."""

    name: str
    routes: Mapping[type, Handler]

    def consumes(self, kind: type) -> bool:
        return kind in self.routes

    def restricted(self, keep: Callable[[Handler], bool]) -> "Container":
        """The same container with only the routes whose handler satisfies ``keep``."""
        return Container(self.name, {k: h for k, h in self.routes.items() if keep(h)})


def fold(container: Container, state: Any, events: Iterable[Any]) -> tuple[Any, list]:
    """Fold ``events`` (and everything they cause) into ``state``; return it and the emitted log.

    The log holds every event handlers emitted, in order; inputs are not repeated in it.
    """
    routes = container.routes
    log: list = []
    for event in events:
        state = _cascade(routes, state, event, log)
    return state, log


def _cascade(routes: Mapping[type, Handler], state: Any, event: Any, log: list) -> Any:
    """Fold one input event and, depth first, everything it causes; append what is emitted to ``log``."""
    handler = routes.get(type(event))
    while handler is not None:
        state, emitted = handler(state, event)
        if not emitted:
            break
        log += emitted
        if len(emitted) > 1:
            for e in emitted:
                state = _cascade(routes, state, e, log)
            break
        event = emitted[0]
        handler = routes.get(type(event))
    return state
