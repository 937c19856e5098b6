"""Accepting work: direct submits and the presigned large-upload flow.

``Submissions`` is the use case over the ports (storage, queue, job store) that the composition
root builds; ``app.py`` only parses HTTP and renders. Order of writes at submit: video to
storage, then the job row, then the queue message, so nothing is queued that cannot be found.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import idempotency
from chalicelib.config import LIMIT_RETRY_AFTER_S, MAX_SAMPLE_FPS, MIN_SAMPLE_FPS, Settings
from chalicelib.errors import (
    BadRequest,
    Conflict,
    JobNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyJobs,
    VideoJobsError,
)
from chalicelib.ids import new_job_id, parse_job_id, video_path
from chalicelib.jobs import PENDING, UPLOADING, JobRecord, JobStore
from chalicelib.mp4 import validate_mp4, validate_mp4_bytes
from chalicelib.pipelines import check_pipeline_id
from chalicelib.queue import QueueService
from chalicelib.storage import S3Storage, StorageService
from chalicelib.tenancy import PUBLIC, Caller

log = logging.getLogger(__name__)
UPLOAD_CONTENT_TYPE = "video/mp4"


@dataclass(frozen=True)
class JobOptions:
    pipeline_id: str
    sample_fps: float | None = None
    rekognition: dict[str, Any] | None = None  # the Start* request of a Rekognition API job

    def row_options(self) -> dict[str, Any]:
        """The options a job row keeps in its one ``options`` attribute: every option other
        than the two with their own columns, when it differs from its default."""
        own_columns = {"pipeline_id", "sample_fps"}
        return {
            option.name: getattr(self, option.name)
            for option in fields(self)
            if option.name not in own_columns and getattr(self, option.name) != option.default
        }


def parse_job_options(params: Mapping[str, str] | None, settings: Settings) -> JobOptions:
    """Per-job options from query parameters: ``pipeline_id`` and ``sample_fps``."""
    params = params or {}
    unknown = set(params) - {"pipeline_id", "sample_fps"}
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {sorted(unknown)}: "
            "only pipeline_id and sample_fps are accepted"
        )
    pipeline_id = check_pipeline_id(params.get("pipeline_id", settings.default_pipeline))
    fps = params.get("sample_fps")
    if fps is None:
        return JobOptions(pipeline_id)
    try:
        value = float(fps)
    except ValueError:
        value = math.nan
    if not MIN_SAMPLE_FPS <= value <= MAX_SAMPLE_FPS:
        raise BadRequest(
            f"sample_fps must be a number from {MIN_SAMPLE_FPS:g} to {MAX_SAMPLE_FPS:g} "
            f"(frames analyzed per second of video), got {fps!r}"
        )
    return JobOptions(pipeline_id, value)


def _too_large(size: int, limit: int, advice: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"video is {size} bytes, above the {limit}-byte limit: {advice}")


def _accept(step: Callable[[], Any], what: str, undo: Callable[[], None] | None = None) -> Any:
    """Run one step of accepting a request; its failure is a 503 after ``undo``."""
    try:
        return step()
    except VideoJobsError:
        raise
    except Exception:
        log.exception("could not %s", what)
        if undo is not None:
            try:
                undo()
            except Exception:
                log.exception("clean-up after a failed submit also failed")
        raise ServiceUnavailable(
            f"could not {what} right now; nothing was accepted, please try again"
        ) from None


@dataclass(frozen=True)
class UploadTicket:
    job: JobRecord
    url: str
    headers: dict[str, str]
    expires_at: str
    max_bytes: int


class Submissions:
    """Submit, create an upload, start it: each a few checks and writes over the ports."""

    def __init__(
        self, *, storage: StorageService, queue: QueueService, jobs: JobStore, settings: Settings
    ):
        self.storage = storage
        self.queue = queue
        self.jobs = jobs
        self.settings = settings

    def parse_options(self, params: Mapping[str, str] | None) -> JobOptions:
        return parse_job_options(params, self.settings)

    def submit(
        self,
        data: bytes,
        options: JobOptions,
        *,
        idempotency_key: str | None = None,
        caller: Caller = PUBLIC,
    ) -> JobRecord:
        """Store, record, queue: in that order, so a failure part-way leaves no orphan.

        Storage or job write fails: the caller gets a 503 and nothing was accepted (a stored
        video is deleted; if even that fails, the bucket's lifecycle rule removes it). Enqueue
        fails: the job is recorded, so it is accepted anyway; the reconcile sweep re-sends stuck
        pending jobs. With an idempotency key, a retry of an accepted request returns the job it
        created.
        """
        limit = self.settings.max_direct_upload_bytes
        if len(data) > limit:
            advice = "use POST /video/uploads to get a presigned upload URL for large files"
            raise _too_large(len(data), limit, advice)
        validate_mp4_bytes(data)
        job = self._new_job(options, PENDING, caller)
        if idempotency_key is not None:
            earlier = self._reserve_key(idempotency_key, job, data, options)
            if earlier is not None:
                return self._replayed(earlier)
        forget_key = self._forgetter(idempotency_key, caller)
        self._check_limit(caller, forget_key)

        def forget_all() -> None:
            self.storage.delete_file(job.input_path)
            forget_key()

        _accept(lambda: self.storage.save_file(data, job.input_path), "store the video", forget_key)
        _accept(lambda: self.jobs.create(job), "record the job", forget_all)
        self._enqueue(job.job_id)
        log.info(
            "job %s submitted (%d bytes, pipeline %s)",
            job.job_id,
            len(data),
            options.pipeline_id,
            extra={"job_id": job.job_id, "stage": PENDING},
        )
        return job

    def submit_copied(
        self,
        copy_into: Callable[[str], None],
        options: JobOptions,
        *,
        idempotency_key: str | None = None,
        request_fingerprint: str = "",
        caller: Caller = PUBLIC,
    ) -> str:
        """Accept a video that is already in S3: ``copy_into(path)`` copies it to the job's video
        key (server-side). Same order and guarantees as ``submit``; returns the job id. A
        repeated idempotency key with the same fingerprint returns the id of the job it created
        (even while that request is still being accepted); with another one, Conflict."""
        job = self._new_job(options, PENDING, caller)
        if idempotency_key is not None:
            retention = self.settings.job_retention_days
            earlier = _accept(
                lambda: idempotency.reserve(
                    self.jobs,
                    idempotency_key,
                    job.job_id,
                    request_fingerprint,
                    retention,
                    caller.tenant,
                ),
                "check the request token",
            )
            if earlier is not None:
                log.info("job %s returned again for a repeated request token", earlier)
                return earlier
        forget_key = self._forgetter(idempotency_key, caller)
        self._check_limit(caller, forget_key)

        def forget_all() -> None:
            self.storage.delete_file(job.input_path)
            forget_key()

        _accept(lambda: copy_into(job.input_path), "copy the video", forget_key)
        _accept(lambda: self.jobs.create(job), "record the job", forget_all)
        self._enqueue(job.job_id)
        log.info(
            "job %s submitted from S3 (pipeline %s)",
            job.job_id,
            options.pipeline_id,
            extra={"job_id": job.job_id, "stage": PENDING},
        )
        return job.job_id

    def _reserve_key(
        self, key: str, job: JobRecord, data: bytes, options: JobOptions
    ) -> str | None:
        request = idempotency.fingerprint(data, options.pipeline_id, repr(options.sample_fps))
        retention = self.settings.job_retention_days
        return _accept(
            lambda: idempotency.reserve(self.jobs, key, job.job_id, request, retention, job.tenant),
            "check the Idempotency-Key",
        )

    def _forgetter(self, key: str | None, caller: Caller) -> Callable[[], None]:
        def forget() -> None:
            if key is not None:
                idempotency.release(self.jobs, key, caller.tenant)

        return forget

    def _check_limit(self, caller: Caller, undo: Callable[[], None] | None = None) -> None:
        """TooManyJobs when the caller's tenant already has its most active jobs (counted,
        then created: two requests at once can pass the last free place together)."""
        limit = self.settings.max_active_jobs_per_tenant
        if limit <= 0:
            return
        active = _accept(lambda: self.jobs.active_jobs(caller.tenant), "count active jobs", undo)
        if active >= limit:
            if undo is not None:
                undo()
            raise TooManyJobs(
                f"{active} of your jobs are already uploading, pending or running (the limit "
                f"is {limit}): retry once some have finished",
                LIMIT_RETRY_AFTER_S,
            )

    def _replayed(self, job_id: str) -> JobRecord:
        try:
            job = self.jobs.get(job_id)
        except JobNotFound:  # the first request holds the key but has not recorded its job yet
            raise Conflict(
                "a request with this Idempotency-Key is still being accepted; retry in a moment"
            ) from None
        log.info("job %s returned again for a repeated Idempotency-Key", job_id)
        return job

    def _new_job(self, options: JobOptions, status: str, caller: Caller) -> JobRecord:
        job_id = new_job_id()
        return JobRecord.new(
            job_id,
            input_path=video_path(job_id),
            pipeline_id=options.pipeline_id,
            sample_fps=options.sample_fps,
            options=options.row_options(),
            status=status,
            retention_days=self.settings.job_retention_days,
            tenant=caller.tenant,
        )

    def _enqueue(self, job_id: str) -> None:
        try:
            self.queue.enqueue(job_id)
        except Exception:  # the job is recorded: the reconcile sweep will queue it
            log.exception("could not queue job %s; the reconcile sweep will", job_id)

    def create_upload(self, options: JobOptions, caller: Caller = PUBLIC) -> UploadTicket:
        """A job in ``uploading`` state and a URL the caller PUTs the video to."""
        if not isinstance(self.storage, S3Storage):
            raise TypeError("presigned uploads need S3Storage")
        self._check_limit(caller)
        job = self._new_job(options, UPLOADING, caller)
        _accept(lambda: self.jobs.create(job), "record the job")
        expiry = self.settings.upload_url_expiry_s
        url = self.storage.presigned_put_url(job.input_path, UPLOAD_CONTENT_TYPE, expiry)
        expires_at = datetime.now(UTC) + timedelta(seconds=expiry)
        return UploadTicket(
            job,
            url,
            {"Content-Type": UPLOAD_CONTENT_TYPE},
            expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            self.settings.max_upload_bytes,
        )

    def start_upload(self, job_id: str, caller: Caller = PUBLIC) -> JobRecord:
        """Check the uploaded object, then queue the job (uploading -> pending)."""
        job = self.jobs.get(parse_job_id(job_id), caller)
        if job.status != UPLOADING:
            raise Conflict(f"job {job.job_id} was already started: it is {job.status}")
        storage, limit = self.storage, self.settings.max_upload_bytes
        size = storage.size(job.input_path)
        if size is None:
            raise Conflict(
                f"no video uploaded for job {job.job_id} yet: PUT the file to the upload "
                "URL (with its Content-Type header) first, then call start again"
            )
        if size > limit:
            storage.delete_file(job.input_path)
            raise _too_large(size, limit, "shorten or re-encode the video")
        validate_mp4(
            lambda offset, length: storage.read_range(job.input_path, offset, length), size
        )
        job = self.jobs.start(job.job_id)
        self._enqueue(job.job_id)
        log.info("job %s started after upload (%d bytes)", job.job_id, size)
        return job
