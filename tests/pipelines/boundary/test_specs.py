"""Tests of pipelines.boundary.specs: YAML and mappings in, validated Specs (or precise SpecErrors) out."""
import json
import os
from types import SimpleNamespace

import pytest

from fp.strategies import STRATEGIES
from pipelines.boundary import specs
from pipelines.boundary.specs import spec_from_mapping, spec_from_text, spec_from_yaml
from state.errors import SpecError
from state.params import REQUIRED, Param
from state.spec import Axis, ComponentSpec, DataSpec, Spec, WorkflowSpec

SEED = """\
workflow:
  type: optimization
  base_pattern: full_backtest
strategies:
  - type: momentum
    parameters:
      lookback_period: [10, 20, 30]
      signal_threshold: [0.01, 0.02]
classifiers:
  - type: hmm
    parameters:
      model_type: ['hmm', 'svm']
      lookback_days: [30, 60]
"""

MOMENTUM = "strategies: [{type: momentum}]\n"


def spec_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_from_text(text, source="spec.yaml")
    return info.value


def axes_of(component: ComponentSpec) -> dict:
    return {axis.name: axis.values for axis in component.axes}


def test_exports_are_sorted_and_public():
    assert sorted(specs.__all__) == specs.__all__
    assert all(hasattr(specs, name) for name in specs.__all__)


# --------------------------------------------------------------------------------------------
# the seed spec and defaults


def test_seed_spec_parses():
    spec = spec_from_text(SEED)
    assert WorkflowSpec("optimization", "full_backtest") == spec.workflow
    (momentum,) = spec.strategies
    assert ComponentSpec(
        kind="strategy", type="momentum", path="strategies[0]",
        axes=(Axis("lookback_period", (10, 20, 30)), Axis("signal_threshold", (0.01, 0.02))),
    ) == momentum
    (hmm,) = spec.classifiers
    # the two given axes have two values each; n_states is not given, so it is its default
    assert ComponentSpec(
        kind="classifier", type="hmm", path="classifiers[0]",
        axes=(Axis("model_type", ("hmm", "svm")), Axis("lookback_days", (30, 60)), Axis("n_states", (2,))),
    ) == hmm


