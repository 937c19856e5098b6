"""Probe a video and sample frames from it, one decoded frame at a time (OpenCV's FFmpeg backend).

Why it looks like this:

* Frames are decoded in order and only the sampled ones are converted to BGR (``grab`` for every
  frame, ``retrieve`` for sampled ones), so memory stays flat however long the video is.
* Timestamps are the container's presentation times (``CAP_PROP_POS_MSEC``), measured from the
  first video frame, not ``index / fps``: variable-frame-rate phone video would drift otherwise.
* OpenCV turns frames upright from the MP4 display matrix; ``VideoMetadata`` reports the size of
  the frames as delivered and the rotation that was applied.
* A few MP4 boxes are read directly (``_mp4_tracks``): OpenCV cannot tell an audio-only MP4 from
  garbage, has no duration property, and would decode a frame of absurd size before we could
  object to it.
* A stream that stops decoding partway (an interrupted upload) keeps the frames sampled so far;
  ``VideoReader.ended_early`` says so and a warning is logged. No decodable frame at all fails.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import cv2
import numpy as np

from chalicelib.errors import BadRequest, InvalidVideo

log = logging.getLogger(__name__)

MAX_SIDE_PX = 8192
MAX_SAMPLE_FPS = 30.0
_MAX_MOOV_BYTES = 64 << 20
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


@dataclass(frozen=True)
class SampledFrame:
    index: int  # position among all decoded frames, from 0
    timestamp_ms: int  # presentation time from the container, from the first frame
    image: np.ndarray  # BGR uint8, height x width x 3, upright


@dataclass(frozen=True)
class _Track:
    handler: bytes  # b"vide", b"soun", ...
    width: float
    height: float
    duration_s: float | None


class VideoReader:
    """One open video: ``metadata`` at once, then one pass of ``sample``; release on exit."""

    def __init__(self, path: str | os.PathLike[str], *, max_side: int = MAX_SIDE_PX):
        if not os.path.isfile(path):  # our own bug (a lost download), not a bad video
            raise FileNotFoundError(f"no video file at {os.fspath(path)!r}")
        tracks = _mp4_tracks(path)
        video = [t for t in tracks or [] if t.handler == b"vide"]
        if tracks is not None and not video:
            raise InvalidVideo("the file has no video track (audio only?)")
        if video:  # refuse before OpenCV decodes anything
            _check_not_huge(round(video[0].width), round(video[0].height), max_side)
        self._cap = cv2.VideoCapture(os.fspath(path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            raise InvalidVideo("could not open the video: the file is not a readable MP4")
        try:
            self._cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            duration_s = video[0].duration_s if video else None
            self.metadata = self._probe(duration_s)
            if self.metadata.width <= 0 or self.metadata.height <= 0:
                raise InvalidVideo("the video track declares no frame size")
            _check_not_huge(self.metadata.width, self.metadata.height, max_side)
        except BaseException:
            self._cap.release()
            raise
        self.frames_decoded = 0
        self.ended_early = False
        self._started = False

    def _probe(self, duration_s: float | None) -> VideoMetadata:
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
        )

    def sample(
        self, fps: float | None = None, *, every_ms: float | None = None
    ) -> Iterator[SampledFrame]:
        """Yield the first frame, then each first frame at least one interval after the last one.

        Give the rate as ``fps`` or as ``every_ms``. Checked now, not at the first ``next``.
        """
        interval_ms = _interval_ms(fps, every_ms)
        if self._started:
            raise RuntimeError("VideoReader.sample can run once per reader; open the video again")
        self._started = True
        return self._sample(interval_ms)

    def _sample(self, interval_ms: float) -> Iterator[SampledFrame]:
        cap = self._cap
        frame_ms = 1000 / self.metadata.fps if self.metadata.fps else 1000 / MAX_SAMPLE_FPS
        previous = next_due = -math.inf
        index = -1
        while cap.grab():
            index += 1
            self.frames_decoded = index + 1
            position = max(0.0, cap.get(cv2.CAP_PROP_POS_MSEC))
            if index and not position > previous:  # a missing or repeated container timestamp
                position = previous + frame_ms
            previous = position
            if position + 1e-3 < next_due:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:  # grabbed but undecodable: the stream stops here
                self.frames_decoded = index
                break
            next_due = position + interval_ms
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def probe(path: str | os.PathLike[str]) -> VideoMetadata:
    """Metadata only; raises ``InvalidVideo`` for anything we could not analyze."""
    with VideoReader(path) as video:
        return video.metadata


def sample_frames(
    path: str | os.PathLike[str], fps: float | None = None, *, every_ms: float | None = None
) -> Iterator[SampledFrame]:
    """Open, sample, release. The rate is checked now; the file at the first ``next``."""
    _interval_ms(fps, every_ms)

    def frames() -> Iterator[SampledFrame]:
        with VideoReader(path) as video:
            yield from video.sample(fps, every_ms=every_ms)

    return frames()


def _interval_ms(fps: float | None, every_ms: float | None) -> float:
    if (fps is None) == (every_ms is None):
        raise BadRequest("give the sampling rate as fps or as every_ms, not both or neither")
    rate = fps if fps is not None else 1000 / every_ms if every_ms else math.inf
    if not (isinstance(rate, int | float) and 0 < rate <= MAX_SAMPLE_FPS):
        raise BadRequest(
            f"the sampling rate must be above 0 and at most {MAX_SAMPLE_FPS:g} frames per second"
            f" (every {1000 / MAX_SAMPLE_FPS:.1f} ms or more); got fps={fps}, every_ms={every_ms}"
        )
    return 1000 / rate


def _check_not_huge(width: int, height: int, max_side: int) -> None:
    if max(width, height) > max_side:
        raise InvalidVideo(
            f"the video is {width}x{height} pixels; at most {max_side} pixels a side are supported"
        )


def _mp4_tracks(path: str | os.PathLike[str]) -> list[_Track] | None:
    """Tracks from the MP4 index (moov), or None when the file has no readable index.

    A track's duration is that of its edit list (what a player presents) when it has one,
    else its media duration: encoders that shift decode times (B-frames) can leave the media
    duration off by a reorder delay.
    """
    moov = _read_moov(path)
    if moov is None:
        return None
    top = list(_boxes(moov, 0, len(moov)))
    movie_scale = next((_time(moov, s, e)[0] for k, s, e in top if k == b"mvhd"), 0)
    tracks = []
    for _, start, end in (box for box in top if box[0] == b"trak"):
        handler, width, height, media_s, edits_s = b"", 0.0, 0.0, None, 0.0
        for kind, start2, end2 in _boxes(moov, start, end):
            if kind == b"tkhd" and end2 - start2 >= 84:  # width, height: last 8 bytes, 16.16
                width, height = (v / 65536 for v in struct.unpack_from(">II", moov, end2 - 8))
            elif kind == b"edts" and movie_scale:
                for segment, media_time in _edits(moov, start2, end2):
                    edits_s += segment / movie_scale if media_time >= 0 else 0.0
            elif kind == b"mdia":
                for kind3, start3, end3 in _boxes(moov, start2, end2):
                    if kind3 == b"hdlr" and end3 - start3 >= 12:
                        handler = moov[start3 + 8 : start3 + 12]
                    elif kind3 == b"mdhd":
                        scale, units = _time(moov, start3, end3)
                        media_s = units / scale if scale and units else None
        tracks.append(_Track(handler, width, height, edits_s or media_s))
    return tracks


def _time(buf: bytes, start: int, end: int) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd box; (0, 0) when unreadable or unknown."""
    v1 = buf[start] == 1 if end - start >= 24 else None
    if v1 is None or (v1 and end - start < 36):
        return 0, 0
    scale, units = struct.unpack_from(">IQ" if v1 else ">II", buf, start + (20 if v1 else 12))
    return (0, 0) if units in (2**32 - 1, 2**64 - 1) else (scale, units)


