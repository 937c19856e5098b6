"""Build the deployable template: ``chalice package`` + infra/cloud_template.py, then cfn-lint it.

    python -m infra.package [--out build/package] [--stage prod]

Writes ``OUT/sam.json`` (the API and reconciler as Chalice's zip, ``OUT/deployment.zip``; the
analyzer as an image; the table, bucket, queues and alarm) and fails if cfn-lint finds an error
or a warning, so a template that reaches ``aws cloudformation deploy`` has passed the same
checks CI runs. No AWS account is involved; on a cold cache Chalice fetches the API's
Lambda-platform wheels from PyPI (later runs reuse .chalice/deployments/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.cloud_template import finish, merge_template

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "package"
TEMPLATE_NAME = "sam.json"  # what chalice package names it


class PackageError(RuntimeError):
    """A build step failed; the message carries its output."""


def _tool(name: str) -> str:
    """A console script of this interpreter's environment (the venv), else one on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise PackageError(f"{name} is not installed; run `make install`")
    return found


def _run(command: list[str]) -> None:
    # Chalice insists on a region even though the template only says ${AWS::Region}.
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise PackageError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def package(out_dir: Path = DEFAULT_OUT, *, stage: str = "prod") -> Path:
    """Write the finished template (and Chalice's zip) into a fresh ``out_dir``; its path."""
    shutil.rmtree(out_dir, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="video-jobs-package-") as scratch:
        extra = Path(scratch) / "resources.json"
        extra.write_text(json.dumps(merge_template(), indent=2))
        _run(
            [_tool("chalice"), "package", "--stage", stage, "--merge-template", str(extra)]
            + [str(out_dir)]
        )
    template_path = out_dir / TEMPLATE_NAME
    template = finish(json.loads(template_path.read_text()))
    template_path.write_text(json.dumps(template, indent=2) + "\n")
    return template_path


def lint(template_path: Path) -> None:
    """cfn-lint with its defaults (errors and warnings fail; it validates SAM natively)."""
    _run([_tool("cfn-lint"), str(template_path)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    try:
        template_path = package(args.out.resolve(), stage=args.stage)
        lint(template_path)
    except PackageError as error:
        sys.exit(str(error))
    print(f"{template_path}: cfn-lint clean")


if __name__ == "__main__":
    main()
