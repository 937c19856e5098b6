"""Static checks of an ONNX file, read from its protobuf wire format before anything runs it.

Why our own reader: the ``onnx`` package is not in the analyzer's image (it adds ~35 MB with
``ml_dtypes``), and onnxruntime shows nothing of a graph before it has loaded it, by which time an
external-data path has already been opened. This reader walks only the fields the checks need
(onnx.proto's field numbers below), skips tensor bytes without copying them, and bounds its own
work: nodes and nesting are capped, so a hostile file cannot make it loop.

Refused: bytes that are not an ONNX model, operator domains other than the standard one
(custom operators, and onnxruntime's own contrib ops), model-local functions, tensors stored as
external data, more than ``MAX_MODEL_NODES`` nodes, anything but one image input
[1, 3, H, W] with H and W at most ``MAX_MODEL_INPUT_SIDE``. ``InvalidModel`` says what to fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from chalicelib.config import MAX_MODEL_INPUT_SIDE, MAX_MODEL_NODES
from chalicelib.errors import InvalidModel, quoted

STANDARD_DOMAINS = ("", "ai.onnx")
MAX_DEPTH = 8  # subgraphs inside subgraphs (If/Loop bodies): YOLO exports have none
# onnx.proto field numbers
MODEL_IR_VERSION, MODEL_OPSET, MODEL_GRAPH, MODEL_METADATA, MODEL_FUNCTIONS = 1, 8, 7, 14, 25
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_SPARSE_INITIALIZER = 1, 5, 11, 15
NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 4, 5, 7
ATTR_TENSOR, ATTR_GRAPH, ATTR_TENSORS, ATTR_GRAPHS = 5, 6, 10, 11
ATTR_SPARSE_TENSOR, ATTR_SPARSE_TENSORS = 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_NAME, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION, EXTERNAL = 8, 13, 14, 1
VALUE_NAME, VALUE_TYPE, TYPE_TENSOR, TENSOR_TYPE_SHAPE, SHAPE_DIM = 1, 2, 1, 2, 1
DIM_VALUE, DIM_PARAM = 1, 2

Fields = dict[int, list[object]]  # field number -> values (ints, or memoryviews of bytes)


class _Malformed(Exception):
    pass


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _fields(data: memoryview) -> Fields:
    """One message's fields; length-delimited values stay views into ``data``."""
    found: Fields = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        if kind == 0:
            value, at = _varint(data, at)
            found.setdefault(number, []).append(value)
        elif kind == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise _Malformed("length past the end")
            found.setdefault(number, []).append(data[at : at + length])
            at += length
        elif kind in (1, 5):
            at += 8 if kind == 1 else 4
        else:
            raise _Malformed(f"wire type {kind}")
    if at != len(data):
        raise _Malformed("truncated field")
    return found


def _messages(fields: Fields, number: int) -> Iterator[Fields]:
    for value in fields.get(number, []):
        if not isinstance(value, memoryview):
            raise _Malformed(f"field {number} is not a message")
        yield _fields(value)


def _text(fields: Fields, number: int) -> str:
    values = fields.get(number)
    if not values or not isinstance(values[-1], memoryview):
        return ""
    return bytes(values[-1]).decode("utf-8", "replace")


def _int(fields: Fields, number: int) -> int | None:
    values = fields.get(number)
    return values[-1] if values and isinstance(values[-1], int) else None


