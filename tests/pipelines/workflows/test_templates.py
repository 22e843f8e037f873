"""The strategy templates from specs: every grid in specs/ runs, nested parameters are validated
where they are written, TA-Lib features are named in a spec (or refused in one line without the
extra), and a cross-symbol strategy's lanes stay isolated."""
import importlib.util
import sys

import numpy as np
import pytest

import pipelines
from pipelines.cli.main import main
from pipelines.engine.compiler import plan_from_spec
from pipelines.boundary.specs import spec_from_text, spec_from_yaml
from state.errors import SpecError

HAS_TALIB = importlib.util.find_spec("talib") is not None
TEMPLATE_SPECS = ["rsi_reversion", "macd_cross", "bollinger_reversion", "bollinger_breakout", "donchian_breakout",
                  "trend_filter", "threshold", "talib_cci", "dual_momentum"]


@pytest.mark.parametrize("name", TEMPLATE_SPECS)
def test_every_template_grid_in_specs_runs(name, tmp_path):
    if name == "talib_cci" and not HAS_TALIB:
        pytest.skip("specs/talib_cci.yaml needs the ta extra: pip install -e '.[ta]'")
    result = pipelines.run(f"specs/{name}.yaml", out=tmp_path / "run")
    statuses = set(result.results.column("status").to_pylist())
    assert {"ok"} == statuses
    assert len(plan_from_spec(spec_from_yaml(f"specs/{name}.yaml"), symbols=result.plan.symbols).combos) == \
        len(set(result.results.column("combo_id").to_pylist()))


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec_from_text(text)
    return info.value


def test_a_nested_strategys_parameters_are_validated_where_they_are_written():
    spec = spec_from_text("strategies: [{type: trend_filter, parameters: {member: rsi_reversion, period: [2, 3]}}]")
    names = [axis.name for axis in spec.strategies[0].axes]
    assert ["member", "filter", "filter_period", "filter_level", "period", "lower", "upper", "exit"] == names
    error = _error("strategies: [{type: trend_filter, parameters: {member: rsi_reversion, period: 1}}]")
    assert "strategies[0].parameters.period=1: must be an integer >= 2" == str(error)
    error = _error("strategies: [{type: trend_filter, parameters: {member: [momentum, breakout]}}]")
    assert str(error).startswith("strategies[0].parameters.member=['momentum', 'breakout']: name one strategy, not a "
                                 "grid")
    error = _error("strategies: [{type: trend_filter, parameters: {member: mypkg:mine}}]")
    assert "fp.templates.trend_filtered(my_strategy)" in str(error)
    error = _error("strategies: [{type: trend_filter, parameters: {member: momentum, period: 5}}]")
    assert str(error).startswith("strategies[0].parameters.period: strategy 'trend_filter' has no parameter 'period'")


def test_a_threshold_names_a_feature_and_its_output():
    spec = spec_from_text("strategies: [{type: threshold, parameters: {feature: adx.plus_di, period: 10, lower: 20, "
                          "upper: 25, mode: trend}}]")
    assert ("feature", ("adx.plus_di",)) == (spec.strategies[0].axes[0].name, spec.strategies[0].axes[0].values)
    error = _error("strategies: [{type: threshold, parameters: {feature: macd.histo}}]")
    assert "strategies[0].parameters.feature='macd.histo': feature 'macd' has no output 'histo'; it has macd, " \
           "signal, hist" == str(error)


@pytest.mark.skipif(not HAS_TALIB, reason="TA-Lib features in a spec need the ta extra: pip install -e '.[ta]'")
def test_a_spec_grids_a_talib_function_by_name_with_its_own_parameters():
    spec = spec_from_text("strategies: [{type: threshold, parameters: {feature: talib.STOCH.slowd, fastk_period: "
                          "[5, 14], slowk_matype: 1, lower: 20, upper: 80}}]")
    plan = plan_from_spec(spec)
    assert 2 == len(plan.combos)
    assert ["talib.STOCH(fastk_period=14, slowk_period=3, slowk_matype=1, slowd_period=3, slowd_matype=0)@bar",
            "talib.STOCH(fastk_period=5, slowk_period=3, slowk_matype=1, slowd_period=3, slowd_matype=0)@bar"] == \
        sorted(str(k) for k in plan.features)
    error = _error("strategies: [{type: threshold, parameters: {feature: talib.CCI, timeperiod: 1}}]")
    assert "strategies[0].parameters.timeperiod=1: must be an integer >= 2 and <= 100000" == str(error)
    error = _error("strategies: [{type: threshold, parameters: {feature: talib.CCI, period: 14}}]")
    assert str(error).startswith("strategies[0].parameters.period: strategy 'threshold' has no parameter 'period' "
                                 "(did you mean 'timeperiod'?)")
    error = _error("strategies: [{type: threshold, parameters: {feature: talib.MAVP}}]")
    assert str(error).startswith("strategies[0].parameters.feature='talib.MAVP': feature 'talib.MAVP' is not "
                                 "available: its second input is a series of periods")


