"""The worker announces final jobs on moto: to the SNS topic (an SQS queue subscribed to it, as
an operator would) and, for a job with a callback_url, to the notices queue."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.analysis.worker import JobWorker
from chalicelib.bootstrap import Services, aws_client, services
from chalicelib.errors import InvalidVideo
from chalicelib.jobs.record import COMPLETED, FAILED, JobRecord
from chalicelib.notices.events import Notice, build_event, event_id
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines

CALLBACK = "https://hooks.example.com/video-jobs"


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


def run_job(
    aws: Services, options: dict, error: Exception | None = None
) -> tuple[JobRecord, JobWorker]:
    job = new_job(aws.jobs, storage=aws.storage, options=options)
    worker = JobWorker(
        storage=aws.storage,
        jobs=aws.jobs,
        pipelines=FakePipelines(error),
        on_finish=aws.notifier.announce,
    )
    assert worker.process(job.job_id) is True
    return aws.jobs.get(job.job_id), worker


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
    def down(*args, **kwargs):
        raise ConnectionError("SNS is down")

    monkeypatch.setattr(aws.notifier._publisher, "publish", down)
    monkeypatch.setattr(aws.notifier._sqs, "send_message", down)
    with caplog.at_level(logging.ERROR, logger="chalicelib.notices.events"):
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


def test_a_job_held_by_another_worker_announces_nothing(aws, subscribed):
    job = new_job(aws.jobs, storage=aws.storage)
    aws.jobs.claim(job.job_id, "worker-1", lease_s=60)
    worker = JobWorker(storage=aws.storage, jobs=aws.jobs, pipelines=FakePipelines(),
                       on_finish=aws.notifier.announce)  # fmt: skip
    assert worker.process(job.job_id) is False  # held by "another worker": no claim, no finish
    assert receive_all(aws, subscribed) == []


def test_a_missing_topic_or_queue_never_stops_the_worker(aws, monkeypatch, caplog):
    monkeypatch.setenv("VIDEO_JOBS_NOTICES_QUEUE", "no-such-queue")
    monkeypatch.setenv("VIDEO_JOBS_EVENTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:gone")
    services.cache_clear()
    ctx = services()
    with caplog.at_level(logging.ERROR, logger="chalicelib.notices.events"):
        job, _ = run_job(ctx, {"callback_url": CALLBACK})
    assert job.status == COMPLETED
    assert f"could not queue the callback notice of job {job.job_id}" in caplog.text
    assert f"could not publish the event of job {job.job_id}" in caplog.text
