"""The ModelStore contract, run against InMemoryModelStore and DynamoModelStore (moto): limits
on count and bytes that hold under a burst, conditional status moves, listing per tenant."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.errors import TooManyModels
from chalicelib.models.dynamo import DynamoModelStore
from chalicelib.models.record import FAILED, READY, UPLOADING, VALIDATING, ModelRecord
from chalicelib.models.record import new_model_id as new_id
from chalicelib.models.store import InMemoryModelStore, ModelStore


@pytest.fixture(params=["memory", "dynamo"])
def store(request) -> ModelStore:
    if request.param == "memory":
        return InMemoryModelStore()
    aws = request.getfixturevalue("aws")
    settings = aws.settings
    return DynamoModelStore(settings.table_name, region=settings.region, host=None)


def new(tenant: str = "acme", name: str = "hats") -> ModelRecord:
    return ModelRecord.new(new_id(), name=name, tenant=tenant, class_names=("a", "b"))


def test_a_model_round_trips_and_is_listed_for_its_tenant_only(store):
    model = new()
    store.add(model, max_models=3)
    assert store.find(model.model_id) == model
    store.add(other := new("globex"), max_models=3)
    assert [m.model_id for m in store.list("acme")] == [model.model_id]
    assert [m.model_id for m in store.list("globex")] == [other.model_id]
    assert store.find(new_id()) is None


def test_the_count_limit_refuses_the_next_model_and_a_delete_frees_it(store):
    first, second = new(), new()
    store.add(first, max_models=1)
    with pytest.raises(TooManyModels, match="limit is 1"):
        store.add(second, max_models=1)
    assert store.find(second.model_id) is None
    store.remove(first)
    store.add(second, max_models=1)
    assert [m.model_id for m in store.list("acme")] == [second.model_id]


def test_bytes_are_counted_per_tenant(store):
    one, two = new(), new()
    store.add(one, 5)
    store.add(two, 5)
    store.reserve_bytes(one, 600, max_bytes=1000)
    with pytest.raises(TooManyModels, match="1000-byte limit"):
        store.reserve_bytes(two, 401, max_bytes=1000)
    store.reserve_bytes(two, 400, max_bytes=1000)
    store.reserve_bytes(one, 0, max_bytes=1000)  # a failed model's bytes no longer count
    store.reserve_bytes(two, 1000, max_bytes=1000)
    assert store.read_ledger("acme").models == {one.model_id: 0, two.model_id: 1000}


def test_a_move_is_conditional_on_the_status_it_leaves(store):
    model = new()
    store.add(model, 3)
    assert store.move(model, (UPLOADING,), status=VALIDATING, size_bytes=10)
    assert not store.move(model, (UPLOADING,), status=VALIDATING)
    assert store.move(model, (VALIDATING,), status=READY, sha256="ab" * 32)
    assert not store.move(model, (VALIDATING,), status=FAILED, error_message="late")
    found = store.find(model.model_id)
    assert found is not None and found.status == READY and found.size_bytes == 10
    store.remove(found)
    assert not store.move(found, (READY,), status=FAILED)  # a deleted model stays deleted


def test_a_burst_of_registrations_takes_exactly_the_limit(store):
    def register(_: int) -> bool:
        try:
            store.add(new(), max_models=4)
        except TooManyModels:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(register, range(16)))
    assert admitted == 4 and len(store.list("acme")) == 4


def test_a_ledger_entry_without_a_row_is_dropped_when_listed(store):
    model = new()
    store.add(model, 3)
    store._delete(model.model_id)  # a crash between the two writes of a delete
    assert store.list("acme") == [] and store.read_ledger("acme").models == {}


def test_unsettled_lists_uploading_and_validating_models_of_every_tenant_only(store):
    waiting, checking, done = new(), new("globex"), new()
    for model in (waiting, checking, done):
        store.add(model, max_models=3)
    assert store.move(checking, (UPLOADING,), status=VALIDATING)
    assert store.move(done, (UPLOADING,), status=FAILED, error_message="bad")
    found = {model.model_id: model.status for model in store.unsettled()}
    assert found == {waiting.model_id: UPLOADING, checking.model_id: VALIDATING}
