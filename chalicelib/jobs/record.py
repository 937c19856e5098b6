"""The job record and its status machine.

    uploading ──▶ pending ──▶ running ──▶ completed
        │            │           │
        └────────────┴───────────┴──────▶ failed

``uploading`` is the state of a presigned-upload job before the caller starts it. Every transition
is ONE conditional write (``chalicelib/jobs/store.py``) whose condition is "the status is still
one I may leave", so two writers (SQS delivers at least once) can never both win, and no job ever
moves backwards. ``JobRecord`` is a plain dataclass: no storage library leaks out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.jobs.tenancy import DEFAULT_TENANT

UPLOADING = "uploading"
PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
FINAL_STATES = frozenset({COMPLETED, FAILED})
UNFINISHED_STATES = frozenset({PENDING, RUNNING})  # what the reconcile sweep looks at
ACTIVE_STATES = frozenset({UPLOADING, PENDING, RUNNING})  # what a tenant's job limit counts

# target status -> the statuses it may be reached from
ALLOWED_SOURCES: dict[str, frozenset[str]] = {
    PENDING: frozenset({UPLOADING}),
    RUNNING: frozenset({PENDING}),  # by claim() only (it takes a lease)
    COMPLETED: frozenset({RUNNING}),
    FAILED: frozenset({UPLOADING, PENDING, RUNNING}),
}
PROGRESS = {UPLOADING: 0.0, PENDING: 0.0, RUNNING: 0.5, COMPLETED: 1.0, FAILED: 1.0}
MAX_ERROR_CHARS = 500
DAY_S = 86400


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds: sortable as text and unambiguous to every client."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        )

    @property
    def progress(self) -> float:
        return PROGRESS[self.status]
