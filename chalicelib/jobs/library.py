"""A tenant's video library: ``GET /video/jobs`` (its jobs, newest first, paged) and
``DELETE /video/{job_id}`` (cancel an unfinished job; remove an ended one with everything stored
for it).

Listing reads the store's ``newest`` (on DynamoDB one query on the tenant-created index, never a
scan). A page's ``next_token`` names the last job shown, signed (HMAC-SHA256 with the
deployment's signing key) over the tenant and the filters, so it cannot be edited into another
tenant's jobs or replayed with other filters.

A listed job with a thumbnail carries a presigned GET of it (``thumbnail_url``): the list
already checked the caller, and the URL names one object.

Deleting an ended job removes its objects first (every key under ``video_jobs/<job_id>``: the
video, the results head and pieces, the checkpoints, the thumbnail), then the Idempotency-Key
item that names it, then its search index items (``forget_index``), and its row last, so a
delete cut short is finished by the next one: the row is what makes the job findable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.config import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT
from chalicelib.errors import BadRequest, IllegalTransition, quoted, quoted_list
from chalicelib.jobs.cursors import SignedCursors
from chalicelib.jobs.ids import PREFIX
from chalicelib.jobs.queries import status_view
from chalicelib.jobs.record import (
    ALLOWED_SOURCES,
    FINAL_STATES,
    UPLOADING,
    JobRecord,
    iso_time,
)
from chalicelib.jobs.store import Cursor, JobStore, JobWindow
from chalicelib.jobs.tenancy import Caller
from chalicelib.metrics import Metrics

log = logging.getLogger(__name__)
LIST_PARAMS = ("status", "pipeline_id", "created_after", "created_before", "limit", "next_token")
STATUSES = tuple(sorted({UPLOADING, *ALLOWED_SOURCES}))
PIPELINE_ID = re.compile(r"[a-z0-9_]{1,64}")


def _bad(message: str) -> BadRequest:
    return BadRequest(message)


def _moment(name: str, raw: str) -> str:
    """An ISO 8601 date or time (UTC unless it names an offset), as ``created_at`` spells it."""
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return iso_time(moment.timestamp())
    except (ValueError, OverflowError, OSError):  # not a time, or one UTC cannot write (year 0)
        raise _bad(
            f"{name} {quoted(raw)} is not an ISO 8601 date or time in the years 1 to 9999 (UTC): "
            "use e.g. 2026-12-07 or 2026-12-07T08:30:00Z"
        ) from None


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIST_LIMIT
    # len first: int() refuses more than 4300 digits
    if not (len(raw) <= 3 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIST_LIMIT):
        raise _bad(f"limit {quoted(raw)}: use a whole number from 1 to {MAX_LIST_LIMIT}")
    return int(raw)


def list_window(params: Mapping[str, str]) -> JobWindow:
    unknown = set(params) - set(LIST_PARAMS)
    if unknown:
        raise _bad(
            f"unknown query parameter(s) {quoted_list(unknown)}: the accepted ones are "
            f"{', '.join(LIST_PARAMS)}"
        )
    status, pipeline_id = params.get("status"), params.get("pipeline_id")
    if status is not None and status not in STATUSES:
        raise _bad(f"status {quoted(status)}: use one of {', '.join(STATUSES)}")
    if pipeline_id is not None and not PIPELINE_ID.fullmatch(pipeline_id):
        raise _bad(f"pipeline_id {quoted(pipeline_id)}: use a pipeline id such as yolo_ocr")
    after, before = params.get("created_after"), params.get("created_before")
    window = JobWindow(
        status=status,
        pipeline_id=pipeline_id,
        created_after=None if after is None else _moment("created_after", after),
        created_before=None if before is None else _moment("created_before", before),
    )
    if (
        window.created_after
        and window.created_before
        and window.created_after > window.created_before
    ):
        raise _bad("created_after is later than created_before: no job can be in between")
    return window


class PageTokens:
    """``next_token``: the last job shown, bound to the tenant and the filters."""

    def __init__(self, key: bytes):
        self._cursors = SignedCursors(key)

    @staticmethod
    def _scope(tenant: str, window: JobWindow) -> list[str | None]:
        return [tenant, window.status, window.pipeline_id, window.created_after,
                window.created_before]  # fmt: skip

    def issue(self, tenant: str, window: JobWindow, cursor: Cursor) -> str:
        return self._cursors.issue(self._scope(tenant, window), cursor)

    def read(self, tenant: str, window: JobWindow, token: str | None) -> Cursor | None:
        cursor = self._cursors.read(self._scope(tenant, window), token, (
            "next_token is not one this API issued for this list: pass back the next_token "
            "of the previous page unchanged, with the same filters"
        ))  # fmt: skip
        if cursor is None:
            return None
        created_at, job_id = cursor
        return str(created_at), str(job_id)


class JobLibrary:
    def __init__(
        self,
        *,
        jobs: JobStore,
        storage: StorageService,
        signing_key: bytes,
        forget_key: Callable[[str], None],
        forget_index: Callable[[str], None] | None = None,
        metrics: Metrics | None = None,
        url_expiry_s: int = 3600,
    ):
        """``forget_key``: removes an Idempotency-Key item by its id (the intake's key store);
        ``forget_index``: removes a job's search index items by its id (``chalicelib/search``);
        ``metrics`` counts each cancel (``JobsCancelled``); ``url_expiry_s``: how long a listed
        thumbnail's presigned URL works."""
        self.jobs, self.storage, self.forget_key = jobs, storage, forget_key
        self.forget_index, self.url_expiry_s = forget_index, url_expiry_s
        self.metrics = metrics or Metrics()
        self.tokens = PageTokens(signing_key)

    def list(self, params: Mapping[str, str] | None, caller: Caller) -> dict[str, Any]:
        """One page of the caller's jobs, newest first (``GET /video/jobs``)."""
        params = params or {}
        window, limit = list_window(params), _limit(params.get("limit"))
        after = self.tokens.read(caller.tenant, window, params.get("next_token"))
        found = self.jobs.newest(caller.tenant, window, limit + 1, after)
        body: dict[str, Any] = {"jobs": [self._entry(job) for job in found[:limit]]}
        if len(found) > limit:
            last = found[limit - 1]
            cursor = (last.created_at, last.job_id)
            body["next_token"] = self.tokens.issue(caller.tenant, window, cursor)
        return body

    def _entry(self, job: JobRecord) -> dict[str, Any]:
        """A job as listed: its status, and a presigned GET of its thumbnail if it has one
        (signed locally: no request to S3 per job)."""
        entry = status_view(job)
        if job.thumbnail_path is not None:
            url = self.storage.presigned_get_url(job.thumbnail_path, self.url_expiry_s)
            entry["thumbnail_url"] = url
        return entry

    def delete(self, job_id: str, caller: Caller) -> dict[str, Any]:
        """Cancel an unfinished job, or remove an ended one (objects, then the row); what was
        done. JobNotFound for a job the caller may not see, or one already removed."""
        job = self.jobs.get(job_id, caller)
        fields = {"job_id": job.job_id, "tenant": job.tenant}
        if job.status not in FINAL_STATES:
            try:
                cancelled = self.jobs.cancel(job.job_id)
            except IllegalTransition:  # it ended meanwhile: remove it as an ended job
                job = self.jobs.get(job.job_id, caller)
            else:
                log.info("job %s cancelled by its owner", job.job_id, extra=fields)
                pipeline = {"Pipeline": job.pipeline_id}
                self.metrics.put("JobsCancelled", 1, pipeline, **fields)
                return {"job_id": job.job_id, "status": cancelled.status, "deleted": False}
        objects = self.storage.delete_under(f"{PREFIX}/{job.job_id}")
        if job.idempotency_key_id is not None:  # a retry of its request would name a lost job
            self.forget_key(job.idempotency_key_id)
        if self.forget_index is not None:
            self.forget_index(job.job_id)
        self.jobs.remove(job.job_id)
        log.info("job %s deleted with its %d stored objects", job.job_id, objects, extra=fields)
        return {"job_id": job.job_id, "status": job.status, "deleted": True}
