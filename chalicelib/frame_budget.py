"""How much work one job may ask for: the frames it would sample, checked before analysis.

The duration comes from the MP4 index (pure Python, no decoding), so a job that could never
finish within one worker invocation fails at once with a reason that says what to change,
instead of holding a worker (and the jobs queued behind it) until its timeout.
"""

from __future__ import annotations

import math
import os

from chalicelib.errors import TooManyFrames
from chalicelib.mp4 import file_reader, read_tracks


def video_duration_s(path: str | os.PathLike[str]) -> float | None:
    """The longest video track's duration per the MP4 index; None when it does not say."""
    with file_reader(path) as (read, size):
        tracks = read_tracks(read, size) or []
    durations = [t.duration_s for t in tracks if t.handler == "vide" and t.duration_s]
    return max(durations, default=None)


def check_frame_budget(path: str | os.PathLike[str], sample_fps: float, max_frames: int) -> None:
    """TooManyFrames if sampling the video at ``sample_fps`` would take over ``max_frames``
    frames (a grid point every 1/fps seconds from 0); unknown durations are let through."""
    duration = video_duration_s(path)
    if duration is None:
        return
    frames = math.ceil(duration * sample_fps)
    if frames <= max_frames:
        return
    highest = math.floor(max_frames / duration * 1000) / 1000
    advice = (
        f"submit it with sample_fps={highest:g} or less, or in shorter parts"
        if highest > 0
        else "split it into shorter parts"
    )
    raise TooManyFrames(
        f"the video is {duration:.1f} s long: at sample_fps={sample_fps:g} that is {frames} "
        f"frames, above the limit of {max_frames} frames per job; {advice}"
    )
