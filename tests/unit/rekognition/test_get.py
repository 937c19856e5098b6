"""Stored results rendered into Rekognition's shapes (labels, segments, text detections),
checked against botocore's output shapes."""

from __future__ import annotations

import pytest

from app import answer_of
from chalicelib.errors import VideoJobsError
from chalicelib.rekognition import label_results, model, text_results
from chalicelib.rekognition.get import video_metadata
from tests.support.rekognition_shapes import count_members, output_shape, problems


def refused(operation: str, params: dict) -> VideoJobsError:
    with pytest.raises(VideoJobsError) as caught:
        model.validate(operation, params)
    assert answer_of(caught.value).aws_type == "InvalidParameterException"
    return caught.value


# --- rendering stored results --------------------------------------------------------------------


def _object(label: str, confidence: float, x: float = 0.1) -> dict:
    box = {"x": x, "y": 0.2, "w": 0.3, "h": 0.4}
    return {"label": label, "class_id": 0, "confidence": confidence, "box": box}


FRAMES = [
    {"timestamp_ms": 0, "objects": [_object("dog", 0.9), _object("dog", 0.6, 0.5)], "text": []},
    {"timestamp_ms": 1000, "objects": [_object("dog", 0.4), _object("person", 0.8)], "text": []},
    {"timestamp_ms": 2000, "objects": [_object("dog", 0.7), _object("person", 0.55)], "text": []},
]


def test_an_object_is_named_by_its_tracks_label():
    """The detector called the ball a frisbee on one frame; its track, over its life, a ball."""
    ball = {**_object("frisbee", 0.9), "track_id": 3}
    frames = [{"timestamp_ms": 0, "objects": [ball], "text": []}]
    tracks = [{"track_id": 3, "label": "sports ball"}]
    entries = label_results.by_timestamp(frames, label_results.LabelFilter({}), tracks)
    assert [e["Label"]["Name"] for e in entries] == ["Ball"]
    assert (
        label_results.by_timestamp(frames, label_results.LabelFilter({}))[0]["Label"]["Name"]
        == "Frisbee"
    )  # documents without tracks: the frame's own label


def test_labels_group_instances_per_frame_in_percent():
    entries = label_results.by_timestamp(FRAMES, label_results.LabelFilter({}))
    assert [(e["Timestamp"], e["Label"]["Name"]) for e in entries] == [
        (0, "Dog"), (1000, "Person"), (2000, "Dog"), (2000, "Person"),
    ]  # fmt: skip
    first = entries[0]["Label"]
    assert first["Confidence"] == 90.0 and [i["Confidence"] for i in first["Instances"]] == [
        90.0,
        60.0,
    ]
    box = first["Instances"][0]["BoundingBox"]
    assert box == {"Width": 0.3, "Height": 0.4, "Left": 0.1, "Top": 0.2}
    assert first["Parents"] == [{"Name": "Animal"}]


def test_label_filters_apply_at_get_time():
    def names(request: dict) -> set:
        entries = label_results.by_timestamp(FRAMES, label_results.LabelFilter(request))
        return {(e["Timestamp"], e["Label"]["Name"]) for e in entries}

    assert names({"MinConfidence": 75}) == {(0, "Dog"), (1000, "Person")}
    general = {"GeneralLabels": {"LabelExclusionFilters": ["dog"]}}
    assert names({"Settings": general}) == {(1000, "Person"), (2000, "Person")}
    general = {"GeneralLabels": {"LabelCategoryInclusionFilters": ["Animals and Pets"]}}
    assert names({"Settings": general}) == {(0, "Dog"), (2000, "Dog")}


def test_segments_from_frames_are_runs_of_consecutive_samples():
    results = {"frames": FRAMES}
    entries = label_results.segments(results, label_results.LabelFilter({}))
    spans = sorted(
        (e["Label"]["Name"], e["StartTimestampMillis"], e["EndTimestampMillis"]) for e in entries
    )
    assert spans == [("Dog", 0, 0), ("Dog", 2000, 2000), ("Person", 1000, 2000)]
    person = next(e for e in entries if e["Label"]["Name"] == "Person")
    assert person["DurationMillis"] == 1000 and person["Label"]["Confidence"] == 80.0
    assert "Instances" not in person["Label"]


