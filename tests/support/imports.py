"""The import graph of the shipped code, read with ``ast`` (nothing is imported), and the rules
the packages keep (chalicelib/__init__.py has the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

# Lowest first: a package may import the ones before it, never one after it.
LAYERS = (
    "adapters", "results", "jobs", "search", "models", "analysis", "notices", "access", "intake",
    "rekognition", "viewer",
)  # fmt: skip
# importable from everywhere; they import no package
TOP_LEVEL = ("config", "errors", "logs", "metrics")
ROOT_ONLY = ("bootstrap",)  # the composition root: only app.py and tools import it


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """The ``modules`` that ``path`` imports, at any depth (TYPE_CHECKING and function-level
    too): ``from a import b`` is module ``a.b`` when there is one, else ``a``."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {module for module in found if module in modules or module == "app"}


def graph(root: Path) -> dict[str, set[str]]:
    """``chalicelib`` module -> the ``chalicelib`` modules it imports (and ``app`` for app.py)."""
    files = sorted((root / "chalicelib").rglob("*.py"))
    if (root / "app.py").exists():
        files.append(root / "app.py")
    names = {module_name(root, path): path for path in files}
    return {name: imports_of(path, name, set(names)) - {name} for name, path in names.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Each import that breaks a rule, as ``importer -> imported: why``."""
    found = []
    for importer, targets in sorted(edges.items()):
        for target in sorted(targets):
            why = _why(importer, target)
            if why:
                found.append(f"{importer} -> {target}: {why}")
    return found


def _why(importer: str, target: str) -> str | None:
    if target == "app":
        return "nothing imports app"
    if importer == "app" or not importer.startswith("chalicelib."):
        return None
    source, destination = _package(importer), _package(target)
    if destination in ROOT_ONLY and source not in ROOT_ONLY:
        return "only app.py and tools import the composition root"
    if source in TOP_LEVEL and destination not in TOP_LEVEL and destination != "chalicelib":
        return f"{source} is imported by every package and imports none"
    upward = source in LAYERS and destination in LAYERS
    if upward and LAYERS.index(destination) > LAYERS.index(source):
        return f"{source} is below {destination} (chalicelib/__init__.py lists the layers)"
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle between modules (strongly connected parts of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found
