"""``admf check COMPONENT``: every law on a built-in or import-path component, as a pass/fail table."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.workflows.check import LawResult, check_component, format_check
from pipelines.cli.main import main

REPO = Path(__file__).resolve().parents[3]

PEEKING = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("lookback", "int", 3, minimum=1),), features={"close": ref("price")})
def next_bar(p, f):
    """Reads the next bar: long when tomorrow's close is higher."""
    close = np.asarray(f["close"], dtype=np.float64)
    if close.ndim == 0:
        return np.nan
    tomorrow = np.append(close[1:], np.nan)
    return np.where(tomorrow > close, 1.0, np.where(tomorrow < close, -1.0, np.nan))
'''

CORRECT = '''
import numpy as np
from fp.components import Param, ref, strategy

@strategy(params=(Param("lookback", "int", 10, minimum=1), Param("threshold", "float", 0.0, minimum=0.0)),
          features=lambda p: {"ret": ref("returns", period=p["lookback"]), "vol": ref("volatility", period=20)})
def calm_momentum(p, f):
    """Momentum, flat when volatility is above 3 % a bar."""
    signal = np.where(f["ret"] > p["threshold"], 1.0, np.where(f["ret"] < -p["threshold"], -1.0, np.nan))
    return np.where(f["vol"] > 0.03, 0.0, signal)
'''


def table(out: str) -> dict[str, str]:
    """law -> result, from the printed table."""
    rows = {}
    for line in out.splitlines()[3:]:
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(" ") and parts[1] in ("PASS", "FAIL", "ERROR", "n/a"):
            rows[parts[0]] = parts[1]
    return rows


def test_a_strategy_reading_the_next_bar_fails_with_a_counterexample_naming_a_bar(author, capsys):
    author("check_peeking", PEEKING)
    assert 1 == main(["check", "check_peeking:next_bar"])
    out = capsys.readouterr().out
    assert "admf check check_peeking:next_bar (strategy)" == out.splitlines()[0]
    assert "FAIL" == table(out)["no_lookahead"] == table(out)["streaming_equals_batch"]
    assert "PASS" == table(out)["deterministic"]
    lookahead = next(line for line in out.splitlines() if line.startswith("no_lookahead"))
    assert "check_peeking:next_bar with {'lookback': " in lookahead
    assert "looks ahead: output 'signal' at bar 0 changed from" in lookahead
    assert "falsifying example: Case(params={'lookback': " in out and "bars after 0 scaled by" in out
    assert out.rstrip().endswith("2 of 5 laws failed")


def test_a_correct_custom_strategy_passes_every_law(author, capsys):
    author("check_correct", CORRECT)
    assert 0 == main(["check", "check_correct:calm_momentum", "--examples", "25"])
    out = capsys.readouterr().out
    assert {law: "PASS" for law in ("no_lookahead", "streaming_equals_batch", "deterministic", "isolated",
                                    "schema_respected")} == table(out)
    assert out.rstrip().endswith("all 5 laws passed")


@pytest.mark.parametrize("name, kind", [("sma", "feature"), ("momentum", "strategy"), ("trend_regime", "classifier"),
                                        ("macd", "feature"), ("dual_momentum", "strategy"), ("trend_filter", "strategy")])
def test_builtins_pass(name, kind, capsys):
    assert 0 == main(["check", name, "--examples", "15"])
    out = capsys.readouterr().out
    assert f"admf check {name} ({kind})" == out.splitlines()[0]
    assert ("n/a" if kind != "strategy" else "PASS") == table(out)["isolated"]


@pytest.mark.skipif(importlib.util.find_spec("talib") is None, reason="TA-Lib features need the ta extra")
def test_a_talib_feature_passes_by_name(capsys):
    assert 0 == main(["check", "talib.MACD", "--examples", "10"])
    assert "admf check talib.MACD (feature)" == capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("argv, message", [
    (["check", "smaa"], "admf: error: component='smaa': not a built-in component (did you mean 'sma'?) nor an "
                        "import path 'module:attribute'; the built-ins: "),
    (["check", "check_peeking:nope"], "admf: error: component='check_peeking:nope': module 'check_peeking' has no "
                                      "attribute 'nope'; it has these components: next_bar"),
    (["check", "no_such_module:x"], "admf: error: component='no_such_module:x': cannot import module "
                                    "'no_such_module'"),
    (["check", "sma", "--kind", "strategy"], "admf: error: component='sma': not a built-in strategy"),
])
def test_a_bad_component_is_one_line_and_exit_code_2(author, capsys, argv, message):
    author("check_peeking", PEEKING)
    assert 2 == main(argv)
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and 1 == len(captured.err.strip().splitlines())
    assert "" == captured.out


def test_the_check_command_exits_1_from_a_shell(tmp_path):
    (tmp_path / "shell_peeking.py").write_text(textwrap.dedent(PEEKING))
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "check", "shell_peeking:next_bar",
                           "--examples", "20"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"})
    assert 1 == done.returncode, done.stderr
    assert "Traceback" not in done.stderr and "at bar" in done.stdout


def test_a_component_raising_inside_a_law_is_a_failure_with_its_example(author):
    author("check_fragile", '''
        import numpy as np
        from fp.components import Param, ref, strategy

        @strategy(params=(Param("period", "int", 5, minimum=1),), features={"close": ref("price")})
        def fragile(p, f):
            close = np.asarray(f["close"])
            if close.ndim and len(close) == 2:
                raise IndexError("two bars")
            return np.sign(close)
    ''')
    from check_fragile import fragile
    results = {r.law: r for r in check_component(fragile, max_examples=20)}
    assert results["no_lookahead"].failed
    assert "IndexError: two bars" in results["no_lookahead"].message
    assert results["no_lookahead"].example.startswith("Case(params={'period': ")


def test_format_check_marks_failures_and_not_applicable_laws():
    text = format_check("x:y", "feature", [LawResult("no_lookahead", "FAIL", "at bar 2 ...", "Case(...)"),
                                           LawResult("isolated", "n/a", "applies to strategies only")])
    assert "1 of 1 laws failed" == text.splitlines()[-1]


def test_without_hypothesis_the_check_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    assert 2 == main(["check", "sma"])
    assert 'admf check needs the optional package \'hypothesis\': pip install -e ".[dev]"' in capsys.readouterr().err
