"""JobWorker: take a job id, claim the job, analyze the video, store results, finish the job.

The same object serves the SQS-triggered Lambda function (``handle_message``) and the embedded
loop (``run_once`` / ``run_forever`` over any QueueService).

Delivery is at-least-once, so every step is safe to repeat:
- claiming is a conditional write, so a duplicate delivery finds the job taken and does nothing;
- the claim is a lease, renewed by a heartbeat while the job runs; if this worker dies, the
  message reappears after the queue's visibility timeout and the next worker takes the job over
  once the lease has expired;
- results are written once (a conditional put); only the lease holder can finish the job;
- a bad video fails the job at once (retrying cannot help); an unexpected error releases the
  lease and raises, so the queue redelivers, until the last attempt fails the job with the
  reason and raises once more, which sends the message to the dead-letter queue.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import uuid
from pathlib import Path

from chalicelib.errors import (
    BadRequest,
    IllegalTransition,
    InputMissing,
    JobNotFound,
    VideoJobsError,
)
from chalicelib.ids import results_path
from chalicelib.jobs import COMPLETED, FAILED, PENDING, RUNNING, Job
from chalicelib.pipelines import VideoFilePipelineService
from chalicelib.queue import QueueService, decode_message
from chalicelib.results import encode
from chalicelib.storage import StorageService
from chalicelib.submissions import JobOptions

log = logging.getLogger(__name__)
INTERNAL_ERROR = "analysis failed because of an internal error; the details are in the worker log"


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead): abandon it quietly."""


class LeaseKeeper:
    """Renews the job's lease every third of its length while the job runs."""

    def __init__(self, job_id: str, owner: str, lease_s: float):
        self._job, self._owner, self._lease_s = Job(job_id), owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)

    def _renew(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            try:
                self._job.renew_lease(self._owner, self._lease_s)
            except IllegalTransition:  # taken over; the worker finds out before it stores
                return
            except Exception:  # a blip: the next beat retries before the lease runs out
                log.warning("could not renew the lease of job %s", self._job.job_id)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


class JobWorker:
    def __init__(
        self,
        *,
        storage: StorageService,
        queue: QueueService | None,
        pipelines: VideoFilePipelineService,
        lease_s: float = 60.0,
        max_attempts: int = 3,
    ):
        self.storage = storage
        self.queue = queue
        self.pipelines = pipelines
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def handle_message(self, body: str, receive_count: int = 1) -> bool:
        """Process one queue message; messages that name no job are logged and dropped."""
        try:
            job_id = decode_message(body)
        except (BadRequest, JobNotFound) as error:
            log.warning("dropping malformed queue message: %s", error.message)
            return False
        return self.process(job_id, receive_count)

    def process(self, job_id: str, receive_count: int = 1) -> bool:
        """Run the job if it is pending or abandoned; True if this call did the work."""
        try:
            job = Job.get_by_id(job_id)
        except JobNotFound:
            log.warning("dropping message for unknown job %s", job_id)
            return False
        if job.status not in (PENDING, RUNNING):
            log.info("job %s is %s: nothing to do (duplicate delivery?)", job_id, job.status)
            return False
        try:
            job.claim(self.owner, self.lease_s)
        except IllegalTransition:
            log.info("job %s is held by another worker", job_id)
            return False
        if job.attempts > self.max_attempts:  # its workers kept dying (e.g. out of memory)
            reason = (
                f"analysis was abandoned {self.max_attempts} times (worker crashed or timed out)"
            )
            self._finish(job, FAILED, error_message=reason)
            return True
        final = job.attempts >= self.max_attempts or receive_count >= self.max_attempts
        log.info("job %s running (attempt %d, pipeline %s)", job_id, job.attempts, job.pipeline_id)
        try:
            with LeaseKeeper(job.job_id, self.owner, self.lease_s):
                self._analyze(job, final)
        except (LeaseLost, IllegalTransition):
            log.warning("job %s was taken over by another worker; dropping this attempt", job_id)
            return False
        return True

    def _analyze(self, job: Job, final: bool) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="video-jobs-") as workdir:
                video = Path(workdir) / "input.mp4"
                self._download(job.input_path, video)
                options = JobOptions.from_job(job)
                document = self.pipelines.run_on_file(
                    video, job.pipeline_id, sample_fps=job.sample_fps, options=options
                )
            self._confirm_lease(job)  # a worker presumed dead must not store anything
            output = self._store(job.job_id, encode(document))
        except (LeaseLost, IllegalTransition):
            raise
        except VideoJobsError as error:  # the video itself is the problem: no retry
            log.warning("job %s failed: %s", job.job_id, error.message)
            self._finish(job, FAILED, error_message=error.message)
            return
        except Exception:  # traceback to the log only; retry unless this was the last attempt
            log.exception(
                "job %s attempt %d failed with an internal error", job.job_id, job.attempts
            )
            if final:
                self._finish(job, FAILED, error_message=INTERNAL_ERROR)
            else:
                job.release_lease(self.owner)
            raise
        self._finish(job, COMPLETED, output_path=output)
        log.info("job %s completed", job.job_id)

    def _download(self, path: str, local: Path) -> None:
        try:
            self.storage.download_file(path, local)
        except FileNotFoundError:
            raise InputMissing(
                "the uploaded video is no longer in storage (expired or deleted); submit it again"
            ) from None

    def _store(self, job_id: str, data: bytes) -> str:
        """Write results once; a copy already there came from an attempt that died before
        finishing the job, and is kept (the analysis is deterministic)."""
        output = results_path(job_id)
        try:
            self.storage.save_file(data, output, overwrite=False)
        except FileExistsError:
            log.info("results of job %s were already stored; keeping them", job_id)
        return output

    def _confirm_lease(self, job: Job) -> None:
        try:
            job.renew_lease(self.owner, self.lease_s)
        except IllegalTransition:
            raise LeaseLost() from None

    def _finish(self, job: Job, status: str, **fields) -> None:
        try:
            job.update_status(status, owner=self.owner, **fields)
        except IllegalTransition:
            raise LeaseLost() from None

    def run_once(self, wait_s: float = 0) -> bool:
        """Take one message (waiting up to ``wait_s``); True if a job was run."""
        message = self.queue.dequeue(wait_s)
        if message is None:
            return False
        worked = self.handle_message(message.body, message.receive_count)
        self.queue.ack(message)  # only reached when the job's outcome is durable
        return worked

    def run_forever(self, stop: threading.Event, *, max_backoff_s: float = 10.0) -> None:
        """Poll until ``stop`` is set, backing off exponentially while the queue is idle."""
        backoff = 0.1
        while not stop.is_set():
            try:
                worked = self.run_once(wait_s=min(backoff, 1.0))
            except Exception:
                log.exception("worker loop error; retrying after %.1f s", backoff)
                worked = False
            backoff = 0.1 if worked else min(backoff * 2, max_backoff_s)
            if not worked:
                stop.wait(backoff)
