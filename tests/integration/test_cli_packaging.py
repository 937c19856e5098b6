"""`pip install -e .` (what `make install` runs) gives a working `video-jobs` command, and the
package holds the command line only: the API and analyzer code is not in it."""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # builds the package (pip may fetch setuptools)


def test_editable_install_gives_the_console_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "deps.pth").write_text(site.getsitepackages()[0] + "\n")  # click, requests, tqdm
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "-e", str(ROOT)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    command = venv / "bin" / "video-jobs"
    done = subprocess.run([command, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "submit" in done.stdout and "results" in done.stdout
    finder = next(purelib.glob("__editable___video_jobs_*_finder.py")).read_text()
    assert "'video_jobs_cli'" in finder and "chalicelib" not in finder


def test_the_cli_imports_no_api_or_ml_code():
    code = (
        "import sys, video_jobs_cli.commands\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'chalicelib', 'app', 'boto3', 'numpy', 'cv2', 'onnxruntime'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
