"""The generated spec reference: committed as it is generated, complete, and its example valid."""
from pathlib import Path

import pytest

import pipelines
from fp.registry import BUILTINS, SETTINGS
from pipelines.boundary.spec_schema import SECTIONS
from pipelines.boundary.specs import spec_from_text
from pipelines.cli.main import main
from pipelines.cli.reference import WHAT, reference_markdown, reference_section

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "spec-reference.md"


def test_the_committed_reference_is_the_generated_one():
    """Stale when a component, parameter, default, range, doc or spec key changed without
    regenerating: `admf list --markdown > docs/spec-reference.md`."""
    pytest.importorskip("talib", reason="the reference lists TA-Lib's functions: needs the ta extra")
    assert reference_markdown() == COMMITTED.read_text(), \
        "docs/spec-reference.md is stale: run `admf list --markdown > docs/spec-reference.md`"


def test_every_component_setting_and_key_is_in_the_reference():
    text = reference_markdown()
    for kind in ("strategy", "classifier", "feature"):
        for name in BUILTINS.of(kind):
            assert f"`{name}`" in text, name
            for p in BUILTINS.get(kind, name).params:
                assert f"`{p.name}`" in text or f"{p.name}=" in text, (name, p.name)
    for settings in SETTINGS.values():
        for p in settings.params:
            assert f"| `{p.name}` | {p.describe()} |" in text, (settings.name, p.name)
    for section in SECTIONS.values():
        for key in section.keys:
            assert f"| `{key.name}` | {key.value} |" in text, (section.name, key.name)


def test_the_references_example_spec_is_valid():
    text = reference_section("spec")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = spec_from_text(block)
    assert spec.exits is not None and spec.strategies and spec.classifiers and spec.executor is not None
    assert pipelines.plan(spec).combos


def test_the_readmes_spec_runs():
    block = (ROOT / "README.md").read_text().split("## A spec", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    # 32 SMA pairs with fast < slow × 2 stop-losses × 2 classifier periods
    assert 32 * 2 * 2 == len(pipelines.plan(spec_from_text(block)).combos)


@pytest.mark.parametrize("what", WHAT)
def test_admf_list_prints_each_part_of_the_reference(capsys, what):
    assert 0 == main(["list", what])
    assert reference_section(what) == capsys.readouterr().out


def test_admf_list_markdown_prints_the_whole_reference(capsys):
    assert 0 == main(["list", "--markdown"])
    assert reference_markdown() == capsys.readouterr().out
