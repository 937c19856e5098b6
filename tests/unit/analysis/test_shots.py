"""Shot boundaries and black frames on synthetic frame sequences: cuts at the frame, a
dissolve at its middle, black runs with Rekognition's thresholds, and a finder restored from
its state anywhere gives what one pass gives."""

import json

import cv2
import numpy as np
import pytest

from chalicelib.analysis.shots import BlackFrameFilter, ShotFinder, confidence
from chalicelib.errors import DamagedCheckpoint

FPS = 25.0
W, H = 256, 144


def scene(seed: int, frames: int):
    """A picture of smooth patches of its own colours, panning one pixel a frame."""
    rng = np.random.default_rng(seed)
    hsv = np.stack([
        (seed * 47 + rng.integers(0, 20, (4, 6))) % 180,  # the scene's own hues
        rng.integers(80, 256, (4, 6)), rng.integers(60, 256, (4, 6)),
    ], axis=-1).astype(np.uint8)  # fmt: skip
    base = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    big = cv2.resize(base, (W + frames, H), interpolation=cv2.INTER_LINEAR)
    return [np.ascontiguousarray(big[:, i : i + W]) for i in range(frames)]


def black(frames: int, level: int = 0):
    return [np.full((H, W, 3), level, np.uint8) for _ in range(frames)]


def dissolve(a, b):
    steps = len(a)
    return [
        np.round(x * (1 - (i + 1) / (steps + 1)) + y * ((i + 1) / (steps + 1))).astype(np.uint8)
        for i, (x, y) in enumerate(zip(a, b, strict=True))
    ]


def run(frames, finder=None, start=0):
    finder = finder or ShotFinder(FPS, BlackFrameFilter())
    for index in range(start, len(frames)):
        finder.add(index, round(index * 1000 / FPS), frames[index])
    return finder


def results(finder, frames):
    finder.finish()
    end_ms = round(len(frames) * 1000 / FPS)
    return finder.shots(end_ms, len(frames)), finder.cues(end_ms, len(frames))


def test_hard_cuts_are_found_at_their_frame_and_a_pan_is_no_cut():
    frames = scene(1, 40) + scene(2, 30) + scene(3, 30)
    shots, cues = results(run(frames), frames)
    assert [(s["start_frame"], s["end_frame"]) for s in shots] == [(0, 39), (40, 69), (70, 99)]
    assert [s["start_ms"] for s in shots] == [0, 1600, 2800]
    assert [s["end_ms"] for s in shots] == [1600, 2800, 4000]  # shots tile the video
    assert all(s["confidence"] >= 0.5 for s in shots)
    assert cues == [{"type": "Content", "start_frame": 0, "end_frame": 99, "start_ms": 0,
                     "end_ms": 4000, "confidence": 1.0}]  # fmt: skip


def test_a_one_second_dissolve_is_one_boundary_near_its_middle():
    a, b = scene(4, 60), scene(5, 60)
    frames = a[:35] + dissolve(a[35:60], b[:25]) + b[25:]
    shots, _ = results(run(frames), frames)
    assert len(shots) == 2
    assert abs(shots[1]["start_frame"] - (35 + 12)) <= 3
    assert 0.5 <= shots[1]["confidence"] <= 1.0


def test_black_runs_follow_rekognitions_thresholds():
    frames = scene(6, 30) + black(20, level=40) + scene(7, 30)
    finder = run(frames)
    _, cues = results(finder, frames)
    # luma 40 is 0.157 of the range: black at the default MaxPixelThreshold 0.2
    assert [(c["type"], c["start_frame"], c["end_frame"]) for c in cues] == [
        ("Content", 0, 29), ("BlackFrames", 30, 49), ("Content", 50, 79)]  # fmt: skip
    assert cues[1]["start_ms"] == 1200 and cues[1]["end_ms"] == 2000
    strict = run(frames, ShotFinder(FPS, BlackFrameFilter(max_pixel_threshold=0.1)))
    assert [c["type"] for c in results(strict, frames)[1]] == ["Content"]


def test_coverage_counts_the_share_of_black_pixels():
    grey = np.zeros((100, 100), np.uint8)
    grey[:2, :] = 200  # 2% bright: 98% black
    assert not BlackFrameFilter().is_black(grey)
    assert BlackFrameFilter(min_coverage_percentage=98).is_black(grey)


def test_a_video_ending_in_black_ends_with_its_black_run():
    frames = scene(8, 30) + black(10)
    _, cues = results(run(frames), frames)
    assert cues[-1] == {"type": "BlackFrames", "start_frame": 30, "end_frame": 39,
                        "start_ms": 1200, "end_ms": 1600, "confidence": 1.0}  # fmt: skip


def test_confidence_grows_with_the_change():
    a, b = scene(9, 1)[0], scene(10, 1)[0]
    assert confidence(a, a) == 0.5
    assert confidence(a, 255 - a) == 1.0
    assert 0.5 < confidence(a, b) < 1.0
    assert confidence(a, np.clip(a.astype(int) + 30, 0, 255).astype(np.uint8)) < 1.0


@pytest.mark.parametrize("stop_at", [1, 5, 39, 40, 41, 42, 47, 50, 64, 90])
def test_a_finder_restored_from_its_state_anywhere_gives_one_passs_results(stop_at):
    a, b = scene(11, 70), scene(12, 70)
    frames = a[:40] + scene(13, 10) + a[40:50] + dissolve(a[50:70], b[:20]) + b[20:] + black(8)
    whole = results(run(frames), frames)
    first = run(frames[:stop_at])
    state = json.loads(json.dumps(first.state()))
    restored = run(frames, ShotFinder(FPS, BlackFrameFilter(), state), start=stop_at)
    assert results(restored, frames) == whole


@pytest.mark.parametrize(
    "state", [{"cuts": []}, {"cuts": "x", "dissolves": [], "run": None, "black_runs": [],
                             "tail": []}, {"cuts": [], "dissolves": [], "run": None,
                                           "black_runs": [], "tail": [[0, 0, "bm90IGEgcG5n"]]},
              {"cuts": [[1, 2, True]], "dissolves": [], "run": None, "black_runs": [], "tail": []}],
)  # fmt: skip
def test_a_state_that_is_not_one_is_a_damaged_checkpoint(state):
    with pytest.raises(DamagedCheckpoint):
        ShotFinder(FPS, BlackFrameFilter(), state)
