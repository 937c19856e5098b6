"""Accepting work: direct submits and the presigned large-upload flow.

``Submissions`` is the use case over the ports (storage, queue, job store) that the composition
root builds; ``app.py`` only parses HTTP and renders. Order of writes at submit: video to
storage, then the job row, then the queue message, so nothing is queued that cannot be found.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import idempotency
from chalicelib.callbacks import check_callback_url
from chalicelib.config import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_TEXT_MIN_CONFIDENCE,
    DEFAULT_TEXT_SCRIPTS,
    LIMIT_RETRY_AFTER_S,
    LOCAL_STAGE,
    MAX_PRESIGNED_PUT_BYTES,
    MAX_SAMPLE_FPS,
    MIN_SAMPLE_FPS,
    TEXT_SCRIPTS,
    Settings,
)
from chalicelib.errors import (
    BadRequest,
    Conflict,
    JobNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyJobs,
    VideoJobsError,
    quoted,
    quoted_list,
)
from chalicelib.ids import new_job_id, parse_job_id, video_path
from chalicelib.jobs import PENDING, UPLOADING, JobRecord, JobStore
from chalicelib.labels import known_class_names, unknown_labels
from chalicelib.mp4 import validate_mp4, validate_mp4_bytes
from chalicelib.pipelines import check_pipeline_id
from chalicelib.queue import QueueService
from chalicelib.storage import ObjectChanged, S3Storage, StorageService
from chalicelib.tenancy import PUBLIC, Caller

log = logging.getLogger(__name__)
UPLOAD_CONTENT_TYPE = "video/mp4"
# ASCII digits only: float() also takes "1_0" (10), " 2 " and Arabic-Indic digits.
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")


@dataclass(frozen=True)
class JobOptions:
    """Everything a caller may choose per job. ``pipeline_id`` and ``sample_fps`` have their own
    columns on the job row; the rest go to its ONE ``options`` attribute, holding only what
    differs from the defaults (``row_options``); ``from_record`` rebuilds the options from a row.
    """

    pipeline_id: str
    sample_fps: float | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # objects
    labels: tuple[str, ...] | None = None  # None: every label
    exclude_labels: tuple[str, ...] = ()
    text_min_confidence: float = DEFAULT_TEXT_MIN_CONFIDENCE
    text_scripts: str = DEFAULT_TEXT_SCRIPTS
    callback_url: str | None = None  # POSTed a signed event when the job ends (notify.py)
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

    @classmethod
    def from_record(cls, job: JobRecord) -> JobOptions:
        """The options a job was submitted with (a stored list comes back as a tuple)."""
        stored: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in job.options.items()
        }
        return cls(job.pipeline_id, job.sample_fps, **stored)

    def result_options(self) -> dict[str, Any]:
        """The result options in full, as the results document echoes them."""
        return {
            "min_confidence": self.min_confidence,
            "labels": None if self.labels is None else list(self.labels),
            "exclude_labels": list(self.exclude_labels),
            "text_min_confidence": self.text_min_confidence,
            "text_scripts": self.text_scripts,
        }

    def wants_object(self, detection: Any) -> bool:
        """Whether a detection passes the job's object filters."""
        label = detection.label
        if self.labels is not None and label not in self.labels:
            return False
        return label not in self.exclude_labels and detection.confidence >= self.min_confidence


_NUMBER_PARAMS = ("sample_fps", "min_confidence", "text_min_confidence")
_LIST_PARAMS = ("labels", "exclude_labels")
PARAMS = ("pipeline_id", *_NUMBER_PARAMS, *_LIST_PARAMS, "text_scripts", "callback_url")


def parse_job_options(params: Mapping[str, str] | None, settings: Settings) -> JobOptions:
    """Per-job options from query parameters; each bad value is a BadRequest saying what to fix."""
    params = params or {}
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: the accepted ones are "
            + ", ".join(PARAMS)
        )
    values: dict[str, Any] = {
        "pipeline_id": check_pipeline_id(params.get("pipeline_id", settings.default_pipeline))
    }
    if "sample_fps" in params:
        values["sample_fps"] = _number(
            params, "sample_fps", MIN_SAMPLE_FPS, MAX_SAMPLE_FPS,
            "frames analyzed per second of video",
        )  # fmt: skip
    for name, what in (("min_confidence", "objects"), ("text_min_confidence", "text lines")):
        if name in params:
            values[name] = _number(params, name, 0.0, 1.0, f"the lowest confidence of {what}")
    for name in _LIST_PARAMS:
        if name in params:
            values[name] = _label_list(params[name], name, settings)
    # An unencoded "+" in a URL arrives as a space: "latin chinese" means "latin+chinese".
    scripts = "+".join(params.get("text_scripts", DEFAULT_TEXT_SCRIPTS).split())
    if scripts not in TEXT_SCRIPTS:
        raise BadRequest(
            f"text_scripts must be one of {', '.join(TEXT_SCRIPTS)}, got {quoted(scripts)}"
        )
    values["text_scripts"] = scripts
    callback_url = params.get("callback_url")
    if callback_url is not None:  # resolved and checked now; again at each delivery
        check_callback_url(callback_url, allow_loopback=settings.stage == LOCAL_STAGE)
        values["callback_url"] = callback_url
    return JobOptions(**values)