def test_without_talib_a_spec_naming_a_talib_function_fails_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "talib", None)  # `import talib` raises ImportError
    assert 2 == main(["plan", "specs/talib_cci.yaml"])
    err = capsys.readouterr().err.strip()
    assert 1 == len(err.splitlines())
    assert err == ("admf: error: strategies[0].parameters.feature='talib.CCI': feature 'talib.CCI' needs the optional "
                   "package 'talib': pip install -e \".[ta]\"")


def test_dual_momentum_fills_in_the_datas_symbols_and_refuses_others():
    spec = spec_from_yaml("specs/dual_momentum.yaml")
    plan = plan_from_spec(spec)
    assert {("BONDS", "GOLD", "STOCKS")} == {dict(c.strategy_params)["universe"] for c in plan.combos}
    text = open("specs/dual_momentum.yaml").read().replace("lookback: [21, 63, 126, 252]",
                                                          "lookback: 21\n      universe: [STOCKS, SPY]")
    with pytest.raises(SpecError, match=r"strategies\[0\].parameters.universe: symbol 'SPY' is not in the data"):
        plan_from_spec(spec_from_text(text, base_dir="specs"))


@pytest.mark.parametrize("shared_cash", [False, True])
def test_a_cross_symbol_lane_equals_its_combination_run_alone(shared_cash, tmp_path):
    """Isolation: other symbols reach a lane as market data only, never through another lane."""
    text = open("specs/dual_momentum.yaml").read().replace("shared_cash: true", f"shared_cash: {str(shared_cash).lower()}")
    grid = pipelines.run(spec_from_text(text, base_dir="specs"))
    alone = pipelines.run(spec_from_text(text.replace("lookback: [21, 63, 126, 252]", "lookback: 63")
                                         .replace("threshold: [0.0, 0.02]", "threshold: 0.02"), base_dir="specs"))
    rows = {(r["combo_id"], r["symbol"]): r for r in grid.results.to_pylist()}
    for row in alone.results.to_pylist():
        assert rows[(row["combo_id"], row["symbol"])] == row
    assert np.isfinite(alone.results.column("sharpe").to_numpy(zero_copy_only=False)).all()


def test_dual_momentum_runs_on_a_folder_universe_as_on_its_files(tmp_path):
    """specs/data as a folder gives the paths spec's results, row for row (both: symbols by name);
    data.symbols orders them either way."""
    text = open("specs/dual_momentum.yaml").read()
    paths = pipelines.run(spec_from_text(text, base_dir="specs"), out=tmp_path / "paths")
    folder_text = text.replace("""  paths:
    STOCKS: data/STOCKS.csv
    BONDS: data/BONDS.csv
    GOLD: data/GOLD.csv""", "  path: data")
    assert folder_text != text
    folder = pipelines.run(spec_from_text(folder_text, base_dir="specs"), out=tmp_path / "folder")
    assert ("BONDS", "GOLD", "STOCKS") == folder.market.symbols == paths.market.symbols
    for name in ("results.parquet", "trades.parquet", "symbol_stats.parquet"):
        assert (tmp_path / "paths" / name).read_bytes() == (tmp_path / "folder" / name).read_bytes()
    chosen = pipelines.run(spec_from_text(folder_text.replace("  path: data", "  path: data\n  symbols: [STOCKS, BONDS, GOLD]"),
                                          base_dir="specs"))
    assert ("STOCKS", "BONDS", "GOLD") == chosen.market.symbols and 8 == chosen.results.num_rows


CUSTOM_TALIB = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("period", "int", 14, minimum=2, doc="bars"),),
          features=lambda p: {"rsi": ref("talib.RSI", timeperiod=p["period"])})
def talib_rsi_dips(p, f):
    """Long under 30 on TA-Lib's RSI."""
    return np.where(f["rsi"] < 30.0, 1.0, np.nan)
'''


def test_a_custom_strategy_reading_a_talib_feature_without_talib_names_the_spec_path(author, monkeypatch, capsys):
    author("custom_talib", CUSTOM_TALIB)
    monkeypatch.setitem(sys.modules, "talib", None)
    error = _error("strategies: [{type: 'custom_talib:talib_rsi_dips'}]")
    assert str(error).startswith("strategies[0].type='custom_talib:talib_rsi_dips': feature 'talib.RSI' needs the "
                                 "optional package 'talib'")
