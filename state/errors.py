"""The one error root of admf and its user-facing kinds.

Every error a user can cause is an :class:`AdmfError`; each kind also subclasses the built-in
exception a Python caller would expect (``SpecError`` is a ``ValueError``), so ``except ValueError``
keeps working. Messages name *where* (a spec path such as ``strategies[0].parameters.fast_period``,
or a file and row) and *what to do*.
"""
from __future__ import annotations

__all__ = ["AdmfError", "ArgumentError", "ComponentError", "DataError", "MissingExtraError", "PatternError", "SpecError", "StoreError",
           "UnknownComponentError"]


class AdmfError(Exception):
    """Root of every error admf raises on purpose."""


class ArgumentError(AdmfError, ValueError):
    """A function or record of admf was called, from code, with a value it cannot take (a spec's
    values raise :class:`SpecError` instead); the message names the argument and what it takes."""


class SpecError(AdmfError, ValueError):
    """A spec value is invalid; ``path`` is where in the spec (``strategies[0].type``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)

    def __reduce__(self):  # crosses to and from worker processes whole
        return type(self), (self.path, self.message)


class DataError(AdmfError, ValueError):
    """Market data is missing or malformed; ``source`` names the file, ``line`` the 1-based line
    of the file (the header is line 1), as an editor shows it."""

    def __init__(self, source: str, message: str, *, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        return _data_error, (type(self), self.source, self.message, self.line)


def _data_error(kind: type, source: str, message: str, line: int | None) -> DataError:
    return kind(source, message, line=line)


class StoreError(AdmfError, ValueError):
    """A signal store is missing, corrupt, or does not match the data it is replayed on."""


class PatternError(AdmfError, ValueError):
    """A pattern (a graph of stages and routes) failed validation; the message gives the reason."""


class MissingExtraError(AdmfError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, what: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(f'{what} needs the optional package {module!r}: pip install -e ".[{extra}]"')
        self.what, self.module = what, module

    def __reduce__(self):
        return type(self), (self.what, self.extra, self.module)


class ComponentError(AdmfError, TypeError):
    """A component is declared wrongly, breaks its contract, or cannot be registered; the message
    says which and how to fix it."""


class UnknownComponentError(AdmfError, KeyError):
    """No component of that kind and name is registered; the message lists what is."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
