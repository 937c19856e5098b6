"""``VideoSearch``: index a completed job, and answer ``GET /video/search`` for one tenant.

Indexing runs in the worker once a job's results are stored and before the job is marked
completed (``JobWorker``'s ``index``): if it fails, the attempt fails like any internal error
(retried, and on the last attempt the job fails), so no job is completed without its index.
What a failed write may have left is removed at once; writes are idempotent, so a retry or a
redelivered completion writes the same items again.

A search reads each of its terms' postings (one query each on DynamoDB) for the caller's tenant
only: the tenant is part of every key read, so no term can reach another tenant's items. It
keeps the jobs that have every term, matches and ranks them (``query``), and answers one page.
``next_token`` names the last hit shown, signed over the tenant and the query like the job
listing's tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.config import MAX_SEARCH_POSTINGS
from chalicelib.errors import BadRequest, quoted
from chalicelib.jobs.cursors import SignedCursors
from chalicelib.jobs.record import JobRecord
from chalicelib.jobs.tenancy import Caller
from chalicelib.search.index import SearchIndex
from chalicelib.search.query import (
    Query,
    hit_ranges,
    job_parts,
    parse_query,
    query_terms,
    rank_key,
    score,
)
from chalicelib.search.terms import LABEL, Posting, job_postings

log = logging.getLogger(__name__)

Cursor = tuple[float, float, str]


class SearchTokens:
    """``next_token``: the rank of the last hit shown, bound to the tenant and the query."""

    def __init__(self, key: bytes):
        self._cursors = SignedCursors(key)

    def issue(self, tenant: str, query: Query, cursor: Cursor) -> str:
        return self._cursors.issue(["search", tenant, query.scope()], cursor)

    def read(self, tenant: str, query: Query, token: str | None) -> Cursor | None:
        cursor = self._cursors.read(["search", tenant, query.scope()], token, (
            "next_token is not one this API issued for this search: pass back the "
            "next_token of the previous page unchanged, with the same text and labels"
        ))  # fmt: skip
        if cursor is None:
            return None
        negated_score, negated_created, job_id = cursor
        return float(negated_score), float(negated_created), str(job_id)


class VideoSearch:
    def __init__(self, *, index: SearchIndex, storage: StorageService, signing_key: bytes):
        self.index, self.storage = index, storage
        self.tokens = SearchTokens(signing_key)

    def index_job(self, job: JobRecord, head_path: str) -> int:
        """Put a job whose results are stored at ``head_path`` in the index (all or nothing: a
        failed write is undone before the error goes on); how many terms it has."""
        stored = json.loads(self.storage.load_file(head_path))
        results = stored.get("results", stored)  # a head, or a document from before pieces
        postings = job_postings(job, results.get("segments") or {})
        try:
            self.index.put(job.job_id, job.tenant, postings, job.expires_at)
        except Exception:
            self._undo(job)
            raise
        log.info(
            "job %s indexed: %d terms",
            job.job_id,
            len(postings),
            extra={"job_id": job.job_id, "tenant": job.tenant, "terms": len(postings)},
        )
        return len(postings)

    def _undo(self, job: JobRecord) -> None:
        try:
            self.index.remove(job.job_id)
        except Exception:  # the retry, the delete or the TTL removes them
            log.exception(
                "job %s: its partial index could not be removed",
                job.job_id,
                extra={"job_id": job.job_id},
            )

    def forget(self, job_id: str) -> None:
        """Remove a job's index items (``DELETE /video/{job_id}``, before its row)."""
        self.index.remove(job_id)

    def search(self, params: Mapping[str, str] | None, caller: Caller) -> dict[str, Any]:
        """One page of the caller's jobs that match, best first (``GET /video/search``)."""
        query = parse_query(params)
        after = self.tokens.read(caller.tenant, query, (params or {}).get("next_token"))
        hits = sorted(self._hits(caller.tenant, query), key=rank_key)
        if after is not None:
            hits = [hit for hit in hits if rank_key(hit) > after]
        body: dict[str, Any] = {"hits": hits[: query.limit]}
        if len(hits) > query.limit:
            body["next_token"] = self.tokens.issue(
                caller.tenant, query, rank_key(hits[query.limit - 1])
            )
        return body

    def _hits(self, tenant: str, query: Query) -> list[dict[str, Any]]:
        by_job: dict[str, dict[str, Posting]] = {}
        for number, term in enumerate(query_terms(query)):
            found = self.index.postings(tenant, term, MAX_SEARCH_POSTINGS + 1)
            if len(found) > MAX_SEARCH_POSTINGS:
                what = "label" if term.startswith(LABEL) else "word"
                raise BadRequest(
                    f"the {what} {quoted(term[2:])} is in more than {MAX_SEARCH_POSTINGS} of "
                    "your videos: add words or labels that narrow the search"
                )
            if number == 0:
                by_job = {p.job_id: {term: p} for p in found}
            else:  # only jobs that have every term so far stay
                by_job = {
                    p.job_id: {**by_job[p.job_id], term: p} for p in found if p.job_id in by_job
                }
            if not by_job:
                break
        hits = []
        for job_id, postings in by_job.items():
            parts = job_parts(query, postings)
            ranges = None if parts is None else hit_ranges(query, parts)
            if ranges:
                first = next(iter(postings.values()))
                hits.append(
                    {
                        "job_id": job_id,
                        "pipeline_id": first.pipeline_id,
                        "created_at": first.created_at,
                        "score": score(ranges),
                        "ranges": ranges,
                    }
                )
        return hits
