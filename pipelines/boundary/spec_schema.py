"""The spec's grammar as data: every section and key a spec may hold, with its type, default and meaning.

One source for three readers: the spec loader (``pipelines.boundary.specs``) takes the keys each
section allows and the :class:`~state.params.Param` that checks each value from here; the generated
reference (``docs/spec-reference.md``, ``admf list``) prints them beside the registry's components
and settings; and a test keeps the committed reference equal to what this module and the registry
say. The settings sections (``portfolio``, ``execution``, ``exits``, ``risk``) and the components
(strategies, features, classifiers) are described by ``fp.registry``, not here.

>>> SECTIONS["data"].key("periods_per_year").param.describe()
'a number > 0'
>>> "signals" in TOP_KEYS, "strategies" in TOP_KEYS
(True, True)
"""
from __future__ import annotations

from typing import Any

import attrs

from state.params import Param

__all__ = ["COMPONENT_ENTRY", "DATA", "EXECUTOR", "Key", "PHASE", "SECTIONS", "SESSION", "SPLIT", "Section",
           "TOP_KEYS", "TRACE", "WORKFLOW", "WORKFLOW_TYPES"]


@attrs.frozen
class Key:
    """One key of a section: its name, what it takes (``value``), and its meaning. ``param`` checks
    a scalar value; keys whose values are sections or lists describe them in ``value``."""

    name: str
    value: str
    doc: str
    param: Param | None = None

    @property
    def default(self) -> Any:
        return None if self.param is None or self.param.required else self.param.default


