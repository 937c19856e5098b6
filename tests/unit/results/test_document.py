from dataclasses import dataclass

import pytest

from chalicelib.results.assembly import build_document
from chalicelib.results.document import FrameResult, encode


@dataclass(frozen=True)
class Obj:
    label: str
    class_id: int
    confidence: float
    box: tuple


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float
    polygon: tuple


def frames():
    dog = Obj("dog", 16, 0.812345678, (0.1, 0.2, 0.3, 0.4))
    person = Obj("person", 0, 0.9, (0.5, 0.5, 0.1, 0.2))
    hello = Line("HELLO", 0.97, ((0.1, 0.1), (0.4, 0.1), (0.4, 0.2), (0.1, 0.2)))
    return [
        FrameResult(0, 0, (dog, Obj("dog", 16, 0.5, (0, 0, 0.1, 0.1))), (hello,)),
        FrameResult(1000, 30, (person,), ()),
        FrameResult(2000, 60, (dog,), (Line("HELLO", 0.99, hello.polygon), hello)),
    ]


def document():
    return build_document(
        pipeline_id="yolo_ocr",
        options={"min_confidence": 0.25},
        models={"detector": {"name": "m", "sha256": "0" * 64}},
        video={"duration_ms": 2500},
        sampling={"fps": 1.0},
        frames=frames(),
    )


def test_frames_are_rounded_and_relative():
    first = document()["frames"][0]
    assert first["objects"][0] == {
        "label": "dog",
        "class_id": 16,
        "confidence": 0.8123,
        "box": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        "track_id": 2,  # confirmed at its second sighting, after the confident person
    }
    assert len(first["objects"]) == 1  # the faint second dog, seen once, is not reported
    assert first["text"][0]["polygon"][1] == [0.4, 0.1]


def test_object_summary_counts_frames_not_boxes():
    summary = document()["summary"]["objects"]
    assert summary == {
        "dog": {"frames": 2, "max_confidence": 0.8123, "first_ms": 0, "last_ms": 2000},
        "person": {"frames": 1, "max_confidence": 0.9, "first_ms": 1000, "last_ms": 1000},
    }


def test_text_summary_per_distinct_line():
    assert document()["summary"]["text"] == [
        {"text": "HELLO", "frames": 2, "max_confidence": 0.99, "first_ms": 0, "last_ms": 2000}
    ]


def test_encoding_is_canonical_and_stable():
    assert encode(document()) == encode(document())
    assert encode({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


def test_results_encoding_is_canonical():
    assert encode({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        encode({"x": float("nan")})
