"""The reconcile sweep on real SQS semantics (moto): it re-queues stranded jobs only, never a
backlog, and leaves a poison job to its own message's redelivery, so that message, not a copy,
reaches the dead-letter queue."""

import json
import time

from chalicelib.analysis.worker import JobWorker
from chalicelib.bootstrap import aws_client
from chalicelib.jobs.record import FAILED, PENDING
from infra.resources import dlq_name
from tests.support.aws import queue_size
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


def later(aws, extra_s: float) -> float:
    return time.time() + aws.settings.stale_after_s + extra_s


def test_a_backlog_waiting_in_line_is_never_requeued(aws):
    """The attack: 20 jobs queued behind a long one; the sweep re-sent all 20."""
    for _ in range(20):
        aws.submissions._enqueue(new_job(aws.jobs).job_id)
    assert queue_size(aws) == 20
    for hours in (0, 1, 24):
        assert aws.reconcile(now=later(aws, hours * 3600 + 1)).requeued == []
    assert queue_size(aws) == 20


def test_a_job_never_enqueued_is_sent_once(aws, monkeypatch):
    job_id = new_job(aws.jobs).job_id  # recorded, but its enqueue failed
    assert aws.reconcile().requeued == []  # not stale yet
    assert aws.reconcile(now=later(aws, 1)).requeued == [job_id]
    assert aws.jobs.get(job_id).enqueued_at is not None
    assert aws.reconcile(now=later(aws, 3600)).requeued == []  # its message is in line now
    assert queue_size(aws) == 1 and aws.jobs.get(job_id).status == PENDING


def test_an_abandoned_job_waits_for_its_own_redelivery_first(aws):
    job_id = new_job(aws.jobs).job_id
    aws.queue.enqueue(job_id)
    aws.jobs.mark_enqueued(job_id)
    lease = aws.jobs.claim(job_id, "dead-worker", lease_s=10).lease_expires_at
    visibility = aws.settings.visibility_timeout_s
    assert aws.reconcile(now=lease + aws.settings.stale_after_s + 1).requeued == []
    after_redelivery = lease + visibility + aws.settings.stale_after_s + 1
    assert aws.reconcile(now=after_redelivery).requeued == [job_id]  # its message went missing
    assert aws.reconcile(now=after_redelivery + 600).requeued == []  # sent once since the lease


def test_a_poison_job_is_retried_by_its_own_message_and_dead_lettered(aws):
    """An unexpected error on every attempt, with the sweep running between deliveries (every
    30 s locally, so at least twice before the 60 s visibility timeout brings it back)."""
    sqs = aws_client("sqs", aws.settings)
    queue_url = aws.queue.queue_url
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    job_id = new_job(aws.jobs, storage=aws.storage).job_id
    aws.submissions._enqueue(job_id)
    poison = JobWorker(storage=aws.storage, jobs=aws.jobs,
                       pipelines=FakePipelines(RuntimeError("always")))  # fmt: skip
    deliveries, requeued = 0, []
    while (message := aws.queue.dequeue()) is not None:
        deliveries += 1
        assert deliveries <= 5
        try:
            poison.handle_message(message.body, message.receive_count)
            aws.queue.ack(message)  # a handler that returns: the message is deleted
        except RuntimeError:
            pass  # a handler that raises: the message is left for SQS to deliver again
        for seconds in (0, 30, 59):
            requeued += aws.reconcile(now=time.time() + seconds).requeued
    assert requeued == [] and deliveries == 3
    stored = aws.jobs.get(job_id)
    assert (
        stored.status == FAILED
        and stored.attempts == 3
        and "internal error" in (stored.error_message or "")
    )
    dlq_url = sqs.get_queue_url(QueueName=dlq_name(aws.settings))["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job_id]
