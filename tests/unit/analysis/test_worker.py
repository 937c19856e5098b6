"""JobWorker on the in-memory job store and local storage, with a fake pipeline (the real one
has its own tests; tests/integration/test_reliability.py runs the worker on moto)."""

import logging
import tempfile
import time

import pytest

from chalicelib.adapters.queue import encode_message
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.worker import INTERNAL_ERROR, STAGES, JobWorker, WorkerSettings
from chalicelib.errors import InvalidVideo
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED, FAILED, RUNNING
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results.pieces import read_document
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


@pytest.fixture
def storage():
    with LocalStorage.temporary() as local:
        yield local


@pytest.fixture
def jobs():
    return InMemoryJobStore()


def pending_job(jobs, storage, sample_fps=None):
    return new_job(jobs, storage=storage, sample_fps=sample_fps)


def worker(jobs, storage, outcome=None, **settings):
    return JobWorker(storage=storage, jobs=jobs, pipelines=FakePipelines(outcome),
                     settings=WorkerSettings(**settings))  # fmt: skip


def test_process_runs_the_pipeline_and_stores_results(jobs, storage):
    job, w = pending_job(jobs, storage, sample_fps=2.0), worker(jobs, storage)
    assert w.process(job.job_id) is True
    stored = jobs.get(job.job_id)
    assert stored.status == COMPLETED
    assert stored.output_path == f"video_jobs/{job.job_id}_results.json"
    assert read_document(storage, stored.output_path)["pipeline_id"] == "yolo_ocr"
    ((path, data, pipeline_id, fps),) = w.pipelines.calls
    assert data == b"video bytes" and fps == 2.0 and pipeline_id == "yolo_ocr"
    assert not path.exists()  # the temp copy is gone


def test_duplicate_delivery_does_no_second_run(jobs, storage):
    job, w = pending_job(jobs, storage), worker(jobs, storage)
    assert w.process(job.job_id) is True
    assert w.process(job.job_id) is False
    assert len(w.pipelines.calls) == 1


def test_a_job_claimed_elsewhere_is_left_alone(jobs, storage):
    job, w = pending_job(jobs, storage), worker(jobs, storage)
    jobs.claim(job.job_id, "elsewhere", lease_s=60)
    assert w.process(job.job_id) is False
    assert w.pipelines.calls == []


def test_invalid_video_fails_the_job_with_its_message(jobs, storage):
    job = pending_job(jobs, storage)
    w = worker(jobs, storage, InvalidVideo("the file has no video track (audio only?)"))
    assert w.process(job.job_id) is True
    stored = jobs.get(job.job_id)
    assert stored.status == FAILED
    assert stored.error_message == "the file has no video track (audio only?)"


def test_unexpected_errors_are_retried_then_fail_the_job_without_leaking_details(
    jobs, storage, caplog
):
    job = pending_job(jobs, storage)
    w = worker(jobs, storage, RuntimeError("/secret/path exploded"))
    for receive_count in (1, 2):  # not the last attempt: release the job and let SQS retry
        with pytest.raises(RuntimeError):
            w.process(job.job_id, receive_count)
        stored = jobs.get(job.job_id)
        assert stored.status == RUNNING and stored.lease_expires_at <= time.time()  # released
    with pytest.raises(RuntimeError):  # the last attempt fails the job, and still raises
        w.process(job.job_id, receive_count=3)  # so the message goes to the dead-letter queue
    stored = jobs.get(job.job_id)
    assert stored.status == FAILED and stored.error_message == INTERNAL_ERROR
    assert stored.attempts == 3 and len(w.pipelines.calls) == 3
    assert "/secret/path exploded" in caplog.text  # the traceback is in the log only
    assert w.process(job.job_id, receive_count=4) is False


