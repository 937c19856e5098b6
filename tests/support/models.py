"""Tiny hand-built ONNX detectors whose output is a constant, so decoding is exactly predictable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NAMES = "{0: 'person', 1: 'car', 2: 'dog'}"

# Rows in 64x64 input pixels: (cx, cy, w, h, class scores). The test frame is 128x64 (w x h),
# letterboxed with scale 0.5 and 16 px of padding above and below.
BOXES = {
    "car": (32, 32, 16, 8),  # -> original xyxy (48, 24, 80, 40)
    "car_shifted": (33, 32, 16, 8),  # IoU with "car" ~0.88, 94% inside it: suppressed
    "person": (10, 40, 8, 16),  # -> original xyxy (12, 32, 28, 64)
    "padding": (32, 4, 8, 4),  # wholly inside the top padding: dropped
}


def v5_rows() -> np.ndarray:
    """[1, N, 5+C] with objectness; scores are obj * class probability."""
    rows = [
        (*BOXES["car"], 0.9, 0.1, 0.8, 0.1),  # car 0.72
        (*BOXES["car_shifted"], 0.7, 0.0, 0.9, 0.0),  # car 0.63
        (*BOXES["car"], 0.9, 0.0, 0.0, 0.5),  # dog 0.45
        (*BOXES["person"], 1.0, 0.6, 0.0, 0.0),  # person 0.6
        (*BOXES["padding"], 0.9, 0.9, 0.0, 0.0),  # person 0.81 but off-frame
        (*BOXES["person"], 0.2, 0.9, 0.0, 0.0),  # 0.18: under the threshold
    ]
    return np.array([rows], dtype=np.float32)


def v8_rows() -> np.ndarray:
    """[1, 4+C, N] without objectness."""
    rows = [
        (*BOXES["car"], 0.1, 0.72, 0.1),
        (*BOXES["car_shifted"], 0.0, 0.63, 0.0),
        (*BOXES["car"], 0.0, 0.0, 0.45),
        (*BOXES["person"], 0.6, 0.0, 0.0),
        (*BOXES["padding"], 0.81, 0.0, 0.0),
        (*BOXES["person"], 0.18, 0.0, 0.0),
    ]
    return np.array([rows], dtype=np.float32).transpose(0, 2, 1).copy()


def write_model(path: Path, output: np.ndarray, metadata=None, input_shape=(1, 3, 64, 64)):
    """A graph whose only output is a constant: decoding is then exactly predictable."""
    node = helper.make_node("Constant", [], ["output0"], value=numpy_helper.from_array(output))
    graph = helper.make_graph(
        [node],
        "fixed_output",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    for key, value in (metadata if metadata is not None else {"names": NAMES}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
