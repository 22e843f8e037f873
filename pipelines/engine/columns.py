"""Result columns: how the parts of a combination are named in result tables.

One column per value, and one owner per column (``docs/semantics.md``, "Result columns"):

* ids: ``combo_id``, ``symbol``, ``strategy`` and, when some combination has one, ``classifier``;
* a strategy's parameters under their own names (``fast_period``), the names constraints,
  objectives and analyses use;
* a classifier's parameters always as ``classifier_<name>`` (``classifier_period``,
  ``classifier_regime_policy``), whatever the strategies' parameters are called, so a strategy's
  ``period`` and a classifier's ``period`` never share a column;
* gridded settings as ``<section>_<name>`` (``execution_commission``);
* then the outcome of the run: the metrics (``fp.metrics.METRICS``), ``n_rejected``, ``ruined``,
  ``ruin_time`` (when the lane's equity reached 0, ``docs/semantics.md``), ``notes`` (why a metric
  is undefined), ``status`` and ``error`` (train/test runs prefix the outcome ``train_`` and
  ``test_``; walk-forward tables add their window columns).

:func:`check_columns` refuses a plan in which two of these would be one column (a custom
strategy's parameter named ``sharpe``, ``classifier_period`` or ``execution_commission``),
naming the parameter to rename.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import toolz

from fp.metrics import METRICS
from state.errors import SpecError
from state.plan import Combination

__all__ = ["CLASSIFIER_PREFIX", "ID_COLUMNS", "OUTCOME_COLUMNS", "PART_COLUMNS", "RESERVED", "check_columns",
           "classifier_column", "classifier_columns", "parameter_cells"]

#: Columns that identify a row.
ID_COLUMNS: tuple[str, ...] = ("combo_id", "symbol", "strategy", "classifier")

#: Columns a run's outcome fills, in the order results show them (after the parameters).
OUTCOME_COLUMNS: tuple[str, ...] = (*METRICS, "n_rejected", "ruined", "ruin_time", "notes", "status", "error")

#: The outcome columns a train/test run reports per part (``train_<name>``, ``test_<name>``).
PART_COLUMNS: tuple[str, ...] = OUTCOME_COLUMNS[:-2]

#: The prefix of every classifier parameter's column.
CLASSIFIER_PREFIX = "classifier_"

_WINDOW_COLUMNS = ("selected", "rank", "window", "windows", "out_of_sample_bars", "train_start", "train_end",
                   "test_start", "test_end")

#: Names no parameter may take: ids, outcomes (plain, ``train_`` and ``test_``) and window columns.
RESERVED: frozenset[str] = frozenset(
    (*ID_COLUMNS, *OUTCOME_COLUMNS, *_WINDOW_COLUMNS, *(f"{part}{name}" for part in ("train_", "test_")
                                                        for name in OUTCOME_COLUMNS)))


def classifier_column(name: str) -> str:
    """The result column of a classifier parameter.

    >>> classifier_column("period")
    'classifier_period'
    """
    return CLASSIFIER_PREFIX + name


def classifier_columns(combos: Iterable[Combination]) -> list[str]:
    """The classifier parameter columns of ``combos``, in first-seen order."""
    return list(toolz.unique(classifier_column(name) for c in combos for name, _ in c.classifier_params))


def check_columns(combos: Sequence[Combination], settings_columns: Sequence[str]) -> None:
    """Refuse combinations whose parts would share a result column (see the module docstring).

    A strategy parameter may not take a reserved name, a classifier parameter's column
    (``classifier_<name>``) or a gridded setting's column (``<section>_<name>``); a
    :class:`SpecError` names the parameter by its spec path.

    >>> from state.plan import Combination
    >>> check_columns([Combination("a", "s", (("period", 5),), (), "trend_regime", (("period", 50),))], [])
    >>> check_columns([Combination("a", "s", (("sharpe", 5),), (), None, (), "strategies[0]")], [])
    Traceback (most recent call last):
    ...
    state.errors.SpecError: strategies[0].parameters.sharpe: names the result column 'sharpe' (a run's outcome); rename the parameter
    """
    taken: dict[str, str] = {name: "a run's outcome" for name in RESERVED}
    taken.update((column, "a classifier parameter's column") for column in classifier_columns(combos))
    taken.update((column, "a gridded setting's column") for column in settings_columns)
    seen: dict[tuple[str, str], str] = {}
    for combo in combos:
        for name, _ in combo.strategy_params:
            seen.setdefault((combo.strategy_path, name), name)
    for (path, name) in seen:
        if name in taken:
            where = f"{path}.parameters.{name}" if path else f"strategy parameter {name}"
            raise SpecError(where, f"names the result column {name!r} ({taken[name]}); rename the parameter")


def parameter_cells(combo: Combination, cell: Any = lambda value: value) -> dict[str, Any]:
    """A combination's parameter columns and values: strategy parameters by name, then the
    classifier and its parameters (``cell`` turns a value into a table cell)."""
    row = {name: cell(value) for name, value in combo.strategy_params}
    if combo.classifier is not None:
        row["classifier"] = combo.classifier
        row.update((classifier_column(name), cell(value)) for name, value in combo.classifier_params)
    return row
