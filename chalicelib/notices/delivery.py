"""Webhook delivery: one attempt per notices-queue message, retries by re-queueing with a delay.

``Courier.handle`` runs in the ``deliver_notice`` function (an SQS trigger on the notices queue;
locally the worker runner polls that queue with a few threads). Each attempt re-checks the
callback URL (DNS may have changed since submit), POSTs the signed event to an address it just
checked, and never follows redirects. The attempt has one wall-clock deadline for connecting,
TLS, sending and reading the answer, and reads at most a few KiB of that answer: a receiver
that trickles its answer a byte at a time cannot hold a function (or the local runner) longer.
A 2xx answer is success; a timeout, a refused connection, a refused URL or any other answer is
a failure, and the notice goes back on the queue to be tried again after ``retry_delay``: the
first wait, doubling after each failure up to a cap. An attempt that would fall outside the
retry window (counted from the first attempt, not from when the notice was queued) is not made:
the notice goes to the dead-letter queue and an error naming the job is logged.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import time
from dataclasses import replace
from typing import Any

from botocore.httpsession import where as ca_bundle

from chalicelib.config import WEBHOOK_MAX_ANSWER_BYTES, NoticeSettings
from chalicelib.errors import BadRequest, MalformedMessage
from chalicelib.metrics import Metrics
from chalicelib.notices.callbacks import (
    CallbackTarget,
    Resolver,
    check_callback_url,
    system_resolver,
)
from chalicelib.notices.events import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Notice,
    render,
    send_notice,
    sign,
)

log = logging.getLogger(__name__)
USER_AGENT = "video-jobs-webhook/1"
STATUS_LINE = re.compile(rb"HTTP/1\.[0-9] ([0-9]{3})(?: [^\r\n]*)?\r?\n")
HEAD_END = re.compile(rb"\r?\n\r?\n")


class UnreadableAnswer(ValueError):
    """The receiver's answer has no HTTP/1.x status line in its first bytes."""


def retry_delay(failures: int, settings: NoticeSettings) -> int:
    """Seconds to wait after the ``failures``-th failed attempt."""
    return min(settings.first_retry_s * 2 ** (failures - 1), settings.max_retry_delay_s)


def retry_schedule(settings: NoticeSettings) -> list[int]:
    """When each attempt is made, in seconds after the first (the documented table)."""
    schedule, failures = [0], 1
    while schedule[-1] + retry_delay(failures, settings) <= settings.retry_window_s:
        schedule.append(schedule[-1] + retry_delay(failures, settings))
        failures += 1
    return schedule


class Deadline:
    """A point in (monotonic) time that every step of one attempt must end by."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self._at = seconds, time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once none are."""
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer within the {self.seconds:g} s deadline")
        return left


def default_tls() -> ssl.SSLContext:
    """Certificates checked against the CA bundle botocore ships, host names checked too."""
    return ssl.create_default_context(cafile=ca_bundle())


def post(
    target: CallbackTarget,
    body: bytes,
    headers: dict[str, str],
    deadline_s: float,
    max_answer_bytes: int = WEBHOOK_MAX_ANSWER_BYTES,
    tls: ssl.SSLContext | None = None,
) -> int:
    """POST to the first checked address of ``target`` (never re-resolving); the status.

    Connecting, the TLS handshake, sending and reading end within ``deadline_s`` in all: each
    step's socket timeout is what is left (CPython bounds a whole handshake or send by it; the
    reads are one ``recv`` each, so a trickle is cut off too). Only the status line is read.
    """
    clock = Deadline(deadline_s)
    with socket.create_connection((target.addresses[0], target.port), clock.left()) as tcp:
        sock = tcp
        if target.scheme == "https":  # TLS to the address, certificate checked for the host name
            tcp.settimeout(clock.left())
            sock = (tls or default_tls()).wrap_socket(tcp, server_hostname=target.host)
        with sock:
            sock.settimeout(clock.left())
            sock.sendall(request_bytes(target, body, headers))
            return read_status(sock, clock, max_answer_bytes)


def request_bytes(target: CallbackTarget, body: bytes, headers: dict[str, str]) -> bytes:
    """The request on the wire (``check_callback_url`` allows no spaces or controls in it)."""
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("ascii") + body


