"""``ModelCatalog``: the use case behind ``/video/models``.

Register (a record and a presigned PUT URL), start (the file's size checked and counted against
the tenant's bytes, then one validation message on the job queue: the API never loads a model),
list, get, delete, and ``usable``: what a submit naming ``model_id`` gets. Another tenant's model
answers exactly as an unknown id (``ModelNotFound``), never as forbidden.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.queue import QueueService
from chalicelib.adapters.storage import S3Storage, StorageService
from chalicelib.config import (
    MAX_MODEL_INPUT_SIDE,
    MAX_MODEL_NAME_CHARS,
    MIN_MODEL_INPUT_SIDE,
    MODEL_UPLOAD_CONTENT_TYPE,
    ModelSettings,
)
from chalicelib.errors import (
    BadRequest,
    Conflict,
    ModelNotFound,
    ModelUnavailable,
    PayloadTooLarge,
    ServiceUnavailable,
    quoted,
    quoted_list,
)
from chalicelib.jobs.record import iso_time
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.models.record import (
    FAILED,
    INVALID_MODEL,
    LAYOUTS,
    READY,
    UPLOAD_EXPIRED,
    UPLOADING,
    VALIDATING,
    ModelRecord,
    class_names_problem,
    encode_model_message,
    new_model_id,
    parse_model_id,
    upload_expired_message,
)
from chalicelib.models.store import ModelStore

log = logging.getLogger(__name__)
MAX_REGISTRATION_BYTES = 128 * 1024  # a thousand class names fit many times over
FIELDS = ("name", "class_names", "input_size", "layout")


@dataclass(frozen=True)
class ModelUpload:
    model: ModelRecord
    url: str
    headers: dict[str, str]
    expires_at: str
    max_bytes: int


class ModelCatalog:
    def __init__(
        self,
        *,
        models: ModelStore,
        storage: StorageService,
        queue: QueueService,
        settings: ModelSettings,
        url_expiry_s: int = 900,
    ):
        self.models, self.storage, self.queue = models, storage, queue
        self.settings, self.url_expiry_s = settings, url_expiry_s

    def register(self, body: bytes | None, caller: Caller = PUBLIC) -> ModelUpload:
        """A new model in ``uploading``, and the URL its file is PUT to."""
        if not isinstance(self.storage, S3Storage):
            raise TypeError("presigned uploads need S3Storage")
        fields = parse_registration(body)
        expires_at = int(time.time()) + self.url_expiry_s
        model = ModelRecord.new(
            new_model_id(), tenant=caller.tenant, upload_expires_at=expires_at, **fields
        )
        self.models.add(model, self.settings.max_per_tenant)
        url = self.storage.presigned_put_url(
            model.path, MODEL_UPLOAD_CONTENT_TYPE, self.url_expiry_s
        )
        log.info("model %s registered (%s)", model.model_id, model.name)
        headers = {"Content-Type": MODEL_UPLOAD_CONTENT_TYPE}
        return ModelUpload(
            model, url, headers, iso_time(expires_at, "seconds"), self.settings.max_bytes
        )

    def start(self, model_id: str, caller: Caller = PUBLIC) -> ModelRecord:
        """Check the uploaded file's size, count it, and queue its validation."""
        model = self.get(model_id, caller)
        if model.upload_expired(time.time()):
            assert model.upload_expires_at is not None
            reason = upload_expired_message(model.model_id, model.upload_expires_at)
            self.fail(model, reason, from_statuses=(UPLOADING,), code=UPLOAD_EXPIRED)
            raise Conflict(reason)
        if model.status != UPLOADING:
            raise Conflict(f"model {model.model_id} was already started: it is {model.status}")
        upload = self.storage.stat(model.path)
        if upload is None:
            raise Conflict(
                f"no file uploaded for model {model.model_id} yet: PUT the .onnx file to the "
                "upload URL (with its Content-Type header) first, then call start again"
            )
        if upload.size > self.settings.max_bytes:
            reason = (
                f"the file is {upload.size} bytes, above the {self.settings.max_bytes}-byte "
                "limit for one model: export a smaller model (fewer parameters, or FP16 "
                "weights) and register it again"
            )
            self.fail(model, reason, from_statuses=(UPLOADING,))
            raise PayloadTooLarge(reason)
        self.models.reserve_bytes(model, upload.size, self.settings.max_bytes_per_tenant)
        if not self.models.move(
            model, (UPLOADING,), status=VALIDATING, size_bytes=upload.size, etag=upload.etag
        ):  # the reconcile sweep or a delete won: the bytes just counted are not its any more
            self.models.reserve_bytes(model, 0, self.settings.max_bytes_per_tenant)
            raise Conflict(f"model {model.model_id} was started, failed or deleted meanwhile")
        try:
            self.queue.send(encode_model_message(model.model_id))
        except Exception:
            log.exception("could not queue the validation of model %s", model.model_id)
            self.models.move(model, (VALIDATING,), status=UPLOADING)
            raise ServiceUnavailable(
                "could not queue the model's validation right now; call start again"
            ) from None
        return self.get(model.model_id, caller)

    def fail(
        self, model: ModelRecord, reason: str, *, from_statuses: tuple[str, ...],
        code: str = INVALID_MODEL,
    ) -> bool:  # fmt: skip
        """``failed`` with ``reason``; its file is deleted and its bytes no longer count."""
        moved = self.models.move(
            model, from_statuses, status=FAILED, error_message=reason, error_code=code
        )
        if moved:
            self.storage.delete_file(model.path)
            self.models.reserve_bytes(model, 0, self.settings.max_bytes_per_tenant)
            log.info("model %s failed: %s", model.model_id, reason)
        return moved

    def list(self, caller: Caller = PUBLIC) -> dict[str, Any]:
        models = self.models.list(caller.tenant)
        return {"models": [model.public() for model in models if _visible(model, caller)]}

    def get(self, model_id: str, caller: Caller = PUBLIC) -> ModelRecord:
        model = self.models.find(parse_model_id(model_id))
        if model is None or not _visible(model, caller):
            raise ModelNotFound(f"no model with id {quoted(model_id)}")
        return model

    def delete(self, model_id: str, caller: Caller = PUBLIC) -> dict[str, Any]:
        """The record, its file and its place in the limits. Jobs queued with it fail
        (``ModelUnavailable``) when the analyzer reaches them."""
        model = self.get(model_id, caller)
        self.models.remove(model)
        self.storage.delete_file(model.path)
        log.info("model %s deleted", model.model_id)
        return {"model_id": model.model_id, "deleted": True}

    def usable(self, model_id: str, caller: Caller = PUBLIC) -> ModelRecord:
        """The ready model a job names; ModelNotFound, or ModelUnavailable if it is not ready."""
        model = self.get(model_id, caller)
        if model.status != READY:
            advice = (
                f"it failed validation: {model.error_message}" if model.status == FAILED
                else "wait until GET /video/models/{model_id} says ready"
            )  # fmt: skip
            raise ModelUnavailable(f"model {model.model_id} is {model.status}, not ready: {advice}")
        return model


