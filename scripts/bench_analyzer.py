"""``make bench``, analyzer sections: whole jobs vs bare model calls, naive vs optimized, scaling.

A whole job is the real ``JobWorker.process`` on in-process moto (S3, DynamoDB, SQS): claim,
download from S3, decode, sample, detect, read text, build and encode the results, conditional
put to S3, complete. Each clip's video is uploaded (untimed) before each job.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.analysis.frames import VideoReader
from chalicelib.analysis.ocr import load_text_reader
from chalicelib.analysis.pipeline import (
    YoloOcrFastPipeline,
    YoloOcrPipeline,
    YoloPipeline,
)
from chalicelib.analysis.registry import Pipeline, Pipelines, SliceOutcome
from chalicelib.analysis.resume import AnalysisState
from chalicelib.analysis.text_carry import WHOLE, RegionGate, TextStage, carry_over
from chalicelib.config import Settings, load_settings
from chalicelib.results import pieces
from chalicelib.results.document import encode
from chalicelib.results.text_lines import TextFilter

MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "VIDEO_JOBS_STAGE": "bench",
}
MOTO_UNSET = ("VIDEO_JOBS_AWS_ENDPOINT", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class TimedPipeline:
    """A pipeline as the worker sees it, noting how long its analysis took (a checkpoint's own
    cost is the "long" section's)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline, self.pipeline_id, self.last_s = pipeline, pipeline.pipeline_id, 0.0

    def analyze(self, file_path, **kwargs) -> SliceOutcome:
        started = time.perf_counter()
        try:
            return self.pipeline.analyze(file_path, **kwargs)
        finally:
            self.last_s = time.perf_counter() - started

    def fields(self, options, outcome: SliceOutcome) -> dict:
        return self.pipeline.fields(options, outcome)


class RecordingPipelines(Pipelines):
    """The worker's pipeline source, timing each pipeline's analysis."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.timed: dict[str | None, TimedPipeline] = {}

    def pipeline(self, pipeline_id: str | None) -> TimedPipeline:
        if pipeline_id not in self.timed:
            self.timed[pipeline_id] = TimedPipeline(super().pipeline(pipeline_id))
        return self.timed[pipeline_id]


@contextlib.contextmanager
def moto_services() -> Iterator[object]:
    """Table, bucket and queues in in-process moto; yields the composed ``Services``."""
    from moto import mock_aws

    from chalicelib.bootstrap import services
    from infra.resources import bootstrap

    saved = {name: os.environ.get(name) for name in (*MOTO_ENV, *MOTO_UNSET)}
    os.environ.update(MOTO_ENV)
    for name in MOTO_UNSET:
        os.environ.pop(name, None)
    try:
        with mock_aws():
            services.cache_clear()
            bootstrap(load_settings())
            yield services()
            services.cache_clear()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class ClipResult:
    clip: Path
    duration_s: float = 0.0
    frames: int = 0
    ocr_frames: int = 0
    rereads: int = 0  # frames read in part, then whole (their lines could not be carried over)
    job_s: list[float] = field(default_factory=list)
    job_cpu_s: list[float] = field(default_factory=list)
    analysis_s: list[float] = field(default_factory=list)  # pipeline.run inside the job
    bare_s: list[float] = field(default_factory=list)  # same calls, same workers: wall
    bare_cpu_s: list[float] = field(default_factory=list)
    bare_sum_s: list[float] = field(default_factory=list)  # sum of the call durations
    bare_all_s: float = float("nan")  # OCR on every sampled frame too (round 0 only)
    decode_cpu_s: list[float] = field(default_factory=list)  # the sampled frames' decoding alone
    naive_s: list[float] = field(default_factory=list)
    fast_s: list[float] = field(default_factory=list)  # the yolo_ocr_fast pipeline's run
    yolo_s: list[float] = field(default_factory=list)  # the yolo (objects only) pipeline's run
    build_share: list[float] = field(default_factory=list)  # document build / naive run wall
    results: set[bytes] = field(default_factory=set)  # stored results of every job
    naive_results: set[bytes] = field(default_factory=set)
    fast_results: set[bytes] = field(default_factory=set)
    document: dict = field(default_factory=dict)
    naive_document: dict = field(default_factory=dict)
    fast_document: dict = field(default_factory=dict)
    yolo_results: set[bytes] = field(default_factory=set)
    yolo_document: dict = field(default_factory=dict)
    # yolo_ocr's pipeline.run decoding every frame ("every") against only the sampled ones
    every_s: list[float] = field(default_factory=list)
    every_decode_s: list[float] = field(default_factory=list)
    sparse_s: list[float] = field(default_factory=list)
    sparse_decode_s: list[float] = field(default_factory=list)
    every_results: set[bytes] = field(default_factory=set)
    sparse_results: set[bytes] = field(default_factory=set)


def timed_calls(calls: list[tuple[Callable, object]], workers: int) -> tuple[float, float, float]:
    """Run ``(function, argument)`` calls on ``workers`` threads, as the pipeline does.

    Returns (wall s, process CPU s, sum of the calls' own durations s)."""

    def one(call: tuple[Callable, object]) -> float:
        function, argument = call
        started = time.perf_counter()
        function(argument)
        return time.perf_counter() - started

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        durations = list(pool.map(one, calls))
    return time.perf_counter() - started, time.process_time() - cpu, sum(durations)


def reread_frames(pipeline: YoloOcrPipeline, clip: Path, fps: float) -> set[int]:
    """The sampled frames (indexes) the job reads twice: a part read that cannot carry the last
    frame's lines over (one runs across its edge) is followed by a whole read
    (``TextStage.settle``). Found by running the job's text stage (untimed)."""
    state = AnalysisState()
    stage = TextStage(
        pipeline.reader, TextFilter(), state, skip_unchanged=pipeline.skip_unchanged_ocr,
        prefilter=pipeline.text_prefilter, regions=pipeline.text_regions,
    )  # fmt: skip
    found = set()
    with VideoReader(clip) as video:
        for frame in video.sample(fps):
            planned = stage.plan(frame.image)
            if planned is None:
                continue
            outcome = planned()
            lines, seen, _read = outcome
            if seen is not None and carry_over(state.lines, lines, seen) is None:
                found.add(frame.index)
            stage.settle(frame.image, outcome)
    return found


def bare_calls(
    pipeline: YoloOcrPipeline, clip: Path, fps: float, rereads: set[int]
) -> tuple[list, list, int, int]:
    """The bare model calls of one job, in frame order: detector ``infer`` on every sampled
    frame's (precomputed) input tensor, ``TextReader.infer`` on the frames the change gate reads
    whole and ``read_window`` on those it reads in part (then ``infer`` on the ``rereads``);
    and the same with OCR on every sampled frame."""
    gate = RegionGate()
    job_calls: list[tuple[Callable, object]] = []
    all_calls: list[tuple[Callable, object]] = []
    frames = read = 0
    with VideoReader(clip) as video:
        for frame in video.sample(fps):
            frames += 1
            tensor, _ = pipeline.detector.preprocess(frame.image)
            job_calls.append((pipeline.detector.infer, tensor))
            all_calls.append((pipeline.detector.infer, tensor))
            all_calls.append((pipeline.reader.infer, frame.image))
            window = gate.changed_window(frame.image)
            if window is not None:
                read += 1
                call = functools.partial(pipeline.reader.read_window, window=window)
                job_calls.append((pipeline.reader.infer if window == WHOLE else call, frame.image))
                if frame.index in rereads:
                    job_calls.append((pipeline.reader.infer, frame.image))
    return job_calls, all_calls, frames, read


def decoders(result: ClipResult, sparse: YoloOcrPipeline, every: YoloOcrPipeline, fps: float):
    """yolo_ocr's run decoding only the sampled frames and decoding every frame, in turn."""
    for walls, decodes, pipeline in (
        (result.sparse_s, result.sparse_decode_s, sparse),
        (result.every_s, result.every_decode_s, every),
    ):
        timings: dict[str, float] = {}
        document = pipeline.run(result.clip, sample_fps=fps, timings=timings)
        walls.append(timings["wall"])
        decodes.append(timings["decode"])
        (result.every_results if pipeline is every else result.sparse_results).add(encode(document))


def decoding_cpu(clip: Path, fps: float) -> float:
    """Process CPU seconds of decoding the sampled frames alone (what the job's reader does)."""
    cpu = time.process_time()
    with VideoReader(clip) as video:
        for _frame in video.sample(fps):
            pass
    return time.process_time() - cpu


def run_job(services, worker, clip: Path, fps: float) -> tuple[float, float, bytes]:
    from chalicelib.jobs.ids import new_job_id, video_path
    from chalicelib.jobs.record import COMPLETED, JobRecord

    job_id = new_job_id()
    services.storage.save_file(clip, video_path(job_id))
    services.jobs.create(
        JobRecord.new(
            job_id,
            input_path=video_path(job_id),
            pipeline_id="yolo_ocr",
            sample_fps=fps,
            retention_days=services.settings.job_retention_days,
        )
    )
    started, cpu = time.perf_counter(), time.process_time()
    if not worker.process(job_id):
        raise RuntimeError(f"the worker did not run job {job_id} ({clip.name})")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    job = services.jobs.get(job_id)
    if job.status != COMPLETED:
        raise RuntimeError(f"job on {clip.name} ended {job.status}: {job.error_message}")
    return wall, cpu, encode(pieces.read_document(services.storage, job.output_path))


def measure_clips(clips: list[Path], repeats: int, fps: float) -> tuple[list[ClipResult], int]:
    """Whole jobs, bare model calls, naive and yolo_ocr_fast runs, ``repeats`` rounds over every
    clip.

    Rounds go over all clips in turn (not clip after clip), so a burst of load from another
    process spoils one run of several clips, which the medians discard, rather than every run
    of one clip. The bare calls' inputs are rebuilt (untimed) each time, to keep memory low."""
    from chalicelib.analysis.worker import JobWorker, WorkerSettings

    results = {clip: ClipResult(clip) for clip in clips}
    with moto_services() as services:
        pipelines = RecordingPipelines(services.settings)
        worker = JobWorker(
            storage=services.storage,
            jobs=services.jobs,
            pipelines=pipelines,
            settings=WorkerSettings.of(services.settings),
        )
        timed = pipelines.pipeline("yolo_ocr")
        optimized = timed.pipeline
        naive = naive_pipeline(services.settings)
        fast = YoloOcrFastPipeline(services.settings)
        yolo = YoloPipeline(services.settings)
        every = YoloOcrPipeline(services.settings, decode_every_frame=True)
        workers = optimized.workers
        run_job(services, worker, clips[0], fps)  # warm-up: first-use costs out of the tables
        rereads = {clip: reread_frames(optimized, clip, fps) for clip in clips}
        for clip, frames in rereads.items():
            results[clip].rereads = len(frames)
        for round_ in range(repeats):
            for clip in clips:
                log(
                    f"round {round_ + 1}/{repeats}: job, bare calls, naive, fast, yolo: {clip.name}"
                )
                result = results[clip]
                wall, cpu, stored = run_job(services, worker, clip, fps)
                result.job_s.append(wall)
                result.job_cpu_s.append(cpu)
                result.analysis_s.append(timed.last_s)
                result.results.add(stored)
                result.document = json.loads(stored)
                job_calls, all_calls, result.frames, result.ocr_frames = bare_calls(
                    optimized, clip, fps, rereads[clip]
                )
                wall, cpu, total = timed_calls(job_calls, workers)
                result.bare_s.append(wall)
                result.bare_cpu_s.append(cpu)
                result.bare_sum_s.append(total)
                if round_ == 0:
                    result.bare_all_s = timed_calls(all_calls, workers)[0]
                result.decode_cpu_s.append(decoding_cpu(clip, fps))
                del job_calls, all_calls
                started, timings = time.perf_counter(), {}
                result.naive_document = naive.run(clip, sample_fps=fps, timings=timings)
                result.naive_s.append(time.perf_counter() - started)
                result.build_share.append(timings["build"] / timings["wall"])
                result.naive_results.add(encode(result.naive_document))
                started = time.perf_counter()
                result.fast_document = fast.run(clip, sample_fps=fps)
                result.fast_s.append(time.perf_counter() - started)
                result.fast_results.add(encode(result.fast_document))
                started = time.perf_counter()
                result.yolo_document = yolo.run(clip, sample_fps=fps)
                result.yolo_s.append(time.perf_counter() - started)
                result.yolo_results.add(encode(result.yolo_document))
                decoders(result, optimized, every, fps)
    for result in results.values():
        sampling = result.document["sampling"]
        if (sampling["frames_sampled"], sampling["ocr_frames"]) != (
            result.frames,
            result.ocr_frames,
        ):
            raise RuntimeError(f"{result.clip.name}: the bare calls do not replay the job's frames")
        result.duration_s = result.document["video"]["duration_ms"] / 1000
    return list(results.values()), workers


def text_lines(document: dict) -> set[str]:
    """The distinct lines of text a document reports."""
    return {entry["text"] for entry in document["summary"]["text"]}


def summary_view(document: dict) -> tuple[dict[str, int], set[str]]:
    """What must not change: frames per detected label, and the distinct lines of text."""
    summary = document["summary"]
    objects = {label: entry["frames"] for label, entry in summary["objects"].items()}
    return objects, {entry["text"] for entry in summary["text"]}


def naive_pipeline(settings: Settings) -> YoloOcrPipeline:
    """The fixed baseline: every frame decoded, every sampled frame read whole, with the OCR
    models the rapidocr wheel ships (not the ones make model fuses)."""
    naive = YoloOcrPipeline(settings, skip_unchanged_ocr=False, decode_every_frame=True)
    naive.reader = load_text_reader(intra_op_num_threads=1)
    return naive


@dataclass
class ScalingRow:
    fps: float
    frames: int
    ocr_frames: int
    optimized_s: float
    optimized_cpu_s: float
    naive_s: float
    naive_cpu_s: float


def measure_scaling(clip: Path, rates: Sequence[float], repeats: int) -> list[ScalingRow]:
    """Wall and process CPU seconds of ``pipeline.run`` at each rate, optimized and naive."""
    settings = load_settings()
    pipelines = {
        "optimized": YoloOcrPipeline(settings),
        "naive": naive_pipeline(settings),
    }
    rows = []
    for fps in rates:
        log(f"scaling: {clip.name} at {fps:g} frames/s")
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
        document: dict = {}
        for _ in range(repeats):
            for name, pipeline in pipelines.items():
                started, cpu = time.perf_counter(), time.process_time()
                result = pipeline.run(clip, sample_fps=fps)
                times[name].append((time.perf_counter() - started, time.process_time() - cpu))
                if name == "optimized":
                    document = result
        sampling = document["sampling"]
        rows.append(
            ScalingRow(
                fps,
                sampling["frames_sampled"],
                sampling["ocr_frames"],
                *(median([t[i] for t in times["optimized"]]) for i in (0, 1)),
                *(median([t[i] for t in times["naive"]]) for i in (0, 1)),
            )
        )
    return rows


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least squares ``y = a + b * x``; returns (a, b)."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return mean_y - slope * mean_x, slope


RECALL_HEIGHTS = (8, 12, 16, 20, 24, 32)  # text cap height in px on the 960 px long side
RECALL_WORDS = ("EXIT 24", "MAIN ST", "SALE 50%", "OPEN")


def draw_word(image, word: str, height_px: int, slot: int):
    """``image`` with ``word`` in white on a black outline (a caption's look), ``height_px``
    tall as measured on the frame shrunk to a 960 px long side, placed in one of four slots."""
    import cv2

    out = image.copy()
    frame_height, frame_width = out.shape[:2]
    scale_to_frame = max(frame_height, frame_width) / 960
    font = cv2.FONT_HERSHEY_SIMPLEX
    stroke = max(1, round(height_px * scale_to_frame / 10))
    size = cv2.getFontScaleFromHeight(font, round(height_px * scale_to_frame), stroke)
    origin = (int(frame_width * (0.08 + 0.2 * slot)), int(frame_height * (0.3 + 0.15 * slot)))
    cv2.putText(out, word, origin, font, size, (0, 0, 0), stroke * 3, cv2.LINE_AA)
    cv2.putText(out, word, origin, font, size, (255, 255, 255), stroke, cv2.LINE_AA)
    return out


def textless_frames(clips: list[Path], reader) -> list:
    """From each clip, its first frame (at 1 frame/s) on which neither pipeline finds text."""
    frames = []
    for clip in clips:
        with VideoReader(clip) as video:
            for frame in video.sample(1.0):
                if not reader.read(frame.image) and not reader.sees_text(frame.image):
                    frames.append(frame.image)
                    break
    return frames


def measure_text_recall(clips: list[Path]) -> tuple[int, dict[int, tuple[int, ...]]]:
    """Per text height: (words drawn, words yolo_ocr reads, words yolo_ocr_fast reads, words
    yolo_ocr reports with the default text filter), and how many frames they were drawn into.

    Each word is drawn alone into a textless real frame of each clip, so that only the word
    decides whether the fast pipeline's look fires. A word counts as read when a line's text,
    without spaces, contains it."""
    settings = load_settings()  # the product's reader
    reader = load_text_reader(
        settings.text_detector_path, settings.text_recognizer_path, intra_op_num_threads=1
    )
    default_filter = TextFilter()
    frames = textless_frames(clips, reader)
    counts = {}
    for height in RECALL_HEIGHTS:
        log(f"text recall: {height} px")
        drawn = full = fast = kept = 0
        for image in frames:
            for slot, word in enumerate(RECALL_WORDS):
                marked = draw_word(image, word, height, slot)
                wanted = word.replace(" ", "")
                lines = reader.read(marked)
                read = any(wanted in line.text.replace(" ", "") for line in lines)
                filtered = default_filter.apply(lines, image.shape[1] / image.shape[0])
                drawn += 1
                full += read
                fast += read and reader.sees_text(marked)
                kept += any(wanted in line.text.replace(" ", "") for line in filtered)
        counts[height] = (drawn, full, fast, kept)
    return len(frames), counts
