"""GetSegmentDetection's Segments from a stored shots document: frame numbers, times and
timecodes as AWS gives them, the job's SegmentTypes and MinSegmentConfidence, the order, and
every member checked against botocore's output shape."""

from __future__ import annotations

import pytest

from chalicelib.rekognition.get import video_metadata
from chalicelib.rekognition.segment_results import SegmentFilter, segment_entries, selected_types
from chalicelib.rekognition.start import analyzer_filters
from chalicelib.rekognition.timecodes import FrameClock
from tests.support.rekognition_shapes import count_members, output_shape, problems

# 25 frames/s, 300 frames: cuts at 100 (sure) and 180 (barely), black frames 150-174
SHOTS = [
    {"index": 0, "start_frame": 0, "end_frame": 99, "start_ms": 0, "end_ms": 4000,
     "confidence": 1.0},
    {"index": 1, "start_frame": 100, "end_frame": 179, "start_ms": 4000, "end_ms": 7200,
     "confidence": 0.93},
    {"index": 2, "start_frame": 180, "end_frame": 299, "start_ms": 7200, "end_ms": 12000,
     "confidence": 0.55},
]  # fmt: skip
CUES = [
    {"type": "Content", "start_frame": 0, "end_frame": 149, "start_ms": 0, "end_ms": 6000,
     "confidence": 1.0},
    {"type": "BlackFrames", "start_frame": 150, "end_frame": 174, "start_ms": 6000,
     "end_ms": 7000, "confidence": 1.0},
    {"type": "Content", "start_frame": 175, "end_frame": 299, "start_ms": 7000, "end_ms": 12000,
     "confidence": 1.0},
]  # fmt: skip
RESULTS = {"segments": {"shots": SHOTS, "technical_cues": CUES}}
CLOCK = FrameClock.of(25.0)


def entries(request: dict) -> list[dict]:
    return segment_entries(RESULTS, SegmentFilter(request), CLOCK)


def test_a_shot_in_aws_terms():
    second = entries({"SegmentTypes": ["SHOT"]})[1]
    assert second == {
        "Type": "SHOT",
        "StartTimestampMillis": 4000,
        "EndTimestampMillis": 7160,  # its last frame, 179, not the next shot's start
        "DurationMillis": 3160,
        "StartTimecodeSMPTE": "00:00:04:00",
        "EndTimecodeSMPTE": "00:00:07:04",
        "DurationSMPTE": "00:00:03:04",
        "StartFrameNumber": 100,
        "EndFrameNumber": 179,
        "DurationFrames": 79,
        "ShotSegment": {"Index": 1, "Confidence": 93.0},
    }


def test_a_black_frames_cue_in_aws_terms():
    black = [e for e in entries({"SegmentTypes": ["TECHNICAL_CUE"]})
             if e["TechnicalCueSegment"]["Type"] == "BlackFrames"]  # fmt: skip
    assert [
        (e["StartFrameNumber"], e["EndFrameNumber"], e["StartTimecodeSMPTE"]) for e in black
    ] == [(150, 174, "00:00:06:00")]
    assert black[0]["TechnicalCueSegment"] == {"Type": "BlackFrames", "Confidence": 100.0}
    assert "ShotSegment" not in black[0]


def test_only_the_requested_types_in_their_order_then_by_time():
    both = entries({"SegmentTypes": ["TECHNICAL_CUE", "SHOT"]})
    assert [(e["Type"], e["StartFrameNumber"]) for e in both] == [
        ("TECHNICAL_CUE", 0), ("TECHNICAL_CUE", 150), ("TECHNICAL_CUE", 175),
        ("SHOT", 0), ("SHOT", 100), ("SHOT", 180),
    ]  # fmt: skip
    reverse = entries({"SegmentTypes": ["SHOT", "TECHNICAL_CUE"]})
    assert [e["Type"] for e in reverse] == ["SHOT"] * 3 + ["TECHNICAL_CUE"] * 3
    assert {e["Type"] for e in entries({"SegmentTypes": ["SHOT"]})} == {"SHOT"}


def test_min_segment_confidence_per_type():
    request = {
        "SegmentTypes": ["SHOT", "TECHNICAL_CUE"],
        "Filters": {"ShotFilter": {"MinSegmentConfidence": 93}},
    }
    kept = entries(request)
    assert [e["ShotSegment"]["Index"] for e in kept if e["Type"] == "SHOT"] == [0, 1]
    assert len([e for e in kept if e["Type"] == "TECHNICAL_CUE"]) == 3  # its own floor: 50
    assert len(entries({"SegmentTypes": ["SHOT"]})) == 3  # the default floor, 50, keeps 55
    strict = {"SegmentTypes": ["SHOT"], "Filters": {"ShotFilter": {"MinSegmentConfidence": 100}}}
    assert [e["ShotSegment"]["Index"] for e in entries(strict)] == [0]


def test_a_document_without_segments_has_none():
    accept = SegmentFilter({"SegmentTypes": ["SHOT", "TECHNICAL_CUE"]})
    assert segment_entries({"segments": {}}, accept, CLOCK) == []
    assert segment_entries({}, accept, CLOCK) == []


def test_drop_frame_timecodes_in_segments():
    shot = {"index": 0, "start_frame": 1790, "end_frame": 17982, "confidence": 1.0}
    (entry,) = segment_entries(
        {"segments": {"shots": [shot]}}, SegmentFilter({"SegmentTypes": ["SHOT"]}),
        FrameClock.of(29.97),
    )  # fmt: skip
    assert (entry["StartTimecodeSMPTE"], entry["EndTimecodeSMPTE"]) == (
        "00:00:59;20",
        "00:10:00;00",
    )
    assert entry["DurationFrames"] == 16192 and entry["DurationSMPTE"] == "00:09:00;10"
    assert entry["EndTimestampMillis"] == 599_999  # floor(17982 x 1001 / 30)


@pytest.mark.parametrize(
    ("black", "options"),
    [
        ({"MaxPixelThreshold": 0.1, "MinCoveragePercentage": 95},
         {"black_max_pixel_threshold": 0.1, "black_min_coverage_percentage": 95.0}),
        ({"MaxPixelThreshold": 0}, {"black_max_pixel_threshold": 0.0}),
        ({}, {}),
    ],
)  # fmt: skip
def test_the_black_frame_filter_goes_to_the_analyzer(black, options):
    request = {
        "Operation": "StartSegmentDetection",
        "SegmentTypes": ["TECHNICAL_CUE"],
        "Filters": {"TechnicalCueFilter": {"MinSegmentConfidence": 80, "BlackFrame": black}},
    }
    assert analyzer_filters(request) == options
    assert analyzer_filters({"Operation": "StartSegmentDetection", "SegmentTypes": ["SHOT"]}) == {}


def test_rendered_members_all_exist_in_botocore_output_shape():
    accept = SegmentFilter({"SegmentTypes": ["TECHNICAL_CUE", "SHOT"]})
    video = {"codec": "h264", "duration_ms": 12000, "fps": 25.0, "width": 640, "height": 360}
    answer = {
        "JobStatus": "SUCCEEDED",
        "Segments": segment_entries(RESULTS, accept, CLOCK),
        "SelectedSegmentTypes": selected_types(accept, "PySceneDetect"),
        "VideoMetadata": [video_metadata(video)],
        "AudioMetadata": [],
    }
    assert problems(output_shape("GetSegmentDetection"), answer) == []
    assert count_members(answer) > 80
    assert problems(output_shape("GetSegmentDetection"), {"VideoMetadata": video_metadata(video)})
