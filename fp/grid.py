"""Parameter grids: value ranges, constraints between parameters, and their cartesian expansion.

A spec gives each parameter one value or several (a list, or a ``{from, to, step}`` range built
by :func:`value_range`); :func:`expand` crosses the axes in order and keeps the points where every
:class:`Constraint` holds. Constraints are small Python expressions over parameter names
(``fast_period < slow_period``), parsed by :func:`parse_constraint` into a tree that only a
whitelist evaluator walks: user text is never given to ``eval``, ``exec`` or ``compile``.

Everything here is pure; invalid input raises :class:`state.errors.SpecError` naming the spec path.
"""
from __future__ import annotations

import ast
import itertools
import operator
import reprlib
from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from decimal import Decimal, localcontext
from typing import Any

import attrs

from state.errors import SpecError
from state.spec import Axis

__all__ = ["Constraint", "MAX_RANGE_POINTS", "Point", "covering", "expand", "iter_points", "parse_constraint", "value_range"]

#: Most values one ``{from, to, step}`` range may produce.
MAX_RANGE_POINTS = 100_000

_MAX_CONSTRAINT_CHARS = 1_000
_MAX_CONSTRAINT_DEPTH = 100
_RANGE_KEYS = ("from", "to", "step")
_ALLOWED = (
    "parameter names, numbers, strings, True/False, parentheses, comparisons (< <= > >= == !=), "
    "and/or/not, unary minus and + - * / // %"
)

_COMPARISONS = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_ARITHMETIC = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_STRUCTURE = (ast.Expression, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Name, ast.Constant,
              ast.And, ast.Or, ast.Not, ast.USub, ast.Load, *_COMPARISONS, *_ARITHMETIC)
_CONSTANT_TYPES = (bool, int, float, str)

#: Why a construct is refused, for the ones a user is likely to try.
_REFUSED = {
    ast.Call: "function calls are", ast.Attribute: "attribute access (a.b) is",
    ast.Subscript: "indexing (a[i]) is", ast.Lambda: "lambdas are", ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are", ast.DictComp: "comprehensions are", ast.GeneratorExp: "comprehensions are",
    ast.Pow: "'**' is", ast.IfExp: "conditional expressions (a if b else c) are",
    ast.NamedExpr: "assignments (:=) are", ast.In: "'in' is", ast.NotIn: "'not in' is", ast.Is: "'is' is",
    ast.IsNot: "'is not' is", ast.List: "lists are", ast.Tuple: "tuples are", ast.Set: "sets are",
    ast.Dict: "dicts are", ast.JoinedStr: "f-strings are", ast.UAdd: "unary plus is", ast.Invert: "'~' is",
    ast.BitAnd: "'&' is", ast.BitOr: "'|' is", ast.BitXor: "'^' is", ast.LShift: "'<<' is",
    ast.RShift: "'>>' is", ast.MatMult: "'@' is", ast.Starred: "'*' unpacking is",
}

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80


