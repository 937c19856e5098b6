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
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib import logs
from chalicelib.adapters.queue import QueueService
from chalicelib.adapters.storage import StorageService
from chalicelib.analysis.budget import check_frame_budget, video_duration_s
from chalicelib.analysis.lease import JobProgress, LeaseKeeper
from chalicelib.analysis.registry import PipelineSource
from chalicelib.analysis.slices import SlicedAnalysis, SliceEnd
from chalicelib.analysis.thumbnail import make_thumbnail, thumbnail_path
from chalicelib.config import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_FRAMES_PER_JOB,
    SLICE_STORE_MARGIN_S,
    Settings,
)
from chalicelib.errors import (
    IllegalTransition,
    InputMissing,
    LeaseLost,
    MalformedMessage,
    ModelUnavailable,
    ObjectChanged,
    ObjectTooLarge,
    PayloadTooLarge,
    VideoJobsError,
)
from chalicelib.jobs.ids import decode_message, results_path
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import ANNOUNCED_STATES, COMPLETED, UNFINISHED_STATES, JobRecord
from chalicelib.jobs.store import JobStore
from chalicelib.metrics import Metrics
from chalicelib.models.record import READY, model_message
from chalicelib.models.store import ModelStore

if TYPE_CHECKING:  # loaded by the composition root only when a model message may come
    from chalicelib.analysis.model_check import ModelValidator

log = logging.getLogger(__name__)
INTERNAL_ERROR = "analysis failed because of an internal error; the details are in the worker log"
STAGES = ("download", "decode", "detect", "ocr", "store", "thumbnail")  # seconds, logged per job


def _ids(job: JobRecord) -> dict[str, str]:
    """A metric's properties: whose job, which one."""
    return {"tenant": job.tenant, "job_id": job.job_id}


class StageClock:
    """Seconds spent per stage of one job, for its last log line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Wall seconds since this attempt began (download included)."""
        return time.perf_counter() - self.started

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
    return {
        "job_id": job.job_id, "tenant": job.tenant, "stage": job.status,
        "attempt": job.attempts, **more,
    }  # fmt: skip


@dataclass(frozen=True)
class Finished:
    """What a job's last slice ends with."""

    results_path: str
    duration_s: float | None
    thumbnail: str | None  # its stored path


@dataclass(frozen=True)
class WorkerSettings:
    """The limits and timings a worker runs jobs under."""

    lease_s: float = 60.0  # a running job whose lease is not renewed for this long is taken over
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # claims before a job that keeps dying is failed
    max_input_bytes: int | None = None  # a larger stored video fails the job
    max_frames: int = DEFAULT_MAX_FRAMES_PER_JOB  # duration x sample rate above this fails it
    max_duration_s: float = math.inf  # a longer video fails it
    default_sample_fps: float = 1.0  # for jobs that did not choose a rate
    slice_s: float | None = None  # analysis per invocation; None: the invocation's time

    @classmethod
    def of(cls, settings: Settings) -> WorkerSettings:
        """The deployment's."""
        return cls(
            lease_s=settings.job_lease_s,
            max_attempts=settings.max_attempts,
            max_input_bytes=settings.max_upload_bytes,
            max_frames=settings.max_frames_per_job,
            max_duration_s=settings.max_duration_s,
            default_sample_fps=settings.sample_fps,
            slice_s=settings.slice_s,
        )


