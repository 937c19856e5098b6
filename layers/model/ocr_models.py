"""Build the OCR models the analyzer runs: RapidOCR's PP-OCRv4 detector and recognizer, fused.

Both PP-OCRv4 models (PPLCNetV3 backbones) follow most convolutions with a learnable affine
step (``x * a + b``, two scalars) and spell hard-swish as four elementwise operators.
onnxruntime fuses neither, so much of their CPU time went to passes over large tensors and to
layout conversions around them (docs/measurements.md). This rewrites each graph, once per
machine, into the model directory:

- ``Conv -> Mul(a) -> Add(b)``: the convolution's weights times ``a``, its bias ``bias * a + b``;
- ``x * Clip(x + 3, 0, 6) / 6``: one ``HardSwish`` (the detector, ONNX opset 14) or
  ``x * HardSigmoid(x)`` (the recognizer, opset 13);
- ``Mul(c) -> Add(d) -> Conv`` (1x1, no padding, one group): weights times ``c``, bias plus
  ``d`` times the sum of each filter's weights. Padded convolutions keep their affine step:
  their zero padding is not ``d``.

The same functions up to float rounding: the build checks that each pair of graphs agrees on
drawn text and refuses to write a model otherwise. The sources are the ONNX files inside the
installed rapidocr-onnxruntime wheel; the record beside each output names its source's SHA-256
and this file's, so a new wheel or an edit here rebuilds it.

Usage: ``python -m layers.model.ocr_models [--model-dir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, version_converter

from chalicelib import config
from chalicelib.config import RAPIDOCR_MODEL_FILES, TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE
from layers.model.build_yolov3_tiny import (
    ModelBuildError,
    build_lock,
    sha256_of,
    write_atomically,
)

# what each file in the model directory is built from, in the rapidocr-onnxruntime wheel
SOURCES = {
    TEXT_DETECTOR_FILE: RAPIDOCR_MODEL_FILES["det_model_path"],
    TEXT_RECOGNIZER_FILE: RAPIDOCR_MODEL_FILES["rec_model_path"],
}
RECORD_SUFFIX = ".build.json"
# ONNX opset of each output. 14 has HardSwish, one operator. The recognizer stays at 13 (its
# hard-swish becomes x * HardSigmoid(x)): at 14 onnxruntime rewrites its attention otherwise,
# and a line's result then depends on how many lines are recognised in its batch (by 7e-7).
OPSETS = {TEXT_DETECTOR_FILE: 14, TEXT_RECOGNIZER_FILE: 13}
# on the detector's text map (0..1, thresholded at 0.3) and the recognizer's character
# probabilities (0..1): docs/measurements.md
TOLERANCE = 1e-3


def source_path(target: str) -> Path:
    """The wheel's model that ``target`` is built from (the wheel is not imported: it pulls in
    OpenCV)."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError("rapidocr-onnxruntime is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / SOURCES[target]
    if not path.is_file():
        raise ModelBuildError(f"{path} is missing: reinstall rapidocr-onnxruntime==1.4.4")
    return path


class _Graph:
    """The nodes of one graph with its constants, rewritten in place."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.const = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.nodes = []
        for node in graph.node:
            if node.op_type == "Constant" and [a.name for a in node.attribute] == ["value"]:
                self.const[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            else:
                self.nodes.append(node)
        self.outputs = {output.name for output in graph.output}

    def scalar(self, name: str) -> float | None:
        value = self.const.get(name)
        return None if value is None or value.size != 1 else float(value.ravel()[0])

    def consumers(self) -> dict[str, list[onnx.NodeProto]]:
        found: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                found.setdefault(name, []).append(node)
        return found

    def sole(self, consumers: dict, tensor: str, op_type: str) -> onnx.NodeProto | None:
        """The one node reading ``tensor``, if it is an ``op_type`` and not a graph output."""
        readers = consumers.get(tensor, [])
        if len(readers) != 1 or tensor in self.outputs or readers[0].op_type != op_type:
            return None
        return readers[0]

    def affine(self, consumers: dict, tensor: str) -> tuple[float, float, list] | None:
        """``tensor -> Mul(a) -> Add(b)`` with scalar constants: (a, b, the two nodes)."""
        mul = self.sole(consumers, tensor, "Mul")
        if mul is None or (a := self.scalar(_other(mul, tensor))) is None:
            return None
        add = self.sole(consumers, mul.output[0], "Add")
        if add is None or (b := self.scalar(_other(add, mul.output[0]))) is None:
            return None
        return a, b, [mul, add]

    def weights(self, conv: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
        """A convolution's weights and bias, if both are constants."""
        if not all(name in self.const for name in conv.input[1:] if name):
            return None
        w = self.const[conv.input[1]]
        has_bias = len(conv.input) > 2 and conv.input[2]
        return w, self.const[conv.input[2]] if has_bias else np.zeros(w.shape[0], w.dtype)

    def set_weights(self, conv: onnx.NodeProto, w: np.ndarray, bias: np.ndarray) -> None:
        taken = self.const.keys() | {name for node in self.nodes for name in node.output}
        number = next(n for n in range(len(taken) + 1) if f"fused_{n}.w" not in taken)
        names = (f"fused_{number}.w", f"fused_{number}.b")
        self.const.update(zip(names, (w.astype(np.float32), bias.astype(np.float32)), strict=True))
        conv.input[:] = [conv.input[0], *names]

    def drop(self, gone: list[onnx.NodeProto]) -> None:
        ids = {id(node) for node in gone}
        self.nodes = [node for node in self.nodes if id(node) not in ids]


