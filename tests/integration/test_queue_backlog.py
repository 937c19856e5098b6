"""QueueService.backlog(), which the Rekognition Start* limit reads: every accepted job that is
not done yet, whether its message waits, is being worked on, or is delayed."""

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.jobs.ids import new_job_id


@pytest.fixture(params=["sqs", "memory"])
def queue(request):
    if request.param == "sqs":
        return request.getfixturevalue("aws").queue
    return InMemoryQueue()


def test_an_empty_queue_has_no_backlog(queue):
    assert queue.backlog() == 0


def test_the_backlog_counts_waiting_messages_and_forgets_acknowledged_ones(queue):
    for _ in range(3):
        queue.enqueue(new_job_id())
    assert queue.backlog() == 3
    while (message := queue.dequeue()) is not None:
        queue.ack(message)
    assert queue.backlog() == 0


def test_the_sqs_backlog_counts_waiting_in_flight_and_delayed_messages(aws):
    queue = aws.queue
    queue.enqueue(new_job_id())
    queue.enqueue(new_job_id())
    assert queue.dequeue() is not None  # in flight now
    queue._sqs.send_message(QueueUrl=queue.queue_url, MessageBody="{}", DelaySeconds=900)
    assert queue.backlog() == 3
