"""Signal stores: written and read back intact; bad stores and mismatched data refused clearly."""
import json
import os
import shutil

import pytest

import pipelines
from pipelines.cli.main import main
from state.errors import SpecError, StoreError

GEN = {"workflow": {"type": "signal_generation"}, "data": {"dataset": "GOOG"},
       "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": [20, 40]}}]}


def replay_spec(store, **extra):
    return {"workflow": {"type": "signal_replay"}, "signals": str(store), **extra}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("stores") / "sig"
    pipelines.run(GEN, out=out)
    return out


def test_a_store_round_trips_and_replays_over_its_settings_grid(store_dir):
    store = pipelines.read_store(store_dir)
    assert {"signals.parquet", "combos.parquet", "manifest.json"} == set(os.listdir(store_dir))
    assert 4 == store.combos.num_rows and store.n_changes < store.dense_size == 4 * 2148
    assert ["combo_id", "symbol", "bar_index", "time", "value"] == store.signals.column_names
    result = pipelines.replay(replay_spec(store_dir, execution={"commission": [0.0, 0.002]},
                                          portfolio={"direction": ["long_only", "long_short"]}))
    assert 4 * 2 * 2 == result.results.num_rows
    assert {"fast_period", "slow_period", "portfolio_direction", "execution_commission"} <= set(result.results.column_names)


def corrupted(store_dir, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(store_dir, copy)
    damage(copy)
    return copy


@pytest.mark.parametrize("damage, message", [
    (lambda d: os.remove(d / "signals.parquet"), "signals.parquet: missing"),
    (lambda d: (d / "signals.parquet").write_bytes(b"not parquet"), "not a readable Parquet file"),
    (lambda d: (d / "manifest.json").write_text("{"), "manifest.json: unreadable"),
    (lambda d: (d / "manifest.json").write_text(json.dumps({"kind": "other"})), "not a signal store manifest"),
    (lambda d: _edit_manifest(d, changes=3), "holds .* changes but the manifest says 3"),
])
def test_a_corrupt_store_is_refused(store_dir, tmp_path, damage, message):
    with pytest.raises(StoreError, match=message):
        pipelines.read_store(corrupted(store_dir, tmp_path, damage))


def _edit_manifest(folder, **changes):
    m = json.loads((folder / "manifest.json").read_text())
    m.update(changes)
    (folder / "manifest.json").write_text(json.dumps(m))


def test_a_missing_store_is_refused(tmp_path):
    with pytest.raises(StoreError, match="no signal store here"):
        pipelines.read_store(tmp_path / "nowhere")


def test_replay_on_other_data_is_refused(store_dir):
    with pytest.raises(StoreError, match=r"generated on data .*\(GOOG: 2148 bars\) but the replay.s data is .*\(GOOG: 251 bars\)"):
        pipelines.replay(replay_spec(store_dir, data={"dataset": "GOOG", "start": "2006-01-01", "end": "2006-12-31"}))
    with pytest.raises(StoreError, match="EURUSD: 5000 bars"):
        pipelines.replay(replay_spec(store_dir, data={"dataset": "EURUSD"}))


def test_a_replay_spec_cannot_grid_strategy_parameters(store_dir):
    with pytest.raises(SpecError, match="strategies: a signal replay's strategies are fixed by its signal store"):
        pipelines.replay(replay_spec(store_dir, strategies=[{"type": "momentum"}]))


def write_spec(tmp_path, doc):
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("case", ["missing", "corrupt", "other data", "strategy grid"])
def test_the_cli_refuses_bad_stores_with_exit_2_and_writes_nothing(store_dir, tmp_path, capsys, case):
    store = {"missing": tmp_path / "nowhere",
             "corrupt": corrupted(store_dir, tmp_path, lambda d: (d / "combos.parquet").write_bytes(b"x")),
             "other data": store_dir, "strategy grid": store_dir}[case]
    extra = {"other data": {"data": {"dataset": "EURUSD"}},
             "strategy grid": {"strategies": [{"type": "momentum"}]}}.get(case, {})
    out = tmp_path / "out"
    assert 2 == main(["run", write_spec(tmp_path, replay_spec(store, **extra)), "--out", str(out)])
    err = capsys.readouterr().err
    assert err.startswith("admf: error:") and "Traceback" not in err
    assert not out.exists()


def test_the_cli_generates_then_replays(tmp_path, capsys):
    gen = tmp_path / "sig"
    assert 0 == main(["run", write_spec(tmp_path, GEN), "--out", str(gen)])
    printed = capsys.readouterr().out
    assert "signal changes of 4 combination(s)" in printed and "fewer" in printed
    assert 0 == main(["run", write_spec(tmp_path, replay_spec(gen, execution={"commission": [0.0, 0.001]})),
                      "--out", str(tmp_path / "rep")])
    assert "8 lane(s)" in capsys.readouterr().out


def test_a_replay_of_classified_signals_writes_no_empty_regime_attribution(tmp_path):
    """A store holds signals, not regime labels: no regime_stats.parquet (it would be empty), and
    the run says why."""
    pipelines.run({**GEN, "classifiers": [{"type": "trend_regime", "parameters": {"period": 50}}]},
                  out=tmp_path / "sig")
    result = pipelines.replay(replay_spec(tmp_path / "sig"), out=tmp_path / "replayed")
    assert result.regime_stats is None
    assert not (tmp_path / "replayed" / "regime_stats.parquet").exists()
    assert any(w.startswith("no regime_stats.parquet: a signal store holds signals, not regime labels")
               for w in result.manifest["warnings"])
