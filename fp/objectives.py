"""Objectives: how an author scores one combination's result row, declared like the other components.

An objective ranks combinations: ``score(row) -> float``, higher is better, where ``row`` maps
each result column (named as in ``docs/semantics.md``, "Result columns") to its value. A spec names
a built-in metric (``sharpe``, ``-max_drawdown_pct``) or an author's objective by import path
(``objective: mypkg.scores:return_over_drawdown``), which the spec loader imports like a custom
strategy and refuses unless it is an :class:`Objective` record (``fp.components.objective``), so
``objective: os:system`` or ``builtins:eval`` never runs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from state.params import Param

__all__ = ["Objective"]


@attrs.frozen
class Objective:
    """An author's objective: ``score(row) -> float`` over one result row, higher is better.

    ``params`` is empty (an objective reads the row, never grid parameters of its own); it is there
    so every component declares its parameters the same way.
    """

    name: str
    score: Callable[[Mapping[str, Any]], float]
    doc: str = ""
    params: tuple[Param, ...] = ()
