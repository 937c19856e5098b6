"""Accepting work: direct submits and the presigned large-upload flow.

``Submissions`` is the use case over the ports (storage, queue, job store, idempotency keys)
that the composition root builds; ``app.py`` only parses HTTP and renders. Order of writes at
submit: video to storage, then the job row, then the queue message, so nothing is queued that
cannot be found.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.adapters.queue import QueueService
from chalicelib.adapters.storage import S3Storage, StorageService
from chalicelib.analysis.mp4 import validate_mp4, validate_mp4_bytes
from chalicelib.config import (
    LIMIT_RETRY_AFTER_S,
    MAX_PRESIGNED_PUT_BYTES,
    Settings,
)
from chalicelib.errors import (
    Conflict,
    IllegalTransition,
    JobNotFound,
    ObjectChanged,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyJobs,
    VideoJobsError,
)
from chalicelib.intake import idempotency
from chalicelib.intake.idempotency import IdempotencyKeys
from chalicelib.intake.params import parse_job_options
from chalicelib.jobs.ids import new_job_id, parse_job_id, video_path
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import FAILED, PENDING, UPLOADING, JobRecord, iso_time
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.metrics import Metrics
from chalicelib.models.catalog import ModelCatalog

log = logging.getLogger(__name__)
UPLOAD_CONTENT_TYPE = "video/mp4"


def _too_large(size: int, limit: int, advice: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"video is {size} bytes, above the {limit}-byte limit: {advice}")


def _step(step: Callable[[], Any], what: str, undo: Callable[[], None] | None = None) -> Any:
    """Run one step of accepting a request; on any failure ``undo`` first, then a refusal is
    raised as it is and anything else is a 503."""
    try:
        return step()
    except Exception as error:
        if not isinstance(error, VideoJobsError):
            log.exception("could not %s", what)
        if undo is not None:
            try:
                undo()
            except Exception:
                log.exception("clean-up after a failed submit also failed")
        if isinstance(error, VideoJobsError):
            raise
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
        self,
        *,
        storage: StorageService,
        queue: QueueService,
        jobs: JobStore,
        keys: IdempotencyKeys,
        settings: Settings,
        metrics: Metrics | None = None,
        catalog: ModelCatalog | None = None,
    ):
        """``catalog``: tenants' own models, which a job may name (``model_id``)."""
        self.storage, self.queue, self.jobs, self.keys = storage, queue, jobs, keys
        self.settings, self.metrics = settings, metrics or Metrics()
        self.catalog = catalog

    def parse_options(
        self, params: Mapping[str, str] | None, caller: Caller = PUBLIC
    ) -> JobOptions:
        """The job's options; a ``model_id`` must name one of the caller's ready models."""
        catalog = self.catalog
        if catalog is None:
            return parse_job_options(params, self.settings)
        return parse_job_options(
            params, self.settings, lambda model_id: catalog.usable(model_id, caller).snapshot()
        )

    def submit(
        self,
        data: bytes,
        options: JobOptions,
        *,
        idempotency_key: str | None = None,
        caller: Caller = PUBLIC,
        source_name: str | None = None,
    ) -> JobRecord:
        """Accept a video sent in the request body (see ``_accept`` for the guarantees). A
        retry of an accepted request with the same idempotency key returns the job it created.
        ``source_name``: the file name it was sent under, if any (the library shows it)."""
        limit = self.settings.max_direct_upload_bytes
        if len(data) > limit:
            advice = "use POST /video/uploads to get a presigned upload URL for large files"
            raise _too_large(len(data), limit, advice)
        validate_mp4_bytes(data)
        chosen = options.row_options()  # none chosen: the same print as before these options
        request = idempotency.fingerprint(
            data,
            options.pipeline_id,
            repr(options.sample_fps),
            *([json.dumps(chosen, sort_keys=True)] if chosen else []),
        )
        job = self._new_job(options, PENDING, caller, idempotency_key, source_name=source_name)
        key = idempotency_key
        earlier = self._reserve(job, key, request, "check the Idempotency-Key")
        if earlier is not None:
            return self._replayed(earlier)
        self._accept(job, functools.partial(self.storage.save_file, data), "store", key)
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
        source_name: str | None = None,
    ) -> str:
        """Accept a video that is already in S3: ``copy_into(path)`` copies it to the job's video
        key (server-side). Returns the job id; a repeated idempotency key with the same
        fingerprint returns the id of the job it created (even while that request is still
        being accepted); with another one, KeyReused."""
        job = self._new_job(options, PENDING, caller, idempotency_key, source_name=source_name)
        key = idempotency_key
        earlier = self._reserve(job, key, request_fingerprint, "check the request token")
        if earlier is not None:
            log.info("job %s returned again for a repeated request token", earlier)
            return earlier
        self._accept(job, copy_into, "copy", key)
        log.info(
            "job %s submitted from S3 (pipeline %s)",
            job.job_id,
            options.pipeline_id,
            extra={"job_id": job.job_id, "stage": PENDING},
        )
        return job.job_id

    def _reserve(self, job: JobRecord, key: str | None, fingerprint: str, what: str) -> str | None:
        """Tie ``key`` (if any) to ``job``: None, or the id of the job an earlier request with
        the same key created."""
        if key is None:
            return None
        settings = self.settings
        return _step(
            lambda: idempotency.reserve(
                self.keys, self.jobs, key, job.job_id, fingerprint, tenant=job.tenant,
                retention_days=settings.job_retention_days, lease_s=settings.idempotency_lease_s,
            ),
            what,
        )  # fmt: skip

    def _accept(
        self, job: JobRecord, put_video: Callable[[str], None], verb: str, key: str | None
    ) -> None:
        """The one accept flow of direct and copied videos, once the key is reserved: check the
        tenant's limit, then ``verb`` the video (``put_video(path)``), record the job and queue
        it, in that order, so a failure part-way leaves no orphan.

        Storage or job write fails: the caller gets a 503 and nothing was accepted (a stored
        video is deleted; if even that fails, the bucket's lifecycle rule removes it; the key is
        released). Enqueue fails: the job is recorded, so it is accepted anyway; the reconcile
        sweep re-sends stuck pending jobs."""

        def forget_key() -> None:
            if key is not None:
                idempotency.release(self.keys, key, job.tenant)

        def forget_place() -> None:
            forget_key()
            self._free_place(job)

        def forget_all() -> None:
            self.storage.delete_file(job.input_path)
            forget_place()

        self._take_place(job, forget_key)
        _step(lambda: put_video(job.input_path), f"{verb} the video", forget_place)
        _step(lambda: self.jobs.create(job), "record the job", forget_all)
        self._submitted(job)
        self._enqueue(job.job_id)

    def _take_place(self, job: JobRecord, undo: Callable[[], None] | None = None) -> None:
        """One of the tenant's places for ``job``, or TooManyJobs when all are held (exact
        under concurrency: ``PlaceBook.admit``). No book: no limit."""
        places = self.jobs.places
        if places is None:
            return
        held = _step(lambda: places.admit(job), "take a place among your active jobs", undo)
        if held is not None:
            if undo is not None:
                undo()
            raise TooManyJobs(
                f"{held} of your jobs are already uploading, pending or running (the limit "
                f"is {places.limit}): retry once some have finished",
                LIMIT_RETRY_AFTER_S,
            )

    def _free_place(self, job: JobRecord) -> None:
        if self.jobs.places is not None:
            self.jobs.places.free(job.tenant, {job.job_id})

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

    def _new_job(
        self,
        options: JobOptions,
        status: str,
        caller: Caller,
        key: str | None = None,
        upload_expires_at: float | None = None,
        source_name: str | None = None,
    ) -> JobRecord:
        job_id = new_job_id()
        job = JobRecord.new(
            job_id,
            input_path=video_path(job_id),
            pipeline_id=options.pipeline_id,
            sample_fps=options.sample_fps,
            options=options.row_options(),
            status=status,
            retention_days=self.settings.job_retention_days,
            tenant=caller.tenant,
            upload_expires_at=upload_expires_at,
            source_name=source_name,
        )
        if key is None:
            return job
        return replace(job, idempotency_key_id=idempotency.key_id(key, caller.tenant))

    def _submitted(self, job: JobRecord) -> None:
        """A recorded job is submitted, whatever the queue says next (the sweep queues it)."""
        self.metrics.put(
            "JobsSubmitted", 1, {"Pipeline": job.pipeline_id}, tenant=job.tenant, job_id=job.job_id
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
        """A job in ``uploading`` state and a URL the caller PUTs the video to. The job holds a
        place in its tenant's limit until it ends, or until the URL expires unstarted (then it
        is failed: ``UploadExpired``)."""
        if not isinstance(self.storage, S3Storage):
            raise TypeError("presigned uploads need S3Storage")
        expiry = self.settings.upload_url_expiry_s
        expires_at = int(time.time()) + expiry  # whole seconds, as the answer shows it
        job = self._new_job(options, UPLOADING, caller, upload_expires_at=expires_at)
        self._take_place(job)
        _step(lambda: self.jobs.create(job), "record the job", lambda: self._free_place(job))
        url = self.storage.presigned_put_url(job.input_path, UPLOAD_CONTENT_TYPE, expiry)
        return UploadTicket(
            job,
            url,
            {"Content-Type": UPLOAD_CONTENT_TYPE},
            iso_time(expires_at, "seconds"),
            self._upload_limit(),
        )

    @staticmethod
    def _not_startable(job: JobRecord) -> Conflict:
        if job.status == FAILED:
            return Conflict(f"job {job.job_id} cannot start: it failed: {job.error_message}")
        return Conflict(f"job {job.job_id} was already started: it is {job.status}")

    def _upload_limit(self) -> int:
        return min(self.settings.max_upload_bytes, MAX_PRESIGNED_PUT_BYTES)

    def start_upload(self, job_id: str, caller: Caller = PUBLIC) -> JobRecord:
        """Check the uploaded object, then queue the job (uploading -> pending)."""
        job = self.jobs.get(parse_job_id(job_id), caller)
        if job.status != UPLOADING:
            raise self._not_startable(job)
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
        try:
            job = self.jobs.start(job.job_id, input_etag=upload.etag)
        except IllegalTransition:  # its URL expired (or another start won) while we checked
            raise self._not_startable(self.jobs.get(job.job_id)) from None
        self._submitted(job)
        self._enqueue(job.job_id)
        log.info(
            "job %s started after upload (%d bytes)",
            job.job_id,
            upload.size,
            extra={"job_id": job.job_id, "stage": PENDING},
        )
        return job
