"""The HTML report as a person sees it: opened in headless Chromium, offline, with no script error,
every expected chart drawn and non-empty, the best combination and the parameter axes shown, and
a screenshot that is not blank. Plus the report's command line and size bounds."""
import json
import re

import numpy as np
import pytest

import pipelines
from browser import needs_chromium, png_is_blank, render, screenshot
from pipelines.cli.main import main

pytest.importorskip("plotly", reason="the report extra (plotly) is not installed")

SMA = {"data": {"dataset": "GOOG"}, "portfolio": {"initial_cash": 10_000}, "execution": {"commission": 0.002},
       "strategies": [{"type": "sma_crossover",
                       "parameters": {"fast_period": [5, 10, 20], "slow_period": [20, 40, 80]}}],
       "constraints": ["fast_period < slow_period"], "workflow": {"type": "optimization"}}


@pytest.fixture(scope="module")
def sma_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sma") / "run"
    result = pipelines.run(SMA, out=out)
    return out, result


def plots_by_id(summary):
    return {p["id"]: p for p in summary["plots"]}


@needs_chromium
def test_the_report_opens_offline_without_errors_and_shows_every_chart(sma_run, tmp_path):
    run, result = sma_run
    page = pipelines.report(run)
    summary = render(page, tmp_path)
    assert [] == summary["errors"]
    plots = plots_by_id(summary)
    for name in ("plot-panels", "plot-monthly", "plot-trades", "plot-landscape0", "plot-sensitivity0", "plot-pbo"):
        assert name in plots, f"{name} missing"
        assert plots[name]["traces"] > 0 and plots[name]["points"] > 0, name
        assert plots[name]["marks"] > 0, f"{name} drew nothing"
    best = result.best()["combo_id"]
    assert best in summary["body"]
    landscape = " ".join(plots["plot-landscape0"]["texts"])
    assert "fast period" in landscape and "slow period" in landscape
    panels = " ".join(plots["plot-panels"]["texts"])
    assert "Equity" in panels and "GOOG price" in panels and "buy & hold" in panels
    assert not png_is_blank(screenshot(page, tmp_path / "report.png", tmp_path))


@needs_chromium
def test_a_row_without_embedded_charts_shows_its_command(sma_run, tmp_path):
    run, result = sma_run
    page = pipelines.report(run, out=tmp_path / "top1.html", top=1)
    worst = result.ranked().column("combo_id").to_pylist()[-1]
    click = f"""() => {{ document.querySelector('tr.row[data-key="{worst}"]').click();
                         return document.getElementById("combo-missing").innerText; }}"""
    summary = render(page, tmp_path, action=click)
    assert [] == summary["errors"]
    assert f"admf report {run} --combo {worst}" in summary["action"]


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["regimes", "walk_forward", "train_test", "shared_cash", "signal_replay"])
def test_every_report_kind_renders_its_sections(kind, tmp_path):
    spec, sections = _spec_of(kind, tmp_path)
    run = tmp_path / "run"
    result = pipelines.run(spec, out=run)
    summary = render(pipelines.report(run), tmp_path)
    assert [] == summary["errors"]
    plots = plots_by_id(summary)
    for name in ("plot-panels", *sections):
        assert name in plots and plots[name]["marks"] > 0, f"{kind}: {name} not drawn"
    if kind == "train_test":  # every combination in-sample vs out-of-sample (and the line where they are equal)
        assert 2 + len(result.plan.combos) == plots["plot-train_test"]["points"]


