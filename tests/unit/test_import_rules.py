"""The packages' import rules (chalicelib/__init__.py): layers only import downward, nothing
imports app, only app.py imports the composition root, and no module imports itself in a
circle. Read from the source with ast, so a rule broken anywhere (even in a function) shows."""

import shutil
from pathlib import Path

import pytest

from tests.support.imports import LAYERS, cycles, graph, imports_of, module_name, violations

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_code_keeps_every_rule():
    edges = graph(ROOT)
    assert len(edges) > 60 and sum(map(len, edges.values())) > 150  # it read the real code
    assert violations(edges) == []


def test_there_is_no_import_cycle():
    assert cycles(graph(ROOT)) == []


def test_every_layer_is_a_package_with_a_docstring():
    for package in LAYERS:
        init = ROOT / "chalicelib" / package / "__init__.py"
        assert init.read_text(encoding="utf-8").startswith('"""'), init


def test_the_top_of_chalicelib_holds_only_the_shared_modules():
    top = sorted(path.stem for path in (ROOT / "chalicelib").glob("*.py"))
    assert top == ["__init__", "bootstrap", "config", "errors", "logs", "metrics"]


@pytest.fixture
def tree(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT / "chalicelib", copy / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "app.py", copy / "app.py")
    return copy


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef planted():\n    {line}\n")


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("chalicelib.analysis.worker", "from chalicelib.intake import submissions",
         "chalicelib.analysis.worker -> chalicelib.intake.submissions: analysis is below intake"),
        ("chalicelib.results.tracking", "import chalicelib.intake.params",
         "chalicelib.results.tracking -> chalicelib.intake.params: results is below intake"),
        ("chalicelib.access.authenticator", "from chalicelib.rekognition import api",
         "chalicelib.access.authenticator -> chalicelib.rekognition.api: access is below"),
        ("chalicelib.jobs.store", "import app", "chalicelib.jobs.store -> app: nothing imports"),
        ("chalicelib.intake.submissions", "from chalicelib.bootstrap import services",
         "-> chalicelib.bootstrap: only app.py and tools import the composition root"),
        ("chalicelib.errors", "from chalicelib.jobs import ids",
         "chalicelib.errors -> chalicelib.jobs.ids: errors is imported by every package"),
    ],
)  # fmt: skip
def test_a_broken_rule_is_reported(tree, module, line, broken):
    assert violations(graph(tree)) == []
    plant(tree, module, line)
    found = violations(graph(tree))
    assert len(found) == 1 and broken in found[0]


def test_a_planted_cycle_is_found(tree):
    plant(tree, "chalicelib.jobs.ids", "from chalicelib.jobs import store")
    assert cycles(graph(tree)) == [["chalicelib.jobs.ids", "chalicelib.jobs.store"]]


def test_no_test_imports_another_test():
    """Shared fixtures and helpers live in tests/support (or a conftest), never in a test file."""
    tests = sorted((ROOT / "tests").rglob("test_*.py"))
    assert len(tests) > 80
    importing = [
        str(path.relative_to(ROOT))
        for path in tests
        if any(
            name.startswith(("tests.unit", "tests.integration", "tests.e2e"))
            for name in imports_of(path, "tests.x", {module_name(ROOT, t) for t in tests})
        )
    ]
    assert importing == []