def test_seed_spec_from_file(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(SEED)
    spec = spec_from_yaml(str(path))
    assert str(path) == spec.source
    assert str(tmp_path) == spec.data.base_dir
    assert spec_from_text(SEED).strategies == spec.strategies
    assert str(path) == spec_from_yaml(path).source  # a PathLike works too


def test_relative_spec_file_gets_an_absolute_base_dir(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yaml").write_text(MOMENTUM)
    monkeypatch.chdir(tmp_path)
    spec = spec_from_yaml(os.path.join("specs", "s.yaml"))
    assert os.path.join("specs", "s.yaml") == spec.source
    assert str(tmp_path / "specs") == spec.data.base_dir


def test_defaults():
    spec = spec_from_text(MOMENTUM)
    assert WorkflowSpec("backtest", "full_backtest") == spec.workflow
    assert DataSpec(base_dir=".") == spec.data
    assert spec.data.is_default
    assert {"lookback_period": (20,), "signal_threshold": (0.0,)} == axes_of(spec.strategies[0])
    portfolio = axes_of(spec.portfolio)
    assert {"initial_cash": (10_000.0,), "sizing": ("all_in",), "fraction": (1.0,), "fractional": (False,),
            "direction": ("long_only",), "size": (None,)}.items() <= portfolio.items()
    execution = axes_of(spec.execution)
    assert {"fill": ("next_open",), "commission": (0.0,), "slippage_bps": (0.0,), "order_type": ("market",),
            "participation": (None,)}.items() <= execution.items()
    risk = axes_of(spec.risk)
    assert {"max_position": (None,), "max_drawdown_limit": (None,), "restricted": ((),)}.items() <= risk.items()
    assert spec.exits is None
    assert ("portfolio", "execution", "risk") == tuple(s.type for s in spec.settings)
    assert ("portfolio", "execution", "risk") == tuple(s.path for s in spec.settings)
    assert () == spec.classifiers
    assert () == spec.constraints
    assert "sharpe" == spec.objective
    assert 10 == spec.top
    assert "<text>" == spec.source


def test_axes_follow_declaration_order_not_document_order():
    spec = spec_from_text("strategies: [{type: sma_crossover, parameters: {slow_period: 30, fast_period: 5}}]")
    assert ("fast_period", "slow_period") == tuple(a.name for a in spec.strategies[0].axes)


def test_document_is_canonical_json_of_what_was_read():
    spec = spec_from_text("top: 3\nstrategies: [{type: momentum}]\ndata: {dataset: GOOG, start: 2006-01-01}\n")
    assert ('{"data":{"dataset":"GOOG","start":"2006-01-01"},"strategies":[{"type":"momentum"}],"top":3}'
            == spec.document)
    assert {"data": {"dataset": "GOOG", "start": "2006-01-01"}, "strategies": [{"type": "momentum"}],
            "top": 3} == json.loads(spec.document)


def test_spec_from_mapping_does_not_modify_its_input():
    doc = {"strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [10, 20]}}],
           "constraints": ["fast_period < slow_period"]}
    before = json.dumps(doc, sort_keys=True)
    spec = spec_from_mapping(doc)
    assert before == json.dumps(doc, sort_keys=True)
    assert "<mapping>" == spec.source
    assert isinstance(spec, Spec)


def test_objective_top_and_workflow():
    spec = spec_from_text("objective: -max_drawdown_pct\ntop: 3\nworkflow: {type: optimization}\n" + MOMENTUM)
    assert "-max_drawdown_pct" == spec.objective
    assert 3 == spec.top
    assert "optimization" == spec.workflow.type


# --------------------------------------------------------------------------------------------
# values: scalars, grids, ranges


def test_grids_ranges_and_scalars():
    spec = spec_from_text("""
strategies:
  - type: sma_crossover
    parameters: {fast_period: [10, 20], slow_period: {from: 20, to: 100, step: 20}}
  - type: mean_reversion
    parameters: {period: 15, entry_z: {from: 1.5, to: 2.5, step: 0.5}, exit_z: [0.1, 0.2, 0.3]}
execution: {commission: [0, 0.001], fill: close}
portfolio: {sizing: fixed_fraction, fraction: {from: 0.1, to: 0.3, step: 0.1}}
""")
    assert {"fast_period": (10, 20), "slow_period": (20, 40, 60, 80, 100)} == axes_of(spec.strategies[0])
    assert {"period": (15,), "entry_z": (1.5, 2.0, 2.5), "exit_z": (0.1, 0.2, 0.3)} == axes_of(spec.strategies[1])
    assert (0.0, 0.001) == axes_of(spec.execution)["commission"]
    assert ("close",) == axes_of(spec.execution)["fill"]
    assert (0.1, 0.2, 0.3) == axes_of(spec.portfolio)["fraction"]


def test_values_are_coerced_by_the_param():
    spec = spec_from_text("strategies: [{type: momentum, parameters: {lookback_period: 10.0, "
                          "signal_threshold: 1}}]")
    assert {"lookback_period": (10,), "signal_threshold": (1.0,)} == axes_of(spec.strategies[0])
    assert int is type(spec.strategies[0].axes[0].values[0])


def test_grid_duplicates_are_dropped_keeping_the_first():
    spec = spec_from_text("strategies: [{type: momentum, parameters: {lookback_period: [30, 10, 30, 10.0, 20]}}]")
    assert (30, 10, 20) == spec.strategies[0].axes[0].values


def test_optional_param_accepts_null():
    spec = spec_from_text("risk: {max_position: [null, 10]}\n" + MOMENTUM)
    assert (None, 10.0) == axes_of(spec.risk)["max_position"]


def test_dates_become_iso_strings():
    spec = spec_from_text("data: {dataset: GOOG, start: 2006-01-01, end: 2010-12-31 16:00:00}\n" + MOMENTUM)
    assert ("2006-01-01", "2010-12-31T16:00:00") == (spec.data.start, spec.data.end)


def test_data_sources():
    one = spec_from_text("data: {path: prices.csv, symbol: XYZ, periods_per_year: 252}\n" + MOMENTUM,
                         base_dir="/d")
    assert DataSpec(path="prices.csv", symbol="XYZ", periods_per_year=252.0, base_dir="/d") == one.data
    many = spec_from_text("data: {paths: {MSFT: b.csv, AAPL: a.csv}}\n" + MOMENTUM)
    assert (("MSFT", "b.csv"), ("AAPL", "a.csv")) == many.data.paths
    bundled = spec_from_text("data: {dataset: eurusd}\n" + MOMENTUM)
    assert "eurusd" == bundled.data.dataset
    universe = spec_from_text("data: {path: 'data/*.parquet', symbols: [MSFT, AAPL]}\n" + MOMENTUM)
    assert ("data/*.parquet", ("MSFT", "AAPL")) == (universe.data.path, universe.data.symbols)


def test_start_equal_to_end_is_one_day():
    spec = spec_from_text("data: {dataset: GOOG, start: '2010-01-01 10:00', end: 2010-01-01}\n" + MOMENTUM)
    assert ("2010-01-01 10:00", "2010-01-01") == (spec.data.start, spec.data.end)


# --------------------------------------------------------------------------------------------
# constraints


def test_entry_constraints_are_kept_as_texts():
    spec = spec_from_text("""
strategies:
  - type: sma_crossover
    parameters: {fast_period: [10, 20, 30], slow_period: [20, 30]}
    constraints: ["fast_period < slow_period"]
""")
    assert ("fast_period < slow_period",) == spec.strategies[0].constraints


def test_top_level_constraints_apply_to_entries_having_all_their_names():
    spec = spec_from_text("""
strategies:
  - type: sma_crossover
    parameters: {fast_period: [10, 20], slow_period: [15, 30]}
  - type: momentum
  - type: sma_crossover
    constraints: ["slow_period > 5"]
constraints: ["fast_period < slow_period"]
""")
    assert ("fast_period < slow_period",) == spec.constraints
    assert ("fast_period < slow_period",) == spec.strategies[0].constraints
    assert () == spec.strategies[1].constraints
    assert ("slow_period > 5", "fast_period < slow_period") == spec.strategies[2].constraints


def test_top_level_constraint_is_not_repeated_in_an_entry_that_has_it():
    spec = spec_from_text("""
strategies: [{type: sma_crossover, constraints: ["fast_period < slow_period"]}]
constraints: ["fast_period < slow_period"]
""")
    assert ("fast_period < slow_period",) == spec.strategies[0].constraints


# --------------------------------------------------------------------------------------------
# errors: every one names its path


@pytest.mark.parametrize(("text", "path", "message"), [
    # top level
    ("foo: 1\n" + MOMENTUM, "foo", "unknown key; allowed keys at the top level: classifiers, constraints, data"),
    ("strategy: []\n" + MOMENTUM, "strategy", r"did you mean 'strategies'\?"),
    ("top: 1\n", "strategies", "required: list the strategies"),
    ("strategies: []", "strategies", "is empty: list at least one strategy"),
    ("strategies: {type: momentum}", "strategies={'type': 'momentum'}", "must be a list of strategy entries"),
    # workflow
    ("workflow: {type: live}\n" + MOMENTUM, "workflow.type='live'", "must be one of 'backtest', 'optimization'"),
    ("workflow: {base_pattern: signal_only}\n" + MOMENTUM, "workflow.base_pattern='signal_only'",
     "must be one of 'full_backtest'"),
    ("workflow: {mode: backtest}\n" + MOMENTUM, "workflow.mode",
     "unknown key; allowed keys here: anchored, base_pattern, step_bars, test_bars, train_bars, type"),
    ("workflow: optimization\n" + MOMENTUM, "workflow='optimization'", "must be a mapping"),
    # data
    ("data: {dataset: GOOG, path: a.csv}\n" + MOMENTUM, "data",
     r"give exactly one of dataset, path or paths \(got dataset and path\)"),
    ("data: {dataset: GOOGL}\n" + MOMENTUM, "data.dataset='GOOGL'",
     "must be a bundled data set, one of BTCUSD, EURUSD, GOOG"),
    ("data: {dataset: GOOG, symbol: X}\n" + MOMENTUM, "data.symbol", "only applies with data.path"),
    ("data: {path: ''}\n" + MOMENTUM, "data.path=''", "must be a non-empty string"),
    ("data: {paths: {}}\n" + MOMENTUM, "data.paths", "is empty"),
    ("data: {paths: {AAPL: 5}}\n" + MOMENTUM, "data.paths.AAPL=5", "must be a non-empty string"),
    ("data: {path: data, symbols: AAPL}\n" + MOMENTUM, "data.symbols='AAPL'",
     r"must be a non-empty list of symbols, e.g. \[AAPL, MSFT\]"),
    ("data: {path: data, symbols: []}\n" + MOMENTUM, "data.symbols=[]", "must be a non-empty list"),
    ("data: {path: data, symbols: [AAPL, 1301]}\n" + MOMENTUM, "data.symbols[1]=1301",
     r"a symbol \(quote numbers: '1301'\) must be a non-empty string"),
    ("data: {path: data, symbols: [AAPL, MSFT, AAPL]}\n" + MOMENTUM, "data.symbols[2]='AAPL'",
     r"is given twice \(also data.symbols\[0\]\): list each symbol once"),
    ("data: {dataset: GOOG, start: 2010-01-01, end: 2006-12-31}\n" + MOMENTUM, "data.start='2010-01-01'",
     "must not be after data.end='2006-12-31'"),
    ("data: {dataset: GOOG, start: 'Jan 2010'}\n" + MOMENTUM, "data.start='Jan 2010'", "must be an ISO date"),
    ("data: {dataset: GOOG, periods_per_year: 0}\n" + MOMENTUM, "data.periods_per_year=0", "must be a number > 0"),
    ("data: {dataset: GOOG, from: 2006-01-01}\n" + MOMENTUM, "data.from", "unknown key"),
    # settings
    ("execution: {commission: yes}\n" + MOMENTUM, "execution.commission=True", "must be a number >= 0 and <= 0.5"),
    ("execution: {comission: 0.1}\n" + MOMENTUM, "execution.comission",
     r"the execution section has no parameter 'comission' \(did you mean 'commission'\?\); "
     "its parameters are fill, order_type, limit_offset"),
    ("portfolio: {sizing: [all_in, kelly_criterion]}\n" + MOMENTUM, "portfolio.sizing[1]='kelly_criterion'",
     "must be one of 'all_in', 'fixed_fraction', 'fixed_units'"),
    ("portfolio: {sizing: fixed_units}\n" + MOMENTUM, "portfolio.size", "required by sizing: fixed_units"),
    ("portfolio: {size: 10}\n" + MOMENTUM, "portfolio.size", "only applies to sizing: fixed_units or fixed_cash"),
    ("execution: {commission_tiers: [[10, 0.001]]}\n" + MOMENTUM, "execution.commission_tiers=[[10, 0.001]]",
     "must be a list of \\[notional, rate\\] pairs from 0 up"),
    ("execution: {order_type: iceberg}\n" + MOMENTUM, "execution.order_type='iceberg'",
     "must be one of 'market', 'limit', 'stop', 'stop_limit'"),
    ("risk: {restricted: [1]}\n" + MOMENTUM, "risk.restricted=[1]", "must be a list of symbols"),
    ("exits: {stop_loss: 0.02, stop_loss_atr: 2}\n" + MOMENTUM, "exits.stop_loss_atr",
     "give stop_loss as a fraction or as ATR multiples"),
    ("exits: {stop_loss: 1.5}\n" + MOMENTUM, "exits.stop_loss=1.5", "must be a number > 0 and <= 1"),
    ("strategies: [{type: momentum, exits: {take_profit: -1}}]\n", "strategies[0].exits.take_profit=-1",
     "must be a number > 0"),
    ("strategies: [{type: momentum, exits: {stop_los: 0.1}}]\n", "strategies[0].exits.stop_los",
     "did you mean 'stop_loss'"),
    ("portfolio: {fraction: 0.5}\n" + MOMENTUM, "portfolio.fraction",
     "fraction only applies to sizing: fixed_fraction"),
    ("portfolio: {fraction: 0.5, sizing: all_in}\n" + MOMENTUM, "portfolio.fraction",
     "fraction only applies to sizing: fixed_fraction"),
    ("risk: [1]\n" + MOMENTUM, "risk=[1]", "must be a mapping"),
    # entries
    ("strategies: [{type: momentm}]", "strategies[0].type='momentm'",
     r"must be a registered strategy \(did you mean 'momentum'\?\): one of bollinger_breakout, bollinger_reversion, "
     "breakout, donchian_breakout, dual_momentum, macd_cross, mean_reversion, momentum, rsi_reversion, sma_crossover, "
     "threshold, trend_filter, or your own"),
    ("strategies: [{parameters: {}}]", "strategies[0].type", "required: name the strategy"),
    ("strategies: [{type: momentum, params: {}}]", "strategies[0].params",
     r"unknown key \(did you mean 'parameters'\?\); allowed keys here: constraints, exits, learn_bars, members, parameters, type"),
    ("strategies: [momentum]", "strategies[0]='momentum'", "must be a mapping"),
    ("strategies: [{type: momentum, parameters: {lookback: 5}}]", "strategies[0].parameters.lookback",
     "strategy 'momentum' has no parameter 'lookback'.*its parameters are lookback_period, signal_threshold"),
    ("classifiers: [{type: hmm, parameters: {states: 3}}]\n" + MOMENTUM, "classifiers[0].parameters.states",
     "classifier 'hmm' has no parameter 'states'.*its parameters are model_type, lookback_days, n_states"),
    ("classifiers: [{type: hmmm}]\n" + MOMENTUM, "classifiers[0].type='hmmm'", "must be a registered classifier"),
    # values
    ("strategies: [{type: momentum, parameters: {lookback_period: -5}}]",
     "strategies[0].parameters.lookback_period=-5", "must be an integer >= 1"),
    ("strategies: [{type: momentum, parameters: {lookback_period: [10, -5]}}]",
     "strategies[0].parameters.lookback_period[1]=-5", "must be an integer >= 1"),
    ("strategies: [{type: momentum, parameters: {lookback_period: 2.5}}]",
     "strategies[0].parameters.lookback_period=2.5", "must be an integer >= 1"),
    ("strategies: [{type: momentum, parameters: {lookback_period: []}}]",
     "strategies[0].parameters.lookback_period=[]", "empty grid: give at least one value"),
    ("strategies: [{type: momentum, parameters: {lookback_period: [[10, 20]]}}]",
     "strategies[0].parameters.lookback_period[0]=[10, 20]", "a grid is a flat list of values"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 5, to: 50}}}]",
     "strategies[0].parameters.lookback_period", "range is missing step"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 5, to: 50, step: 0}}}]",
     "strategies[0].parameters.lookback_period.step=0", "must be > 0"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 50, to: 5, step: 5}}}]",
     "strategies[0].parameters.lookback_period.from=50", "must be <= to=5"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 5, to: 50, step: 5, by: 1}}}]",
     "strategies[0].parameters.lookback_period.by", "unknown key"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 1, to: 200000, step: 1}}}]",
     "strategies[0].parameters.lookback_period", "at most 100,000"),
    ("strategies: [{type: momentum, parameters: {lookback_period: {from: 0, to: 10, step: 5}}}]",
     "strategies[0].parameters.lookback_period=0", "must be an integer >= 1"),
    # constraints
    ("strategies: [{type: sma_crossover, constraints: ['fast < slow_period']}]",
     "strategies[0].constraints[0]='fast < slow_period'", "strategy 'sma_crossover' has no parameter 'fast'"),
    ("strategies: [{type: sma_crossover, constraints: ['fast_period > 1', 'f(fast_period)']}]",
     "strategies[0].constraints[1]='f(fast_period)'", "function calls are not allowed"),
    ("strategies: [{type: sma_crossover, constraints: 'fast_period < slow_period'}]",
     "strategies[0].constraints='fast_period < slow_period'", "must be a list of expressions"),
    ("strategies: [{type: sma_crossover, parameters: {fast_period: [20, 30], slow_period: [10, 20]}, "
     "constraints: ['fast_period < slow_period']}]",
     "strategies[0]", r"no combination satisfies the constraints \(fast_period < slow_period\)"),
    (MOMENTUM + "constraints: ['fast_period < slow_period']",
     "constraints[0]='fast_period < slow_period'", "no strategy entry has all of fast_period, slow_period"),
    ("strategies: [{type: sma_crossover, parameters: {fast_period: [20, 30], slow_period: [10, 20]}}]\n"
     "constraints: ['fast_period < slow_period']",
     "strategies[0]", "no combination satisfies the constraints"),
    ("classifiers: [{type: hmm, parameters: {lookback_days: [10, 20]}, constraints: ['lookback_days > 50']}]\n"
     + MOMENTUM, "classifiers[0]", "no combination satisfies the constraints"),
    ("strategies: [{type: sma_crossover, parameters: {slow_period: [20, 10]}, constraints: ['fast_period / "
     "(slow_period - 10) > 0']}]", "strategies[0].constraints[0]='fast_period / (slow_period - 10) > 0'",
     "divides by zero"),
    # objective and top
    ("objective: sharp\n" + MOMENTUM, "objective='sharp'",
     r"must be a metric \(prefix it with '-' to minimise it\): one of final_equity"),
    ("objective: --sharpe\n" + MOMENTUM, "objective='--sharpe'", "must be a metric"),
    ("top: 0\n" + MOMENTUM, "top=0", "must be an integer >= 1"),
    ("top: true\n" + MOMENTUM, "top=True", "must be an integer >= 1"),
])
def test_errors_name_their_path(text, path, message):
    error = spec_error(text)
    assert path == error.path
    assert str(error).startswith(f"{path}: ")
    with pytest.raises(SpecError, match=message):
        raise error


