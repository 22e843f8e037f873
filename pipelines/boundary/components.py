"""Loading custom components by import path: the one way code named in a spec gets loaded.

A spec names an author's own strategy, feature, classifier or objective as ``module:attribute``
(``type: mypkg.signals:ema_ribbon``, ``objective: mypkg.scores:calmar_like``); this is the only
place in admf that imports code by name. :func:`load_component` imports the module (the effect),
checks that the attribute is a component record of the expected kind, validates its declaration
(``fp.components.validate``: parameters, features, and one run on a small sample series that
must return one value per bar) and returns it named by its import path. Anything wrong is a
:class:`state.errors.SpecError` naming the spec path and what is wrong: the module cannot be
imported, it has no such attribute, the attribute is not a component of that kind, it reads an
undeclared parameter or feature, or it returns the wrong shape. YAML itself never executes
anything: it only names what to import.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any

import attrs

from fp.components import Component, ComponentError, kind_of, validate
from fp.registry import BUILTINS, COMPONENT_KINDS
from fp.talib_features import is_talib_name
from state.errors import MissingExtraError, SpecError

__all__ = ["is_import_path", "load_component", "resolve_component"]

_PLURAL = {"feature": "features", "strategy": "strategies", "classifier": "classifiers", "objective": "objectives",
           None: "components"}


def is_import_path(name: Any) -> bool:
    """Whether a component name is an import path ``module:attribute`` rather than a built-in's name.

    >>> is_import_path("mypkg.signals:ema_ribbon"), is_import_path("momentum")
    (True, False)
    """
    return isinstance(name, str) and ":" in name


def load_component(kind: str | None, target: str, path: str = "") -> Component:
    """Import ``target`` (``module:attribute``), check it is a valid ``kind`` component (any kind
    when ``None``) and return it renamed to ``target``; a :class:`SpecError` at ``path`` otherwise.

    >>> load_component("strategy", "fp.strategies:held_targets", "strategies[0].type")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    state.errors.SpecError: strategies[0].type='fp.strategies:held_targets': 'held_targets' is a plain function, ...
    """
    where = f"{path}={target!r}" if path else repr(target)
    module_name, _, attribute = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not module_name or not attribute or not all(part.isidentifier() for part in module_name.split(".")) \
            or not all(part.isidentifier() for part in attribute.split(".")):
        raise SpecError(where, "an import path is 'module:attribute', e.g. mypkg.signals:ema_ribbon")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise SpecError(where, f"cannot import module {module_name!r} (no module named {exc.name!r}): is it "
                                   "installed, or its folder on PYTHONPATH?") from None
        raise SpecError(where, f"importing module {module_name!r} failed: {exc}") from None
    except Exception as exc:  # the author's module raised while importing: say which and what
        raise SpecError(where, f"importing module {module_name!r} raised {type(exc).__name__}: {exc}") from None
    value: Any = module
    for i, part in enumerate(attribute.split(".")):
        if not hasattr(value, part):
            owner = module_name if i == 0 else f"{module_name}:{'.'.join(attribute.split('.')[:i])}"
            candidates = [n for n, v in vars(value).items()
                          if kind_of(v) is not None and (kind is None or kind_of(v) == kind)] \
                if hasattr(value, "__dict__") else []
            close = difflib.get_close_matches(part, candidates, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else (
                f"; it has these {_PLURAL[kind]}: {', '.join(sorted(candidates))}" if candidates else "")
            raise SpecError(where, f"module {owner!r} has no attribute {part!r}{hint}")
        value = getattr(value, part)
    component = _validated(value, kind, where)
    return component if component.name == target else attrs.evolve(component, name=target)


def resolve_component(name: str, *, kind: str | None = None, path: str = "") -> tuple[str, Component]:
    """A built-in component by name (of ``kind``, or of whichever kind has it) or a custom one by
    import path, as ``(kind, component)``; a :class:`SpecError` at ``path`` naming the choices.

    >>> resolve_component("sma")[0], resolve_component("trend_regime")[0]
    ('feature', 'classifier')
    """
    if is_import_path(name):
        component = load_component(kind, name, path)
        return kind_of(component), component
    kinds = [kind] if kind is not None else list(COMPONENT_KINDS)
    if is_talib_name(name) and kind in (None, "feature"):
        try:
            return "feature", BUILTINS.feature(name)
        except (KeyError, MissingExtraError) as exc:
            raise SpecError(f"{path}={name!r}" if path else repr(name), str(exc)) from None
    found = [(k, BUILTINS.of(k)[name]) for k in kinds if name in BUILTINS.of(k)]
    if len(found) == 1:
        return found[0]
    where = f"{path}={name!r}" if path else repr(name)
    if found:
        raise SpecError(where, f"names a built-in {' and a built-in '.join(k for k, _ in found)}: give the kind")
    known = sorted(n for k in kinds for n in BUILTINS.of(k) if not is_talib_name(n))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    talib = ", and TA-Lib's functions as talib.<NAME> (the ta extra)" if "feature" in kinds else ""
    raise SpecError(where, f"not a built-in {kind or 'component'}{hint} nor an import path 'module:attribute'; "
                           f"the built-ins: {', '.join(known)}{talib}")


def _validated(value: Any, kind: str | None, where: str) -> Component:
    try:
        return validate(value, kind)
    except (ComponentError, MissingExtraError) as exc:  # e.g. it needs a talib.<NAME> feature without TA-Lib
        raise SpecError(where, str(exc)) from None