def _edits(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(segment duration in movie timescale, media time; -1 = empty edit) of each elst entry."""
    for kind, at, box_end in _boxes(buf, start, end):
        if kind != b"elst" or box_end - at < 8:
            continue
        fmt = ">Qq4x" if buf[at] == 1 else ">Ii4x"
        count = struct.unpack_from(">I", buf, at + 4)[0]
        size = struct.calcsize(fmt)
        for i in range(min(count, (box_end - at - 8) // size)):
            yield struct.unpack_from(fmt, buf, at + 8 + i * size)


def _read_moov(path: str | os.PathLike[str]) -> bytes | None:
    """Walk the top-level boxes by seeking (mdat is never read) and return moov's payload."""
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            position = 0
            while position + 8 <= file_size:
                f.seek(position)
                head = f.read(16)
                size, kind = struct.unpack_from(">I4s", head)
                header = 8
                if size == 1 and len(head) == 16:
                    size, header = struct.unpack_from(">Q", head, 8)[0], 16
                elif size == 0:
                    size = file_size - position
                if size < header or position + size > file_size:
                    return None
                if kind == b"moov":
                    if size > _MAX_MOOV_BYTES:
                        return None
                    f.seek(position + header)
                    return f.read(size - header)
                position += size
    except OSError:
        return None
    return None


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in ``buf[start:end]``; stops at a bad size."""
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, position)
        header = 8
        if size == 1 and position + 16 <= end:
            size, header = struct.unpack_from(">Q", buf, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            return
        yield kind, position + header, position + size
        position += size
