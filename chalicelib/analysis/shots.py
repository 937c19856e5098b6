"""Shots and technical cues: where each shot starts and ends, and where the picture is black.

Shot boundaries need every frame, not a sample, so this decodes the whole video with PyAV and
has FFmpeg scale each frame to ``SHOT_SIDE_PX`` on its longer side as it converts it (no
full-size colour conversion: a third cheaper than OpenCV's ``retrieve`` and resize at 1080p,
about even at 720p); decoding is then most of the cost and detection about 1 ms a frame
(``make bench`` section 2d).

* Cuts: PySceneDetect's ``AdaptiveDetector`` (the content score of each frame against the one
  before, compared with its neighbours' scores, so a fast camera pan is not a cut), and its
  ``ContentDetector`` at ``HARD_CUT_CONTENT`` for shots of 2-3 frames, whose neighbours score
  high too. Both run with no minimum scene length; ``MIN_SHOT_FRAMES`` is applied here over the
  whole list, so their state is only the last frame and a window of scores, which a checkpoint
  restores by replaying the last frames (``tail``) through new detectors.
* Dissolves (cross-fades), which no PySceneDetect detector finds (each frame differs little
  from the one before): each frame's hue-saturation histogram against the one
  ``DISSOLVE_SPAN_S`` before. Motion within a picture changes it little (0.49 at most on the
  sample clips, a drone shot turning); a dissolve to another scene a lot (0.88). A run of
  frames over ``DISSOLVE_CHANGE`` with no cut in or just before it is a dissolve, and its
  boundary is the run's middle, less half the span.
* Black frames, with Rekognition's semantics: a pixel is black when its luma is at most
  ``max_pixel_threshold`` of the full range, a frame is black when at least
  ``min_coverage_percentage`` of its pixels are; a run of black frames is a ``BlackFrames`` cue
  and the rest of the video is ``Content``. Coverage is counted on the scaled frame.
* Frame numbers count decoded frames from 0; times are presentation times from the first frame.
  A shot or cue runs from its first frame's time to the next one's start (the video's end for
  the last), so shots tile the video.
"""

from __future__ import annotations

import base64
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, astuple, dataclass
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from chalicelib.analysis.frames import VideoReader
from chalicelib.analysis.registry import SliceOutcome, VideoPath, default_workers
from chalicelib.config import Settings
from chalicelib.errors import DamagedCheckpoint, InvalidVideo
from chalicelib.jobs.options import JobOptions
from chalicelib.results.assembly import build_document

SHOT_SIDE_PX = 256  # the longer side of the frames shots and cues are detected on
WINDOW = 2  # AdaptiveDetector's window: frames each side of the one judged
TAIL = 2 * WINDOW + 2  # frames a new detector needs to be where the old one was
ADAPTIVE_THRESHOLD = 3.0  # a frame's content score over the mean of its window's, at least
MIN_CONTENT = 15.0  # and a content score (0-255 scale) of at least this
HARD_CUT_CONTENT = 55.0  # a cut whatever the neighbours' scores (in a shot: <= 22, flashes 35-50)
MIN_SHOT_FRAMES = 2  # a one-frame "shot" is a flash
DISSOLVE_SPAN_S = 0.5  # dissolves: each frame's colours against those this long before
DISSOLVE_CHANGE = 0.7  # 1 - correlation of the two histograms (0 same, 1 unrelated)
MAX_DISSOLVE_SPANS = 8  # a longer run of change is motion (4 s at the default span)
CONFIDENT_CONTENT = 60.0  # a content score that makes a cut certain (confidence 1.0)
STOP_EVERY = 30  # frames between two questions whether the slice should stop


@dataclass(frozen=True)
class BlackFrameFilter:
    """Rekognition's ``TechnicalCueFilter.BlackFrame``: a pixel is black at a luma of at most
    ``max_pixel_threshold`` of the full range (0-1); a frame is black when at least
    ``min_coverage_percentage`` (0-100) of its pixels are."""

    max_pixel_threshold: float = 0.2
    min_coverage_percentage: float = 99.0

    def is_black(self, grey: np.ndarray) -> bool:
        black = np.count_nonzero(grey <= self.max_pixel_threshold * 255)
        return black * 100 >= self.min_coverage_percentage * grey.size


