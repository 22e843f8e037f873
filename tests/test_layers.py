"""The import graph of the packages: layers run one way, no cycle, no private name crosses a module.

``pipelines`` is cut along the boundary of effects (``docs/architecture.md``)::

    engine  ←  boundary  ←  reporting  ←  workflows  ←  cli

A module may import its own layer and the layers to its left, never one to its right; the
``pipelines`` facade (``pipelines/__init__.py``) may import any. ``fp`` and ``state`` are the pure
core below all of them and import nothing from ``pipelines``. Every import counts, at the top of a
module or inside a function: a function-level import is still a dependency.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The allowed directions: each layer and the layers it may import.
LAYERS = ("engine", "boundary", "reporting", "workflows", "cli")
ALLOWED = {layer: set(LAYERS[:i + 1]) for i, layer in enumerate(LAYERS)}


def modules() -> dict[str, Path]:
    out = {}
    for package in ("pipelines", "fp", "state"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = modules()


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """``(module imported, names taken from it, line)`` for every import of module ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> list[tuple[str, list[str], int]]:
    """The imports of ``source`` (a module of ``package``) that reach pipelines, fp or state."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            found.append((base, [n for n in names if f"{base}.{n}" not in MODULES], node.lineno))
            found += [(m, [], node.lineno) for m in submodules]
    return sorted((target, names, line) for target, names, line in found
                  if target.split(".")[0] in ("pipelines", "fp", "state"))


def layer(name: str) -> str | None:
    """The layer of a module of ``pipelines`` (``None``: the facade, the bundled data, fp, state)."""
    parts = name.split(".")
    return parts[1] if parts[0] == "pipelines" and len(parts) > 1 and parts[1] in LAYERS else None


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _, _ in imports(name) if target in MODULES and target != name}
            for name in MODULES}


def test_every_pipelines_module_lives_in_a_layer():
    loose = [name for name in MODULES if name.startswith("pipelines.") and layer(name) is None
             and name != "pipelines.datasets"]
    assert [] == loose


@pytest.mark.parametrize("name", [m for m in MODULES if layer(m) is not None])
def test_layers_import_only_their_own_and_lower_layers(name):
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}" for target, _, line in imports(name)
             if layer(target) is not None and layer(target) not in ALLOWED[layer(name)]]
    assert [] == wrong


@pytest.mark.parametrize("name", [m for m in MODULES if m.split(".")[0] in ("fp", "state")])
def test_the_pure_core_never_imports_pipelines(name):
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}" for target, _, line in imports(name)
             if target.split(".")[0] == "pipelines"]
    assert [] == wrong


def test_no_module_imports_another_modules_private_names():
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line} takes {n} from {target}"
             for name in MODULES for target, names, line in imports(name) for n in names
             if n.startswith("_") and target != name]
    assert [] == wrong


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" → ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state and node != "pipelines":
            visit(node, [node])
    assert [] == cycles


def test_the_checker_sees_function_level_relative_and_private_imports():
    """The graph is only as good as the parser: an import inside a function, a relative import and
    a private name all count."""
    source = "def f():\n    from pipelines.cli.main import main\nfrom .folds import _columns\nimport numpy\n"
    assert [("pipelines.cli.main", ["main"], 2), ("pipelines.engine.folds", ["_columns"], 3)] == \
        imports_in(source, "pipelines.engine")
