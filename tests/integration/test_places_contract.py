"""A tenant's places (its active-job limit) in every PlaceBook, on a job store that uses it
(DynamoDB on moto, and in memory): exact under a burst, freed by every final status, lapsed with
an upload's URL, repaired by the sweep."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.config import load_settings
from chalicelib.errors import IllegalTransition
from chalicelib.jobs.dynamo import DynamoJobStore, DynamoPlaceBook
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.places import LAPSED_KEPT_S, ORPHAN_S, InMemoryPlaceBook
from chalicelib.jobs.reconcile import reconcile
from chalicelib.jobs.record import FAILED, PENDING, UPLOADING, JobRecord
from chalicelib.jobs.store import InMemoryJobStore


@pytest.fixture(params=["dynamodb", "memory"])
def store_with(request):
    """A job store whose tenants have ``limit`` places each."""

    def make(limit: int):
        if request.param == "memory":
            return InMemoryJobStore(places=InMemoryPlaceBook(limit))
        request.getfixturevalue("aws")
        settings = load_settings()
        where = {"region": settings.region, "host": settings.aws_endpoint}
        places = DynamoPlaceBook(settings.table_name, limit=limit, **where)
        return DynamoJobStore(settings.table_name, places=places, **where)

    return make


def job_of(tenant: str, *, upload_expires_at: float | None = None) -> JobRecord:
    status = UPLOADING if upload_expires_at is not None else PENDING
    return JobRecord.new(
        new_job_id(), input_path="p", pipeline_id="yolo", retention_days=1, tenant=tenant,
        status=status, upload_expires_at=upload_expires_at,
    )  # fmt: skip


def admitted(jobs, tenant: str, **kwargs) -> JobRecord:
    job = job_of(tenant, **kwargs)
    assert jobs.places.admit(job) is None
    jobs.create(job)
    return job


def held(jobs, tenant: str, now: float | None = None) -> set[str]:
    return jobs.places.read(tenant).held(time.time() if now is None else now)


def test_a_tenant_gets_exactly_its_limit_and_others_are_apart(store_with):
    jobs = store_with(2)
    first, second = admitted(jobs, "acme"), admitted(jobs, "acme")
    assert jobs.places.admit(job_of("acme")) == 2  # refused: both places are held
    assert jobs.places.admit(first) is None  # a job that holds a place is admitted again
    admitted(jobs, "other")
    assert held(jobs, "acme") == {first.job_id, second.job_id}


@pytest.mark.parametrize("end", ["fail", "complete"])
def test_every_final_status_frees_the_place(store_with, end):
    jobs = store_with(1)
    job = admitted(jobs, "acme")
    if end == "fail":
        jobs.fail(job.job_id, "boom")
    else:
        jobs.claim(job.job_id, "w", 60)
        jobs.complete(job.job_id, owner="w", output_path="x")
    assert held(jobs, "acme") == set()
    admitted(jobs, "acme")


def test_a_burst_takes_exactly_the_limit(store_with, request):
    """50 at once in memory; 16 on moto (each thread builds its own botocore client, slowly)."""
    burst = 16 if "dynamodb" in request.node.callspec.id else 50
    jobs, barrier = store_with(3), threading.Barrier(burst)

    def attempt(_: int) -> bool:
        barrier.wait()
        return jobs.places.admit(job_of("acme")) is None

    with ThreadPoolExecutor(burst) as pool:
        results = list(pool.map(attempt, range(burst)))
    assert sum(results) == 3 and len(held(jobs, "acme")) == 3


def test_an_uploads_place_lapses_when_its_url_expires(store_with):
    jobs, now = store_with(1), time.time()
    upload = admitted(jobs, "acme", upload_expires_at=now + 60)
    assert jobs.places.admit(job_of("acme"), now=now + 59) == 1
    assert held(jobs, "acme", now + 59) == {upload.job_id}
    assert held(jobs, "acme", now + 60) == set()  # from that moment, not the sweep's
    assert jobs.places.admit(job_of("acme"), now=now + 60) is None


def test_an_expired_upload_reads_as_failed_and_cannot_start(store_with):
    jobs = store_with(2)
    upload = admitted(jobs, "acme", upload_expires_at=time.time() - 1)
    seen = jobs.get(upload.job_id)
    assert seen.status == FAILED and seen.error_message.startswith("UploadExpired: no video")
    assert seen.error_code == "UploadExpired"
    with pytest.raises(IllegalTransition, match="it is failed"):
        jobs.start(upload.job_id)
    recorded = jobs.expire_upload(jobs.find(upload.job_id))  # what the sweep writes down
    assert recorded is not None and recorded.error_code == "UploadExpired"


def test_a_started_upload_holds_its_place_past_the_url_expiry(store_with):
    jobs, now = store_with(1), time.time()
    upload = admitted(jobs, "acme", upload_expires_at=now + 30)
    assert jobs.start(upload.job_id).status == PENDING
    assert held(jobs, "acme", now + 3600) == {upload.job_id}


def test_a_start_racing_the_expiry_is_refused_once_the_place_lapsed(store_with, monkeypatch):
    """The row was read in time but the place has lapsed since: start refuses, so a new job that
    took the place can never be joined by this one."""
    jobs = store_with(1)
    upload = admitted(jobs, "acme", upload_expires_at=time.time() + 5)
    real = time.time
    monkeypatch.setattr(JobRecord, "as_of", lambda self, now: self)
    monkeypatch.setattr(time, "time", lambda: real() + 10)
    with pytest.raises(IllegalTransition, match="upload URL expired"):
        jobs.start(upload.job_id)
    assert jobs.find(upload.job_id).status == UPLOADING


def test_the_sweep_never_fails_an_upload_started_after_it_read_the_row(store_with):
    jobs = store_with(1)
    upload = admitted(jobs, "acme", upload_expires_at=time.time() + 30)
    seen_by_the_sweep = jobs.find(upload.job_id)
    jobs.start(upload.job_id)
    assert jobs.expire_upload(seen_by_the_sweep) is None
    assert jobs.find(upload.job_id).status == PENDING


def test_the_sweep_fails_expired_uploads_and_repairs_places(store_with):
    jobs, now = store_with(5), time.time()
    expired = admitted(jobs, "acme", upload_expires_at=now - 1)
    fresh = admitted(jobs, "acme", upload_expires_at=now + 600)
    orphan = job_of("acme")  # its request died between taking a place and writing the row
    jobs.places.admit(orphan, now=now - ORPHAN_S - 1)
    announced: list[JobRecord] = []
    report = reconcile(jobs, InMemoryQueue(), stale_after_s=60, on_final=announced.append)
    assert report.expired == [expired.job_id] == [job.job_id for job in announced]
    assert jobs.find(expired.job_id).status == FAILED
    assert held(jobs, "acme") == {fresh.job_id} and orphan.job_id in report.freed
    report = reconcile(jobs, InMemoryQueue(), stale_after_s=60, now=now + LAPSED_KEPT_S + 700)
    assert fresh.job_id in report.expired and held(jobs, "acme") == set()