def confidence(before: np.ndarray, after: np.ndarray) -> float:
    """A boundary's confidence from how much the picture changed across it: the content score
    (the mean difference of hue, saturation and value, 0-255, PySceneDetect's ``content_val``)
    mapped to 0.5 at the least score that is a cut and 1.0 from ``CONFIDENT_CONTENT``
    (Rekognition reports segments from 50 to 100)."""
    a, b = (cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.int16) for image in (before, after))
    content = float(np.abs(a - b).mean())
    share = (content - MIN_CONTENT) / (CONFIDENT_CONTENT - MIN_CONTENT)
    return round(0.5 + 0.5 * min(1.0, max(0.0, share)), 4)


class _Detector:
    """PySceneDetect's ``AdaptiveDetector`` (a frame's content score well above its
    neighbours') and ``ContentDetector`` at ``HARD_CUT_CONTENT`` (a score no motion reaches,
    for shots too short for a window of neighbours), fed the same small frames; answers the
    frames either finds a cut at."""

    def __init__(self, fps: float):
        from scenedetect import FrameTimecode
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self._timecode = FrameTimecode
        self._fps = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        self._detectors = (
            AdaptiveDetector(adaptive_threshold=ADAPTIVE_THRESHOLD, min_scene_len=0,
                             window_width=WINDOW, min_content_val=MIN_CONTENT),
            ContentDetector(threshold=HARD_CUT_CONTENT, min_scene_len=0),
        )  # fmt: skip

    def feed(self, number: int, image: np.ndarray) -> list[int]:
        timecode = self._timecode(number, self._fps)
        found = {cut.frame_num for d in self._detectors for cut in d.process_frame(timecode, image)}
        return sorted(found)


@dataclass
class _Frame:
    index: int
    ms: int
    image: np.ndarray  # BGR, SHOT_SIDE_PX on the longer side
    hist: np.ndarray


