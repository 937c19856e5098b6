"""The job record and its status machine.

    uploading ──▶ pending ──▶ running ──▶ completed
        │            │           │
        ├────────────┼───────────┼──────▶ failed
        └────────────┴───────────┴──────▶ cancelled (DELETE /video/{job_id})

``uploading`` is the state of a presigned-upload job before the caller starts it; once its upload
URL has expired without a start, the job is ``failed`` (``UploadExpired``) from that moment for
every reader (``JobRecord.as_of``), and the reconcile sweep records it. Every transition
is ONE conditional write (``chalicelib/jobs/store.py``) whose condition is "the status is still
one I may leave", so two writers (SQS delivers at least once) can never both win, and no job ever
moves backwards. ``JobRecord`` is a plain dataclass: no storage library leaks out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.jobs.tenancy import DEFAULT_TENANT

UPLOADING = "uploading"
PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"  # its owner deleted it before it ended
FINAL_STATES = frozenset({COMPLETED, FAILED, CANCELLED})
ANNOUNCED_STATES = frozenset({COMPLETED, FAILED})  # final statuses that send notices; a cancel:
# its owner asked for it through the API and was answered there
UNFINISHED_STATES = frozenset({PENDING, RUNNING})  # what the reconcile sweep may re-queue
ACTIVE_STATES = frozenset({UPLOADING, PENDING, RUNNING})  # what a tenant's job limit counts
UPLOAD_EXPIRED = "UploadExpired"

# target status -> the statuses it may be reached from
ALLOWED_SOURCES: dict[str, frozenset[str]] = {
    PENDING: frozenset({UPLOADING}),
    RUNNING: frozenset({PENDING}),  # by claim() only (it takes a lease)
    COMPLETED: frozenset({RUNNING}),
    FAILED: frozenset({UPLOADING, PENDING, RUNNING}),
    CANCELLED: frozenset({UPLOADING, PENDING, RUNNING}),
}
PROGRESS = {
    UPLOADING: 0.0, PENDING: 0.0, RUNNING: 0.5, COMPLETED: 1.0, FAILED: 1.0, CANCELLED: 1.0,
}  # fmt: skip
MAX_ERROR_CHARS = 500
DAY_S = 86400


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds: sortable as text and unambiguous to every client."""
    return iso_time(time.time())


def iso_time(epoch_s: float, timespec: str = "milliseconds") -> str:
    """``utc_now``'s format for another moment."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def upload_expired_message(expired_at: float) -> str:
    return (
        f"{UPLOAD_EXPIRED}: no video was started before the upload URL expired at "
        f"{iso_time(expired_at)}: create a new upload (POST /video/uploads), PUT the video and "
        "start it before its URL expires"
    )


def expiry(retention_days: int) -> int:
    """Epoch seconds after which DynamoDB's TTL removes a row written now."""
    return int(time.time()) + retention_days * DAY_S


@dataclass(frozen=True)
class JobRecord:
    """One job row, as handlers and the worker see it (no storage library leaks out)."""

    job_id: str
    status: str
    created_at: str
    updated_at: str
    input_path: str
    pipeline_id: str
    input_etag: str | None = None  # the upload's version that start validated (presigned uploads)
    sample_fps: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # per-job options beyond the two above
    output_path: str | None = None
    error_message: str | None = None
    attempts: int = 0  # claims since the last checkpoint (retries and takeovers included)
    slices: int = 0  # checkpoints stored so far: a long video is analyzed in slices
    frames_done: int | None = None  # frames analyzed so far (running jobs)
    frames_total: int | None = None  # frames the job will analyze (duration x sample rate)
    lease_owner: str | None = None
    lease_expires_at: float | None = None  # epoch seconds
    enqueued_at: float | None = None  # epoch seconds; last time a queue message was sent for it
    expires_at: int | None = None  # epoch seconds; DynamoDB TTL removes old jobs
    tenant: str = DEFAULT_TENANT  # whose job it is (rows from before tenants: the default)
    upload_expires_at: float | None = None  # epoch seconds; an uploading job's URL expiry
    idempotency_key_id: str | None = None  # the Idempotency-Key item that names it (a delete
    # removes it with the job)
    source_name: str | None = None  # the video's file name, when the caller gave one
    duration_s: float | None = None  # the video's duration, known once it was analyzed
    error_code: str | None = None  # a failed job's reason, as a word (e.g. TooManyFrames)
    thumbnail_path: str | None = None  # one small JPEG frame, stored at completion

    @classmethod
    def new(
        cls,
        job_id: str,
        *,
        input_path: str,
        pipeline_id: str,
        retention_days: int,
        status: str = PENDING,
        sample_fps: float | None = None,
        options: dict[str, Any] | None = None,
        tenant: str = DEFAULT_TENANT,
        upload_expires_at: float | None = None,
        source_name: str | None = None,
    ) -> JobRecord:
        now = utc_now()
        return cls(
            job_id=job_id,
            status=status,
            created_at=now,
            updated_at=now,
            input_path=input_path,
            pipeline_id=pipeline_id,
            sample_fps=sample_fps,
            options=dict(options or {}),
            expires_at=expiry(retention_days),
            tenant=tenant,
            upload_expires_at=upload_expires_at,
            source_name=source_name,
        )

    def upload_expired(self, now: float) -> bool:
        """Still uploading, and its upload URL has expired."""
        until = self.upload_expires_at
        return self.status == UPLOADING and until is not None and until <= now

    def as_of(self, now: float) -> JobRecord:
        """The job as every reader sees it at ``now``: an expired upload is failed from the
        moment its URL expired, before the sweep writes it down."""
        if not self.upload_expired(now):
            return self
        assert self.upload_expires_at is not None
        return replace(
            self,
            status=FAILED,
            updated_at=iso_time(self.upload_expires_at),
            error_message=upload_expired_message(self.upload_expires_at),
            error_code=UPLOAD_EXPIRED,
        )

    @property
    def progress(self) -> float:
        return PROGRESS[self.status]
