"""The models' reconcile sweep and a validation's last attempt, on fakes: no model stays
``uploading`` or ``validating`` for ever, and each one failed says why."""

from __future__ import annotations

import time

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.model_check import ModelValidator
from chalicelib.analysis.worker import JobWorker
from chalicelib.config import ModelSettings
from chalicelib.jobs.record import iso_time
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.models.catalog import ModelCatalog
from chalicelib.models.reconcile import reconcile_models
from chalicelib.models.record import (
    FAILED,
    UPLOADING,
    VALIDATING,
    ModelRecord,
    encode_model_message,
    new_model_id,
)
from chalicelib.models.store import InMemoryModelStore

STALE_S, REDELIVERY_S = 60.0, 30.0


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        store, queue = InMemoryModelStore(), InMemoryQueue()
        catalog = ModelCatalog(models=store, storage=storage, queue=queue, settings=ModelSettings())
        yield catalog, queue


def stored(catalog: ModelCatalog, status: str, **fields) -> ModelRecord:
    """A model of tenant acme in ``status``, its file in storage, counted in its ledger."""
    model = ModelRecord.new(new_model_id(), name="hats", tenant="acme",
                            upload_expires_at=int(time.time()) + 900)  # fmt: skip
    catalog.models.add(model, max_models=10)
    catalog.storage.save_file(b"onnx bytes", model.path)
    catalog.models.reserve_bytes(model, 10, max_bytes=1000)
    catalog.models.move(model, (UPLOADING,), status=status, **fields)
    found = catalog.models.find(model.model_id)
    assert found is not None
    return found


def sweep(catalog: ModelCatalog, queue: InMemoryQueue, now: float):
    return reconcile_models(catalog, queue, stale_after_s=STALE_S, redelivery_s=REDELIVERY_S,
                            max_attempts=2, now=now)  # fmt: skip


def messages(queue: InMemoryQueue) -> list[str]:
    found = []
    while (message := queue.dequeue()) is not None:
        found.append(message.body)
    return found


def test_an_upload_past_its_url_fails_upload_expired_and_its_file_goes(parts):
    catalog, queue = parts
    expired = stored(catalog, UPLOADING)
    waiting = stored(catalog, UPLOADING)
    now = expired.upload_expires_at + 1
    catalog.models.move(waiting, (UPLOADING,), upload_expires_at=int(now) + 60)
    report = sweep(catalog, queue, now)
    assert report.expired == [expired.model_id] and report.examined == 2
    failed = catalog.models.find(expired.model_id)
    assert failed.status == FAILED and failed.public()["error"]["code"] == "UploadExpired"
    assert "register the model again" in failed.error_message
    assert catalog.storage.stat(expired.path) is None
    assert catalog.models.read_ledger("acme").models[expired.model_id] == 0  # bytes freed
    assert catalog.models.find(waiting.model_id).status == UPLOADING
    assert sweep(catalog, queue, now).expired == []  # settled: nothing more to do


def test_start_after_the_url_expired_is_refused_and_fails_the_model(parts, monkeypatch):
    catalog, _ = parts
    model = stored(catalog, UPLOADING)
    monkeypatch.setattr(time, "time", lambda: model.upload_expires_at + 1.0)
    with pytest.raises(Exception, match="upload URL expired") as raised:
        catalog.start(model.model_id)
    assert type(raised.value).__name__ == "Conflict"
    assert catalog.models.find(model.model_id).error_code == "UploadExpired"


def test_a_stale_validation_is_sent_again_once_per_period_then_abandoned(parts):
    catalog, queue = parts
    model = stored(catalog, VALIDATING)
    fresh = stored(catalog, VALIDATING)
    started = time.time()
    assert sweep(catalog, queue, started + REDELIVERY_S).requeued == []  # not stale yet
    later = started + REDELIVERY_S + STALE_S + 1
    catalog.models.move(fresh, (VALIDATING,), updated_at=iso_time(later))  # fresh at ``later``
    assert sweep(catalog, queue, later).requeued == [model.model_id]
    assert messages(queue) == [encode_model_message(model.model_id)]
    assert sweep(catalog, queue, later).requeued == []  # touched: one send per stale period
    assert catalog.models.find(model.model_id).requeues == 1
    assert sweep(catalog, queue, later * 2).requeued == [model.model_id, fresh.model_id]
    messages(queue)
    report = sweep(catalog, queue, later * 3)
    assert report.abandoned == [model.model_id] and report.requeued == [fresh.model_id]
    given_up = catalog.models.find(model.model_id)
    assert given_up.status == FAILED and given_up.error_code == "Abandoned"
    assert "did not finish after 3 tries" in given_up.error_message
    assert catalog.storage.stat(model.path) is None
    assert messages(queue) == [encode_model_message(fresh.model_id)]  # none for the given up


class Exploding(ModelValidator):
    def _validate(self, model: ModelRecord) -> bool:
        raise RuntimeError("the disk filled up")


@pytest.mark.parametrize(("receive_count", "status"), [(1, VALIDATING), (3, FAILED)])
def test_a_validation_that_crashes_fails_the_model_on_its_last_delivery_only(
    parts, receive_count, status
):
    catalog, queue = parts
    model = stored(catalog, VALIDATING)
    validator = Exploding(models=catalog.models, storage=catalog.storage, catalog=catalog,
                          settings=ModelSettings())  # fmt: skip
    worker = JobWorker(storage=catalog.storage, jobs=InMemoryJobStore(), pipelines=None,
                       models=catalog.models, validator=validator)  # type: ignore[arg-type]  # fmt: skip
    assert worker.settings.max_attempts == 3
    with pytest.raises(RuntimeError, match="disk filled up"):  # the queue delivers it again
        worker.handle_message(encode_model_message(model.model_id), receive_count)
    after = catalog.models.find(model.model_id)
    assert after.status == status
    if status == FAILED:
        assert after.error_code == "InternalError" and "internal error" in after.error_message
        assert catalog.storage.stat(model.path) is None