def _spec_of(kind, tmp_path):
    """A small run of each kind, and the charts its report must draw besides the panels."""
    if kind == "regimes":
        return ({"data": {"dataset": "GOOG"}, "workflow": {"type": "optimization"},
                 "strategies": [{"type": "momentum", "parameters": {"lookback_period": [10, 20]}}],
                 "classifiers": [{"type": "trend_regime", "parameters": {"period": [50, 100]}}]},
                ["plot-regimes", "plot-strategy_by_classifier", "plot-pbo"])
    if kind == "walk_forward":
        return ({"data": {"dataset": "GOOG"}, "workflow": {"type": "walk_forward", "train_bars": 600, "test_bars": 400},
                 "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": [40, 80]}}]},
                ["plot-walk_forward"])
    if kind == "train_test":
        return ({**SMA, "data": {"dataset": "GOOG", "split": {"train": 0.7}}, "top_k": 2}, ["plot-train_test"])
    if kind == "signal_replay":
        pipelines.run({"workflow": {"type": "signal_generation"}, "data": {"dataset": "GOOG"},
                       "strategies": SMA["strategies"]}, out=tmp_path / "store")
        return ({"workflow": {"type": "signal_replay"}, "signals": str(tmp_path / "store"),
                 "execution": {"commission": [0.0, 0.002]}}, ["plot-landscape0"])
    from pipelines.boundary.data import load_market_data
    from state.spec import DataSpec
    bars = load_market_data(DataSpec(dataset="GOOG")).bars[0]
    for symbol, step in (("AAA", 1), ("BBB", 2)):  # BBB trades every other day, at half the price
        rows = [f"{np.datetime_as_string(t, 'D')},{o / step:.4f},{h / step:.4f},{lo / step:.4f},{c / step:.4f},1000"
                for t, o, h, lo, c in zip(bars.time, bars.open, bars.high, bars.low, bars.close)][::step]
        (tmp_path / f"{symbol}.csv").write_text("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return ({"data": {"paths": {"AAA": str(tmp_path / "AAA.csv"), "BBB": str(tmp_path / "BBB.csv")}},
             "portfolio": {"shared_cash": True, "sizing": "fixed_fraction", "fraction": 0.5},
             "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": 40}}]},
            ["plot-portfolio"])


# ---- what the page holds, without a browser ---------------------------------------------------------


def test_the_report_is_self_contained_and_embeds_only_the_shown_combinations(sma_run, tmp_path):
    run, result = sma_run
    page = pipelines.report(run, out=tmp_path / "r.html", top=2)
    text = page.read_text()
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", text)
    combos = json.loads(re.search(r'id="admf-combos">(.*?)</script>', text, re.S).group(1))
    ranked = result.ranked().column("combo_id").to_pylist()
    assert ranked[:2] == list(combos)
    board = json.loads(re.search(r'id="admf-data">(.*?)</script>', text, re.S).group(1))["board"]
    assert len(ranked) == len(board["rows"])


@pytest.mark.parametrize("copy", ["kernel", "missing", "fails midway"])
def test_the_page_holds_plotly_js_byte_for_byte_however_it_is_written(sma_run, tmp_path, monkeypatch, copy):
    """plotly.js is copied from plotly's own file by the kernel where it can, else written from memory
    (also the rest of it when a copy stops midway): the same page either way."""
    import os

    from pipelines.reporting import html
    run, _ = sma_run
    if copy != "missing" and not hasattr(os, "copy_file_range"):
        pytest.skip("os.copy_file_range is Linux only")
    expected = pipelines.report(run, out=tmp_path / "reference.html", top=1).read_bytes()
    if copy == "missing":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    elif copy == "fails midway":
        real = os.copy_file_range
        calls = []

        def once_then_fail(src, dst, count):
            calls.append(count)
            if len(calls) > 1:
                raise OSError("no more")
            return real(src, dst, min(count, 100_000))
        monkeypatch.setattr(os, "copy_file_range", once_then_fail)
    page = pipelines.report(run, out=tmp_path / "page.html", top=1).read_bytes()
    assert expected == page
    assert html._plotly_bytes() in page


def test_a_chosen_combination_is_embedded_and_shown_first(sma_run, tmp_path):
    run, result = sma_run
    worst = result.ranked().column("combo_id").to_pylist()[-1]
    page = pipelines.report(run, out=tmp_path / "r.html", combos=[worst], top=1)
    data = json.loads(re.search(r'id="admf-data">(.*?)</script>', page.read_text(), re.S).group(1))
    assert worst == data["selected"]


def test_refolded_curves_equal_the_recorded_equity(tmp_path):
    spec = {**SMA, "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": [5, 10], "slow_period": 40}}]}
    pipelines.run(spec, out=tmp_path / "plain")
    pipelines.run(spec, out=tmp_path / "recorded", equity=True)
    plain, recorded = pipelines.load_run(tmp_path / "plain"), pipelines.load_run(tmp_path / "recorded")
    keys = plain.keys()
    refolded, notes = plain.shown(keys)
    stored, _ = recorded.shown(keys)
    assert () == notes
    for key in keys:
        assert stored[key].time.tolist() == refolded[key].time.tolist()
        assert stored[key].equity.tolist() == refolded[key].equity.tolist()
        assert stored[key].position.tolist() == refolded[key].position.tolist()
        assert ["signal"] * len(refolded[key].exit_reasons) == [r or "signal" for r in refolded[key].exit_reasons]


