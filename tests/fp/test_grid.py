"""Tests of fp.grid: the safe constraint parser, value ranges and grid expansion."""
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fp import grid
from fp.grid import Constraint, covering, expand, iter_points, parse_constraint, value_range
from state.errors import SpecError
from state.spec import Axis


def test_exports_are_sorted_and_public():
    assert sorted(grid.__all__) == grid.__all__
    assert all(hasattr(grid, name) for name in grid.__all__)


# --------------------------------------------------------------------------------------------
# parse_constraint


def test_constraint_records_text_names_and_path():
    c = parse_constraint("fast_period < slow_period", "constraints[0]")
    assert "fast_period < slow_period" == c.text
    assert frozenset({"fast_period", "slow_period"}) == c.names
    assert "constraints[0]" == c.path
    assert isinstance(c, Constraint)


def test_constraint_is_frozen_and_compares_by_text_names_path():
    a = parse_constraint("a < b", "p")
    assert parse_constraint("a < b", "p") == a
    assert hash(parse_constraint("a < b", "p")) == hash(a)
    with pytest.raises(AttributeError):
        a.text = "a > b"


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("a < b", {"a": 1, "b": 2}, True),
    ("a <= b", {"a": 2, "b": 2}, True),
    ("a > b", {"a": 2, "b": 2}, False),
    ("a >= b", {"a": 2, "b": 2}, True),
    ("a == b", {"a": "hmm", "b": "hmm"}, True),
    ("a != 'svm'", {"a": "hmm"}, True),
    ("1 < a < b < 10", {"a": 2, "b": 5}, True),
    ("1 < a < b < 10", {"a": 5, "b": 2}, False),
    ("a < b and b < 10", {"a": 1, "b": 20}, False),
    ("a > b or b == 20", {"a": 1, "b": 20}, True),
    ("not a < b", {"a": 1, "b": 2}, False),
    ("not flag", {"flag": False}, True),
    ("-a < b", {"a": 3, "b": -2}, True),
    ("a * 2 <= b", {"a": 10, "b": 20}, True),
    ("(a + b) / 2 == 15", {"a": 10, "b": 20}, True),
    ("b // a == 2 and b % a == 0", {"a": 10, "b": 20}, True),
    ("a - b > 0", {"a": 0.3, "b": 0.1}, True),
    ("flag == True", {"flag": True}, True),
])
def test_constraint_holds(text, values, expected):
    assert expected == parse_constraint(text, "p").holds(values)


def test_and_or_short_circuit():
    # the right side would divide by zero; `and`/`or` stop before it, as in Python
    assert False is parse_constraint("b != 0 and a / b > 1", "p").holds({"a": 1, "b": 0})
    assert True is parse_constraint("b == 0 or a / b > 1", "p").holds({"a": 1, "b": 0})


@pytest.mark.parametrize(("text", "what"), [
    ("__import__('os')", "function calls are not allowed"),
    ("a.b", r"attribute access \(a.b\) is not allowed"),
    ("f(x)", "function calls are not allowed"),
    ("[x for x in y]", "comprehensions are not allowed"),
    ("x ** 2", r"'\*\*' is not allowed"),
    ("lambda: 1", "lambdas are not allowed"),
    ("a[0] < 1", r"indexing \(a\[i\]\) is not allowed"),
    ("a in (1, 2)", "'in' is not allowed"),
    ("a is None", "'is' is not allowed"),
    ("a if b else c", "conditional expressions"),
    ("(y := 1)", r"assignments \(:=\) are not allowed"),
    ("__import__", "the name '__import__' is not allowed"),
    ("_private < 1", "the name '_private' is not allowed"),
    ("a == None", "the constant None is not allowed"),
    ("a & b", "'&' is not allowed"),
    ("f'{a}'", "f-strings are not allowed"),
])
def test_whitelist_rejects(text, what):
    with pytest.raises(SpecError, match=what) as info:
        parse_constraint(text, "strategies[0].constraints[1]")
    assert f"strategies[0].constraints[1]={text!r}" == info.value.path


def test_rejection_names_the_column():
    with pytest.raises(SpecError, match=r"attribute access \(a.b\) is not allowed \(column 11\)"):
        parse_constraint("a < 1 and b.c > 2", "p")


def test_rejection_of_an_operator_names_its_expression_column():
    with pytest.raises(SpecError, match=r"'\*\*' is not allowed \(column 9\)"):
        parse_constraint("a < 1 + x ** 2", "p")


def test_syntax_error_reports_the_column():
    with pytest.raises(SpecError, match=r"invalid syntax \(unmatched '\)'\) at column 6") as info:
        parse_constraint("a < b)", "constraints[0]")
    assert "constraints[0]='a < b)'" == info.value.path


def test_syntax_error_column_counts_leading_spaces():
    with pytest.raises(SpecError, match="column 8"):
        parse_constraint("  a < b)", "p")


