"""JobWorker on moto-backed ports, with a fake pipeline (the real one has its own tests)."""

import json
import tempfile
import threading
from pathlib import Path

import pytest

from chalicelib.errors import InvalidVideo
from chalicelib.ids import new_job_id, video_path
from chalicelib.jobs import COMPLETED, FAILED, RUNNING, Job
from chalicelib.queue import InMemoryQueue, encode_message
from chalicelib.results import encode
from chalicelib.worker import INTERNAL_ERROR, JobWorker


class FakePipelines:
    def __init__(self, outcome=None):
        self.outcome = outcome
        self.calls = []

    def run_on_file(self, file_path, pipeline_id="yolo_ocr", *, sample_fps=None, options=None):
        path = Path(file_path)
        self.calls.append((path, path.read_bytes(), pipeline_id, sample_fps))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return {"frames": [], "pipeline_id": pipeline_id}


def pending_job(storage, sample_fps=None) -> Job:
    job_id = new_job_id()
    storage.save_file(b"video bytes", video_path(job_id))
    job = Job.new(
        job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr", sample_fps=sample_fps
    )
    job.save()
    return job


def worker(aws, outcome=None, queue=None):
    return JobWorker(
        storage=aws.storage, queue=queue or aws.queue, pipelines=FakePipelines(outcome)
    )


def test_process_runs_the_pipeline_and_stores_results(aws):
    job, w = pending_job(aws.storage, sample_fps=2.0), worker(aws)
    assert w.process(job.job_id) is True
    stored = Job.get_by_id(job.job_id)
    assert stored.status == COMPLETED
    assert stored.output_path == f"video_jobs/{job.job_id}_results.json"
    assert json.loads(aws.storage.load_file(stored.output_path))["pipeline_id"] == "yolo_ocr"
    ((path, data, pipeline_id, fps),) = w.pipelines.calls
    assert data == b"video bytes" and fps == 2.0
    assert not path.exists()  # the temp copy is gone


def test_duplicate_delivery_does_no_second_run(aws):
    job, w = pending_job(aws.storage), worker(aws)
    assert w.process(job.job_id) is True
    assert w.process(job.job_id) is False
    assert len(w.pipelines.calls) == 1


def test_a_job_claimed_elsewhere_is_left_alone(aws):
    job, w = pending_job(aws.storage), worker(aws)
    Job.get_by_id(job.job_id).update_status(RUNNING)
    assert w.process(job.job_id) is False
    assert w.pipelines.calls == []


def test_invalid_video_fails_the_job_with_its_message(aws):
    job = pending_job(aws.storage)
    w = worker(aws, InvalidVideo("the file has no video track (audio only?)"))
    assert w.process(job.job_id) is True
    stored = Job.get_by_id(job.job_id)
    assert stored.status == FAILED
    assert stored.error_message == "the file has no video track (audio only?)"


def test_unexpected_errors_are_retried_then_fail_the_job_without_leaking_details(aws, caplog):
    job = pending_job(aws.storage)
    w = worker(aws, RuntimeError("/secret/path exploded"))
    for receive_count in (1, 2):  # not the last attempt: release the job and let SQS retry
        with pytest.raises(RuntimeError):
            w.process(job.job_id, receive_count)
        stored = Job.get_by_id(job.job_id)
        assert stored.status == RUNNING and stored.lease_expires_at == 0
    with pytest.raises(RuntimeError):  # the last attempt fails the job, and still raises
        w.process(job.job_id, receive_count=3)  # so the message goes to the dead-letter queue
    stored = Job.get_by_id(job.job_id)
    assert stored.status == FAILED and stored.error_message == INTERNAL_ERROR
    assert stored.attempts == 3 and len(w.pipelines.calls) == 3
    assert "/secret/path exploded" in caplog.text  # the traceback is in the log only
    assert w.process(job.job_id, receive_count=4) is False


def test_a_job_whose_workers_keep_dying_is_failed(aws):
    job = pending_job(aws.storage)
    for number in range(3):  # three workers claim it and die without a word
        Job.get_by_id(job.job_id).claim(f"dead-{number}", lease_s=60)
        Job.get_by_id(job.job_id).release_lease(f"dead-{number}")
    w = worker(aws)
    assert w.process(job.job_id) is True
    stored = Job.get_by_id(job.job_id)
    assert stored.status == FAILED and "abandoned 3 times" in stored.error_message
    assert w.pipelines.calls == []


