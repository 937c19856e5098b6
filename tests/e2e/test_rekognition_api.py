"""A stock boto3 ``rekognition`` client against the live local stack (moto_server + chalice local +
the worker runner), on real videos: every operation, paging, sorting, segments, shots and
technical cues on a clip with known cuts, the SNS notice, and every error code the API answers.
Every answer is then checked against botocore's model."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from scripts import cuts_clip
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.rekognition_shapes import count_members, output_shape, problems
from tests.support.stack import local_stack
from tests.support.videos import shared_video

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
MAX_QUEUED_JOBS = 20
pytestmark = pytest.mark.slow
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "k", "aws_secret_access_key": "s"}
ANSWERS: list[tuple[str, dict]] = []  # every 200 answer the rekognition client parsed


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory):
    env = {  # small limits, so that the too-large and too-many errors are cheap to reach
        "VIDEO_JOBS_MAX_UPLOAD_BYTES": str(3 * MIB),
        "VIDEO_JOBS_MAX_QUEUED_JOBS": str(MAX_QUEUED_JOBS),
    }
    clips = tmp_path_factory.mktemp("rekognition")
    with local_stack(clips, env) as running:
        yield {"api": running.base, "aws": running.aws_base, "clips": clips}


def _record(operation_model, response_dict, **_):
    if response_dict["status_code"] == 200:
        ANSWERS.append((operation_model.name, json.loads(response_dict["body"])))


@pytest.fixture(scope="module")
def rk(stack):
    """The stock client, pointed at our API; no retries, so each error is seen once."""
    config = Config(retries={"total_max_attempts": 1})
    client = boto3.client("rekognition", endpoint_url=stack["api"], config=config, **CREDENTIALS)
    client.meta.events.register("before-parse.rekognition.*", _record)
    return client


def aws_client(stack, name: str):
    return boto3.client(name, endpoint_url=stack["aws"], **CREDENTIALS)


@pytest.fixture(scope="module")
def videos(stack):
    """The caller's bucket, as on AWS: videos the API reads and copies in."""
    s3, clips = aws_client(stack, "s3"), stack["clips"]
    s3.create_bucket(Bucket="customer-videos")
    objects = {
        "dog.mp4": shared_video("dog_and_woman.mp4").read_bytes(),
        "tiny.mp4": make_mp4(clips / "tiny.mp4").read_bytes(),  # HELLO 2026, 2 s
        "huge.mp4": make_mp4(
            clips / "huge.mp4", seconds=0.1, size=(8200, 16), text=""
        ).read_bytes(),
        "notes.txt": b"not a video at all",
        "big.mp4": b"\0" * (4 * MIB),
        "cuts.mp4": _cuts_clip(clips / "cuts.mp4"),
    }
    for key, data in objects.items():
        s3.put_object(Bucket="customer-videos", Key=key, Body=data)
    return "customer-videos"


CUTS: list[cuts_clip.Boundary] = []  # the joined clip's boundaries, once it is built


def _cuts_clip(path: Path) -> bytes:
    """The clip joined from the shared clips with known cuts, a dissolve and a second of black
    (scripts/cuts_clip.py; 25 frames/s)."""
    CUTS[:] = cuts_clip.build(path)
    return path.read_bytes()


def video(bucket: str, name: str) -> dict:
    return {"S3Object": {"Bucket": bucket, "Name": name}}


def subscribed_topic(stack, name: str) -> tuple[dict, str]:
    """An SNS topic with an SQS queue subscribed to it: (NotificationChannel, queue URL)."""
    sns, sqs = aws_client(stack, "sns"), aws_client(stack, "sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    channel = {"SNSTopicArn": topic, "RoleArn": "arn:aws:iam::123456789012:role/notify"}
    return channel, queue_url


def wait_done(get, job_id: str, timeout_s: float = 240, **params) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = get(JobId=job_id, **params)
        if answer["JobStatus"] != "IN_PROGRESS":
            return answer
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still IN_PROGRESS after {timeout_s} s")


def notices(stack, queue_url: str, count: int = 1) -> list[dict]:
    sqs, found = aws_client(stack, "sqs"), []
    deadline = time.monotonic() + 30
    while len(found) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)
        found += [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]
    return found


