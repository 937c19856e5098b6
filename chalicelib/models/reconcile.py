"""The models' part of the reconcile sweep: no model stays ``uploading`` or ``validating``
for ever.

- ``uploading`` past its upload URL's end: nobody can start it any more, so it is failed
  (``UploadExpired``) and a file PUT meanwhile is deleted: files of models never started count
  against no limit, so they must not stay.
- ``validating`` with no change for longer than the queue takes to redeliver a message plus
  ``stale_after_s``: its validation message was lost (dead-lettered after workers that died,
  or never delivered). The sweep sends it again, at most ``max_attempts`` times (each send
  touches ``updated_at``, so one sweep per stale period), then fails the model
  (``Abandoned``). A duplicate message is harmless: only one validation's conditional move
  from ``validating`` wins.

Every change is a write conditional on the status read, so a sweep racing ``start``, a
validation or a delete changes nothing the other already decided.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.adapters.queue import QueueService
from chalicelib.jobs.record import iso_time
from chalicelib.models.catalog import ModelCatalog
from chalicelib.models.record import (
    ABANDONED,
    UPLOAD_EXPIRED,
    UPLOADING,
    VALIDATING,
    ModelRecord,
    encode_model_message,
    upload_expired_message,
)

log = logging.getLogger(__name__)


@dataclass
class ModelSweep:
    expired: list[str] = field(default_factory=list)  # uploads failed: their URL expired
    requeued: list[str] = field(default_factory=list)  # validations asked for again
    abandoned: list[str] = field(default_factory=list)  # validations given up on
    examined: int = 0


def reconcile_models(
    catalog: ModelCatalog,
    queue: QueueService,
    *,
    stale_after_s: float,
    redelivery_s: float = 0,
    max_attempts: int = 3,
    now: float | None = None,
) -> ModelSweep:
    now = time.time() if now is None else now
    sweep = ModelSweep()
    for model in catalog.models.unsettled():
        sweep.examined += 1
        if model.upload_expired(now):
            assert model.upload_expires_at is not None
            reason = upload_expired_message(model.model_id, model.upload_expires_at)
            if catalog.fail(model, reason, from_statuses=(UPLOADING,), code=UPLOAD_EXPIRED):
                sweep.expired.append(model.model_id)
        elif model.status == VALIDATING and _age_s(model, now) > redelivery_s + stale_after_s:
            _retry(catalog, queue, model, max_attempts, sweep, now)
    if sweep.expired or sweep.requeued or sweep.abandoned:
        log.info("reconcile: models: %d examined, %d expired uploads failed, %d validations "
                 "re-queued, %d abandoned", sweep.examined, len(sweep.expired),
                 len(sweep.requeued), len(sweep.abandoned))  # fmt: skip
    return sweep


def _retry(
    catalog: ModelCatalog, queue: QueueService, model: ModelRecord, max_attempts: int,
    sweep: ModelSweep, now: float,
) -> None:  # fmt: skip
    if model.requeues >= max_attempts:
        reason = (
            f"validation did not finish after {model.requeues + 1} tries (the analyzer was "
            "stopped or ran out of memory each time): export a smaller model and register it "
            "again"
        )
        if catalog.fail(model, reason, from_statuses=(VALIDATING,), code=ABANDONED):
            sweep.abandoned.append(model.model_id)
        return
    # Touch the row first: a second sweep meanwhile sees it fresh and sends nothing more.
    if catalog.models.move(model, (VALIDATING,), requeues=model.requeues + 1,
                           updated_at=iso_time(now)):  # fmt: skip
        queue.send(encode_model_message(model.model_id))
        sweep.requeued.append(model.model_id)
        log.warning("re-queued the validation of model %s (stale since %s)", model.model_id,
                    model.updated_at)  # fmt: skip


def _age_s(model: ModelRecord, now: float) -> float:
    return now - datetime.fromisoformat(model.updated_at.replace("Z", "+00:00")).timestamp()
