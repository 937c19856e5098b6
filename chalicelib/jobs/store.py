"""The ``JobStore`` port that keeps job rows, and its in-memory adapter.

Every status change (``chalicelib/jobs/record.py`` has the machine) is one conditional write. A
worker holds a running job under a lease (``lease_owner`` until ``lease_expires_at``), renewed
while it works. A worker that dies stops renewing; once the lease has expired another worker may
``claim`` the job again. Only the lease holder can finish the job, so a worker that lost its
lease (it was presumed dead) cannot overwrite the outcome of the one that took over.

Given a ``PlaceBook`` (``chalicelib/jobs/places.py``: a tenant's limit on active jobs), the store
frees a job's place with its final status, and a started upload keeps its place until it ends.

Two implementations honour one contract (tests/integration/test_job_store_contract.py runs
against both): ``DynamoJobStore`` (``chalicelib/jobs/dynamo.py``, pynamodb) and
``InMemoryJobStore`` (here). An adapter implements five row operations; the transitions and
their rules live here, once.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.errors import IllegalTransition, JobNotFound
from chalicelib.jobs.ids import parse_job_id
from chalicelib.jobs.places import PlaceBook
from chalicelib.jobs.record import (
    ACTIVE_STATES,
    ALLOWED_SOURCES,
    CANCELLED,
    COMPLETED,
    FAILED,
    FINAL_STATES,
    MAX_ERROR_CHARS,
    PENDING,
    RUNNING,
    UNFINISHED_STATES,
    UPLOAD_EXPIRED,
    UPLOADING,
    JobRecord,
    upload_expired_message,
    utc_now,
)
from chalicelib.jobs.tenancy import Caller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    """When a write may happen: the stored status is one of ``statuses`` (and, given ``owner``,
    that worker holds the lease), or, given ``takeover_before``, the job is running under a
    lease that expired before that time."""

    statuses: frozenset[str]
    owner: str | None = None
    takeover_before: float | None = None


@dataclass(frozen=True)
class JobWindow:
    """Which of a tenant's jobs a listing shows: ``created_after`` and ``created_before`` are
    inclusive bounds on ``created_at`` (ISO 8601 UTC text, which sorts as time does)."""

    status: str | None = None
    pipeline_id: str | None = None
    created_after: str | None = None
    created_before: str | None = None

    def holds(self, job: JobRecord) -> bool:
        return (
            self.status in (None, job.status)
            and self.pipeline_id in (None, job.pipeline_id)
            and (self.created_after is None or job.created_at >= self.created_after)
            and (self.created_before is None or job.created_at <= self.created_before)
        )


Cursor = tuple[str, str]  # (created_at, job_id) of the last job a page showed


@dataclass(frozen=True)
class Changes:
    """What a write does: set these attributes, remove those, and maybe count one attempt more."""

    set: dict[str, Any]
    remove: tuple[str, ...] = ()
    add_attempt: bool = False


class JobStore(ABC):
    """Job rows; every status change is one conditional write."""

    places: PlaceBook | None = None  # tenants' places, when a limit on active jobs is set

    # --- what an adapter implements -------------------------------------------------------

    @abstractmethod
    def create(self, job: JobRecord) -> None:
        """Write a new row; IllegalTransition if a job with that id exists."""

    @abstractmethod
    def find(self, job_id: str) -> JobRecord | None:
        """The row as stored now (a consistent read), or None."""

    @abstractmethod
    def active(self) -> Iterator[JobRecord]:
        """Every uploading, pending or running job (the reconcile sweep's query)."""

    @abstractmethod
    def newest(
        self, tenant: str, window: JobWindow, limit: int, after: Cursor | None = None
    ) -> list[JobRecord]:
        """Up to ``limit`` of ``tenant``'s jobs in ``window``, newest first, from the one after
        ``after`` on (DynamoDB: a query on the tenant-created index, never a scan)."""

    @abstractmethod
    def remove(self, job_id: str) -> bool:
        """Delete the row iff the job has ended (one conditional delete); True if it went,
        False if there was none. IllegalTransition if the job has not ended."""

    @abstractmethod
    def _apply(self, job_id: str, condition: Condition, changes: Changes) -> JobRecord | None:
        """Write ``changes`` iff ``condition`` holds; the new row, or None if it did not hold."""

    # --- the status machine, once for every adapter ----------------------------------------

    def get(self, job_id: str, caller: Caller | None = None) -> JobRecord:
        """The job; JobNotFound if there is none, or if ``caller`` may not see it (the same
        answer, so that nobody learns another tenant's job ids)."""
        job_id = parse_job_id(job_id)
        job = self.find(job_id)
        if job is None or (caller is not None and not caller.may_see(job.tenant, job_id)):
            raise JobNotFound(f"no job with id {job_id!r}")
        return job.as_of(time.time())

    def update_status(
        self,
        job_id: str,
        new_status: str,
        *,
        error_message: str | None = None,
        output_path: str | None = None,
        owner: str | None = None,
        more: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Move to ``new_status`` iff the stored status still allows it (and, given ``owner``,
        that worker still holds the lease); else IllegalTransition."""
        if new_status == RUNNING:  # only with a lease, or the sweep could never recover it
            raise ValueError("a job starts running only through claim(), which takes a lease")
        sources = ALLOWED_SOURCES.get(new_status)
        if sources is None:
            raise ValueError(f"unknown target status {new_status!r}")
        values: dict[str, Any] = {"status": new_status, "updated_at": utc_now()}
        if error_message is not None:
            values["error_message"] = error_message[:MAX_ERROR_CHARS]
        if output_path is not None:
            values["output_path"] = output_path
        values.update({name: value for name, value in (more or {}).items() if value is not None})
        remove = ("lease_expires_at",) if owner is not None else ()
        changes = Changes(values, remove)
        return self._write(job_id, Condition(sources, owner), changes, f"go to {new_status}")

    def start(self, job_id: str, *, input_etag: str | None = None) -> JobRecord:
        """An uploaded job is queued: uploading -> pending, pinned to the upload's ``input_etag``
        (the version start validated; the worker reads only that one). IllegalTransition once
        its upload URL has expired (even by a race with the expiry)."""
        values: dict[str, Any] = {"status": PENDING, "updated_at": utc_now()}
        if input_etag is not None:
            values["input_etag"] = input_etag
        job = self.get(job_id)  # as of now: failed once its upload URL expired
        if job.status != UPLOADING:
            raise IllegalTransition(f"job {job_id} cannot go to {PENDING}: it is {job.status}")
        if self.places is not None:
            self.places.keep(job)  # held until the job ends
        condition = Condition(ALLOWED_SOURCES[PENDING])
        return self._write(job_id, condition, Changes(values), f"go to {PENDING}")

    def expire_upload(self, job: JobRecord) -> JobRecord | None:
        """Record that ``job``'s upload URL expired with no start (what every reader already
        sees); the failed job, or None if it is no longer uploading (it was started in time, or
        another sweep recorded it)."""
        assert job.upload_expires_at is not None
        values = {
            "status": FAILED,
            "updated_at": utc_now(),
            "error_message": upload_expired_message(job.upload_expires_at),
            "error_code": UPLOAD_EXPIRED,
        }
        condition = Condition(frozenset({UPLOADING}))
        with contextlib.suppress(IllegalTransition):
            return self._write(job.job_id, condition, Changes(values), f"go to {FAILED}")
        return None

    def cancel(self, job_id: str) -> JobRecord:
        """Its owner deleted an unfinished job: uploading, pending or running -> cancelled (the
        worker of a running one loses its lease at the next renewal or store, and stops)."""
        return self.update_status(job_id, CANCELLED)

    def complete(
        self,
        job_id: str,
        *,
        owner: str,
        output_path: str,
        duration_s: float | None = None,
        thumbnail_path: str | None = None,
    ) -> JobRecord:
        """``duration_s`` and ``thumbnail_path``: what the library shows of it, when known."""
        more = {"duration_s": duration_s, "thumbnail_path": thumbnail_path}
        return self.update_status(
            job_id, COMPLETED, owner=owner, output_path=output_path, more=more
        )

    def fail(
        self,
        job_id: str,
        error_message: str,
        *,
        owner: str | None = None,
        error_code: str | None = None,
    ) -> JobRecord:
        """``error_code``: the reason as one word (an error class name), for lists and scripts."""
        more = {"error_code": error_code}
        return self.update_status(
            job_id, FAILED, error_message=error_message, owner=owner, more=more
        )

    def claim(self, job_id: str, owner: str, lease_s: float) -> JobRecord:
        """Take the job: pending, or running under an expired lease (its worker died)."""
        now = time.time()
        values = {
            "status": RUNNING,
            "updated_at": utc_now(),
            "lease_owner": owner,
            "lease_expires_at": now + lease_s,
        }
        condition = Condition(frozenset({PENDING}), takeover_before=now)
        return self._write(job_id, condition, Changes(values, add_attempt=True), "be claimed")

    def renew_lease(
        self, job_id: str, owner: str, lease_s: float, **progress: int | None
    ) -> JobRecord:
        """Extend the lease, and record ``frames_done`` / ``frames_total`` if given;
        IllegalTransition if ``owner`` no longer holds it."""
        values = {name: value for name, value in progress.items() if value is not None}
        changes = Changes({"lease_expires_at": time.time() + lease_s, **values})
        return self._write(job_id, self._held_by(owner), changes, "have its lease renewed")

    def hand_over(self, job_id: str, owner: str, *, slices: int, frames_done: int) -> JobRecord:
        """A slice ended with checkpoint ``slices`` stored: release the lease for the
        continuation, which is not a retry (the attempts count starts again)."""
        values = {"slices": slices, "frames_done": frames_done, "attempts": 0,
                  "lease_expires_at": time.time()}  # fmt: skip
        changes = Changes(values, remove=("lease_owner",))  # no renewal can win it back
        return self._write(job_id, self._held_by(owner), changes, "be handed over")

    def release_lease(self, job_id: str, owner: str) -> JobRecord:
        """Give the job up for a retry: the lease ends now, so the next delivery of its message
        may claim it at once, and the sweep counts the queue's redelivery time from now."""
        # no owner: a renewal still in flight cannot win the lease back from the next delivery
        changes = Changes({"lease_expires_at": time.time()}, remove=("lease_owner",))
        return self._write(job_id, self._held_by(owner), changes, "be released")

    def mark_enqueued(self, job_id: str, at: float | None = None) -> None:
        """Record that a message for the job was sent (at ``at``, default now): the sweep never
        re-sends a job whose message is waiting in line. A finished job is left as it is."""
        changes = Changes({"enqueued_at": time.time() if at is None else at})
        with contextlib.suppress(IllegalTransition):
            self._write(job_id, Condition(UNFINISHED_STATES), changes, "be marked enqueued")

    @staticmethod
    def _held_by(owner: str) -> Condition:
        return Condition(frozenset({RUNNING}), owner)

    def _write(self, job_id: str, condition: Condition, changes: Changes, what: str) -> JobRecord:
        job = self._apply(job_id, condition, changes)
        if job is None:
            current = self.find(job_id)
            if current is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            raise IllegalTransition(f"job {job_id} cannot {what}: it is {current.status}")
        if "status" in changes.set:
            log.info(
                "job %s is %s",
                job_id,
                job.status,
                extra={
                    "job_id": job_id,
                    "tenant": job.tenant,
                    "stage": job.status,
                    "attempt": job.attempts,
                },  # fmt: skip
            )
        if job.status in FINAL_STATES and self.places is not None:
            try:
                self.places.free(job.tenant, {job_id})
            except Exception:  # the job's outcome stands; the sweep's repair frees the place
                log.exception("could not free job %s's place", job_id, extra={"job_id": job_id})
        return job


def condition_holds(job: JobRecord, condition: Condition) -> bool:
    """``condition`` evaluated on a row in memory (the in-memory store's conditional write)."""
    if job.status in condition.statuses:
        return condition.owner is None or job.lease_owner == condition.owner
    lease = job.lease_expires_at
    takeover = condition.takeover_before
    return takeover is not None and job.status == RUNNING and lease is not None and lease < takeover


class InMemoryJobStore(JobStore):
    """Rows in a dict under a lock: the same rules as DynamoDB's conditional writes."""

    def __init__(self, places: PlaceBook | None = None) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self.places = places

    def create(self, job: JobRecord) -> None:
        with self._lock:
            if job.job_id in self._jobs:
                raise IllegalTransition(f"job {job.job_id} already exists")
            self._jobs[job.job_id] = copy.deepcopy(job)

    def find(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return copy.deepcopy(self._jobs.get(job_id))

    def active(self) -> Iterator[JobRecord]:
        with self._lock:
            rows = [job for job in self._jobs.values() if job.status in ACTIVE_STATES]
        return iter(copy.deepcopy(rows))

    def all(self) -> list[JobRecord]:
        """Every job row (for tests and tools)."""
        with self._lock:
            return copy.deepcopy(list(self._jobs.values()))

    def newest(
        self, tenant: str, window: JobWindow, limit: int, after: Cursor | None = None
    ) -> list[JobRecord]:
        with self._lock:
            rows = [
                job for job in self._jobs.values() if job.tenant == tenant and window.holds(job)
            ]
        rows.sort(key=lambda job: (job.created_at, job.job_id), reverse=True)
        if after is not None:
            rows = [job for job in rows if (job.created_at, job.job_id) < after]
        return copy.deepcopy(rows[:limit])

    def remove(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            if job.status not in FINAL_STATES:
                raise IllegalTransition(f"job {job_id} cannot be removed: it is {job.status}")
            del self._jobs[job_id]
            return True

    def _apply(self, job_id: str, condition: Condition, changes: Changes) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not condition_holds(job, condition):
                return None
            values = dict(changes.set, **{name: None for name in changes.remove})
            if changes.add_attempt:
                values["attempts"] = job.attempts + 1
            self._jobs[job_id] = replace(job, **values)
            return copy.deepcopy(self._jobs[job_id])
