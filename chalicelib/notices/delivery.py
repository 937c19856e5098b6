"""Webhook delivery: one attempt per notices-queue message, retries by re-queueing with a delay.

``Courier.handle`` runs in the ``deliver_notice`` function (an SQS trigger on the notices queue;
locally the worker runner polls that queue). Each attempt re-checks the callback URL (DNS may
have changed since submit), POSTs the signed event to an address it just checked, with a short
timeout, and never follows redirects. A 2xx answer is success; a timeout, a refused
connection, a refused URL or any other answer is a failure, and the notice goes back on the
queue to be tried again after ``retry_delay``: the first wait, doubling after each failure up
to a cap. An attempt that would fall outside the retry window (counted from the first attempt)
is not made: the notice goes to the dead-letter queue and an error naming the job is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import urllib3
from botocore.httpsession import where as ca_bundle

from chalicelib.config import NoticeSettings
from chalicelib.errors import BadRequest, MalformedMessage
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


def post(target: CallbackTarget, body: bytes, headers: dict, timeout_s: float) -> int:
    """POST to the first checked address of ``target`` (never re-resolving); the status."""
    address, port = target.addresses[0], target.port
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":  # TLS to the address, certificate checked for the host name
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, maxsize=1, retries=False)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.netloc},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        response.release_conn()
        return response.status


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
    ) -> None:
        self._sqs, self._queue_url, self._dlq_url = sqs, queue_url, dlq_url
        self._settings, self._secret = settings, secret
        self._allow_loopback, self._resolve = allow_loopback, resolve

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
        try:
            status = post(target, body, headers, self._settings.timeout_s)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return f"{type(error).__name__}: {error}"
        return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"

    def _retry_or_give_up(self, notice: Notice, problem: str, now: float) -> None:
        job_id, failures = notice.event["job_id"], notice.attempts + 1
        due_at = now + retry_delay(failures, self._settings)
        failed = replace(notice, attempts=failures, due_at=due_at)
        if due_at - notice.first_attempt_at > self._settings.retry_window_s:
            self._sqs.send_message(QueueUrl=self._dlq_url, MessageBody=failed.encode())
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
