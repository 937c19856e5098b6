"""The results document: per sampled frame objects and text, object tracks, time segments per
label and spans of text, and a summary per label and line (``schema_version`` 2; what changed
since 1 is in the CHANGELOG).

Deterministic by construction: fixed rounding, stable ordering everywhere, no wall-clock times
or job ids inside, and canonical JSON (``encode``), so the same video analyzed twice gives
byte-identical results.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from chalicelib.results.segments import label_segments, text_spans
from chalicelib.results.text_lines import TextLine, words

if TYPE_CHECKING:  # the API reads documents and never tracks: no import at run time
    from chalicelib.results.tracking import Box, Track

SCHEMA_VERSION = 2
DIGITS = 4  # 1e-4 of the frame is well under a pixel even for 4K


class DetectionLike(Protocol):
    """What a frame's objects give the results (``chalicelib.analysis.detector.Detection``)."""

    @property
    def label(self) -> str: ...
    @property
    def class_id(self) -> int: ...
    @property
    def confidence(self) -> float: ...
    @property
    def box(self) -> Box: ...


def _r(value: float) -> float:
    return round(float(value), DIGITS)


@dataclass(frozen=True)
class FrameResult:
    timestamp_ms: int
    frame_index: int
    objects: Sequence = field(default_factory=tuple)  # Detection-like: label, class_id, ...
    text: Sequence = field(default_factory=tuple)  # TextLine-like: text, confidence, polygon
    weak: Sequence = field(default_factory=tuple)  # below min_confidence: tracking only
    new_shot: bool = False  # a shot boundary lies between the previous sampled frame and this


def box_json(box: Box) -> dict:
    x, y, w, h = box
    return {"x": _r(x), "y": _r(y), "w": _r(w), "h": _r(h)}


def polygon_json(polygon: Iterable[Sequence[float]]) -> list[list[float]]:
    return [[_r(x), _r(y)] for x, y in polygon]


def object_json(detection: DetectionLike, track_id: int) -> dict:
    return {
        "label": detection.label,
        "class_id": detection.class_id,
        "confidence": _r(detection.confidence),
        "box": box_json(detection.box),
        "track_id": track_id,
    }


def text_json(line: TextLine) -> dict:
    return {
        "text": line.text,
        "confidence": _r(line.confidence),
        "polygon": polygon_json(line.polygon),
        "words": [
            {"text": w.text, "confidence": _r(w.confidence), "polygon": polygon_json(w.polygon)}
            for w in words(line)
        ],
    }


def frame_json(frame: FrameResult, track_ids: Sequence[int | None]) -> dict:
    """The frame's JSON; an object whose track id is None (read twice) is left out."""
    pairs = zip(frame.objects, track_ids, strict=True)
    return {
        "timestamp_ms": frame.timestamp_ms,
        "frame_index": frame.frame_index,
        "objects": [object_json(d, t) for d, t in pairs if t is not None],
        "text": [text_json(t) for t in frame.text],
    }


def track_json(track: Track) -> dict:
    return {
        "track_id": track.track_id,
        "label": track.label,
        "first_ms": track.first_ms,
        "last_ms": track.last_ms,
        "frames": track.frames,
        "max_confidence": _r(track.max_confidence),
        "first_box": box_json(track.first_box),
        "last_box": box_json(track.last_box),
    }


def segments_json(frames: Callable[[], Iterable[FrameResult]]) -> dict:
    """``frames()``: a new pass over the frames, in order."""
    objects = label_segments(frames())
    for segment in objects:
        segment["max_confidence"] = _r(segment["max_confidence"])
    spans = text_spans(frames())
    for span in spans:
        span["max_confidence"] = _r(span["max_confidence"])
        span["polygon"] = polygon_json(span["polygon"])
    return {"objects": objects, "text": spans}


def summarize_objects(frames: Iterable[FrameResult]) -> dict[str, dict]:
    """Per label: frames it was seen in, its best confidence, first and last time seen."""
    summary: dict[str, dict] = {}
    for frame in frames:
        for label in sorted({d.label for d in frame.objects}):
            best = max(d.confidence for d in frame.objects if d.label == label)
            entry = summary.setdefault(
                label, {"frames": 0, "max_confidence": 0.0, "first_ms": frame.timestamp_ms}
            )
            entry["frames"] += 1
            entry["max_confidence"] = max(entry["max_confidence"], _r(best))
            entry["last_ms"] = frame.timestamp_ms
    return dict(sorted(summary.items()))


def summarize_text(frames: Iterable[FrameResult]) -> list[dict]:
    """Per distinct line of text: first and last time seen, max confidence, frame count."""
    summary: dict[str, dict] = {}
    for frame in frames:
        for text in sorted({line.text for line in frame.text}):
            best = max(line.confidence for line in frame.text if line.text == text)
            entry = summary.setdefault(
                text,
                {"text": text, "frames": 0, "max_confidence": 0.0, "first_ms": frame.timestamp_ms},
            )
            entry["frames"] += 1
            entry["max_confidence"] = max(entry["max_confidence"], _r(best))
            entry["last_ms"] = frame.timestamp_ms
    return sorted(summary.values(), key=lambda e: (e["first_ms"], e["text"]))


def encode(document: dict) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, so equal documents are equal bytes."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
