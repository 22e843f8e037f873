"""Conventions shared by the step functions of ``fp``.

A step is ``step(state, event) -> (state, events)``. A step marked :func:`settings_only` reads
nothing of the state but the lanes' settings (never portfolios or books), so what it emits for a
lane's k-th event — and the order it puts in the lane's book — does not depend on the lane's
earlier events: a runner may apply it to every event of every lane in one call (arrays of any
shape that broadcast with the settings) and hand each round its slice.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["is_settings_only", "settings_only"]

F = TypeVar("F", bound=Callable)


def settings_only(step: F) -> F:
    """Mark ``step`` as reading only the lanes' settings from its state (see the module docstring)."""
    step.settings_only = True  # type: ignore[attr-defined]
    return step


def is_settings_only(step: Callable) -> bool:
    return getattr(step, "settings_only", False) is True
