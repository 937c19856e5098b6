"""infra.resources.requeue_unfinished: what the local stack re-sends after the emulator starts,
whose queue is empty (moto keeps no SQS state across a restart)."""

import time

import pytest

from chalicelib.jobs import COMPLETED, PENDING, RUNNING, UPLOADING, Job
from chalicelib.queue import decode_message
from infra.resources import requeue_unfinished

pytestmark = pytest.mark.slow  # waits out a 3 s lease


def job(job_id: str, status: str) -> Job:
    row = Job.new(job_id, input_path=f"video_jobs/{job_id}.mp4", pipeline_id="yolo_ocr")
    row.status = status
    row.save()
    return row


def test_unfinished_jobs_are_resent_and_a_held_one_waits_for_its_lease(aws):
    ids = {s: f"00000000-0000-4000-8000-00000000000{i}" for i, s in enumerate("PRCU")}
    job(ids["P"], PENDING)
    job(ids["R"], PENDING).claim("worker-1", lease_s=3)  # now running, leased for 3 s
    job(ids["C"], COMPLETED)
    job(ids["U"], UPLOADING)
    assert Job.get_by_id(ids["R"]).status == RUNNING

    assert requeue_unfinished(aws.settings, aws.queue.queue_url) == 2
    first = aws.queue.dequeue(wait_s=0)
    assert decode_message(first.body) == ids["P"]
    assert aws.queue.dequeue(wait_s=0) is None  # the running job's message is delayed ...
    time.sleep(4.5)
    held = aws.queue.dequeue(wait_s=1)  # ... until its lease has run out
    assert held is not None and decode_message(held.body) == ids["R"]
