"""QueueService port: the hand-off of job ids from the API to the analyzer.

Two implementations honour one contract (tests/integration/test_queue_contract.py runs
against both):
``SqsQueue`` (AWS and the emulator) and ``InMemoryQueue`` (a thread-safe FIFO for the embedded
worker and for tests). Delivery is at-least-once: a consumer ``ack``s a message after its work is
durable, and the job's conditional status writes make a second delivery harmless.

Plugging in another broker (RabbitMQ, Redis streams, Pub/Sub, ...) means one more subclass:
``send`` publishes one message body (``enqueue`` sends ``encode_message(job_id)`` through it);
``dequeue`` waits up to ``wait_s`` and returns a ``QueueMessage`` whose ``receipt`` is whatever
that broker needs to acknowledge it; ``ack`` acknowledges. Run
tests/integration/test_queue_contract.py against it.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any

BACKLOG_KINDS = ("Messages", "MessagesNotVisible", "MessagesDelayed")


def encode_message(job_id: str, slice_number: int | None = None) -> str:
    """``slice_number``: a continuation, to go on from that checkpoint (not a retry)."""
    body: dict[str, object] = {"job_id": job_id}
    if slice_number is not None:
        body["slice"] = slice_number
    return json.dumps(body)


@dataclass(frozen=True)
class QueueMessage:
    body: str
    receipt: str | None = None
    receive_count: int = 1


class QueueService(ABC):
    def enqueue(self, job_id: str, slice_number: int | None = None) -> None:
        """Send ``encode_message(job_id, slice_number)``."""
        self.send(encode_message(job_id, slice_number))

    @abstractmethod
    def send(self, body: str) -> None:
        """Send one message as it is (a job's, or another kind the worker knows: a model's
        validation, ``chalicelib/models/record.py``)."""

    @abstractmethod
    def dequeue(self, wait_s: float = 0) -> QueueMessage | None:
        """The next message, or None if none arrives within ``wait_s`` seconds."""

    @abstractmethod
    def ack(self, message: QueueMessage) -> None:
        """The message's work is done: never deliver it again."""

    @abstractmethod
    def backlog(self) -> int:
        """Jobs accepted but not done: messages waiting, in flight or delayed (approximate
        where the broker is a cluster, as SQS is)."""


class SqsQueue(QueueService):
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def send(self, body: str) -> None:
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def dequeue(self, wait_s: float = 0) -> QueueMessage | None:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=min(int(wait_s), 20),  # SQS long-polls at most 20 s
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return None
        raw = messages[0]
        count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        return QueueMessage(raw["Body"], raw["ReceiptHandle"], count)

    def ack(self, message: QueueMessage) -> None:
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt)

    def backlog(self) -> int:
        names = ["ApproximateNumberOf" + kind for kind in BACKLOG_KINDS]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)
        return sum(int(attributes["Attributes"].get(name, 0)) for name in names)


class InMemoryQueue(QueueService):
    """FIFO in one process. A dequeued message is gone: ack is a no-op."""

    def __init__(self) -> None:
        self._items: deque[str] = deque()
        self._ready = threading.Condition()

    def send(self, body: str) -> None:
        with self._ready:
            self._items.append(body)
            self._ready.notify()

    def dequeue(self, wait_s: float = 0) -> QueueMessage | None:
        with self._ready:
            if not self._ready.wait_for(lambda: self._items, timeout=wait_s):
                return None
            return QueueMessage(self._items.popleft())

    def ack(self, message: QueueMessage) -> None:
        return None

    def backlog(self) -> int:
        """Messages waiting (a dequeued message is gone, so none is in flight)."""
        with self._ready:
            return len(self._items)
