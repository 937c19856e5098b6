"""The ``yolo_ocr`` pipelines: sample frames, detect objects, read text, build the results.

Built once per process (models load once, warm invocations reuse them). OCR costs several
times the detector per frame (``make bench`` prints both), so text is re-read only where the
frame has visibly changed since that part was last read: an unchanged frame reuses the last
lines, a frame changed in part gets the text detector on the box around the change and keeps
the lines elsewhere (``text_carry.py``). ``yolo_ocr_fast`` instead reads a changed frame whole,
and only when a half-resolution look finds text on it.

Frames are analyzed in parallel, one frame per core: the models run single-threaded
(``intra_op_num_threads=1``) on a small pool of threads while this thread decodes the next
frames. On 2 cores that beats one frame at a time on two intra-op threads (each ONNX operator
split in two, with the synchronisation and idle spinning that costs) and hides most of the
decoding. Results do not depend on the number of workers: every model call is the same
single-threaded computation, the change gate decides in decoding order, and results (lines
carried over included) are collected in frame order. At most ``2 * workers`` frames are in
flight, so memory stays flat however long the video is.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict

import numpy as np

from chalicelib.analysis.detector import Detection, YoloDetector, load_detector
from chalicelib.analysis.frames import VideoReader
from chalicelib.analysis.labels import unknown_labels
from chalicelib.analysis.model_cache import ModelCache
from chalicelib.analysis.ocr import load_text_reader
from chalicelib.analysis.registry import SliceOutcome, VideoPath, default_workers
from chalicelib.analysis.resume import AnalysisState
from chalicelib.analysis.text_carry import TextStage
from chalicelib.analysis.thumbnail import NearestFrame
from chalicelib.config import DEFAULT_DETECTOR_SIZE, DETECTION_FLOOR, Settings, sized_model_path
from chalicelib.errors import BadRequest, DamagedCheckpoint
from chalicelib.jobs.options import JobOptions
from chalicelib.results.assembly import build_document
from chalicelib.results.document import FrameResult
from chalicelib.results.text_lines import TextFilter

OCR_ENGINE = "rapidocr-onnxruntime 1.4.4 (PP-OCRv4 det+rec)"


def _timed(call: Callable[[np.ndarray], object], image: np.ndarray) -> tuple[object, float]:
    started = time.perf_counter()
    return call(image), time.perf_counter() - started


def _run_timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    return call(), time.perf_counter() - started


class YoloOcrPipeline:
    pipeline_id = "yolo_ocr"
    detects_objects = True
    reads_text = True
    # Read text only where a half-resolution look finds some (``TextReader.sees_text``).
    text_prefilter = False
    runs_tenant_models = True  # ``Pipelines`` hands it the worker's ``ModelCache``
    # Read only the changed part of a frame, carrying the other lines over (text_carry.py).
    text_regions = True

    def __init__(
        self,
        settings: Settings,
        *,
        skip_unchanged_ocr: bool = True,
        workers: int | None = None,
        model_cache: ModelCache | None = None,
        decode_every_frame: bool = False,
    ):
        self.model_cache = model_cache
        self.detector = None
        self.model_path = settings.model_path
        if self.detects_objects:
            self.detector = load_detector(
                settings.model_path, conf_threshold=DETECTION_FLOOR, intra_op_num_threads=1
            )
        self.reader = None
        if self.reads_text:
            self.reader = load_text_reader(
                settings.text_detector_path, settings.text_recognizer_path, intra_op_num_threads=1
            )
        self.skip_unchanged_ocr = skip_unchanged_ocr
        self.decode_every_frame = decode_every_frame  # the naive baseline: no sparse decoding
        self.workers = workers or default_workers(settings.analyzer_threads)

    def detector_for(self, size: int, model: dict | None = None) -> YoloDetector:
        """The detector at this input size: the one built with the pipeline at the default, else
        the model's variant for that size, loaded on the first job that asks (once a process);
        a job's own ``model`` (its snapshot) comes from the model cache instead."""
        assert self.detector is not None  # called only when detects_objects
        if model is not None:
            if self.model_cache is None:
                raise BadRequest("this analyzer runs no tenant models")
            return self.model_cache.detector(
                model, conf_threshold=DETECTION_FLOOR, intra_op_num_threads=1
            )
        if size == DEFAULT_DETECTOR_SIZE:
            return self.detector
        return load_detector(
            sized_model_path(self.model_path, size),
            conf_threshold=DETECTION_FLOOR, intra_op_num_threads=1, input_size=size,
        )  # fmt: skip

    def models(self, detector_size: int = DEFAULT_DETECTOR_SIZE, model: dict | None = None) -> dict:
        models: dict = {}
        if model is not None:  # a tenant's own: named by id and version (its content's hash)
            models["detector"] = {
                "name": model["name"], "model_id": model["model_id"],
                "version": model["version"], "sha256": model["sha256"],
            }  # fmt: skip
        elif self.detector is not None:
            detector = self.detector_for(detector_size)
            models["detector"] = {"name": detector.model_name, "sha256": detector.model_sha256}
        if self.reader is not None:
            models["ocr"] = {"name": OCR_ENGINE}
        return models

    def run(
        self,
        file_path: VideoPath,
        *,
        sample_fps: float,
        options: JobOptions | None = None,
        timings: dict[str, float] | None = None,
    ) -> dict:
        """The results document for one video, with the job's ``options`` (None: defaults).

        ``timings`` gets seconds per stage: ``decode`` and ``gate`` on this thread, ``detect``
        and ``ocr`` summed over the workers (so they can add up to more than the wall time),
        ``build`` for the document (tracks and segments included), and ``wall`` for the whole
        call."""
        started_run = time.perf_counter()
        frames: list[FrameResult] = []
        spent: dict[str, float] = defaultdict(float)
        outcome = self.analyze(
            file_path, sample_fps=sample_fps, options=options, emit=frames.append, timings=spent
        )
        started = time.perf_counter()
        document = build_document(**self.fields(options, outcome), frames=frames)
        spent["build"] += time.perf_counter() - started
        spent["wall"] = time.perf_counter() - started_run
        if timings is not None:
            timings.update(spent)
        return document

    def fields(self, options: JobOptions | None, outcome: SliceOutcome) -> dict:
        """What the results document says besides its frames (and what is built from them)."""
        options = options or JobOptions(self.pipeline_id)
        models, segments = self.models(options.detector_size, options.model), {}
        if options.shots:
            from chalicelib.analysis.shots import shot_models

            models, segments = {**models, **shot_models()}, outcome.state["segments"]
        return {
            "pipeline_id": self.pipeline_id,
            "options": options.result_options(),
            "models": models,
            "video": outcome.video,
            "sampling": outcome.sampling,
            **({"segments": segments} if segments else {}),
        }

    def analyze(
        self,
        file_path: VideoPath,
        *,
        sample_fps: float,
        emit: Callable[[FrameResult], None],
        options: JobOptions | None = None,
        state: dict | None = None,
        stop: Callable[[], bool] | None = None,
        timings: dict[str, float] | None = None,
    ) -> SliceOutcome:
        """Analyze frames in order, handing each to ``emit``, from where ``state`` (a
        ``SliceOutcome.state`` of an earlier call) left off, until the video ends or ``stop()``
        says so (asked before each frame is decoded, once this call has emitted one). Resumed or
        not, ``emit`` sees exactly the frames one uninterrupted call would."""
        options = options or JobOptions(self.pipeline_id)
        self._check_labels(options)
        if self.detector is not None:  # load it here, not on the pool's threads
            self.detector_for(options.detector_size, options.model)
        spent = timings if timings is not None else defaultdict(float)
        for stage in ("decode", "gate", "detect", "ocr"):
            spent.setdefault(stage, 0.0)
        if options.shots:
            return self._after_shots(file_path, sample_fps, options, spent, emit, state, stop)
        progress = AnalysisState.from_json(state)
        return self._analyze(file_path, sample_fps, options, spent, emit, progress, stop)

    def _after_shots(
        self,
        file_path: VideoPath,
        sample_fps: float,
        options: JobOptions,
        spent: dict[str, float],
        emit: Callable[[FrameResult], None],
        state: dict | None,
        stop: Callable[[], bool] | None,
    ) -> SliceOutcome:
        """Shots first (every frame: ``chalicelib/analysis/shots.py``), then the sampled
        frames, each marked ``new_shot`` when a boundary lies since the one before, so no track
        goes on across a cut. The state says which of the two is under way."""
        from chalicelib.analysis.shots import ShotsPipeline

        state = state or {}
        if not isinstance(state, dict):
            raise DamagedCheckpoint(f"the checkpoint's analysis state is not one: {state!r}")
        if "segments" not in state:
            found = ShotsPipeline(threads=self.workers).analyze(
                file_path, sample_fps=sample_fps, emit=emit, options=options,
                state=state.get("shots"), stop=stop, timings=spent,
            )  # fmt: skip
            if not found.done:
                return SliceOutcome(False, {"shots": found.state}, found.video, found.sampling)
            state = {"segments": found.state["segments"]}
        segments = state["segments"]
        cuts = [shot["start_frame"] for shot in segments["shots"][1:]]
        progress = AnalysisState.from_json(state.get("frames"))
        last = progress.position.index if progress.position else -1

        def marked(frame: FrameResult) -> None:
            nonlocal last
            if bisect.bisect_right(cuts, frame.frame_index) > bisect.bisect_right(cuts, last):
                frame = dataclasses.replace(frame, new_shot=True)
            last = frame.frame_index
            emit(frame)

        outcome = self._analyze(file_path, sample_fps, options, spent, marked, progress, stop)
        frames = {"segments": segments, "frames": outcome.state}
        return SliceOutcome(outcome.done, frames, outcome.video, outcome.sampling, outcome.picture)

    def _check_labels(self, options: JobOptions) -> None:
        """The API checks labels only when it knows the model's names
        (chalicelib/analysis/labels.py)."""
        if self.detector is None or not (options.labels or options.exclude_labels):
            return
        names = self.detector_for(options.detector_size, options.model).class_names
        for given in (options.labels or (), options.exclude_labels):
            wrong = unknown_labels(tuple(given), names)
            if wrong:
                raise BadRequest(
                    f"unknown class name(s) {', '.join(map(repr, wrong[:10]))} in labels or "
                    f"exclude_labels; the model's classes are: {', '.join(names)}"
                )

    def _analyze(
        self,
        file_path: VideoPath,
        sample_fps: float,
        options: JobOptions,
        spent: dict[str, float],
        emit: Callable[[FrameResult], None],
        state: AnalysisState,
        stop: Callable[[], bool] | None,
    ) -> SliceOutcome:
        """Decode on this thread, run the models on the pool; frames in order to ``emit``."""
        detect = functools.partial(self._objects, options)
        text = None
        if self.reader is not None:
            text_filter = TextFilter(options.text_min_confidence, options.text_scripts)
            text = TextStage(
                self.reader, text_filter, state, skip_unchanged=self.skip_unchanged_ocr,
                prefilter=self.text_prefilter, regions=self.text_regions,
            )  # fmt: skip
        # (timestamp, index, image, detector task or None, text task or None: the last text)
        in_flight: deque[tuple[int, int, np.ndarray, Future | None, Future | None]] = deque()

        def collect() -> None:
            timestamp_ms, index, image, objects, lines = in_flight.popleft()
            found: tuple[list, list] = ([], [])
            if objects is not None:
                found, seconds = objects.result()
                spent["detect"] += seconds
            if text is not None and lines is not None:
                outcome, seconds = lines.result()
                started = time.perf_counter()
                text.settle(image, outcome)
                spent["ocr"] += seconds + time.perf_counter() - started
            state.frames_sampled += 1
            emit(FrameResult(timestamp_ms, index, found[0], state.text, found[1]))

        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="analyze")
        try:
            with VideoReader(file_path, every_frame=self.decode_every_frame) as video:
                started = time.perf_counter()  # planning a sparse decode counts as decoding
                samples = video.sample(sample_fps, resume=state.position)
                spent["decode"] += time.perf_counter() - started
                # a resumed pass would pick among its own frames only: the worker decodes it
                picture = None
                if state.position is None:
                    picture = NearestFrame(video.metadata.duration_ms / 1000)
                done, first = False, state.frames_sampled
                while not (stop is not None and state.frames_sampled > first and stop()):
                    started = time.perf_counter()
                    frame = next(samples, None)
                    spent["decode"] += time.perf_counter() - started
                    if frame is None:
                        done = True
                        break
                    if picture is not None:
                        picture.offer(frame.timestamp_ms, frame.image)
                    objects = lines = None
                    if self.detector is not None:
                        objects = pool.submit(_timed, detect, frame.image)
                    if text is not None:
                        started = time.perf_counter()
                        planned = text.plan(frame.image)
                        spent["gate"] += time.perf_counter() - started
                        lines = None if planned is None else pool.submit(_run_timed, planned)
                    in_flight.append((frame.timestamp_ms, frame.index, frame.image, objects, lines))
                    del frame  # in flight: at most 2 * workers frames
                    while len(in_flight) > 2 * self.workers:
                        collect()
                while in_flight:
                    collect()
                state.position = video.position or state.position
                if text is not None:
                    state.gate = text.gate.last
                sampling = {
                    "fps": sample_fps,
                    "frames_sampled": state.frames_sampled,
                    "frames_decoded": video.frames_decoded,
                    "ocr_frames": state.ocr_runs,
                    "ended_early": video.ended_early,
                }
                metadata = asdict(video.metadata)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        image = None if picture is None else picture.image
        return SliceOutcome(done, state.to_json(), metadata, sampling, image)

    def _objects(self, options: JobOptions, image: np.ndarray) -> tuple[list, list]:
        """The frame's objects to report, and the weak ones that only carry tracks."""
        assert self.detector is not None  # called only when detects_objects
        reported: list[Detection] = []
        weak: list[Detection] = []
        detector = self.detector_for(options.detector_size, options.model)
        for detection in detector.detect(image):
            if options.wants_label(detection.label):
                confident = detection.confidence >= options.min_confidence
                (reported if confident else weak).append(detection)
        return reported, weak


class YoloOcrFastPipeline(YoloOcrPipeline):
    """``yolo_ocr`` for callers who want large text (captions, titles, signs up close) at a
    lower price: a changed frame is read only when the text detector, at half resolution, sees
    text on it, and then gets exactly the lines ``yolo_ocr`` gives. Cheaper on videos with little
    text (``make bench`` compares the two); small print is the price: see
    ``TextReader.sees_text``."""

    pipeline_id = "yolo_ocr_fast"
    text_prefilter = True
    text_regions = False


class YoloPipeline(YoloOcrPipeline):
    """Objects only, no OCR: the cheap one (every frame's ``text`` is empty)."""

    pipeline_id = "yolo"
    reads_text = False


class OcrPipeline(YoloOcrPipeline):
    """Text only, no detector (every frame's ``objects`` is empty; no tracks)."""

    pipeline_id = "ocr"
    detects_objects = False
