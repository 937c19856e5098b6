"""Request validation against botocore's model of the service: what botocore leaves to the
server."""

from __future__ import annotations

import pytest

from app import answer_of
from chalicelib.errors import VideoJobsError
from chalicelib.rekognition import model

VIDEO = {"S3Object": {"Bucket": "my-videos", "Name": "clip.mp4"}}
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
        ("StartSegmentDetection", {"Video": VIDEO}, "needs SegmentTypes"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": []}, "at least 1 items"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": "SHOT"}, "must be a list"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["SHOTS"]},
         "TECHNICAL_CUE, SHOT"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": [1]}, "must be a string"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["SHOT"],
         "Filters": {"ShotFilter": {"MinSegmentConfidence": 49.9}}}, "from 50 to 100"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["SHOT"],
         "Filters": {"TechnicalCueFilter": {"MinSegmentConfidence": 101}}}, "from 50 to 100"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["TECHNICAL_CUE"],
         "Filters": {"TechnicalCueFilter": {"BlackFrame": {"MaxPixelThreshold": 1.5}}}},
         "from 0 to 1"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["TECHNICAL_CUE"],
         "Filters": {"TechnicalCueFilter": {"BlackFrame": {"MinCoveragePercentage": -1}}}},
         "from 0 to 100"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["TECHNICAL_CUE"],
         "Filters": {"TechnicalCueFilter": {"BlackFrame": {"MaxPixelThreshold": "0.1"}}}},
         "must be a number"),
        ("StartSegmentDetection", {"Video": VIDEO, "SegmentTypes": ["SHOT"],
         "Filters": {"WordFilter": {}}}, "unknown member"),
        ("GetSegmentDetection", {"JobId": JOB, "MaxResults": 0}, "at least 1"),
        ("GetSegmentDetection", {"JobId": JOB, "SortBy": "TIMESTAMP"}, "unknown member"),
        ("GetSegmentDetection", {"JobId": JOB, "NextToken": 5}, "must be a string"),
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


def _kinds(shape, seen: set[str]) -> set[str]:
    if shape.name in seen:
        return set()
    seen.add(shape.name)
    kinds = {shape.type_name}
    if shape.type_name == "structure":
        for member in shape.members.values():
            kinds |= _kinds(member, seen)
    elif shape.type_name == "list":
        kinds |= _kinds(shape.member, seen)
    return kinds


def test_every_shape_kind_in_the_operations_inputs_is_checked():
    """``_check`` refuses a kind it does not know: every kind the offered operations' inputs
    use must be one it checks."""
    kinds: set[str] = set()
    for operation in model.OPERATIONS:
        kinds |= _kinds(model.service_model().operation_model(operation).input_shape, set())
    assert kinds <= {"structure", "list", "string", *model._NUMBERS}
    assert {"structure", "list", "string", "float", "integer"} <= kinds


def test_a_complete_valid_segment_request_passes():
    params = {
        "Video": VIDEO,
        "SegmentTypes": ["TECHNICAL_CUE", "SHOT"],
        "Filters": {
            "TechnicalCueFilter": {
                "MinSegmentConfidence": 90,
                "BlackFrame": {"MaxPixelThreshold": 0.1, "MinCoveragePercentage": 95},
            },
            "ShotFilter": {"MinSegmentConfidence": 60.5},
        },
        "ClientRequestToken": "seg-1",
        "JobTag": "cuts",
    }
    assert model.validate("StartSegmentDetection", params) is params
