"""What the MP4 header says against what the frames are, and memory bounded by resolution
(issue 19.10): lying display sizes, a timescale of 0 or 1, a second video track, huge frames."""

import struct
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from chalicelib.analysis import frames
from chalicelib.analysis.frames import VideoReader
from chalicelib.errors import InvalidVideo
from tests.fixtures.make_tiny_mp4 import draw_frame, make_mp4


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """2 s at 10 fps, 320x240: 20 frames."""
    return make_mp4(tmp_path_factory.mktemp("limits") / "clip.mp4", seconds=2, fps=10)


def patched(clip: Path, tmp_path: Path, box: bytes, at_from_end: int | None, value: bytes) -> Path:
    """A copy of ``clip`` with ``value`` written into its first ``box`` (from its payload start,
    or ``at_from_end`` bytes before the box's end)."""
    data = bytearray(clip.read_bytes())
    start = data.index(box) - 4
    size = struct.unpack(">I", data[start : start + 4])[0]
    at = start + size - at_from_end if at_from_end is not None else start + 8
    data[at : at + len(value)] = value
    out = tmp_path / f"patched-{box.decode()}.mp4"
    out.write_bytes(bytes(data))
    return out


def two_video_tracks(path: Path) -> Path:
    rate = Fraction(10)
    with av.open(str(path), "w", format="mp4") as out:
        streams = []
        for width, height in [(320, 240), (160, 120)]:
            stream = out.add_stream("libx264", rate=rate, options={"preset": "veryfast"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append(stream)
        for index in range(10):
            for stream in streams:
                image = draw_frame(index, 10, (stream.width, stream.height))
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts, frame.time_base = index, 1 / rate
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("declared", [(20000 << 16, 20000 << 16), (0xFFFFFFFF, 0xFFFFFFFF)])
def test_a_lying_display_size_in_the_header_is_ignored_for_the_decoded_frames(
    clip, tmp_path, declared
):
    lying = patched(clip, tmp_path, b"tkhd", 8, struct.pack(">II", *declared))
    with VideoReader(lying) as video:
        sampled = list(video.sample(1.0))
        assert (video.metadata.width, video.metadata.height) == (320, 240)
        assert video.frames_decoded == 20 and len(sampled) == 2


@pytest.mark.parametrize("timescale", [0, 1])
def test_a_media_timescale_of_0_or_1_fails_clearly_instead_of_keeping_one_frame(
    clip, tmp_path, timescale
):
    data = bytearray(clip.read_bytes())
    at = data.index(b"mdhd") + 4  # version and flags
    at += 20 if data[at] == 1 else 12  # past them and the creation and modification times
    data[at : at + 4] = struct.pack(">I", timescale)
    broken = tmp_path / "timescale.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidVideo, match=f"timescale is {timescale} ticks per second"):
        VideoReader(broken)


def test_a_second_video_track_is_reported_not_ignored_silently(clip, tmp_path):
    with VideoReader(two_video_tracks(tmp_path / "two.mp4")) as video:
        assert asdict(video.metadata)["ignored_video_tracks"] == 1
        assert (video.metadata.width, video.metadata.height) == (320, 240)  # the first track
    with VideoReader(clip) as video:
        assert asdict(video.metadata)["ignored_video_tracks"] == 0


def test_frames_over_the_pixel_limit_are_refused_with_the_limit_named(clip, monkeypatch):
    monkeypatch.setattr(frames, "MAX_FRAME_PIXELS", 320 * 240 - 1)
    with pytest.raises(InvalidVideo, match=r"frames are 320x240 pixels; .* megapixels"):
        VideoReader(clip)


def test_8k_uhd_is_within_the_limits_and_8192_square_is_not():
    frames._check_not_huge(7680, 4320, frames.MAX_SIDE_PX)
    frames._check_not_huge(4320, 7680, frames.MAX_SIDE_PX)
    with pytest.raises(InvalidVideo, match="8192x8192"):
        frames._check_not_huge(8192, 8192, frames.MAX_SIDE_PX)


def test_sampled_frames_are_scaled_down_to_the_analysis_size(clip, monkeypatch):
    monkeypatch.setattr(frames, "MAX_ANALYSIS_SIDE_PX", 160)
    with VideoReader(clip) as video:
        sampled = list(video.sample(1.0))
        assert (video.metadata.width, video.metadata.height) == (320, 240)  # the video's size
    assert [frame.image.shape for frame in sampled] == [(120, 160, 3)] * 2
    assert all(frame.image.dtype == np.uint8 for frame in sampled)