def _number(params: Mapping[str, str], name: str, low: float, high: float, meaning: str) -> float:
    raw = params[name]
    value = float(raw) if _DECIMAL.fullmatch(raw) else None  # no 1_0, nan, inf, other digits
    if value is None or not low <= value <= high:
        raise BadRequest(
            f"{name} must be a decimal number from {low:g} to {high:g} ({meaning}, e.g. 0.5), "
            f"got {quoted(raw)}"
        )
    return value


def _label_list(raw: str, name: str, settings: Settings) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in raw.split(","))
    if not raw.strip() or "" in labels:
        raise BadRequest(
            f"{name} must be a comma-separated list of class names without empty entries, "
            f"e.g. {name}=person,dog; got {quoted(raw)}"
        )
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise BadRequest(f"{name} names {', '.join(repeated)} more than once: list each once")
    known = known_class_names(settings)
    wrong = [] if known is None else unknown_labels(labels, known)
    if wrong:
        raise BadRequest(
            f"{name}: unknown class name(s) {quoted_list(wrong)}; "
            f"the model's classes are: {', '.join(known or ())}"
        )
    return labels


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
            earlier = self._reserve(
                idempotency_key,
                job.job_id,
                request_fingerprint,
                "check the request token",
                caller.tenant,
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
        chosen = options.row_options()  # none chosen: the same print as before these options
        request = idempotency.fingerprint(
            data,
            options.pipeline_id,
            repr(options.sample_fps),
            *([json.dumps(chosen, sort_keys=True)] if chosen else []),
        )
        return self._reserve(key, job.job_id, request, "check the Idempotency-Key", job.tenant)

    def _reserve(
        self, key: str, job_id: str, request_fingerprint: str, what: str, tenant: str
    ) -> str | None:
        settings = self.settings
        return _accept(
            lambda: idempotency.reserve(
                self.jobs,
                key,
                job_id,
                request_fingerprint,
                retention_days=settings.job_retention_days,
                lease_s=settings.idempotency_lease_s,
                tenant=tenant,
            ),
            what,
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
                "a request with this Idempotency-Key is still being accepted; retry in a moment "
                f"(after {self.settings.idempotency_lease_s:g} s a retry takes the key over)"
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
            return
        try:
            self.jobs.mark_enqueued(job_id)
        except Exception:  # at worst the sweep sends it once more, which is harmless
            log.exception("could not record that job %s was queued", job_id)

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
            self._upload_limit(),
        )

    def _upload_limit(self) -> int:
        return min(self.settings.max_upload_bytes, MAX_PRESIGNED_PUT_BYTES)

    def start_upload(self, job_id: str, caller: Caller = PUBLIC) -> JobRecord:
        """Check the uploaded object, then queue the job (uploading -> pending)."""
        job = self.jobs.get(parse_job_id(job_id), caller)
        if job.status != UPLOADING:
            raise Conflict(f"job {job.job_id} was already started: it is {job.status}")
        storage, limit = self.storage, self._upload_limit()
        upload = storage.stat(job.input_path)
        if upload is None:
            raise Conflict(
                f"no video uploaded for job {job.job_id} yet: PUT the file to the upload "
                "URL (with its Content-Type header) first, then call start again"
            )
        if upload.size > limit:
            storage.delete_file(job.input_path)
            raise _too_large(upload.size, limit, "shorten or re-encode the video")
        try:  # every read pinned to this version; the worker will read exactly it
            validate_mp4(
                lambda at, n: storage.read_range(job.input_path, at, n, etag=upload.etag),
                upload.size,
            )
        except ObjectChanged:
            raise Conflict(
                "the upload changed while start was checking it: let the upload finish, "
                "then call start again"
            ) from None
        job = self.jobs.start(job.job_id, input_etag=upload.etag)
        self._enqueue(job.job_id)
        log.info(
            "job %s started after upload (%d bytes)",
            job.job_id,
            upload.size,
            extra={"job_id": job.job_id, "stage": PENDING},
        )
        return job
