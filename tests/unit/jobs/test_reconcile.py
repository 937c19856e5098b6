"""infra.resources.requeue_unfinished on the in-memory store: what the local stack re-sends after
the emulator starts (moto keeps no SQS state across a restart), and with what delay."""

from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.record import COMPLETED, PENDING, UPLOADING
from chalicelib.jobs.store import InMemoryJobStore
from infra.resources import requeue_unfinished
from tests.support.jobs import new_job

QUEUE_URL = "http://127.0.0.1/queue/video-jobs-queue"


class RecordingSqs:
    """The one SQS call requeue_unfinished makes, recorded."""

    def __init__(self):
        self.sent: dict[str, int] = {}

    def send_message(self, *, QueueUrl, MessageBody, DelaySeconds):  # noqa: N803 (boto3 names)
        assert QueueUrl == QUEUE_URL
        self.sent[decode_message(MessageBody)] = DelaySeconds


def test_pending_and_running_jobs_are_resent_a_held_one_after_its_lease():
    jobs, sqs = InMemoryJobStore(), RecordingSqs()
    pending = new_job(jobs, status=PENDING).job_id
    held = new_job(jobs).job_id
    lease_expires_at = jobs.claim(held, "worker-1", lease_s=30).lease_expires_at
    expired = new_job(jobs).job_id
    jobs.claim(expired, "worker-2", lease_s=30)
    new_job(jobs, status=COMPLETED)
    new_job(jobs, status=UPLOADING)

    now = lease_expires_at - 20.5  # the held lease has 20.5 s left; the other one ran out
    jobs.release_lease(expired, "worker-2")
    assert requeue_unfinished(jobs, sqs, QUEUE_URL, now=now) == 3
    assert sqs.sent == {pending: 0, held: 22, expired: 0}  # ceil(20.5 + 1)


def test_a_lease_longer_than_sqs_allows_waits_the_most_sqs_allows():
    jobs, sqs = InMemoryJobStore(), RecordingSqs()
    job_id = new_job(jobs).job_id
    lease_expires_at = jobs.claim(job_id, "worker-1", lease_s=3600).lease_expires_at
    assert requeue_unfinished(jobs, sqs, QUEUE_URL, now=lease_expires_at - 3600) == 1
    assert sqs.sent == {job_id: 900}


def test_nothing_unfinished_sends_nothing():
    jobs, sqs = InMemoryJobStore(), RecordingSqs()
    new_job(jobs, status=COMPLETED)
    assert requeue_unfinished(jobs, sqs, QUEUE_URL) == 0 and sqs.sent == {}
