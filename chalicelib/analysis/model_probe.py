"""The child process that checks one model file: ``python -m chalicelib.analysis.model_probe``.

Run by ``model_check.ModelValidator`` under a wall-clock limit and an address-space limit, with
no AWS credentials in its environment: whatever a hostile graph does to onnxruntime stays in
this process. Reads the request (JSON: the file's path and the registered class names, input
size and layout) from stdin and prints one JSON answer: ``{"ok": true, ...what it found}`` or
``{"ok": false, "reason": "..."}``.

The checks, cheapest first: the static ones (``chalicelib/models/wire.py``), class names (given,
or the file's 'names' metadata), the input size, then one frame through onnxruntime, whose
output must be [1, N, 5+C] (v5) or [1, 4+C, N] (v8) for the C class names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.errors import AnalysisError, InvalidModel
from chalicelib.models.record import class_names_problem
from chalicelib.models.wire import ModelFacts, check_model_bytes

DEFAULT_SIDE = 640  # Ultralytics' default export size, for a dynamic input without 'imgsz'


def probe(request: dict[str, Any]) -> dict[str, Any]:
    data = Path(request["path"]).read_bytes()
    facts = check_model_bytes(data)
    names = request.get("class_names") or facts.class_names()
    if not names:
        raise InvalidModel(
            "the model has no class names: give class_names when registering it, or export "
            "with Ultralytics, which writes them into the file's 'names' metadata"
        )
    problem = None if request.get("class_names") else class_names_problem(list(names))
    if problem:  # registered names were checked by POST /video/models; the file's are not yet
        raise InvalidModel(
            f"the file's 'names' metadata is not usable ({problem}): give class_names when "
            "registering the model"
        )
    side = _input_side(facts, request.get("input_size"))
    shape = _run_once(data, side)
    layout = _layout(shape, len(names), request.get("layout"))
    return {
        "ok": True, "class_names": list(names), "input_size": side, "layout": layout,
        "details": {"nodes": facts.nodes, "opset": facts.opset, "input_shape": facts.input_shape,
                    "output_shape": shape},
    }  # fmt: skip


def _input_side(facts: ModelFacts, wanted: int | None) -> int:
    height, width = facts.input_shape[2:]
    if isinstance(height, int) and isinstance(width, int):
        if height != width:
            raise InvalidModel(
                f"the model takes {width}x{height} input: export it square (imgsz=640)"
            )
        if wanted is not None and wanted != height:
            raise InvalidModel(
                f"the model takes {height}x{height} input, not the input_size {wanted} it was "
                f"registered with: register it with input_size {height}, or leave input_size out"
            )
        return height
    if wanted is not None:
        return int(wanted)
    raw = facts.metadata.get("imgsz", "")
    digits = raw.strip("[]() ").split(",")[0].strip()
    return int(digits) if digits.isdigit() and 32 <= int(digits) <= 1280 else DEFAULT_SIDE


def _run_once(data: bytes, side: int) -> list[int]:
    import numpy as np
    import onnxruntime as ort

    from chalicelib.analysis.detector import session_options

    try:
        session = ort.InferenceSession(data, session_options(1), providers=["CPUExecutionProvider"])
        image = session.get_inputs()[0]
        outputs = session.run(None, {image.name: np.zeros((1, 3, side, side), np.float32)})
    except Exception as error:  # onnxruntime's own errors: the graph is not runnable as given
        raise InvalidModel(
            f"onnxruntime could not run the model on one {side}x{side} frame: {str(error)[:300]}"
        ) from None
    return [int(d) for d in np.shape(outputs[0])]


def _layout(shape: list[int], classes: int, declared: str | None) -> str:
    from chalicelib.analysis.detector import choose_layout

    if declared == "v5" and len(shape) == 3 and shape[2] == 5 + classes:
        return "v5"
    if declared == "v8" and len(shape) == 3 and shape[1] == 4 + classes:
        return "v8"
    if declared is not None:
        expected = f"[1, N, {5 + classes}]" if declared == "v5" else f"[1, {4 + classes}, N]"
        raise InvalidModel(
            f"the model's output has shape {shape}, not {expected} as layout {declared} with "
            f"{classes} class names needs: check the class names and the layout"
        )
    try:
        return choose_layout(shape, classes)
    except AnalysisError as error:
        raise InvalidModel(f"{error.message} (or give layout when registering)") from None


def main() -> int:
    try:
        answer = probe(json.loads(sys.stdin.read()))
    except InvalidModel as error:
        answer = {"ok": False, "reason": error.message}
    except MemoryError:
        answer = {"ok": False, "reason": "memory"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
