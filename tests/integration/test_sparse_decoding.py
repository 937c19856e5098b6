"""Decoding only the sampled frames (``sparse``) gives exactly what decoding every frame gives:
the same frames (bytes), indexes, timestamps, positions, counts, on generated clips and on the
sample videos, and when a pass is resumed or the sparse decoder gives up partway."""

from __future__ import annotations

import hashlib
from dataclasses import astuple
from pathlib import Path

import pytest

from chalicelib.analysis import sparse
from chalicelib.analysis.frames import VideoReader
from tests.fixtures import make_tiny_mp4 as fx
from tests.support.videos import SHARED_VIDEOS as VIDEOS

RATES = (0.5, 1, 2, 3, 5, 7.5)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sparse")
    made = {
        "basic": fx.make_mp4(d / "basic.mp4"),
        "ntsc": fx.make_mp4(d / "ntsc.mp4", seconds=3, fps=30000 / 1001, size=(160, 120)),
        "long": fx.make_mp4(d / "long.mp4", seconds=12, fps=25, size=(160, 120)),
        "gop10": fx.make_mp4(d / "gop10.mp4", seconds=12, fps=25, size=(160, 120), keyint=10),
        "pal_half": fx.make_mp4(d / "pal_half.mp4", seconds=8, fps=12.5, size=(64, 48), text=""),
        "odd": fx.make_mp4(d / "odd.mp4", size=(97, 55)),
        "vfr": fx.make_vfr_mp4(d / "vfr.mp4", [0, 40, 45, 300, 310, 1000, 1001, 1500]),
        "vfr_late": fx.make_vfr_mp4(d / "vfr_late.mp4", [500, 540, 545, 800, 1500]),
        "hevc": fx.make_mp4(d / "hevc.mp4", seconds=1, codec="hevc", size=(160, 120)),
    }
    for rotation in (90, 180, 270):
        made[f"rot{rotation}"] = fx.make_mp4(d / f"rot{rotation}.mp4", rotation=rotation)
    made["odd_rot90"] = fx.make_mp4(d / "odd_rot90.mp4", size=(97, 55), rotation=90)
    ten_s = fx.make_mp4(d / "ten_s.mp4", seconds=10, size=(160, 120))
    made["truncated"] = fx.truncate(ten_s, d / "truncated.mp4", 0.6)
    made["bad_times"] = fx.break_timestamps(made["basic"], d / "bad_times.mp4")
    return made


def sampled(path: Path, fps: float, *, every_frame: bool, resume=None) -> tuple[list, tuple]:
    with VideoReader(path, every_frame=every_frame) as video:
        got = [
            (f.index, f.timestamp_ms, f.image.shape, f.image.flags.c_contiguous,
             hashlib.sha256(f.image.tobytes()).hexdigest(),
             astuple(video.position))
            for f in video.sample(fps, resume=resume)
        ]  # fmt: skip
        return got, (video.frames_decoded, video.ended_early)


def planned(path: Path, fps: float) -> sparse.Plan | None:
    with VideoReader(path) as video:
        return sparse.plan(path, frame_count=video.metadata.frame_count, interval_ms=1000 / fps)


@pytest.mark.parametrize("fps", RATES)
def test_the_same_frames_as_decoding_every_frame(clips, fps):
    for name, path in clips.items():
        every = sampled(path, fps, every_frame=True)
        assert every[0], name
        assert sampled(path, fps, every_frame=False) == every, name


def test_clean_h264_takes_the_sparse_path_and_the_rest_does_not(clips):
    used = {name for name, path in clips.items() if planned(path, 1) is not None}
    assert used == {"basic", "ntsc", "long", "gop10", "pal_half", "odd", "vfr", "vfr_late"} | {
        "rot90", "rot180", "rot270", "odd_rot90"
    }  # fmt: skip
    # not hevc, nor a stream cut short, nor broken container times: the full reader has those


def test_a_sparse_plan_skips_packets(clips):
    plan = planned(clips["long"], 1)  # 300 frames at 25 fps: 12 sampled
    assert plan is not None and len(plan.picks) == 12
    assert plan.actions.count(0) > 0 and plan.actions.count(2) == 12


def test_long_runs_of_skipped_packets_are_sought_past_the_same_frames(clips, monkeypatch, caplog):
    seeks = []
    packets = sparse._packets
    monkeypatch.setattr(sparse, "_packets", lambda *args: seeks.append(1) or packets(*args))
    sought = sampled(clips["gop10"], 1, every_frame=False)
    assert len(seeks) > 5  # one demuxing pass per seek: before the IDR picture of each sample
    monkeypatch.setattr(sparse, "SEEK_GAP", 10**9)
    seeks.clear()
    assert sampled(clips["gop10"], 1, every_frame=False) == sought and len(seeks) == 1
    assert sought == sampled(clips["gop10"], 1, every_frame=True)
    assert "decoding them all" not in caplog.text  # the sparse decoder never gave up


def test_the_images_are_upright_and_carry_their_frame(clips):
    for name in ("rot90", "rot270", "basic"):
        with VideoReader(clips[name]) as video:
            for frame in video.sample(2):
                assert fx.read_frame_code(frame.image) == frame.index, name


@pytest.mark.parametrize("every_frame_after", [False, True])
def test_a_resumed_pass_goes_on_as_an_uninterrupted_one(clips, every_frame_after):
    path = clips["long"]
    whole = sampled(path, 2, every_frame=False)
    for stop in (1, 7, 20):
        with VideoReader(path) as video:
            first = [f.index for _, f in zip(range(stop), video.sample(2), strict=False)]
            position = video.position
        rest = sampled(path, 2, every_frame=every_frame_after, resume=position)
        assert first + [row[0] for row in rest[0]] == [row[0] for row in whole[0]]
        assert rest == (whole[0][stop:], whole[1])


def test_a_resume_position_the_plan_does_not_know_falls_back(clips):
    with VideoReader(clips["long"]) as video:
        meta = video.metadata
    wrong = (5, 123.0, 0.0, 1)  # frame 5 is at 200 ms, not 123
    plan = sparse.plan(clips["long"], frame_count=meta.frame_count, interval_ms=500, resume=wrong)
    assert plan is None
    assert sparse.plan(
        clips["long"], frame_count=meta.frame_count, interval_ms=500, resume=(5, 200.0, 0.0, 1)
    )


def test_when_the_sparse_decoder_gives_up_the_full_reader_goes_on(clips, monkeypatch):
    real = sparse.decode

    def gives_up(path, plan, rotation):
        for n, item in enumerate(real(path, plan, rotation)):
            if n == 3:
                raise sparse.Unplanned("test")
            yield item

    whole = sampled(clips["long"], 2, every_frame=True)
    monkeypatch.setattr(sparse, "decode", gives_up)
    assert sampled(clips["long"], 2, every_frame=False) == whole


@pytest.mark.slow
@pytest.mark.usefixtures("shared_videos_dir")
@pytest.mark.parametrize("fps", [1, 5])
def test_the_sample_videos_decode_the_same_sparse(fps, caplog):
    names = sorted(p.name for p in VIDEOS.glob("*.mp4"))
    assert len(names) == 7
    for name in names:
        every = sampled(VIDEOS / name, fps, every_frame=True)
        assert planned(VIDEOS / name, fps) is not None, name
        assert sampled(VIDEOS / name, fps, every_frame=False) == every, name
    assert "decoding them all" not in caplog.text  # and the sparse decoder never gave up