def error_of(call, **params) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        str(response["Error"]["Message"]),
    )


@pytest.fixture(scope="module")
def label_job(stack, rk, videos):
    channel, inbox = subscribed_topic(stack, "labels-done")
    job_id = rk.start_label_detection(
        Video=video(videos, "dog.mp4"), JobTag="dogs-1", NotificationChannel=channel
    )["JobId"]
    answer = wait_done(rk.get_label_detection, job_id)
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    return {"id": job_id, "answer": answer, "inbox": inbox}


# --- labels --------------------------------------------------------------------------------------


def test_label_detection_answers_in_rekognition_shapes(stack, label_job):
    answer = label_job["answer"]
    names = {entry["Label"]["Name"] for entry in answer["Labels"]}
    assert {"Dog", "Person"} <= names and not names & {"dog", "person"}
    dog = next(e["Label"] for e in answer["Labels"] if e["Label"]["Name"] == "Dog")
    assert dog["Parents"] == [{"Name": "Animal"}] and dog["Categories"]
    assert dog["Instances"] and all(50 <= i["Confidence"] <= 100 for i in dog["Instances"])
    box = dog["Instances"][0]["BoundingBox"]
    assert set(box) == {"Width", "Height", "Left", "Top"} and 0 < box["Width"] <= 1
    assert answer["VideoMetadata"]["FrameWidth"] == 1280
    assert answer["VideoMetadata"]["DurationMillis"] > 9000
    assert answer["LabelModelVersion"] == "yolov3-tiny-coco"
    assert answer["JobTag"] == "dogs-1" and answer["Video"] == video("customer-videos", "dog.mp4")
    rest = requests.get(f"{stack['api']}/video/status/{label_job['id']}", timeout=5).json()
    assert rest["status"] == "completed"  # the same job, seen by the REST routes


def test_the_completion_notice_arrives_on_a_subscribed_queue(stack, label_job):
    (notice,) = notices(stack, label_job["inbox"])
    assert notice["JobId"] == label_job["id"] and notice["Status"] == "SUCCEEDED"
    assert notice["API"] == "LABEL_DETECTION" and notice["JobTag"] == "dogs-1"
    assert notice["Video"] == {"S3ObjectName": "dog.mp4", "S3Bucket": "customer-videos"}
    assert abs(notice["Timestamp"] / 1000 - time.time()) < 600


def test_pages_of_ten_add_up_to_one_page_of_a_thousand(rk, label_job):
    whole = rk.get_label_detection(JobId=label_job["id"], MaxResults=1000)
    assert "NextToken" not in whole and len(whole["Labels"]) > 10
    assert (
        rk.get_label_detection(JobId=label_job["id"], MaxResults=5000)["Labels"]
        == (whole["Labels"])
    )
    pages, token = [], ""
    while token is not None:
        page = rk.get_label_detection(JobId=label_job["id"], MaxResults=10, NextToken=token)
        assert len(page["Labels"]) <= 10 and page["VideoMetadata"] == whole["VideoMetadata"]
        pages.append(page["Labels"])
        token = page.get("NextToken")
    assert len(pages) >= 2 and [e for p in pages for e in p] == whole["Labels"]


def test_sorting_by_timestamp_and_by_name(rk, label_job):
    by_time = rk.get_label_detection(JobId=label_job["id"], SortBy="TIMESTAMP")["Labels"]
    by_name = rk.get_label_detection(JobId=label_job["id"], SortBy="NAME")
    keys = [(e["Label"]["Name"], e["Timestamp"]) for e in by_name["Labels"]]
    assert keys == sorted(keys) and len(keys) == len(by_time)
    times = [e["Timestamp"] for e in by_time]
    assert times == sorted(times) and keys != [
        (e["Label"]["Name"], e["Timestamp"]) for e in by_time
    ]
    assert by_name["GetRequestMetadata"] == {"SortBy": "NAME", "AggregateBy": "TIMESTAMPS"}


