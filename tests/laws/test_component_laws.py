"""Every built-in feature and strategy obeys every component law (ARCHITECTURE.md laws 3, 4, 6)."""
import pytest

from fp.features import FEATURES
from fp.strategies import STRATEGIES
from fp.testing import (
    assert_deterministic,
    assert_isolated,
    assert_no_lookahead,
    assert_schema_respected,
    assert_streaming_equals_batch,
)

COMPONENTS = [*FEATURES.values(), *STRATEGIES.values()]
IDS = [c.name for c in COMPONENTS]


@pytest.mark.parametrize("component", COMPONENTS, ids=IDS)
def test_streaming_equals_batch(component):
    assert_streaming_equals_batch(component)


@pytest.mark.parametrize("component", COMPONENTS, ids=IDS)
def test_no_lookahead(component):
    assert_no_lookahead(component)


@pytest.mark.parametrize("component", COMPONENTS, ids=IDS)
def test_deterministic(component):
    assert_deterministic(component)


@pytest.mark.parametrize("component", COMPONENTS, ids=IDS)
def test_schema_respected(component):
    assert_schema_respected(component)


@pytest.mark.parametrize("strategy", list(STRATEGIES.values()), ids=list(STRATEGIES))
def test_isolated(strategy):
    assert_isolated(strategy)
