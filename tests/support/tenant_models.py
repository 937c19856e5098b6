"""Tiny tenants' detectors built with ``onnx.helper`` (never downloaded), good and hostile.

The good ones take a real image input and add a scaled copy of its mean to a constant YOLO
output, so onnxruntime really reads every frame while the boxes stay predictable: class 1 (the
second name) is found mid-frame on any clip.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = ["helmet", "pallet", "crate"]  # the second one is what the models find
SIDE = 64
OPSET = 17


def _rows(layout: str, classes: int) -> np.ndarray:
    """One confident box of class 1 in the middle of the input, and one weak one."""
    box = (SIDE / 2, SIDE / 2, SIDE / 2, SIDE / 2)
    scores = [0.0] * classes
    scores[1 % classes] = 0.9
    weak = [0.05] * classes
    if layout == "v5":
        rows = [(*box, 1.0, *scores), (*box, 0.1, *weak)]
        return np.array([rows], dtype=np.float32)
    rows = [(*box, *scores), (*box, *weak)]
    return np.array([rows], dtype=np.float32).transpose(0, 2, 1).copy()


def detector(
    layout: str = "v8",
    classes: list[str] | None = None,
    *,
    output: np.ndarray | None = None,
    names_metadata: bool = True,
    side: int | str = SIDE,
) -> onnx.ModelProto:
    """A YOLO-shaped graph: output = constant + 0 * mean(image) (so the input is used)."""
    names = classes or CLASSES
    constant = _rows(layout, len(names)) if output is None else output
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["rows", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tenant_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(constant.shape))],
        initializer=[
            numpy_helper.from_array(constant, "rows"),
            numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    if names_metadata:
        as_dict = "{" + ", ".join(f"{i}: {name!r}" for i, name in enumerate(names)) + "}"
        model.metadata_props.add(key="names", value=as_dict)
    onnx.checker.check_model(model)
    return model


def with_custom_operator() -> onnx.ModelProto:
    model = detector()
    model.graph.node.append(helper.make_node("Backdoor", ["output0"], ["spare"], domain="com.acme"))
    model.opset_import.append(helper.make_opsetid("com.acme", 1))
    return model


def with_external_data() -> onnx.ModelProto:
    """A weight that points at a file outside the model (what onnxruntime would open)."""
    model = detector()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../../../../etc/passwd")
    return model


def with_wrong_output() -> onnx.ModelProto:
    """An output fitting neither [1, N, 5+C] nor [1, 4+C, N] for three classes."""
    return detector(output=np.zeros((1, 10, 6), np.float32))


def serialized(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()
