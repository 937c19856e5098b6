"""A presigned upload swapped after ``start`` is never analyzed (issue 19.2).

The upload URL stays valid until it expires, so its holder can PUT again after ``start`` has
validated the object. ``start`` pins the version it checked (its ETag) on the job; the worker
reads only that version, and never more than the upload limit.
"""

import pytest
import requests
from chalice.test import Client

from app import app
from chalicelib.analysis.worker import JobWorker, WorkerSettings
from chalicelib.bootstrap import services
from chalicelib.jobs.ids import video_path
from chalicelib.jobs.record import COMPLETED, FAILED, UPLOADING
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swap")
    small = make_mp4(folder / "small.mp4", seconds=1, size=(64, 48)).read_bytes()
    other = make_mp4(folder / "other.mp4", seconds=3, size=(320, 240), text="SWAPPED").read_bytes()
    return small, other


def worker(aws, pipelines, max_input_bytes=None) -> JobWorker:
    return JobWorker(
        storage=aws.storage,
        jobs=aws.jobs,
        pipelines=pipelines,
        settings=WorkerSettings(max_input_bytes=max_input_bytes),
    )


def analyzed(pipelines: FakePipelines) -> list[bytes]:
    """The bytes each run of the (fake) pipeline was given."""
    return [data for _, data, _, _ in pipelines.calls]


def upload_and_start(client, data: bytes) -> tuple[str, dict]:
    ticket = client.http.post("/video/uploads").json_body
    upload = ticket["upload"]
    assert requests.put(upload["url"], data=data, headers=upload["headers"]).status_code == 200
    assert client.http.post(f"/video/uploads/{ticket['job_id']}/start").status_code == 202
    return ticket["job_id"], upload


def test_a_video_swapped_through_the_upload_url_after_start_is_not_analyzed(aws, clips):
    small, other = clips
    pipelines = FakePipelines()
    with Client(app) as client:
        job_id, upload = upload_and_start(client, small)
        swap = requests.put(upload["url"], data=other, headers=upload["headers"])
        assert swap.status_code == 200  # the URL is still valid: the attack is possible
    assert worker(aws, pipelines).process(job_id) is True
    job = aws.jobs.get(job_id)
    assert analyzed(pipelines) == []
    assert job.status == FAILED and "changed after start" in job.error_message


def test_the_validated_upload_is_analyzed_byte_for_byte(aws, clips):
    small, _ = clips
    pipelines = FakePipelines()
    with Client(app) as client:
        job_id, _ = upload_and_start(client, small)
    assert aws.jobs.get(job_id).input_etag == aws.storage.stat(video_path(job_id)).etag
    assert worker(aws, pipelines).process(job_id) is True
    assert aws.jobs.get(job_id).status == COMPLETED and analyzed(pipelines) == [small]


def test_a_swap_to_a_file_over_the_limit_fails_instead_of_running(aws, clips, monkeypatch):
    small, other = clips
    monkeypatch.setenv("VIDEO_JOBS_MAX_UPLOAD_BYTES", str(len(small) + 100))
    services.cache_clear()
    pipelines = FakePipelines()
    with Client(app) as client:
        job_id, upload = upload_and_start(client, small)
        requests.put(upload["url"], data=other, headers=upload["headers"])
    assert services().worker.settings.max_input_bytes == len(small) + 100
    assert worker(aws, pipelines, len(small) + 100).process(job_id) is True
    assert analyzed(pipelines) == [] and aws.jobs.get(job_id).status == FAILED


def test_the_worker_never_reads_more_than_the_limit(aws):
    """A job without a pinned version (direct submit) still has its size enforced on read."""
    job_id = new_job(aws.jobs).job_id
    aws.storage.save_file(b"\0" * 5000, video_path(job_id))
    pipelines = FakePipelines()
    assert worker(aws, pipelines, max_input_bytes=4096).process(job_id) is True
    job = aws.jobs.get(job_id)
    assert analyzed(pipelines) == []
    assert job.status == FAILED and "over the 4096-byte limit" in job.error_message


def test_a_swap_during_start_is_a_conflict(aws, clips, monkeypatch):
    small, other = clips
    with Client(app) as client:
        ticket = client.http.post("/video/uploads").json_body
        path = video_path(ticket["job_id"])
        ftyp_end = int.from_bytes(small[:4], "big")
        padding = (100_000).to_bytes(4, "big") + b"free" + bytes(100_000 - 8)
        aws.storage.save_file(small[:ftyp_end] + padding + small[ftyp_end:], path)  # 2+ reads
        real_read = type(aws.storage).read_range

        def swap_after_first_read(self, *args, **kwargs):
            data = real_read(self, *args, **kwargs)
            self.save_file(other, path)  # the upload is replaced mid-check
            return data

        monkeypatch.setattr(type(aws.storage), "read_range", swap_after_first_read)
        response = client.http.post(f"/video/uploads/{ticket['job_id']}/start")
    assert response.status_code == 409 and "changed while start" in response.json_body["message"]
    assert aws.jobs.get(ticket["job_id"]).status == UPLOADING
