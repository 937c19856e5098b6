"""Real clips: the README's two in ``samples/``, the larger set beside the checkout
(``../shared/videos``).

Every test that reads ``../shared/videos`` goes through ``shared_videos()`` or ``shared_video()``:
without the folder a test skips on a developer's machine, but fails under CI (``CI=true``), so a
green CI never hides skipped real-video tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SHARED_VIDEOS = ROOT.parent / "shared" / "videos"
_ABSENT = "(../shared/videos is missing)"  # the one parameter when there is nothing to list


def _missing(what: str, path: Path) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing and CI=true (looked for {path})", pytrace=False)
    pytest.skip(f"{what} is missing ({path})")


def shared_videos() -> Path:
    """The folder, or a skip (a failure under CI) when it is missing."""
    if not SHARED_VIDEOS.is_dir():
        _missing("../shared/videos", SHARED_VIDEOS)
    return SHARED_VIDEOS


def shared_video(name: str) -> Path:
    path = shared_videos() / name
    if not path.is_file():
        _missing(f"../shared/videos/{name}", path)
    return path


def shared_video_names() -> list[str]:
    """Every clip's name, to parametrize over; without the folder one placeholder, whose test
    then skips (or fails under CI) in ``shared_video``, rather than an empty, silent parameter
    set."""
    return sorted(path.name for path in SHARED_VIDEOS.glob("*.mp4")) or [_ABSENT]


def read_frame(name: str, seconds: float):
    """One BGR frame of a sample video, at ``seconds``."""
    import cv2

    capture = cv2.VideoCapture(str(shared_video(name)))
    capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"could not read {name} at {seconds}s"
    return frame
