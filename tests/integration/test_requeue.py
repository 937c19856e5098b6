"""infra.resources.requeue_unfinished against moto's SQS: a running job's message really is
delayed until its lease has run out (DelaySeconds), a pending one is there at once."""

import time

import pytest

from chalicelib.bootstrap import aws_client
from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.record import COMPLETED, PENDING
from infra.resources import requeue_unfinished
from tests.support.jobs import new_job

pytestmark = pytest.mark.slow  # waits out a 3 s lease


def test_unfinished_jobs_are_resent_and_a_held_one_waits_for_its_lease(aws):
    pending = new_job(aws.jobs, status=PENDING).job_id
    held = new_job(aws.jobs).job_id
    aws.jobs.claim(held, "worker-1", lease_s=3)  # now running, leased for 3 s
    new_job(aws.jobs, status=COMPLETED)

    sqs = aws_client("sqs", aws.settings)
    assert requeue_unfinished(aws.jobs, sqs, aws.queue.queue_url) == 2
    first = aws.queue.dequeue(wait_s=0)
    assert decode_message(first.body) == pending
    assert aws.queue.dequeue(wait_s=0) is None  # the running job's message is delayed ...
    time.sleep(4.5)
    later = aws.queue.dequeue(wait_s=1)  # ... until its lease has run out
    assert later is not None and decode_message(later.body) == held
