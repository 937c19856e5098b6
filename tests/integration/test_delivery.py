"""Webhook delivery: a real HTTP receiver on 127.0.0.1, the notices queues on moto."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from dataclasses import replace

import pytest

from chalicelib.bootstrap import aws_client
from chalicelib.config import load_settings
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED
from chalicelib.notices.delivery import Courier, retry_delay
from chalicelib.notices.events import EVENT_ID_HEADER, SIGNATURE_HEADER, Notice, event_id
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "test-webhook-secret"


def a_notice(url: str, *, first_attempt_at: float | None = None) -> Notice:
    """Due now (or at its first attempt, if one was made)."""
    job_id = new_job_id()
    now = time.time() if first_attempt_at is None else first_attempt_at
    event = {
        "event_id": event_id(job_id, COMPLETED),
        "type": "job.completed",
        "job_id": job_id,
        "status": COMPLETED,
        "created_at": "2026-12-01T10:00:00.000Z",
        "finished_at": "2026-12-01T10:00:05.000Z",
        "status_url": f"/video/status/{job_id}",
        "results_url": f"/video/results/{job_id}",
    }
    return Notice(event, url, first_attempt_at=first_attempt_at, due_at=now)


@pytest.fixture
def queues(aws):
    sqs, notices = aws_client("sqs", aws.settings), aws.settings.notices
    return (
        sqs,
        sqs.get_queue_url(QueueName=notices.queue_name)["QueueUrl"],
        sqs.get_queue_url(QueueName=notices.dlq_name)["QueueUrl"],
    )


def courier(queues, *, local: bool = True, resolve=None, **settings) -> Courier:
    sqs, url, dlq = queues
    notice_settings = replace(load_settings().notices, **settings)
    extra = {"resolve": resolve} if resolve else {}
    return Courier(sqs=sqs, queue_url=url, dlq_url=dlq, settings=notice_settings, secret=SECRET,
                   allow_loopback=local, **extra)  # fmt: skip


def take(queues, which: int = 1, wait_s: int = 0) -> list[dict]:
    sqs, url = queues[0], queues[which]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get(
        "Messages", []
    )
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def test_a_2xx_answer_delivers_a_signed_event(queues):
    with WebhookReceiver([204]) as hook:
        notice = a_notice(hook.url + "?tenant=7")
        assert courier(queues).handle(notice.encode()) is True
        (request,) = hook.received
    assert request.path == "/hook?tenant=7"
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers[EVENT_ID_HEADER.lower()] == notice.event["event_id"]
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == f"sha256={expected}"
    assert headers["host"] == f"127.0.0.1:{hook.port}"
    body = json.loads(request.body)
    assert body.pop("sent_at") and body == notice.event
    assert take(queues) == [] and take(queues, 2) == []


def test_a_failed_attempt_is_requeued_with_the_first_delay(queues):
    with WebhookReceiver([500]) as hook:
        notice = a_notice(hook.url)
        now = time.time()
        assert courier(queues, first_retry_s=2).handle(notice.encode(), now=now) is False
    assert len(hook.received) == 1
    assert take(queues) == []  # hidden for DelaySeconds
    (message,) = take(queues, wait_s=4)
    retried = Notice.decode(message["Body"])
    assert retried.attempts == 1 and retried.due_at == pytest.approx(now + 2)
    assert retried.event == notice.event and retried.first_attempt_at == now


def test_refused_connections_and_timeouts_are_failures_too(queues):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    try:
        slow_port = silent.getsockname()[1]
        c = courier(queues, attempt_deadline_s=0.5)
        for port in (closed_port, slow_port):
            started = time.monotonic()
            problem = c.attempt(a_notice(f"http://127.0.0.1:{port}/hook"))
            assert problem and time.monotonic() - started < 3, problem
    finally:
        silent.close()


def test_redirects_are_not_followed(queues):
    with WebhookReceiver([302]) as hook:
        assert courier(queues).attempt(a_notice(hook.url)) == "the receiver answered HTTP 302"
        assert len(hook.received) == 1


def test_the_url_is_checked_again_at_delivery(queues):
    """DNS changed since submit: the name now points inside; nothing is sent there."""
    with WebhookReceiver() as hook:
        resolve = {"hooks.example.com": ["10.0.0.7"]}.__getitem__
        c = courier(queues, local=False, resolve=lambda host, port: resolve(host))
        problem = c.attempt(a_notice("https://hooks.example.com/hook"))
        assert "resolves to a non-public address" in problem and "10.0.0.7" not in problem
        assert hook.received == []


def test_http_to_loopback_is_refused_off_the_local_stage(queues):
    with WebhookReceiver() as hook:
        problem = courier(queues, local=False).attempt(a_notice(hook.url))
        assert "https://" in problem and hook.received == []


def test_it_connects_to_the_address_it_checked(queues):
    """A resolver that answers 127.0.0.1 once: the POST goes there without a second look-up."""
    with WebhookReceiver() as hook:
        answers = [["127.0.0.1"]]
        c = courier(queues, resolve=lambda host, port: answers.pop())
        url = f"http://receiver.test:{hook.port}/hook"
        assert c.attempt(a_notice(url)) is None
        (request,) = hook.received
        assert request.headers["Host"] == f"receiver.test:{hook.port}"


def test_past_the_window_the_notice_is_dead_lettered_and_logged(queues, caplog):
    with WebhookReceiver([500]) as hook:
        notice = replace(a_notice(hook.url, first_attempt_at=1000.0), attempts=5)
        c = courier(queues, first_retry_s=10, retry_window_s=100)
        with caplog.at_level(logging.ERROR, logger="chalicelib.notices.delivery"):
            assert c.handle(notice.encode(), now=1095.0) is False
    assert take(queues) == []
    (dead,) = take(queues, 2)
    assert Notice.decode(dead["Body"]).attempts == 6
    (record,) = caplog.records
    assert notice.event["job_id"] in record.getMessage() and "dead-lettered" in record.getMessage()
    assert record.job_id == notice.event["job_id"]


def test_a_notice_not_yet_due_hops_again_without_an_attempt(queues):
    with WebhookReceiver() as hook:
        notice = replace(a_notice(hook.url, first_attempt_at=0.0), due_at=5000.0, attempts=3)
        assert courier(queues).handle(notice.encode(), now=2000.0) is False
        assert hook.received == []
    sqs, url, _ = queues
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_garbage_on_the_notices_queue_is_dropped(queues):
    assert courier(queues).handle("not json") is False
    assert take(queues) == [] and take(queues, 2) == []


def test_without_a_secret_nothing_is_sent_unsigned(queues):
    sqs, url, dlq = queues
    c = Courier(sqs=sqs, queue_url=url, dlq_url=dlq, settings=load_settings().notices,
                secret=None, allow_loopback=True)  # fmt: skip
    with WebhookReceiver() as hook, pytest.raises(RuntimeError, match="no webhook secret"):
        c.handle(a_notice(hook.url).encode())
    assert hook.received == []


def test_retry_delays_double_up_to_the_cap():
    settings = replace(load_settings().notices, first_retry_s=30, max_retry_delay_s=3600)
    assert [retry_delay(n, settings) for n in (1, 2, 3, 7, 8, 20)] == [30, 60, 120, 1920, 3600,
                                                                     3600]  # fmt: skip


def test_on_aws_the_key_is_read_from_secrets_manager(aws, monkeypatch):
    from chalicelib.bootstrap import courier

    secrets = aws_client("secretsmanager", aws.settings)
    arn = secrets.create_secret(Name="webhook-key", SecretString="k" * 40)["ARN"]
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_SECRET_ARN", arn)
    monkeypatch.setenv("VIDEO_JOBS_WEBHOOK_SECRET", "not this one")
    courier.cache_clear()
    try:
        assert courier()._secret == "k" * 40
    finally:
        courier.cache_clear()


# --- the retry window counts from the first attempt -----------------------------------------------


def test_a_notice_that_waited_in_a_backlog_still_gets_its_retries(queues):
    """Queued at 1000, first attempted a whole window later: re-queued, not dead-lettered."""
    with WebhookReceiver([500]) as hook:
        queued = replace(a_notice(hook.url), due_at=1000.0)
        assert queued.first_attempt_at is None
        now = 1000.0 + 200
        c = courier(queues, first_retry_s=1, retry_window_s=100)
        assert c.handle(queued.encode(), now=now) is False
    assert take(queues, 2) == []
    (message,) = take(queues, wait_s=3)  # after its 1 s delay
    retried = Notice.decode(message["Body"])
    assert (retried.attempts, retried.first_attempt_at, retried.due_at) == (1, now, now + 1)


def test_messages_queued_before_the_change_are_read_the_same_way(queues):
    """Older messages stored the time they were queued in first_attempt_at."""
    with WebhookReceiver([500, 500]) as hook:
        event = a_notice(hook.url).event
        c = courier(queues, first_retry_s=1, retry_window_s=100)
        never_tried = {"event": event, "callback_url": hook.url, "first_attempt_at": 1000.0,
                       "due_at": 1000.0, "attempts": 0}  # fmt: skip
        assert c.handle(json.dumps(never_tried), now=1300.0) is False  # retried
        tried_twice = {**never_tried, "attempts": 2, "due_at": 1097.0}
        assert c.handle(json.dumps(tried_twice), now=1097.0) is False  # next at 1101: too late
    (retry,) = take(queues, wait_s=3)
    assert Notice.decode(retry["Body"]).first_attempt_at == 1300.0
    (dead,) = take(queues, 2)
    assert Notice.decode(dead["Body"]).first_attempt_at == 1000.0
