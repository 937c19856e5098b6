"""The safety net: re-queue jobs that were recorded but would otherwise never finish.

Two ways a job can be stranded: its queue message was never sent (the enqueue at submit failed
after the job row was written), or every delivery of it was lost with a dying worker (its lease
expired and the message went to the dead-letter queue). A periodic sweep finds such jobs and
sends their id again; the worker's conditional claim makes any extra message harmless, and its
attempt counter fails a job that keeps killing workers.

A scan is fine for the job volumes one table sees between TTL expiries; a status index would be
the next step for very large tables.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.jobs import PENDING, RUNNING, JobStore
from chalicelib.queue import QueueService

log = logging.getLogger(__name__)


def _age_s(iso_timestamp: str, now: float) -> float:
    return now - datetime.fromisoformat(iso_timestamp.replace("Z", "+00:00")).timestamp()


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    examined: int = 0


def reconcile(
    jobs: JobStore, queue: QueueService, *, stale_after_s: float, now: float | None = None
) -> ReconcileReport:
    """Re-send the ids of jobs pending for ``stale_after_s`` or running under an expired lease."""
    now = time.time() if now is None else now
    report = ReconcileReport()
    for job in jobs.unfinished():
        report.examined += 1
        stuck_pending = job.status == PENDING and _age_s(job.updated_at, now) > stale_after_s
        lease = job.lease_expires_at
        abandoned = job.status == RUNNING and lease is not None and lease + stale_after_s < now
        if stuck_pending or abandoned:
            queue.enqueue(job.job_id)
            report.requeued.append(job.job_id)
            log.warning(
                "re-queued %s job %s",
                job.status,
                job.job_id,
                extra={"job_id": job.job_id, "stage": job.status, "attempt": job.attempts},
            )
    return report
