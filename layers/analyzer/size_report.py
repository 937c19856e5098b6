"""How big the analyzer's image stack is, package by package, against Lambda's size limits.

    python -m layers.analyzer.size_report

Measures what this environment installed (each distribution's RECORD, via importlib.metadata):
the image's requirement files and everything they pull in, the app code and the model. That is
why the analyzer ships as a container image: the stack is far over the 250 MB a zip function
(code and layers, unzipped) may hold, and far under an image's 10 GB. The figures are for this
machine's wheels (the image's CPython 3.12 manylinux ones are within a few percent); the base
image itself is not counted.
"""

from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chalicelib.config import DEFAULT_DETECTOR_SIZE, DETECTOR_SIZES, load_settings, sized_model_path

ROOT = Path(__file__).resolve().parents[2]
# What functions/analyzer/Dockerfile installs; the --no-deps file contributes no dependencies.
WITH_DEPENDENCIES = (
    "requirements.txt",
    "layers/analyzer/requirements.txt",
    "functions/analyzer/requirements.txt",
)
WITHOUT_DEPENDENCIES = ("layers/analyzer/requirements-nodeps.txt",)
APP_CODE = ("app.py", "chalicelib")
MIB = 1024 * 1024
ZIP_LIMIT_BYTES = 250 * MIB  # Lambda: unzipped function code plus layers
IMAGE_LIMIT_BYTES = 10 * 1024 * MIB  # Lambda: uncompressed container image


@dataclass(frozen=True)
class PackageSize:
    name: str
    version: str
    size: int  # bytes on disk
    pulled_in_by: str  # "" for a package a requirement file names


def requirements_in(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def installed_size(dist: metadata.Distribution) -> int:
    """Bytes of the files RECORD lists (the size column is often blank, e.g. for .pyc)."""
    total = 0
    for file in dist.files or []:
        located = Path(str(dist.locate_file(file)))
        if located.is_file():
            total += located.stat().st_size
        elif file.size:
            total += file.size
    return total


def image_packages(root: Path = ROOT) -> list[PackageSize]:
    """The dependency closure of the image's requirement files, largest first.

    Breadth-first, so a package a file pins is reported as pinned, not as someone's dependency.
    """
    pending = deque(
        (requirement, "", name in WITH_DEPENDENCIES)
        for name in WITH_DEPENDENCIES + WITHOUT_DEPENDENCIES
        for requirement in requirements_in(root / name)
    )
    found: dict[str, PackageSize] = {}
    while pending:
        requirement, parent, follow = pending.popleft()
        key = canonicalize_name(requirement.name)
        if key in found or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        dist = metadata.distribution(requirement.name)
        found[key] = PackageSize(dist.metadata["Name"], dist.version, installed_size(dist), parent)
        if follow:
            pending.extend(
                (Requirement(r), dist.metadata["Name"], True) for r in dist.requires or []
            )
    return sorted(found.values(), key=lambda package: -package.size)


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    files = (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sum(p.stat().st_size for p in files)


def _verdict(total: int, limit: int) -> str:
    share = f"{100 * total / limit:.0f}% of"
    return f"{share} the limit" if total <= limit else f"OVER by {(total - limit) / MIB:.0f} MiB"


def report(root: Path = ROOT, model: Path | None = None) -> list[str]:
    settings = load_settings()
    model = model or settings.model_path
    packages = image_packages(root)
    lines = [f"{'package':32} {'version':14} {'MiB':>8}  pulled in by"]
    lines += [
        f"{p.name:32} {p.version:14} {p.size / MIB:>8.1f}  {p.pulled_in_by or '(pinned)'}"
        for p in packages
    ]
    dependencies = sum(p.size for p in packages)
    code = sum(tree_size(root / name) for name in APP_CODE)
    # the model, the same model at each other detector_size and the fused OCR models (the image
    # ships them all)
    models = [model] + [
        sized_model_path(model, size) for size in DETECTOR_SIZES if size != DEFAULT_DETECTOR_SIZE
    ]
    models += [settings.text_detector_path, settings.text_recognizer_path]
    sizes = {path: path.stat().st_size if path.is_file() else 0 for path in models}
    total = dependencies + code + sum(sizes.values())
    lines += [
        "",
        f"{'dependencies':32} {'':14} {dependencies / MIB:>8.1f}  ({len(packages)} packages)",
        f"{'app code':32} {'':14} {code / MIB:>8.1f}",
    ]
    for path, size in sizes.items():
        note = f"{size / MIB:.1f}" if size else "not built (make model), 0"
        lines.append(f"model {path.name:26} {'':14} {note:>8}")
    lines += [
        f"{'total':32} {'':14} {total / MIB:>8.1f}",
        "",
        f"zip function limit (250 MiB unzipped): {_verdict(total, ZIP_LIMIT_BYTES)}",
        f"container image limit (10 GiB):        {_verdict(total, IMAGE_LIMIT_BYTES)}",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: from the settings)")
    print("\n".join(report(model=parser.parse_args().model)))


if __name__ == "__main__":
    main()
