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