def read_status(sock: socket.socket, clock: Deadline, max_bytes: int) -> int:
    """The final status of the answer (past any 1xx), from at most ``max_bytes`` of it."""
    answer = b""
    while (status := final_status(answer)) is None:
        if len(answer) >= max_bytes:
            raise UnreadableAnswer(f"no status line in the first {max_bytes} bytes of the answer")
        sock.settimeout(clock.left())
        chunk = sock.recv(max_bytes - len(answer))
        if not chunk:
            raise UnreadableAnswer("the receiver closed the connection before its status line")
        answer += chunk
    return status


def final_status(answer: bytes) -> int | None:
    """The status code of the final response in ``answer``; None while more bytes are needed."""
    while True:
        line = STATUS_LINE.match(answer)
        if line is None:
            if b"\n" in answer:
                raise UnreadableAnswer("the answer does not start with an HTTP/1.x status line")
            return None
        if int(line[1]) >= 200:
            return int(line[1])
        interim_end = HEAD_END.search(answer)  # skip a 1xx response's head
        if interim_end is None:
            return None
        answer = answer[interim_end.end() :]


class Courier:
    """Delivers notices from the notices queue; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        dlq_url: str,
        settings: NoticeSettings,
        secret: str | None,
        allow_loopback: bool = False,
        resolve: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sqs, self._queue_url, self._dlq_url = sqs, queue_url, dlq_url
        self._settings, self._secret = settings, secret
        self._allow_loopback, self._resolve = allow_loopback, resolve
        self._tls = tls or default_tls()  # shared by the threads of the local runner
        self._metrics = metrics or Metrics()

    def handle(self, body: str, now: float | None = None) -> bool:
        """Work on one queue message; True if its notice was delivered now."""
        try:
            notice = Notice.decode(body)
        except MalformedMessage as error:
            log.warning("dropping malformed notice message: %s", error.message)
            return False
        now = time.time() if now is None else now
        if notice.due_at > now + 1:  # a wait longer than SQS's 900 s: one more hop
            send_notice(self._sqs, self._queue_url, notice, now)
            return False
        problem = self.attempt(notice)
        job_id = notice.event["job_id"]
        outcome = "delivered" if problem is None else "failed"
        self._metrics.put("NoticeAttempts", 1, {"Outcome": outcome}, job_id=job_id)
        if problem is None:
            log.info("notice for job %s delivered", job_id, extra={"job_id": job_id})
            return True
        self._retry_or_give_up(notice, problem, now)
        return False

    def attempt(self, notice: Notice) -> str | None:
        """One POST; None on a 2xx answer, else what went wrong."""
        if not self._secret:  # a deployment fault: raise, so SQS redelivers and dead-letters
            raise RuntimeError("no webhook secret configured (VIDEO_JOBS_WEBHOOK_SECRET[_ARN])")
        try:
            target = check_callback_url(
                notice.callback_url, allow_loopback=self._allow_loopback, resolve=self._resolve
            )
        except BadRequest as error:
            return error.message
        body = render(notice.event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: notice.event["event_id"],
            SIGNATURE_HEADER: sign(body, self._secret),
        }
        deadline_s = self._settings.attempt_deadline_s
        try:
            status = post(target, body, headers, deadline_s, tls=self._tls)
        except TimeoutError:  # a socket's own says only "timed out"
            return f"no answer within the {deadline_s:g} s deadline"
        except (OSError, UnreadableAnswer) as error:
            return f"{type(error).__name__}: {error}"
        return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"

    def _retry_or_give_up(self, notice: Notice, problem: str, now: float) -> None:
        job_id, failures = notice.event["job_id"], notice.attempts + 1
        first = now if notice.first_attempt_at is None else notice.first_attempt_at
        due_at = now + retry_delay(failures, self._settings)
        failed = replace(notice, attempts=failures, due_at=due_at, first_attempt_at=first)
        if due_at - first > self._settings.retry_window_s:
            self._sqs.send_message(QueueUrl=self._dlq_url, MessageBody=failed.encode())
            self._metrics.put("NoticesDeadLettered", 1, job_id=job_id)
            log.error(
                "notice for job %s dead-lettered after %d attempts; last: %s",
                job_id,
                failures,
                problem,
                extra={"job_id": job_id},
            )
            return
        send_notice(self._sqs, self._queue_url, failed, now)
        log.warning(
            "notice for job %s attempt %d failed (%s); next in %d s",
            job_id,
            failures,
            problem,
            due_at - now,
            extra={"job_id": job_id},
        )