def test_segments_cover_every_timestamp_of_their_label(rk, label_job):
    answer = rk.get_label_detection(JobId=label_job["id"], AggregateBy="SEGMENTS")
    segments = answer["Labels"]
    assert segments and answer["GetRequestMetadata"]["AggregateBy"] == "SEGMENTS"
    for entry in segments:
        assert "Instances" not in entry["Label"]
        start, end = entry["StartTimestampMillis"], entry["EndTimestampMillis"]
        assert entry["DurationMillis"] == end - start >= 0 and entry["Timestamp"] == start
    for entry in label_job["answer"]["Labels"]:
        name, at = entry["Label"]["Name"], entry["Timestamp"]
        assert any(
            s["Label"]["Name"] == name
            and s["StartTimestampMillis"] <= at <= s["EndTimestampMillis"]
            for s in segments
        ), (name, at)


def test_min_confidence_and_label_filters(rk, videos, label_job):
    settings = {"GeneralLabels": {"LabelExclusionFilters": ["Person"]}}
    job_id = rk.start_label_detection(
        Video=video(videos, "dog.mp4"), MinConfidence=70, Settings=settings
    )["JobId"]
    labels = wait_done(rk.get_label_detection, job_id)["Labels"]
    assert labels and {e["Label"]["Name"] for e in labels} == {"Dog"}
    assert all(i["Confidence"] >= 70 for e in labels for i in e["Label"]["Instances"])
    unfiltered = [e for e in label_job["answer"]["Labels"] if e["Label"]["Name"] == "Dog"]
    assert len(labels) < len(unfiltered)  # the filter removed something real


# --- text ----------------------------------------------------------------------------------------


def test_text_detection_lines_and_words(rk, videos):
    job_id = rk.start_text_detection(Video=video(videos, "tiny.mp4"))["JobId"]
    answer = wait_done(rk.get_text_detection, job_id)
    assert answer["JobStatus"] == "SUCCEEDED" and answer["TextModelVersion"]
    found = [e["TextDetection"] for e in answer["TextDetections"]]
    lines = {d["DetectedText"] for d in found if d["Type"] == "LINE"}
    words = [d for d in found if d["Type"] == "WORD"]
    assert "HELLO" in " ".join(lines) and words
    at_zero = {
        d["Id"]: d
        for e, d in zip(answer["TextDetections"], found, strict=True)
        if e["Timestamp"] == 0
    }
    for word in (d for d in at_zero.values() if d["Type"] == "WORD"):
        assert at_zero[word["ParentId"]]["Type"] == "LINE"
        assert word["DetectedText"] in at_zero[word["ParentId"]]["DetectedText"]
        assert len(word["Geometry"]["Polygon"]) == 4 and word["Confidence"] >= 80
    assert answer["VideoMetadata"]["FrameWidth"] == 320


def test_text_regions_of_interest(rk, videos):
    left_half = {"BoundingBox": {"Left": 0, "Top": 0, "Width": 0.5, "Height": 1}}
    job_id = rk.start_text_detection(
        Video=video(videos, "tiny.mp4"), Filters={"RegionsOfInterest": [left_half]}
    )["JobId"]
    found = [e["TextDetection"] for e in wait_done(rk.get_text_detection, job_id)["TextDetections"]]
    assert found
    for detection in found:
        box = detection["Geometry"]["BoundingBox"]
        if detection["Type"] == "WORD":
            assert box["Left"] + box["Width"] / 2 <= 0.5, detection


