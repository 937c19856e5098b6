"""ONE contract, run against every IdempotencyKeys implementation (DynamoDB on moto, and in
memory): a key is reserved once, taken over only from the record it replaces, released
idempotently."""

import time

import pytest

from chalicelib.intake.idempotency import InMemoryIdempotencyKeys, KeyRecord


@pytest.fixture(params=["dynamodb", "memory"])
def keys(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("aws").submissions.keys
    return InMemoryIdempotencyKeys()


def test_a_key_is_reserved_once_and_can_be_released(keys):
    first = KeyRecord("idempotency#k", "job-1", "print-1", int(time.time()) + 60)
    assert keys.reserve(first) is None
    assert keys.reserve(KeyRecord("idempotency#k", "job-2", "print-2", 0)) == first
    keys.release("idempotency#k")
    keys.release("idempotency#k")  # releasing twice is fine
    second = KeyRecord("idempotency#k", "job-3", "print-3", int(time.time()) + 60)
    assert keys.reserve(second) is None


def test_a_key_is_taken_over_only_from_the_record_it_replaces(keys):
    first = KeyRecord("idempotency#k", "job-1", "print", int(time.time()) + 60, time.time() - 1)
    assert keys.reserve(first) is None
    assert keys.reserve(KeyRecord("idempotency#k", "x", "print", 0)) == first
    second = KeyRecord("idempotency#k", "job-2", "print", first.expires_at, time.time() + 60)
    assert keys.take_over(second, first) is True
    third = KeyRecord("idempotency#k", "job-3", "print", first.expires_at, time.time() + 60)
    assert keys.take_over(third, first) is False  # a concurrent retry took it first
    assert keys.reserve(third) == second
    missing = KeyRecord("idempotency#gone", "job-9", "print", 0)
    assert keys.take_over(missing, missing) is False


def test_a_key_without_a_lease_round_trips(keys):
    legacy = KeyRecord("idempotency#old", "job-1", "print", 0, None)  # stored before the lease
    assert keys.reserve(legacy) is None
    assert keys.reserve(KeyRecord("idempotency#old", "job-2", "print", 0)) == legacy
