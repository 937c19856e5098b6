"""Faults on the way in and on the way through: nothing accepted is lost, nothing is half-done."""

import json
import logging
import time

import pytest

from chalicelib.analysis.worker import JobWorker
from chalicelib.bootstrap import aws_client
from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.record import COMPLETED, FAILED, PENDING, RUNNING
from infra.resources import dlq_name
from tests.support.aws import job_ids, queue_size
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


def submit(client, data):
    return client.http.post("/video/submit", body=data, headers={"Content-Type": "video/mp4"})


def worker(aws, outcome=None):
    return JobWorker(storage=aws.storage, jobs=aws.jobs, pipelines=FakePipelines(outcome))


def test_storage_failure_at_submit_leaves_nothing(client, aws, monkeypatch, tiny_mp4):
    def broken(*args, **kwargs):
        raise ConnectionError("S3 is down")

    monkeypatch.setattr(aws.storage, "save_file", broken)
    response = submit(client, tiny_mp4.read_bytes())
    assert response.status_code == 503
    assert "nothing was accepted" in response.json_body["message"]
    assert job_ids(aws) == [] and queue_size(aws) == 0


def test_job_write_failure_at_submit_removes_the_stored_video(client, aws, monkeypatch, tiny_mp4):
    def broken(*args, **kwargs):
        raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(aws.jobs, "create", broken)
    response = submit(client, tiny_mp4.read_bytes())
    assert response.status_code == 503
    s3 = aws_client("s3", aws.settings)
    assert s3.list_objects_v2(Bucket=aws.settings.bucket).get("KeyCount", 0) == 0
    assert queue_size(aws) == 0


def test_enqueue_failure_at_submit_is_healed_by_the_reconcile_sweep(
    client, aws, monkeypatch, tiny_mp4
):
    def broken(job_id):
        raise ConnectionError("SQS is down")

    with monkeypatch.context() as patch:
        patch.setattr(aws.queue, "enqueue", broken)
        response = submit(client, tiny_mp4.read_bytes())
    assert response.status_code == 202  # recorded, hence accepted: it is guaranteed to run
    job_id = response.json_body["job_id"]
    assert queue_size(aws) == 0 and aws.jobs.get(job_id).status == PENDING
    assert aws.reconcile().requeued == []  # not stale yet
    report = aws.reconcile(now=time.time() + aws.settings.stale_after_s + 1)
    assert report.requeued == [job_id]
    assert decode_message(aws.queue.dequeue().body) == job_id


def test_reconcile_requeues_abandoned_running_jobs_only(aws):
    def job(status):
        job_id = new_job(aws.jobs).job_id
        if status != PENDING:
            aws.jobs.claim(job_id, "w", lease_s=10)
        if status in (COMPLETED, FAILED):
            aws.jobs.update_status(job_id, status, owner="w")
        return job_id

    running, done, failed = job(RUNNING), job(COMPLETED), job(FAILED)
    stale_after_s = aws.settings.stale_after_s
    assert aws.reconcile().requeued == []  # lease still live
    later = time.time() + 10 + aws.settings.visibility_timeout_s + stale_after_s + 1
    assert aws.reconcile(now=later - 2).requeued == []  # its message may still come back
    requeued = aws.reconcile(now=later).requeued
    assert requeued == [running] and done not in requeued and failed not in requeued


def test_a_message_that_always_fails_ends_failed_and_dead_lettered(aws):
    """Real SQS semantics (moto): redelivery after the visibility timeout, then the redrive."""
    sqs = aws_client("sqs", aws.settings)
    queue_url = aws.queue.queue_url
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    job_id = new_job(aws.jobs, storage=aws.storage).job_id
    aws.queue.enqueue(job_id)
    always_failing = worker(aws, RuntimeError("always"))
    failures = 0
    for _ in range(6):
        message = aws.queue.dequeue()
        if message is None:
            break
        with pytest.raises(RuntimeError):
            always_failing.handle_message(message.body, message.receive_count)
        failures += 1  # not acked: SQS will deliver it again
    assert failures == 3
    stored = aws.jobs.get(job_id)
    assert stored.status == FAILED and "internal error" in stored.error_message
    dlq_url = sqs.get_queue_url(QueueName=dlq_name(aws.settings))["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job_id]


def test_garbage_messages_never_block_the_queue(aws, caplog):
    """Each garbage message is logged and dropped (acked); the job behind them still runs and
    nothing else in the table changes."""
    sqs = aws_client("sqs", aws.settings)
    bodies = ["", "not json", "{}", '{"job_id": null}', '{"job_id": "../../etc"}', "x" * 100_000]
    for body in bodies:
        sqs.send_message(QueueUrl=aws.queue.queue_url, MessageBody=body or " ")
    bystander = new_job(aws.jobs, storage=aws.storage)  # never queued: must stay as it is
    job_id = new_job(aws.jobs, storage=aws.storage).job_id
    aws.queue.enqueue(job_id)
    consumer, outcomes = worker(aws), []
    with caplog.at_level(logging.WARNING, logger="chalicelib.analysis.worker"):
        while (message := aws.queue.dequeue()) is not None:
            outcomes.append(consumer.handle_message(message.body, message.receive_count))
            aws.queue.ack(message)
    assert outcomes == [False] * len(bodies) + [True]
    dropped = [r for r in caplog.records if "dropping malformed queue message" in r.getMessage()]
    assert len(dropped) == len(bodies)
    assert aws.jobs.get(job_id).status == COMPLETED and queue_size(aws) == 0
    assert aws.jobs.get(bystander.job_id) == bystander


def test_the_scheduled_reconcile_function_runs(client, aws):
    new_job(aws.jobs)
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    response = client.lambda_.invoke("reconcile_jobs", event)
    assert response.payload is None  # ran without raising; the job is not stale yet
    assert queue_size(aws) == 0