def test_values_are_checked_before_constraints_are_evaluated():
    error = spec_error("strategies: [{type: sma_crossover, parameters: {slow_period: [0]}, "
                       "constraints: ['fast_period / slow_period > 0']}]")
    assert "strategies[0].parameters.slow_period[0]=0" == error.path


def test_missing_required_parameter(monkeypatch):
    needs_window = SimpleNamespace(params=(Param("window", "int", REQUIRED, minimum=1),
                                           Param("scale", "float", 1.0)))
    monkeypatch.setitem(STRATEGIES, "needs_window", needs_window)
    error = spec_error("strategies: [{type: needs_window, parameters: {scale: 2}}]")
    assert "strategies[0].parameters.window" == error.path
    expected = "strategies[0].parameters.window: required by strategy 'needs_window': give an integer >= 1"
    assert expected == str(error)
    spec = spec_from_text("strategies: [{type: needs_window, parameters: {window: 5}}]")
    assert {"window": (5,), "scale": (1.0,)} == axes_of(spec.strategies[0])


def test_spec_error_is_a_value_error():
    assert isinstance(spec_error("top: 0\n" + MOMENTUM), ValueError)


# --------------------------------------------------------------------------------------------
# YAML and files


def test_top_level_must_be_a_mapping():
    expected = "spec.yaml: a spec must be a mapping with at least a 'strategies' list; got a list"
    assert expected == str(spec_error("- 1"))
    assert "got an empty document" in str(spec_error(""))