def test_a_job_whose_workers_keep_dying_is_failed(jobs, storage):
    job = pending_job(jobs, storage)
    for number in range(3):  # three workers claim it and die without a word
        jobs.claim(job.job_id, f"dead-{number}", lease_s=60)
        jobs.release_lease(job.job_id, f"dead-{number}")
    w = worker(jobs, storage)
    assert w.process(job.job_id) is True
    stored = jobs.get(job.job_id)
    assert stored.status == FAILED and "abandoned 3 times" in stored.error_message
    assert w.pipelines.calls == []


def test_a_running_job_with_a_live_lease_is_not_taken(jobs, storage):
    job = pending_job(jobs, storage)
    jobs.claim(job.job_id, "alive-elsewhere", lease_s=60)
    w = worker(jobs, storage)
    assert w.process(job.job_id) is False and w.pipelines.calls == []


def test_a_worker_that_lost_its_lease_neither_stores_nor_finishes(jobs, storage):
    job = pending_job(jobs, storage)

    def take_over() -> None:
        held = jobs.get(job.job_id)  # this worker is presumed dead: another takes over
        jobs.release_lease(job.job_id, held.lease_owner)
        jobs.claim(job.job_id, "the-successor", lease_s=60)

    w = worker(jobs, storage, lease_s=0.3)
    w.pipelines.before_analysis = take_over
    assert w.process(job.job_id) is False
    stored = jobs.get(job.job_id)
    assert stored.status == RUNNING and stored.lease_owner == "the-successor"
    assert storage.size(f"video_jobs/{job.job_id}_results.json") is None


def test_results_already_stored_by_a_dead_attempt_are_kept(jobs, storage):
    job = pending_job(jobs, storage)
    storage.save_file(b'{"frames": [], "kept": true}', f"video_jobs/{job.job_id}_results.json")
    assert worker(jobs, storage).process(job.job_id) is True
    stored = jobs.get(job.job_id)
    assert stored.status == COMPLETED
    assert read_document(storage, stored.output_path) == {"frames": [], "kept": True}


def test_missing_input_fails_the_job_at_once(jobs, storage):
    job = pending_job(jobs, storage)
    storage.delete_file(job.input_path)
    assert worker(jobs, storage).process(job.job_id) is True
    stored = jobs.get(job.job_id)
    assert stored.status == FAILED and "no longer in storage" in stored.error_message


def test_temp_files_are_removed_even_on_failure(jobs, storage, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    job = pending_job(jobs, storage)
    with pytest.raises(RuntimeError):
        worker(jobs, storage, RuntimeError("boom")).process(job.job_id)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "body, logged",
    [
        ("garbage", "not JSON"),
        ("{}", "has no job_id"),
        ('{"job_id": "../../etc"}', "names no possible job"),
        (encode_message(new_job_id()), "unknown job"),
    ],
)
def test_messages_naming_no_job_are_logged_and_dropped(jobs, storage, caplog, body, logged):
    job = pending_job(jobs, storage)
    with caplog.at_level(logging.WARNING, logger="chalicelib.analysis.worker"):
        assert worker(jobs, storage).handle_message(body) is False
    assert logged in caplog.text
    assert jobs.get(job.job_id) == job  # nothing else was touched


def test_each_transition_and_the_finished_job_are_logged_with_fields(jobs, storage, caplog):
    job = pending_job(jobs, storage)
    with caplog.at_level(logging.INFO):
        worker(jobs, storage).process(job.job_id)
    mine = [r for r in caplog.records if getattr(r, "job_id", None) == job.job_id]
    stages = [(r.stage, r.attempt) for r in mine if r.name == "chalicelib.jobs.store"]
    assert stages == [(RUNNING, 1), (COMPLETED, 1)]
    (finished,) = [r for r in mine if hasattr(r, "stage_seconds")]
    assert finished.stage == COMPLETED and list(finished.stage_seconds) == list(STAGES)
    assert finished.stage_seconds["detect"] == 0.02  # the pipeline's own timings
    assert all(seconds >= 0 for seconds in finished.stage_seconds.values())
