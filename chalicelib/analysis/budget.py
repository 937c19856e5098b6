"""How much work one job may ask for: the video's duration and the frames it would sample,
checked before analysis.

The duration comes from the MP4 index (pure Python, no decoding), so a job over the limits fails
at once with a reason that says what to change, instead of holding workers for hours first.
(The size limit is checked before the download: ``StorageService.download_file``.)
"""

from __future__ import annotations

import math
import os

from chalicelib.analysis.mp4 import file_reader, read_tracks
from chalicelib.errors import TooManyFrames


def video_duration_s(path: str | os.PathLike[str]) -> float | None:
    """The longest video track's duration per the MP4 index; None when it does not say."""
    with file_reader(path) as (read, size):
        tracks = read_tracks(read, size) or []
    durations = [t.duration_s for t in tracks if t.handler == "vide" and t.duration_s]
    return max(durations, default=None)


def check_frame_budget(
    path: str | os.PathLike[str],
    sample_fps: float,
    max_frames: int,
    max_duration_s: float = math.inf,
) -> int | None:
    """The frames the job will sample (a grid point every 1/fps seconds from 0; None if the
    index gives no duration); TooManyFrames if the video is over ``max_duration_s`` or that is
    over ``max_frames``. Unknown durations are let through."""
    duration = video_duration_s(path)
    if duration is None:
        return None
    if duration > max_duration_s:
        raise TooManyFrames(
            f"the video is {duration / 3600:.2f} hours long ({duration:.0f} s), over the limit "
            f"of {max_duration_s / 3600:g} hours ({max_duration_s:g} s) per job; "
            "split it into shorter parts"
        )
    frames = math.ceil(duration * sample_fps)
    if frames <= max_frames:
        return frames
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