def _other(node: onnx.NodeProto, tensor: str) -> str:
    others = [name for name in node.input if name != tensor]
    return others[0] if len(others) == 1 else ""


def _attribute(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _pointwise_weights(g: _Graph, conv: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
    """The weights of a 1x1 convolution with one group and no padding of any kind, else None."""
    weights = g.weights(conv)
    pointwise = (
        weights is not None
        and weights[0].shape[2:] == (1, 1)
        and _attribute(conv, "group", 1) == 1
        and not any(_attribute(conv, "pads", []))
        and _attribute(conv, "auto_pad", b"NOTSET") in (b"NOTSET", b"VALID")
    )
    return weights if pointwise else None


def fold_affine_after_conv(g: _Graph) -> int:
    consumers, gone = g.consumers(), []
    for conv in [node for node in g.nodes if node.op_type == "Conv"]:
        found, weights = g.affine(consumers, conv.output[0]), g.weights(conv)
        if found is None or weights is None:
            continue
        (a, b, pair), (w, bias) = found, weights
        g.set_weights(conv, w * np.float32(a), bias * np.float32(a) + np.float32(b))
        conv.output[0] = pair[1].output[0]
        gone += pair
    g.drop(gone)
    return len(gone) // 2


def fold_affine_into_pointwise_conv(g: _Graph) -> int:
    consumers, gone = g.consumers(), []
    for mul in [node for node in g.nodes if node.op_type == "Mul"]:
        tensor = next((name for name in mul.input if g.scalar(name) is None), "")
        found = g.affine(consumers, tensor)
        if found is None or found[2][0] is not mul:
            continue
        c, d, pair = found
        conv = g.sole(consumers, pair[1].output[0], "Conv")
        fed = conv is not None and conv.input[0] == pair[1].output[0]
        weights = _pointwise_weights(g, conv) if conv is not None and fed else None
        if conv is None or weights is None:
            continue
        w, bias = weights
        g.set_weights(conv, w * np.float32(c), bias + np.float32(d) * w.sum(axis=(1, 2, 3)))
        conv.input[0] = tensor
        gone += pair
    g.drop(gone)
    return len(gone) // 2


def fuse_hard_swish(g: _Graph, opset: int) -> int:
    """``x * Clip(x + 3, 0, 6) / 6`` as ``HardSwish(x)`` (opset 14 on), else as
    ``x * HardSigmoid(x)`` (alpha 1/6, beta 1/2)."""
    consumers, swaps, gone = g.consumers(), {}, []
    for add in [node for node in g.nodes if node.op_type == "Add"]:
        x = _other(add, next((n for n in add.input if g.scalar(n) == 3.0), ""))
        clip = g.sole(consumers, add.output[0], "Clip") if x else None
        if clip is None or [g.scalar(n) for n in clip.input[1:]] != [0.0, 6.0]:
            continue
        mul = g.sole(consumers, clip.output[0], "Mul")
        if mul is None or _other(mul, clip.output[0]) != x:
            continue
        div = g.sole(consumers, mul.output[0], "Div")
        if div is None or g.scalar(div.input[1]) != 6.0:
            continue
        out = div.output[0]
        if opset >= 14:
            swaps[id(div)] = [helper.make_node("HardSwish", [x], [out], name=div.name)]
        else:
            name = f"{div.name}.gate" if div.name else ""
            gate = helper.make_node(
                "HardSigmoid", [x], [f"{out}.gate"], name=name, alpha=1 / 6, beta=0.5
            )
            swaps[id(div)] = [
                gate,
                helper.make_node("Mul", [x, gate.output[0]], [out], name=div.name),
            ]
        gone += [add, clip, mul]
    g.drop(gone)
    g.nodes = [new for node in g.nodes for new in swaps.get(id(node), [node])]
    return len(swaps)


def fuse(model: onnx.ModelProto, opset: int) -> tuple[onnx.ModelProto, dict[str, int]]:
    """The rewritten model, at ``opset``, and how many of each pattern it rewrote."""
    converted = version_converter.convert_version(model, opset)
    g = _Graph(converted.graph)
    counts = {
        "conv_affine": fold_affine_after_conv(g),
        "pointwise_affine": fold_affine_into_pointwise_conv(g),
        "hard_swish": fuse_hard_swish(g, opset),
    }
    used = {name for node in g.nodes for name in node.input} | g.outputs
    initializers = [numpy_helper.from_array(v, k) for k, v in g.const.items() if k in used]
    graph = helper.make_graph(
        g.nodes, converted.graph.name, converted.graph.input, converted.graph.output, initializers
    )
    fused = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=converted.ir_version
    )
    fused.metadata_props.extend(model.metadata_props)
    onnx.checker.check_model(fused)
    return fused, counts


def _drawn(height: int, width: int, rows: tuple[tuple[int, float], ...]) -> np.ndarray:
    """Dark words ("VIDEO JOBS 2026" at each baseline y and font scale of ``rows``) on a light
    background, normalised as RapidOCR feeds both models ((x / 255 - 0.5) / 0.5, NCHW)."""
    frame = np.full((height, width, 3), 235, np.uint8)
    for y, scale in rows:
        cv2.putText(
            frame, "VIDEO JOBS 2026", (12, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20,) * 3, 2
        )
    tensor = (frame[:, :, ::-1].astype(np.float32) / 255 - 0.5) / 0.5
    return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None])


