"""Probing and frame sampling, on generated clips (fast) and on the real sample videos (slow).

Generated frames carry their own index as a bar code (``read_frame_code``), so the tests check
which frame came back without trusting the decoder under test.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import re
import struct
import subprocess
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

from chalicelib.analysis import frames
from chalicelib.analysis.frames import SampledFrame, VideoMetadata, VideoReader
from chalicelib.config import MAX_SAMPLE_FPS
from chalicelib.errors import InvalidVideo
from tests.fixtures import make_tiny_mp4 as fx
from tests.support.frames import probe, sample_frames
from tests.support.videos import SHARED_VIDEOS as VIDEOS

VFR_MS = [0, 40, 45, 300, 310, 1000, 1001, 1500]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every generated clip the fast tests use, made once per module (well under a second)."""
    d = tmp_path_factory.mktemp("clips")
    made = {
        "basic": fx.make_mp4(d / "basic.mp4"),  # 2 s, 10 fps, 320x240, h264
        "ten_s": fx.make_mp4(d / "ten_s.mp4", seconds=10, size=(160, 120)),
        "ntsc": fx.make_mp4(d / "ntsc.mp4", seconds=2, fps=30000 / 1001, size=(160, 120)),
        "hevc": fx.make_mp4(d / "hevc.mp4", seconds=1, codec="hevc", size=(160, 120)),
        "mpeg4": fx.make_mp4(d / "mpeg4.mp4", seconds=1, codec="mpeg4", size=(160, 120)),
        "cv_mp4v": fx.make_mp4v_with_opencv(d / "cv_mp4v.mp4", seconds=1),
        "odd": fx.make_mp4(d / "odd.mp4", size=(97, 55)),
        "one_frame": fx.make_mp4(d / "one_frame.mp4", seconds=0.1, fps=10),
        "tenth_s": fx.make_mp4(d / "tenth_s.mp4", seconds=0.1, fps=30),
        "vfr": fx.make_vfr_mp4(d / "vfr.mp4", VFR_MS),
        "vfr_late": fx.make_vfr_mp4(d / "vfr_late.mp4", [500, 540, 545, 800, 1500]),
        "audio": fx.make_audio_only_mp4(d / "audio.mp4"),
        "huge": fx.make_mp4(d / "huge.mp4", seconds=0.1, size=(8200, 16), text=""),
        "index_last": fx.make_mp4(d / "index_last.mp4", faststart=False),
        "long": fx.make_mp4(d / "long.mp4", seconds=30, size=(320, 240)),
        "pal_half": fx.make_mp4(d / "pal_half.mp4", seconds=30, fps=12.5, size=(64, 48), text=""),
    }
    for rotation in (90, 180, 270):
        made[f"rot{rotation}"] = fx.make_mp4(d / f"rot{rotation}.mp4", rotation=rotation)
    made["odd_rot90"] = fx.make_mp4(d / "odd_rot90.mp4", size=(97, 55), rotation=90)
    ten_s = made["ten_s"]
    made["truncated"] = fx.truncate(ten_s, d / "truncated.mp4", 0.6)
    made["index_only"] = fx.truncate(
        ten_s, d / "index_only.mp4", keep_bytes=fx.media_data_offset(ten_s) + 64
    )
    made["index_last_cut"] = fx.truncate(made["index_last"], d / "index_last_cut.mp4", 0.9)
    made["bad_times"] = fx.break_timestamps(made["basic"], d / "bad_times.mp4")
    (d / "junk.mp4").write_bytes(b"this is not a video at all\n" * 50)
    (d / "empty.mp4").write_bytes(b"")
    made["junk"], made["empty"] = d / "junk.mp4", d / "empty.mp4"
    return made


def all_frames(path: Path, fps: float = MAX_SAMPLE_FPS) -> list[SampledFrame]:
    return list(sample_frames(path, fps))


