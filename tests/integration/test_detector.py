"""Detector tests: letterbox geometry, both output layouts on tiny hand-built ONNX graphs, NMS,
and (slow) the real COCO model on real frames."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from chalicelib.analysis.detector import (
    Detection,
    YoloDetector,
    choose_layout,
    letterbox,
    load_detector,
    non_max_suppression,
)
from chalicelib.config import sized_model_path
from chalicelib.errors import AnalysisError
from tests.support.models import NAMES, v5_rows, v8_rows, write_model
from tests.support.videos import read_frame

EXPECTED = [
    Detection("car", 1, 0.72, (0.375, 0.375, 0.25, 0.25)),
    Detection("person", 0, 0.6, (0.09375, 0.5, 0.125, 0.5)),
    Detection("dog", 2, 0.45, (0.375, 0.375, 0.25, 0.25)),  # same box as car, other class: kept
]


def assert_detections(found: list[Detection], expected: list[Detection]) -> None:
    assert [(d.label, d.class_id) for d in found] == [(d.label, d.class_id) for d in expected]
    for got, want in zip(found, expected, strict=True):
        assert got.confidence == pytest.approx(want.confidence, abs=1e-6)
        assert got.box == pytest.approx(want.box, abs=1e-6)


FRAME = np.zeros((64, 128, 3), dtype=np.uint8)


@pytest.mark.parametrize("rows", [v5_rows(), v8_rows()], ids=["yolov5", "yolov8"])
def test_decodes_both_layouts_exactly(tmp_path, rows):
    detector = YoloDetector(write_model(tmp_path / "m.onnx", rows))
    assert detector.input_size == (64, 64)
    assert_detections(detector.detect(FRAME), EXPECTED)


def test_split_steps_equal_detect(tmp_path):
    detector = YoloDetector(write_model(tmp_path / "m.onnx", v5_rows()))
    tensor, transform = detector.preprocess(FRAME)
    assert detector.postprocess(detector.infer(tensor), transform) == detector.detect(FRAME)


def test_thresholds_and_cap(tmp_path):
    path = write_model(tmp_path / "m.onnx", v5_rows())
    assert [d.label for d in YoloDetector(path, conf_threshold=0.5).detect(FRAME)] == [
        "car",
        "person",
    ]
    assert [d.label for d in YoloDetector(path, max_detections=1).detect(FRAME)] == ["car"]
    loose = YoloDetector(path, iou_threshold=0.95).detect(FRAME)
    # the shifted car escapes the loose IoU test but lies 94% inside the better car box
    assert [d.confidence for d in loose] == pytest.approx([0.72, 0.6, 0.45])


def test_names_from_constructor_override_metadata(tmp_path):
    path = write_model(tmp_path / "m.onnx", v5_rows())
    detector = YoloDetector(path, class_names=["a", "b", "c"])
    assert [d.label for d in detector.detect(FRAME)] == ["b", "a", "c"]


def test_names_from_metadata_list_and_missing(tmp_path):
    listed = write_model(tmp_path / "l.onnx", v8_rows(), {"names": "['person', 'car', 'dog']"})
    assert_detections(YoloDetector(listed).detect(FRAME), EXPECTED)
    for i, bad in enumerate([{}, {"names": "{0: 'person', 2: 'dog'}"}]):
        with pytest.raises(AnalysisError, match="class_names"):
            YoloDetector(write_model(tmp_path / f"u{i}.onnx", v8_rows(), bad))
    garbled = write_model(tmp_path / "g.onnx", v8_rows(), {"names": "{0: person"})
    with pytest.raises(AnalysisError, match="not a Python literal"):
        YoloDetector(garbled)


def test_dynamic_input_falls_back_to_imgsz_then_640(tmp_path):
    dynamic = ("batch", 3, "height", "width")
    meta = {"names": NAMES, "imgsz": "[64, 64]"}
    with_imgsz = write_model(tmp_path / "a.onnx", v5_rows(), meta, dynamic)
    detector = YoloDetector(with_imgsz)
    assert detector.input_size == (64, 64)
    assert_detections(detector.detect(FRAME), EXPECTED)
    bare = write_model(tmp_path / "b.onnx", v5_rows(), {"names": NAMES}, dynamic)
    assert YoloDetector(bare).input_size == (640, 640)


@pytest.mark.parametrize("shape", [(1, 7, 8), (1, 10, 10), (6, 8)])
def test_ambiguous_or_inconsistent_shape_is_refused(shape):
    with pytest.raises(AnalysisError, match=str(list(shape)).replace("[", r"\[")):
        choose_layout(shape, 3)


def test_model_with_wrong_class_count_fails_at_load(tmp_path):
    path = write_model(tmp_path / "m.onnx", v5_rows(), {"names": "['only']"})
    with pytest.raises(AnalysisError, match="neither"):
        YoloDetector(path)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(AnalysisError, match="not found"):
        YoloDetector(tmp_path / "absent.onnx")


def test_identity_properties(tmp_path):
    path = write_model(tmp_path / "tiny-model.onnx", v5_rows())
    detector = YoloDetector(path)
    assert detector.model_name == "tiny-model"
    assert detector.model_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_asked_input_size_must_be_the_models_own_or_sizes_a_dynamic_one(tmp_path):
    fixed = write_model(tmp_path / "fixed.onnx", v5_rows())  # takes 64x64
    assert YoloDetector(fixed, input_size=64).input_size == (64, 64)
    with pytest.raises(AnalysisError, match=r"takes 64x64 input, not 608x608; `make model`"):
        YoloDetector(fixed, input_size=608)
    meta = {"names": NAMES, "imgsz": "[64, 64]"}
    dynamic = write_model(tmp_path / "d.onnx", v5_rows(), meta, ("batch", 3, "height", "width"))
    detector = YoloDetector(dynamic, input_size=608)
    tensor, _ = detector.preprocess(FRAME)
    assert detector.input_size == (608, 608) and tensor.shape == (1, 3, 608, 608)


@pytest.mark.slow
def test_the_608_model_letterboxes_frames_into_608x608(model_path):
    detector = load_detector(sized_model_path(model_path, 608), input_size=608)
    frame = read_frame("dog_and_woman.mp4", 3.0)
    assert frame.shape == (720, 1280, 3)
    tensor, transform = detector.preprocess(frame)
    assert tensor.shape == (1, 3, 608, 608)
    # 1280x720 scaled by 608/1280 is 608x342, centred: 133 rows of grey above, 133 below
    assert (transform.scale_x, transform.pad_x, transform.pad_y) == (0.475, 0, 133)
    np.testing.assert_allclose(tensor[0, :, 132, 300], [114 / 255] * 3, atol=1e-6)
    assert not np.allclose(tensor[0, :, 133:475, :], 114 / 255)
    assert detector.model_name == "yolov3-tiny-coco-608"
    assert {"dog", "person"} & {d.label for d in detector.detect(frame)}


def test_load_detector_reuses_one_session_per_options(tmp_path, monkeypatch):
    path = write_model(tmp_path / "m.onnx", v5_rows())
    first = load_detector(path)
    monkeypatch.chdir(tmp_path)
    assert load_detector("m.onnx") is first
    assert load_detector(path, conf_threshold=0.5) is not first


@pytest.mark.parametrize("width,height", [(1280, 720), (720, 1280), (97, 55)])
@pytest.mark.parametrize("size", [(416, 416), (64, 64), (320, 480)])
def test_letterbox_round_trip(width, height, size):
    frame = np.full((height, width, 3), (0, 0, 255), dtype=np.uint8)  # pure red in BGR
    tensor, transform = letterbox(frame, size)
    assert tensor.shape == (1, 3, *size) and tensor.dtype == np.float32
    original = np.array([[0.1 * width, 0.2 * height, 0.9 * width, 0.7 * height]], np.float32)
    in_input = original.copy()
    in_input[:, 0::2] = original[:, 0::2] * transform.scale_x + transform.pad_x
    in_input[:, 1::2] = original[:, 1::2] * transform.scale_y + transform.pad_y
    np.testing.assert_allclose(transform.to_original(in_input), original, atol=1.0)
    # Content is RGB in 0..1 and centred; the rest is 114 grey.
    centre = tensor[0, :, size[0] // 2, size[1] // 2]
    np.testing.assert_allclose(centre, [1.0, 0.0, 0.0])
    corner = tensor[0, :, 0, 0] if transform.pad_x or transform.pad_y else None
    if corner is not None:
        np.testing.assert_allclose(corner, [114 / 255] * 3, atol=1e-6)
    assert abs(transform.pad_x - (size[1] - round(width * transform.scale_x)) / 2) <= 0.5


def test_to_original_clips_to_frame():
    _, transform = letterbox(np.zeros((64, 128, 3), np.uint8), (64, 64))
    boxes = np.array([[-10, 0, 70, 70]], np.float32)
    np.testing.assert_allclose(transform.to_original(boxes), [[0, 0, 128, 64]])


def test_nms_is_class_aware_and_deterministic():
    boxes = np.array(
        [[10, 10, 50, 50], [12, 12, 52, 52], [10, 10, 50, 50], [100, 100, 120, 120]], np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.9], np.float32)
    class_ids = np.array([0, 0, 1, 0])
    # Same-class overlap suppressed; other class kept; ties broken by class id, then box.
    assert non_max_suppression(boxes, scores, class_ids, 0.45).tolist() == [0, 3, 2]
    permutation = np.array([3, 2, 1, 0])
    kept = non_max_suppression(
        boxes[permutation], scores[permutation], class_ids[permutation], 0.45
    )
    assert permutation[kept].tolist() == [0, 3, 2]


def test_nms_on_nothing():
    empty = np.zeros((0, 4), np.float32)
    assert non_max_suppression(empty, np.zeros(0), np.zeros(0, int), 0.45).size == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "video,seconds,wanted",
    [("highway_dashcam.mp4", 2.0, {"car"}), ("dog_and_woman.mp4", 3.0, {"dog", "person"})],
)
def test_real_model_finds_objects(model_path, video, seconds, wanted):
    detections = load_detector(model_path).detect(read_frame(video, seconds))
    print(video, [(d.label, round(d.confidence, 2)) for d in detections])
    assert wanted & {d.label for d in detections}
    for d in detections:
        x, y, w, h = d.box
        assert 0 <= x <= x + w <= 1 and 0 <= y <= y + h <= 1 and w > 0 and h > 0


def test_nms_drops_a_same_class_box_inside_a_better_one():
    boxes = np.array(
        [[0, 0, 100, 200], [20, 40, 60, 120], [20, 40, 60, 120], [90, 0, 190, 200]],
        dtype=np.float32,
    )  # a person, their torso (IoU 0.16), a dog at the torso, a second person half outside
    scores = np.array([0.9, 0.8, 0.7, 0.6], dtype=np.float32)
    class_ids = np.array([0, 0, 16, 0])
    kept = non_max_suppression(boxes, scores, class_ids, iou_threshold=0.45)
    assert kept.tolist() == [0, 2, 3]