def test_spec_from_mapping_rejects_a_non_mapping():
    with pytest.raises(SpecError, match="<mapping>: a spec must be a mapping"):
        spec_from_mapping([1])


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("strategies:\n  - type: momentum\n    parameters: {lookback_period: [10, 20}\n")
    with pytest.raises(SpecError) as info:
        spec_from_yaml(path)
    assert str(info.value).startswith(f"{path}, line 3, column 42: ")


def test_python_tags_are_rejected():
    error = spec_error("x: !!python/object/apply:os.system ['echo pwned']\n" + MOMENTUM)
    assert "spec.yaml, line 1, column 4: could not determine a constructor" in str(error)
    assert "tags such as !!python/object are refused" in str(error)
    error = spec_error("strategies: !!python/object:types.SimpleNamespace {type: momentum}")
    assert "could not determine a constructor" in str(error)


def test_duplicate_keys_are_rejected_with_key_and_line():
    error = spec_error("top: 1\nstrategies: [{type: momentum}]\ntop: 2\n")
    expected = "spec.yaml, line 3, column 1: duplicate key 'top' (first given at line 1): give each key once"
    assert expected == str(error)


def test_nested_duplicate_keys_are_rejected():
    error = spec_error("strategies:\n  - type: momentum\n    type: breakout\n")
    assert "spec.yaml, line 3, column 5: duplicate key 'type' (first given at line 2)" in str(error)


