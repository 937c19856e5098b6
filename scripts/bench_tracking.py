"""``make bench``'s tracking section: tracks and labels against what is in each clip, by eye.

How the objects were counted (once, by a person, on stills 1 s apart, 5 s for people_indoor,
and the full-rate clip where that was unclear): every object of a COCO class a viewer would point
at, counted once per appearance (one that leaves the picture and comes back is counted again;
after a cut, everyone on screen is new). Cars shrunk to a few pixels at the horizon of
highway_dashcam are not counted. ``present`` are the labels that are right for the clip; any
other label reported at the defaults is a false label. ``allowed``: labels neither counted nor
false (the dog's red toy may be called a ball).

The detector runs once per clip, rate and input size (``detector_size``: 416, the default, and
608); its boxes are split at ``min_confidence`` as the pipeline splits them, then go through a
job's path (``build_document``: tracking, held frames, labels). ``detect_s`` is the detector's
whole call (letterbox, model, NMS) on the bench's own process, on ORT's default threads.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from chalicelib.config import (
    DEFAULT_DETECTOR_SIZE,
    DEFAULT_OBJECT_MIN_CONFIDENCE,
    DETECTION_FLOOR,
    DETECTOR_SIZES,
    load_settings,
    sized_model_path,
)
from chalicelib.results.assembly import build_document
from chalicelib.results.document import FrameResult
from chalicelib.results.tracking import Tracker


@dataclass(frozen=True)
class Seen:
    objects: dict[str, int]  # label -> objects counted by eye
    allowed: frozenset[str] = frozenset()

    @property
    def count(self) -> int:
        return sum(self.objects.values())

    @property
    def present(self) -> set[str]:
        return set(self.objects) | self.allowed


BY_EYE = {
    "captions_vertical": Seen({"person": 6}),  # 1 at 0 s, 2 at 1 s, 1 blurred at 2 s, 2 at 3-5 s
    "cars_parking_aerial": Seen({"car": 4}),  # seen from above: at 5-8 s, two at 15-18 s, 26-27 s
    "dog_and_woman": Seen({"person": 1, "dog": 1}, frozenset({"sports ball"})),
    "highway_dashcam": Seen({"car": 7}),  # 2 ahead, 5 passing on the left
    "letter_blocks": Seen({"person": 1}),  # the hands and forearms of one person
    "people_indoor": Seen({"person": 6, "diningtable": 1}),  # six visits to the table
    "soccer_juggle": Seen({"person": 1, "sports ball": 1}),
}
RATES = (1.0, 5.0)
LARGE_SIZE = max(DETECTOR_SIZES)  # measured side by side with the default


@dataclass
class TrackingRow:
    clip: str
    fps: float
    tracks: Counter
    false_labels: list[str]
    tracker_s: float
    frames: int
    size: int = DEFAULT_DETECTOR_SIZE
    detect_s: float = 0.0

    def by_label(self) -> str:
        return ", ".join(f"{n} {label}" for label, n in sorted(self.tracks.items()))

    @property
    def within(self) -> bool:
        eye, found = BY_EYE[self.clip].count, sum(self.tracks.values())
        return abs(found - eye) <= (1 if eye < 5 else 0.2 * eye)


def _detections(clip: Path, fps: float, size: int) -> tuple[list[tuple[int, int, list]], float]:
    """Each sampled frame's detections, and the seconds the detector took over all of them."""
    from chalicelib.analysis.detector import load_detector
    from chalicelib.analysis.frames import VideoReader

    model = sized_model_path(load_settings().model_path, size)
    detector = load_detector(model, conf_threshold=DETECTION_FLOOR, input_size=size)
    found, detect_s = [], 0.0
    with VideoReader(clip) as reader:
        for frame in reader.sample(fps):
            started = time.perf_counter()
            detections = detector.detect(frame.image)
            detect_s += time.perf_counter() - started
            found.append((frame.timestamp_ms, frame.index, detections))
    return found, detect_s


def measure_tracking(clips: list[Path], size: int = DEFAULT_DETECTOR_SIZE) -> list[TrackingRow]:
    rows = []
    for clip in clips:
        if clip.stem not in BY_EYE:
            continue
        for fps in RATES:
            detected, detect_s = _detections(clip, fps, size)
            cut = DEFAULT_OBJECT_MIN_CONFIDENCE  # as the pipeline splits them (_objects)
            frames = [
                FrameResult(t, index, [d for d in found if d.confidence >= cut],
                            weak=[d for d in found if d.confidence < cut])
                for t, index, found in detected
            ]  # fmt: skip
            tracker, started = Tracker(), time.perf_counter()
            for frame in frames:
                tracker.update(frame.timestamp_ms, frame.objects, frame.weak)
            tracker_s = time.perf_counter() - started
            document = build_document(pipeline_id="yolo", options={}, models={}, video={},
                                      sampling={}, frames=frames)  # fmt: skip
            tracks = Counter(track["label"] for track in document["tracks"])
            false = sorted(set(tracks) - BY_EYE[clip.stem].present)
            rows.append(
                TrackingRow(clip.stem, fps, tracks, false, tracker_s, len(frames), size, detect_s)
            )
    return rows