def test_syntax_error_at_the_end():
    with pytest.raises(SpecError, match="invalid syntax at the end"):
        parse_constraint("a <", "p")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_constraint_is_rejected(text):
    with pytest.raises(SpecError, match="is empty"):
        parse_constraint(text, "p")


def test_non_string_constraint_is_rejected():
    with pytest.raises(SpecError, match="must be a string"):
        parse_constraint(5, "p")


def test_very_long_or_deep_constraints_are_rejected_not_crashing():
    with pytest.raises(SpecError, match="characters long"):
        parse_constraint("+".join(["a"] * 1000), "p")
    with pytest.raises(SpecError, match="nested|invalid syntax"):
        parse_constraint("(" * 300 + "a" + ")" * 300, "p")
    with pytest.raises(SpecError, match="nested too deeply"):
        parse_constraint(" + ".join(["a"] * 150) + " > 0", "p")


@pytest.mark.parametrize(("text", "values", "problem"), [
    ("a / b > 1", {"a": 1, "b": 0}, "with a=1, b=0 divides by zero"),
    ("a < b", {"a": "hmm", "b": 1}, "cannot compare 'hmm' with 1"),
    ("a * 3 == 'x'", {"a": "hmm"}, "does arithmetic on 'hmm'"),
    ("a - b", {"a": 1, "b": 2}, "is -1, not True or False"),
    ("a and b", {"a": 1, "b": 2}, "need True or False"),
    ("a < c", {"a": 1}, "there is no parameter 'c'"),
])
def test_evaluation_errors_name_the_constraint_and_values(text, values, problem):
    with pytest.raises(SpecError, match=problem) as info:
        parse_constraint(text, "constraints[2]").holds(values)
    assert f"constraints[2]={text!r}" == info.value.path


def test_holds_never_runs_python_code():
    # names are looked up in the given values only, never in builtins
    with pytest.raises(SpecError, match="there is no parameter 'open'"):
        parse_constraint("open == 1", "p").holds({})


# --------------------------------------------------------------------------------------------
# value_range


@pytest.mark.parametrize(("spec", "expected"), [
    ({"from": 5, "to": 50, "step": 5}, (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)),
    ({"from": 1, "to": 10, "step": 4}, (1, 5, 9)),
    ({"from": 3, "to": 3, "step": 1}, (3,)),
    ({"from": -2, "to": 2, "step": 2}, (-2, 0, 2)),
    ({"from": 0.1, "to": 0.3, "step": 0.1}, (0.1, 0.2, 0.3)),
    ({"from": 0, "to": 1, "step": 0.1}, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)),
    ({"from": 1, "to": 2, "step": 0.5}, (1.0, 1.5, 2.0)),
    ({"from": 0.01, "to": 0.05, "step": 0.02}, (0.01, 0.03, 0.05)),
    ({"from": 1.0, "to": 3.0, "step": 1}, (1.0, 2.0, 3.0)),
])
def test_value_range(spec, expected):
    actual = value_range(spec, "p")
    assert expected == actual
    assert [type(v) for v in expected] == [type(v) for v in actual]


def test_value_range_ints_stay_ints():
    assert all(type(v) is int for v in value_range({"from": 5, "to": 50, "step": 5}, "p"))


def test_value_range_floats_do_not_accumulate_error():
    values = value_range({"from": 0, "to": 100, "step": 0.1}, "p")
    assert 1001 == len(values)
    assert 100.0 == values[-1]
    assert 0.3 == values[3]
    assert all(round(i * 0.1, 10) == v for i, v in enumerate(values))


def test_value_range_stops_before_an_unreached_end():
    assert (0.0, 0.25) == value_range({"from": 0, "to": 0.3, "step": 0.25}, "p")


@pytest.mark.parametrize(("spec", "path", "message"), [
    ({"from": 1, "to": 5}, "p", "range is missing step"),
    ({"to": 5}, "p", "range is missing from and step"),
    ({"from": 1, "to": 5, "step": 0}, "p.step=0", "must be > 0"),
    ({"from": 1, "to": 5, "step": -1}, "p.step=-1", "must be > 0"),
    ({"from": 5, "to": 1, "step": 1}, "p.from=5", "must be <= to=1"),
    ({"from": 1, "to": 5, "step": 1, "by": 2}, "p.by", "unknown key"),
    ({"from": 0, "to": 1_000_000, "step": 1}, "p", "range has 1,000,001 values; at most 100,000"),
    ({"from": True, "to": 5, "step": 1}, "p.from=True", "must be a number"),
    ({"from": "1", "to": 5, "step": 1}, "p.from='1'", "must be a number"),
    ({"from": 0, "to": math.inf, "step": 1}, "p.to=inf", "must be a finite number"),
    ([1, 2], "p=[1, 2]", "must be a range"),
])
def test_value_range_errors(spec, path, message):
    with pytest.raises(SpecError, match=message) as info:
        value_range(spec, "p")
    assert path == info.value.path


def test_value_range_allows_exactly_the_maximum():
    assert grid.MAX_RANGE_POINTS == len(value_range({"from": 1, "to": grid.MAX_RANGE_POINTS, "step": 1}, "p"))