def test_a_failed_job_says_why_and_notifies(stack, rk, videos):
    channel, inbox = subscribed_topic(stack, "failures")
    job_id = rk.start_text_detection(Video=video(videos, "huge.mp4"), NotificationChannel=channel)[
        "JobId"
    ]
    answer = wait_done(rk.get_text_detection, job_id)
    assert answer["JobStatus"] == "FAILED" and "8192" in answer["StatusMessage"]
    assert answer["TextDetections"] == [] and "VideoMetadata" not in answer
    (notice,) = notices(stack, inbox)
    assert (notice["JobId"], notice["Status"], notice["API"]) == (
        job_id,
        "FAILED",
        "TEXT_DETECTION",
    )


def test_client_request_token_makes_start_idempotent(rk, videos):
    token = uuid.uuid4().hex
    first = rk.start_text_detection(Video=video(videos, "tiny.mp4"), ClientRequestToken=token)
    again = rk.start_text_detection(Video=video(videos, "tiny.mp4"), ClientRequestToken=token)
    assert again["JobId"] == first["JobId"]
    code, status, message = error_of(
        rk.start_text_detection,
        Video=video(videos, "tiny.mp4"),
        ClientRequestToken=token,
        JobTag="another",
    )
    assert (code, status) == ("IdempotentParameterMismatchException", 400) and "token" in message


# --- segments ------------------------------------------------------------------------------------

BLACK_FRAME = {"MaxPixelThreshold": 0.2, "MinCoveragePercentage": 99}


@pytest.fixture(scope="module")
def segment_job(stack, rk, videos):
    """AWS's own call shape: both types, each with its filter, and a notice."""
    channel, inbox = subscribed_topic(stack, "AmazonRekognitionSegments")
    job_id = rk.start_segment_detection(
        Video=video(videos, "cuts.mp4"),
        SegmentTypes=["TECHNICAL_CUE", "SHOT"],
        Filters={
            "TechnicalCueFilter": {"MinSegmentConfidence": 90, "BlackFrame": BLACK_FRAME},
            "ShotFilter": {"MinSegmentConfidence": 50},
        },
        NotificationChannel=channel,
        JobTag="cuts-1",
    )["JobId"]
    answer = wait_done(rk.get_segment_detection, job_id)
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    return {"id": job_id, "answer": answer, "inbox": inbox}


def all_segments(rk, job_id: str, page_size: int) -> list[dict]:
    segments, token, pages = [], "", 0
    while token is not None:
        page = rk.get_segment_detection(JobId=job_id, MaxResults=page_size, NextToken=token)
        assert len(page["Segments"]) <= page_size and page["JobStatus"] == "SUCCEEDED"
        segments += page["Segments"]
        token, pages = page.get("NextToken"), pages + 1
    assert pages > 1
    return segments


def test_shots_start_at_the_clips_cuts(rk, segment_job):
    answer = segment_job["answer"]
    assert "NextToken" not in answer and answer["JobTag"] == "cuts-1"
    shots = [s for s in answer["Segments"] if s["Type"] == "SHOT"]
    starts = [s["StartFrameNumber"] for s in shots]
    cuts = [b.frame for b in CUTS if b.kind == "cut"]
    assert set(cuts) <= set(starts) and len(starts) == len(CUTS) + 1  # none missed, none false
    (fade,) = [b.frame for b in CUTS if b.kind == "fade"]
    assert any(abs(start - fade) <= 3 for start in starts)
    for shot, following in zip(shots, shots[1:], strict=False):
        assert following["StartFrameNumber"] == shot["EndFrameNumber"] + 1
    third = shots[2]  # starts at the second hard cut, frame 120 at 25 frames/s
    assert (third["StartFrameNumber"], third["StartTimestampMillis"]) == (120, 4800)
    assert third["StartTimecodeSMPTE"] == "00:00:04:20"
    assert third["DurationFrames"] == third["EndFrameNumber"] - 120
    assert [s["ShotSegment"]["Index"] for s in shots] == list(range(len(shots)))
    assert all(50 <= s["ShotSegment"]["Confidence"] <= 100 for s in shots)