@attrs.frozen
class Section:
    """A mapping in the spec: its keys in the order the reference lists them, and an example."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    example: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)


WORKFLOW_TYPES = ("backtest", "optimization", "walk_forward", "signal_generation", "signal_replay")

WORKFLOW = Section("workflow", "What the run does with the grid.", (
    Key("type", "one of " + ", ".join(WORKFLOW_TYPES),
        "backtest: every combination on all the bars; optimization: the same plus overfitting statistics, or "
        "train/test selection with data.split; walk_forward: rolling train/test windows; signal_generation: "
        "store the signals only; signal_replay: replay a store over a settings grid",
        Param("type", "str", "backtest", choices=WORKFLOW_TYPES)),
    Key("base_pattern", "full_backtest", "the pattern the workflow composes (one today)",
        Param("base_pattern", "str", "full_backtest", choices=("full_backtest",))),
    Key("train_bars", "an integer >= 1", "walk_forward only (required): bars each window trains on",
        Param("train_bars", "int", None, minimum=1)),
    Key("test_bars", "an integer >= 1", "walk_forward only (required): bars each window tests on",
        Param("test_bars", "int", None, minimum=1)),
    Key("step_bars", "an integer >= 1", "walk_forward only: bars between windows (default test_bars)",
        Param("step_bars", "int", None, minimum=1)),
    Key("anchored", "true or false", "walk_forward only: every window trains from the first bar",
        Param("anchored", "bool", False)),
), "{type: walk_forward, train_bars: 500, test_bars: 250}")

SESSION = Section("data.session", "When a trading day begins, for daily rules and calendars.", (
    Key("start", "a time of day HH:MM[:SS]", "local time at which each trading day begins, e.g. '17:00' for FX"),
    Key("timezone", "an IANA zone name", "the zone of start (default data.timezone)"),
), "{start: '17:00', timezone: America/New_York}")

SPLIT = Section("data.split", "Where training ends (one of the two keys).", (
    Key("train", "a number > 0 and < 1", "the training part's share of each symbol's bars",
        Param("train", "float", None, minimum=0.0, maximum=1.0, exclusive_minimum=True)),
    Key("train_end", "a date or time", "the last training trading day (a date) or bar (a time)"),
), "{train: 0.7}")

DATA = Section("data", "The market data (absent: the bundled GOOG daily data, with a notice). At most one of "
               "dataset, path, paths.", (
    Key("dataset", "GOOG, EURUSD or BTCUSD", "a bundled data set (daily, hourly, monthly)"),
    Key("path", "a file, a folder or a glob", "one CSV or Parquet file (its symbol: the file's stem, or symbol); a "
                                             "folder or glob of them (a universe: one symbol per file); or a long file "
                                             "with a symbol column"),
    Key("symbol", "text", "with path to one file: the file's symbol"),
    Key("symbols", "a list of symbols", "select these symbols of the data, in this order (default: every symbol, "
                                        "sorted)"),
    Key("paths", "a mapping symbol: file", "one file per symbol, e.g. {AAPL: aapl.csv, MSFT: msft.csv} (symbols in "
                                           "name order, as every source's, unless data.symbols orders them)"),
    Key("start", "a date or time", "first bar to use (inclusive; a date is a whole trading day)"),
    Key("end", "a date or time", "last bar to use (inclusive)"),
    Key("split", "a mapping (see data.split)", "where training ends, for train/test and classifiers"),
    Key("periods_per_year", "a number > 0", "annualisation of every symbol (default: inferred per symbol from its "
                                            "calendar, docs/semantics.md)",
        Param("periods_per_year", "float", None, minimum=0.0, exclusive_minimum=True)),
    Key("timezone", "an IANA zone name", "the market's zone: naive times are local times there"),
    Key("session", "a mapping (see data.session)", "when a trading day begins"),
), "{dataset: GOOG, start: 2006-01-01, split: {train: 0.7}}")

EXECUTOR = Section("executor", "Where the lanes run (also --executor, --workers, --memory-limit, --scheduler).", (
    Key("type", "local, processes or dask", "in process, a local process pool, or Dask",
        Param("type", "str", "local", choices=("local", "processes", "dask"))),
    Key("workers", "an integer >= 1", "processes or Dask workers", Param("workers", "int", None, minimum=1)),
    Key("scheduler", "an address", "dask only: join this scheduler, e.g. tcp://10.0.0.5:8786"),
    Key("memory_limit", "a size such as 512MB or 4GB", "the memory budget chunks are sized to"),
), "{type: processes, workers: 2, memory_limit: 2GB}")

TRACE = Section("trace", "Which events a traced run records (true: every event of every lane).", (
    Key("kinds", "a list of event kinds", "SignalChanged, OrderSubmitted, OrderApproved, OrderFilled, "
                                          "OrderRejected, OrderExpired, PortfolioRuined, or SIGNAL, ORDER, APPROVAL, "
                                          "FILL, REJECTION, EXPIRY, RUIN"),
    Key("combos", "a list of combination ids", "only these combinations' lanes"),
), "{kinds: [ORDER, FILL], combos: [f31b49a682b4]}")

COMPONENT_ENTRY = Section("strategies[i] / classifiers[i]", "One entry of the strategies or classifiers list.", (
    Key("type", "a built-in's name or module:attribute", "the component (see the lists below, or your own by import "
                                                         "path)"),
    Key("parameters", "a mapping name: value, list or {from, to, step}", "its parameters; a list or a range is a grid"),
    Key("constraints", "a list of comparisons", "keep only grid points satisfying them, e.g. ['fast_period < "
                                                "slow_period']"),
    Key("exits", "a mapping (the exits section)", "strategies only: this entry's own exits, crossed with its grid"),
    Key("members", "a list of strategy entries", "ensemble only: the member strategies"),
    Key("learn_bars", "an integer >= 1, or a list (a grid)", "ensemble only: labelled bars it learns its weights on "
                                                             "before it trades (default 252)",
        Param("learn_bars", "int", 252, minimum=1)),
    Key("regime_policy", "gate, {scale: {regime: factor}} or a list of them", "classifiers only: how a regime acts on "
                                                                              "the strategy's target (a list is a grid)"),
), "{type: sma_crossover, parameters: {fast_period: [5, 10], slow_period: 50}}")

PHASE = Section("phases[i]", "One phase of a multi-phase spec: a spec of its own, run in order.", (
    Key("name", "text", "the phase's name (required, unique)"),
    Key("from", "an earlier phase's name", "feed this phase with that phase's store (a replay) or its top_k "
                                           "combinations"),
), "{name: costs, from: signals, workflow: {type: signal_replay}, execution: {commission: [0.0, 0.002]}}")

TOP = Section("spec", "The top level of a spec (every section but strategies optional).", (
    Key("workflow", "a mapping (see workflow)", "what the run does"),
    Key("data", "a mapping (see data)", "the market data"),
    Key("signals", "a folder", "signal_replay only: the store a signal_generation run wrote"),
    Key("portfolio", "a mapping (see portfolio)", "cash, sizing and direction"),
    Key("execution", "a mapping (see execution)", "fills and costs"),
    Key("exits", "a mapping (see exits)", "every position's exits"),
    Key("risk", "a mapping (see risk)", "limits every order is reviewed against"),
    Key("strategies", "a list of entries", "required (but for a replay): the strategy grid; entries are unioned"),
    Key("classifiers", "a list of entries", "regime classifiers crossed with every strategy point"),
    Key("constraints", "a list of comparisons", "apply to every strategy entry whose parameters they name"),
    Key("objective", "a metric, -metric, or module:function", "what ranks combinations (an author's: an "
                                                             "@fp.components.objective)",
        Param("objective", "str", "sharpe")),
    Key("top_k", "an integer >= 1", "combinations an optimization selects", Param("top_k", "int", 1, minimum=1)),
    Key("min_trades", "an integer >= 0", "fewer closed trades: never selected", Param("min_trades", "int", 0, minimum=0)),
    Key("top", "an integer >= 1", "rows the terminal prints", Param("top", "int", 10, minimum=1)),
    Key("trace", "true, false or a mapping (see trace)", "record the fold's events (events.parquet)"),
    Key("equity", "true or false", "record every combination's equity curve (equity.parquet)",
        Param("equity", "bool", False)),
    Key("report", "true or false", "write the HTML report (report.html) at the end of the run",
        Param("report", "bool", False)),
    Key("executor", "a mapping (see executor)", "where the lanes run"),
    Key("phases", "a list of phase specs", "run specs in order (then only data, objective, top and workflow "
                                           "may stand at the top)"),
), "")

#: Every section this module describes, by the name the reference uses.
SECTIONS: dict[str, Section] = {s.name: s for s in (TOP, WORKFLOW, DATA, SPLIT, SESSION, EXECUTOR, TRACE,
                                                   COMPONENT_ENTRY, PHASE)}

#: The keys a spec's top level may hold.
TOP_KEYS: tuple[str, ...] = tuple(sorted(TOP.names))
