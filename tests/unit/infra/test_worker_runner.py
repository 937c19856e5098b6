"""The local runner's reconcile sweep runs on its own thread: a long job never delays it."""

import threading
import time

from chalicelib.config import load_settings
from infra.worker_runner import poll, sweep_every


def test_the_sweep_keeps_its_schedule_while_the_runner_is_busy():
    stop, swept = threading.Event(), []
    job_done = threading.Event()

    def sweep():
        swept.append(job_done.is_set())
        if len(swept) == 3:
            raise ConnectionError("the emulator blinked")  # logged; the next sweep still runs

    thread = sweep_every(0.05, sweep, stop)
    job_done.wait(0.5)  # the runner's thread, busy with one long job
    job_done.set()
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert len(swept) >= 5 and not any(swept[:5])  # swept during the job, past a failure


# --- notices go to a bounded pool of threads ------------------------------------------------------


class FakeSqs:
    """Just what ``poll`` calls; a received message is in flight until deleted."""

    def __init__(self, bodies: list[str]):
        self.waiting = [{"MessageId": b, "ReceiptHandle": b, "Body": b} for b in bodies]
        self.deleted: list[str] = []
        self.lock = threading.Lock()

    def get_queue_attributes(self, **_):
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:notices"}}

    def receive_message(self, *, MaxNumberOfMessages, **_):
        with self.lock:
            got = self.waiting[:MaxNumberOfMessages]
            del self.waiting[:MaxNumberOfMessages]
        if not got:
            time.sleep(0.02)
        return {"Messages": got}

    def delete_message(self, *, ReceiptHandle, **_):
        with self.lock:
            self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, **_):
        pass


def polling(sqs, handler, threads):
    stop = threading.Event()
    thread = threading.Thread(
        target=poll, args=(handler, sqs, "http://sqs/q/notices", load_settings(), stop),
        kwargs={"threads": threads}, daemon=True,
    )  # fmt: skip
    thread.start()
    return stop, thread


def test_a_slow_notice_does_not_hold_up_the_next_one():
    sqs, fast_done, seen = FakeSqs(["slow", "fast"]), threading.Event(), {}

    def handler(event, context):
        body = event["Records"][0]["body"]
        if body == "slow":  # a receiver trickling its answer
            seen["fast done while slow ran"] = fast_done.wait(5)
        else:
            fast_done.set()

    stop, thread = polling(sqs, handler, threads=8)
    assert fast_done.wait(5)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and seen == {"fast done while slow ran": True}
    assert sorted(sqs.deleted) == ["fast", "slow"]


def test_no_more_than_the_threads_run_and_the_rest_wait_on_the_queue():
    sqs, release = FakeSqs([f"m{i}" for i in range(5)]), threading.Event()
    running, most = [], []

    def handler(event, context):
        running.append(1)
        most.append(len(running))
        release.wait(5)
        running.pop()

    stop, thread = polling(sqs, handler, threads=2)
    deadline = time.monotonic() + 5
    while len(most) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # room for a third to start, if the bound were broken
    assert len(most) == 2 and len(sqs.waiting) == 3  # not received while no thread is free
    release.set()
    while sqs.waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(10)
    assert max(most) == 2 and sorted(sqs.deleted) == [f"m{i}" for i in range(5)]
