"""Accepting work: direct submits and the presigned large-upload flow.

Plain functions over the ports (storage, queue) and the Job model; ``app.py`` only parses HTTP
and maps errors. Order of writes at submit: video to storage, then the job row, then the queue
message, so nothing is queued that cannot be found.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib import idempotency
from chalicelib.config import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_TEXT_MIN_CONFIDENCE,
    DEFAULT_TEXT_SCRIPTS,
    TEXT_SCRIPTS,
    Settings,
)
from chalicelib.errors import (
    BadRequest,
    Conflict,
    JobNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    VideoJobsError,
)
from chalicelib.ids import new_job_id, parse_job_id, video_path
from chalicelib.jobs import PENDING, UPLOADING, Job
from chalicelib.labels import known_class_names, unknown_labels
from chalicelib.mp4 import validate_mp4, validate_mp4_bytes
from chalicelib.pipelines import check_pipeline_id
from chalicelib.queue import QueueService
from chalicelib.storage import S3Storage, StorageService

log = logging.getLogger(__name__)
MAX_SAMPLE_FPS = 30.0
MIN_SAMPLE_FPS = 0.001  # one frame per 1000 s; DynamoDB cannot store numbers below 1e-130
UPLOAD_CONTENT_TYPE = "video/mp4"


@dataclass(frozen=True)
class JobOptions:
    """Everything a caller may choose per job. ``pipeline_id`` and ``sample_fps`` have their own
    attributes on the job row; the result options go to ONE JSON attribute, ``options``, holding
    only what differs from the defaults (``stored``)."""

    pipeline_id: str
    sample_fps: float | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # objects
    labels: tuple[str, ...] | None = None  # None: every label
    exclude_labels: tuple[str, ...] = ()
    text_min_confidence: float = DEFAULT_TEXT_MIN_CONFIDENCE
    text_scripts: str = DEFAULT_TEXT_SCRIPTS

    def result_options(self) -> dict:
        """The result options in full, as the results document echoes them."""
        return {
            "min_confidence": self.min_confidence,
            "labels": None if self.labels is None else list(self.labels),
            "exclude_labels": list(self.exclude_labels),
            "text_min_confidence": self.text_min_confidence,
            "text_scripts": self.text_scripts,
        }

    def stored(self) -> str | None:
        """The job row's ``options``: canonical JSON of the non-default result options."""
        defaults = JobOptions(self.pipeline_id).result_options()
        changed = {k: v for k, v in self.result_options().items() if v != defaults[k]}
        return json.dumps(changed, sort_keys=True, separators=(",", ":")) if changed else None

    def wants_object(self, detection) -> bool:
        """Whether a detection passes the job's object filters."""
        label = detection.label
        if self.labels is not None and label not in self.labels:
            return False
        return label not in self.exclude_labels and detection.confidence >= self.min_confidence

    @classmethod
    def from_job(cls, job: Job) -> JobOptions:
        stored = json.loads(job.options) if job.options else {}
        for key in ("labels", "exclude_labels"):
            if stored.get(key) is not None:
                stored[key] = tuple(stored[key])
        return cls(job.pipeline_id, job.sample_fps, **stored)


_NUMBER_PARAMS = ("sample_fps", "min_confidence", "text_min_confidence")
_LIST_PARAMS = ("labels", "exclude_labels")
PARAMS = ("pipeline_id", *_NUMBER_PARAMS, *_LIST_PARAMS, "text_scripts")


def parse_job_options(params: dict[str, str] | None, settings: Settings) -> JobOptions:
    """Per-job options from query parameters; each bad value is a BadRequest saying what to fix."""
    params = params or {}
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {sorted(unknown)}: the accepted ones are "
            + ", ".join(PARAMS)
        )
    values: dict[str, object] = {
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
            f"text_scripts must be one of {', '.join(TEXT_SCRIPTS)}, got {scripts[:40]!r}"
        )
    values["text_scripts"] = scripts
    return JobOptions(**values)


def _number(params: dict[str, str], name: str, low: float, high: float, meaning: str) -> float:
    raw = params[name]
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails every comparison; inf is out of range
        raise BadRequest(
            f"{name} must be a number from {low:g} to {high:g} ({meaning}), got {raw[:40]!r}"
        )
    return value


def _label_list(raw: str, name: str, settings: Settings) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in raw.split(","))
    if not raw.strip() or "" in labels:
        raise BadRequest(
            f"{name} must be a comma-separated list of class names without empty entries, "
            f"e.g. {name}=person,dog; got {raw[:60]!r}"
        )
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise BadRequest(f"{name} names {', '.join(repeated)} more than once: list each once")
    known = known_class_names(settings)
    wrong = [] if known is None else unknown_labels(labels, known)
    if wrong:
        raise BadRequest(
            f"{name}: unknown class name(s) {', '.join(map(repr, wrong[:10]))}; "
            f"the model's classes are: {', '.join(known)}"
        )
    return labels


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
        request = idempotency.fingerprint(
            data, options.pipeline_id, repr(options.sample_fps), options.stored() or ""
        )
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
        options=options.stored(),
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
    size = storage.size(job.input_path)
    if size is None:
        raise Conflict(
            f"no video uploaded for job {job.job_id} yet: PUT the file to the upload "
            "URL (with its Content-Type header) first, then call start again"
        )
    if size > settings.max_upload_bytes:
        storage.delete_file(job.input_path)
        raise _too_large(size, settings.max_upload_bytes, "shorten or re-encode the video")
    validate_mp4(lambda offset, length: storage.read_range(job.input_path, offset, length), size)
    job.update_status(PENDING)
    _enqueue(queue, job.job_id)
    log.info("job %s started after upload (%d bytes)", job.job_id, size)
    return job