def test_a_black_frames_cue_where_the_clip_is_black(segment_job):
    segments = segment_job["answer"]["Segments"]
    cues = [s for s in segments if s["Type"] == "TECHNICAL_CUE"]
    assert cues and segments[: len(cues)] == cues  # TECHNICAL_CUE was asked for first
    first, after = (b.frame for b in CUTS if b.kind == "black")
    (black,) = [c for c in cues if c["TechnicalCueSegment"]["Type"] == "BlackFrames"]
    assert (black["StartFrameNumber"], black["EndFrameNumber"]) == (first, after - 1)
    assert (black["StartTimestampMillis"], black["EndTimestampMillis"]) == (
        first * 40,
        (after - 1) * 40,
    )
    assert black["StartTimecodeSMPTE"] == f"00:00:{first // 25:02d}:{first % 25:02d}"
    assert {c["TechnicalCueSegment"]["Type"] for c in cues} == {"BlackFrames", "Content"}


def test_segment_answers_carry_their_metadata(segment_job):
    answer = segment_job["answer"]
    (metadata,) = answer["VideoMetadata"]  # a list in this operation
    assert (metadata["FrameRate"], metadata["FrameWidth"], metadata["FrameHeight"]) == (
        25.0,
        640,
        360,
    )
    assert answer["AudioMetadata"] == []
    assert [t["Type"] for t in answer["SelectedSegmentTypes"]] == ["TECHNICAL_CUE", "SHOT"]
    assert all("PySceneDetect" in t["ModelVersion"] for t in answer["SelectedSegmentTypes"])


def test_segment_pages_of_two_add_up_to_the_whole(rk, segment_job):
    assert all_segments(rk, segment_job["id"], 2) == segment_job["answer"]["Segments"]


def test_the_segment_notice_names_start_segment_detection(stack, segment_job):
    (notice,) = notices(stack, segment_job["inbox"])
    assert (notice["JobId"], notice["Status"], notice["API"]) == (
        segment_job["id"],
        "SUCCEEDED",
        "StartSegmentDetection",
    )
    assert notice["JobTag"] == "cuts-1"


def test_shots_only_with_a_confidence_floor(rk, videos, segment_job):
    job_id = rk.start_segment_detection(
        Video=video(videos, "cuts.mp4"),
        SegmentTypes=["SHOT"],
        Filters={"ShotFilter": {"MinSegmentConfidence": 99}},
    )["JobId"]
    segments = wait_done(rk.get_segment_detection, job_id)["Segments"]
    every = [s for s in segment_job["answer"]["Segments"] if s["Type"] == "SHOT"]
    assert {s["Type"] for s in segments} == {"SHOT"}
    assert segments == [s for s in every if s["ShotSegment"]["Confidence"] >= 99]
    assert 0 < len(segments) < len(every)  # the floor removed something real


def test_segment_jobs_refuse_garbage_and_the_other_kind(rk, videos, label_job, segment_job):
    cuts = video(videos, "cuts.mp4")
    for call, params, code, words in [
        (rk.start_segment_detection, {"Video": cuts, "SegmentTypes": ["COLOR_BARS"]},
         "InvalidParameterException", "SegmentTypes"),
        (rk.start_segment_detection, {"Video": cuts, "SegmentTypes": ["SHOT", "SHOT"]},
         "InvalidParameterException", "twice"),
        (rk.start_segment_detection,
         {"Video": cuts, "SegmentTypes": ["SHOT"],
          "Filters": {"ShotFilter": {"MinSegmentConfidence": 101}}},
         "InvalidParameterException", "MinSegmentConfidence"),
        (rk.start_segment_detection,
         {"Video": cuts, "SegmentTypes": ["TECHNICAL_CUE"],
          "Filters": {"TechnicalCueFilter": {"BlackFrame": {"MaxPixelThreshold": 2}}}},
         "InvalidParameterException", "MaxPixelThreshold"),
        (rk.start_segment_detection,
         {"Video": video(videos, "notes.txt"), "SegmentTypes": ["SHOT"]},
         "InvalidS3ObjectException", "not a video"),
        (rk.get_segment_detection, {"JobId": segment_job["id"], "NextToken": "forged"},
         "InvalidPaginationTokenException", "NextToken"),
        (rk.get_segment_detection, {"JobId": label_job["id"]},
         "ResourceNotFoundException", "StartSegmentDetection"),
        (rk.get_label_detection, {"JobId": segment_job["id"]},
         "ResourceNotFoundException", "StartLabelDetection"),
    ]:  # fmt: skip
        answered, status, message = error_of(call, **params)
        assert (answered, status) == (code, 400) and words in message, (params, message)


