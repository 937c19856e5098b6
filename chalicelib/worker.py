"""JobWorker: take a job id, claim the job, analyze the video, store results, finish the job.

``app.analyze_video`` (the SQS-triggered function, and locally ``infra/worker_runner.py``, which
invokes it) hands each message to ``handle_message``.

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

import contextlib
import logging
import math
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from chalicelib import result_pieces
from chalicelib.config import DEFAULT_MAX_FRAMES_PER_JOB, SLICE_STORE_MARGIN_S
from chalicelib.errors import (
    IllegalTransition,
    InputMissing,
    MalformedMessage,
    PayloadTooLarge,
    VideoJobsError,
)
from chalicelib.frame_budget import check_frame_budget
from chalicelib.ids import results_path
from chalicelib.jobs import FINAL_STATES, UNFINISHED_STATES, JobRecord, JobStore
from chalicelib.pipelines import VideoFilePipelineService
from chalicelib.queue import QueueService, decode_message
from chalicelib.slices import SlicedAnalysis
from chalicelib.storage import ObjectChanged, ObjectTooLarge, StorageService
from chalicelib.submissions import JobOptions

log = logging.getLogger(__name__)
INTERNAL_ERROR = "analysis failed because of an internal error; the details are in the worker log"
STAGES = ("download", "decode", "detect", "ocr", "store")  # seconds of each, logged per job


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead): abandon it quietly."""


class JobProgress:
    """How far the running job is: the frames it will analyze, and those analyzed so far."""

    def __init__(self) -> None:
        self.frames_total: int | None = None
        self.analysis: SlicedAnalysis | None = None

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
            except IllegalTransition:  # taken over; the worker finds out before it stores
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


class StageClock:
    """Seconds spent per stage of one job, for its last log line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started

    def add(self, timings: dict[str, float]) -> None:
        """The pipeline's own stage timings (its change gate counts as decoding)."""
        for stage, seconds in timings.items():
            name = "decode" if stage == "gate" else stage
            if name in self.seconds:
                self.seconds[name] += seconds

    def report(self) -> dict[str, float]:
        return {stage: round(seconds, 3) for stage, seconds in self.seconds.items()}


def _fields(job: JobRecord, **more: object) -> dict[str, object]:
    return {"job_id": job.job_id, "stage": job.status, "attempt": job.attempts, **more}