def test_a_run_on_symbols_in_a_chosen_order_is_re_folded(tmp_path):
    """The report loads the data again in the order the run read it (data.symbols), so the data
    found again is the data the run read and the curves are drawn."""
    spec, _ = _spec_of("shared_cash", tmp_path)
    spec["data"]["symbols"] = ["BBB", "AAA"]
    result = pipelines.run(spec, out=tmp_path / "run")
    assert ("BBB", "AAA") == result.market.symbols
    folder = pipelines.load_run(tmp_path / "run")
    assert not [n for n in folder.notes if "cannot be re-folded" in n]
    shown, notes = folder.shown(folder.keys()[:1])
    assert () == notes and 1 == len(shown)
    item = next(iter(shown.values()))
    assert ("BBB", "AAA") == item.symbols and item.equity[-1] == pytest.approx(folder.rows[0]["final_equity"])


def test_exit_reasons_come_from_the_fills_that_closed_the_trades(tmp_path):
    spec = {**SMA, "exits": {"stop_loss": 0.03},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 40}}]}
    result = pipelines.run(spec, out=tmp_path / "run")
    folder = pipelines.load_run(tmp_path / "run")
    (key,) = folder.keys()
    shown, _ = folder.shown([key])
    reasons = shown[key].exit_reasons
    assert {"stop_loss", "signal"} <= set(reasons)
    closed = result.trades.column("exit_time").is_valid().to_pylist()
    assert [r is not None for r in reasons] == closed


REGIMES = {"data": {"dataset": "GOOG"},
           "strategies": [{"type": "momentum", "parameters": {"lookback_period": [10, 20]}}],
           "classifiers": [{"type": "trend_regime", "parameters": {"period": [50, 100]}}]}


def labels_of(folder):
    shown, _ = folder.shown(folder.keys())
    return {key: item.labels[0] for key, item in shown.items()}


def test_regime_bands_are_the_labels_the_run_recorded(tmp_path):
    """The bands come from regimes.parquet (what the lanes traded on), not from a new fit: changed
    labels in the file change the bands; with the file gone (an older folder), the classifier is
    fitted again, and gives the same labels."""
    import shutil

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    pipelines.run(REGIMES, out=tmp_path / "run")
    recorded = labels_of(pipelines.load_run(tmp_path / "run"))
    assert 4 == len(recorded) and all(np.any(np.isfinite(v)) for v in recorded.values())
    shutil.copytree(tmp_path / "run", tmp_path / "older")
    (tmp_path / "older" / "regimes.parquet").unlink()
    refitted = labels_of(pipelines.load_run(tmp_path / "older"))
    for key, labels in recorded.items():
        assert np.array_equal(labels, refitted[key], equal_nan=True), key
    table = pq.read_table(tmp_path / "run" / "regimes.parquet")
    flipped = pc.subtract(pa.scalar(1, pa.int64()), table.column("regime"))  # 0 <-> 1, null stays null
    pq.write_table(table.set_column(table.schema.get_field_index("regime"), "regime", flipped),
                   tmp_path / "run" / "regimes.parquet")
    for key, labels in labels_of(pipelines.load_run(tmp_path / "run")).items():
        assert np.array_equal(1.0 - recorded[key], labels, equal_nan=True), key


def test_parameter_columns_are_the_parameters_and_nothing_the_run_measured(tmp_path):
    """Only parameters make the landscape's axes and the strategy × classifier grid: not the
    outcome columns ruined, ruin_time and notes (notes once labelled that grid's columns)."""
    pipelines.run({**REGIMES, "objective": "calmar"}, out=tmp_path / "run")
    folder = pipelines.load_run(tmp_path / "run")
    assert ["lookback_period", "signal_threshold", "classifier_period", "classifier_regime_policy"] == \
        folder.parameter_columns()


def test_a_train_test_run_shades_the_part_it_recorded(tmp_path):
    spec = {**REGIMES, "workflow": {"type": "optimization"}, "data": {"dataset": "GOOG", "split": {"train": 0.7}},
            "top_k": 2}
    pipelines.run(spec, out=tmp_path / "run")
    folder = pipelines.load_run(tmp_path / "run")
    shown, _ = folder.shown(folder.keys()[:1])
    item = next(iter(shown.values()))
    test = item.part == "test"
    labels = item.labels[0]
    assert len(labels) == len(item.time) and np.any(test)
    assert np.all(np.isnan(labels[~test])) and np.any(np.isfinite(labels[test]))


# ---- the command line ---------------------------------------------------------------------------------