def test_stored_segments_are_used_when_the_document_has_them():
    stored = [{"label": "car", "start_ms": 0, "end_ms": 5000, "frames": 6, "max_confidence": 0.9}]
    results = {"frames": FRAMES, "segments": {"objects": stored, "text": []}}
    entries = label_results.segments(results, label_results.LabelFilter({}))
    assert [(e["Label"]["Name"], e["DurationMillis"]) for e in entries] == [("Car", 5000)]


def test_sorting_by_name_then_time():
    entries = label_results.by_timestamp(FRAMES, label_results.LabelFilter({}))
    ordered = label_results.sort_labels(entries, "NAME")
    assert [(e["Label"]["Name"], e["Timestamp"]) for e in ordered] == [
        ("Dog", 0), ("Dog", 2000), ("Person", 1000), ("Person", 2000),
    ]  # fmt: skip


LINE = {
    "text": "SALE 50%",
    "confidence": 0.95,
    "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.2], [0.1, 0.2]],
}


def test_words_split_a_line_along_its_polygon():
    sale, fifty = text_results.split_words(LINE)
    assert (sale["text"], fifty["text"]) == ("SALE", "50%")
    assert sale["polygon"][0] == [0.1, 0.1] and sale["polygon"][1] == [0.5, 0.1]
    assert fifty["polygon"][1] == [0.9, 0.1] and fifty["polygon"][2] == [0.9, 0.2]
    assert text_results.split_words({**LINE, "text": "SALE"}) == [{**LINE, "text": "SALE"}]


def test_text_lines_and_words_with_ids_and_parent_ids():
    frames = [{"timestamp_ms": 500, "objects": [], "text": [LINE]}]
    entries = text_results.text_entries(frames, text_results.WordFilter({}))
    shown = [
        (e["TextDetection"]["Type"], e["TextDetection"]["Id"], e["TextDetection"].get("ParentId"))
        for e in entries
    ]
    assert shown == [("LINE", 0, None), ("WORD", 1, 0), ("WORD", 2, 0)]
    geometry = entries[1]["TextDetection"]["Geometry"]
    assert geometry["BoundingBox"] == {"Width": 0.4, "Height": 0.1, "Left": 0.1, "Top": 0.1}
    assert geometry["Polygon"][0] == {"X": 0.1, "Y": 0.1}


def test_word_filter_and_regions_of_interest():
    frames = [{"timestamp_ms": 0, "objects": [], "text": [LINE]}]

    def words(filters: dict) -> list[str]:
        accept = text_results.WordFilter({"Filters": filters})
        entries = text_results.text_entries(frames, accept)
        return [e["TextDetection"]["DetectedText"] for e in entries]

    assert words({"WordFilter": {"MinConfidence": 96}}) == []
    assert words({"WordFilter": {"MinBoundingBoxWidth": 0.39}}) == ["SALE 50%", "SALE"]
    left_box = {"BoundingBox": {"Left": 0, "Top": 0, "Width": 0.5, "Height": 1}}
    assert words({"RegionsOfInterest": [left_box]}) == ["SALE 50%", "SALE"]
    right = [{"X": 0.5, "Y": 0}, {"X": 1, "Y": 0}, {"X": 1, "Y": 1}, {"X": 0.5, "Y": 1}]
    assert words({"RegionsOfInterest": [{"Polygon": right}]}) == ["SALE 50%", "50%"]


def test_rendered_members_all_exist_in_botocore_output_shapes():
    labels = label_results.by_timestamp(FRAMES, label_results.LabelFilter({}))
    segments = label_results.segments({"frames": FRAMES}, label_results.LabelFilter({}))
    text_frames = [{"timestamp_ms": 0, "objects": [], "text": [LINE]}]
    text = text_results.text_entries(text_frames, text_results.WordFilter({}))
    metadata = video_metadata(
        {"codec": "h264", "duration_ms": 2000, "fps": 10.0, "width": 320, "height": 240}
    )
    for operation, answer in [
        ("GetLabelDetection", {"Labels": labels + segments, "VideoMetadata": metadata}),
        ("GetTextDetection", {"TextDetections": text, "VideoMetadata": metadata}),
    ]:
        assert problems(output_shape(operation), answer) == []
        assert count_members(answer) > 20
    assert problems(output_shape("GetTextDetection"), {"TextDetections": [{"Text": "x"}]})
