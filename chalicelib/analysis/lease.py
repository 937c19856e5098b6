"""The lease a worker holds on a running job, renewed in the background while it works.

A worker that dies stops renewing; once the lease has expired another worker may claim the job
(``JobStore.claim``). Each renewal also records the job's progress (frames done and total) on
its row, which the status route shows.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from chalicelib.errors import IllegalTransition
from chalicelib.jobs.store import JobStore

log = logging.getLogger(__name__)


class Counting(Protocol):
    frames_done: int  # frames analyzed so far (``SlicedAnalysis`` counts them)


class JobProgress:
    """How far the running job is: the frames it will analyze, and those analyzed so far."""

    def __init__(self) -> None:
        self.frames_total: int | None = None
        self.analysis: Counting | None = None
        # set when a renewal finds the lease gone (the job was cancelled or taken over): the
        # analysis stops at its next frame check instead of running on to the slice's end
        self.lost = threading.Event()

    def fields(self) -> dict[str, int | None]:
        done = self.analysis.frames_done if self.analysis else None
        return {"frames_total": self.frames_total, "frames_done": done}


class LeaseKeeper:
    """Renews the job's lease every third of its length while the job runs (and records its
    progress on the job row with each renewal)."""

    def __init__(
        self,
        jobs: JobStore,
        job_id: str,
        owner: str,
        lease_s: float,
        progress: JobProgress | None = None,
    ):
        self._jobs, self._job_id, self._owner, self._lease_s = jobs, job_id, owner, lease_s
        self._progress = progress or JobProgress()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)

    def _renew(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            try:
                progress = self._progress.fields()
                self._jobs.renew_lease(self._job_id, self._owner, self._lease_s, **progress)
            except IllegalTransition:  # cancelled or taken over; the worker stops before it stores
                self._progress.lost.set()
                return
            except Exception:  # a blip: the next beat retries before the lease runs out
                log.warning(
                    "could not renew the lease of job %s",
                    self._job_id,
                    extra={"job_id": self._job_id},
                )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