def test_a_segment_client_request_token_gives_the_same_job(rk, videos):
    token, cuts = uuid.uuid4().hex, video(videos, "cuts.mp4")
    first = rk.start_segment_detection(Video=cuts, SegmentTypes=["SHOT"], ClientRequestToken=token)
    again = rk.start_segment_detection(Video=cuts, SegmentTypes=["SHOT"], ClientRequestToken=token)
    assert again["JobId"] == first["JobId"]
    code, _, _ = error_of(
        rk.start_segment_detection, Video=cuts, SegmentTypes=["TECHNICAL_CUE"],
        ClientRequestToken=token,
    )  # fmt: skip
    assert code == "IdempotentParameterMismatchException"
    wait_done(rk.get_segment_detection, first["JobId"])  # leaves no work behind for later tests


# --- errors --------------------------------------------------------------------------------------


def test_invalid_parameters(rk, videos):
    for call, params, words in [
        (rk.start_label_detection, {"Video": video(videos, "dog.mp4"), "MinConfidence": 101},
         "MinConfidence"),
        (rk.start_label_detection, {"Video": {}}, "Video.S3Object"),
        (rk.get_label_detection, {"JobId": str(uuid.uuid4()), "SortBy": "SIZE"}, "SortBy"),
        (rk.get_text_detection, {"JobId": "x" * 64 + "!"}, "JobId"),
    ]:  # fmt: skip
        code, status, message = error_of(call, **params)
        assert (code, status) == ("InvalidParameterException", 400) and words in message


def test_invalid_s3_objects(rk, videos):
    for bucket, name, words in [
        (videos, "missing.mp4", "does not exist"),
        ("no-such-bucket", "dog.mp4", "does not exist"),
        (videos, "notes.txt", "not a video"),
    ]:
        code, status, message = error_of(rk.start_label_detection, Video=video(bucket, name))
        assert (code, status) == ("InvalidS3ObjectException", 400) and words in message, message


def test_video_too_large(rk, videos):
    code, status, message = error_of(rk.start_label_detection, Video=video(videos, "big.mp4"))
    assert (code, status) == ("VideoTooLargeException", 400) and str(3 * MIB) in message


def test_unknown_jobs_and_jobs_of_the_other_operation(rk, label_job):
    code, status, _ = error_of(rk.get_label_detection, JobId=str(uuid.uuid4()))
    assert (code, status) == ("ResourceNotFoundException", 400)
    code, _, message = error_of(rk.get_text_detection, JobId=label_job["id"])
    assert code == "ResourceNotFoundException" and "StartTextDetection" in message


def test_forged_and_foreign_pagination_tokens(rk, videos, label_job):
    token = rk.get_label_detection(JobId=label_job["id"], MaxResults=1)["NextToken"]
    other = rk.start_label_detection(Video=video(videos, "tiny.mp4"))["JobId"]
    wait_done(rk.get_label_detection, other)
    for job_id, params in [
        (label_job["id"], {"NextToken": "forged"}),
        (label_job["id"], {"NextToken": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}),
        (label_job["id"], {"NextToken": token, "SortBy": "NAME"}),  # another view of the job
        (other, {"NextToken": token}),  # another job
    ]:
        code, status, _ = error_of(rk.get_label_detection, JobId=job_id, **params)
        assert (code, status) == ("InvalidPaginationTokenException", 400), params


