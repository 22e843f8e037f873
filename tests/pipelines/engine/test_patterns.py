"""Patterns are validated before use; each malformed graph is refused with its reason."""
import attrs
import pytest

from pipelines.engine.container import Container, fold
from pipelines.engine.patterns import FULL_BACKTEST, Stage, container_for, validate
from state.errors import PatternError
from state.events import FillQuote, OrderApproved, OrderFilled, OrderSubmitted


def without(stage_name):
    return attrs.evolve(FULL_BACKTEST, stages=tuple(s for s in FULL_BACKTEST.stages if s.name != stage_name))


def replaced(stage_name, **changes):
    return attrs.evolve(FULL_BACKTEST, stages=tuple(attrs.evolve(s, **changes) if s.name == stage_name else s
                                                    for s in FULL_BACKTEST.stages))


def test_the_backtest_pattern_is_valid_and_routes_every_sparse_kind():
    assert validate(FULL_BACKTEST) is FULL_BACKTEST
    assert {OrderSubmitted, OrderApproved, FillQuote, OrderFilled} == set(container_for(FULL_BACKTEST).routes)
    assert ("data", "feature_hub", "execution") == FULL_BACKTEST.shared
    assert ("strategy", "orders", "risk", "portfolio", "ledger") == FULL_BACKTEST.per_lane


def test_a_consumed_kind_nobody_produces_is_refused():
    with pytest.raises(PatternError, match="stage 'execution' consumes OrderApproved, which no stage produces"):
        validate(without("risk"))


def test_a_produced_kind_nobody_consumes_is_refused():
    from state.ledger import Trades
    with pytest.raises(PatternError, match="stage 'orders' produces OrderExpired, which nothing consumes or sinks"):
        validate(attrs.evolve(FULL_BACKTEST, sinks=(Trades,)))


def test_a_sparse_stage_without_a_handler_is_refused():
    with pytest.raises(PatternError, match="sparse stage 'risk' has no handler for OrderSubmitted"):
        validate(replaced("risk", handlers=()))


def test_a_cycle_outside_the_feedback_kinds_is_refused():
    with pytest.raises(PatternError, match="cycle .*portfolio.* is not through a feedback kind"):
        # a portfolio that re-submits on fills closes the loop portfolio → risk → execution → portfolio
        validate(attrs.evolve(replaced("portfolio", produces=(OrderSubmitted,)), feedback=()))


def test_dense_work_feeding_the_fold_may_not_depend_on_it():
    with pytest.raises(PatternError, match="dense stage 'strategy' feeds the fold but consumes OrderFilled"):
        validate(replaced("strategy", consumes=(OrderFilled,)))


def test_one_kind_routed_to_two_sparse_stages_is_refused():
    extra = Stage("audit", "lane", "sparse", consumes=(OrderSubmitted,), handlers=((OrderSubmitted, lambda s, e: (s, ())),))
    with pytest.raises(PatternError, match="OrderSubmitted is consumed by several sparse stages"):
        validate(attrs.evolve(FULL_BACKTEST, stages=FULL_BACKTEST.stages + (extra,)))


def test_container_fold_is_depth_first_and_logs_emitted_events():
    routes = {int: lambda s, e: (s + [e], (str(e),) if e < 2 else ()), str: lambda s, e: (s + [e], ())}
    state, emitted = fold(Container("t", routes), [], [1, 2])
    assert [1, "1", 2] == state and ["1"] == emitted


def test_folding_a_stream_equals_folding_its_parts():
    routes = {int: lambda s, e: (s + e, (float(e),)), float: lambda s, e: (s * 2, ())}
    c = Container("t", routes)
    whole = fold(c, 1, [1, 2, 3])
    first = fold(c, 1, [1])
    rest = fold(c, first[0], [2, 3])
    assert whole == (rest[0], first[1] + rest[1])
