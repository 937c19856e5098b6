"""Probe a video and sample frames from it, one decoded frame at a time (OpenCV's FFmpeg backend).

Why it looks like this:

* H.264 with a clean index is decoded only as far as the sampled frames need
  (``chalicelib.analysis.sparse``, PyAV), with the same frames, bytes and timestamps as the full
  pass below; anything else, and whatever that decoder does not cover or gives up on, takes the
  full pass (``every_frame=True`` forces it).
* The full pass decodes frames in order and converts only the sampled ones to BGR (``grab`` for
  every frame, ``retrieve`` for sampled ones), so memory stays flat however long the video is.
* Timestamps are the container's presentation times (``CAP_PROP_POS_MSEC``), measured from the
  first video frame, not ``index / fps``: variable-frame-rate phone video would drift otherwise.
* OpenCV turns frames upright from the MP4 display matrix; ``VideoMetadata`` reports the size of
  the frames as delivered and the rotation that was applied.
* Sampling keeps to a fixed time grid (see ``VideoReader.sample``), so the rate holds on average
  when the frame rate is not a multiple of it: 12.5 fps at 1 fps gives 31 frames in 30.16 s.
* The MP4 index is read directly (``chalicelib.analysis.mp4.read_tracks``): OpenCV cannot tell an
  audio-only MP4 from garbage, has no duration property, and does not see a timescale too coarse
  to time frames. Frame sizes are those the decoder reports, not the header's display size,
  which may say anything (20000x20000 over 320x240 frames).
* Memory is bounded by resolution: frames over 8K UHD are refused, and sampled frames with a
  long side over 4096 px are scaled down as they are decoded.
* Sampling can stop after any frame and resume later in a new reader (``VideoReader.position``
  and ``sample(resume=...)``): the reader seeks (FFmpeg goes to the keyframe before the frame and
  decodes forward to it), checks that it landed on the frame it left (same timestamp), and
  otherwise decodes from the start without converting frames; either way it yields exactly the
  frames an uninterrupted pass would.
* A stream that stops decoding partway (an interrupted upload) keeps the frames sampled so far;
  ``VideoReader.ended_early`` says so and a warning is logged. No decodable frame at all fails.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import astuple, dataclass

import av
import cv2
import numpy as np

from chalicelib.analysis import sparse
from chalicelib.analysis.mp4 import file_reader, read_tracks
from chalicelib.config import MAX_SAMPLE_FPS
from chalicelib.errors import InvalidVideo

log = logging.getLogger(__name__)

MAX_SIDE_PX = 8192
# Decoding alone holds several frames (an 8192x8192 H.264 clip: 1.1 GiB with one thread), so
# frames are also bounded in pixels: 8K UHD (7680x4320) is the largest size accepted.
MAX_FRAME_PIXELS = 7680 * 4320
# A video track must count time in at least this many ticks a second (its 'mdhd' timescale): at
# 0 or 1, frames land seconds apart and the edit list hides all but the first.
MIN_VIDEO_TIMESCALE = 10
# Sampled frames with a longer side are scaled down as they are decoded. The detector (416 px)
# and OCR's text detector (960 px) shrink every frame anyway; an 8192x8192 frame is 192 MiB of
# BGR, and several are in flight at once (a job on one peaked at 1.8 GiB, 0.8 GiB after this).
# 4096 leaves every common size up to DCI 4K untouched.
MAX_ANALYSIS_SIDE_PX = 4096
_CODEC_ALIASES = {
    "avc1": "h264", "avc3": "h264", "x264": "h264",
    "hev1": "hevc", "hvc1": "hevc", "h265": "hevc",
    "fmp4": "mp4v", "xvid": "mp4v", "divx": "mp4v",
    "av01": "av1", "vp09": "vp9", "vp08": "vp8",
}  # fmt: skip


@dataclass(frozen=True)
class VideoMetadata:
    duration_ms: int
    fps: float
    width: int  # of the frames as delivered, i.e. after rotation
    height: int
    frame_count: int  # as declared by the container
    codec: str
    rotation: int  # clockwise degrees applied to make the frames upright: 0, 90, 180 or 270
    ignored_video_tracks: int = 0  # only the first video track is analyzed


@dataclass(frozen=True)
class ReadPosition:
    """Where sampling stands after a frame: what ``sample(resume=...)`` needs to go on."""

    index: int  # of the last decoded frame
    position_ms: float  # its presentation time (as corrected for missing timestamps)
    origin_ms: float  # the first frame's presentation time
    step: int  # the next sample is due at step * interval after the first frame


@dataclass(frozen=True)
class SampledFrame:
    index: int  # position among all decoded frames, from 0
    timestamp_ms: int  # presentation time from the container, from the first frame
    image: np.ndarray  # BGR uint8, height x width x 3, upright


class VideoReader:
    """One open video: ``metadata`` at once, then one pass of ``sample``; release on exit."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_side: int = MAX_SIDE_PX,
        every_frame: bool = False,
    ):
        if not os.path.isfile(path):  # our own bug (a lost download), not a bad video
            raise FileNotFoundError(f"no video file at {os.fspath(path)!r}")
        video = _video_tracks(path)
        self._path = path
        self._cap = _open(path)
        try:
            duration_s = video[0].duration_s if video else None
            self.metadata = self._probe(duration_s, max(0, len(video) - 1))
            if self.metadata.width <= 0 or self.metadata.height <= 0:
                raise InvalidVideo("the video track declares no frame size")
            _check_not_huge(self.metadata.width, self.metadata.height, max_side)
        except BaseException:
            self._cap.release()
            raise
        self.frames_decoded = 0
        self.ended_early = False
        self.position: ReadPosition | None = None  # after the last frame yielded
        self._started = False
        self._every_frame = every_frame  # True: never the sparse decoder (the naive baseline)

    def _probe(self, duration_s: float | None, ignored_video_tracks: int) -> VideoMetadata:
        cap = self._cap
        frame_count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (math.isfinite(fps) and fps > 0):
            fps = frame_count / duration_s if duration_s else 0.0
        if not duration_s:
            duration_s = frame_count / fps if fps else 0.0
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
        codec = fourcc.decode("latin-1").strip(" \0").lower()
        if not codec.isprintable() or not codec:
            codec = "unknown"
        return VideoMetadata(
            duration_ms=round(duration_s * 1000),
            fps=round(fps, 3),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            frame_count=frame_count,
            codec=_CODEC_ALIASES.get(codec, codec),
            rotation=round(cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 360,
            ignored_video_tracks=ignored_video_tracks,
        )

    def sample(
        self,
        fps: float | None = None,
        *,
        every_ms: float | None = None,
        resume: ReadPosition | None = None,
    ) -> Iterator[SampledFrame]:
        """Yield the first frame at or after each time 0, interval, 2 * interval, ...

        Times count from the first frame. A frame past several targets (a gap in variable-rate
        video) is yielded once, and the targets it skipped are dropped. Give the rate as ``fps``
        or as ``every_ms``; ``resume``: go on after that ``position`` of an earlier pass (same
        rate). Checked now, not at the first ``next``.
        """
        interval_ms = _interval_ms(fps, every_ms)
        if self._started:
            raise RuntimeError("VideoReader.sample can run once per reader; open the video again")
        self._started = True
        plan = None if self._every_frame else self._plan(interval_ms, resume)
        if plan is not None:
            return self._sparse(plan, interval_ms, resume)
        if resume is not None:
            self._seek(resume)
        return self._sample(interval_ms, resume)

    def _plan(self, interval_ms: float, resume: ReadPosition | None) -> sparse.Plan | None:
        try:
            return sparse.plan(
                self._path,
                frame_count=self.metadata.frame_count,
                interval_ms=interval_ms,
                resume=None if resume is None else astuple(resume),
            )
        except av.FFmpegError:
            return None

    def _sparse(
        self, plan: sparse.Plan, interval_ms: float, resume: ReadPosition | None
    ) -> Iterator[SampledFrame]:
        """Decode only what the sampled frames need; on a surprise, the full reader goes on."""
        try:
            for pick, image in sparse.decode(self._path, plan, self.metadata.rotation):
                self.frames_decoded = pick.index + 1
                self.position = ReadPosition(
                    pick.index, pick.position_ms, plan.origin_ms, pick.step
                )
                image = _bounded(image, MAX_ANALYSIS_SIDE_PX)
                yield SampledFrame(pick.index, round(pick.position_ms), image)
        except (sparse.Unplanned, av.FFmpegError) as error:
            log.warning("decoding only the sampled frames failed (%s); decoding them all", error)
            at = self.position or resume
            if at is not None:
                self._seek(at)
            yield from self._sample(interval_ms, at)
            return
        self.frames_decoded = plan.frame_count

    def _seek(self, at: ReadPosition) -> None:
        """Make the next ``grab`` return frame ``at.index + 1``."""
        cap = self._cap
        if at.index > 0 and cap.set(cv2.CAP_PROP_POS_FRAMES, at.index) and cap.grab():
            if abs(max(0.0, cap.get(cv2.CAP_PROP_POS_MSEC)) - at.position_ms) < 0.5:
                return
            log.warning("seeking to frame %d landed elsewhere; decoding up to it", at.index)
        cap.release()  # decode from the start again, without converting frames
        self._cap = cap = _open(self._path)
        for _ in range(at.index + 1):
            if not cap.grab():
                raise InvalidVideo(f"the video no longer decodes up to frame {at.index}")

    def _sample(self, interval_ms: float, resume: ReadPosition | None) -> Iterator[SampledFrame]:
        cap = self._cap
        frame_ms = 1000 / self.metadata.fps if self.metadata.fps else 1000 / MAX_SAMPLE_FPS
        previous = origin = -math.inf
        index, step = -1, 0  # step: the next target is step * interval after the first frame
        if resume is not None:
            index, previous, origin, step = astuple(resume)
            self.frames_decoded = index + 1
        while cap.grab():
            index += 1
            self.frames_decoded = index + 1
            position = max(0.0, cap.get(cv2.CAP_PROP_POS_MSEC))
            if index and not position > previous:  # a missing or repeated container timestamp
                position = previous + frame_ms
            previous = position
            if not index:
                origin = position
            elapsed = position - origin + 1e-3  # tolerance for times the container rounded
            if elapsed < step * interval_ms:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:  # grabbed but undecodable: the stream stops here
                self.frames_decoded = index
                break
            step = math.floor(elapsed / interval_ms) + 1  # the targets it reached are spent
            image = _bounded(image, MAX_ANALYSIS_SIDE_PX)
            self.position = ReadPosition(index, position, origin, step)
            yield SampledFrame(index=index, timestamp_ms=round(position), image=image)
        if self.frames_decoded == 0:
            raise InvalidVideo("no frame could be decoded: the video stream is empty or corrupt")
        if self.frames_decoded < self.metadata.frame_count:
            self.ended_early = True
            log.warning(
                "video stopped decoding after %d of %d frames (truncated or corrupt?); "
                "keeping the frames sampled so far",
                self.frames_decoded,
                self.metadata.frame_count,
            )

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open(path: str | os.PathLike[str]) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(os.fspath(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise InvalidVideo("could not open the video: the file is not a readable MP4")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


def _interval_ms(fps: float | None, every_ms: float | None) -> float:
    if (fps is None) == (every_ms is None):
        raise ValueError("give the sampling rate as fps or as every_ms, not both or neither")
    rate = fps if fps is not None else 1000 / every_ms if every_ms else math.inf
    if not (isinstance(rate, int | float) and 0 < rate <= MAX_SAMPLE_FPS):
        raise ValueError(
            f"the sampling rate must be above 0 and at most {MAX_SAMPLE_FPS:g} frames per second"
            f" (every {1000 / MAX_SAMPLE_FPS:.1f} ms or more); got fps={fps}, every_ms={every_ms}"
        )
    return 1000 / rate


def _video_tracks(path: str | os.PathLike[str]) -> list:
    """The video tracks of the MP4 index ([] if unreadable here: OpenCV then has its say).

    The frame size a header declares is not checked here: 'tkhd' holds a display size that
    need not match the frames (20000x20000 over 320x240 ones); the decoded size is checked.
    """
    try:
        with file_reader(path) as (read, size):
            tracks = read_tracks(read, size)
    except OSError:
        return []
    video = [t for t in tracks or [] if t.handler == "vide"]
    if tracks is not None and not video:
        raise InvalidVideo("the file has no video track (audio only?)")
    scale = video[0].timescale if video else None
    if scale is not None and scale < MIN_VIDEO_TIMESCALE:
        raise InvalidVideo(
            f"the video track's timescale is {scale} ticks per second (its MP4 'mdhd' box), "
            f"below {MIN_VIDEO_TIMESCALE}: its frames cannot be timed; re-export the video"
        )
    return video


def _bounded(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image``, scaled down (aspect kept) if its long side is over ``max_side``."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _check_not_huge(width: int, height: int, max_side: int) -> None:
    if max(width, height) > max_side or width * height > MAX_FRAME_PIXELS:
        raise InvalidVideo(
            f"the video's frames are {width}x{height} pixels; at most {max_side} pixels a side "
            f"and {MAX_FRAME_PIXELS / 1e6:.1f} megapixels (8K UHD, 7680x4320) are supported: "
            "scale the video down"
        )
