"""Benchmarks: print what the analyzer costs, per clip and per stage. Not a test: it prints.

make bench        (or: .venv/bin/python -m scripts.bench [--fps 1.0] [clip ...])
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chalicelib.analysis.pipeline import YoloOcrPipeline
from chalicelib.config import load_settings
from chalicelib.results import encode

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


def stage_table(pipeline: YoloOcrPipeline, clips: list[Path], fps: float) -> None:
    print(f"\n## Per-stage time at {fps:g} frames/s (ms)")
    print(
        f"{'clip':26} {'frames':>6} {'ocr':>4} {'decode':>8} {'detect':>8} {'ocr':>8} "
        f"{'build':>6} {'encode':>6} {'total':>8} {'frames/s':>8}"
    )
    for clip in clips:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        document = pipeline.run(clip, sample_fps=fps, timings=timings)
        encode_started = time.perf_counter()
        encode(document)
        timings["encode"] = time.perf_counter() - encode_started
        total = time.perf_counter() - started
        sampling = document["sampling"]
        ms = {k: v * 1000 for k, v in timings.items()}
        print(
            f"{clip.name:26} {sampling['frames_sampled']:>6} {sampling['ocr_frames']:>4} "
            f"{ms['decode']:>8.0f} {ms['detect']:>8.0f} {ms['ocr']:>8.0f} {ms['build']:>6.1f} "
            f"{ms['encode']:>6.1f} {total * 1000:>8.0f} "
            f"{sampling['frames_sampled'] / total:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=load_settings().sample_fps)
    parser.add_argument("clips", nargs="*", type=Path)
    args = parser.parse_args()
    clips = args.clips or sorted(VIDEOS.glob("*.mp4"))
    started = time.perf_counter()
    pipeline = YoloOcrPipeline(load_settings())
    print(f"model load: {(time.perf_counter() - started) * 1000:.0f} ms")
    stage_table(pipeline, clips, args.fps)


if __name__ == "__main__":
    main()
