"""The fused OCR models (layers/model/ocr_models.py): what the rewrite folds, that the result
computes the same function, the cached build, and that the reader reads the same lines with
them as with the wheel's own models."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from chalicelib.analysis.frames import VideoReader
from chalicelib.analysis.ocr import TextReader, load_text_reader
from chalicelib.config import TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE
from chalicelib.errors import AnalysisError
from layers.model import ocr_models
from layers.model.build_yolov3_tiny import ModelBuildError, sha256_of
from tests.support.videos import SAMPLES

RNG = np.random.default_rng(7)


def _const(name: str, value) -> onnx.NodeProto:
    array = np.asarray(value, dtype=np.float32)
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def _hard_swish(x: str, out: str) -> list[onnx.NodeProto]:
    """x * Clip(x + 3, 0, 6) / 6, spelled as the PP-OCR export spells it."""
    return [
        helper.make_node("Add", [x, "three"], [f"{out}.add"]),
        helper.make_node("Clip", [f"{out}.add", "zero", "six"], [f"{out}.clip"]),
        helper.make_node("Mul", [x, f"{out}.clip"], [f"{out}.mul"]),
        helper.make_node("Div", [f"{out}.mul", "six"], [out]),
    ]


def _affine(x: str, out: str, a: float, b: float) -> list[onnx.NodeProto]:
    return [
        _const(f"{out}.a", [a]),
        _const(f"{out}.b", [b]),
        helper.make_node("Mul", [f"{out}.a", x], [f"{out}.scaled"]),
        helper.make_node("Add", [f"{out}.scaled", f"{out}.b"], [out]),
    ]


def _weights(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32) * 0.3, name)


def small_detector() -> onnx.ModelProto:
    """conv 3x3 -> affine -> hard-swish -> affine -> 1x1 conv -> affine -> hard-swish ->
    affine -> depthwise 3x3 conv (padded: its affine must stay), at opset 12 like the wheel's."""
    nodes = [_const("three", 3.0), _const("zero", 0.0), _const("six", 6.0)]
    nodes.append(helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]))
    nodes += (
        _affine("c1", "a1", 1.9, 0.8) + _hard_swish("a1", "h1") + _affine("h1", "p1", 0.6, -0.5)
    )
    nodes.append(helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"]))
    nodes += (
        _affine("c2", "a2", 0.9, 1.8) + _hard_swish("a2", "h2") + _affine("h2", "p2", 0.4, -0.9)
    )
    nodes.append(helper.make_node("Conv", ["p2", "w3", "b3"], ["y"], group=8, pads=[1, 1, 1, 1]))
    weights = [
        _weights("w1", (8, 3, 3, 3)), _weights("b1", (8,)), _weights("w2", (8, 8, 1, 1)),
        _weights("b2", (8,)), _weights("w3", (8, 1, 3, 3)), _weights("b3", (8,)),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    helper.set_model_props(model, {"shape": "[1, 3, -1, -1]"})
    return model


def _run(model: onnx.ModelProto, tensor: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": tensor})[0]


def test_fuse_folds_the_affine_steps_and_hard_swish_and_keeps_the_function():
    model = small_detector()
    fused, counts = ocr_models.fuse(model, 14)
    assert counts == {"conv_affine": 2, "pointwise_affine": 1, "hard_swish": 2}
    ops = [node.op_type for node in fused.graph.node]
    # left: 3 convolutions, 2 HardSwish, and the affine step before the padded depthwise conv
    assert sorted(ops) == ["Add", "Conv", "Conv", "Conv", "HardSwish", "HardSwish", "Mul"]
    assert {prop.key: prop.value for prop in fused.metadata_props} == {"shape": "[1, 3, -1, -1]"}
    tensor = RNG.standard_normal((1, 3, 20, 28)).astype(np.float32)
    expected, got = _run(model, tensor), _run(fused, tensor)
    assert expected.shape == got.shape == (1, 8, 20, 28)
    assert np.abs(expected - got).max() < 1e-5


def test_below_opset_14_hard_swish_becomes_x_times_hard_sigmoid():
    model = small_detector()
    fused, counts = ocr_models.fuse(model, 13)
    assert counts == {"conv_affine": 2, "pointwise_affine": 1, "hard_swish": 2}
    assert fused.opset_import[0].version == 13
    ops = sorted(node.op_type for node in fused.graph.node)
    assert ops == ["Add", "Conv", "Conv", "Conv", "HardSigmoid", "HardSigmoid", "Mul", "Mul", "Mul"]
    tensor = RNG.standard_normal((1, 3, 20, 28)).astype(np.float32)
    assert np.abs(_run(model, tensor) - _run(fused, tensor)).max() < 1e-5


def test_the_fused_recognizer_reads_a_line_alike_alone_or_with_others(ocr_model_paths):
    """RapidOCR recognises a frame's lines in batches; a line must not read otherwise for the
    lines beside it (a part of a frame would then read unlike the whole frame)."""
    path = ocr_model_paths[TEXT_RECOGNIZER_FILE]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    lines = np.random.default_rng(3).uniform(-1, 1, (3, 3, 48, 320)).astype(np.float32)
    together = session.run(None, {name: lines})[0]
    for index in range(3):
        alone = session.run(None, {name: lines[index : index + 1]})[0]
        assert np.array_equal(alone[0], together[index])


def test_fuse_leaves_a_graph_without_its_patterns_alone():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    fused, counts = ocr_models.fuse(model, 14)
    assert counts == {"conv_affine": 0, "pointwise_affine": 0, "hard_swish": 0}
    assert [node.op_type for node in fused.graph.node] == ["Relu"]


def _pointwise_after_affine(conv: onnx.NodeProto, extra: list[onnx.NodeProto]) -> onnx.ModelProto:
    """x -> Mul(0.5) -> Add(0.25) -> ``conv`` (input "p", output "y"), plus ``extra`` nodes."""
    nodes = [*_affine("x", "p", 0.5, 0.25), *extra, conv]
    graph = helper.make_graph(
        nodes,
        "pointwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, None, None])],
        [_weights("w", (4, 4, 1, 1)), _weights("b", (4,))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize(
    "conv, extra",
    [
        (helper.make_node("Conv", ["p", "w", "b"], ["y"], pads=[1, 1, 1, 1]), []),
        (
            helper.make_node("Conv", ["p", "w", "b"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2]),
            [],
        ),
        (
            helper.make_node("Conv", ["p", "w2", "b"], ["y"]),
            [helper.make_node("Relu", ["w"], ["w2"])],
        ),
        (
            helper.make_node("Conv", ["p", "w", "b"], ["y"]),
            [helper.make_node("Relu", ["p"], ["also"])],
        ),
    ],
    ids=["padded", "auto-padded", "weights-computed", "affine-read-twice"],
)
def test_an_affine_step_stays_where_folding_it_would_not_be_exact(conv, extra):
    model = _pointwise_after_affine(conv, extra)
    fused, counts = ocr_models.fuse(model, 14)
    assert counts["pointwise_affine"] == 0
    tensor = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    assert np.abs(_run(model, tensor) - _run(fused, tensor)).max() < 1e-5


def test_an_affine_step_before_an_unpadded_pointwise_conv_is_folded_exactly():
    model = _pointwise_after_affine(helper.make_node("Conv", ["p", "w", "b"], ["y"]), [])
    fused, counts = ocr_models.fuse(model, 14)
    assert counts["pointwise_affine"] == 1
    assert [node.op_type for node in fused.graph.node] == ["Conv"]
    tensor = RNG.standard_normal((1, 4, 6, 6)).astype(np.float32)
    assert np.abs(_run(model, tensor) - _run(fused, tensor)).max() < 1e-5


@pytest.mark.parametrize("target", [TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE])
def test_the_build_refuses_a_model_that_computes_something_else(tmp_path, monkeypatch, target):
    """One folded weight 1% off is caught on the check input, and nothing is written."""
    real_fuse = ocr_models.fuse

    def broken(model, opset):
        fused, counts = real_fuse(model, opset)
        if opset == ocr_models.OPSETS[target]:  # the model under test, not the other
            weight = next(i for i in fused.graph.initializer if i.name.startswith("fused_"))
            array = numpy_helper.to_array(weight) * 1.01
            weight.CopyFrom(numpy_helper.from_array(array, weight.name))
        return fused, counts

    monkeypatch.setattr(ocr_models, "fuse", broken)
    source = ocr_models.SOURCES[target]
    differs = rf"{re.escape(target)} differs from {re.escape(source)} by 0\.\d+"
    with pytest.raises(ModelBuildError, match=differs):
        ocr_models.ensure_ocr_models(tmp_path)
    assert not (tmp_path / target).exists()
    built = {path.name for path in tmp_path.glob("*.onnx")}
    assert built == ({TEXT_DETECTOR_FILE} if target == TEXT_RECOGNIZER_FILE else set())


def test_the_build_is_cached_reproducible_and_redone_when_stale(tmp_path, ocr_model_paths):
    built = ocr_models.ensure_ocr_models(tmp_path)
    assert built == {name: tmp_path / name for name in (TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE)}
    for name, path in built.items():
        assert sha256_of(path) == sha256_of(ocr_model_paths[name])  # the same bytes every time
        record = json.loads((tmp_path / f"{name}.build.json").read_text())
        assert record["source_sha256"] == sha256_of(ocr_models.source_path(name))
        assert record["onnx_sha256"] == sha256_of(path)
    detector, recognizer = built[TEXT_DETECTOR_FILE], built[TEXT_RECOGNIZER_FILE]
    stamps = {path: path.stat().st_mtime_ns for path in built.values()}
    assert ocr_models.ensure_ocr_models(tmp_path) == built
    assert {path: path.stat().st_mtime_ns for path in built.values()} == stamps  # cached
    recognizer.write_bytes(b"truncated")
    ocr_models.ensure_ocr_models(tmp_path)
    assert sha256_of(recognizer) == sha256_of(ocr_model_paths[TEXT_RECOGNIZER_FILE])
    assert detector.stat().st_mtime_ns == stamps[detector]  # only the stale one is rebuilt


def test_the_command_prints_where_it_built(tmp_path, capsys):
    assert ocr_models.main(["--model-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"text detector: {tmp_path / TEXT_DETECTOR_FILE}",
        f"text recognizer: {tmp_path / TEXT_RECOGNIZER_FILE}",
    ]


@pytest.mark.parametrize("missing", [TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE])
def test_a_missing_fused_model_says_how_to_build_it(tmp_path, ocr_model_paths, missing):
    paths = {**ocr_model_paths, missing: tmp_path / missing}
    with pytest.raises(AnalysisError, match=f"{missing} is missing: build it with `make model`"):
        TextReader(paths[TEXT_DETECTOR_FILE], paths[TEXT_RECOGNIZER_FILE])


def _without_confidences(lines: list) -> list:
    return [
        (line.text, line.polygon, [(glyph.char, glyph.polygon) for glyph in line.glyphs])
        for line in lines
    ]


def _confidences(lines: list) -> np.ndarray:
    return np.array(
        [c for line in lines for c in (line.confidence, *(g.confidence for g in line.glyphs))]
    )


def test_the_fused_models_read_what_the_wheels_read(ocr_model_paths):
    """Every line, polygon and glyph, on real frames with text (a sample clip's blocks); the
    confidences to float rounding (the recognizer's moves them in the 7th digit)."""
    fused = load_text_reader(
        ocr_model_paths[TEXT_DETECTOR_FILE], ocr_model_paths[TEXT_RECOGNIZER_FILE]
    )
    shipped = load_text_reader()
    assert fused is not shipped
    checked = 0
    with VideoReader(SAMPLES / "letter_blocks.mp4") as video:
        for frame in video.sample(0.4):
            expected, got = shipped.read(frame.image), fused.read(frame.image)
            assert _without_confidences(got) == _without_confidences(expected)
            assert np.abs(_confidences(got) - _confidences(expected)).max(initial=0) < 1e-4
            checked += len(expected)
    assert checked >= 5
