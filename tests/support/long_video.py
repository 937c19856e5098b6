"""A long video made cheaply, and one job on it in a fresh process that reports its numbers.

    python -m tests.support.long_video VIDEO --slice-s 5 --pipeline yolo

runs the job with the real worker (in-memory job store and queue, local storage, a real
pipeline), slice after slice, and prints JSON: wall time, peak RSS after the first slice and at
the end, results size, slices, frames.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

from chalicelib.results.document import FrameResult
from tests.fixtures.make_tiny_mp4 import _encode, draw_frame


def make_long_mp4(path: Path, *, hours: float, every_s: int, size=(160, 120)) -> Path:
    """``hours`` of video with one frame every ``every_s`` seconds (a slide show): a few hundred
    small frames, so it is built in seconds however long it plays."""
    total = round(hours * 3600 / every_s)
    frames = ((draw_frame(i, total, size, text=f"PART {i // 10}"), i * every_s * 1000)
              for i in range(total))  # fmt: skip
    return _encode(path, list(frames), rate=Fraction(1, every_s), time_base=Fraction(1, 1000),
                   codec="h264", pix_fmt="yuv420p", rotation=0)  # fmt: skip


def synthetic_frame(i):
    """A busy frame: three objects and two lines of text with words."""
    box = (0.1 + (i % 7) / 100, 0.2, 0.3, 0.4)
    objects = [SimpleNamespace(label=label, class_id=c, confidence=0.5 + c / 100, box=box)
               for c, label in enumerate(["person", "car", "dog"])]  # fmt: skip
    polygon = ((0.1, 0.8), (0.6, 0.8), (0.6, 0.85), (0.1, 0.85))
    text = [
        SimpleNamespace(
            text=f"Caption number {i // 5}", confidence=0.93, polygon=polygon, glyphs=()
        ),
        SimpleNamespace(text="CHANNEL 7 NEWS", confidence=0.97, polygon=polygon, glyphs=()),
    ]
    return FrameResult(i * 1000, i * 25, objects, text)  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_job(video: Path, *, slice_s: float, pipeline_id: str, sample_fps: float) -> dict:
    from chalicelib.adapters.queue import InMemoryQueue
    from chalicelib.adapters.storage import LocalStorage
    from chalicelib.analysis.registry import Pipelines
    from chalicelib.analysis.worker import JobWorker, WorkerSettings
    from chalicelib.config import load_settings
    from chalicelib.jobs.ids import new_job_id, results_path, video_path
    from chalicelib.jobs.record import JobRecord
    from chalicelib.jobs.store import InMemoryJobStore

    jobs, queue = InMemoryJobStore(), InMemoryQueue()
    with LocalStorage.temporary() as storage:
        job_id = new_job_id()
        job = JobRecord.new(job_id, input_path=video_path(job_id), pipeline_id=pipeline_id,
                            sample_fps=sample_fps, retention_days=1)  # fmt: skip
        jobs.create(job)
        storage.save_file(video, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, queue=queue,
                           settings=WorkerSettings(slice_s=slice_s),
                           pipelines=Pipelines(load_settings()))  # fmt: skip
        started = time.perf_counter()
        worker.process(job.job_id)
        first_slice_rss = peak_rss_mb()
        while (message := queue.dequeue()) is not None:
            worker.handle_message(message.body)
        wall = time.perf_counter() - started
        done = jobs.get(job.job_id)
        head = results_path(job.job_id)
        stored = [p for p in storage.root.rglob("*_results.json") if "checkpoint" not in p.name]
        head_doc = json.loads(storage.load_file(head))
        return {
            "status": done.status,
            "slices": done.slices + 1,
            "frames": sum(head_doc["frame_pieces"]),
            "wall_s": round(wall, 1),
            "rss_first_slice_mb": round(first_slice_rss),
            "rss_peak_mb": round(peak_rss_mb()),
            "results_bytes": sum(p.stat().st_size for p in stored),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("video", type=Path)
    parser.add_argument("--slice-s", type=float, default=5)
    parser.add_argument("--pipeline", default="yolo")
    parser.add_argument("--sample-fps", type=float, default=1.0)
    args = parser.parse_args(argv)
    report = run_job(args.video, slice_s=args.slice_s, pipeline_id=args.pipeline,
                     sample_fps=args.sample_fps)  # fmt: skip
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
