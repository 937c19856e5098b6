"""Completion notices: the event, its signature, the retry schedule, and the worker announcing
final jobs to the SNS topic (an SQS queue subscribed on moto) and to the notices queue."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.bootstrap import aws_client, services
from chalicelib.config import load_settings
from chalicelib.delivery import retry_delay, retry_schedule
from chalicelib.errors import BadRequest, InvalidVideo
from chalicelib.ids import new_job_id, video_path
from chalicelib.jobs import COMPLETED, FAILED, RUNNING, Job
from chalicelib.notify import (
    MAX_SQS_DELAY_S,
    Notice,
    build_event,
    event_id,
    render,
    send_notice,
    sign,
)
from chalicelib.worker import JobWorker

CALLBACK = "https://hooks.example.com/video-jobs"


def verify(body: bytes, header: str, secret: str) -> bool:
    """What docs/notifications.md tells receivers to do."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# --- the event and its signature ------------------------------------------------------------


def final_job(status: str, error_message: str | None = None) -> Job:
    job = Job.new(new_job_id(), input_path="x.mp4", pipeline_id="yolo_ocr")
    job.status, job.error_message = status, error_message
    job.updated_at = "2026-12-01T10:00:05.000Z"
    return job


def test_event_ids_are_fixed_by_job_and_status():
    job_id = new_job_id()
    assert event_id(job_id, COMPLETED) == event_id(job_id, COMPLETED)
    assert event_id(job_id, COMPLETED) != event_id(job_id, FAILED)
    assert event_id(job_id, COMPLETED) != event_id(new_job_id(), COMPLETED)


def test_a_completed_event_says_where_the_results_are():
    job = final_job(COMPLETED)
    event = build_event(job, "https://api.example.com/api")
    assert event == {
        "event_id": event_id(job.job_id, COMPLETED),
        "type": "job.completed",
        "job_id": job.job_id,
        "status": COMPLETED,
        "created_at": job.created_at,
        "finished_at": "2026-12-01T10:00:05.000Z",
        "status_url": f"https://api.example.com/api/video/status/{job.job_id}",
        "results_url": f"https://api.example.com/api/video/results/{job.job_id}",
    }


def test_a_failed_event_says_why():
    job = final_job(FAILED, "the file has no video track (audio only?)")
    event = build_event(job)
    assert event["type"] == "job.failed" and event["status"] == FAILED
    assert event["error_message"] == "the file has no video track (audio only?)"
    assert event["status_url"] == f"/video/status/{job.job_id}" and "results_url" not in event


def test_only_sent_at_differs_between_copies():
    event = build_event(final_job(COMPLETED))
    first = json.loads(render(event, "2026-12-01T10:00:06.000Z"))
    second = json.loads(render(event, "2026-12-01T10:00:36.000Z"))
    assert first.pop("sent_at") != second.pop("sent_at")
    assert first == second == event


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = render(build_event(final_job(COMPLETED)))
    signature = sign(body, "s3cret")
    assert signature == "sha256=" + hmac.new(b"s3cret", body, "sha256").hexdigest()
    assert verify(body, signature, "s3cret")
    assert not verify(body, signature, "another secret")
    assert not verify(body.replace(b"completed", b"failed", 1), signature, "s3cret")


def test_notice_messages_round_trip_and_garbage_is_refused():
    notice = Notice(build_event(final_job(COMPLETED)), CALLBACK, 100.0, 130.0, attempts=1)
    assert Notice.decode(notice.encode()) == notice
    for garbage in ("", "[]", "{}", '{"event": 1}', json.dumps({**json.loads(notice.encode()),
                                                                "event": {}})):  # fmt: skip
        with pytest.raises(BadRequest):
            Notice.decode(garbage)


# --- the retry schedule -----------------------------------------------------------------------


def test_default_schedule_first_retry_within_a_minute_then_doubling_for_a_day(monkeypatch):
    for name in ("FIRST_RETRY_S", "MAX_RETRY_DELAY_S", "RETRY_WINDOW_S"):
        monkeypatch.delenv(f"VIDEO_JOBS_WEBHOOK_{name}", raising=False)
    settings = load_settings().notices
    schedule = retry_schedule(settings)
    assert schedule[:8] == [0, 30, 90, 210, 450, 930, 1890, 3810]
    waits = [b - a for a, b in zip(schedule, schedule[1:], strict=False)]
    assert waits[:7] == [30, 60, 120, 240, 480, 960, 1920] and set(waits[7:]) == {3600}
    assert schedule[-1] <= 24 * 3600 < schedule[-1] + 3600
    assert len(schedule) == 30 and schedule[-1] == 83010  # the last at 23 h 03 min