def test_a_running_job_with_a_live_lease_is_not_taken(aws):
    job = pending_job(aws.storage)
    Job.get_by_id(job.job_id).claim("alive-elsewhere", lease_s=60)
    w = worker(aws)
    assert w.process(job.job_id) is False and w.pipelines.calls == []


def test_a_worker_that_lost_its_lease_neither_stores_nor_finishes(aws):
    job = pending_job(aws.storage)

    class TakenOverMidway(FakePipelines):
        def run_on_file(self, file_path, pipeline_id="yolo_ocr", *, sample_fps=None, options=None):
            stored = Job.get_by_id(job.job_id)  # this worker is presumed dead: another takes over
            stored.release_lease(stored.lease_owner)
            Job.get_by_id(job.job_id).claim("the-successor", lease_s=60)
            return super().run_on_file(
                file_path, pipeline_id, sample_fps=sample_fps, options=options
            )

    w = JobWorker(storage=aws.storage, queue=aws.queue, pipelines=TakenOverMidway(), lease_s=0.3)
    assert w.process(job.job_id) is False
    stored = Job.get_by_id(job.job_id)
    assert stored.status == RUNNING and stored.lease_owner == "the-successor"
    assert aws.storage.size(f"video_jobs/{job.job_id}_results.json") is None


def test_results_already_stored_by_a_dead_attempt_are_kept(aws):
    job = pending_job(aws.storage)
    aws.storage.save_file(b'{"kept": true}', f"video_jobs/{job.job_id}_results.json")
    assert worker(aws).process(job.job_id) is True
    stored = Job.get_by_id(job.job_id)
    assert stored.status == COMPLETED
    assert json.loads(aws.storage.load_file(stored.output_path)) == {"kept": True}


def test_missing_input_fails_the_job_at_once(aws):
    job = pending_job(aws.storage)
    aws.storage.delete_file(job.input_path)
    assert worker(aws).process(job.job_id) is True
    stored = Job.get_by_id(job.job_id)
    assert stored.status == FAILED and "no longer in storage" in stored.error_message


def test_temp_files_are_removed_even_on_failure(aws, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    job = pending_job(aws.storage)
    with pytest.raises(RuntimeError):
        worker(aws, RuntimeError("boom")).process(job.job_id)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body", ["garbage", "{}", encode_message(new_job_id())])
def test_messages_naming_no_job_are_dropped(aws, body):
    assert worker(aws).handle_message(body) is False


def test_run_once_with_an_empty_queue(aws):
    assert worker(aws).run_once() is False


def test_run_once_takes_a_job_from_the_queue_and_acks_it(aws):
    job = pending_job(aws.storage)
    aws.queue.enqueue(job.job_id)
    w = worker(aws)
    assert w.run_once() is True
    assert Job.get_by_id(job.job_id).status == COMPLETED
    assert aws.queue.size() == 0 and w.run_once() is False


def test_run_forever_drains_an_in_memory_queue_and_stops(aws):
    queue = InMemoryQueue()
    jobs = [pending_job(aws.storage) for _ in range(3)]
    for job in jobs:
        queue.enqueue(job.job_id)
    queue.enqueue("garbage-id")
    w, stop = worker(aws, queue=queue), threading.Event()
    thread = threading.Thread(target=w.run_forever, args=(stop,), kwargs={"max_backoff_s": 0.2})
    thread.start()
    for _ in range(600):  # up to 30 s on a busy machine
        done = all(Job.get_by_id(job.job_id).status == COMPLETED for job in jobs)
        if done and queue.size() == 0:  # the garbage id, queued last, is dropped last
            break
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert [Job.get_by_id(job.job_id).status for job in jobs] == [COMPLETED] * 3
    assert queue.size() == 0


def test_results_encoding_is_canonical():
    assert encode({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()
    with pytest.raises(ValueError):
        encode({"x": float("nan")})
