"""The API's cold path must stay free of the analyzer's heavy imports."""

import subprocess
import sys

HEAVY = ("cv2", "onnxruntime", "numpy", "rapidocr_onnxruntime", "onnx")


def test_importing_the_app_loads_no_ml_modules():
    code = (
        "import sys, app\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"API path imported {result.stdout.strip()}"


def test_the_api_reaches_into_analysis_only_for_its_light_modules():
    """The API validates ids, labels and MP4s with analysis' pure-Python parts; the worker, the
    pipelines and their models stay out of its cold start (chalicelib/analysis/__init__.py)."""
    code = (
        "import sys, app\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('chalicelib.analysis.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert "chalicelib.analysis.registry" in loaded  # the check looked at the real import
    light = {f"chalicelib.analysis.{name}" for name in ("registry", "mp4", "labels")}
    assert loaded <= light, f"API path imported {sorted(loaded - light)}"
