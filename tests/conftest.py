"""Shared fixtures: the bundled data sets (loaded once per session), and ``author`` for tests of
custom components. Every hypothesis test of the suite draws the same examples on every run (the
``deterministic`` profile): CI is red for a change, never for a lucky draw."""
import sys
import textwrap

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")

from pipelines.boundary.data import load_market_data
from state.spec import DataSpec


@pytest.fixture(scope="session")
def goog():
    return load_market_data(DataSpec(dataset="GOOG")).bars[0]


@pytest.fixture(scope="session")
def eurusd():
    return load_market_data(DataSpec(dataset="EURUSD")).bars[0]


@pytest.fixture
def author(tmp_path, monkeypatch):
    """Write modules into an importable folder: ``author(name, text)``; they are forgotten afterwards."""
    written = []

    def write(name: str, text: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        written.append(name)
        return name
    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in written:
        sys.modules.pop(name, None)
