"""The sample videos beside the checkout (``../shared/videos``); tests skip without them."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "videos"


def shared_video(name: str) -> Path:
    path = SHARED_VIDEOS / name
    if not path.is_file():
        pytest.skip(f"sample video {path} is not available")
    return path


def read_frame(name: str, seconds: float):
    """One BGR frame of a sample video, at ``seconds``."""
    import cv2

    capture = cv2.VideoCapture(str(shared_video(name)))
    capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"could not read {name} at {seconds}s"
    return frame