@dataclass
class ModelFacts:
    """What the static checks found (shown on the model once it is ready)."""

    nodes: int = 0
    opset: int | None = None
    input_shape: list[int | str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def class_names(self) -> tuple[str, ...] | None:
        """The 'names' metadata Ultralytics writes ("{0: 'helmet', 1: 'head'}"), if usable."""
        raw = self.metadata.get("names")
        try:
            names = ast.literal_eval(raw) if raw else None
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        if isinstance(names, dict) and set(names) == set(range(len(names))) and names:
            return tuple(str(names[i]) for i in range(len(names)))
        if isinstance(names, list | tuple) and names:
            return tuple(str(name) for name in names)
        return None


def check_model_bytes(data: bytes) -> ModelFacts:
    """The static checks; ``InvalidModel`` with what to fix, else what was found."""
    try:
        return _check(memoryview(data))
    except _Malformed as error:
        raise InvalidModel(
            f"the file is not an ONNX model ({error}): upload the .onnx file your export wrote "
            "(e.g. `yolo export model=best.pt format=onnx`)"
        ) from None


def _check(data: memoryview) -> ModelFacts:
    model = _fields(data)
    graphs = list(_messages(model, MODEL_GRAPH))
    if not graphs or not _int(model, MODEL_IR_VERSION) or not model.get(MODEL_OPSET):
        raise _Malformed("no graph, IR version or opset")
    facts = ModelFacts()
    for opset in _messages(model, MODEL_OPSET):
        domain = _text(opset, 1)
        if domain not in STANDARD_DOMAINS:
            raise _custom(f"imports the operator set {quoted(domain)}")
        facts.opset = _int(opset, 2)
    if model.get(MODEL_FUNCTIONS):
        raise _custom("defines its own functions")
    for entry in _messages(model, MODEL_METADATA):
        facts.metadata[_text(entry, 1)] = _text(entry, 2)
    _walk(graphs[-1], facts, depth=0)
    facts.input_shape = _image_input(graphs[-1])
    return facts


def _custom(what: str) -> InvalidModel:
    return InvalidModel(
        f"the model {what}: only standard ONNX operators (domain '' or 'ai.onnx') can run "
        "here; export again without custom operators or onnxruntime-specific fusions "
        "(e.g. Ultralytics `format=onnx`, simplify=True, no `optimize`)"
    )


def _walk(graph: Fields, facts: ModelFacts, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidModel(f"the model nests subgraphs more than {MAX_DEPTH} deep")
    for tensor in _messages(graph, GRAPH_INITIALIZER):
        _stored_inside(tensor)
    for sparse in _messages(graph, GRAPH_SPARSE_INITIALIZER):
        _sparse_inside(sparse)
    for node in _messages(graph, GRAPH_NODE):
        facts.nodes += 1
        if facts.nodes > MAX_MODEL_NODES:
            raise InvalidModel(
                f"the model has more than {MAX_MODEL_NODES} nodes: export a smaller "
                "architecture, or simplify the graph (onnxslim, onnx-simplifier)"
            )
        domain = _text(node, NODE_DOMAIN)
        if domain not in STANDARD_DOMAINS:
            op = _text(node, NODE_OP_TYPE)
            raise _custom(f"uses the custom operator {quoted(domain + '::' + op)}")
        for attribute in _messages(node, NODE_ATTRIBUTE):
            for tensor in (*_messages(attribute, ATTR_TENSOR), *_messages(attribute, ATTR_TENSORS)):
                _stored_inside(tensor)
            sparse_fields = (ATTR_SPARSE_TENSOR, ATTR_SPARSE_TENSORS)
            for tensors in (_messages(attribute, number) for number in sparse_fields):
                for one in tensors:
                    _sparse_inside(one)
            for sub in (*_messages(attribute, ATTR_GRAPH), *_messages(attribute, ATTR_GRAPHS)):
                _walk(sub, facts, depth + 1)


def _stored_inside(tensor: Fields) -> None:
    if _int(tensor, TENSOR_DATA_LOCATION) == EXTERNAL or tensor.get(TENSOR_EXTERNAL_DATA):
        raise InvalidModel(
            f"the tensor {quoted(_text(tensor, TENSOR_NAME))} is stored as external data (a "
            "path to another file): save the model as one file, e.g. "
            "onnx.save(model, path, save_as_external_data=False), under 2 GB"
        )


def _sparse_inside(sparse: Fields) -> None:
    for tensor in (*_messages(sparse, SPARSE_VALUES), *_messages(sparse, SPARSE_INDICES)):
        _stored_inside(tensor)


def _image_input(graph: Fields) -> list[int | str]:
    """The one graph input that is not an initializer: [1, 3, H, W] (H, W fixed or named)."""
    constants = {_text(t, TENSOR_NAME) for t in _messages(graph, GRAPH_INITIALIZER)}
    inputs = [v for v in _messages(graph, GRAPH_INPUT) if _text(v, VALUE_NAME) not in constants]
    if len(inputs) != 1:
        raise InvalidModel(
            f"the model has {len(inputs)} inputs: a detector takes one image tensor "
            "[1, 3, H, W]; export it with a single input"
        )
    dims: list[int | str] = []
    for kind in _messages(inputs[0], VALUE_TYPE):
        for tensor in _messages(kind, TYPE_TENSOR):
            for shape in _messages(tensor, TENSOR_TYPE_SHAPE):
                for dim in _messages(shape, SHAPE_DIM):
                    value = _int(dim, DIM_VALUE)
                    dims.append(value if value is not None else _text(dim, DIM_PARAM) or "?")
    fixed = [d if isinstance(d, int) else None for d in dims]
    ok = len(dims) == 4 and fixed[0] in (1, None) and fixed[1] == 3
    sides = [d for d in fixed[2:] if d is not None]
    if not ok or any(not 1 <= d <= MAX_MODEL_INPUT_SIDE for d in sides):
        raise InvalidModel(
            f"the model's input has shape {dims}: a detector here takes [1, 3, H, W] with H and "
            f"W at most {MAX_MODEL_INPUT_SIDE} (export with imgsz={MAX_MODEL_INPUT_SIDE} or less)"
        )
    return dims
