"""Idempotency keys on fakes: the key's syntax, and ``reserve``'s decisions (new, repeated,
reused for another request, taken over after its request died)."""

from __future__ import annotations

import pytest

from chalicelib.errors import BadRequest, KeyReused
from chalicelib.intake import idempotency
from chalicelib.intake.idempotency import InMemoryIdempotencyKeys, KeyRecord, key_id
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.store import InMemoryJobStore
from tests.support.jobs import new_job


@pytest.fixture
def stores():
    return InMemoryIdempotencyKeys(), InMemoryJobStore()


def reserve(stores, key: str, job_id: str, fingerprint: str = "print", lease_s: float = 60,
            tenant: str = "default") -> str | None:  # fmt: skip
    keys, jobs = stores
    return idempotency.reserve(keys, jobs, key, job_id, fingerprint, retention_days=1,
                               lease_s=lease_s, tenant=tenant)  # fmt: skip


@pytest.mark.parametrize("raw", ["", "a b", "x" * 129, "ключ", "k/1"])
def test_a_key_that_is_not_simple_text_is_refused(raw):
    with pytest.raises(BadRequest, match="1 to 128 characters"):
        idempotency.parse_key(raw)
    assert idempotency.parse_key("0b4c6a59-8a43-4d4a.x:y_z") == "0b4c6a59-8a43-4d4a.x:y_z"


def test_a_repeated_request_names_the_first_job_and_another_request_is_refused(stores):
    first = new_job(stores[1]).job_id
    assert reserve(stores, "k", first) is None
    assert reserve(stores, "k", new_job_id()) == first
    with pytest.raises(KeyReused, match="different request"):
        reserve(stores, "k", new_job_id(), fingerprint="another print")


def test_keys_are_per_tenant(stores):
    assert reserve(stores, "k", new_job_id(), tenant="acme") is None
    assert reserve(stores, "k", new_job_id(), tenant="other") is None
    assert key_id("k", "acme") != key_id("k", "other") != key_id("k")


def test_a_key_whose_request_died_is_taken_over_after_its_lease(stores):
    keys, jobs = stores
    dead = new_job_id()  # reserved, never recorded
    assert reserve(stores, "k", dead, lease_s=-1) is None
    retry = new_job_id()
    assert reserve(stores, "k", retry) is None  # lease over, no job: the retry takes it
    assert keys.reserve(KeyRecord(key_id("k"), "x", "print", 0)).target_job_id == retry


def test_a_key_within_its_lease_or_with_a_recorded_job_is_kept(stores):
    pending = new_job_id()
    assert reserve(stores, "a", pending) is None
    assert reserve(stores, "a", new_job_id()) == pending  # still being accepted
    recorded = new_job(stores[1]).job_id
    assert reserve(stores, "b", recorded, lease_s=-1) is None
    assert reserve(stores, "b", new_job_id()) == recorded  # its job exists: never taken over


def test_release_frees_the_key(stores):
    assert reserve(stores, "k", new_job_id()) is None
    idempotency.release(stores[0], "k")
    fresh = new_job_id()
    assert reserve(stores, "k", fresh, fingerprint="new print") is None