def expected_picks(timestamps: list[float], interval: float) -> list[int]:
    """The sampling rule, written out plainly: for each target 0, interval, 2 * interval, ...
    (from the first frame), the first frame at or after it; each frame is picked once."""
    picks: list[int] = []
    for k in range(int((timestamps[-1] - timestamps[0] + 1e-3) / interval) + 1):
        target = timestamps[0] + k * interval - 1e-3
        first = next(i for i, t in enumerate(timestamps) if t >= target)
        if first not in picks:
            picks.append(first)
    return picks


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_of_a_plain_clip(clips):
    assert probe(clips["basic"]) == VideoMetadata(
        duration_ms=2000, fps=10.0, width=320, height=240, frame_count=20, codec="h264", rotation=0
    )


@pytest.mark.parametrize(
    ("name", "codec", "size", "fps", "frame_count", "duration_ms"),
    [
        ("ntsc", "h264", (160, 120), 29.97, 60, 2002),
        ("hevc", "hevc", (160, 120), 10.0, 10, 1000),
        ("mpeg4", "mp4v", (160, 120), 10.0, 10, 1000),
        ("cv_mp4v", "mp4v", (160, 120), 10.0, 10, 1000),
        ("odd", "h264", (97, 55), 10.0, 20, 2000),
        ("one_frame", "h264", (320, 240), 10.0, 1, 100),
        ("tenth_s", "h264", (320, 240), 30.0, 3, 100),
    ],
)
def test_metadata_across_codecs_rates_and_sizes(
    clips, name, codec, size, fps, frame_count, duration_ms
):
    meta = probe(clips[name])
    assert (meta.codec, (meta.width, meta.height), meta.fps) == (codec, size, fps)
    assert (meta.frame_count, meta.duration_ms, meta.rotation) == (frame_count, duration_ms, 0)


def test_vfr_duration_is_the_presented_one(clips):
    # x264 shifts decode times on VFR input, so the media duration (mdhd) is ~460 ms short;
    # the edit list says what a player presents: last frame at 1500 ms plus one frame.
    meta = probe(clips["vfr"])
    assert meta.frame_count == len(VFR_MS)
    assert 1500 < meta.duration_ms <= 1600


# --- sampling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fps", "step"), [(1, 10), (2, 5), (5, 2), (10, 1)])
def test_sampling_count_and_timestamps(clips, fps, step):
    got = list(sample_frames(clips["ten_s"], fps))
    assert [f.index for f in got] == list(range(0, 100, step))
    assert [f.timestamp_ms for f in got] == [i * 100 for i in range(0, 100, step)]
    assert [fx.read_frame_code(f.image) for f in got] == [f.index for f in got]
    assert all(f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8 for f in got)


def test_every_ms_is_the_same_as_fps(clips):
    by_fps = [f.index for f in sample_frames(clips["ten_s"], 2)]
    assert [f.index for f in sample_frames(clips["ten_s"], every_ms=500)] == by_fps


def test_sampling_a_rate_that_does_not_divide_the_frame_rate(clips):
    # 29.97 fps sampled at 3 fps: target k (k * 333.33 ms) is met by frame 10 * k, 0.33 k ms late.
    got = list(sample_frames(clips["ntsc"], 3))
    times = [f.index * 1001 / 30 for f in got]
    assert [f.index for f in got] == expected_picks([i * 1001 / 30 for i in range(60)], 1000 / 3)
    assert [f.timestamp_ms for f in got] == [round(t) for t in times]
    assert len(got) == 6


def test_sampling_keeps_to_a_fixed_grid_not_to_the_last_pick(clips):
    # 10 fps every 250 ms: targets 0, 250, 500, 750, ... take the frames at 0, 300, 500, 800, ...
    # Counting from the last pick instead would take one every 300 ms: 34 frames, not 40.
    got = list(sample_frames(clips["ten_s"], every_ms=250))
    assert [f.timestamp_ms for f in got] == [math.ceil(k * 2.5) * 100 for k in range(40)]


@pytest.mark.parametrize("fps", [1, 2, 5])
def test_a_frame_rate_that_is_not_a_multiple_keeps_the_requested_rate(clips, fps):
    # 12.5 fps (a frame every 80 ms) for 30 s: target k is met by frame ceil(k * interval / 80).
    # At 1 fps the last-pick rule took every 13th frame (1.04 s apart): 29 frames, not 30.
    interval = 1000 / fps
    got = list(sample_frames(clips["pal_half"], fps))
    indices = [math.ceil(k * interval / 80) for k in range(30 * fps)]
    assert [f.index for f in got] == indices
    assert [f.timestamp_ms for f in got] == [i * 80 for i in indices]
    assert [fx.read_frame_code(f.image) for f in got] == indices
    assert all(0 <= f.timestamp_ms - k * interval < 80 for k, f in enumerate(got))  # no drift


