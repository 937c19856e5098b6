"""Completion notices: one event per job that reaches ``completed`` or ``failed``.

The worker calls ``Notifier.announce`` right after its conditional final write succeeds. That
publishes the event to the SNS topic ``video-jobs-events`` (every job) and, for a job with a
``callback_url``, puts a ``Notice`` on the notices queue, whose handler
(chalicelib/notices/delivery.py) POSTs it, signed, and retries with growing delays. Neither step
can fail or delay the job: an error is logged with the job id and the job stays as it is.

The event is built from the final job row, so every copy and every attempt carries the same
``event_id`` (a UUID5 of job id and status) and the same fields; only ``sent_at`` changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from chalicelib.errors import MalformedMessage
from chalicelib.jobs.record import COMPLETED, FAILED, JobRecord, utc_now
from chalicelib.notices.publisher import Publisher

log = logging.getLogger(__name__)
EVENT_NAMESPACE = uuid.UUID("5d0b1c6e-8a57-4c1e-9a57-2f5e8e1a4c11")  # fixed: ids never change
EVENT_TYPES = {COMPLETED: "job.completed", FAILED: "job.failed"}
EVENT_ID_HEADER = "X-Video-Jobs-Event-Id"
SIGNATURE_HEADER = "X-Video-Jobs-Signature"
MAX_SQS_DELAY_S = 900  # SQS DelaySeconds limit; longer waits are chained (Notice.due_at)


def event_id(job_id: str, status: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{job_id}/{status}"))


def build_event(job: JobRecord, public_url: str = "") -> dict:
    """The event of a final job, without ``sent_at`` (each copy stamps its own)."""
    status_url = f"{public_url}/video/status/{job.job_id}"
    event: dict[str, str | None] = {
        "event_id": event_id(job.job_id, job.status),
        "type": EVENT_TYPES[job.status],
        "job_id": job.job_id,
        "status": job.status,
        "created_at": job.created_at,
        "finished_at": job.updated_at,
        "status_url": status_url,
    }
    if job.status == COMPLETED:
        event["results_url"] = f"{public_url}/video/results/{job.job_id}"
    else:
        event["error_message"] = job.error_message
    return event


def render(event: dict, sent_at: str | None = None) -> bytes:
    """The wire form of one copy: canonical JSON with ``sent_at`` (now, unless given)."""
    stamped = {**event, "sent_at": sent_at or utc_now()}
    return json.dumps(stamped, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-Video-Jobs-Signature`` value: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def callback_url_of(job: JobRecord) -> str | None:
    url = (job.options or {}).get("callback_url")
    return url if isinstance(url, str) and url else None


@dataclass(frozen=True)
class Notice:
    """A webhook delivery waiting on the notices queue."""

    event: dict
    callback_url: str
    first_attempt_at: float | None  # epoch seconds (None: none yet); the retry window's start
    due_at: float  # not attempted before this (waits over 900 s take several hops)
    attempts: int = 0  # made so far

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, body: str) -> Notice:
        try:
            data = json.loads(body)
            notice = cls(**data)
        except (TypeError, ValueError):
            raise MalformedMessage("not a notice message") from None
        if not isinstance(notice.event, dict) or "job_id" not in notice.event:
            raise MalformedMessage("notice message without an event")
        if notice.attempts == 0:  # older messages kept the time they were queued here
            notice = replace(notice, first_attempt_at=None)
        return notice


def send_notice(sqs: Any, queue_url: str, notice: Notice, now: float | None = None) -> None:
    """Queue ``notice`` so it shows up at ``due_at`` (or within 900 s of it, then hops again)."""
    wait = notice.due_at - (time.time() if now is None else now)
    delay = min(MAX_SQS_DELAY_S, max(0, math.ceil(wait)))
    sqs.send_message(QueueUrl=queue_url, MessageBody=notice.encode(), DelaySeconds=delay)


class Notifier:
    """Announces final jobs: the SNS topic for operators, the notices queue for callbacks.

    ``topic_arn`` and ``notices_url`` are functions, called (and retried) only when a job is
    announced: a look-up that fails must not stop the worker from being built.
    """

    def __init__(
        self,
        *,
        publisher: Publisher,
        topic_arn: Callable[[], str],
        sqs: Any,
        notices_url: Callable[[], str],
        public_url: str = "",
    ) -> None:
        self._publisher, self._topic_arn = publisher, topic_arn
        self._sqs, self._notices_url = sqs, notices_url
        self._public_url = public_url

    def announce(self, job: JobRecord) -> None:
        """Never raises: a notice must not fail a job that is already final."""
        try:
            event = build_event(job, self._public_url)
            callback_url = callback_url_of(job)
        except Exception:
            log.exception("no notice for job %s: its row is unreadable", job.job_id)
            return
        self._publish(event)
        if callback_url:
            now = time.time()
            self._queue(Notice(event, callback_url, first_attempt_at=None, due_at=now))

    def _publish(self, event: dict) -> None:
        job_id = event["job_id"]
        try:
            self._publisher.publish(
                self._topic_arn(),
                render(event).decode(),
                {"type": event["type"], "job_id": job_id},
            )
        except Exception:
            log.exception("could not publish the event of job %s", job_id, extra={"job_id": job_id})

    def _queue(self, notice: Notice) -> None:
        job_id = notice.event["job_id"]
        try:
            send_notice(self._sqs, self._notices_url(), notice)
        except Exception:
            log.exception(
                "could not queue the callback notice of job %s", job_id, extra={"job_id": job_id}
            )
