"""Every repository path that an error message names exists (a message must not send the reader
to a file that is gone)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a file name, maybe with directories, as messages write them (ARCHITECTURE.md, docs/x.md)
PATH = re.compile(r"\b((?:[\w.-]+/)*[\w-]+\.(?:md|txt|py|yaml|json|toml))\b")


def message_strings():
    """String constants inside ``raise`` statements of the app's own code."""
    for source in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Raise):
                for part in ast.walk(node):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        yield source, part.value


def test_paths_named_in_error_messages_exist():
    named = [(source, path) for source, text in message_strings() for path in PATH.findall(text)]
    assert len(named) >= 2  # the walk found some (detector and OCR name files to read)
    missing = [(str(source), path) for source, path in named if not (ROOT / path).exists()]
    assert missing == []


def test_test_files_named_in_the_code_exist():
    """Docstrings send contributors to the tests that check a contract: those files must exist."""
    sources = [
        ROOT / "app.py",
        *(ROOT / "chalicelib").rglob("*.py"),
        *(ROOT / "infra").rglob("*.py"),
    ]
    named = {
        (str(source.relative_to(ROOT)), path)
        for source in sources
        for path in re.findall(r"\btests/[\w/]+\.py\b", source.read_text())
    }
    assert len(named) >= 3  # the storage, queue and job-store contracts at least
    assert [(source, path) for source, path in named if not (ROOT / path).exists()] == []