def test_a_frame_past_several_targets_is_taken_once(clips):
    # VFR_MS at 5 fps: the frame at 1000 ms meets the targets at 400, 600, 800 and 1000 ms and
    # is yielded once; the next target is 1200 ms, met by the frame at 1500 ms.
    got = list(sample_frames(clips["vfr"], 5))
    assert [(f.index, f.timestamp_ms) for f in got] == [(0, 0), (3, 300), (5, 1000), (7, 1500)]


@pytest.mark.parametrize("fps", [2, 5, 30])
def test_vfr_timestamps_come_from_the_container(clips, fps):
    got = list(sample_frames(clips["vfr"], fps))
    picks = expected_picks(VFR_MS, 1000 / fps)
    assert [f.index for f in got] == picks
    assert [f.timestamp_ms for f in got] == [VFR_MS[i] for i in picks]
    assert [fx.read_frame_code(f.image) for f in got] == picks
    # index / nominal fps would have put frame 5 at ~674 ms, not at 1000 ms.
    assert round(5 * 1000 / probe(clips["vfr"]).fps) != 1000


def test_timestamps_count_from_the_first_frame(clips):
    # The first frame is presented at 500 ms (an empty edit before it): times start at 0.
    got = all_frames(clips["vfr_late"])
    assert [f.timestamp_ms for f in got] == [0, 40, 300, 1000]


def test_broken_container_times_never_stand_still_or_go_back(clips):
    times = [f.timestamp_ms for f in all_frames(clips["bad_times"])]
    assert times and times[0] >= 0
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_reader_gives_metadata_and_frames_in_one_open(clips):
    with VideoReader(clips["basic"]) as video:
        assert video.metadata == probe(clips["basic"])
        got = list(video.sample(5))
        assert (video.frames_decoded, video.ended_early) == (20, False)
        with pytest.raises(RuntimeError, match="once per reader"):
            video.sample(5)
    assert [f.timestamp_ms for f in got] == list(range(0, 2000, 200))
    assert not video._cap.isOpened()  # released on exit


def test_very_short_clips(clips):
    one = all_frames(clips["one_frame"])
    assert [(f.index, f.timestamp_ms, f.image.shape) for f in one] == [(0, 0, (240, 320, 3))]
    assert [f.index for f in sample_frames(clips["tenth_s"], 1)] == [0]
    assert [f.timestamp_ms for f in all_frames(clips["tenth_s"])] == [0, 33, 67]


def test_odd_sizes_keep_their_exact_size(clips):
    got = all_frames(clips["odd"])
    assert len(got) == 20
    assert all(f.image.shape == (55, 97, 3) for f in got)
    assert [fx.read_frame_code(f.image) for f in got] == list(range(20))


# --- rotation ---------------------------------------------------------------------------------


def tkhd_matrix(path: Path) -> tuple[int, int, int, int]:
    """(a, b, c, d) of the first track header's matrix, in units of 1.0 (read independently)."""
    data = path.read_bytes()
    end = data.index(b"tkhd") - 4 + int.from_bytes(data[data.index(b"tkhd") - 4 :][:4], "big")
    a, b, _, c, d = struct.unpack_from(">5i", data, end - 8 - 36)
    return a // 65536, b // 65536, c // 65536, d // 65536


def test_rotation_fixture_writes_what_phones_write(clips):
    # ISO/IEC 14496-12 display matrix of a phone held upright: 90 degrees clockwise.
    assert tkhd_matrix(clips["rot90"]) == (0, 1, -1, 0)
    assert tkhd_matrix(clips["rot270"]) == (0, -1, 1, 0)
    assert tkhd_matrix(clips["basic"]) == (1, 0, 0, 1)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_clips_come_out_upright(clips, rotation):
    meta = probe(clips[f"rot{rotation}"])
    assert (meta.width, meta.height, meta.rotation) == (320, 240, rotation)
    got = all_frames(clips[f"rot{rotation}"])
    assert all(f.image.shape == (240, 320, 3) for f in got)
    # Upright: the white text band is on top and the bar code reads left to right.
    assert got[0].image[:40].mean() > 150
    assert [fx.read_frame_code(f.image) for f in got] == list(range(20))


