"""Shared fixtures: the bundled data sets, loaded once per session."""
import pytest

from pipelines.data import load_market_data
from state.spec import DataSpec


@pytest.fixture(scope="session")
def goog():
    return load_market_data(DataSpec(dataset="GOOG")).bars[0]


@pytest.fixture(scope="session")
def eurusd():
    return load_market_data(DataSpec(dataset="EURUSD")).bars[0]
