"""How a Rekognition Start* becomes an ordinary job and how its end is announced, on the in-memory
job store, local storage and an in-memory queue: ``Submissions.submit_copied`` (the request in
``options``, ClientRequestToken idempotency through the store's key reservation), the worker's
``on_finish`` hook and ``publish_notice``."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.analysis.worker import JobWorker
from chalicelib.errors import Conflict, InvalidVideo, ServiceUnavailable
from chalicelib.jobs.ids import decode_message, new_job_id, video_path
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import COMPLETED, FAILED, JobRecord
from chalicelib.jobs.tenancy import PUBLIC
from chalicelib.notices.publisher import InMemoryPublisher
from chalicelib.rekognition.get import get_results
from chalicelib.rekognition.notices import publish_notice
from chalicelib.rekognition.start import analyzer_filters, pipeline_for
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines

LABELS_PIPELINE = pipeline_for("StartLabelDetection")
REQUEST = {
    "Operation": "StartLabelDetection",
    "Video": {"S3Object": {"Bucket": "customer-videos", "Name": "dog.mp4"}},
    "JobTag": "dogs-1",
    "NotificationChannel": {
        "SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:done",
        "RoleArn": "arn:aws:iam::123456789012:role/r",
    },
}


def copier(storage, copied: list[str]):
    def copy_into(path: str) -> None:
        copied.append(path)
        storage.save_file(b"the caller's video", path)

    return copy_into


def test_a_copied_video_becomes_a_pending_job_with_its_request(submissions, parts):
    storage, queue, jobs = parts
    copied: list[str] = []
    options = JobOptions(LABELS_PIPELINE, rekognition=REQUEST)
    job_id = submissions.submit_copied(copier(storage, copied), options)
    job = jobs.get(job_id)
    assert copied == [job.input_path] and storage.load_file(job.input_path)
    assert job.options == {"rekognition": REQUEST} and job.pipeline_id == LABELS_PIPELINE
    assert decode_message(queue.dequeue().body) == job_id and queue.backlog() == 0


def test_a_repeated_token_returns_the_first_job_and_a_changed_request_conflicts(submissions, parts):
    storage, queue, jobs = parts
    copied: list[str] = []
    options = JobOptions(LABELS_PIPELINE, rekognition=REQUEST)
    first = submissions.submit_copied(
        copier(storage, copied), options, idempotency_key="rekognition:t1", request_fingerprint="a"
    )
    again = submissions.submit_copied(
        copier(storage, copied), options, idempotency_key="rekognition:t1", request_fingerprint="a"
    )
    assert again == first and len(copied) == 1 and queue.backlog() == 1
    with pytest.raises(Conflict):
        submissions.submit_copied(
            copier(storage, copied),
            options,
            idempotency_key="rekognition:t1",
            request_fingerprint="b",
        )


def test_a_failed_copy_accepts_nothing_and_frees_the_token(submissions, parts):
    storage, queue, jobs = parts

    def broken(path: str) -> None:
        raise ConnectionError("S3 is down")

    options, key = JobOptions(LABELS_PIPELINE, rekognition=REQUEST), "rekognition:t2"
    with pytest.raises(ServiceUnavailable, match="copy the video"):
        submissions.submit_copied(broken, options, idempotency_key=key, request_fingerprint="a")
    assert queue.backlog() == 0 and jobs.all() == []
    job_id = submissions.submit_copied(
        copier(storage, []), options, idempotency_key=key, request_fingerprint="a"
    )  # the retry goes through
    assert jobs.get(job_id).status == "pending"


@pytest.mark.parametrize(("outcome", "status"), [(None, COMPLETED), (InvalidVideo("bad"), FAILED)])
def test_the_worker_hook_sees_the_job_once_its_final_status_is_written(parts, outcome, status):
    storage, _, jobs = parts
    job = new_job(jobs, storage=storage)
    seen = []

    def on_finish(done):
        seen.append((done.status, jobs.get(done.job_id).status))

    worker = JobWorker(
        storage=storage, jobs=jobs, pipelines=FakePipelines(outcome), on_finish=on_finish
    )
    assert worker.process(job.job_id) is True
    assert seen == [(status, status)]
    assert worker.process(job.job_id) is False and len(seen) == 1  # a duplicate: no second call


def finished(jobs, status: str, request: dict | None) -> JobRecord:
    """A job that ended with ``status``, started by ``request`` (None: an ordinary job)."""
    job_id = new_job_id()
    options = None if request is None else {"rekognition": request}
    job = JobRecord.new(
        job_id, input_path=video_path(job_id), pipeline_id=LABELS_PIPELINE, retention_days=30,
        options=options,
    )  # fmt: skip
    jobs.create(job)
    jobs.claim(job_id, "worker-1", lease_s=60)
    return jobs.update_status(job_id, status, output_path="x", error_message="why")


@pytest.mark.parametrize(("status", "word"), [(COMPLETED, "SUCCEEDED"), (FAILED, "FAILED")])
def test_the_notice_goes_to_the_topic_in_rekognition_format(parts, status, word):
    topic = REQUEST["NotificationChannel"]["SNSTopicArn"]
    publisher, job = InMemoryPublisher([topic]), finished(parts[2], status, REQUEST)
    publish_notice(job, lambda: publisher)
    (published,) = publisher.published(topic)
    notice = json.loads(published.message)
    assert notice["JobId"] == job.job_id and notice["Status"] == word
    assert notice["API"] == "LABEL_DETECTION" and notice["JobTag"] == "dogs-1"
    assert notice["Video"] == {"S3ObjectName": "dog.mp4", "S3Bucket": "customer-videos"}


def test_no_channel_no_notice_and_no_publisher(parts):
    def no_client():
        raise AssertionError("a publisher was built for a job without a channel")

    publish_notice(finished(parts[2], COMPLETED, None), no_client)
    without = {key: value for key, value in REQUEST.items() if key != "NotificationChannel"}
    publish_notice(finished(parts[2], COMPLETED, without), no_client)


def test_a_refused_notice_is_logged_not_raised(parts, caplog):
    job = finished(parts[2], COMPLETED, REQUEST)
    with caplog.at_level(logging.ERROR):
        publish_notice(job, InMemoryPublisher)  # a publisher that has no such topic
    assert f"could not publish the notice of job {job.job_id}" in caplog.text


def test_a_text_job_keeps_lines_down_to_its_word_filter_for_get_to_filter():
    text = {"Operation": "StartTextDetection", "Filters": {"WordFilter": {"MinConfidence": 55}}}
    assert analyzer_filters(text) == {"text_min_confidence": 0.55}
    assert analyzer_filters({"Operation": "StartTextDetection"}) == {}  # the REST default, 0.8
    assert analyzer_filters({"Operation": "StartLabelDetection", "MinConfidence": 10}) == {}


def test_a_segment_jobs_notice_names_its_start_operation_as_aws_does(parts):
    request = {**REQUEST, "Operation": "StartSegmentDetection", "SegmentTypes": ["SHOT"]}
    topic = REQUEST["NotificationChannel"]["SNSTopicArn"]
    publisher = InMemoryPublisher([topic])
    publish_notice(finished(parts[2], COMPLETED, request), lambda: publisher)
    (published,) = publisher.published(topic)
    assert json.loads(published.message)["API"] == "StartSegmentDetection"


def test_a_segment_job_runs_the_shots_pipeline():
    assert pipeline_for("StartSegmentDetection") == "shots"


def test_a_cancelled_job_sends_no_notice_and_gets_as_failed(parts):
    storage, _, jobs = parts
    job_id = new_job_id()
    options = {"rekognition": REQUEST}
    job = JobRecord.new(job_id, input_path=video_path(job_id), pipeline_id=LABELS_PIPELINE,
                        retention_days=30, options=options)  # fmt: skip
    jobs.create(job)
    cancelled = jobs.cancel(job_id)

    def no_client():
        raise AssertionError("a publisher was built for a cancelled job")

    publish_notice(cancelled, no_client)
    answer = get_results("GetLabelDetection", {"JobId": job_id}, PUBLIC, jobs=jobs,
                         storage=storage, signing_key=b"k")  # fmt: skip
    assert answer["JobStatus"] == "FAILED" and answer["Labels"] == []
    assert answer["StatusMessage"] == "the job was cancelled by its owner"
