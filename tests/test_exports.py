"""Each package's facade exports a sorted ``__all__`` of names that exist (STYLE.md habit 1)."""
import importlib

import pytest


@pytest.mark.parametrize("package", ["state", "fp", "pipelines"])
def test_all_is_sorted_and_complete(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == list(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_the_pure_core_does_not_import_pipelines():
    import pathlib
    for path in list(pathlib.Path("fp").rglob("*.py")) + list(pathlib.Path("state").rglob("*.py")):
        text = path.read_text()
        assert "import pipelines" not in text and "from pipelines" not in text, path