# --------------------------------------------------------------------------------------------
# expand


def test_expand_last_axis_varies_fastest():
    axes = (Axis("a", (1, 2)), Axis("b", ("x", "y")), Axis("c", (True,)))
    expected = (
        (("a", 1), ("b", "x"), ("c", True)),
        (("a", 1), ("b", "y"), ("c", True)),
        (("a", 2), ("b", "x"), ("c", True)),
        (("a", 2), ("b", "y"), ("c", True)),
    )
    assert expected == expand(axes)


def test_expand_keeps_points_where_every_constraint_holds():
    axes = (Axis("fast", (5, 10, 20)), Axis("slow", (10, 20, 30)))
    constraints = (parse_constraint("fast < slow", "c[0]"), parse_constraint("slow - fast >= 10", "c[1]"))
    expected = (
        (("fast", 5), ("slow", 20)),
        (("fast", 5), ("slow", 30)),
        (("fast", 10), ("slow", 20)),
        (("fast", 10), ("slow", 30)),
        (("fast", 20), ("slow", 30)),
    )
    assert expected == expand(axes, constraints)


def test_expand_can_leave_nothing():
    axes = (Axis("a", (1, 2)),)
    assert () == expand(axes, (parse_constraint("a > 5", "c"),))


def test_expand_without_axes_is_one_empty_point():
    assert ((),) == expand(())


def test_expand_does_not_modify_its_inputs():
    axes = (Axis("a", (1, 2)), Axis("b", (3,)))
    before = (Axis("a", (1, 2)), Axis("b", (3,)))
    expand(axes)
    assert before == axes


def test_iter_points_is_lazy():
    huge = (Axis("a", tuple(range(10_000))),) * 4  # 10^16 points: only lazy iteration can start
    assert (("a", 0),) * 3 + (("a", 1),) == tuple(itertools.islice(iter_points(huge), 2))[1]


def test_expand_surfaces_constraint_errors():
    with pytest.raises(SpecError, match="divides by zero"):
        expand((Axis("a", (1, 0)),), (parse_constraint("1 / a > 0", "c[0]"),))


_axis_lengths = st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=4)


@given(_axis_lengths)
def test_expand_is_the_full_product_in_lexicographic_order(lengths):
    # axis i holds the distinct values (i, 0), (i, 1), ...: a point maps back to its index tuple
    axes = tuple(Axis(f"p{i}", tuple((i, j) for j in range(n))) for i, n in enumerate(lengths))
    points = expand(axes)
    indices = [tuple(value[1] for _, value in point) for point in points]
    assert math.prod(lengths) == len(points)
    assert len(set(points)) == len(points)
    assert sorted(indices) == indices
    assert list(itertools.product(*(range(n) for n in lengths))) == indices
    assert all(tuple(a.name for a in axes) == tuple(name for name, _ in point) for point in points)


@given(_axis_lengths, st.integers(min_value=0, max_value=3))
def test_expand_with_constraints_is_the_filtered_product(lengths, bound):
    axes = tuple(Axis(f"p{i}", tuple(range(n))) for i, n in enumerate(lengths))
    names = [a.name for a in axes]
    if not names:
        return
    constraint = parse_constraint(f"{names[0]} + {names[-1]} <= {bound}", "c")
    expected = tuple(p for p in expand(axes) if p[0][1] + p[-1][1] <= bound)
    assert expected == expand(axes, (constraint,))


# ---- covering designs ------------------------------------------------------------------------------

@given(st.lists(st.frozensets(st.integers(0, 12), min_size=1, max_size=5), min_size=1, max_size=30),
       st.integers(1, 40))
def test_a_covering_holds_every_item_and_any_size_above_it(points, size):
    chosen = covering(points)
    assert set().union(*points) == set().union(*(points[i] for i in chosen))
    assert list(chosen) == sorted(set(chosen))
    bigger = covering(points, size)
    assert set(chosen) <= set(bigger)
    assert len(bigger) == max(len(chosen), min(size, len(points)))
    assert set().union(*points) == set().union(*(points[i] for i in bigger))


def test_a_covering_of_a_grid_takes_as_many_points_as_its_longest_axis():
    # 3 x 2 x 2: every value of every axis in 3 points (the longest axis has 3 values)
    # (point i = a, b, c in that order, c fastest): 0 = (1, x, T) covers 3 items, then 7 = (2, y, F) the
    # 3 left of a, b and c but a = 3, then 8 = (3, x, T), the first point with a = 3
    grid = [{("a", a), ("b", b), ("c", c)} for a in (1, 2, 3) for b in "xy" for c in (True, False)]
    assert (0, 7, 8) == covering(grid)
    # a 4th point adds pairs not yet seen together: every point adds 2, the first is 1 = (1, x, F)
    assert (0, 1, 7, 8) == covering(grid, 4)
    assert tuple(range(12)) == covering(grid, 20)
