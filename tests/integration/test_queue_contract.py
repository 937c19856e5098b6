"""ONE contract, run against every QueueService implementation."""

import threading

import pytest

from chalicelib.adapters.queue import InMemoryQueue, QueueMessage, encode_message
from chalicelib.errors import MalformedMessage
from chalicelib.jobs.ids import decode_message, new_job_id


@pytest.fixture(params=["sqs", "memory"])
def queue(request):
    if request.param == "sqs":
        return request.getfixturevalue("aws").queue
    return InMemoryQueue()


def test_empty_queue_returns_none(queue):
    assert queue.dequeue() is None


def test_enqueue_dequeue_ack(queue):
    job_id = new_job_id()
    queue.enqueue(job_id)
    message = queue.dequeue()
    assert decode_message(message.body) == job_id and message.receive_count == 1
    queue.ack(message)
    assert queue.dequeue() is None


def test_every_message_is_delivered(queue):
    ids = [new_job_id() for _ in range(5)]
    for job_id in ids:
        queue.enqueue(job_id)
    received = []
    while (message := queue.dequeue()) is not None:
        received.append(decode_message(message.body))
        queue.ack(message)
    assert sorted(received) == sorted(ids)


def test_in_memory_queue_is_fifo():
    queue, ids = InMemoryQueue(), [new_job_id() for _ in range(20)]
    for job_id in ids:
        queue.enqueue(job_id)
    assert [decode_message(queue.dequeue().body) for _ in ids] == ids


def test_in_memory_queue_under_many_threads():
    queue, per_thread, producers = InMemoryQueue(), 200, 8
    received, lock = [], threading.Lock()

    def produce():
        for _ in range(per_thread):
            queue.enqueue(new_job_id())

    def consume():
        while (message := queue.dequeue(wait_s=0.5)) is not None:
            with lock:
                received.append(decode_message(message.body))

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    threads += [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(received) == len(set(received)) == per_thread * producers
    assert queue.dequeue() is None


def test_in_memory_dequeue_waits_for_a_producer():
    queue, job_id = InMemoryQueue(), new_job_id()
    threading.Timer(0.1, queue.enqueue, args=(job_id,)).start()
    assert decode_message(queue.dequeue(wait_s=5).body) == job_id


@pytest.mark.parametrize(
    "body, error",
    [
        ("not json", "not JSON"),
        ("[]", "has no job_id"),
        ('{"id": 1}', "has no job_id"),
        ('{"job_id": "../../etc"}', "names no possible job"),
        ('{"job_id": 5}', "names no possible job"),
    ],
)
def test_malformed_messages_are_rejected(body, error):
    with pytest.raises(MalformedMessage, match=error):
        _ = decode_message(QueueMessage(body).body)


def test_message_codec_round_trips():
    job_id = new_job_id()
    assert decode_message(encode_message(job_id)) == job_id
