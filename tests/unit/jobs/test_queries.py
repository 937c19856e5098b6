"""JobQueries on the in-memory job store and local storage: status views and results pages."""

import json

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.errors import JobNotFound, ResultsNotReady
from chalicelib.jobs.queries import JobQueries
from chalicelib.jobs.record import COMPLETED
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results.pages import results_page
from tests.support.jobs import new_job


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        jobs = InMemoryJobStore()
        yield jobs, storage, JobQueries(jobs=jobs, storage=storage)


def test_status_shows_public_fields_and_the_reason_of_a_failure(parts):
    jobs, _, queries = parts
    job = new_job(jobs)
    assert set(queries.status(job.job_id)) == {
        "job_id", "status", "progress", "pipeline_id", "created_at", "updated_at",
    }  # fmt: skip
    jobs.fail(job.job_id, "the file has no video track")
    view = queries.status(job.job_id)
    assert (view["status"], view["progress"]) == ("failed", 1.0)
    assert view["error_message"] == "the file has no video track"


def completed(jobs, storage, frames):
    job = new_job(jobs)
    output = f"video_jobs/{job.job_id}_results.json"
    storage.save_file(json.dumps({"frames": frames, "summary": {}}).encode(), output)
    jobs.claim(job.job_id, "w", 60)
    jobs.complete(job.job_id, owner="w", output_path=output)
    return job


def test_results_come_in_pages_with_a_token(parts):
    jobs, storage, queries = parts
    job = completed(jobs, storage, [{"timestamp_ms": i} for i in range(3)])
    first = queries.results(job.job_id, results_page({"max_frames": "2"}))
    assert first["results"]["frames"] == [{"timestamp_ms": 0}, {"timestamp_ms": 1}]
    assert first["next_token"] == "2"
    rest = queries.results(job.job_id, results_page({"max_frames": "2", "next_token": "2"}))
    assert rest["results"]["frames"] == [{"timestamp_ms": 2}] and "next_token" not in rest


def test_results_of_an_unfinished_job_are_not_ready(parts):
    jobs, _, queries = parts
    job = new_job(jobs)
    jobs.claim(job.job_id, "w", lease_s=60)
    with pytest.raises(ResultsNotReady, match="it is running; poll its status"):
        queries.results(job.job_id, results_page(None))


def test_results_gone_from_storage_are_job_not_found(parts):
    jobs, storage, queries = parts
    job = completed(jobs, storage, [])
    storage.delete_file(jobs.get(job.job_id).output_path)
    assert jobs.get(job.job_id).status == COMPLETED
    with pytest.raises(JobNotFound, match="gone"):
        queries.results(job.job_id, results_page(None))
