"""Every built-in feature (the basics and the native indicators), strategy (the templates too) and classifier obeys every component law that applies to it
(ARCHITECTURE.md laws 1, 3, 4, 6), checked with exactly the ``fp.testing`` checkers authors use:
one line per component per law.

Classifiers backed by fitted models need the ``regimes`` extra and are skipped without it; they
fit a model per example, so they run fewer examples (``tests/laws/test_classifier_laws.py``
checks them further).
"""
import importlib.util

import pytest

from fp.classifiers import CLASSIFIERS
from fp.features import FEATURES
from fp.indicators import INDICATORS
from fp.strategies import STRATEGIES
from fp.templates import TEMPLATES
from fp.testing import (
    assert_deterministic,
    assert_isolated,
    assert_no_lookahead,
    assert_schema_respected,
    assert_streaming_equals_batch,
)

pytestmark = pytest.mark.filterwarnings("ignore:Number of distinct clusters")

_EXTRA_MODULES = {"regimes": ("hmmlearn", "sklearn")}


def _param(component):
    missing = [m for m in _EXTRA_MODULES.get(getattr(component, "extra", None), ())
               if importlib.util.find_spec(m) is None]
    marks = pytest.mark.skip(reason=f"needs the {component.extra!r} extra ({', '.join(missing)})") if missing else ()
    return pytest.param(component, id=component.name, marks=marks)


STRATEGY_RECORDS = {**STRATEGIES, **TEMPLATES}
COMPONENTS = [_param(c) for c in (*FEATURES.values(), *INDICATORS.values(), *STRATEGY_RECORDS.values(),
                                   *CLASSIFIERS.values())]


def examples(component, default):
    """A model-based classifier fits once per example: fewer of them."""
    return {"max_examples": min(default, 8)} if getattr(component, "extra", None) else {}


@pytest.mark.parametrize("component", COMPONENTS)
def test_streaming_equals_batch(component):
    assert_streaming_equals_batch(component, **examples(component, 60))


@pytest.mark.parametrize("component", COMPONENTS)
def test_no_lookahead(component):
    assert_no_lookahead(component, **examples(component, 60))


@pytest.mark.parametrize("component", COMPONENTS)
def test_deterministic(component):
    assert_deterministic(component, **examples(component, 30))


@pytest.mark.parametrize("component", COMPONENTS)
def test_schema_respected(component):
    assert_schema_respected(component, **examples(component, 40))


@pytest.mark.parametrize("strategy", list(STRATEGY_RECORDS.values()), ids=list(STRATEGY_RECORDS))
def test_isolated(strategy):
    assert_isolated(strategy)
