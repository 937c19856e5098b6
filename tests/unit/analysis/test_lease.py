"""The lease keeper: it renews the job's lease (with its progress) while the work goes on, and
stops once another worker took the job over."""

from __future__ import annotations

import time

from chalicelib.analysis.lease import JobProgress, LeaseKeeper
from chalicelib.jobs.store import InMemoryJobStore
from tests.support.jobs import new_job


def test_the_lease_is_renewed_with_the_progress_while_the_work_goes_on():
    jobs = InMemoryJobStore()
    job = jobs.claim(new_job(jobs).job_id, "me", lease_s=0.3)
    progress = JobProgress()
    progress.frames_total = 40
    with LeaseKeeper(jobs, job.job_id, "me", 0.3, progress):
        time.sleep(0.5)  # past the first lease: only renewals keep it
        stored = jobs.get(job.job_id)
    assert stored.lease_expires_at > job.lease_expires_at + 0.1
    assert (stored.lease_owner, stored.frames_total, stored.frames_done) == ("me", 40, None)


def test_renewals_stop_once_the_job_was_taken_over():
    jobs = InMemoryJobStore()
    job = jobs.claim(new_job(jobs).job_id, "me", lease_s=0.3)
    with LeaseKeeper(jobs, job.job_id, "me", 0.3) as keeper:
        jobs.release_lease(job.job_id, "me")
        jobs.claim(job.job_id, "successor", lease_s=60)
        time.sleep(0.25)  # one beat: refused, so the thread ends
        assert not keeper._thread.is_alive()
    assert jobs.get(job.job_id).lease_owner == "successor"