class JobWorker:
    def __init__(
        self,
        *,
        storage: StorageService,
        jobs: JobStore,
        pipelines: PipelineSource,
        settings: WorkerSettings | None = None,
        queue: QueueService | None = None,
        on_finish: Callable[[JobRecord], None] | None = None,
        index: Callable[[JobRecord, str], object] | None = None,
        metrics: Metrics | None = None,
        models: ModelStore | None = None,
        validator: ModelValidator | None = None,
    ):
        """``queue``: where a slice sends its continuation (None: a job is one slice).
        ``models``: tenants' models, checked before a job that names one runs; ``validator``
        takes the queue's model validation messages (chalicelib/analysis/model_check.py).
        ``index(job, results_path)`` puts a job whose results are stored in the search index,
        before it is marked completed; an error fails the attempt like any internal error.
        ``on_finish(job)`` runs once the job's final status is written (the completion
        notices), and again when a redelivery finds the job final; it must not raise, as the
        outcome is already durable."""
        self.storage, self.jobs, self.pipelines = storage, jobs, pipelines
        self.settings = settings or WorkerSettings()
        self.queue, self.on_finish, self.index = queue, on_finish, index
        self.metrics = metrics or Metrics()
        self.models, self.validator = models, validator
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def handle_message(
        self, body: str, receive_count: int = 1, remaining_ms: int | None = None
    ) -> bool:
        """Process one queue message; messages that name no job are logged and dropped.
        ``remaining_ms``: the invocation's time left (Lambda's context), to end the slice in."""
        model_id = model_message(body)
        if model_id is not None:
            if self.validator is None:
                log.warning("dropping model message %s: this worker validates no models", model_id)
                return False
            final = receive_count >= self.settings.max_attempts  # SQS dead-letters it next
            with logs.context(stage="validate_model"):
                return self.validator.handle(model_id, final=final)
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
        did the work. ``deadline`` (``time.monotonic``): when the slice must end at the latest.
        Every line logged meanwhile names the job and its tenant."""
        with logs.context(job_id=job_id):
            return self._process(job_id, receive_count, deadline)

    def _process(self, job_id: str, receive_count: int, deadline: float) -> bool:
        found = self.jobs.find(job_id)
        if found is None:
            log.warning("dropping message for unknown job %s", job_id, extra={"job_id": job_id})
            return False
        logs.bind(tenant=found.tenant)
        if found.status not in UNFINISHED_STATES:
            log.info(
                "job %s is %s: nothing to do (duplicate delivery?)",
                job_id,
                found.status,
                extra=_fields(found),
            )
            if found.status in ANNOUNCED_STATES and receive_count > 1 and self.on_finish:
                # The delivery before this one may have died between the final write and its
                # notices: announce again (same event id; receivers drop repeats).
                self.on_finish(found)
            return False
        try:
            job = self.jobs.claim(job_id, self.owner, self.settings.lease_s)
        except IllegalTransition:
            log.info("job %s is held by another worker", job_id, extra=_fields(found))
            return False
        if found.enqueued_at is not None:  # how long its message waited for this claim
            wait_s = max(0.0, time.time() - found.enqueued_at)
            self.metrics.put("QueueWaitSeconds", round(wait_s, 3), None, **_ids(job))
        if job.attempts > self.settings.max_attempts:  # its workers kept dying (e.g. out of memory)
            reason = (
                f"analysis was abandoned {self.settings.max_attempts} times "
                "(worker crashed or timed out)"
            )
            self._finish(job, error_message=reason, error_code="Abandoned")
            return True
        final = (
            job.attempts >= self.settings.max_attempts
            or receive_count >= self.settings.max_attempts
        )
        progress = JobProgress()
        try:
            with LeaseKeeper(self.jobs, job.job_id, self.owner, self.settings.lease_s, progress):
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
            if output is not None and self.index is not None:  # findable once completed
                with clock.timed("store"):
                    self.index(job, output.results_path)
        except (LeaseLost, IllegalTransition):
            raise
        except VideoJobsError as error:  # the video itself is the problem: no retry
            log.warning("job %s failed: %s", job.job_id, error.message, extra=_fields(job))
            self._finish(job, error_message=error.message, clock=clock,
                         error_code=type(error).__name__)  # fmt: skip
            return
        except Exception:  # traceback to the log only; retry unless this was the last attempt
            log.exception(
                "job %s attempt %d failed with an internal error",
                job.job_id,
                job.attempts,
                extra=_fields(job),
            )
            if final:
                self._finish(job, error_message=INTERNAL_ERROR, clock=clock,
                             error_code="InternalError")  # fmt: skip
            else:
                self.jobs.release_lease(job.job_id, self.owner)
            raise
        if output is not None:
            self._finish(job, output_path=output.results_path, clock=clock,
                         duration_s=output.duration_s, thumbnail=output.thumbnail)  # fmt: skip

    def _run(
        self, job: JobRecord, clock: StageClock, deadline: float, progress: JobProgress
    ) -> Finished | None:
        """Download, then analyze this slice; what the job ends with (None: a continuation
        goes on)."""
        with tempfile.TemporaryDirectory(prefix="video-jobs-") as workdir:
            video = Path(workdir) / "input.mp4"
            with clock.timed("download"):
                self._download(job, video)
            fps = job.sample_fps or self.settings.default_sample_fps
            progress.frames_total = check_frame_budget(
                video, fps, self.settings.max_frames, self.settings.max_duration_s
            )
            if progress.frames_total != job.frames_total:  # status shows it from now on
                self.jobs.renew_lease(
                    job.job_id,
                    self.owner,
                    self.settings.lease_s,
                    frames_total=progress.frames_total,
                )
            self._check_model(job)
            pipeline = self.pipelines.pipeline(job.pipeline_id)
            progress.analysis = SlicedAnalysis(self.storage, pipeline, job.job_id)
            end = self._slice(job, video, fps, clock, deadline, progress)
            if end is None:
                return None
            with clock.timed("thumbnail"):
                return self._finished(job, video, end.picture)

    def _finished(self, job: JobRecord, video: Path, frame: Any) -> Finished:
        """The results' path, the video's duration and its thumbnail (stored now, from the
        analysis's ``frame`` or, without one, decoded while the video is on disk; None if none
        could be made)."""
        output, duration_s = results_path(job.job_id), video_duration_s(video)
        try:
            picture = make_thumbnail(video, duration_s, frame)
        except Exception:  # OpenCV's own errors: the job completes without a picture
            log.exception("job %s: making its thumbnail failed", job.job_id, extra=_fields(job))
            picture = None
        if picture is None:
            log.info("job %s: no thumbnail could be made", job.job_id, extra=_fields(job))
            return Finished(output, duration_s, None)
        path = thumbnail_path(job.job_id)
        self.storage.save_file(picture, path)
        return Finished(output, duration_s, path)

    def _slice(
        self,
        job: JobRecord,
        video: Path,
        fps: float,
        clock: StageClock,
        deadline: float,
        progress: JobProgress,
    ) -> SliceEnd | None:
        """Analyze from the job's last checkpoint until the video's end (how the last slice
        ended) or the slice's end (checkpoint stored, continuation sent: None)."""
        if self.queue is None:  # nobody to hand over to: one slice
            deadline = math.inf
        elif self.settings.slice_s:
            deadline = min(deadline, time.monotonic() + self.settings.slice_s)
        timings: dict[str, float] = {}
        analysis, lost = progress.analysis, progress.lost
        assert isinstance(analysis, SlicedAnalysis)
        try:
            end = analysis.run(
                video, number=job.slices, sample_fps=fps, options=JobOptions.from_record(job),
                stop=lambda: time.monotonic() > deadline or lost.is_set(), timings=timings,
                before_store=lambda: self._confirm_lease(job),
            )  # fmt: skip
        finally:
            clock.add(timings)
        clock.seconds["store"] += end.store_s
        number = job.slices + 1
        self._measure_slice(job, end.frames_done - end.first_frame, fps, clock.elapsed())
        log.info(
            "job %s: slice %d analyzed frames %d to %d%s",
            job.job_id, number, end.first_frame, end.frames_done,
            "" if end.done else "; a continuation goes on from its checkpoint",
            extra=_fields(job, slice=number, frames=[end.first_frame, end.frames_done],
                          checkpoint_s=round(end.store_s, 3)),
        )  # fmt: skip
        if end.done:
            return end
        assert self.queue is not None  # a slice ends early only with a queue
        self.jobs.hand_over(job.job_id, self.owner, slices=number, frames_done=end.frames_done)
        self.queue.enqueue(job.job_id, number)
        self.jobs.mark_enqueued(job.job_id)
        return None

    def _measure_slice(self, job: JobRecord, frames: int, fps: float, seconds: float) -> None:
        """This invocation's cost: its seconds, frames, and seconds per minute of video."""
        fields = {"Pipeline": job.pipeline_id}
        self.metrics.put("AnalysisSeconds", round(seconds, 3), fields, **_ids(job))
        self.metrics.put("FramesAnalyzed", frames, fields, **_ids(job))
        if frames > 0:
            per_minute = seconds / (frames / fps / 60)
            self.metrics.put("SecondsPerVideoMinute", round(per_minute, 3), fields, **_ids(job))

    def _download(self, job: JobRecord, local: Path) -> None:
        """Exactly the bytes that were validated (the ETag ``start`` pinned), within the limit."""
        try:
            self.storage.download_file(
                job.input_path, local, etag=job.input_etag, max_bytes=self.settings.max_input_bytes
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
                f"the stored video is over the {self.settings.max_input_bytes}-byte limit; "
                "shorten or re-encode it"
            ) from None

    def _check_model(self, job: JobRecord) -> None:
        """A job's own model must still be its tenant's, ready, and the very file it was
        submitted with: a model deleted since fails the job (``ModelUnavailable``)."""
        chosen = JobOptions.from_record(job).model
        if chosen is None:
            return
        found = self.models.find(chosen["model_id"]) if self.models is not None else None
        if (
            found is None or found.status != READY or found.tenant != job.tenant
            or found.sha256 != chosen["sha256"]
        ):  # fmt: skip
            raise ModelUnavailable(
                f"model {chosen['model_id']} ({chosen['name']}) was deleted after this job was "
                "submitted: register the model again and submit the job with its new id"
            )

    def _confirm_lease(self, job: JobRecord) -> None:
        try:
            self.jobs.renew_lease(job.job_id, self.owner, self.settings.lease_s)
        except IllegalTransition:
            raise LeaseLost(
                f"job {job.job_id} was taken over before its results were stored"
            ) from None

    def _finish(
        self,
        job: JobRecord,
        *,
        output_path: str | None = None,
        error_message: str | None = None,
        error_code: str = "AnalysisError",
        clock: StageClock | None = None,
        duration_s: float | None = None,
        thumbnail: str | None = None,
    ) -> JobRecord:
        """Complete (given ``output_path``) or fail the job, as its lease holder; ``error_code``
        names the failure in the JobsFailed metric and on the row (an error class, or
        InternalError, Abandoned)."""
        try:
            if output_path is not None:
                done = self.jobs.complete(
                    job.job_id,
                    owner=self.owner,
                    output_path=output_path,
                    duration_s=duration_s,
                    thumbnail_path=thumbnail,
                )
            else:
                done = self.jobs.fail(
                    job.job_id, error_message or "", owner=self.owner, error_code=error_code
                )
        except IllegalTransition:
            raise LeaseLost(f"job {job.job_id} was taken over before it was finished") from None
        seconds = (clock or StageClock()).report()
        pipeline = {"Pipeline": done.pipeline_id}
        if done.status == COMPLETED:
            self.metrics.put("JobsCompleted", 1, pipeline, **_ids(done))
            self.metrics.put("SlicesPerJob", job.slices + 1, pipeline, **_ids(done))
        else:
            self.metrics.put("JobsFailed", 1, {**pipeline, "ErrorCode": error_code}, **_ids(done))
        log.info(
            "job %s finished %s",
            job.job_id,
            done.status,
            extra=_fields(done, stage_seconds=seconds),
        )
        if self.on_finish is not None:  # only the write that made the job final announces it
            self.on_finish(done)
        return done
