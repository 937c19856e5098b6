"""Idempotency keys: a client that retries a submit (after a timeout or a 503) gets the job its
first attempt created, not a second one.

A key is kept as its own item in the jobs table, under a partition key that can never be a job
id (``idempotency#`` + the key's SHA-256), naming the job it created and a fingerprint of the
request. Reserving it is one conditional put, so two concurrent retries cannot both create a job;
reusing a key for a different request is a 409. Keys expire with their jobs (DynamoDB TTL).
Keys are per tenant: the same key from two tenants names two items.
"""

from __future__ import annotations

import hashlib
import re

from chalicelib.errors import BadRequest, Conflict
from chalicelib.jobs import JobStore, KeyRecord, expiry
from chalicelib.tenancy import DEFAULT_TENANT

HEADER = "idempotency-key"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def parse_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not _VALID.fullmatch(raw):
        raise BadRequest(
            "Idempotency-Key must be 1 to 128 characters of letters, digits and . _ : - "
            "(a UUID is a good choice)"
        )
    return raw


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def key_id(key: str, tenant: str = DEFAULT_TENANT) -> str:
    """The key's item id: never a job id, and never the raw key (which the client chose). The
    default tenant's ids are those of the keys from before tenants."""
    scoped = key if tenant == DEFAULT_TENANT else f"{tenant}\x00{key}"
    return "idempotency#" + hashlib.sha256(scoped.encode()).hexdigest()


def reserve(
    jobs: JobStore,
    key: str,
    job_id: str,
    request_fingerprint: str,
    retention_days: int,
    tenant: str = DEFAULT_TENANT,
) -> str | None:
    """Tie ``key`` to ``job_id``. None if it is ours now; else the job id it already names."""
    record = KeyRecord(key_id(key, tenant), job_id, request_fingerprint, expiry(retention_days))
    existing = jobs.reserve_key(record)
    if existing is None:
        return None
    if existing.fingerprint != request_fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request: "
            "use a new key for a new video"
        )
    return existing.target_job_id


def release(jobs: JobStore, key: str, tenant: str = DEFAULT_TENANT) -> None:
    """Forget the key (its request failed), so that a retry with it can go through."""
    jobs.release_key(key_id(key, tenant))