def test_merge_keys_may_override():
    spec = spec_from_text("strategies: [{<<: {type: breakout}, type: momentum}]")
    assert "momentum" == spec.strategies[0].type


def test_impossible_yaml_date_is_a_spec_error():
    error = spec_error("data: {dataset: GOOG, start: 2010-13-01}\n" + MOMENTUM)
    assert "spec.yaml, line 1, column 30: invalid date '2010-13-01'" in str(error)


def test_deeply_nested_yaml_is_a_spec_error():
    assert "nested too deeply" in str(spec_error("[" * 5000))


def test_missing_spec_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=f"no such spec file '{path}'"):
        spec_from_yaml(path)


def test_a_folder_is_not_a_spec_file(tmp_path):
    with pytest.raises(SpecError, match="is a folder, not a spec file"):
        spec_from_yaml(tmp_path)


def test_a_data_section_with_only_bounds_means_the_default_dataset_between_them():
    spec = spec_from_text("data: {start: 2006-01-01}\n" + MOMENTUM)
    assert spec.data.is_default and "2006-01-01" == spec.data.start


# --------------------------------------------------------------------------------------------
# numbers as written (YAML 1.2 floats on the safe loader)


@pytest.mark.parametrize("written, value", [
    ("1e-3", 0.001), ("1E-3", 0.001), ("-2e-3", -0.002), ("+1e-3", 0.001), ("1.0e-3", 0.001), ("1e+0", 1.0),
    (".5", 0.5), ("0.5", 0.5), ("1.", 1.0), ("5", 5), ("1_000", 1000), ("1_000.5", 1000.5),
])
def test_numbers_are_read_as_written(written, value):
    loaded = specs.yaml.load(f"x: {written}", Loader=specs._SpecLoader)["x"]
    assert (type(value), value) == (type(loaded), loaded)


