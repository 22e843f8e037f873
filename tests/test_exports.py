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


@pytest.mark.parametrize("module", ["fp.downsample", "fp.landscape", "fp.metrics"])
def test_the_facade_exports_every_metric_and_report_function(module):
    """Every public name of the metrics and of the report's pure modules is reachable as ``fp.<name>``."""
    import fp
    names = importlib.import_module(module).__all__
    assert [] == [name for name in names if name not in fp.__all__]
    assert all(getattr(fp, name) is getattr(importlib.import_module(module), name) for name in names)
