"""``ModelRecord``: one tenant's detector, and its statuses.

    uploading ──▶ validating ──▶ ready
        │              └───────▶ failed (with the reason: what to fix; or its validation
        │                                crashed on every attempt)
        └──────────────────────▶ failed (start found the file too large, or its upload URL
                                         expired unstarted: the reconcile sweep)

A model's file never changes once started: ``sha256`` (computed by the analyzer while
validating) names its content, and is the model's ``version`` in results and the key of the
analyzer's cache. Model ids are ``mdl-`` and 32 hex digits: never a job id, never a path.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.config import MAX_MODEL_CLASS_NAME_CHARS, MAX_MODEL_CLASSES
from chalicelib.errors import ModelNotFound, quoted, quoted_list
from chalicelib.jobs.record import iso_time, utc_now
from chalicelib.jobs.tenancy import DEFAULT_TENANT

UPLOADING = "uploading"
VALIDATING = "validating"
READY = "ready"
FAILED = "failed"
MODEL_STATES = (UPLOADING, VALIDATING, READY, FAILED)
LAYOUTS = ("v5", "v8")  # [1, N, 5+C] with objectness; [1, 4+C, N] without (detector.py)
MODELS_PREFIX = "tenant_models"  # storage keys: outside the videos' lifecycle rule
_MODEL_ID = re.compile(r"mdl-[0-9a-f]{32}")
MAX_REASON_CHARS = 500
UNSETTLED_STATES = (UPLOADING, VALIDATING)  # what the reconcile sweep looks at
INVALID_MODEL = "InvalidModel"  # the checks refused the file (the reason says what to fix)
UPLOAD_EXPIRED = "UploadExpired"  # never started before its upload URL expired
INTERNAL_ERROR = "InternalError"  # validation crashed on its last attempt
ABANDONED = "Abandoned"  # validation messages kept getting lost or killed (the sweep gave up)
ERROR_CODES = (INVALID_MODEL, UPLOAD_EXPIRED, INTERNAL_ERROR, ABANDONED)


def new_model_id() -> str:
    return "mdl-" + secrets.token_hex(16)


def parse_model_id(raw: object) -> str:
    """The id as given; a malformed one names no model that could exist (404, like a job's)."""
    if isinstance(raw, str) and _MODEL_ID.fullmatch(raw):
        return raw
    raise ModelNotFound(
        f"no model with id {quoted(raw)}: model ids look like mdl-<32 hex digits>, as "
        "POST /video/models returns them"
    )


def encode_model_message(model_id: str) -> str:
    """The job queue's message that asks the analyzer to validate a model."""
    return json.dumps({"model_id": model_id})


def model_message(body: str) -> str | None:
    """The model id a queue message asks to validate; None for any other message (a job's,
    or one that is not ours: the job worker judges those)."""
    try:
        data = json.loads(body)
    except Exception:  # ValueError, RecursionError, ...: not ours to judge
        return None
    if not isinstance(data, dict) or "model_id" not in data or "job_id" in data:
        return None
    model_id = data["model_id"]
    return model_id if isinstance(model_id, str) and _MODEL_ID.fullmatch(model_id) else None


def upload_expired_message(model_id: str, expired_at: float) -> str:
    return (
        f"no file was started before the upload URL expired at {iso_time(expired_at)}: "
        "register the model again (POST /video/models), PUT the file and start it before its "
        f"URL expires; delete this one to free its place (DELETE /video/models/{model_id})"
    )


def model_path(tenant: str, model_id: str) -> str:
    return f"{MODELS_PREFIX}/{tenant}/{parse_model_id(model_id)}.onnx"


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    tenant: str
    name: str
    status: str
    created_at: str
    updated_at: str
    class_names: tuple[str, ...] | None = None  # None: read from the file's 'names' metadata
    input_size: int | None = None  # None: the model's own fixed size (or 'imgsz', else 640)
    layout: str | None = None  # None: told from the output shape
    size_bytes: int | None = None  # known once started
    etag: str | None = None  # the uploaded version start checked: validation reads only it
    sha256: str | None = None  # known once validated
    error_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # what validation found
    upload_expires_at: int | None = None  # epoch seconds: the upload URL's end (None: older rows)
    requeues: int = 0  # validation messages the reconcile sweep sent again (a lost one)
    error_code: str | None = None  # with error_message: one of ERROR_CODES (None: InvalidModel)

    @classmethod
    def new(
        cls,
        model_id: str,
        *,
        name: str,
        tenant: str = DEFAULT_TENANT,
        class_names: tuple[str, ...] | None = None,
        input_size: int | None = None,
        layout: str | None = None,
        upload_expires_at: int | None = None,
    ) -> ModelRecord:
        now = utc_now()
        return cls(
            model_id, tenant, name, UPLOADING, now, now, class_names, input_size, layout,
            upload_expires_at=upload_expires_at,
        )  # fmt: skip

    @property
    def path(self) -> str:
        return model_path(self.tenant, self.model_id)

    def upload_expired(self, now: float) -> bool:
        """Still uploading, and its upload URL has expired: nobody can start it any more."""
        until = self.upload_expires_at
        return self.status == UPLOADING and until is not None and until <= now

    @property
    def version(self) -> str | None:
        """What results name: the first 12 hex digits of the file's SHA-256."""
        return self.sha256[:12] if self.sha256 else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["class_names"] = None if self.class_names is None else list(self.class_names)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelRecord:
        names = data.get("class_names")
        return cls(**{**data, "class_names": None if names is None else tuple(names)})

    def public(self) -> dict[str, Any]:
        """What the API shows of it."""
        shown: dict[str, Any] = {
            "model_id": self.model_id, "name": self.name, "status": self.status,
            "version": self.version, "created_at": self.created_at,
            "updated_at": self.updated_at, "size_bytes": self.size_bytes,
            "class_names": None if self.class_names is None else list(self.class_names),
            "input_size": self.input_size, "layout": self.layout, "sha256": self.sha256,
        }  # fmt: skip
        if self.error_message:
            code = self.error_code or INVALID_MODEL
            shown["error"] = {"code": code, "message": self.error_message}
        return shown

    def snapshot(self) -> dict[str, Any]:
        """What a job that runs this model keeps of it (its options): enough for the analyzer
        to load exactly this file, and for results to name it."""
        assert self.status == READY and self.sha256 and self.class_names and self.input_size
        return {
            "model_id": self.model_id, "name": self.name, "version": self.version,
            "sha256": self.sha256, "class_names": list(self.class_names),
            "input_size": self.input_size, "layout": self.layout, "path": self.path,
            "size_bytes": self.size_bytes,
        }  # fmt: skip


def class_names_problem(raw: object) -> str | None:
    """What is wrong with a list of class names, given at registration or read from a file's
    metadata (which must obey the same rules: its names become labels, search terms and keys);
    None when nothing is."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_MODEL_CLASSES:
        return (
            f"class_names must be a list of 1 to {MAX_MODEL_CLASSES} names, in the model's "
            'class order, e.g. ["helmet", "head"]; leave it out to use the file\'s metadata'
        )
    for name in raw:
        ok = isinstance(name, str) and 0 < len(name) <= MAX_MODEL_CLASS_NAME_CHARS
        if not ok or name != name.strip() or "," in name or not name.isprintable():
            return (
                f"class name {quoted(name)}: use 1 to {MAX_MODEL_CLASS_NAME_CHARS} printable "
                "characters, no comma (label filters list names with commas) and no "
                "surrounding spaces"
            )
    # a name becomes a search term in a DynamoDB key (at most 2048 bytes) once NFKD-folded,
    # which can make one character 18 (U+FDFA)
    long = [
        name
        for name in raw
        if len(unicodedata.normalize("NFKD", name)) > 4 * MAX_MODEL_CLASS_NAME_CHARS
    ]
    if long:
        return (
            f"class name {quoted(long[0])} is {len(unicodedata.normalize('NFKD', long[0]))} "
            f"characters once decomposed (NFKD): use at most {4 * MAX_MODEL_CLASS_NAME_CHARS}"
        )
    repeated = sorted({name for name in raw if raw.count(name) > 1})
    if repeated:
        return f"class_names names {quoted_list(repeated)} more than once"
    return None
