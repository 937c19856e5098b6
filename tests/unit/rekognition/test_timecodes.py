"""Frame numbers as milliseconds and SMPTE timecodes: non-drop-frame at whole rates, drop-frame
at 29.97 and 59.94, checked against known labels and against a counter that skips labels the
way a drop-frame clock does."""

from __future__ import annotations

from fractions import Fraction

import pytest

from chalicelib.rekognition.timecodes import FrameClock


def counted_labels(nominal: int, drop: int, frames: int):
    """The label of each frame from 0 on, by ticking a clock one frame at a time and skipping
    the labels ;00 .. ;drop-1 at each new minute but every tenth (an independent reference)."""
    hours = minutes = seconds = frame = 0
    for _ in range(frames):
        yield f"{hours:02d}:{minutes:02d}:{seconds:02d}{';' if drop else ':'}{frame:02d}"
        frame += 1
        if frame == nominal:
            frame, seconds = 0, seconds + 1
            if seconds == 60:
                seconds, minutes = 0, minutes + 1
                if minutes == 60:
                    minutes, hours = 0, hours + 1
                if minutes % 10:
                    frame = drop


@pytest.mark.parametrize(
    ("fps", "frame", "label"),
    [
        (29.97, 0, "00:00:00;00"),
        (29.97, 1799, "00:00:59;29"),
        (29.97, 1800, "00:01:00;02"),  # ;00 and ;01 of minute 1 are skipped
        (29.97, 3597, "00:01:59;29"),
        (29.97, 3598, "00:02:00;02"),
        (29.97, 17981, "00:09:59;29"),
        (29.97, 17982, "00:10:00;00"),  # minute 10 keeps its labels
        (29.97, 17982 + 1800, "00:11:00;02"),
        (29.97, 107892, "01:00:00;00"),  # one hour is 107892 frames at 29.97
        (59.94, 3599, "00:00:59;59"),
        (59.94, 3600, "00:01:00;04"),  # four labels a minute at 59.94
        (59.94, 35964, "00:10:00;00"),
        (25.0, 83, "00:00:03:08"),
        (25.0, 90000, "01:00:00:00"),
        (24.0, 2920, "00:02:01:16"),
        (23.976, 2920, "00:02:01:16"),  # 23.976 counts 24 labels a second, no drop
        (30.0, 1800, "00:01:00:00"),  # true 30 frames/s: non-drop
    ],
)
def test_known_timecodes(fps, frame, label):
    assert FrameClock.of(fps).smpte(frame) == label


@pytest.mark.parametrize(("fps", "frames"), [(29.97, 130_000), (59.94, 80_000), (25.0, 100_000)])
def test_every_label_matches_a_counting_clock(fps, frames):
    clock = FrameClock.of(fps)
    checked = 0
    for number, label in enumerate(counted_labels(clock.nominal, clock.drop, frames)):
        assert clock.smpte(number) == label, number
        checked += 1
    assert checked == frames


@pytest.mark.parametrize(
    ("fps", "rate", "drop"),
    [
        (29.97, Fraction(30000, 1001), 2),
        (59.94, Fraction(60000, 1001), 4),
        (23.976, Fraction(24000, 1001), 0),
        (25.0, Fraction(25), 0),
        (12.5, Fraction(25, 2), 0),
        (30.0, Fraction(30), 0),
    ],
)
def test_ntsc_rates_are_exact_and_only_29_97_and_59_94_drop(fps, rate, drop):
    clock = FrameClock.of(fps)
    assert (clock.rate, clock.drop) == (rate, drop)


def test_milliseconds_are_rounded_down_from_the_exact_rate():
    ntsc = FrameClock.of(29.97)
    assert [ntsc.millis(n) for n in (0, 1, 299, 449)] == [0, 33, 9976, 14981]
    # five hours in, at the exact rate (29.97 itself would say 18_018_018, 18 ms late)
    assert ntsc.millis(540_000) == 18_018_000
    assert FrameClock.of(25.0).millis(83) == 3320
    assert FrameClock.of(12.5).millis(3) == 240


def test_odd_rates_give_a_frame_field_wide_enough():
    assert FrameClock.of(0.4).smpte(5) == "00:00:05:00"  # at least one label a second
    assert FrameClock.of(120.0).smpte(121) == "00:00:01:001"  # labels 000 to 119
