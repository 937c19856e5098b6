"""ONE contract for the KeyStore (DynamoDB on moto, and in memory); tenants on job rows in both
JobStores; the KMS secret box on moto; the per-tenant limit and idempotency scope in Submissions."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from chalicelib.access.keys import InMemoryKeyStore, token_hash
from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.config import load_settings
from chalicelib.errors import JobNotFound, TooManyJobs
from chalicelib.intake import idempotency
from chalicelib.intake.idempotency import InMemoryIdempotencyKeys
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.places import InMemoryPlaceBook
from chalicelib.jobs.record import JobRecord
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.jobs.tenancy import DEFAULT_TENANT, PUBLIC, Caller
from infra.keys import create
from tests.support.auth import ReversibleBox
from tests.support.jobs import new_job


@pytest.fixture(params=["dynamodb", "memory"])
def keys(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("aws").keys
    return InMemoryKeyStore()


@pytest.fixture(params=["dynamodb", "memory"])
def jobs(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("aws").jobs
    return InMemoryJobStore()


def test_a_key_is_found_by_its_id_and_its_token(keys):
    made = create(keys, ReversibleBox(), "acme")
    key = keys.find(made["access_key_id"])
    assert key is not None and key.tenant == "acme" and key.revoked_at is None
    assert keys.tenant_of_token(token_hash(made["api_token"])) == "acme"
    assert keys.tenant_of_token(token_hash("guess")) is None
    assert keys.find("VJNOSUCHKEY") is None


def test_a_keys_grants_round_trip_and_are_listed(keys):
    topic = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionAcme"
    made = create(keys, ReversibleBox(), "acme", ["s3://acme-videos", "s3://shared/acme/"], [topic])
    key = keys.find(made["access_key_id"])
    assert key.sources == ("s3://acme-videos/", "s3://shared/acme/") and key.topics == (topic,)
    assert key.listing()["sources"] == made["sources"] == list(key.sources)
    bare = keys.find(create(keys, ReversibleBox(), "globex")["access_key_id"])
    assert (bare.sources, bare.topics) == ((), ())


def test_revoking_stops_the_token_and_marks_the_key(keys):
    made = create(keys, ReversibleBox(), "acme")
    other = create(keys, ReversibleBox(), "acme")
    revoked = keys.revoke(made["access_key_id"], "2026-01-01T00:00:00.000Z")
    assert revoked is not None and revoked.revoked_at == "2026-01-01T00:00:00.000Z"
    assert keys.tenant_of_token(token_hash(made["api_token"])) is None
    assert keys.tenant_of_token(token_hash(other["api_token"])) == "acme"
    assert keys.revoke("VJNOSUCHKEY", "2026-01-01T00:00:00.000Z") is None
    listed = {key.access_key_id: key.revoked_at for key in keys.all()}
    assert listed == {made["access_key_id"]: revoked.revoked_at, other["access_key_id"]: None}


def test_key_items_are_not_jobs(aws):
    create(aws.keys, ReversibleBox(), "acme")
    assert list(aws.jobs.active()) == [] and aws.jobs.places is None  # no limit locally


def test_kms_encrypts_secrets_bound_to_their_key_id(aws):
    made = create(aws.keys, aws.secrets, "acme")
    stored = aws.keys.find(made["access_key_id"])
    assert made["secret_access_key"].encode() not in stored.secret_ciphertext
    secret = aws.secrets.decrypt(made["access_key_id"], stored.secret_ciphertext)
    assert secret == made["secret_access_key"]
    with pytest.raises(ClientError):  # copied onto another key's row, it does not decrypt
        aws.secrets.decrypt("VJOTHERKEY", stored.secret_ciphertext)


def test_job_rows_carry_their_tenant(jobs):
    job = JobRecord.new(
        new_job_id(), input_path="video_jobs/x.mp4", pipeline_id="yolo", retention_days=1,
        tenant="acme",
    )  # fmt: skip
    jobs.create(job)
    assert jobs.get(job.job_id).tenant == "acme"
    assert new_job(jobs).tenant == DEFAULT_TENANT


def test_another_tenants_job_is_not_found(jobs):
    job = new_job(jobs)
    assert jobs.get(job.job_id, Caller(DEFAULT_TENANT)) == job
    assert jobs.get(job.job_id, PUBLIC) == job
    with pytest.raises(JobNotFound, match="no job with id"):
        jobs.get(job.job_id, Caller("acme"))


def test_the_limit_refuses_a_tenants_next_job_and_frees_its_key(aws, tiny_mp4, monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_MAX_ACTIVE_JOBS_PER_TENANT", "1")
    from chalicelib.bootstrap import services

    services.cache_clear()
    submissions, data = services().submissions, tiny_mp4.read_bytes()
    options = submissions.parse_options({})
    acme = Caller("acme")
    submissions.submit(data, options, caller=acme)
    with pytest.raises(TooManyJobs) as refused:
        submissions.submit(data, options, idempotency_key="k-1", caller=acme)
    assert refused.value.retry_after_s > 0
    with pytest.raises(TooManyJobs):
        submissions.create_upload(options, acme)
    assert (
        services().submissions.keys.reserve(
            idempotency.KeyRecord(idempotency.key_id("k-1", "acme"), "x", "f", 1)
        )
        is None
    )  # the refused request's key was released
    submissions.submit(data, options, caller=Caller("other"))  # another tenant is not limited


def test_idempotency_keys_are_per_tenant(aws, tiny_mp4):
    submissions, data = aws.submissions, tiny_mp4.read_bytes()
    options = submissions.parse_options({})
    acme = submissions.submit(data, options, idempotency_key="same", caller=Caller("acme"))
    again = submissions.submit(data, options, idempotency_key="same", caller=Caller("acme"))
    other = submissions.submit(data, options, idempotency_key="same", caller=Caller("other"))
    assert acme.job_id == again.job_id != other.job_id
    assert (acme.tenant, other.tenant) == ("acme", "other")
    assert idempotency.key_id("same") != idempotency.key_id("same", "acme")


def test_a_burst_of_50_submits_takes_exactly_the_limit(tiny_mp4):
    """Every request takes its place before anything else, so even a slow table cannot let a
    burst through (the count-then-create limit before it accepted 50 of 50 here). The stores
    are in memory: the DynamoDB book's own race is in tests/integration/test_places_contract.py,
    the live stack's in tests/e2e/test_tenant_guarantees.py."""
    jobs, data = InMemoryJobStore(places=InMemoryPlaceBook(3)), tiny_mp4.read_bytes()
    write = jobs.create

    def slow_write(job):
        time.sleep(0.3)
        write(job)

    jobs.create = slow_write  # type: ignore[method-assign]
    with LocalStorage.temporary() as storage:
        keys, settings = InMemoryIdempotencyKeys(), load_settings()
        submissions = Submissions(
            storage=storage, queue=InMemoryQueue(), jobs=jobs, keys=keys, settings=settings
        )
        options, barrier = submissions.parse_options({}), threading.Barrier(50)

        def submit(_: int) -> bool:
            barrier.wait()
            try:
                submissions.submit(data, options, caller=Caller("bursty"))
            except TooManyJobs:
                return False
            return True

        with ThreadPoolExecutor(50) as pool:
            assert sum(pool.map(submit, range(50))) == 3
