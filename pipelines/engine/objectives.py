"""Objectives: what ranks combinations, and how the best are chosen.

An objective is a result metric (``sharpe``), a metric to minimise (``-max_drawdown_pct``), or an
author's :class:`fp.objectives.Objective` named by import path (``module:function``), which the
spec loader imported and registered in the spec's registry (``fp.registry.registry_of(spec)``):
its score takes one result row (a mapping of column to value, named as in
``pipelines.engine.columns``) and returns a number; higher is better. An exception the score
raises becomes a :class:`SpecError` naming the objective, the error, where it was raised and the
combination.
``select`` ranks rows and keeps the best ``top_k`` among those with at least ``min_trades``
closed trades; an undefined (NaN) objective ranks after every defined one, ties by row order.
A workflow that must select (an optimization, a walk-forward window, a phase feeding the next)
uses ``select_some``: when ``min_trades`` excludes every row it refuses the run (a ``SpecError``
naming ``min_trades`` and the most trades any row has) rather than select nothing.
"""
from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from fp.registry import BUILTINS, Registry
from state.errors import SpecError

__all__ = ["metric_value", "objective_function", "objective_values", "select", "select_some", "with_objective"]

#: A score: one result row in, a number out (higher is better).
Objective = Callable[[Mapping[str, Any]], float]


def objective_function(objective: str, registry: Registry = BUILTINS) -> Objective:
    """The score an objective names (see the module docstring); an author's objective is looked up
    in ``registry`` (the spec's: the built-ins plus what the spec loaded).

    >>> objective_function("-max_drawdown_pct")({"max_drawdown_pct": 12.5})
    -12.5
    """
    if ":" not in objective:
        sign, name = (-1.0, objective[1:]) if objective.startswith("-") else (1.0, objective)
        return lambda row: sign * metric_value(row.get(name))
    function = registry.objective(objective).score

    def score(row: Mapping[str, Any]) -> float:
        try:
            return metric_value(function(row))
        except Exception as exc:  # the author's code: one line naming it, the row and where it broke
            raise SpecError(f"objective={objective!r}", f"raised {type(exc).__name__}: {exc} "
                                                        f"({_where(exc)}) on the row of combination "
                                                        f"{row.get('combo_id')!r}; it takes one result row (column "
                                                        "-> value) and returns a number") from None
    return score


def _where(exc: BaseException) -> str:
    """The file and line an exception was raised at (the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else "no traceback"


def metric_value(value: Any) -> float:
    """A result cell as the number an objective ranks by and a figure plots: NaN for a null,
    a boolean or anything that is not a number.

    >>> metric_value(1), metric_value(None), metric_value(True), metric_value("x")
    (1.0, nan, nan, nan)
    """
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def select(rows: Sequence[Mapping[str, Any]], objective: str, *, top_k: int, min_trades: int = 0,
           registry: Registry = BUILTINS) -> list[int]:
    """Indices of the best ``top_k`` rows by ``objective``, best first (ties: earlier row first).

    >>> select([{"sharpe": 1.0, "n_trades": 5}, {"sharpe": 2.0, "n_trades": 1}, {"sharpe": 0.5, "n_trades": 9}],
    ...        "sharpe", top_k=2, min_trades=2)
    [0, 2]
    """
    score = objective_function(objective, registry)
    ranked = []
    for i, row in enumerate(rows):
        if (row.get("n_trades") or 0) < min_trades:
            continue
        value = score(row)
        ranked.append((math.isnan(value), 0.0 if math.isnan(value) else -value, i))
    return [i for _, _, i in sorted(ranked)[:top_k]]


def select_some(rows: Sequence[Mapping[str, Any]], objective: str, *, top_k: int, min_trades: int, where: str,
                registry: Registry = BUILTINS) -> list[int]:
    """:func:`select`, refusing to select nothing: a :class:`SpecError` naming ``min_trades`` when
    no row has that many closed trades (``where`` says which rows, e.g. "on the training part").

    >>> select_some([{"sharpe": 1.0, "n_trades": 5}], "sharpe", top_k=1, min_trades=9, where="on the training part")
    Traceback (most recent call last):
    ...
    state.errors.SpecError: min_trades=9: no combination has 9 closed trades on the training part (the most is 5), so none can be selected; lower min_trades
    """
    picks = select(rows, objective, top_k=top_k, min_trades=min_trades, registry=registry)
    if not picks and rows:
        most = max((row.get("n_trades") or 0) for row in rows)
        raise SpecError(f"min_trades={min_trades}", f"no combination has {min_trades} closed trades {where} "
                                                    f"(the most is {most}), so none can be selected; lower min_trades")
    return picks


def objective_values(results: pa.Table, objective: str, registry: Registry = BUILTINS) -> list[float]:
    """The objective of every row (see ``pipelines.engine.objectives``); of train/test results, the
    training objective."""
    score = objective_function(objective, registry)
    rows = results.to_pylist()
    if "rank" in results.column_names:
        rows = [{k.removeprefix("train_"): v for k, v in row.items() if not k.startswith("test_")} for row in rows]
    return [score(row) for row in rows]


def with_objective(table: pa.Table, objective: str, registry: Registry = BUILTINS) -> pa.Table:
    """``table`` with the values of a function objective (``module:function``) as columns:
    ``objective`` for each row, or for tables of training and test metrics (train/test results,
    walk-forward windows) ``train_objective`` and ``test_objective`` (null where a row was not
    tested). A metric objective (``sharpe``, ``-max_drawdown_pct``) is a column already: the
    table is returned as it is."""
    if ":" not in objective or table.num_rows == 0 and not table.column_names:
        return table
    score = objective_function(objective, registry)
    rows = table.to_pylist()
    if "train_final_equity" not in table.column_names:
        return table.append_column("objective", pa.array([score(row) for row in rows], pa.float64()))
    for part, other in (("train_", "test_"), ("test_", "train_")):
        values = [None if row.get(f"{part}final_equity") is None else
                  score({k.removeprefix(part): v for k, v in row.items() if not k.startswith(other)}) for row in rows]
        table = table.append_column(f"{part}objective", pa.array(values, pa.float64()))
    return table
