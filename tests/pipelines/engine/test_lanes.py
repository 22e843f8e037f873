"""Tests of pipelines.engine.lanes: what each lane is configured to do, and the data its settings need."""
import numpy as np
import pytest

import pipelines
from pipelines.boundary.data import load_market_data
from state.errors import SpecError
from state.spec import DataSpec

GOOG = load_market_data(DataSpec(dataset="GOOG"))["GOOG"]


def goog_csv(path, volume) -> str:
    """GOOG's bars with the given volume column (a number for every bar, or None: no column)."""
    header = "date,open,high,low,close" + (",volume" if volume is not None else "")
    rows = [f"{str(t)[:10]},{o},{h},{lo},{c}" + (f",{volume}" if volume is not None else "")
            for t, o, h, lo, c in zip(GOOG.time, GOOG.open, GOOG.high, GOOG.low, GOOG.close)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def capped_spec(path, fractional=True, **execution) -> dict:
    return {"data": {"path": path, "symbol": "GOOG"}, "portfolio": {"fractional": fractional},
            "execution": execution, "strategies": [{"type": "sma_crossover",
                                                    "parameters": {"fast_period": 5, "slow_period": 20}}]}


@pytest.mark.parametrize("fractional", [True, False])
def test_a_bar_with_no_volume_fills_nothing_under_participation(tmp_path, fractional):
    # issue 19 item 3: volume 0 filled everything (46 trades) while volume 1 filled nothing
    result = pipelines.run(capped_spec(goog_csv(tmp_path / "goog.csv", 0), fractional, participation=0.1))
    assert [0] == result.results.column("n_trades").to_pylist()
    assert 0 == result.trades.num_rows
    assert [10_000.0] == result.results.column("final_equity").to_pylist()


@pytest.mark.parametrize("setting", [{"participation": 0.1}, {"impact": 0.1}])
def test_settings_that_read_volume_refuse_data_without_it(tmp_path, setting):
    path = goog_csv(tmp_path / "goog.csv", None)
    with pytest.raises(SpecError) as info:
        pipelines.run(capped_spec(path, **setting), out=tmp_path / "out")
    (name,) = setting
    assert f"execution.{name}: needs each bar's volume, but GOOG (data: {path}) has no volume column" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_bar_without_volume_is_named(tmp_path):
    path = tmp_path / "goog.csv"
    goog_csv(path, 7)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ","  # the fourth bar's volume left empty
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as info:
        pipelines.run(capped_spec(str(path), participation=0.5))
    assert "GOOG (data: " in str(info.value) and "has no volume on bar 3 (2004-08-24)" in str(info.value)


def test_data_without_volume_runs_when_no_setting_reads_it(tmp_path):
    result = pipelines.run(capped_spec(goog_csv(tmp_path / "goog.csv", None), commission=0.001))
    assert result.results.column("n_trades").to_pylist()[0] > 0
    assert np.isnan(result.market["GOOG"].volume).all()


def test_a_chunked_run_refuses_before_writing_anything(tmp_path):
    from state.spec import ExecutionOptions
    spec = capped_spec(goog_csv(tmp_path / "goog.csv", None), participation=0.1)
    with pytest.raises(SpecError, match="execution.participation: needs each bar's volume"):
        pipelines.run(spec, out=tmp_path / "out", execution=ExecutionOptions(executor="processes", workers=1))
    assert not (tmp_path / "out").exists()
