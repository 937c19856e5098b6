"""Convert a Darknet YOLOv3(-tiny) cfg + weights pair into an ONNX detector.

Only numpy and onnx are used, so the conversion runs anywhere the build runs and never needs
the original framework. The graph decodes its YOLO heads itself and emits one
``[1, N, 5 + classes]`` tensor in the Ultralytics YOLOv5 export layout (cx, cy, w, h in input
pixels, objectness, per-class probabilities), so the service's decoder is the same one any
YOLOv5/v8-style ONNX export would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
# Pinned rather than onnx's newest so that onnxruntime builds a year old still load the file
# and so that the serialized bytes do not change with the installed onnx version.
IR_VERSION = 8
# OpenCV's Darknet importer normalises with sqrt(var + 1e-6); Darknet itself divides by
# sqrt(var) + 1e-6. Following OpenCV keeps the independent reference check tightest (measured
# on real frames: max score difference 3e-6, against 5e-6 without the epsilon).
BATCH_NORM_EPS = 1e-6
LEAKY_SLOPE = 0.1
INPUT_NAME = "images"
OUTPUT_NAME = "output0"


class DarknetFormatError(ValueError):
    """The cfg or weights file is not something this converter understands."""


@dataclass(frozen=True)
class Section:
    """One ``[name]`` block of a Darknet cfg file with its raw ``key=value`` options."""

    kind: str
    options: dict[str, str] = field(default_factory=dict)

    def get_int(self, key: str, default: int) -> int:
        return int(self.options.get(key, default))

    def get_float(self, key: str, default: float) -> float:
        return float(self.options.get(key, default))

    def get_ints(self, key: str) -> list[int]:
        return [int(v) for v in self.options[key].split(",") if v.strip()]


def parse_cfg(text: str) -> list[Section]:
    """Split a Darknet cfg into sections, dropping comments and blank lines."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1].strip()))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise DarknetFormatError(f"cfg line outside a section or without '=': {raw!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise DarknetFormatError("cfg must start with a [net] section")
    return sections


class WeightReader:
    """Hands out the float32 payload of a .weights file in the order the layers consume it."""

    def __init__(self, data: bytes) -> None:
        major, minor, _revision = np.frombuffer(data, dtype="<i4", count=3)
        # Darknet stores `seen` as size_t from format 0.2 on, as int before that.
        wide_seen = major * 10 + minor >= 2 and major < 1000 and minor < 1000
        header_bytes = 12 + (8 if wide_seen else 4)
        if (len(data) - header_bytes) % 4:
            raise DarknetFormatError("weights payload is not a whole number of float32 values")
        self._values = np.frombuffer(data, dtype="<f4", offset=header_bytes)
        self._pos = 0

    def take(self, count: int) -> np.ndarray:
        end = self._pos + count
        if end > self._values.size:
            raise DarknetFormatError("weights file is shorter than the cfg requires")
        chunk = self._values[self._pos : end].astype(np.float64)
        self._pos = end
        return chunk

    def assert_consumed(self) -> None:
        """Leftover floats mean the cfg and weights do not belong together."""
        left = self._values.size - self._pos
        if left:
            raise DarknetFormatError(f"{left} weight values left over after the last layer")


@dataclass(frozen=True)
class Tensor:
    """A graph value with its static NCHW shape, tracked so each layer can size itself."""

    name: str
    channels: int
    height: int
    width: int


class GraphBuilder:
    """Accumulates ONNX nodes and initializers with deterministic, layer-indexed names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray | np.generic) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name


def _convolutional(
    g: GraphBuilder, sec: Section, x: Tensor, weights: WeightReader, idx: int
) -> Tensor:
    """Conv with batch norm folded in, because inference never needs BN as its own op."""
    filters, size = sec.get_int("filters", 1), sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    pad = size // 2 if sec.get_int("pad", 0) else sec.get_int("padding", 0)
    if sec.get_int("groups", 1) != 1:
        raise DarknetFormatError(f"layer {idx}: grouped convolutions are not supported")
    bias = weights.take(filters)
    if sec.get_int("batch_normalize", 0):
        gamma, mean, var = (weights.take(filters) for _ in range(3))
        factor = gamma / np.sqrt(var + BATCH_NORM_EPS)
        bias = bias - mean * factor
    else:
        factor = np.ones(filters)
    kernel = weights.take(filters * x.channels * size * size)
    kernel = kernel.reshape(filters, x.channels, size, size) * factor[:, None, None, None]
    w_name = g.const(f"conv{idx}.weight", kernel.astype(np.float32))
    b_name = g.const(f"conv{idx}.bias", bias.astype(np.float32))
    out = g.op(
        "Conv",
        [x.name, w_name, b_name],
        f"conv{idx}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[pad] * 4,
    )
    activation = sec.options.get("activation", "logistic")
    if activation == "leaky":
        out = g.op("LeakyRelu", [out], f"leaky{idx}", alpha=LEAKY_SLOPE)
    elif activation != "linear":
        raise DarknetFormatError(f"layer {idx}: activation {activation!r} is not supported")
    height = (x.height + 2 * pad - size) // stride + 1
    width = (x.width + 2 * pad - size) // stride + 1
    return Tensor(out, filters, height, width)


def _maxpool(g: GraphBuilder, sec: Section, x: Tensor, idx: int) -> Tensor:
    """Darknet pads size-1 cells, the extra one on the right/bottom: a 2x2/1 pool keeps 13x13."""
    size = sec.get_int("size", 1)
    stride = sec.get_int("stride", 1)
    padding = sec.get_int("padding", size - 1)
    before, after = padding // 2, padding - padding // 2
    out = g.op(
        "MaxPool",
        [x.name],
        f"maxpool{idx}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[before, before, after, after],
    )
    height = (x.height + padding - size) // stride + 1
    width = (x.width + padding - size) // stride + 1
    return Tensor(out, x.channels, height, width)


def _upsample(g: GraphBuilder, sec: Section, x: Tensor, idx: int) -> Tensor:
    """Nearest-neighbour repeat, expressed so Resize reproduces Darknet's pixel mapping."""
    factor = sec.get_int("stride", 2)
    scales = g.const(f"upsample{idx}.scales", np.array([1, 1, factor, factor], np.float32))
    out = g.op(
        "Resize",
        [x.name, "", scales],
        f"upsample{idx}",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return Tensor(out, x.channels, x.height * factor, x.width * factor)


def _route(g: GraphBuilder, sec: Section, outputs: list[Tensor | None], idx: int) -> Tensor:
    """Concatenate earlier layers on channels; negative indices count back from this layer."""
    sources: list[Tensor] = []
    for ref in sec.get_ints("layers"):
        src = outputs[idx + ref if ref < 0 else ref]
        if src is None:
            raise DarknetFormatError(f"layer {idx}: routing to a yolo layer is not supported")
        sources.append(src)
    if len(sources) == 1:
        return sources[0]
    if len({(s.height, s.width) for s in sources}) != 1:
        raise DarknetFormatError(f"layer {idx}: routed layers differ in spatial size")
    out = g.op("Concat", [s.name for s in sources], f"route{idx}", axis=1)
    return Tensor(out, sum(s.channels for s in sources), sources[0].height, sources[0].width)


@dataclass(frozen=True)
class Head:
    """A decoded head's output value and its size, used to order and shape the final concat."""

    name: str
    grid_cells: int
    rows: int
    width: int


def _yolo_head(
    g: GraphBuilder, sec: Section, x: Tensor, input_hw: tuple[int, int], idx: int
) -> Head:
    """Decode one head into ``[1, anchors*H*W, 5+classes]`` rows ordered (anchor, y, x)."""
    if sec.get_int("new_coords", 0):
        raise DarknetFormatError(f"layer {idx}: new_coords=1 heads are not supported")
    classes = sec.get_int("classes", 80)
    mask = sec.get_ints("mask")
    all_anchors = np.array(sec.get_ints("anchors"), np.float32).reshape(-1, 2)
    anchors = all_anchors[mask]
    na, no, h, w = len(mask), 5 + classes, x.height, x.width
    if x.channels != na * no:
        raise DarknetFormatError(f"layer {idx}: expected {na * no} channels, got {x.channels}")
    stride = np.array([input_hw[1] / w, input_hw[0] / h], np.float32)
    p = f"yolo{idx}"

    shape5 = g.const(f"{p}.shape5", np.array([1, na, no, h, w], np.int64))
    grid5 = g.op("Reshape", [x.name, shape5], f"{p}.reshape")
    cells = g.op("Transpose", [grid5], f"{p}.transpose", perm=[0, 1, 3, 4, 2])
    split = g.const(f"{p}.split", np.array([2, 2, no - 4], np.int64))
    g.nodes.append(
        helper.make_node(
            "Split",
            [cells, split],
            [f"{p}.txy", f"{p}.twh", f"{p}.tscores"],
            name=f"{p}.split",
            axis=4,
        )
    )
    xy = g.op("Sigmoid", [f"{p}.txy"], f"{p}.sxy")
    scale_xy = sec.get_float("scale_x_y", 1.0)
    if scale_xy != 1.0:
        # Scaled-YOLOv4 style: lets centres reach the cell borders.
        xy = g.op("Mul", [xy, g.const(f"{p}.sxy_scale", np.float32(scale_xy))], f"{p}.sxy_mul")
        offset = np.float32(-0.5 * (scale_xy - 1.0))
        xy = g.op("Add", [xy, g.const(f"{p}.sxy_offset", offset)], f"{p}.sxy_add")
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    grid = np.stack([gx, gy], axis=-1).astype(np.float32).reshape(1, 1, h, w, 2)
    xy = g.op("Add", [xy, g.const(f"{p}.grid", grid)], f"{p}.xy_cell")
    xy = g.op("Mul", [xy, g.const(f"{p}.stride", stride)], f"{p}.xy")
    wh = g.op("Exp", [f"{p}.twh"], f"{p}.ewh")
    anchor_grid = anchors.reshape(1, na, 1, 1, 2)
    wh = g.op("Mul", [wh, g.const(f"{p}.anchors", anchor_grid)], f"{p}.wh")
    scores = g.op("Sigmoid", [f"{p}.tscores"], f"{p}.scores")
    rows = g.op("Concat", [xy, wh, scores], f"{p}.decoded", axis=4)
    flat = g.const(f"{p}.shape3", np.array([1, na * h * w, no], np.int64))
    out = g.op("Reshape", [rows, flat], f"{p}.rows")
    return Head(out, h * w, na * h * w, no)


def build_graph(sections: list[Section], weights: bytes) -> onnx.GraphProto:
    """Walk the cfg layer by layer; heads are emitted finest grid first, as Ultralytics does."""
    height, width = input_size(sections)
    x = Tensor(INPUT_NAME, sections[0].get_int("channels", 3), height, width)
    image = helper.make_tensor_value_info(
        INPUT_NAME, TensorProto.FLOAT, [1, x.channels, height, width]
    )
    reader = WeightReader(weights)
    g = GraphBuilder()
    outputs: list[Tensor | None] = []
    heads: list[Head] = []
    for idx, sec in enumerate(sections[1:]):
        if sec.kind == "convolutional":
            x = _convolutional(g, sec, x, reader, idx)
        elif sec.kind == "maxpool":
            x = _maxpool(g, sec, x, idx)
        elif sec.kind == "upsample":
            x = _upsample(g, sec, x, idx)
        elif sec.kind == "route":
            x = _route(g, sec, outputs, idx)
        elif sec.kind == "yolo":
            heads.append(_yolo_head(g, sec, x, (height, width), idx))
            outputs.append(None)
            continue
        else:
            raise DarknetFormatError(f"layer {idx}: section [{sec.kind}] is not supported")
        outputs.append(x)
    reader.assert_consumed()
    if not heads or len({head.width for head in heads}) != 1:
        raise DarknetFormatError("cfg needs at least one [yolo] head, all with the same classes")
    ordered = sorted(heads, key=lambda head: -head.grid_cells)
    g.op("Concat", [head.name for head in ordered], OUTPUT_NAME, axis=1)
    rows = sum(head.rows for head in heads)
    detections = helper.make_tensor_value_info(
        OUTPUT_NAME, TensorProto.FLOAT, [1, rows, heads[0].width]
    )
    return helper.make_graph(
        g.nodes, "darknet_yolo", [image], [detections], initializer=g.initializers
    )


def input_size(sections: list[Section]) -> tuple[int, int]:
    """The (height, width) the network was trained for, from its [net] section."""
    return sections[0].get_int("height", 416), sections[0].get_int("width", 416)


def with_input_size(sections: list[Section], height: int, width: int) -> list[Section]:
    """The same network for another input size, as Darknet runs a cfg whose [net] says so.

    The layers are all convolutional, so the weights fit any size that the total stride (32
    for YOLOv3-tiny) divides; only what the graph bakes in for a size (the decode grids and
    reshape shapes) changes.
    """
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise DarknetFormatError(f"input size {height}x{width} is not a positive multiple of 32")
    net = sections[0]
    resized = Section(net.kind, {**net.options, "height": str(height), "width": str(width)})
    return [resized, *sections[1:]]


def convert(sections: list[Section], weights: bytes, metadata: dict[str, str]) -> onnx.ModelProto:
    """Build and validate the model; same inputs always give byte-identical serialisations."""
    graph = build_graph(sections, weights)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="video-jobs",
    )
    model.ir_version = IR_VERSION
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model