def test_rotated_odd_size(clips):
    meta = probe(clips["odd_rot90"])
    assert (meta.width, meta.height, meta.rotation) == (97, 55, 90)
    got = all_frames(clips["odd_rot90"])
    assert [fx.read_frame_code(f.image) for f in got] == list(range(20))


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("audio", "the file has no video track (audio only?)"),
        ("junk", "could not open the video: the file is not a readable MP4"),
        ("empty", "could not open the video: the file is not a readable MP4"),
        ("index_last_cut", "could not open the video: the file is not a readable MP4"),
    ],
)
def test_unreadable_files_are_invalid_videos(clips, name, message):
    with pytest.raises(InvalidVideo) as caught:
        probe(clips[name])
    assert caught.value.message == message
    frames_ = sample_frames(clips[name], 1)  # opens lazily: the error comes at the first next()
    with pytest.raises(InvalidVideo, match=re.escape(message)):
        next(frames_)


def test_missing_file_is_our_bug_not_a_bad_video(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.mp4")


def test_absurd_size_is_refused_before_sampling(clips):
    # The size checked is the decoder's, not the header's display size (which may lie: see
    # tests/integration/test_frame_limits.py), so the file is opened, but no frame is sampled.
    with pytest.raises(InvalidVideo, match=r"8200x16 pixels; at most 8192 pixels a side"):
        VideoReader(clips["huge"])


def test_size_limit_also_applies_to_what_opencv_reports(clips):
    with pytest.raises(InvalidVideo, match="320x240 pixels; at most 200"):
        VideoReader(clips["basic"], max_side=200)


def test_an_index_without_frame_data_fails(clips):
    meta = probe(clips["index_only"])  # the index alone is fine...
    assert meta.frame_count == 100
    with pytest.raises(InvalidVideo, match="no frame could be decoded"):
        all_frames(clips["index_only"])  # ...but nothing decodes


def test_truncated_stream_keeps_the_frames_before_the_cut(clips, caplog):
    with (
        caplog.at_level(logging.WARNING, logger=frames.__name__),
        VideoReader(clips["truncated"]) as video,
    ):
        assert video.metadata.frame_count == 100  # as declared
        got = list(video.sample(2))
    assert video.ended_early and 0 < video.frames_decoded < 100
    assert 0 < len(got) < 20
    assert [f.index for f in got] == list(range(0, video.frames_decoded, 5))
    assert [fx.read_frame_code(f.image) for f in got] == [f.index for f in got]
    assert f"after {video.frames_decoded} of 100 frames" in caplog.text


def test_a_complete_stream_does_not_end_early(clips, caplog):
    with (
        caplog.at_level(logging.WARNING, logger=frames.__name__),
        VideoReader(clips["ten_s"]) as video,
    ):
        assert len(list(video.sample(1))) == 10
    assert (video.frames_decoded, video.ended_early, caplog.text) == (100, False, "")


@pytest.mark.parametrize(
    "rate",
    [
        {"fps": 0},
        {"fps": -1},
        {"fps": MAX_SAMPLE_FPS + 1},
        {"fps": math.nan},
        {"fps": math.inf},
        {"every_ms": 0},
        {"every_ms": 10},
        {"every_ms": -5},
        {},
        {"fps": 1, "every_ms": 1000},
    ],
)
def test_bad_sampling_rates_are_programming_errors_at_call_time(clips, rate):
    """The API checks sample_fps before a job exists; a bad rate here is a bug, not bad input."""
    with VideoReader(clips["basic"]) as video, pytest.raises(ValueError, match="sampling rate"):
        video.sample(**rate)


# --- memory -----------------------------------------------------------------------------------


def test_sampling_does_not_hold_on_to_frames(clips):
    """300 frames of 230 kB each: traced memory must not grow with the number consumed."""
    frame_bytes = 320 * 240 * 3
    alive = []
    tracemalloc.start()
    try:
        for n, frame in enumerate(sample_frames(clips["long"], MAX_SAMPLE_FPS)):
            alive.append(weakref.ref(frame.image))
            if n == 10:  # decoder and first arrays warmed up
                tracemalloc.reset_peak()
                baseline = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del frame
    gc.collect()
    assert len(alive) == 300
    assert sum(ref() is not None for ref in alive) == 0
    assert peak - baseline < 5 * frame_bytes  # holding them all would be ~69 MB


# --- the fixture module itself ----------------------------------------------------------------


def test_frame_code_round_trips():
    for index in (0, 1, 5, 512, 1023):
        assert fx.read_frame_code(fx.draw_frame(index, 1024, (97, 55))) == index


def test_cli_writes_a_clip(tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    fx.main([str(out), "--seconds", "0.5", "--fps", "4", "--size", "64x48", "--text", "HI"])
    assert capsys.readouterr().out.strip() == str(out)
    meta = probe(out)
    assert (meta.width, meta.height, meta.frame_count, meta.fps) == (64, 48, 2, 4.0)


# --- real videos (slow) -----------------------------------------------------------------------


def sources_table() -> dict[str, tuple[int, int, float, float]]:
    """file -> (width, height, fps, seconds), parsed from SOURCES.md."""
    rows = {}
    for line in (VIDEOS / "SOURCES.md").read_text().splitlines():
        name = re.match(r"\|\s*(\S+\.mp4)\s*\|", line)
        spec = re.search(r"(\d+)x(\d+), ([\d.]+) fps, ([\d.]+) s", line)
        if name and spec:
            w, h, fps, seconds = spec.groups()
            rows[name.group(1)] = (int(w), int(h), float(fps), float(seconds))
    return rows


needs_videos = pytest.mark.usefixtures("shared_videos_dir")  # skips, or fails under CI


@pytest.mark.slow
@needs_videos
def test_real_clips_match_their_sources():
    table = sources_table()
    assert len(table) == 7
    for name, (width, height, fps, seconds) in table.items():
        meta = probe(VIDEOS / name)
        assert (meta.width, meta.height, meta.codec, meta.rotation) == (width, height, "h264", 0)
        assert meta.fps == pytest.approx(fps, abs=0.01), name
        assert meta.duration_ms / 1000 == pytest.approx(seconds, abs=max(0.15, 0.01 * seconds))
        assert meta.frame_count == pytest.approx(meta.duration_ms / 1000 * meta.fps, abs=2)


@pytest.mark.slow
@needs_videos
def test_cars_parking_aerial_at_1_fps_gives_a_frame_a_second():
    # 12.5 fps for 30.16 s: targets at 0, 1, ..., 30 s. The last-pick rule (1.04 s apart) gave 29.
    with VideoReader(VIDEOS / "cars_parking_aerial.mp4") as video:
        times = [f.timestamp_ms for f in video.sample(1)]
    assert len(times) == 31
    assert all(0 <= t - k * 1000 < 80 for k, t in enumerate(times))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child forked from a big pytest
# process would report the parent's size.
PEAK_RSS_SCRIPT = """
import json, re, sys, time
from chalicelib.analysis.frames import VideoReader
with VideoReader(sys.argv[1]) as video:
    start = time.perf_counter()
    times = [f.timestamp_ms for f in video.sample(1)]
    seconds = time.perf_counter() - start
    decoded = video.frames_decoded
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1])
print(json.dumps({"times": times, "decoded": decoded, "seconds": seconds, "peak_rss_kb": peak_kb}))
"""


@pytest.mark.slow
@needs_videos
def test_people_indoor_at_1_fps_in_flat_memory():
    """A fresh process, so ru_maxrss is this run's peak and not the test session's."""
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, str(VIDEOS / "people_indoor.mp4")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    times = result["times"]
    print(f"people_indoor @1fps: {len(times)} frames, {result['seconds']:.2f} s, "
          f"peak RSS {result['peak_rss_kb'] / 1024:.0f} MiB")  # fmt: skip
    assert result["decoded"] == 1394
    assert 138 <= len(times) <= 141
    assert all(b - a >= 1000 for a, b in zip(times, times[1:], strict=False))
    assert times[0] == 0 and times[-1] <= 139_400
    assert result["peak_rss_kb"] < 400 * 1024
