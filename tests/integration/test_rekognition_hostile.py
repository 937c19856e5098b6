"""Garbage at ``POST /`` (in-process: chalice.test.Client on moto) gets a Rekognition-shaped 400,
never a 500; and the error codes the API can answer are exactly those docs/openapi.yaml lists."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from app import ERRORS, INTERNAL

TARGET = "RekognitionService."
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "Authorization": "AWS4-HMAC-SHA256 x"}


def post(client, target: str | None, body: bytes, headers: dict | None = None):
    headers = {**HEADERS, **(headers or {})}
    if target is not None:
        headers["X-Amz-Target"] = target
    return client.http.post("/", body=body, headers=headers)


GARBAGE = [
    (None, b"{}"),
    ("RekognitionService.DetectFaces", b"{}"),
    ("Rekognition.GetLabelDetection", b"{}"),
    (TARGET + "GetLabelDetection", b""),
    (TARGET + "GetLabelDetection", b"\x00\xff\xfe"),
    (TARGET + "GetLabelDetection", b"[1, 2]"),
    (TARGET + "GetLabelDetection", b'{"JobId": null}'),
    (TARGET + "GetLabelDetection", b'{"JobId": "x", "MaxResults": 1e999}'),
    (TARGET + "GetLabelDetection", b'{"JobId": "abc"}'),
    (TARGET + "GetLabelDetection", json.dumps({"JobId": str(uuid.uuid4())}).encode()),
    (TARGET + "GetLabelDetection", b'{"JobId": "abc", "NextToken": "\\u0000"}'),
    (TARGET + "GetTextDetection", b'{"JobId": "' + b"a" * 64 + b'"}'),
    (TARGET + "StartLabelDetection", b'{"Video": {"S3Object": {"Bucket": "...", "Name": "k"}}}'),
    (TARGET + "StartLabelDetection", b'{"Video": {"S3Object": {"Bucket": "abc"}}}'),
    (TARGET + "StartLabelDetection",
     b'{"Video": {"S3Object": {"Bucket": "video-jobs-media", "Name": "k", "Version": "v"}}}'),
    (TARGET + "StartLabelDetection", b'{"Video": {"S3Object": {"Bucket": "nope", "Name": "k"}}}'),
    (TARGET + "StartTextDetection",
     b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, '
     b'"Filters": {"RegionsOfInterest": [{"Polygon": [{"X": 1}]}]}}'),
    (TARGET + "StartTextDetection", b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, '
     b'"Filters": {"RegionsOfInterest": [{}]}}'),
    (TARGET + "StartTextDetection", b"{" * 100_000),
    (TARGET + "StartSegmentDetection", b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}}'),
    (TARGET + "StartSegmentDetection",
     b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, "SegmentTypes": ["SHOT", "SHOT"]}'),
    (TARGET + "StartSegmentDetection",
     b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, "SegmentTypes": ["COLOR_BARS"]}'),
    (TARGET + "StartSegmentDetection",
     b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, "SegmentTypes": ["SHOT"], '
     b'"Filters": {"TechnicalCueFilter": {"BlackFrame": {"MaxPixelThreshold": 1e999}}}}'),
    (TARGET + "StartSegmentDetection",
     b'{"Video": {"S3Object": {"Bucket": "abc", "Name": "k"}}, "SegmentTypes": ["SHOT"], '
     b'"Filters": {"ShotFilter": {"MinSegmentConfidence": -5}}}'),
    (TARGET + "StartSegmentDetection",
     b'{"Video": {"S3Object": {"Bucket": "nope", "Name": "k"}}, "SegmentTypes": ["SHOT"]}'),
    (TARGET + "GetSegmentDetection", b'{"JobId": "abc", "MaxResults": -1}'),
    (TARGET + "GetSegmentDetection", json.dumps({"JobId": str(uuid.uuid4())}).encode()),
    (TARGET + "GetSegmentDetection", b'{"JobId": "abc", "NextToken": "\\u0000"}'),
]  # fmt: skip


@pytest.mark.parametrize(("target", "body"), GARBAGE)
def test_garbage_gets_a_rekognition_400(client, target, body):
    response = post(client, target, body)
    assert response.status_code == 400, response.body
    answer = json.loads(response.body)
    assert set(answer) == {"__type", "message"} and answer["message"]
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"


def test_an_unsigned_request_is_denied(client):
    body = json.dumps({"JobId": str(uuid.uuid4())}).encode()
    response = post(client, TARGET + "GetTextDetection", body, {"Authorization": ""})
    assert json.loads(response.body)["__type"] == "AccessDeniedException"


def test_a_dependency_failure_is_an_internal_server_error(aws, client, monkeypatch):
    def unavailable(*args, **kwargs):
        raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(aws.jobs, "get", unavailable)
    body = json.dumps({"JobId": str(uuid.uuid4())}).encode()
    response = post(client, TARGET + "GetTextDetection", body)
    assert response.status_code == 500
    assert json.loads(response.body) == {
        "__type": "InternalServerError",
        "message": "internal error; nothing was changed, try again later",
    }


def test_documented_error_codes_are_exactly_the_ones_answered():
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    documented = spec["components"]["schemas"]["RekognitionError"]["properties"]["__type"]["enum"]
    codes = {answer.aws_type for answer in ERRORS.values()} | {INTERNAL.aws_type}
    assert set(documented) == codes and len(codes) == 14  # 10 + the four SigV4 refusals


def test_a_topic_that_does_not_exist_is_logged_and_the_job_keeps_its_outcome(aws, caplog):
    from chalicelib.jobs.record import COMPLETED
    from chalicelib.notices.publisher import SnsPublisher
    from chalicelib.rekognition.notices import publish_notice
    from tests.support.jobs import new_job

    channel = {
        "SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:gone",
        "RoleArn": "arn:aws:iam::123456789012:role/r",
    }
    request = {
        "Operation": "StartTextDetection",
        "Video": {"S3Object": {"Bucket": "b", "Name": "k"}},
        "NotificationChannel": channel,
    }
    job_id = new_job(aws.jobs).job_id
    aws.jobs.claim(job_id, "worker-1", lease_s=60)
    job = aws.jobs.update_status(job_id, COMPLETED, output_path="x")
    publish_notice(
        replace(job, options={"rekognition": request}), lambda: SnsPublisher(aws.sns)
    )  # moto's SNS
    assert "could not publish the notice of job " + job_id in caplog.text
    assert aws.jobs.get(job_id).status == COMPLETED


def test_start_never_reads_from_our_own_bucket(aws, client):
    """Other tenants' videos are there: a Start* naming one must not copy it under a new job."""
    from tests.support.jobs import new_job

    stored = new_job(aws.jobs, storage=aws.storage).input_path
    video = {"S3Object": {"Bucket": aws.storage.bucket, "Name": stored}}
    response = post(client, TARGET + "StartLabelDetection", json.dumps({"Video": video}).encode())
    answer = json.loads(response.body)
    assert response.status_code == 400 and answer["__type"] == "InvalidS3ObjectException"
    assert "own bucket" in answer["message"]
