"""make bench, section 8: long videos. What a checkpoint costs per slice, and the new ceiling.

A default slice is the analyzer's 600 s timeout less the 60 s store margin. Its checkpoint cost
is everything slicing adds: the frame pieces written as they fill, the checkpoint itself (the
real pipeline's carried state, the tracker and the unfinished piece), and on the next slice,
loading it and seeking back into the video. Storage is local files here; on S3 add ~50 ms a PUT.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.frames import ReadPosition, VideoReader
from chalicelib.config import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_FRAMES_PER_JOB,
    SLICE_STORE_MARGIN_S,
    load_settings,
)
from chalicelib.results.assembly import Assembler
from chalicelib.results.pieces import piece_path

CLIP = "people_indoor.mp4"
SLICE_S = 600 - SLICE_STORE_MARGIN_S
HEAD = "video_jobs/bench_results.json"


def _analysis_state(clip: Path) -> tuple[dict, float, ReadPosition]:
    """The real yolo_ocr state halfway through the clip, and its seconds per frame."""
    from chalicelib.analysis.pipeline import YoloOcrPipeline

    pipeline, frames = YoloOcrPipeline(load_settings()), []
    started = time.perf_counter()
    outcome = pipeline.analyze(clip, sample_fps=1.0, emit=frames.append,
                               stop=lambda: len(frames) >= 70)  # fmt: skip
    per_frame = (time.perf_counter() - started) / len(frames)
    return outcome.state, per_frame, ReadPosition(**outcome.state["position"])


def _busy_frames(n: int):
    from tests.support.long_video import synthetic_frame

    return (synthetic_frame(i) for i in range(n))


def long_section(report, videos: Path) -> None:
    report.section("8. Long videos: checkpoint cost per slice, and the ceiling")
    state, per_frame, position = _analysis_state(videos / CLIP)
    frames_per_slice = math.floor(SLICE_S / per_frame)
    with LocalStorage.temporary() as storage:
        spent = {"pieces": 0.0}

        def write(index: int, piece: bytes) -> None:
            started = time.perf_counter()
            storage.save_file(piece, piece_path(HEAD, index))
            spent["pieces"] += time.perf_counter() - started

        assembler = Assembler(write)
        for frame in _busy_frames(frames_per_slice):
            assembler.add(frame)
        started = time.perf_counter()
        checkpoint = json.dumps({"analysis": state, "assembler": assembler.state()}).encode()
        storage.save_file(checkpoint, "video_jobs/bench_checkpoint.json")
        spent["checkpoint"] = time.perf_counter() - started
        started = time.perf_counter()
        Assembler(
            write, json.loads(storage.load_file("video_jobs/bench_checkpoint.json"))["assembler"]
        )
        with VideoReader(videos / CLIP) as video:
            next(video.sample(1.0, resume=position))
        spent["resume"] = time.perf_counter() - started
        started = time.perf_counter()
        assembler = Assembler(write)
        for frame in _busy_frames(21_600):
            assembler.add(frame)
        build = time.perf_counter() - started
        started = time.perf_counter()
        head = assembler.finish({}, lambda i: json.loads(storage.load_file(piece_path(HEAD, i))))
        finish = time.perf_counter() - started
    total = sum(spent.values())
    report.table(
        ["per default slice", "seconds", "share of the slice"],
        [[name, f"{s:.3f}", f"{s / SLICE_S:.3%}"] for name, s in spent.items()]
        + [["total", f"{total:.3f}", f"{total / SLICE_S:.3%}"]],
    )
    hours = min(DEFAULT_MAX_DURATION_S, DEFAULT_MAX_FRAMES_PER_JOB) / 3600
    analyzer_s = DEFAULT_MAX_DURATION_S * per_frame
    report.note(
        f"\nA default slice: {SLICE_S:.0f} s, {frames_per_slice} frames at {per_frame * 1000:.0f} "
        f"ms a frame (yolo_ocr on {CLIP}; busy frames: 3 objects, 2 lines of text). Checkpoint: "
        f"{len(checkpoint) / 1024:.0f} KiB. Final head of 21,600 frames: {len(head) / 1024:.0f} "
        f"KiB, built in {finish:.1f} s (frames to pieces over the whole job: {build:.1f} s).\n"
        f"Ceiling: {hours:g} hours of video a job at 1 frame/s (VIDEO_JOBS_MAX_DURATION_S; "
        f"{DEFAULT_MAX_FRAMES_PER_JOB} frames a job), ~{analyzer_s / 60:.0f} min of analyzer time "
        f"in ~{math.ceil(analyzer_s / SLICE_S)} slices; was ~93 min of video (one invocation)."
    )
    report.target("checkpoint cost per default slice < 3%", f"{total / SLICE_S:.2%}",
                  total / SLICE_S < 0.03)  # fmt: skip
