"""The job record (pynamodb) and its status machine.

    uploading ──▶ pending ──▶ running ──▶ completed
        │            │           │
        └────────────┴───────────┴──────▶ failed

``uploading`` is the state of a presigned-upload job before the caller starts it. Every transition
is ONE conditional DynamoDB write whose condition is "the status is still one I may leave", so
two writers (SQS delivers at least once) can never both win, and no job ever moves backwards.

A worker holds a running job under a lease (``lease_owner`` until ``lease_expires_at``), renewed
while it works. A worker that dies stops renewing; once the lease has expired another worker may
``claim`` the job again. Only the lease holder can finish the job, so a worker that lost its
lease (it was presumed dead) cannot overwrite the outcome of the one that took over.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.config import Settings
from chalicelib.errors import IllegalTransition, JobNotFound
from chalicelib.ids import parse_job_id

UPLOADING = "uploading"
PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
FINAL_STATES = frozenset({COMPLETED, FAILED})

# target status -> the statuses it may be reached from
ALLOWED_SOURCES: dict[str, frozenset[str]] = {
    PENDING: frozenset({UPLOADING}),
    RUNNING: frozenset({PENDING}),
    COMPLETED: frozenset({RUNNING}),
    FAILED: frozenset({UPLOADING, PENDING, RUNNING}),
}
PROGRESS = {UPLOADING: 0.0, PENDING: 0.0, RUNNING: 0.5, COMPLETED: 1.0, FAILED: 1.0}
MAX_ERROR_CHARS = 500


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds: sortable as text and unambiguous to every client."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_condition_failure(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


class Job(Model):
    class Meta:
        table_name = "video-jobs"
        region = "us-east-1"
        host: str | None = None

    job_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    input_path = UnicodeAttribute()
    output_path = UnicodeAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    pipeline_id = UnicodeAttribute()
    sample_fps = NumberAttribute(null=True)
    options = UnicodeAttribute(null=True)  # JSON: the job's non-default result options
    attempts = NumberAttribute(default=0)  # claims so far, retries and takeovers included
    lease_owner = UnicodeAttribute(null=True)
    lease_expires_at = NumberAttribute(null=True)  # epoch seconds
    expires_at = NumberAttribute(null=True)  # epoch seconds; DynamoDB TTL removes old jobs

    @classmethod
    def bind(cls, settings: Settings) -> None:
        """Point the model at the configured table and endpoint (called by the composition root)."""
        cls.Meta.table_name = settings.table_name
        cls.Meta.region = settings.region
        cls.Meta.host = settings.aws_endpoint
        cls._connection = None  # pynamodb caches the connection per class: rebuild it

    @classmethod
    def new(
        cls,
        job_id: str,
        *,
        input_path: str,
        pipeline_id: str,
        status: str = PENDING,
        sample_fps: float | None = None,
        options: str | None = None,
        retention_days: int = 30,
    ) -> Job:
        now = utc_now()
        return cls(
            job_id,
            status=status,
            created_at=now,
            updated_at=now,
            input_path=input_path,
            pipeline_id=pipeline_id,
            sample_fps=sample_fps,
            options=options,
            expires_at=int(time.time()) + retention_days * 86400,
        )

    @classmethod
    def get_by_id(cls, job_id: str) -> Job:
        job_id = parse_job_id(job_id)
        try:
            return cls.get(job_id, consistent_read=True)
        except DoesNotExist:
            raise JobNotFound(f"no job with id {job_id!r}") from None

    def save(self, *args, **kwargs):  # type: ignore[override]
        """Create the row; refuses to overwrite an existing job with the same id."""
        if args or kwargs:
            return super().save(*args, **kwargs)
        try:
            return super().save(condition=Job.job_id.does_not_exist())
        except PutError as error:
            if _is_condition_failure(error):
                raise IllegalTransition(f"job {self.job_id} already exists") from None
            raise

    def update_status(
        self,
        new_status: str,
        *,
        error_message: str | None = None,
        output_path: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Move to ``new_status`` iff the stored status still allows it (and, given ``owner``,
        that worker still holds the lease); else IllegalTransition."""
        sources = ALLOWED_SOURCES.get(new_status)
        if sources is None:
            raise ValueError(f"unknown target status {new_status!r}")
        actions = [Job.status.set(new_status), Job.updated_at.set(utc_now())]
        if error_message is not None:
            actions.append(Job.error_message.set(error_message[:MAX_ERROR_CHARS]))
        if output_path is not None:
            actions.append(Job.output_path.set(output_path))
        condition = Job.status.is_in(*sorted(sources))
        if owner is not None:
            condition &= Job.lease_owner == owner
            actions.append(Job.lease_expires_at.remove())
        self._write(actions, condition, f"go to {new_status}")

    def claim(self, owner: str, lease_s: float) -> None:
        """Take the job: pending, or running under an expired lease (its worker died)."""
        now = time.time()
        actions = [
            Job.status.set(RUNNING),
            Job.updated_at.set(utc_now()),
            Job.lease_owner.set(owner),
            Job.lease_expires_at.set(now + lease_s),
            Job.attempts.add(1),
        ]
        expired = (Job.status == RUNNING) & (Job.lease_expires_at < now)
        self._write(actions, (Job.status == PENDING) | expired, "be claimed")

    def renew_lease(self, owner: str, lease_s: float) -> None:
        """Extend the lease; IllegalTransition if ``owner`` no longer holds it."""
        self._write(
            [Job.lease_expires_at.set(time.time() + lease_s)],
            (Job.status == RUNNING) & (Job.lease_owner == owner),
            "have its lease renewed",
        )

    def release_lease(self, owner: str) -> None:
        """Give the job up for an immediate retry (the next delivery may claim it at once)."""
        self._write(
            [Job.lease_expires_at.set(0)],
            (Job.status == RUNNING) & (Job.lease_owner == owner),
            "be released",
        )

    def _write(self, actions: list, condition, what: str) -> None:
        try:
            self.update(actions=actions, condition=condition)
        except UpdateError as error:
            if not _is_condition_failure(error):
                raise
            try:
                self.refresh(consistent_read=True)
            except DoesNotExist:
                raise JobNotFound(f"no job with id {self.job_id!r}") from None
            raise IllegalTransition(
                f"job {self.job_id} cannot {what}: it is {self.status}"
            ) from None

    @property
    def progress(self) -> float:
        return PROGRESS[self.status]
