"""Accepting work: direct submits and the presigned large-upload flow.

Plain functions over the ports (storage, queue) and the Job model; ``app.py`` only parses HTTP
and maps errors. Order of writes at submit: video to storage, then the job row, then the queue
message, so nothing is queued that cannot be found.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import idempotency
from chalicelib.config import Settings
from chalicelib.errors import (
    BadRequest,
    Conflict,
    JobNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    VideoJobsError,
    quoted,
    quoted_list,
)
from chalicelib.ids import new_job_id, parse_job_id, video_path
from chalicelib.jobs import PENDING, UPLOADING, Job
from chalicelib.mp4 import validate_mp4, validate_mp4_bytes
from chalicelib.pipelines import check_pipeline_id
from chalicelib.queue import QueueService
from chalicelib.storage import ObjectChanged, S3Storage, StorageService

log = logging.getLogger(__name__)
MAX_SAMPLE_FPS = 30.0
MIN_SAMPLE_FPS = 0.001  # one frame per 1000 s; DynamoDB cannot store numbers below 1e-130
UPLOAD_CONTENT_TYPE = "video/mp4"
# ASCII digits only: float() also takes "1_0" (10), " 2 " and Arabic-Indic digits.
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


@dataclass(frozen=True)
class JobOptions:
    pipeline_id: str
    sample_fps: float | None = None


def parse_job_options(params: dict[str, str] | None, settings: Settings) -> JobOptions:
    """Per-job options from query parameters: ``pipeline_id`` and ``sample_fps``."""
    params = params or {}
    unknown = set(params) - {"pipeline_id", "sample_fps"}
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: "
            "only pipeline_id and sample_fps are accepted"
        )
    pipeline_id = check_pipeline_id(params.get("pipeline_id", settings.default_pipeline))
    fps = params.get("sample_fps")
    if fps is None:
        return JobOptions(pipeline_id)
    value = float(fps) if _DECIMAL.fullmatch(fps) else None
    if value is None or not MIN_SAMPLE_FPS <= value <= MAX_SAMPLE_FPS:
        raise BadRequest(
            f"sample_fps must be a decimal number from {MIN_SAMPLE_FPS:g} to {MAX_SAMPLE_FPS:g} "
            f"(frames analyzed per second of video, e.g. 0.5 or 2), got {quoted(fps)}"
        )
    return JobOptions(pipeline_id, value)


def _too_large(size: int, limit: int, advice: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"video is {size} bytes, above the {limit}-byte limit: {advice}")


def submit_video(
    data: bytes,
    options: JobOptions,
    *,
    storage: StorageService,
    queue: QueueService,
    settings: Settings,
    idempotency_key: str | None = None,
) -> Job:
    """Store, record, queue: in that order, so a failure part-way leaves no orphan.

    Storage or job write fails: the caller gets a 503 and nothing was accepted (a stored video
    is deleted; if even that fails, the bucket's lifecycle rule removes it). Enqueue fails: the
    job is recorded, so it is accepted anyway; the reconcile sweep re-sends stuck pending jobs.
    With an idempotency key, a retry of an accepted request returns the job it created.
    """
    if len(data) > settings.max_direct_upload_bytes:
        raise _too_large(
            len(data),
            settings.max_direct_upload_bytes,
            "use POST /video/uploads to get a presigned upload URL for large files",
        )
    validate_mp4_bytes(data)
    job = _new_job(options, settings, PENDING)
    job_id, path = job.job_id, job.input_path

    def forget_key() -> None:
        if idempotency_key is not None:
            idempotency.release(idempotency_key)

    def forget_all() -> None:
        storage.delete_file(path)
        forget_key()

    if idempotency_key is not None:
        request = idempotency.fingerprint(data, options.pipeline_id, repr(options.sample_fps))
        earlier = _accept(
            lambda: idempotency.reserve(
                idempotency_key, job_id, request, settings.job_retention_days
            ),
            "check the Idempotency-Key",
        )
        if earlier is not None:
            return _replayed(earlier)
    _accept(lambda: storage.save_file(data, path), "store the video", undo=forget_key)
    _accept(job.save, "record the job", undo=forget_all)
    _enqueue(queue, job_id)
    log.info("job %s submitted (%d bytes, pipeline %s)", job_id, len(data), options.pipeline_id)
    return job


def _replayed(job_id: str) -> Job:
    try:
        job = Job.get_by_id(job_id)
    except JobNotFound:  # the first request holds the key but has not recorded its job yet
        raise Conflict(
            "a request with this Idempotency-Key is still being accepted; retry in a moment"
        ) from None
    log.info("job %s returned again for a repeated Idempotency-Key", job_id)
    return job


def _new_job(options: JobOptions, settings: Settings, status: str) -> Job:
    job_id = new_job_id()
    return Job.new(
        job_id,
        input_path=video_path(job_id),
        pipeline_id=options.pipeline_id,
        sample_fps=options.sample_fps,
        status=status,
        retention_days=settings.job_retention_days,
    )


def _accept(step, what: str, undo=None):
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


def _enqueue(queue: QueueService, job_id: str) -> None:
    try:
        queue.enqueue(job_id)
    except Exception:  # the job is recorded: the reconcile sweep will queue it
        log.exception("could not queue job %s; the reconcile sweep will", job_id)


@dataclass(frozen=True)
class UploadTicket:
    job: Job
    url: str
    headers: dict[str, str]
    expires_at: str
    max_bytes: int


def create_upload(options: JobOptions, *, storage: S3Storage, settings: Settings) -> UploadTicket:
    """A job in ``uploading`` state and a URL the caller PUTs the video to."""
    job = _new_job(options, settings, UPLOADING)
    _accept(job.save, "record the job")
    expiry = settings.upload_url_expiry_s
    url = storage.presigned_put_url(job.input_path, UPLOAD_CONTENT_TYPE, expiry)
    expires_at = datetime.now(UTC) + timedelta(seconds=expiry)
    return UploadTicket(
        job,
        url,
        {"Content-Type": UPLOAD_CONTENT_TYPE},
        expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        settings.max_upload_bytes,
    )


def start_upload(
    job_id: str, *, storage: StorageService, queue: QueueService, settings: Settings
) -> Job:
    """Check the uploaded object, then queue the job (uploading -> pending)."""
    job = Job.get_by_id(parse_job_id(job_id))
    if job.status != UPLOADING:
        raise Conflict(f"job {job.job_id} was already started: it is {job.status}")
    upload = storage.stat(job.input_path)
    if upload is None:
        raise Conflict(
            f"no video uploaded for job {job.job_id} yet: PUT the file to the upload "
            "URL (with its Content-Type header) first, then call start again"
        )
    size = upload.size
    if size > settings.max_upload_bytes:
        storage.delete_file(job.input_path)
        raise _too_large(size, settings.max_upload_bytes, "shorten or re-encode the video")
    try:  # every read pinned to this version; the worker will read exactly it
        validate_mp4(
            lambda at, n: storage.read_range(job.input_path, at, n, etag=upload.etag), size
        )
    except ObjectChanged:
        raise Conflict(
            "the upload changed while start was checking it: let the upload finish, "
            "then call start again"
        ) from None
    job.update_status(PENDING, input_etag=upload.etag)
    _enqueue(queue, job.job_id)
    log.info("job %s started after upload (%d bytes)", job.job_id, size)
    return job
