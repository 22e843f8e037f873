"""``admf check``: every law of one component, proved over generated data, as a pass/fail table.

:func:`check_component` runs each law of ``fp.testing`` that applies to a feature, strategy or
classifier (built-in, or an author's own loaded by import path) and returns one
:class:`LawResult` per law: passed, failed with the checker's message and hypothesis' minimal
falsifying example, or not applicable. :func:`format_check` prints them as a table. The laws need
hypothesis (the ``dev`` extra); without it the check fails with a message naming the extra.
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import attrs

from fp.components import Component, kind_of
from state.errors import MissingExtraError

__all__ = ["LawResult", "check_component", "format_check"]


@attrs.frozen
class LawResult:
    """One law's outcome: ``result`` is ``PASS``, ``FAIL``, ``ERROR`` (no valid case could be
    generated) or ``n/a``; ``message`` the checker's failure message, ``example`` hypothesis'
    minimal falsifying example (both empty on a pass); ``seconds`` how long it took."""

    law: str
    result: str
    message: str = ""
    example: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.result in ("FAIL", "ERROR")


def _testing() -> Any:
    try:
        import hypothesis  # noqa: F401  (imported first so a missing package fails here)
    except ImportError as exc:
        raise MissingExtraError("admf check", "dev", "hypothesis") from exc
    import fp.testing
    return fp.testing


def _example(exc: BaseException) -> str:
    """Hypothesis' falsifying example from the notes it attaches to the exception, on one line."""
    for note in getattr(exc, "__notes__", ()):
        if "case=" in note:
            text = note.split("case=", 1)[1].strip()
            return text.removesuffix(")").strip().removesuffix(",").strip()
    return ""


def check_component(component: Component, *, max_examples: int | None = None,
                    max_bars: int | None = None) -> tuple[LawResult, ...]:
    """Run every law on ``component`` (see the module docstring); ``max_examples`` and
    ``max_bars`` override each checker's defaults. Warnings and log records the component emits
    on generated data (an estimator that does not converge on 30 bars) are silenced while the laws
    run: the table is the report."""
    testing = _testing()
    options = {k: v for k, v in (("max_examples", max_examples), ("max_bars", max_bars)) if v is not None}
    applicable = testing.laws_for(component)
    results: list[LawResult] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        try:
            for law, checker in testing.LAWS.items():
                results.append(_check_law(component, law, checker, law in applicable, options))
        finally:
            logging.disable(previous)
    return tuple(results)


def _check_law(component: Component, law: str, checker: Any, applies: bool, options: dict) -> LawResult:
    from hypothesis.errors import HypothesisException
    if not applies:
        return LawResult(law, "n/a", f"applies to strategies only (this is a {kind_of(component)})")
    started = time.perf_counter()
    try:
        checker(component, **options)
    except AssertionError as exc:
        result = LawResult(law, "FAIL", _first_line(exc), _example(exc))
    except HypothesisException as exc:
        result = LawResult(law, "ERROR", f"{type(exc).__name__}: {_first_line(exc)}")
    except Exception as exc:  # the component raised inside the law: a failure, shown with its example
        result = LawResult(law, "FAIL", f"{type(exc).__name__}: {_first_line(exc)}", _example(exc))
    else:
        result = LawResult(law, "PASS")
    return attrs.evolve(result, seconds=time.perf_counter() - started)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def format_check(name: str, kind: str, results: Sequence[LawResult]) -> str:
    """The results as a table ``law | result | counterexample``, each failure's falsifying example
    on the line below it, and a summary line.

    >>> print(format_check("sma", "feature", [LawResult("no_lookahead", "PASS", seconds=0.5),
    ...                                        LawResult("deterministic", "FAIL", "at bar 3 ...", "Case(...)")]))
    admf check sma (feature)
    law            result  counterexample
    -------------  ------  --------------
    no_lookahead   PASS
    deterministic  FAIL    at bar 3 ...
                           falsifying example: Case(...)
    1 of 2 laws failed
    """
    law_width = max([len("law")] + [len(r.law) for r in results])
    result_width = max([len("result")] + [len(r.result) for r in results])
    cells = [r.message if r.failed or r.result == "n/a" else "" for r in results]
    message_width = max([len("counterexample")] + [len(c) for c in cells])
    indent = " " * (law_width + result_width + 4)

    def line(law: str, result: str, text: str) -> str:
        return f"{law.ljust(law_width)}  {result.ljust(result_width)}  {text}".rstrip()

    lines = [f"admf check {name} ({kind})", line("law", "result", "counterexample"),
             line("-" * law_width, "-" * result_width, "-" * min(message_width, 80))]
    for r, cell in zip(results, cells):
        lines.append(line(r.law, r.result, cell))
        if r.example:
            lines.append(f"{indent}falsifying example: {r.example}")
    failed = sum(r.failed for r in results)
    checked = sum(r.result != "n/a" for r in results)
    lines.append(f"{failed} of {checked} laws failed" if failed else f"all {checked} laws passed")
    return "\n".join(lines)
