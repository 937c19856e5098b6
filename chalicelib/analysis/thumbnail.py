"""The library's picture of a job: one small JPEG frame, made once when the job completes.

The frame is the one nearest ``THUMBNAIL_AT_S`` (the middle of a shorter video): the very
first frame of many videos is black or a fade-in. It is scaled to ``THUMBNAIL_WIDTH_PX`` wide
and stored under the job's own prefix (``thumbnail_path``), so the delete and the bucket's
lifecycle rule remove it with the video and the results.

The analysis hands over the sampled frame nearest that time (``NearestFrame``), so a job does
not decode it a second time (seeking there cost 0.24-0.47 s of CPU on the short 1080x1920 and
keyframe-less sample clips, a fifth of their job); a job whose last slice did not see it (a
resumed one) or a pipeline that samples nothing decodes it here (``make_thumbnail``).

A thumbnail is a convenience: a video OpenCV cannot seek or decode gives none (logged), and the
job completes all the same.
"""

from __future__ import annotations

import logging
import math
import os

import cv2
import numpy as np

from chalicelib.config import THUMBNAIL_AT_S, THUMBNAIL_QUALITY, THUMBNAIL_WIDTH_PX
from chalicelib.jobs.ids import PREFIX, parse_job_id

log = logging.getLogger(__name__)
CONTENT_TYPE = "image/jpeg"


def thumbnail_path(job_id: str) -> str:
    return f"{PREFIX}/{parse_job_id(job_id)}/thumbnail.jpg"


def thumbnail_at_s(duration_s: float | None) -> float:
    return THUMBNAIL_AT_S if duration_s is None else min(THUMBNAIL_AT_S, duration_s / 2)


class NearestFrame:
    """The sampled frame nearest the thumbnail's time, kept as an analysis goes by its frames."""

    def __init__(self, duration_s: float | None) -> None:
        self.at_ms = thumbnail_at_s(duration_s) * 1000
        self.image: np.ndarray | None = None
        self._gap = math.inf

    def offer(self, timestamp_ms: float, image: np.ndarray) -> None:
        gap = abs(timestamp_ms - self.at_ms)
        if gap < self._gap:
            self.image, self._gap = image, gap


def make_thumbnail(
    video: str | os.PathLike[str], duration_s: float | None, frame: np.ndarray | None = None
) -> bytes | None:
    """The JPEG bytes of ``frame`` (BGR) or, without one, of the frame of ``video`` nearest the
    thumbnail's time; None when no frame could be decoded."""
    return _encoded(_decoded(video, duration_s) if frame is None else frame)


def _decoded(video: str | os.PathLike[str], duration_s: float | None) -> np.ndarray | None:
    cap = cv2.VideoCapture(os.fspath(video), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return None
        cap.set(cv2.CAP_PROP_POS_MSEC, thumbnail_at_s(duration_s) * 1000)
        ok, frame = cap.read()
        if not ok:  # the seek went past what decodes: the first frame will do
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
    finally:
        cap.release()
    return frame if ok else None


def _encoded(frame: np.ndarray | None) -> bytes | None:
    if frame is None or frame.size == 0:
        return None
    height, width = frame.shape[:2]
    if width > THUMBNAIL_WIDTH_PX:
        size = (THUMBNAIL_WIDTH_PX, max(1, round(height * THUMBNAIL_WIDTH_PX / width)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return encoded.tobytes() if ok else None