def test_schedule_follows_the_settings(monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_FIRST_RETRY_S", "1")
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_MAX_RETRY_DELAY_S", "4")
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_RETRY_WINDOW_S", "20")
    settings = load_settings().notices
    assert [retry_delay(n, settings) for n in range(1, 6)] == [1, 2, 4, 4, 4]
    assert retry_schedule(settings) == [0, 1, 3, 7, 11, 15, 19]


def test_waits_beyond_900_s_are_chained(aws):
    sqs = aws_client("sqs", aws.settings)
    url = sqs.get_queue_url(QueueName=aws.settings.notices.queue_name)["QueueUrl"]
    calls = []

    class Recorder:
        def send_message(self, **kwargs):
            calls.append(kwargs)

    notice = Notice(build_event(final_job(COMPLETED)), CALLBACK, 0.0, due_at=3600.0)
    send_notice(Recorder(), url, notice, now=0.0)
    send_notice(Recorder(), url, replace(notice, due_at=30.0), now=0.0)
    send_notice(Recorder(), url, notice, now=4000.0)
    assert [call["DelaySeconds"] for call in calls] == [MAX_SQS_DELAY_S, 30, 0]


# --- the worker announces final jobs (moto) ---------------------------------------------------


class Pipelines:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def run_on_file(self, file_path, pipeline_id="yolo_ocr", *, sample_fps=None):
        Path(file_path).read_bytes()
        if self.error:
            raise self.error
        return {"frames": [], "pipeline_id": pipeline_id}


@pytest.fixture
def subscribed(aws) -> str:
    """An SQS queue subscribed to the events topic, as an operator would set one up."""
    sqs, sns = aws_client("sqs", aws.settings), aws_client("sns", aws.settings)
    url = sqs.create_queue(QueueName="operator-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    topic = sns.create_topic(Name=aws.settings.notices.topic)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    return url


def receive_all(aws, url: str) -> list[str]:
    sqs = aws_client("sqs", aws.settings)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [message["Body"] for message in messages]


def notices_url(aws) -> str:
    sqs = aws_client("sqs", aws.settings)
    return sqs.get_queue_url(QueueName=aws.settings.notices.queue_name)["QueueUrl"]


def run_job(aws, options: dict, error: Exception | None = None) -> tuple[Job, JobWorker]:
    job_id = new_job_id()
    aws.storage.save_file(b"video bytes", video_path(job_id))
    job = Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr", options=options)
    job.save()
    worker = JobWorker(
        storage=aws.storage, queue=aws.queue, pipelines=Pipelines(error), notifier=aws.notifier
    )
    assert worker.process(job_id) is True
    return Job.get_by_id(job_id), worker


def test_a_completed_job_reaches_the_topic_and_the_notices_queue(aws, subscribed):
    job, _ = run_job(aws, {"callback_url": CALLBACK})
    assert job.status == COMPLETED
    (envelope,) = receive_all(aws, subscribed)
    published = json.loads(json.loads(envelope)["Message"])
    assert published.pop("sent_at")
    assert published == build_event(job)
    (body,) = receive_all(aws, notices_url(aws))
    notice = Notice.decode(body)
    assert notice.callback_url == CALLBACK and notice.attempts == 0
    assert notice.event == build_event(job) and notice.event["event_id"] == published["event_id"]


def test_a_failed_job_is_announced_with_its_reason(aws, subscribed):
    job, _ = run_job(aws, {}, InvalidVideo("the file has no video track (audio only?)"))
    assert job.status == FAILED
    (envelope,) = receive_all(aws, subscribed)
    event = json.loads(json.loads(envelope)["Message"])
    assert event["type"] == "job.failed" and event["error_message"] == job.error_message
    assert receive_all(aws, notices_url(aws)) == []  # no callback_url: the topic only


def test_publish_failures_are_logged_and_the_job_still_completes(
    aws, subscribed, monkeypatch, caplog
):
    def down(**kwargs):
        raise ConnectionError("SNS is down")

    monkeypatch.setattr(aws.notifier._sns, "publish", down)
    monkeypatch.setattr(aws.notifier._sqs, "send_message", down)
    with caplog.at_level(logging.ERROR, logger="chalicelib.notify"):
        job, _ = run_job(aws, {"callback_url": CALLBACK})
    assert job.status == COMPLETED
    logged = [record.getMessage() for record in caplog.records]
    assert f"could not publish the event of job {job.job_id}" in logged
    assert f"could not queue the callback notice of job {job.job_id}" in logged


def test_a_redelivered_message_of_a_final_job_announces_again(aws, subscribed):
    """A worker that died between the final write and its notice left the message unacked."""
    job, worker = run_job(aws, {"callback_url": CALLBACK})
    assert len(receive_all(aws, subscribed)) == 1
    assert worker.process(job.job_id, receive_count=1) is False  # a plain duplicate: silent
    assert receive_all(aws, subscribed) == []
    assert worker.process(job.job_id, receive_count=2) is False  # redelivered: announce again
    (envelope,) = receive_all(aws, subscribed)
    assert json.loads(json.loads(envelope)["Message"])["event_id"] == event_id(
        job.job_id, COMPLETED
    )


def test_a_lost_lease_announces_nothing(aws, subscribed):
    job_id = new_job_id()
    job = Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr")
    job.save()
    job.update_status(RUNNING)
    worker = JobWorker(storage=aws.storage, queue=aws.queue, pipelines=Pipelines(),
                       notifier=aws.notifier)  # fmt: skip
    assert worker.process(job_id) is False  # held by "another worker": no claim, no finish
    assert receive_all(aws, subscribed) == []


def test_a_missing_topic_or_queue_never_stops_the_worker(aws, monkeypatch, caplog):
    monkeypatch.setenv("VIDEO_JOBS_NOTICES_QUEUE", "no-such-queue")
    monkeypatch.setenv("VIDEO_JOBS_EVENTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:gone")
    services.cache_clear()
    ctx = services()
    with caplog.at_level(logging.ERROR, logger="chalicelib.notify"):
        job, _ = run_job(ctx, {"callback_url": CALLBACK})
    assert job.status == COMPLETED
    assert f"could not queue the callback notice of job {job.job_id}" in caplog.text
    assert f"could not publish the event of job {job.job_id}" in caplog.text
