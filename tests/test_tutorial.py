"""docs/tutorial.md is true: its listings are the files in docs/tutorial/, those files run and pass,
and the commands it shows print what it says."""
from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

import pipelines
from pipelines.cli.main import main

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "docs" / "tutorial"
TEXT = (REPO / "docs" / "tutorial.md").read_text()
FILES = {path.name: path.read_text() for path in FOLDER.iterdir() if path.suffix in (".py", ".yaml")}
TUTORIAL_MODULES = ("my_signals", "mistakes", "test_my_signals", "from_code")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.S)


def shown_output(command: str) -> list[str]:
    """The lines a ```text block shows after ``$ <command>``."""
    for block in blocks("text"):
        lines = block.rstrip("\n").split("\n")
        if lines[0] == f"$ {command}":
            return lines[1:]
    raise AssertionError(f"docs/tutorial.md shows no output of {command!r}")


@pytest.fixture
def tutorial(monkeypatch):
    """The tutorial folder importable (as ``export PYTHONPATH=docs/tutorial`` makes it), the spec's
    relative paths resolved from the repository root, and the tutorial's modules fresh."""
    monkeypatch.syspath_prepend(str(FOLDER))
    monkeypatch.chdir(REPO)
    for name in TUTORIAL_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in TUTORIAL_MODULES:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_python_listing_is_in_a_tutorial_file(index):
    listing = blocks("python")[index]
    assert any(listing in text for text in FILES.values()), listing[:200]


def test_the_yaml_listings_are_the_tutorial_specs():
    ribbon, leaky = blocks("yaml")
    assert ribbon in FILES["ribbon.yaml"] and leaky in FILES["leaky.yaml"]


def test_the_authors_tests_pass(tutorial):
    module = importlib.import_module("test_my_signals")
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert len(tests) >= 6
    for test in tests:
        test()


def test_admf_check_passes_the_ribbon_as_shown(tutorial, capsys):
    assert 0 == main(["check", "my_signals:ema_ribbon"])
    assert shown_output("admf check my_signals:ema_ribbon") == capsys.readouterr().out.rstrip("\n").split("\n")


def test_admf_check_catches_the_mistake_as_shown(tutorial, capsys):
    assert 1 == main(["check", "mistakes:tomorrow"])
    printed = capsys.readouterr().out.rstrip("\n").split("\n")
    shown = shown_output("admf check mistakes:tomorrow")
    # the law and result columns exactly; hypothesis' shrinking may word a counterexample differently
    columns = lambda lines: [line.split()[:2] for line in lines if not line.startswith(" ")]
    assert columns(shown) == columns(printed)
    assert any("looks ahead: output 'signal' at bar 0" in line for line in printed)
    assert sum("falsifying example: Case(params={'threshold'" in line for line in printed) == 2


def test_admf_plan_shows_the_custom_feature_computed_once(tutorial, capsys):
    assert 0 == main(["plan", "docs/tutorial/ribbon.yaml"])
    printed = capsys.readouterr().out.split("\n")
    shown = [line for line in shown_output("admf plan docs/tutorial/ribbon.yaml") if line.strip() != "..."]
    assert shown == [line for line in printed if line in shown]  # in order; '...' elides the rest


def test_the_grid_runs_from_yaml_by_import_path_as_shown(tutorial):
    result = pipelines.run("docs/tutorial/ribbon.yaml")
    shown = shown_output("admf run docs/tutorial/ribbon.yaml")
    rows = [line.split() for line in shown if re.match(r"[0-9a-f]{12} ", line)]
    best = result.ranked().slice(0, len(rows)).to_pylist()
    # combination ids digest every setting too, so they change whenever a setting is added: not compared
    assert [r[1] for r in rows] == [b["strategy"] for b in best]
    assert [(float(r[-6]), int(r[-3])) for r in rows] == [(round(b["sharpe"], 4), b["n_trades"]) for b in best]
    assert 9 == result.results.num_rows


def test_the_code_path_runs(tutorial):
    signal, rows = importlib.import_module("from_code").main()
    assert 4 == len(rows) and {"ema_ribbon"} == {r["strategy"] for r in rows}
    assert len(signal) > 2000


def test_the_readme_example_runs_from_yaml(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Your own components", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n# mypkg/signals.py\n(.*?)```", section, flags=re.S).group(1)
    yaml_text = re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1)
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "signals.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        result = pipelines.run(pipelines.spec_from_text("data: {dataset: GOOG}\n" + yaml_text))
        assert 4 == result.results.num_rows
        assert {"mypkg.signals:ema_cross"} == {r["strategy"] for r in result.results.to_pylist()}
    finally:
        for name in ("mypkg", "mypkg.signals"):
            sys.modules.pop(name, None)


def test_admf_lookahead_finds_the_planted_mistake_as_shown(tutorial, capsys):
    assert 1 == main(["lookahead", "docs/tutorial/leaky.yaml"])
    assert shown_output("admf lookahead docs/tutorial/leaky.yaml") == capsys.readouterr().out.rstrip("\n").split("\n")


def test_the_next_bar_mistake_shows_at_the_strategy_one_bar_before_every_cut(tutorial):
    report = pipelines.lookahead({"data": {"dataset": "GOOG"}, "strategies": [{"type": "mistakes:tomorrow"}]})
    assert {("strategy", "mistakes:tomorrow(threshold=0.0)")} == {(f.kind, f.component) for f in report.findings
                                                                   if f.kind in ("feature", "strategy")}
    first = {cut.number: min(f.bar for f in report.findings if f.cut == cut.number) for cut in report.cuts}
    assert {cut.number: cut.bar("GOOG") - 1 for cut in report.cuts} == first
    assert [429, 858] == [first[1], first[2]]


def test_the_fixed_batch_form_passes_lookahead_and_check(tutorial):
    import attrs
    import numpy as np
    from fp.components import ref
    from fp.testing import assert_no_lookahead, assert_streaming_equals_batch
    mistakes = importlib.import_module("mistakes")

    def running(p, inputs, precision):  # the fix the tutorial gives, as written there
        volume = inputs[0]
        seen, total = np.arange(1, len(volume) + 1), np.cumsum(volume)
        return (np.where(total > 0, volume * seen / total, 1.0),)
    for fixed in (attrs.evolve(mistakes.relative_volume, batch=running), attrs.evolve(mistakes.relative_volume,
                                                                                      batch=None)):
        needs = mistakes.busy_trend.needs
        strategy = attrs.evolve(mistakes.busy_trend, needs=lambda p, fixed=fixed: {
            **needs(p), "volume": ref(fixed, "volume")})
        report = pipelines.lookahead({"data": {"dataset": "GOOG"}, "strategies": [
            {"type": strategy, "parameters": {"min_volume": [1.0, 1.5]}}]})
        assert () == report.findings
        assert_no_lookahead(fixed, max_examples=30)
        assert_streaming_equals_batch(fixed, max_examples=30)