@attrs.frozen
class Constraint:
    """A parsed constraint: ``text`` as written, the parameter ``names`` it reads, its spec ``path``.

    Build one with :func:`parse_constraint`. Equality and hashing use ``text``, ``names`` and
    ``path``; the parsed tree is private.
    """

    text: str
    names: frozenset[str]
    path: str
    _tree: ast.Expression = attrs.field(repr=False, eq=False)

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the constraint is true for ``values`` (parameter name -> value).

        ``values`` must give every name in :attr:`names`. A constraint that cannot be evaluated
        (a missing name, division by zero, arithmetic on strings, ordering a string against a
        number) or that is not true/false raises :class:`SpecError` at :attr:`path`.

        >>> c = parse_constraint("fast_period < slow_period", "constraints[0]")
        >>> c.holds({"fast_period": 10, "slow_period": 20}), c.holds({"fast_period": 30, "slow_period": 20})
        (True, False)
        """
        result = _evaluate(self._tree.body, values, self)
        if not isinstance(result, bool):
            raise self._error(values, f"is {_short.repr(result)}, not True or False: write a comparison "
                                      f"such as 'a < b'")
        return result

    def _error(self, values: Mapping[str, Any], problem: str) -> SpecError:
        shown = ", ".join(f"{name}={_short.repr(values[name])}" for name in sorted(self.names) if name in values)
        return SpecError(f"{self.path}={_short.repr(self.text)}", f"with {shown or 'no values'} {problem}")


def parse_constraint(text: str, path: str) -> Constraint:
    """Parse ``text`` into a :class:`Constraint`, refusing anything outside the whitelist.

    Allowed: parameter names, numeric/string/bool constants, parentheses, comparisons
    (``< <= > >= == !=``, chained), ``and``/``or``/``not``, unary minus and ``+ - * / // %``.
    Anything else (calls, attributes, indexing, lambdas, comprehensions, ``**``, names starting
    with ``_``) raises :class:`SpecError` at ``path`` saying what is not allowed and where;
    a syntax error reports its column.

    >>> c = parse_constraint("fast_period * 2 <= slow_period", "constraints[0]")
    >>> sorted(c.names), c.holds({"fast_period": 10, "slow_period": 20})
    (['fast_period', 'slow_period'], True)
    >>> parse_constraint("__import__('os')", "constraints[1]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    state.errors.SpecError: constraints[1]="__import__('os')": function calls are not allowed (column 1); ...
    """
    where = f"{path}={_short.repr(text)}"
    if not isinstance(text, str):
        raise SpecError(where, "must be a string such as 'fast_period < slow_period'")
    if not text.strip():
        raise SpecError(where, "is empty: write a comparison such as 'fast_period < slow_period'")
    if len(text) > _MAX_CONSTRAINT_CHARS:
        raise SpecError(where, f"is {len(text)} characters long; a constraint may have at most "
                               f"{_MAX_CONSTRAINT_CHARS}: split it into several")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        detail = "" if exc.msg == "invalid syntax" else f" ({exc.msg})"
        raise SpecError(where, f"invalid syntax{detail} at {_syntax_position(text, exc)}: write an "
                               "expression such as 'fast_period < slow_period'") from None
    except (RecursionError, MemoryError):
        raise SpecError(where, "is nested too deeply: simplify it") from None
    names = _check_whitelist(tree, text, where)
    return Constraint(text, names, path, tree)


def value_range(spec: Mapping, path: str) -> tuple:
    """The inclusive range ``{from, to, step}`` as a tuple of values.

    Integers stay integers when ``from``, ``to`` and ``step`` all are; otherwise the values are
    floats computed in decimal (``from + i * step``), so no rounding error accumulates. ``to`` is
    included when a whole number of steps reaches it. Raises :class:`SpecError` for a missing or
    extra key, a value that is not a finite number, ``step <= 0``, ``from > to``, or more than
    :data:`MAX_RANGE_POINTS` values.

    >>> value_range({"from": 5, "to": 50, "step": 5}, "p")
    (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    >>> value_range({"from": 0.1, "to": 0.3, "step": 0.1}, "p")
    (0.1, 0.2, 0.3)

    See Also: :func:`expand`, which crosses the axes these values make.
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"{path}={_short.repr(spec)}", "must be a range {from: 5, to: 50, step: 5}")
    extra = [key for key in spec if key not in _RANGE_KEYS]
    if extra:
        raise SpecError(f"{path}.{extra[0]}", "unknown key: a range has exactly the keys from, to and step, "
                                              "e.g. {from: 5, to: 50, step: 5}")
    missing = [key for key in _RANGE_KEYS if key not in spec]
    if missing:
        raise SpecError(path, f"range is missing {' and '.join(missing)}: a range needs from, to and step, "
                              f"e.g. {{from: 5, to: 50, step: 5}}")
    start, stop, step = (_range_number(spec[key], f"{path}.{key}") for key in _RANGE_KEYS)
    if step <= 0:
        raise SpecError(f"{path}.step={spec['step']!r}", "must be > 0")
    if start > stop:
        raise SpecError(f"{path}.from={spec['from']!r}", f"must be <= to={spec['to']!r}: swap from and to")
    with localcontext() as ctx:
        ctx.prec = 60
        count = int((stop - start) // step) + 1
        if count > MAX_RANGE_POINTS:
            raise SpecError(path, f"range has {count:,} values; at most {MAX_RANGE_POINTS:,} are allowed: "
                                  "raise step or narrow from/to")
        if all(isinstance(spec[key], int) for key in _RANGE_KEYS):
            return tuple(range(int(start), int(stop) + 1, int(step)))
        return tuple(float(start + i * step) for i in range(count))


#: One point of a grid: ``(name, value)`` pairs in axis order.
Point = tuple[tuple[str, Any], ...]


def iter_points(axes: tuple[Axis, ...], constraints: tuple[Constraint, ...] = ()) -> Iterator[Point]:
    """The points of :func:`expand`, lazily: one at a time, in the same order.

    >>> next(iter_points((Axis("a", (1, 2)), Axis("b", ("x",)))))
    (('a', 1), ('b', 'x'))
    """
    names = tuple(axis.name for axis in axes)
    for values in itertools.product(*(axis.values for axis in axes)):
        point = tuple(zip(names, values))
        if constraints:
            by_name = dict(point)
            if not all(constraint.holds(by_name) for constraint in constraints):
                continue
        yield point


def expand(axes: tuple[Axis, ...], constraints: tuple[Constraint, ...] = ()) -> tuple[Point, ...]:
    """The cartesian product of ``axes`` filtered by ``constraints``.

    Points come in axis order with the last axis varying fastest; each point is a tuple of
    ``(name, value)`` pairs in axis order. Only points where every constraint holds are kept.
    No axes give one empty point. Returns a new tuple; the inputs are not modified.

    >>> axes = (Axis("fast", (10, 20)), Axis("slow", (15, 30)))
    >>> expand(axes)  # doctest: +NORMALIZE_WHITESPACE
    ((('fast', 10), ('slow', 15)), (('fast', 10), ('slow', 30)),
     (('fast', 20), ('slow', 15)), (('fast', 20), ('slow', 30)))
    >>> expand(axes, (parse_constraint("fast < slow", "constraints[0]"),))
    ((('fast', 10), ('slow', 15)), (('fast', 10), ('slow', 30)), (('fast', 20), ('slow', 30)))

    See Also: :func:`iter_points`, the lazy form.
    """
    return tuple(iter_points(axes, constraints))


def covering(points: Sequence[Collection[Hashable]], size: int | None = None) -> tuple[int, ...]:
    """A few points that together hold every item: the indices, ascending, of a covering design.

    Each point is the collection of its items (a combination's component and each of its
    parameter values). First every item is covered at least once (strength 1), greedily: the
    point holding the most items not yet covered, the first such point on a tie. With ``size``
    larger than that, points are added the same way for the pairs of items not yet seen together
    (strength 2), then in order, until ``size`` points (or all of them) are chosen. Deterministic;
    the strength-1 covering is returned whenever ``size`` is smaller than it.

    >>> grid = [{"a=1", "b=x"}, {"a=1", "b=y"}, {"a=2", "b=x"}, {"a=2", "b=y"}, {"a=3", "b=x"}]
    >>> covering(grid)
    (0, 3, 4)
    >>> covering(grid, 4)
    (0, 1, 3, 4)
    """
    sets = [frozenset(p) for p in points]
    chosen = _greedy(sets, set().union(*sets), [])
    if size is None or size <= len(chosen):
        return tuple(sorted(chosen))
    pairs = [frozenset(itertools.combinations(sorted(s, key=repr), 2)) for s in sets]
    seen = set().union(*(pairs[i] for i in chosen))
    chosen = _greedy(pairs, set().union(*pairs) - seen, chosen, size)
    rest = [i for i in range(len(sets)) if i not in set(chosen)]
    return tuple(sorted(chosen + rest[:max(0, size - len(chosen))]))


def _greedy(sets: list[frozenset], uncovered: set, chosen: list[int], size: int | None = None) -> list[int]:
    """``chosen`` extended by the set covering most of ``uncovered`` (the first on a tie) until
    nothing is uncovered (or ``size`` sets are chosen)."""
    chosen = list(chosen)
    while uncovered and (size is None or len(chosen) < size):
        best = max(range(len(sets)), key=lambda i: (len(sets[i] & uncovered), -i))
        chosen.append(best)
        uncovered = uncovered - sets[best]
    return chosen


# --------------------------------------------------------------------------------------------
# private helpers


def _range_number(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}={_short.repr(value)}", "must be a number")
    number = Decimal(value) if isinstance(value, int) else Decimal(str(value))  # str: 0.1 -> Decimal('0.1')
    if not number.is_finite():
        raise SpecError(f"{path}={value!r}", "must be a finite number")
    return number


def _check_whitelist(tree: ast.Expression, text: str, where: str) -> frozenset[str]:
    """The names ``tree`` reads, after checking every node is allowed.

    The walk is iterative, depth-bounded and left to right, so the first refused construct in
    the text is the one reported.
    """
    names = set()
    stack = [(tree, 0, tree)]  # node, depth, nearest node with a position (operators have none)
    while stack:
        node, depth, placed = stack.pop()
        placed = node if hasattr(node, "col_offset") else placed
        if depth > _MAX_CONSTRAINT_DEPTH:
            raise SpecError(where, "is nested too deeply: simplify it")
        if not isinstance(node, _STRUCTURE):
            what = _REFUSED.get(type(node), f"{type(node).__name__} expressions are")
            raise SpecError(where, f"{what} not allowed{_column(placed, text)}; a constraint may use {_ALLOWED}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, _CONSTANT_TYPES):
            raise SpecError(where, f"the constant {node.value!r} is not allowed{_column(placed, text)}; "
                                   f"a constraint may use {_ALLOWED}")
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise SpecError(where, f"the name {node.id!r} is not allowed{_column(placed, text)}: "
                                       "names starting with '_' are refused; use parameter names")
            names.add(node.id)
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, depth + 1, placed) for child in reversed(children))  # leftmost first
    return frozenset(names)


def _syntax_position(text: str, exc: SyntaxError) -> str:
    """Where a syntax error is, counted in ``text`` as written (before stripping)."""
    if not exc.offset:  # the parser ran out of input
        return "the end"
    return _position(text, exc.lineno or 1, exc.offset - 1)


def _column(node: ast.AST, text: str) -> str:
    if not hasattr(node, "col_offset"):  # only the root ast.Expression, which is never refused
        return ""
    return f" ({_position(text, node.lineno, node.col_offset)})"


def _position(text: str, line: int, offset: int) -> str:
    """``column C`` (1-based) of a 0-based ``offset`` into the stripped text; ``line L, column C`` past line 1."""
    if line > 1:
        return f"line {line}, column {offset + 1}"
    return f"column {offset + 1 + len(text) - len(text.lstrip())}"


def _evaluate(node: ast.expr, values: Mapping[str, Any], constraint: Constraint) -> Any:
    """Value of a whitelisted ``node``; recursion is bounded by the parse-time depth check."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise constraint._error(values, f"there is no parameter {node.id!r}: the point has "
                                            f"{', '.join(sorted(values)) or 'no parameters'}")
        return values[node.id]
    if isinstance(node, ast.BoolOp):
        want = isinstance(node.op, ast.Or)  # `or` stops at the first True, `and` at the first False
        for operand in node.values:
            if _truth(_evaluate(operand, values, constraint), constraint, values) is want:
                return want
        return not want
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values, constraint)
        if isinstance(node.op, ast.Not):
            return not _truth(operand, constraint, values)
        return -_number(operand, constraint, values)
    if isinstance(node, ast.BinOp):
        left = _number(_evaluate(node.left, values, constraint), constraint, values)
        right = _number(_evaluate(node.right, values, constraint), constraint, values)
        try:
            return _ARITHMETIC[type(node.op)](left, right)
        except ZeroDivisionError:
            raise constraint._error(values, "divides by zero") from None
        except OverflowError as exc:
            raise constraint._error(values, f"overflows: {exc}") from None
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values, constraint)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, values, constraint)
            try:
                if not _COMPARISONS[type(op)](left, right):
                    return False
            except TypeError:
                raise constraint._error(values, f"cannot compare {_short.repr(left)} with "
                                                f"{_short.repr(right)}") from None
            left = right
        return True
    raise AssertionError(f"unreachable: {type(node).__name__} passed the whitelist")  # pragma: no cover


def _truth(value: Any, constraint: Constraint, values: Mapping[str, Any]) -> bool:
    if not isinstance(value, bool):
        raise constraint._error(values, f"uses {_short.repr(value)} with and/or/not, which need True or False")
    return value


def _number(value: Any, constraint: Constraint, values: Mapping[str, Any]) -> int | float:
    if not isinstance(value, (int, float)):
        raise constraint._error(values, f"does arithmetic on {_short.repr(value)}, which is not a number")
    return value
