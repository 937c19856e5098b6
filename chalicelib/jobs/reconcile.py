"""The safety net: re-queue jobs that were recorded but would otherwise never finish.

Two ways a job can be stranded: its queue message was never sent (the enqueue at submit failed
after the job row was written), or every delivery of it was lost with dying workers (its lease
expired, and its message went to the dead-letter queue after its last delivery). A periodic sweep
finds such jobs and sends their id again; the worker's conditional claim makes any extra message
harmless, and its attempt counter fails a job that keeps killing workers.

It never re-sends a job whose message is merely waiting in line (``enqueued_at`` is set once a
message was sent), and it leaves a running job to its own message's redelivery: only when the
lease expired more than the queue's visibility timeout (``redelivery_s``) plus ``stale_after_s``
ago, with no message sent since, is the job re-queued. So a job released after an unexpected
error is retried by SQS, and its message reaches the dead-letter queue after the last attempt.

The same sweep records that uploads whose URL expired unstarted have failed (every reader
already sees them failed; this makes it durable and sends their notices), and frees the places
of jobs that ended without freeing theirs (``PlaceBook.repair``).

A scan is fine for the job volumes one table sees between TTL expiries; a status index would be
the next step for very large tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.adapters.queue import QueueService
from chalicelib.jobs.record import PENDING, RUNNING, JobRecord
from chalicelib.jobs.store import JobStore

log = logging.getLogger(__name__)


def _age_s(iso_timestamp: str, now: float) -> float:
    return now - datetime.fromisoformat(iso_timestamp.replace("Z", "+00:00")).timestamp()


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # uploads failed: their URL expired
    freed: list[str] = field(default_factory=list)  # places freed by the repair
    examined: int = 0


def needs_requeue(job: JobRecord, *, stale_after_s: float, redelivery_s: float, now: float) -> bool:
    """Never enqueued and pending for a while, or abandoned long after the queue would have
    delivered its message again (which went to the dead-letter queue, or was lost)."""
    if job.status == PENDING:
        return job.enqueued_at is None and _age_s(job.updated_at, now) > stale_after_s
    lease = job.lease_expires_at
    if job.status != RUNNING or lease is None:
        return False
    sent_since = job.enqueued_at is not None and job.enqueued_at > lease
    return not sent_since and lease + redelivery_s + stale_after_s < now


def reconcile(
    jobs: JobStore,
    queue: QueueService,
    *,
    stale_after_s: float,
    redelivery_s: float = 0,
    now: float | None = None,
    on_final: Callable[[JobRecord], None] | None = None,
) -> ReconcileReport:
    """Re-send the ids of stranded jobs (see ``needs_requeue``) and record that they were sent;
    fail expired uploads (``on_final`` announces each); repair the tenants' places."""
    now = time.time() if now is None else now
    report = ReconcileReport()
    for job in jobs.active():
        report.examined += 1
        if job.upload_expired(now):
            failed = jobs.expire_upload(job)
            if failed is not None:
                report.expired.append(job.job_id)
                if on_final is not None:
                    on_final(failed)
        elif needs_requeue(job, stale_after_s=stale_after_s, redelivery_s=redelivery_s, now=now):
            queue.enqueue(job.job_id)
            jobs.mark_enqueued(job.job_id, at=now)
            report.requeued.append(job.job_id)
            log.warning(
                "re-queued %s job %s",
                job.status,
                job.job_id,
                extra={"job_id": job.job_id, "stage": job.status, "attempt": job.attempts},
            )
    if jobs.places is not None:
        report.freed = jobs.places.repair(jobs.find, now)
    return report