def test_unsigned_requests_are_denied(stack):
    unsigned = boto3.client(
        "rekognition",
        endpoint_url=stack["api"],
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
        region_name="us-east-1",
    )
    code, status, _ = error_of(unsigned.get_text_detection, JobId=str(uuid.uuid4()))
    assert (code, status) == ("AccessDeniedException", 400)


def test_an_operation_we_do_not_offer_names_the_ones_we_do(stack, rk):
    code, status, message = error_of(rk.detect_labels, Image={"Bytes": b"x"})
    assert (code, status) == ("UnknownOperationException", 400)
    for name in ("StartLabelDetection", "GetLabelDetection", "StartTextDetection",
                 "StartSegmentDetection", "GetSegmentDetection"):  # fmt: skip
        assert name in message
    raw = requests.post(
        stack["api"] + "/",
        data=b"{}",
        headers={"X-Amz-Target": "Nope", "Content-Type": "application/x-amz-json-1.1",
                 "Authorization": "x"},
        timeout=10,
    )  # fmt: skip
    assert raw.status_code == 400 and raw.json()["__type"] == "UnknownOperationException"
    assert "GetTextDetection" in raw.json()["message"] and raw.headers["x-amzn-RequestId"]


def test_too_many_jobs_waiting(stack, rk, videos):
    sqs = aws_client(stack, "sqs")
    queue_url = sqs.get_queue_url(QueueName="video-jobs-queue")["QueueUrl"]
    try:
        for _ in range(MAX_QUEUED_JOBS):  # delayed: counted as waiting, invisible to the worker
            sqs.send_message(QueueUrl=queue_url, MessageBody="{}", DelaySeconds=900)
        code, status, message = error_of(rk.start_text_detection, Video=video(videos, "tiny.mp4"))
        assert (code, status) == ("LimitExceededException", 400) and "retry" in message
    finally:
        sqs.purge_queue(QueueUrl=queue_url)


def test_a_broken_results_document_is_an_internal_server_error(stack, rk, videos):
    job_id = rk.start_text_detection(Video=video(videos, "tiny.mp4"))["JobId"]
    assert wait_done(rk.get_text_detection, job_id)["JobStatus"] == "SUCCEEDED"
    s3 = aws_client(stack, "s3")
    s3.put_object(Bucket="video-jobs-media", Key=f"video_jobs/{job_id}_results.json", Body=b"{")
    code, status, message = error_of(rk.get_text_detection, JobId=job_id)
    assert (code, status) == ("InternalServerError", 500) and "Traceback" not in message


def test_the_documented_example_runs(stack):
    doc = (ROOT / "docs" / "rekognition.md").read_text(encoding="utf-8")
    script = doc.split("## A complete example", 1)[1].split("```python\n", 1)[1].split("```")[0]
    path = stack["clips"] / "example.py"
    path.write_text(script, encoding="utf-8")
    clip = shared_video("dog_and_woman.mp4")
    run = subprocess.run(
        [sys.executable, str(path), str(clip), stack["api"], stack["aws"]],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "SUCCEEDED" in run.stdout and " Dog " in run.stdout and "['Animal']" in run.stdout
    assert "00:00:00;00 to " in run.stdout and "  Shot" in run.stdout  # its segment job, 29.97 fps


# --- last: everything answered fits botocore's model ---------------------------------------------


def test_every_member_answered_exists_in_botocore_model():
    operations = {operation for operation, _ in ANSWERS}
    assert operations == {
        "StartLabelDetection",
        "GetLabelDetection",
        "StartTextDetection",
        "GetTextDetection",
        "StartSegmentDetection",
        "GetSegmentDetection",
    }
    checked = 0
    for operation, answer in ANSWERS:
        assert problems(output_shape(operation), answer) == [], operation
        checked += count_members(answer)
    assert checked > 1000
