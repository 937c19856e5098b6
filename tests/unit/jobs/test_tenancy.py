"""A caller's grants: the S3 locations its Start* may analyze and the SNS topics it may name."""

from __future__ import annotations

import pytest

from chalicelib.errors import AccessDenied
from chalicelib.jobs.tenancy import PUBLIC, Caller, check_source, check_topic
from chalicelib.rekognition.start import start_job

TOPIC = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionAcme"
ACME = Caller("acme", sources=("s3://acme-videos/", "s3://shared/acme/"), topics=(TOPIC,))


@pytest.mark.parametrize(
    ("bucket", "key", "allowed"),
    [
        ("acme-videos", "any/thing.mp4", True),
        ("shared", "acme/a.mp4", True),
        ("shared", "acme-other/a.mp4", False),  # a prefix is a folder when it ends with '/'
        ("shared", "globex/a.mp4", False),
        ("shared", "acme/../globex/a.mp4", False),  # never resolved out of the prefix
        ("shared", "acme/./a.mp4", False),
        ("acme-videos-2", "a.mp4", False),
        ("other", "acme-videos/a.mp4", False),
    ],
)
def test_a_key_reads_only_inside_its_locations(bucket, key, allowed):
    assert ACME.may_read(bucket, key) is allowed


def test_callers_without_grants_read_nothing_and_public_reads_anything():
    assert not Caller("acme").may_read("acme-videos", "a.mp4")
    assert not Caller("acme").may_notify(TOPIC)
    assert PUBLIC.may_read("any", "a/../b.mp4") and PUBLIC.may_notify(TOPIC)
    assert ACME.may_notify(TOPIC) and not ACME.may_notify(TOPIC + "x")


@pytest.mark.parametrize(
    ("given", "stored"),
    [("s3://acme-videos", "s3://acme-videos/"), ("s3://a.b-c/x/y/", "s3://a.b-c/x/y/")],
)
def test_a_source_is_stored_one_way(given, stored):
    assert check_source(given) == stored


@pytest.mark.parametrize(
    "garbage",
    ["", "s3://", "s3://ab/", "s3://UPPER/", "s3://a..b/", "s3://-ab/", "http://acme/x", "acme",
     "s3://" + "a" * 64 + "/", "s3://abc/" + "x" * 1025, "s3://abc/\n"],
)  # fmt: skip
def test_a_bad_source_is_refused_with_how_to_write_one(garbage):
    with pytest.raises(ValueError, match="use s3://<bucket>/"):
        check_source(garbage)


@pytest.mark.parametrize(
    "garbage",
    ["", "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sns:us-east-1:1234:t",
     "arn:aws:sns:us-east-1:123456789012:", "arn:aws:sns:us-east-1:123456789012:é",
     "arn:aws:sns:us-east-1:123456789012:" + "t" * 257],
)  # fmt: skip
def test_a_bad_topic_is_refused(garbage):
    with pytest.raises(ValueError, match="use an SNS topic ARN"):
        check_topic(garbage)


class NoReads:
    """A storage port that fails the test if anything is read or copied."""

    def __getattr__(self, name: str):
        raise AssertionError(f"storage.{name} was called before the grants were checked")


@pytest.mark.parametrize(
    ("s3_object", "channel", "says"),
    [
        ({"Bucket": "shared", "Name": "globex/a.mp4"}, None, "it grants s3://acme-videos/, s3://"),
        ({"Bucket": "acme-videos", "Name": "a.mp4"}, {"SNSTopicArn": TOPIC + "2", "RoleArn": "r"},
         f"your access key may name (it grants {TOPIC})"),
    ],
)  # fmt: skip
def test_start_refuses_before_reading_anything(s3_object, channel, says):
    params = {"Video": {"S3Object": s3_object}}
    if channel:
        params["NotificationChannel"] = channel
    with pytest.raises(AccessDenied, match=says.replace("(", r"\(").replace(")", r"\)")):
        start_job(
            "StartLabelDetection", params, ACME, storage=NoReads(), queue=NoReads(),
            submissions=NoReads(), max_video_bytes=1, max_queued_jobs=1,
        )  # fmt: skip