def test_admf_report_writes_the_file_and_prints_its_path(sma_run, tmp_path, capsys):
    run, _ = sma_run
    out = tmp_path / "sub" / "x.html"
    assert 0 == main(["report", str(run), "--out", str(out), "--top", "1"])
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_admf_report_open_opens_the_written_file_in_a_browser(sma_run, tmp_path, monkeypatch):
    import webbrowser
    run, _ = sma_run
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: opened.append(url) or True)
    out = tmp_path / "a b" / "x.html"  # a space: the URL must quote it
    assert 0 == main(["report", str(run), "--out", str(out), "--top", "1", "--open"])
    assert [out.resolve().as_uri()] == opened
    assert opened[0].startswith("file:///") and "a%20b" in opened[0]
    assert 0 == main(["report", str(run), "--out", str(out), "--top", "1"])
    assert 1 == len(opened)  # without --open, no browser


def test_admf_run_with_report_writes_the_report_into_the_run(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {dataset: GOOG}\nreport: true\n"
                    "strategies: [{type: sma_crossover, parameters: {fast_period: [5, 10], slow_period: 40}}]\n")
    assert 0 == main(["run", str(spec), "--out", str(tmp_path / "run")])
    assert f"wrote {tmp_path / 'run' / 'report.html'}" in capsys.readouterr().out
    assert (tmp_path / "run" / "report.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["report", "{tmp}/nothing"], "no such run folder"),
    (["report", "{run}", "--combo", "ffffffffffff"], "--combo ffffffffffff: no such combination"),
    (["report", "{run}", "--out", "{tmp}"], "is a folder"),
])
def test_bad_report_arguments_are_one_line_and_exit_2(sma_run, tmp_path, capsys, args, message):
    run, _ = sma_run
    code = main([a.format(tmp=tmp_path, run=run) for a in args])
    err = capsys.readouterr().err
    assert 2 == code
    assert message in err and 1 == len(err.strip().splitlines())


def test_without_plotly_the_report_names_the_extra(sma_run, tmp_path, monkeypatch, capsys):
    run, _ = sma_run
    import sys
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)
    assert 2 == main(["report", str(run)])
    err = capsys.readouterr().err
    assert 'pip install -e ".[report]"' in err and 1 == len(err.strip().splitlines())
    spec = tmp_path / "spec.yaml"
    spec.write_text("strategies: [{type: sma_crossover}]\n")
    assert 2 == main(["run", str(spec), "--out", str(tmp_path / "never"), "--report"])
    assert not (tmp_path / "never").exists()  # refused before the run


def test_exit_reasons_are_known_when_equity_was_recorded_too(tmp_path):
    spec = {**SMA, "exits": {"stop_loss": 0.03},
            "strategies": [{"type": "sma_crossover", "parameters": {"fast_period": 10, "slow_period": 40}}]}
    pipelines.run(spec, out=tmp_path / "run", equity=True)
    folder = pipelines.load_run(tmp_path / "run")
    shown, _ = folder.shown(folder.keys())
    assert "stop_loss" in next(iter(shown.values())).exit_reasons


# ---- notebook figures -----------------------------------------------------------------------------


def test_a_result_plots_its_best_combination_and_any_other(sma_run):
    _, result = sma_run
    best = result.plot()
    assert "equity" in [t.name for t in best.data]
    assert result.best()["combo_id"] in best.layout.title.text
    other = result.ranked().column("combo_id").to_pylist()[-1]
    assert other in result.plot(other).layout.title.text


def test_a_heatmap_over_two_parameters_with_its_aggregation(sma_run):
    _, result = sma_run
    fig = result.heatmap("fast_period", "slow_period", metric="calmar", aggregate="mean")
    (heatmap,) = [t for t in fig.data if t.type == "heatmap"]
    assert ("fast period", "slow period") == (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text)
    assert ["5", "10", "20"] == list(heatmap.x) and ["20", "40", "80"] == list(heatmap.y)
    rows = result.results.to_pylist()
    mean = np.mean([r["calmar"] for r in rows if r["fast_period"] == 10 and r["slow_period"] == 40])
    assert mean == pytest.approx(heatmap.z[1][1])
    assert np.isnan(heatmap.z[0][2])  # fast 20, slow 20: removed by fast_period < slow_period
    assert not np.isnan(heatmap.z[0][1])  # fast 10, slow 20
    with pytest.raises(pipelines.reporting.run_folder.RunFolderError, match="x='fast'"):
        result.heatmap("fast", "slow_period")