def check_input(target: str) -> np.ndarray:
    """What the two graphs are compared on: for the detector a 320x768 frame of words in four
    sizes (its map is near 1 on them), for the recognizer a 48x320 line of them."""
    if target == TEXT_DETECTOR_FILE:
        return _drawn(320, 768, ((40, 0.6), (95, 1.0), (170, 1.6), (280, 2.4)))
    return _drawn(48, 320, ((34, 0.9),))


def check_agreement(target: str, original: bytes, fused: bytes) -> float:
    """The largest difference between the two models' outputs on ``check_input(target)``."""
    tensor, outputs, source = check_input(target), [], SOURCES[target]
    for data in (original, fused):
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {session.get_inputs()[0].name: tensor})[0])
    if outputs[0].shape != outputs[1].shape:
        raise ModelBuildError(
            f"{target}'s output is {outputs[1].shape}, {source}'s {outputs[0].shape}; "
            "nothing was written"
        )
    difference = float(np.abs(outputs[0] - outputs[1]).max())
    if not difference <= TOLERANCE:
        raise ModelBuildError(
            f"{target} differs from {source} by {difference} (allowed {TOLERANCE}); "
            "nothing was written"
        )
    return difference


def _record(target: str, source: Path, onnx_sha256: str) -> dict[str, str]:
    return {
        "source": SOURCES[target],
        "source_sha256": sha256_of(source),
        "builder_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "onnx_sha256": onnx_sha256,
    }


def _cached(target: Path, source: Path) -> bool:
    record = target.with_name(target.name + RECORD_SUFFIX)
    if not (target.is_file() and record.is_file()):
        return False
    try:
        return json.loads(record.read_text()) == _record(target.name, source, sha256_of(target))
    except json.JSONDecodeError:
        return False


def ensure_ocr_models(model_dir: str | Path | None = None) -> dict[str, Path]:
    """The fused models in ``model_dir`` (by file name), each built only if missing or stale."""
    directory = Path(model_dir) if model_dir is not None else config.model_dir()
    built = {}
    for name in SOURCES:
        target, source = directory / name, source_path(name)
        built[name] = target
        if _cached(target, source):
            continue
        directory.mkdir(parents=True, exist_ok=True)
        with build_lock(directory):
            if not _cached(target, source):
                original = source.read_bytes()
                fused = fuse(onnx.load_from_string(original), OPSETS[name])[0]
                data = fused.SerializeToString()
                check_agreement(name, original, data)
                write_atomically(target, data)
                record = _record(name, source, hashlib.sha256(data).hexdigest())
                text = json.dumps(record, indent=2, sort_keys=True) + "\n"
                write_atomically(target.with_name(target.name + RECORD_SUFFIX), text.encode())
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        built = ensure_ocr_models(args.model_dir)
    except (ModelBuildError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"text detector: {built[TEXT_DETECTOR_FILE]}")
    print(f"text recognizer: {built[TEXT_RECOGNIZER_FILE]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
