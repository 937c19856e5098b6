"""Reading jobs: what ``GET /video/status`` and ``GET /video/results`` answer.

``JobQueries`` is built by the composition root over the job store and storage; each method
returns the JSON body of its route, so ``app.py`` only parses the request and renders.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.errors import DamagedPiece, JobNotFound, ResultsDamaged, ResultsNotReady
from chalicelib.jobs.record import COMPLETED, FAILED, RUNNING, JobRecord
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.results import pieces
from chalicelib.results.pages import ResultsPage

log = logging.getLogger(__name__)


def status_view(job: JobRecord) -> dict[str, Any]:
    """The public view of a job: no paths, leases or internal counters."""
    view: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status,
        "progress": job.progress,
        "pipeline_id": job.pipeline_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    if job.source_name is not None:
        view["source_name"] = job.source_name
    if job.duration_s is not None:
        view["duration_s"] = round(job.duration_s, 3)
    if job.status == RUNNING and job.frames_total is not None:
        view["frames_done"] = job.frames_done or 0
        view["frames_total"] = job.frames_total
    if job.status == FAILED:
        view["error_message"] = job.error_message
        if job.error_code is not None:  # rows from before codes were kept have none
            view["error_code"] = job.error_code
    return view


def damaged(job_id: str, error: DamagedPiece) -> ResultsDamaged:
    """What a caller is told when a job's stored results cannot be read (the piece that broke is
    logged, never shown)."""
    log.error("stored results of job %s are damaged: %s", job_id, error, extra={"job_id": job_id})
    return ResultsDamaged(
        f"the stored results of job {job_id} are damaged and cannot be read; "
        "submit the video again to analyze it anew"
    )


class JobQueries:
    def __init__(self, *, jobs: JobStore, storage: StorageService):
        self.jobs = jobs
        self.storage = storage

    def status(self, job_id: str, caller: Caller = PUBLIC) -> dict[str, Any]:
        return status_view(self.jobs.get(job_id, caller))

    def results(self, job_id: str, page: ResultsPage, caller: Caller = PUBLIC) -> dict[str, Any]:
        """One page of a completed job's results (reading only the head and one piece);
        ResultsNotReady for any other job, ResultsDamaged if what is stored is unreadable."""
        job = self.jobs.get(job_id, caller)
        if job.status != COMPLETED or job.output_path is None:
            reason = f": {job.error_message}" if job.status == FAILED else "; poll its status"
            raise ResultsNotReady(f"job {job.job_id} has no results: it is {job.status}{reason}")
        try:
            results, next_token = pieces.read_page(self.storage, job.output_path, page)
        except FileNotFoundError:
            raise JobNotFound(f"results of job {job.job_id} are gone (expired?)") from None
        except DamagedPiece as error:
            raise damaged(job.job_id, error) from None
        body = {
            "job_id": job.job_id,
            "results": results,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
        }
        if next_token:
            body["next_token"] = next_token
        return body
