"""GetSegmentDetection's ``Segments`` from a stored ``shots`` results document.

The document's ``segments.shots`` and ``segments.technical_cues`` give each segment's first and
last frame (inclusive) and a confidence from 0.5 to 1. Rekognition describes a segment by its
first and last frame: ``EndFrameNumber`` is the last frame, ``EndTimestampMillis`` and
``EndTimecodeSMPTE`` that frame's time and label, and the durations are end less start (so a
shot's next one starts one frame after its end; AWS answers the same way). The job's
``SegmentTypes`` and each type's ``MinSegmentConfidence`` apply here, at Get time. Segments are
ordered by the job's ``SegmentTypes`` (in the order the request listed them), then by time.
"""

from __future__ import annotations

from chalicelib.rekognition.label_results import percent
from chalicelib.rekognition.timecodes import FrameClock

DEFAULT_MIN_SEGMENT_CONFIDENCE = 50.0  # percent, as Rekognition's (also its least allowed)
FILTER_OF = {"SHOT": "ShotFilter", "TECHNICAL_CUE": "TechnicalCueFilter"}
STORED_AS = {"SHOT": "shots", "TECHNICAL_CUE": "technical_cues"}


class SegmentFilter:
    """The segment types one StartSegmentDetection asked for, and each one's confidence floor."""

    def __init__(self, request: dict):
        filters = request.get("Filters", {})
        self.types: list[str] = list(request["SegmentTypes"])
        self.min_confidence = {
            kind: filters.get(FILTER_OF[kind], {}).get(
                "MinSegmentConfidence", DEFAULT_MIN_SEGMENT_CONFIDENCE
            )
            / 100
            for kind in self.types
        }

    def allows(self, kind: str, confidence: float) -> bool:
        return kind in self.min_confidence and confidence >= self.min_confidence[kind]


def segment_entries(results: dict, accept: SegmentFilter, clock: FrameClock) -> list[dict]:
    """Every stored segment the filter keeps, as Rekognition's ``SegmentDetection``."""
    stored = results.get("segments") or {}
    entries = []
    for kind in accept.types:
        found = [
            s for s in stored.get(STORED_AS[kind]) or () if accept.allows(kind, s["confidence"])
        ]
        found.sort(key=lambda s: (s["start_frame"], s["end_frame"]))
        entries += [_segment(kind, segment, clock) for segment in found]
    return entries


def _segment(kind: str, segment: dict, clock: FrameClock) -> dict:
    first, last = segment["start_frame"], segment["end_frame"]
    start_ms, end_ms = clock.millis(first), clock.millis(last)
    entry: dict = {
        "Type": kind,
        "StartTimestampMillis": start_ms,
        "EndTimestampMillis": end_ms,
        "DurationMillis": end_ms - start_ms,
        "StartTimecodeSMPTE": clock.smpte(first),
        "EndTimecodeSMPTE": clock.smpte(last),
        "DurationSMPTE": clock.smpte(last - first),
        "StartFrameNumber": first,
        "EndFrameNumber": last,
        "DurationFrames": last - first,
    }
    if kind == "SHOT":
        entry["ShotSegment"] = {
            "Index": segment["index"],
            "Confidence": percent(segment["confidence"]),
        }
    else:
        entry["TechnicalCueSegment"] = {
            "Type": segment["type"],
            "Confidence": percent(segment["confidence"]),
        }
    return entry


def selected_types(accept: SegmentFilter, model_version: str) -> list[dict]:
    return [{"Type": kind, "ModelVersion": model_version} for kind in accept.types]
