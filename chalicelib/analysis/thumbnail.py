"""The library's picture of a job: one small JPEG frame, made once when the job completes.

The frame is the one nearest ``THUMBNAIL_AT_S`` (the first frame of a shorter video): the very
first frame of many videos is black or a fade-in. It is scaled to ``THUMBNAIL_WIDTH_PX`` wide
and stored under the job's own prefix (``thumbnail_path``), so the delete and the bucket's
lifecycle rule remove it with the video and the results.

A thumbnail is a convenience: a video OpenCV cannot seek or decode gives none (logged), and the
job completes all the same.
"""

from __future__ import annotations

import logging
import os

import cv2

from chalicelib.config import THUMBNAIL_AT_S, THUMBNAIL_QUALITY, THUMBNAIL_WIDTH_PX
from chalicelib.jobs.ids import PREFIX, parse_job_id

log = logging.getLogger(__name__)
CONTENT_TYPE = "image/jpeg"


def thumbnail_path(job_id: str) -> str:
    return f"{PREFIX}/{parse_job_id(job_id)}/thumbnail.jpg"


def make_thumbnail(video: str | os.PathLike[str], duration_s: float | None) -> bytes | None:
    """The JPEG bytes, or None when no frame could be decoded."""
    cap = cv2.VideoCapture(os.fspath(video), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return None
        at_s = THUMBNAIL_AT_S if duration_s is None else min(THUMBNAIL_AT_S, duration_s / 2)
        cap.set(cv2.CAP_PROP_POS_MSEC, at_s * 1000)
        ok, frame = cap.read()
        if not ok:  # the seek went past what decodes: the first frame will do
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        if not ok or frame is None or frame.size == 0:
            return None
    finally:
        cap.release()
    height, width = frame.shape[:2]
    if width > THUMBNAIL_WIDTH_PX:
        size = (THUMBNAIL_WIDTH_PX, max(1, round(height * THUMBNAIL_WIDTH_PX / width)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_QUALITY])
    return encoded.tobytes() if ok else None
