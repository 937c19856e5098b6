"""Faults on the way in and on the way through: nothing accepted is lost, nothing is half-done."""

import json
import time

import pytest
from chalice.test import Client

from app import app
from chalicelib.bootstrap import aws_client
from chalicelib.ids import new_job_id, video_path
from chalicelib.jobs import COMPLETED, FAILED, PENDING, RUNNING, Job
from chalicelib.reconcile import reconcile
from chalicelib.worker import JobWorker
from infra.resources import dlq_name
from tests.test_worker import FakePipelines


@pytest.fixture
def client(aws):
    with Client(app) as test_client:
        yield test_client


def submit(client, data):
    return client.http.post("/video/submit", body=data, headers={"Content-Type": "video/mp4"})


def all_jobs():
    return list(Job.scan())


def test_storage_failure_at_submit_leaves_nothing(client, aws, monkeypatch, tiny_mp4):
    def broken(*args, **kwargs):
        raise ConnectionError("S3 is down")

    monkeypatch.setattr(aws.storage, "save_file", broken)
    response = submit(client, tiny_mp4.read_bytes())
    assert response.status_code == 503
    assert "nothing was accepted" in response.json_body["message"]
    assert all_jobs() == [] and aws.queue.size() == 0


def test_job_write_failure_at_submit_removes_the_stored_video(client, aws, monkeypatch, tiny_mp4):
    def broken(self, *args, **kwargs):
        raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(Job, "save", broken)
    response = submit(client, tiny_mp4.read_bytes())
    assert response.status_code == 503
    s3 = aws_client("s3", aws.settings)
    assert s3.list_objects_v2(Bucket=aws.settings.bucket).get("KeyCount", 0) == 0
    assert aws.queue.size() == 0


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
    assert aws.queue.size() == 0 and Job.get_by_id(job_id).status == PENDING
    assert reconcile(aws.queue, stale_after_s=60).requeued == []  # not stale yet
    report = reconcile(aws.queue, stale_after_s=60, now=time.time() + 120)
    assert report.requeued == [job_id]
    assert aws.queue.dequeue().job_id == job_id


def test_reconcile_requeues_abandoned_running_jobs_only(aws):
    def job(status):
        job_id = new_job_id()
        Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr").save()
        stored = Job.get_by_id(job_id)
        if status != PENDING:
            stored.claim("w", lease_s=10)
        if status in (COMPLETED, FAILED):
            stored.update_status(status, owner="w")
        return job_id

    running, done, failed = job(RUNNING), job(COMPLETED), job(FAILED)
    assert reconcile(aws.queue, stale_after_s=5).requeued == []  # lease still live
    later = time.time() + 60
    requeued = reconcile(aws.queue, stale_after_s=5, now=later).requeued
    assert requeued == [running] and done not in requeued and failed not in requeued


def test_a_message_that_always_fails_ends_failed_and_dead_lettered(aws):
    """Real SQS semantics (moto): redelivery after the visibility timeout, then the redrive."""
    sqs = aws_client("sqs", aws.settings)
    queue_url = aws.queue.queue_url
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    job_id = new_job_id()
    aws.storage.save_file(b"x", video_path(job_id))
    Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr").save()
    aws.queue.enqueue(job_id)
    worker = JobWorker(
        storage=aws.storage, queue=aws.queue, pipelines=FakePipelines(RuntimeError("always"))
    )
    failures = 0
    for _ in range(6):
        message = aws.queue.dequeue()
        if message is None:
            break
        with pytest.raises(RuntimeError):
            worker.handle_message(message.body, message.receive_count)
        failures += 1  # not acked: SQS will deliver it again
    assert failures == 3
    stored = Job.get_by_id(job_id)
    assert stored.status == FAILED and "internal error" in stored.error_message
    dlq_url = sqs.get_queue_url(QueueName=dlq_name(aws.settings))["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job_id]


def test_garbage_messages_never_block_the_queue(aws):
    for body in [
        "",
        "not json",
        "{}",
        '{"job_id": null}',
        '{"job_id": "../../etc"}',
        "x" * 100_000,
    ]:
        aws_client("sqs", aws.settings).send_message(
            QueueUrl=aws.queue.queue_url, MessageBody=body or " "
        )
    job_id = new_job_id()
    aws.storage.save_file(b"x", video_path(job_id))
    Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr").save()
    aws.queue.enqueue(job_id)
    worker = JobWorker(storage=aws.storage, queue=aws.queue, pipelines=FakePipelines())
    while worker.run_once() or aws.queue.size():
        pass
    assert Job.get_by_id(job_id).status == COMPLETED and aws.queue.size() == 0


def test_the_scheduled_reconcile_function_runs(client, aws):
    job_id = new_job_id()
    Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr").save()
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
    response = client.lambda_.invoke("reconcile_jobs", event)
    assert response.payload is None  # ran without raising; the job is not stale yet
    assert aws.queue.size() == 0
