"""Submissions on the in-memory job store, local storage and an in-memory queue (no moto)."""

from dataclasses import replace

import pytest

from chalicelib.errors import Conflict, InvalidVideo, PayloadTooLarge, ServiceUnavailable
from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import PENDING


def test_submit_stores_records_and_queues(submissions, parts, tiny_mp4):
    storage, queue, jobs = parts
    data = tiny_mp4.read_bytes()
    job = submissions.submit(data, submissions.parse_options({"sample_fps": "2"}))
    stored = jobs.get(job.job_id)
    assert stored == replace(job, enqueued_at=stored.enqueued_at)  # set once the message is sent
    assert stored.enqueued_at is not None and job.status == PENDING and job.sample_fps == 2.0
    assert job.options == {}
    assert storage.load_file(job.input_path) == data
    assert decode_message(queue.dequeue().body) == job.job_id


def test_a_failed_job_write_leaves_no_video_and_no_message(submissions, parts, tiny_mp4):
    storage, queue, jobs = parts

    def broken(job):
        raise ConnectionError("the table is down")

    jobs.create = broken
    with pytest.raises(ServiceUnavailable, match="nothing was accepted"):
        submissions.submit(tiny_mp4.read_bytes(), JobOptions("yolo_ocr"))
    assert list(storage.root.rglob("*.mp4")) == [] and queue.dequeue() is None


def test_an_idempotency_key_returns_the_first_job(submissions, parts, tiny_mp4):
    _, queue, jobs = parts
    data, options = tiny_mp4.read_bytes(), JobOptions("yolo_ocr")
    first = submissions.submit(data, options, idempotency_key="k")
    assert submissions.submit(data, options, idempotency_key="k").job_id == first.job_id
    with pytest.raises(Conflict, match="different request"):
        submissions.submit(data, JobOptions("yolo_ocr", 2.0), idempotency_key="k")
    assert [job.job_id for job in jobs.all()] == [first.job_id]


@pytest.mark.parametrize(
    "data, error", [(b"", InvalidVideo), (b"\x00" * (7 * 1024 * 1024), PayloadTooLarge)]
)
def test_bad_bodies_are_refused_before_anything_is_written(submissions, parts, data, error):
    _, queue, jobs = parts
    with pytest.raises(error):
        submissions.submit(data, JobOptions("yolo_ocr"))
    assert jobs.all() == [] and queue.dequeue() is None


def test_options_beyond_the_columns_go_into_the_options_attribute():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class MoreOptions(JobOptions):
        callback_url: str | None = None

    assert MoreOptions("yolo_ocr", 2.0).row_options() == {}
    assert MoreOptions("yolo_ocr", callback_url="https://x").row_options() == {
        "callback_url": "https://x"
    }
