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


def test_frames_wait_for_their_tracks_and_go_on_across_a_saved_state():
    """A faint kite seen once is held back, then left out once its track ends unconfirmed; the
    dog's frames are written as soon as it is confirmed; saving and restoring the assembler
    between any two frames gives the same bytes."""
    import json

    from chalicelib.results.assembly import Assembler

    kite = Obj("kite", 33, 0.3, (0.7, 0.1, 0.05, 0.05))
    frames = [
        FrameResult(t, t // 100, (Obj("dog", 16, 0.6, (0.1 + t / 1e5, 0.2, 0.3, 0.4)),)
                    + ((kite,) if t == 1000 else ()), ())
        for t in range(0, 6000, 1000)
    ]  # fmt: skip

    def build(save_at: int | None) -> tuple[list[bytes], bytes, list[int]]:
        pieces: list[bytes] = []
        assembler, held = Assembler(lambda index, piece: pieces.append(piece)), []
        for i, frame in enumerate(frames):
            if i == save_at:
                state = json.loads(json.dumps(assembler.state()))
                assembler = Assembler(lambda index, piece: pieces.append(piece), state)
            assembler.add(frame)
            held.append(len(assembler.state()["held"]))
        fields = dict(pipeline_id="yolo", options={}, models={}, video={}, sampling={})
        head = assembler.finish(fields, lambda index: json.loads(pieces[index]))
        return pieces, head, held

    pieces, head, held = build(None)
    # the first frame waits for the dog's second sighting; the kite's frame (and those after
    # it) until the kite has gone unseen for LOST_MS
    assert held == [1, 1, 2, 3, 0, 0]
    written = [frame for piece in pieces for frame in json.loads(piece)]
    assert [[o["label"] for o in f["objects"]] for f in written] == [["dog"]] * 6
    assert json.loads(head)["results"]["tracks"][0]["label"] == "dog"
    assert all(build(i)[:2] == (pieces, head) for i in range(1, 6))
