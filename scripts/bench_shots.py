"""Section 2d of ``make bench``: the shots pipeline's cost per decoded frame and its accuracy.

Cost: the shots pipeline on every clip (medians of interleaved runs), split into decoding (PyAV,
every frame scaled to 256 px as FFmpeg converts it) and detection (cuts, dissolves, black), next
to OpenCV's decoding of the same frames at full size plus a resize (what the frame pipelines'
reader would cost for every frame).

Accuracy: the joined clip of ``scripts/cuts_clip.py`` (known cuts, a dissolve and a second of
black, by construction), every other sample clip (one continuous shot each: any cut is false),
and captions_vertical against the cuts counted by eye (``CAPTIONS_CUTS_BY_EYE``: the first frame
of each new picture, read off a sheet of all 177 frames).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from scripts.bench_analyzer import log

CAPTIONS_CUTS_BY_EYE = (24, 29, 48, 52, 55, 57, 59, 62, 129, 132, 142, 145, 161)
TOLERANCE = {"cut": 1, "black": 2, "fade": 3}  # frames


@dataclass
class ShotCost:
    clip: str
    frames: int
    duration_s: float
    size: tuple[int, int]
    decoded_size: tuple[int, int]
    wall_s: list[float] = field(default_factory=list)
    decode_s: list[float] = field(default_factory=list)
    detect_s: list[float] = field(default_factory=list)
    opencv_s: list[float] = field(default_factory=list)
    shots: int = 0


def _opencv_every_frame(clip: Path) -> float:
    """Seconds for OpenCV to decode and convert every frame, then scale it to 256 px."""
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG)
    while capture.grab():
        ok, image = capture.retrieve()
        if ok:
            height, width = image.shape[:2]
            scale = 256 / max(height, width)
            cv2.resize(image, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    capture.release()
    return time.perf_counter() - started


def measure_cost(clips: list[Path], repeats: int) -> list[ShotCost]:
    from chalicelib.analysis.shots import ShotsPipeline

    pipeline = ShotsPipeline(None)
    rows: dict[str, ShotCost] = {}
    for _ in range(repeats):
        for clip in clips:
            log(f"shots: {clip.name}")
            timings: dict[str, float] = {}
            started = time.perf_counter()
            document = pipeline.run(clip, timings=timings)
            wall = time.perf_counter() - started
            video = document["video"]
            row = rows.setdefault(clip.name, ShotCost(
                clip.name, document["sampling"]["frames_decoded"], video["duration_ms"] / 1000,
                (video["width"], video["height"]), tuple(document["sampling"]["decoded_size"]),
            ))  # fmt: skip
            row.wall_s.append(wall)
            row.decode_s.append(timings["decode"])
            row.detect_s.append(timings["shots"])
            row.opencv_s.append(_opencv_every_frame(clip))
            row.shots = len(document["segments"]["shots"])
    return list(rows.values())


@dataclass
class Accuracy:
    what: str
    expected: int
    found: int
    false: int
    worst_frames: int | None = None


def measure_accuracy(videos: Path) -> list[Accuracy]:
    from chalicelib.analysis.shots import ShotsPipeline
    from scripts import cuts_clip

    pipeline = ShotsPipeline(None)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "joined.mp4"
        boundaries = cuts_clip.build(path)
        starts = [s["start_frame"] for s in pipeline.run(path)["segments"]["shots"]][1:]
        cues = pipeline.run(path)["segments"]["technical_cues"]
    black_edges = [c["start_frame"] for c in cues if c["type"] == "BlackFrames"]
    black_edges += [c["end_frame"] + 1 for c in cues if c["type"] == "BlackFrames"]
    matched: set[int] = set()
    for kind in ("cut", "fade", "black"):
        wanted = [b.frame for b in boundaries if b.kind == kind]
        pool = black_edges if kind == "black" else starts
        errors = [min((abs(f - w) for f in pool), default=999) for w in wanted]
        found = [e for e in errors if e <= TOLERANCE[kind]]
        matched.update(f for f in pool for w in wanted if abs(f - w) <= TOLERANCE[kind])
        label = {"cut": "hard cuts", "fade": "dissolve (middle)", "black": "black run edges"}[kind]
        rows.append(Accuracy(f"joined clip: {label}", len(wanted), len(found), 0,
                             max(found, default=None)))  # fmt: skip
    black_frames = {b.frame for b in boundaries if b.kind == "black"}
    false = [f for f in starts if f not in matched and f not in black_frames]
    rows.append(Accuracy("joined clip: false cuts", 0, 0, len(false)))
    captions = [s["start_frame"] for s in pipeline.run(videos / "captions_vertical.mp4")
                ["segments"]["shots"]][1:]  # fmt: skip
    errors = [min(abs(f - cut) for f in captions) for cut in CAPTIONS_CUTS_BY_EYE]
    found = [e for e in errors if e <= 1]
    extra = [f for f in captions if all(abs(f - c) > 1 for c in CAPTIONS_CUTS_BY_EYE)]
    rows.append(Accuracy("captions_vertical: cuts by eye", len(CAPTIONS_CUTS_BY_EYE),
                         len(found), len(extra), max(found, default=None)))  # fmt: skip
    for clip in sorted(videos.glob("*.mp4")):
        if clip.name != "captions_vertical.mp4":
            cuts = len(pipeline.run(clip)["segments"]["shots"]) - 1
            rows.append(Accuracy(f"{clip.name} (one shot)", 0, 0, cuts))
    return rows