@pytest.mark.parametrize("cash, cash_value, commission, commission_value", [
    ("1E5", 100_000.0, "1e-3", 0.001), ("1.0e12", 1e12, "-0e-3", 0.0), ("1_000", 1000, ".5", 0.5),
    ("2.5e+6", 2_500_000.0, "2E-4", 0.0002),
])
def test_exponent_numbers_are_accepted_as_settings(cash, cash_value, commission, commission_value):
    spec = spec_from_text(f"portfolio: {{initial_cash: {cash}}}\nexecution: {{commission: [{commission}]}}\n" + MOMENTUM)
    assert (cash_value,) == axes_of(spec.portfolio)["initial_cash"]
    assert (commission_value,) == axes_of(spec.execution)["commission"]


def test_times_of_day_and_odd_words_stay_text():
    loaded = specs.yaml.load("[17:00, '1:30', 1.2.3, e5, 1e, 2024-01-31]", Loader=specs._SpecLoader)
    assert ["17:00", "1:30", "1.2.3", "e5", "1e"] == loaded[:5]
    assert "2024-01-31" == loaded[5].isoformat()


def test_number_rules_do_not_change_pyyamls_safe_loader():
    assert "1e-3" == specs.yaml.safe_load("1e-3")


def test_loading_stays_safe_and_refuses_duplicate_keys_with_numbers():
    assert "could not determine a constructor" in str(spec_error("x: !!python/object:os.system 1e-3\n"))
    assert "duplicate key 'commission'" in str(spec_error("execution: {commission: 1e-3, commission: 2e-3}\n" + MOMENTUM))


@pytest.mark.parametrize("target", ["os:system", "builtins:eval", "fp.metrics:metrics"])
def test_an_objective_must_be_declared_as_one(target):
    """Issue 16: ``objective: os:system`` was called with a results row mid-run; an objective loads
    through the component loader like a strategy and must be an ``@objective`` record."""
    with pytest.raises(SpecError, match=rf"^objective='{target}': '\w+' is a plain function, not an objective: decorate it with "
                                         r"@fp.components.objective$"):
        spec_from_mapping({"strategies": [{"type": "momentum"}], "objective": target})


def test_a_declared_objective_is_kept_with_the_specs_components(author):
    author("declared_objectives", """
        from fp.components import objective

        @objective
        def trades(row):
            "More closed trades is better."
            return row["n_trades"]
    """)
    spec = spec_from_mapping({"strategies": [{"type": "momentum"}], "objective": "declared_objectives:trades"})
    (kind, name, record), = [c for c in spec.components if c[0] == "objective"]
    assert ("objective", "declared_objectives:trades", "More closed trades is better.") == (kind, name, record.doc)
