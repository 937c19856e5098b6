"""JobWorker: take a job id, claim the job, analyze the video, store results, finish the job.

The same object serves the SQS-triggered Lambda function (``handle_message``) and the embedded
loop (``run_once`` / ``run_forever`` over any QueueService). Claiming is a conditional write
(pending -> running), so a duplicate delivery finds the job taken and does nothing.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

from chalicelib.errors import BadRequest, IllegalTransition, JobNotFound, VideoJobsError
from chalicelib.ids import results_path
from chalicelib.jobs import COMPLETED, FAILED, PENDING, RUNNING, Job
from chalicelib.pipelines import VideoFilePipelineService
from chalicelib.queue import QueueService, decode_message
from chalicelib.results import encode
from chalicelib.storage import StorageService

log = logging.getLogger(__name__)
INTERNAL_ERROR = "analysis failed because of an internal error; the details are in the worker log"


class JobWorker:
    def __init__(
        self,
        *,
        storage: StorageService,
        queue: QueueService | None,
        pipelines: VideoFilePipelineService,
    ):
        self.storage = storage
        self.queue = queue
        self.pipelines = pipelines

    def handle_message(self, body: str) -> bool:
        """Process one queue message; messages that name no job are logged and dropped."""
        try:
            job_id = decode_message(body)
        except (BadRequest, JobNotFound) as error:
            log.warning("dropping malformed queue message: %s", error.message)
            return False
        return self.process(job_id)

    def process(self, job_id: str) -> bool:
        """Run the job if it is still pending; True if this call did the work."""
        try:
            job = Job.get_by_id(job_id)
        except JobNotFound:
            log.warning("dropping message for unknown job %s", job_id)
            return False
        if job.status != PENDING:
            log.info("job %s is %s: nothing to do (duplicate delivery?)", job_id, job.status)
            return False
        try:
            job.update_status(RUNNING)
        except IllegalTransition:
            log.info("job %s was claimed by another worker", job_id)
            return False
        log.info("job %s running (pipeline %s)", job_id, job.pipeline_id)
        self._analyze(job)
        return True

    def _analyze(self, job: Job) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="video-jobs-") as workdir:
                video = Path(workdir) / "input.mp4"
                self.storage.download_file(job.input_path, video)
                document = self.pipelines.run_on_file(
                    video, job.pipeline_id, sample_fps=job.sample_fps
                )
            output = results_path(job.job_id)
            self.storage.save_file(encode(document), output)
        except VideoJobsError as error:
            log.warning("job %s failed: %s", job.job_id, error.message)
            job.update_status(FAILED, error_message=error.message)
            return
        except Exception:  # the job must still end; the traceback goes to the log only
            log.exception("job %s failed with an internal error", job.job_id)
            job.update_status(FAILED, error_message=INTERNAL_ERROR)
            return
        job.update_status(COMPLETED, output_path=output)
        log.info("job %s completed", job.job_id)

    def run_once(self, wait_s: float = 0) -> bool:
        """Take one message (waiting up to ``wait_s``); True if a job was run."""
        message = self.queue.dequeue(wait_s)
        if message is None:
            return False
        worked = self.handle_message(message.body)
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
