"""Completion notices: the event, its signature, the notice messages, and the worker's finish
hook (in-memory store, a recording notifier). The SNS topic and the notices
queue on moto are in tests/integration/test_notify_topic.py."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.worker import JobWorker
from chalicelib.errors import InvalidVideo, MalformedMessage
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED, FAILED, JobRecord
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.notices.events import (
    Notice,
    build_event,
    callback_url_of,
    event_id,
    render,
    sign,
)
from tests.support.jobs import final_job, new_job
from tests.support.pipelines import FakePipelines

CALLBACK = "https://hooks.example.com/video-jobs"


def verify(body: bytes, header: str, secret: str) -> bool:
    """What docs/notifications.md tells receivers to do."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# --- the event and its signature ------------------------------------------------------------


def test_event_ids_are_fixed_by_job_and_status():
    job_id = new_job_id()
    assert event_id(job_id, COMPLETED) == event_id(job_id, COMPLETED)
    assert event_id(job_id, COMPLETED) != event_id(job_id, FAILED)
    assert event_id(job_id, COMPLETED) != event_id(new_job_id(), COMPLETED)


def test_a_completed_event_says_where_the_results_are():
    job = final_job(COMPLETED)
    event = build_event(job, "https://api.example.com/api")
    assert event == {
        "event_id": event_id(job.job_id, COMPLETED),
        "type": "job.completed",
        "job_id": job.job_id,
        "status": COMPLETED,
        "created_at": job.created_at,
        "finished_at": "2026-12-01T10:00:05.000Z",
        "status_url": f"https://api.example.com/api/video/status/{job.job_id}",
        "results_url": f"https://api.example.com/api/video/results/{job.job_id}",
    }


def test_a_failed_event_says_why():
    job = final_job(FAILED, "the file has no video track (audio only?)")
    event = build_event(job)
    assert event["type"] == "job.failed" and event["status"] == FAILED
    assert event["error_message"] == "the file has no video track (audio only?)"
    assert event["status_url"] == f"/video/status/{job.job_id}" and "results_url" not in event


def test_only_sent_at_differs_between_copies():
    event = build_event(final_job(COMPLETED))
    first = json.loads(render(event, "2026-12-01T10:00:06.000Z"))
    second = json.loads(render(event, "2026-12-01T10:00:36.000Z"))
    assert first.pop("sent_at") != second.pop("sent_at")
    assert first == second == event


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = render(build_event(final_job(COMPLETED)))
    signature = sign(body, "s3cret")
    assert signature == "sha256=" + hmac.new(b"s3cret", body, "sha256").hexdigest()
    assert verify(body, signature, "s3cret")
    assert not verify(body, signature, "another secret")
    assert not verify(body.replace(b"completed", b"failed", 1), signature, "s3cret")


def test_notice_messages_round_trip_and_garbage_is_refused():
    notice = Notice(build_event(final_job(COMPLETED)), CALLBACK, 100.0, 130.0, attempts=1)
    assert Notice.decode(notice.encode()) == notice
    for garbage in ("", "[]", "{}", '{"event": 1}', json.dumps({**json.loads(notice.encode()),
                                                                "event": {}})):  # fmt: skip
        with pytest.raises(MalformedMessage):
            Notice.decode(garbage)


def test_the_callback_url_is_read_from_the_options_dict():
    job = final_job(COMPLETED)
    assert callback_url_of(job) is None
    assert callback_url_of(replace(job, options={"callback_url": CALLBACK})) == CALLBACK
    assert callback_url_of(replace(job, options={"callback_url": 7})) is None


# --- the worker's finish hook (in-memory store) -----------------------------------------------


class RecordingNotifier:
    def __init__(self):
        self.announced: list[JobRecord] = []

    def announce(self, job: JobRecord) -> None:
        self.announced.append(job)


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        yield InMemoryJobStore(), storage, RecordingNotifier()


def worker(parts, outcome=None) -> JobWorker:
    jobs, storage, notifier = parts
    return JobWorker(
        storage=storage, jobs=jobs, pipelines=FakePipelines(outcome), on_finish=notifier.announce
    )


@pytest.mark.parametrize("outcome,status", [(None, COMPLETED), (InvalidVideo("no"), FAILED)])
def test_the_write_that_makes_a_job_final_announces_it_once(parts, outcome, status):
    jobs, storage, notifier = parts
    job = new_job(jobs, storage=storage, options={"callback_url": CALLBACK})
    assert worker(parts, outcome).process(job.job_id) is True
    (announced,) = notifier.announced
    assert announced == jobs.get(job.job_id) and announced.status == status
    assert callback_url_of(announced) == CALLBACK


def test_a_duplicate_is_silent_and_a_redelivery_announces_again(parts):
    jobs, storage, notifier = parts
    job = new_job(jobs, storage=storage)
    w = worker(parts)
    assert w.process(job.job_id) is True
    assert w.process(job.job_id, receive_count=1) is False
    assert len(notifier.announced) == 1
    assert w.process(job.job_id, receive_count=2) is False  # the first may have died unannounced
    assert [j.job_id for j in notifier.announced] == [job.job_id] * 2


def test_a_job_held_elsewhere_or_unfinished_is_not_announced(parts):
    jobs, storage, notifier = parts
    job = new_job(jobs, storage=storage)
    jobs.claim(job.job_id, "another-worker", lease_s=600)
    assert worker(parts).process(job.job_id, receive_count=2) is False
    assert notifier.announced == []