class JobWorker:
    def __init__(
        self,
        *,
        storage: StorageService,
        jobs: JobStore,
        pipelines: VideoFilePipelineService,
        lease_s: float = 60.0,
        max_attempts: int = 3,
        on_finish: Callable[[JobRecord], None] | None = None,
        max_input_bytes: int | None = None,
        max_frames: int = DEFAULT_MAX_FRAMES_PER_JOB,
        default_sample_fps: float = 1.0,
        queue: QueueService | None = None,
        slice_s: float | None = None,
        max_duration_s: float = math.inf,
    ):
        """``on_finish(job)`` runs once the job's final status is written (the completion
        notices), and again when a redelivery finds the job final; it must not raise, as the
        outcome is already durable."""
        self.storage = storage
        self.jobs = jobs
        self.pipelines = pipelines
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.on_finish = on_finish
        self.max_input_bytes = max_input_bytes
        self.max_frames = max_frames
        self.default_sample_fps = default_sample_fps
        self.queue = queue
        self.slice_s = slice_s
        self.max_duration_s = max_duration_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def handle_message(
        self, body: str, receive_count: int = 1, remaining_ms: int | None = None
    ) -> bool:
        """Process one queue message; messages that name no job are logged and dropped.
        ``remaining_ms``: the invocation's time left (Lambda's context), to end the slice in."""
        try:
            job_id = decode_message(body)
        except MalformedMessage as error:
            log.warning("dropping malformed queue message: %s", error.message)
            return False
        deadline = math.inf
        if remaining_ms is not None:
            deadline = time.monotonic() + remaining_ms / 1000 - SLICE_STORE_MARGIN_S
        return self.process(job_id, receive_count, deadline)

    def process(self, job_id: str, receive_count: int = 1, deadline: float = math.inf) -> bool:
        """Run the job (or its next slice) if it is pending or abandoned; True if this call
        did the work. ``deadline`` (``time.monotonic``): when the slice must end at the latest."""
        found = self.jobs.find(job_id)
        if found is None:
            log.warning("dropping message for unknown job %s", job_id, extra={"job_id": job_id})
            return False
        if found.status not in UNFINISHED_STATES:
            log.info(
                "job %s is %s: nothing to do (duplicate delivery?)",
                job_id,
                found.status,
                extra=_fields(found),
            )
            if found.status in FINAL_STATES and receive_count > 1 and self.on_finish:
                # The delivery before this one may have died between the final write and its
                # notices: announce again (same event id; receivers drop repeats).
                self.on_finish(found)
            return False
        try:
            job = self.jobs.claim(job_id, self.owner, self.lease_s)
        except IllegalTransition:
            log.info("job %s is held by another worker", job_id, extra=_fields(found))
            return False
        if job.attempts > self.max_attempts:  # its workers kept dying (e.g. out of memory)
            reason = (
                f"analysis was abandoned {self.max_attempts} times (worker crashed or timed out)"
            )
            self._finish(job, error_message=reason)
            return True
        final = job.attempts >= self.max_attempts or receive_count >= self.max_attempts
        progress = JobProgress()
        try:
            with LeaseKeeper(self.jobs, job.job_id, self.owner, self.lease_s, progress):
                self._analyze(job, final, deadline, progress)
        except (LeaseLost, IllegalTransition):
            log.warning(
                "job %s was taken over by another worker; dropping this attempt",
                job_id,
                extra=_fields(job),
            )
            return False
        return True

    def _analyze(self, job: JobRecord, final: bool, deadline: float, progress: JobProgress) -> None:
        clock = StageClock()
        try:
            output = self._run(job, clock, deadline, progress)
        except (LeaseLost, IllegalTransition):
            raise
        except VideoJobsError as error:  # the video itself is the problem: no retry
            log.warning("job %s failed: %s", job.job_id, error.message, extra=_fields(job))
            self._finish(job, error_message=error.message, clock=clock)
            return
        except Exception:  # traceback to the log only; retry unless this was the last attempt
            log.exception(
                "job %s attempt %d failed with an internal error",
                job.job_id,
                job.attempts,
                extra=_fields(job),
            )
            if final:
                self._finish(job, error_message=INTERNAL_ERROR, clock=clock)
            else:
                self.jobs.release_lease(job.job_id, self.owner)
            raise
        if output is not None:
            self._finish(job, output_path=output, clock=clock)

    def _run(
        self, job: JobRecord, clock: StageClock, deadline: float, progress: JobProgress
    ) -> str | None:
        """Download, analyze, store; the results' path (None: a continuation goes on)."""
        with tempfile.TemporaryDirectory(prefix="video-jobs-") as workdir:
            video = Path(workdir) / "input.mp4"
            with clock.timed("download"):
                self._download(job, video)
            fps = job.sample_fps or self.default_sample_fps
            progress.frames_total = check_frame_budget(
                video, fps, self.max_frames, self.max_duration_s
            )
            if progress.frames_total != job.frames_total:  # status shows it from now on
                self.jobs.renew_lease(
                    job.job_id, self.owner, self.lease_s, frames_total=progress.frames_total
                )
            sliceable = getattr(self.pipelines, "sliceable", None)  # else only run_on_file
            pipeline = sliceable(job.pipeline_id) if sliceable is not None else None
            if pipeline is not None:
                progress.analysis = SlicedAnalysis(self.storage, pipeline, results_path(job.job_id))
                return self._slice(job, video, fps, clock, deadline, progress.analysis)
            timings: dict[str, float] = {}
            try:
                document = self.pipelines.run_on_file(
                    video,
                    job.pipeline_id,
                    sample_fps=job.sample_fps,
                    options=JobOptions.from_record(job),
                    timings=timings,
                )
            finally:
                clock.add(timings)
        self._confirm_lease(job)  # a worker presumed dead must not store anything
        with clock.timed("store"):
            output = results_path(job.job_id)
            result_pieces.write(self.storage, output, document)
            return output

    def _slice(
        self,
        job: JobRecord,
        video: Path,
        fps: float,
        clock: StageClock,
        deadline: float,
        analysis: SlicedAnalysis,
    ) -> str | None:
        """Analyze from the job's last checkpoint until the video's end (the results' path) or
        the slice's end (checkpoint stored, continuation sent: None)."""
        if self.queue is None:  # nobody to hand over to: one slice
            deadline = math.inf
        elif self.slice_s:
            deadline = min(deadline, time.monotonic() + self.slice_s)
        timings: dict[str, float] = {}
        try:
            end = analysis.run(
                video, number=job.slices, sample_fps=fps, options=JobOptions.from_record(job),
                stop=lambda: time.monotonic() > deadline, timings=timings,
                before_store=lambda: self._confirm_lease(job),
            )  # fmt: skip
        finally:
            clock.add(timings)
        clock.seconds["store"] += end.store_s
        number = job.slices + 1
        log.info(
            "job %s: slice %d analyzed frames %d to %d%s",
            job.job_id, number, end.first_frame, end.frames_done,
            "" if end.done else "; a continuation goes on from its checkpoint",
            extra=_fields(job, slice=number, frames=[end.first_frame, end.frames_done],
                          checkpoint_s=round(end.store_s, 3)),
        )  # fmt: skip
        if end.done:
            return results_path(job.job_id)
        assert self.queue is not None  # a slice ends early only with a queue
        self.jobs.hand_over(job.job_id, self.owner, slices=number, frames_done=end.frames_done)
        self.queue.enqueue(job.job_id, number)
        self.jobs.mark_enqueued(job.job_id)
        return None

    def _download(self, job: JobRecord, local: Path) -> None:
        """Exactly the bytes that were validated (the ETag ``start`` pinned), within the limit."""
        try:
            self.storage.download_file(
                job.input_path, local, etag=job.input_etag, max_bytes=self.max_input_bytes
            )
        except FileNotFoundError:
            raise InputMissing(
                "the uploaded video is no longer in storage (expired or deleted); submit it again"
            ) from None
        except ObjectChanged:
            raise InputMissing(
                "the uploaded video changed after start checked it (it was uploaded again "
                "through the upload URL); create a new upload for the new video"
            ) from None
        except ObjectTooLarge:
            raise PayloadTooLarge(
                f"the stored video is over the {self.max_input_bytes}-byte limit; "
                "shorten or re-encode it"
            ) from None

    def _confirm_lease(self, job: JobRecord) -> None:
        try:
            self.jobs.renew_lease(job.job_id, self.owner, self.lease_s)
        except IllegalTransition:
            raise LeaseLost() from None

    def _finish(
        self,
        job: JobRecord,
        *,
        output_path: str | None = None,
        error_message: str | None = None,
        clock: StageClock | None = None,
    ) -> JobRecord:
        """Complete (given ``output_path``) or fail the job, as its lease holder."""
        try:
            if output_path is not None:
                done = self.jobs.complete(job.job_id, owner=self.owner, output_path=output_path)
            else:
                done = self.jobs.fail(job.job_id, error_message or "", owner=self.owner)
        except IllegalTransition:
            raise LeaseLost() from None
        seconds = (clock or StageClock()).report()
        log.info(
            "job %s finished %s",
            job.job_id,
            done.status,
            extra=_fields(done, stage_seconds=seconds),
        )
        if self.on_finish is not None:  # only the write that made the job final announces it
            self.on_finish(done)
        return done
