"""The worker indexes a job before completing it; a failed index write fails the attempt and
leaves nothing, and the retry indexes it once (in-memory stores, a fake pipeline)."""

import time

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.worker import JobWorker
from chalicelib.jobs.record import COMPLETED, RUNNING
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.jobs.tenancy import Caller
from chalicelib.search.index import InMemorySearchIndex
from chalicelib.search.service import VideoSearch
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines
from tests.support.search import label, segments, text


class FlakyIndex(InMemorySearchIndex):
    """Fails after writing the first posting of its first put, as a connection drop would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def _write(self, postings, expires_at):
        super()._write(postings[:1], expires_at)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the table went away")
        super()._write(postings, expires_at)


@pytest.fixture
def storage():
    with LocalStorage.temporary() as local:
        yield local


def setup(storage, index):
    jobs = InMemoryJobStore()
    search = VideoSearch(index=index, storage=storage, signing_key=b"key")
    found = segments([text("EXIT", 1000, 2000)], [label("car", 0, 3000)])
    worker = JobWorker(storage=storage, jobs=jobs, index=search.index_job,
                       pipelines=FakePipelines(fields={"segments": found}))  # fmt: skip
    return jobs, search, worker, new_job(jobs, storage=storage)


def test_a_completed_job_is_findable(storage):
    jobs, search, worker, job = setup(storage, InMemorySearchIndex())
    assert worker.process(job.job_id) is True and jobs.get(job.job_id).status == COMPLETED
    (hit,) = search.search({"text": "exit", "label": "vehicle"}, Caller())["hits"]
    assert hit["job_id"] == job.job_id and hit["ranges"] == [
        {"start_ms": 0, "end_ms": 3000, "text": ["exit"], "labels": ["Vehicle"]}
    ]


def test_a_failed_index_write_fails_the_attempt_leaves_nothing_and_the_retry_indexes(storage):
    index = FlakyIndex()
    jobs, search, worker, job = setup(storage, index)
    with pytest.raises(ConnectionError):
        worker.process(job.job_id, receive_count=1)
    stored = jobs.get(job.job_id)
    assert stored.status == RUNNING and stored.lease_expires_at <= time.time()  # released
    assert index._terms(job.job_id) is None
    assert search.search({"text": "exit"}, Caller()) == {"hits": []}
    assert worker.process(job.job_id, receive_count=2) is True
    assert jobs.get(job.job_id).status == COMPLETED
    assert len(search.search({"label": "car"}, Caller())["hits"]) == 1
