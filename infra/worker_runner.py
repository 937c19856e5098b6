"""Local stand-in for Lambda's SQS trigger: long-poll the queue, invoke the Chalice handler.

``chalice local`` serves HTTP only. This runner receives one message at a time from the
(emulated) SQS queue, calls ``app.analyze_video`` with a Lambda-shaped SQS event, deletes the
message on success and leaves it on failure, so SQS redelivers it and, after ``maxReceiveCount``
deliveries, moves it to the dead-letter queue, as on AWS. While a job runs, a heartbeat keeps the
message invisible; if this process dies, the message reappears when the heartbeat stops.
A second poller feeds ``app.deliver_notice`` from the notices queue to a few threads
(``NoticeSettings.local_threads``), as Lambda would run several invocations: a receiver that
answers slowly holds one thread until its attempt's deadline, never the other notices.

    python -m infra.worker_runner          # SIGINT/SIGTERM: finish the current job, then exit
    python -m infra.worker_runner --jobs-only   # analyses only: no webhooks, no sweep

The local stack runs one per ``make run WORKERS=N``; only the first delivers webhooks and sweeps.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import logs
from chalicelib.bootstrap import aws_client, services
from chalicelib.config import Settings

log = logging.getLogger("video_jobs.worker_runner")
POLL_WAIT_S = 2  # short long-polls keep shutdown prompt
MAX_RECEIVE = 10  # SQS's limit on messages per receive
RECONCILE_EVERY_S = 30


def lambda_event(message: dict, queue_arn: str, region: str) -> dict:
    """The event Lambda's SQS integration would deliver for this one message."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        ]
    }


class LambdaContext:
    """The bits of Lambda's context object a handler may read."""

    def __init__(self, timeout_s: int = 600):
        self.function_name = "video-jobs-local-analyze_video"
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 1769  # the template's default (AnalyzerMemoryMB)
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


Handler = Callable[[dict, LambdaContext], object]  # app.analyze_video, app.deliver_notice


class Heartbeat:
    """Extends the message's visibility while the handler works on it."""

    def __init__(self, sqs: Any, queue_url: str, receipt: str, visibility_s: int) -> None:
        self._sqs, self._queue_url, self._receipt = sqs, queue_url, receipt
        self._visibility_s = visibility_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._visibility_s / 3):
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=self._receipt,
                VisibilityTimeout=self._visibility_s,
            )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def invoke(
    handler: Handler, sqs: Any, queue_url: str, message: dict, queue_arn: str, settings: Settings
) -> None:
    """Run the handler on one message; delete it on success, leave it on failure."""
    event = lambda_event(message, queue_arn, settings.region)
    receipt = message["ReceiptHandle"]
    try:
        with Heartbeat(sqs, queue_url, receipt, settings.visibility_timeout_s):
            handler(event, LambdaContext())
    except Exception:  # leave the message: SQS redelivers, then dead-letters it
        log.exception("handler failed for message %s", message["MessageId"])
        return
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
    except Exception:  # redelivered later, and then a no-op: the job is already final
        log.exception("could not delete message %s", message["MessageId"])
        return
    log.info("message %s done", message["MessageId"])


def sweep_every(
    every_s: float, sweep: Callable[[], object], stop: threading.Event
) -> threading.Thread:
    """Run the reconcile sweep now and every ``every_s`` on its own thread (what the scheduled
    reconcile_jobs does on AWS), so a long job never delays it."""

    def loop() -> None:
        while True:
            try:
                sweep()
            except Exception:  # the emulator restarting or a network blip: the next sweep retries
                log.exception("reconcile sweep failed; retrying in %d s", every_s)
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=loop, name="reconcile-sweep", daemon=True)
    thread.start()
    return thread


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


class Slots:
    """At most ``size`` handler calls at once, each on a thread of its own pool."""

    def __init__(self, size: int, name: str) -> None:
        self._free = threading.BoundedSemaphore(size)
        self._pool = ThreadPoolExecutor(size, thread_name_prefix=name)

    def take(self, most: int, wait_s: float) -> int:
        """Take up to ``most`` free slots, waiting at most ``wait_s`` for the first; how many."""
        if not self._free.acquire(timeout=wait_s):
            return 0
        taken = 1
        while taken < most and self._free.acquire(blocking=False):
            taken += 1
        return taken

    def give_back(self, count: int) -> None:
        for _ in range(count):
            self._free.release()

    def run(self, work: Callable[[], None]) -> None:
        """Run ``work`` on a taken slot, which it frees when it ends."""

        def then_free() -> None:
            try:
                work()
            finally:
                self._free.release()

        self._pool.submit(then_free)

    def close(self) -> None:
        """Wait for the calls under way."""
        self._pool.shutdown(wait=True)


def poll(
    handler: Handler,
    sqs: Any,
    queue_url: str,
    settings: Settings,
    stop: threading.Event,
    threads: int = 1,
) -> None:
    """Feed ``handler`` messages from ``queue_url``, at most ``threads`` at once, until ``stop``
    is set; then wait for those under way. A message is received only when a thread is free
    for it, so none waits invisible behind a busy one."""
    arn = queue_arn(sqs, queue_url)
    slots = Slots(threads, queue_url.rsplit("/", 1)[-1])
    log.info("polling %s with %d thread(s)", queue_url, threads)
    try:
        while not stop.is_set():
            free = slots.take(min(threads, MAX_RECEIVE), POLL_WAIT_S)
            messages = receive(sqs, queue_url, free, stop) if free else []
            slots.give_back(free - len(messages))
            for message in messages:
                slots.run(
                    functools.partial(invoke, handler, sqs, queue_url, message, arn, settings)
                )
    finally:
        slots.close()


def receive(sqs: Any, queue_url: str, most: int, stop: threading.Event) -> list[dict]:
    try:
        messages: list[dict] = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=most,
            WaitTimeSeconds=POLL_WAIT_S,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
    except Exception:  # the emulator restarting or a network blip: keep polling
        log.exception("polling failed; retrying in %d s", POLL_WAIT_S)
        stop.wait(POLL_WAIT_S)
        return []
    return messages


def run(stop: threading.Event, jobs_only: bool = False) -> None:
    from app import analyze_video, deliver_notice  # the very handlers Lambda runs

    wired = services()
    sqs = aws_client("sqs", wired.settings)
    notices = None
    if not jobs_only:
        notices_url = sqs.get_queue_url(QueueName=wired.settings.notices.queue_name)["QueueUrl"]
        notices = threading.Thread(  # webhook attempts must not wait for an analysis to end
            target=poll,
            args=(deliver_notice, sqs, notices_url, wired.settings, stop),
            kwargs={"threads": wired.settings.notices.local_threads},
            daemon=True,
        )
        notices.start()
        sweep_every(RECONCILE_EVERY_S, wired.reconcile, stop)
    poll(analyze_video, sqs, wired.queue.queue_url, wired.settings, stop)
    if notices is not None:
        notices.join()
    log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs-only", action="store_true", help="no webhooks, no sweep")
    args = parser.parse_args(argv)
    logs.configure()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run(stop, jobs_only=args.jobs_only)


if __name__ == "__main__":
    main()