def _visible(model: ModelRecord, caller: Caller) -> bool:
    """A caller sees its own tenant's models; a viewer link's caller sees none."""
    if not caller.restricted:
        return True
    return model.tenant == caller.tenant and caller.job_id is None


def parse_registration(body: bytes | None) -> dict[str, Any]:
    """The JSON body of POST /video/models; each bad field a BadRequest saying what to fix."""
    if not body:
        raise BadRequest('send a JSON object, e.g. {"name": "hard hats", "class_names": [...]}')
    if len(body) > MAX_REGISTRATION_BYTES:
        raise PayloadTooLarge(f"the body is over {MAX_REGISTRATION_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON: send a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s) {quoted_list(unknown)}: use {', '.join(FIELDS)}")
    return {
        "name": _name(data.get("name")),
        "class_names": _class_names(data.get("class_names")),
        "input_size": _input_size(data.get("input_size")),
        "layout": _layout(data.get("layout")),
    }


def _name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_MODEL_NAME_CHARS:
        raise BadRequest(f'name must be 1 to {MAX_MODEL_NAME_CHARS} characters, e.g. "hard hats"')
    if not raw.isprintable():
        raise BadRequest("name must be printable text (no control characters)")
    return raw.strip()


def _class_names(raw: object) -> tuple[str, ...] | None:
    """None: read them from the file's metadata ('names', as Ultralytics writes it)."""
    if raw is None:
        return None
    problem = class_names_problem(raw)
    if problem or not isinstance(raw, list):
        raise BadRequest(problem or "class_names must be a list")
    return tuple(raw)


def _input_size(raw: object) -> int | None:
    if raw is None:
        return None
    low, high = MIN_MODEL_INPUT_SIDE, MAX_MODEL_INPUT_SIDE
    if type(raw) is not int or not low <= raw <= high or raw % 32:
        raise BadRequest(
            f"input_size must be a whole multiple of 32 from {low} to {high} (pixels a side, "
            f"as the model was exported, e.g. 640), got {quoted(raw)}"
        )
    return raw


def _layout(raw: object) -> str | None:
    if raw is None:
        return None
    if raw not in LAYOUTS:
        raise BadRequest(
            f"layout must be v5 ([1, N, 5+C], with objectness) or v8 ([1, 4+C, N], YOLOv8 and "
            f"v11), got {quoted(raw)}; leave it out to tell it from the output's shape"
        )
    return str(raw)