def histogram(image: np.ndarray) -> np.ndarray:
    """Hue and saturation, 16 x 16 bins, normalized: what a dissolve changes and motion within
    one picture mostly does not."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    counts = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
    return cv2.normalize(counts, counts).flatten()


class ShotFinder:
    """Finds cuts, dissolves and black runs frame by frame; ``state()`` is JSON that
    ``ShotFinder(fps, black, state)`` goes on from, giving exactly what one pass would."""

    def __init__(self, fps: float, black: BlackFrameFilter, state: dict | None = None):
        self.black = black
        self._span = max(2, round((fps if fps > 0 else 30) * DISSOLVE_SPAN_S))
        self._cuts = _Detector(fps)
        self.cuts: list[list] = []  # [frame, ms, confidence]
        self.dissolves: list[list] = []  # [frame, ms, confidence]
        # [first, last, highest change, the frames' ms] of a dissolve being seen
        self._run: list | None = None
        # [first frame, its ms, the frame after the run, its ms]; the last two None while open
        self.black_runs: list[list] = []
        self.tail: deque[_Frame] = deque(maxlen=max(TAIL, self._span + 1))
        if state:
            self._restore(state)

    def add(self, index: int, ms: int, image: np.ndarray) -> None:
        """The next frame (``index`` = the last one's + 1)."""
        self._feed(_Frame(index, ms, image, histogram(image)), record=True)

    def _feed(self, frame: _Frame, *, record: bool) -> None:
        found = self._cuts.feed(frame.index, frame.image)
        self.tail.append(frame)
        if not record:
            return
        for number in found:
            at = self._frame(number)
            if any(cut[0] == number for cut in self.cuts[-3:]):
                continue  # both detectors found it, at different frames' arrival
            self.cuts.append([number, at.ms, confidence(self._frame(number - 1).image, at.image)])
        self._dissolve(frame)
        black = self.black.is_black(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY))
        run = self.black_runs[-1] if self.black_runs and self.black_runs[-1][2] is None else None
        if black and run is None:
            self.black_runs.append([frame.index, frame.ms, None, None])
        elif not black and run is not None:
            run[2:] = [frame.index, frame.ms]

    def _dissolve(self, frame: _Frame) -> None:
        """A run of frames whose colours differ from ``_span`` frames before by at least
        ``DISSOLVE_CHANGE`` (gaps under half a span allowed), no longer than ``MAX_DISSOLVE_S``
        and with no cut in it or a span before it, is a dissolve; its boundary is the run's
        middle less half a span (the middle of the change)."""
        if len(self.tail) > self._span:
            before = self.tail[-1 - self._span]
            change = 1 - cv2.compareHist(before.hist, frame.hist, cv2.HISTCMP_CORREL)
            if change >= DISSOLVE_CHANGE:
                run = self._run
                if run is None or frame.index - run[1] > self._span // 2:
                    self._close_run()
                    self._run = run = [frame.index, frame.index, change, [frame.ms]]
                run[3].extend(f.ms for f in self.tail if run[1] < f.index <= frame.index)
                run[1:3] = [frame.index, max(run[2], change)]
        if self._run is not None and frame.index - self._run[1] > self._span // 2:
            self._close_run()

    def _close_run(self) -> None:
        """Keep the run seen so far as a dissolve unless a cut explains it or it is too long."""
        run, self._run = self._run, None
        if run is None:
            return
        first, last, highest, times = run
        too_long = last - first > self._span * MAX_DISSOLVE_SPANS
        if too_long or any(first - self._span <= cut[0] <= last for cut in self.cuts):
            return
        middle = max(first, (first + last) // 2 - self._span // 2)
        share = (highest - DISSOLVE_CHANGE) / (1 - DISSOLVE_CHANGE)
        sure = round(0.5 + 0.5 * min(1.0, share), 4)
        self.dissolves.append([middle, times[middle - first], sure])

    def _frame(self, index: int) -> _Frame:
        for frame in self.tail:
            if frame.index == index:
                return frame
        raise RuntimeError(f"frame {index} is no longer in the tail")  # a window wider than TAIL

    def finish(self) -> None:
        """The video ended: a dissolve still being seen ends here."""
        self._close_run()

    def shots(self, end_ms: int, frame_count: int) -> list[dict]:
        """The shots, in order, from the cuts and dissolves; a boundary within
        ``MIN_SHOT_FRAMES`` of the one before it is dropped."""
        boundaries = {c[0]: c for c in self.cuts}
        for dissolve in self.dissolves:
            boundaries.setdefault(dissolve[0], dissolve)
        kept: list[list] = []
        for number in sorted(boundaries):
            if number - (kept[-1][0] if kept else 0) >= MIN_SHOT_FRAMES:
                kept.append(boundaries[number])
        starts = [[0, 0, 1.0], *kept]
        shots = []
        for index, (start, nxt) in enumerate(zip(starts, [*kept, None], strict=True)):
            end_frame = nxt[0] - 1 if nxt else frame_count - 1
            shots.append({
                "index": index, "start_frame": start[0], "end_frame": end_frame,
                "start_ms": start[1], "end_ms": nxt[1] if nxt else end_ms,
                "confidence": 1.0 if index == 0 else start[2],
            })  # fmt: skip
        return shots

    def cues(self, end_ms: int, frame_count: int) -> list[dict]:
        """``BlackFrames`` runs and the ``Content`` between them, tiling the video."""
        cues: list[dict] = []
        frame, ms = 0, 0
        for first, first_ms, after, after_ms in self.black_runs:
            after, after_ms = (frame_count, end_ms) if after is None else (after, after_ms)
            for kind, start, start_ms, stop, stop_ms in (
                ("Content", frame, ms, first, first_ms),
                ("BlackFrames", first, first_ms, after, after_ms),
            ):
                if stop > start:
                    cues.append(_cue(kind, start, stop, start_ms, stop_ms))
            frame, ms = after, after_ms
        if frame_count > frame:
            cues.append(_cue("Content", frame, frame_count, ms, end_ms))
        return cues

    def state(self) -> dict:
        return {
            "cuts": self.cuts, "dissolves": self.dissolves, "run": self._run,
            "black_runs": self.black_runs,
            "tail": [[f.index, f.ms, _encode(f.image)] for f in self.tail],
        }  # fmt: skip

    def _restore(self, state: dict) -> None:
        try:
            self.cuts = _rows(state["cuts"], 3)
            self.dissolves = _rows(state["dissolves"], 3)
            run = state["run"]
            self._run = (
                None
                if run is None
                else [int(run[0]), int(run[1]), float(run[2]), [int(ms) for ms in run[3]]]
            )
            self.black_runs = _rows(state["black_runs"], 4, open_ended=True)
            tail = [
                _Frame(int(i), int(ms), image, histogram(image))
                for i, ms, image in ((i, ms, _decode(png)) for i, ms, png in state["tail"])
            ]
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise DamagedCheckpoint(f"the checkpoint's shot state is not one: {error!r}") from None
        for frame in tail:  # a new detector, brought to where the old one was
            self._feed(frame, record=False)


def _rows(rows: object, width: int, *, open_ended: bool = False) -> list[list]:
    """``rows`` if it is a list of lists of ``width`` numbers (the last two may be None when
    ``open_ended``), else ValueError."""

    def number(value: object, may_be_none: bool) -> bool:
        if value is None:
            return may_be_none
        return isinstance(value, int | float) and not isinstance(value, bool)

    if not isinstance(rows, list) or not all(
        isinstance(row, list)
        and len(row) == width
        and all(number(v, open_ended and i >= width - 2) for i, v in enumerate(row))
        for row in rows
    ):
        raise ValueError(f"not a list of rows of {width} numbers: {str(rows)[:80]}")
    return [list(row) for row in rows]


def _encode(image: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", image)
    assert ok
    return base64.b64encode(png.tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(text, validate=True), np.uint8), 1)
    if image is None:
        raise ValueError("a tail frame is not a PNG")
    return image


@dataclass(frozen=True)
class Position:
    """Where decoding stands after a frame: its index, its pts and the first frame's pts."""

    index: int
    pts: int
    origin: int


class EveryFrame:
    """Every frame of a video's first video track, in order, scaled to ``size`` as FFmpeg
    converts it; ``position`` after each, ``frames_decoded`` and ``ended_early`` once done."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int):
        import av

        self._av = av
        try:
            self._container = av.open(os.fspath(path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, IndexError) as error:
            raise InvalidVideo(f"could not open the video's frames: {error}") from None
        context = self._stream.codec_context
        self._stream.thread_type = "AUTO"
        context.thread_count = threads
        scale = SHOT_SIDE_PX / max(context.width, context.height, 1)
        self.size = (max(2, round(context.width * scale)), max(2, round(context.height * scale)))
        self.position: Position | None = None
        self.frames_decoded = 0
        self.ended_early = False

    def frames(self, resume: Position | None) -> Iterator[tuple[int, int, np.ndarray]]:
        """(index, ms from the first frame, BGR image) of each frame after ``resume``."""
        index, pts, origin = (-1, -1, 0) if resume is None else astuple(resume)
        if resume is not None:
            self._container.seek(pts, stream=self._stream, backward=True)
        tick = self._stream.time_base or Fraction(1, 1000)
        width, height = self.size
        try:
            for frame in self._container.decode(self._stream):
                at = frame.pts if frame.pts is not None else pts + 1
                if resume is not None and at <= pts:
                    continue  # the seek landed on the keyframe before: decode up to the frame
                if index < 0:
                    origin = at
                index, pts = index + 1, at
                self.position = Position(index, pts, origin)
                self.frames_decoded = index + 1
                image = frame.to_ndarray(width=width, height=height, format="bgr24",
                                         interpolation="AREA")  # fmt: skip
                yield index, math.floor((at - origin) * tick * 1000), image
        except self._av.error.FFmpegError:
            self.ended_early = True  # keep what was found before the stream stopped decoding
        if self.frames_decoded == 0:
            raise InvalidVideo("no frame could be decoded: the video stream is empty or corrupt")

    def close(self) -> None:
        self._container.close()


class ShotsPipeline:
    """``shots``: shot boundaries and technical cues over every frame; no per-frame objects or
    text (the document's ``frames`` is empty)."""

    pipeline_id = "shots"

    def __init__(self, settings: Settings | None = None, *, threads: int | None = None):
        self.threads = threads or default_workers(settings.analyzer_threads if settings else None)

    def run(
        self,
        file_path: VideoPath,
        *,
        sample_fps: float = 1.0,
        options: JobOptions | None = None,
        timings: dict[str, float] | None = None,
    ) -> dict:
        """The results document in one call (tests, benchmarks)."""
        outcome = self.analyze(file_path, sample_fps=sample_fps, emit=lambda frame: None,
                               options=options, timings=timings)  # fmt: skip
        return build_document(**self.fields(options, outcome), frames=[])

    def models(self) -> dict:
        return shot_models()

    def analyze(
        self,
        file_path: VideoPath,
        *,
        sample_fps: float,
        emit: Callable[[Any], None],
        options: JobOptions | None = None,
        state: dict | None = None,
        stop: Callable[[], bool] | None = None,
        timings: dict[str, float] | None = None,
    ) -> SliceOutcome:
        """Every frame from where ``state`` left off until the video ends or ``stop()`` (asked
        every ``STOP_EVERY`` frames, after at least one frame)."""
        options = options or JobOptions(self.pipeline_id)
        spent = timings if timings is not None else {}
        for stage in ("decode", "shots"):
            spent.setdefault(stage, 0.0)
        with VideoReader(file_path) as probe:  # the checks and metadata every pipeline has
            metadata = probe.metadata
        resume, finder = _restore(state, metadata.fps, black_filter(options))
        reader = EveryFrame(file_path, threads=self.threads)
        done, seen = False, 0
        try:
            frames = reader.frames(resume)
            while True:
                started = time.perf_counter()
                item = next(frames, None)
                spent["decode"] += time.perf_counter() - started
                if item is None:
                    finder.finish()
                    done = True
                    break
                started = time.perf_counter()
                finder.add(*item)
                spent["shots"] += time.perf_counter() - started
                seen += 1
                if stop is not None and seen % STOP_EVERY == 0 and stop():
                    break
        finally:
            reader.close()
        position = reader.position or resume
        end_ms = _end_ms(finder, metadata.fps)
        count = position.index + 1 if position else 0
        analysis = {
            "position": asdict(position) if position else None,
            "finder": finder.state(),
            "ended_early": reader.ended_early,
        }
        if done:
            analysis["segments"] = {
                "shots": finder.shots(end_ms, count),
                "technical_cues": finder.cues(end_ms, count),
            }
        sampling = {
            "fps": None, "frames_sampled": 0, "frames_decoded": count,
            "ended_early": reader.ended_early, "decoded_size": list(reader.size),
        }  # fmt: skip
        return SliceOutcome(done, analysis, asdict(metadata), sampling)

    def fields(self, options: JobOptions | None, outcome: SliceOutcome) -> dict:
        options = options or JobOptions(self.pipeline_id)
        return {
            "pipeline_id": self.pipeline_id,
            "options": options.result_options(),
            "models": self.models(),
            "video": outcome.video,
            "sampling": outcome.sampling,
            "segments": outcome.state["segments"],
        }


def shot_models() -> dict:
    """What the results' ``models`` says of shot detection."""
    import scenedetect

    name = f"PySceneDetect {scenedetect.__version__} AdaptiveDetector + ContentDetector"
    return {"shots": {"name": name}}


def _cue(kind: str, first: int, after: int, start_ms: int, end_ms: int) -> dict:
    return {"type": kind, "start_frame": first, "end_frame": after - 1, "start_ms": start_ms,
            "end_ms": end_ms, "confidence": 1.0}  # fmt: skip


def black_filter(options: JobOptions) -> BlackFrameFilter:
    return BlackFrameFilter(
        options.black_max_pixel_threshold, options.black_min_coverage_percentage
    )


def _restore(
    state: dict | None, fps: float, black: BlackFrameFilter
) -> tuple[Position | None, ShotFinder]:
    if not state:
        return None, ShotFinder(fps, black)
    try:
        position = Position(**state["position"]) if state["position"] else None
        finder_state = state["finder"]
    except (KeyError, TypeError) as error:
        raise DamagedCheckpoint(f"the checkpoint's shot state is not one: {error!r}") from None
    return position, ShotFinder(fps, black, finder_state)


def _end_ms(finder: ShotFinder, fps: float) -> int:
    """Where the video ends: its last frame's time and one frame more."""
    last = finder.tail[-1].ms if finder.tail else 0
    return last + (round(1000 / fps) if fps > 0 else 0)
