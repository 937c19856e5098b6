"""The Rekognition-compatible API's parts, without a stack: validation against botocore's model,
pagination tokens, label names, and the rendering of stored results into Rekognition's shapes."""

from __future__ import annotations

import pytest

from app import answer_of
from chalicelib.errors import VideoJobsError
from chalicelib.rekognition import label_results, model, text_results, tokens
from chalicelib.rekognition.get import video_metadata
from chalicelib.rekognition.labels import LABELS, label_info
from tests.support.rekognition_shapes import count_members, output_shape, problems

VIDEO = {"S3Object": {"Bucket": "my-videos", "Name": "clip.mp4"}}
KEY = b"test-key"
JOB = "0b0e8f5e-3c59-4f3a-9d0b-5a1f6f3f0c11"


def refused(operation: str, params: dict) -> VideoJobsError:
    with pytest.raises(VideoJobsError) as caught:
        model.validate(operation, params)
    assert answer_of(caught.value).aws_type == "InvalidParameterException"
    return caught.value


# --- validation: what botocore leaves to the server ----------------------------------------------


def test_a_complete_valid_request_passes():
    params = {
        "Video": {"S3Object": {**VIDEO["S3Object"], "Version": "3"}},
        "ClientRequestToken": "abc-123_x",
        "MinConfidence": 70,
        "NotificationChannel": {
            "SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:done",
            "RoleArn": "arn:aws:iam::123456789012:role/rekognition",
        },
        "JobTag": "batch-7",
        "Features": ["GENERAL_LABELS"],
        "Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Dog", "Person"]}},
    }
    assert model.validate("StartLabelDetection", params) is params


@pytest.mark.parametrize(
    ("operation", "params", "words"),
    [
        ("StartLabelDetection", {"Video": VIDEO, "MinConfidence": 100.5}, "from 0 to 100"),
        ("StartLabelDetection", {"Video": VIDEO, "MinConfidence": True}, "number"),
        ("StartLabelDetection", {"Video": VIDEO, "MinConfidence": 10**400}, "from 0 to 100"),
        ("StartLabelDetection", {"Video": VIDEO, "JobTag": "a b"}, "pattern"),
        ("StartLabelDetection", {"Video": VIDEO, "JobTag": "x" * 1025}, "at most 1024"),
        ("StartLabelDetection", {"Video": VIDEO, "ClientRequestToken": "t" * 65}, "at most 64"),
        ("StartLabelDetection", {"Video": VIDEO, "Features": ["FACES"]}, "GENERAL_LABELS"),
        ("StartLabelDetection", {"Video": VIDEO, "Colour": 1}, "unknown member"),
        ("StartLabelDetection", {}, "needs Video"),
        ("StartLabelDetection", {"Video": {"S3Object": {"Bucket": "a/b", "Name": "k"}}},
         "pattern"),
        ("StartLabelDetection",
         {"Video": VIDEO, "NotificationChannel": {"SNSTopicArn": "topic", "RoleArn": "r"}},
         "pattern"),
        ("StartTextDetection",
         {"Video": VIDEO, "Filters": {"WordFilter": {"MinBoundingBoxHeight": 2}}}, "from 0 to 1"),
        ("StartTextDetection",
         {"Video": VIDEO, "Filters": {"RegionsOfInterest": [{}] * 11}}, "at most 10"),
        ("GetLabelDetection", {"JobId": JOB, "SortBy": "SIZE"}, "NAME, TIMESTAMP"),
        ("GetLabelDetection", {"JobId": JOB, "AggregateBy": "FRAMES"}, "SEGMENTS"),
        ("GetLabelDetection", {"JobId": JOB, "MaxResults": 0}, "at least 1"),
        ("GetLabelDetection", {"JobId": JOB, "MaxResults": 2.5}, "whole number"),
        ("GetTextDetection", {"JobId": JOB, "NextToken": "n" * 256}, "at most 255"),
        ("GetTextDetection", {"JobId": "../etc"}, "pattern"),
        ("GetTextDetection", {"JobId": JOB, "SortBy": "NAME"}, "unknown member"),
    ],
)  # fmt: skip
def test_the_server_enforces_maximums_patterns_and_enums(operation, params, words):
    assert words in refused(operation, params).message


@pytest.mark.parametrize("raw", [b"[]", b"nope", b'{"MinConfidence": NaN}', b"\xff", b"[" * 5000])
def test_a_body_that_is_not_a_json_object_is_refused(raw):
    with pytest.raises(VideoJobsError) as caught:
        model.parse_body(raw)
    assert answer_of(caught.value).aws_type == "InvalidParameterException"


def test_an_empty_body_is_an_empty_request():
    assert model.parse_body(b"") == {}


# --- pagination tokens ---------------------------------------------------------------------------


def test_a_token_reads_back_its_offset_and_nothing_else_passes():
    token = tokens.issue(KEY, JOB, "view", 30)
    assert tokens.read(KEY, JOB, "view", token) == 30
    assert tokens.read(KEY, JOB, "view", "") == 0 and tokens.read(KEY, JOB, "view", None) == 0
    other_job = "1b0e8f5e-3c59-4f3a-9d0b-5a1f6f3f0c11"
    forged = tokens.issue(b"another key", JOB, "view", 30)
    edited = tokens.issue(KEY, JOB, "view", 30).replace(token[:2], "MT")  # offset 1x
    for job_id, view, candidate in [
        (other_job, "view", token),  # another job's
        (JOB, "other view", token),  # another sort order's
        (JOB, "view", forged),
        (JOB, "view", edited),
        (JOB, "view", "not base64 !!"),
        (JOB, "view", "LTEuYWJj"),  # "-1.abc"
    ]:
        with pytest.raises(VideoJobsError) as caught:
            tokens.read(KEY, job_id, view, candidate)
        assert answer_of(caught.value).aws_type == "InvalidPaginationTokenException"
    assert len(tokens.issue(KEY, JOB, "view", 10**8)) <= 255


# --- label names ---------------------------------------------------------------------------------


def test_every_coco_class_has_a_rekognition_name(model_path):
    names_path = model_path.parent / "coco.names"
    classes = [line.strip() for line in names_path.read_text().splitlines() if line.strip()]
    assert len(classes) == 80
    assert set(classes) <= set(LABELS)
    spelled = {name: label_info(name).name for name in classes}
    assert spelled["motorbike"] == "Motorcycle" and spelled["aeroplane"] == "Airplane"
    assert spelled["sofa"] == "Couch" and spelled["tvmonitor"] == "Tv"
    assert spelled["pottedplant"] == "Potted Plant" and spelled["person"] == "Person"
    assert label_info("car").parents == ("Vehicle", "Transportation")


def test_a_custom_class_passes_through_title_cased():
    info = label_info("fire_truck")
    assert (info.name, info.parents, info.category) == ("Fire Truck", (), None)


# --- rendering stored results --------------------------------------------------------------------


def _object(label: str, confidence: float, x: float = 0.1) -> dict:
    box = {"x": x, "y": 0.2, "w": 0.3, "h": 0.4}
    return {"label": label, "class_id": 0, "confidence": confidence, "box": box}


FRAMES = [
    {"timestamp_ms": 0, "objects": [_object("dog", 0.9), _object("dog", 0.6, 0.5)], "text": []},
    {"timestamp_ms": 1000, "objects": [_object("dog", 0.4), _object("person", 0.8)], "text": []},
    {"timestamp_ms": 2000, "objects": [_object("dog", 0.7), _object("person", 0.55)], "text": []},
]


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
