"""Idempotency keys: a client that retries a submit (after a timeout or a 503) gets the job its
first attempt created, not a second one.

A key is kept as its own item in the jobs table, under a partition key that can never be a job
id (``idempotency#`` + the key's SHA-256), naming the job it created and a fingerprint of the
request. Reserving it is one conditional put, so two concurrent retries cannot both create a job;
reusing a key for a different request is a 409. Keys expire with their jobs (DynamoDB TTL).

A reservation is held under a short lease (``Settings.idempotency_lease_s``, longer than the API
function's timeout): if the request that reserved the key died before recording its job, a retry
after the lease finds no job and takes the key over (a conditional write, so one retry wins).

Keys are per tenant: the same key from two tenants names two items. The ``IdempotencyKeys`` port
keeps them: ``DynamoIdempotencyKeys`` (``chalicelib/intake/dynamo_idempotency.py``) and
``InMemoryIdempotencyKeys`` (here) honour one contract
(tests/integration/test_idempotency_contract.py).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from chalicelib.errors import BadRequest, KeyReused
from chalicelib.jobs.record import expiry
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import DEFAULT_TENANT

log = logging.getLogger(__name__)
HEADER = "idempotency-key"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True)
class KeyRecord:
    """An idempotency key's row: the job its first request created, and that request's print."""

    key_id: str
    target_job_id: str
    fingerprint: str
    expires_at: int
    reserved_until: float | None = None  # epoch s; after it, a retry may take an unused key over


class IdempotencyKeys(ABC):
    """Where idempotency keys are kept; each operation is one conditional write."""

    @abstractmethod
    def reserve(self, record: KeyRecord) -> KeyRecord | None:
        """Store ``record`` unless its key exists; None if stored, else the record already
        there."""

    @abstractmethod
    def take_over(self, record: KeyRecord, previous: KeyRecord) -> bool:
        """Replace ``previous`` with ``record`` iff the stored key still names
        ``previous.target_job_id``; True if replaced."""

    @abstractmethod
    def release(self, key_id: str) -> None:
        """Forget a key (idempotent)."""


class InMemoryIdempotencyKeys(IdempotencyKeys):
    """Keys in a dict under a lock: the same rules as DynamoDB's conditional writes."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()

    def reserve(self, record: KeyRecord) -> KeyRecord | None:
        with self._lock:
            existing = self._keys.setdefault(record.key_id, record)
        return None if existing is record else copy.deepcopy(existing)

    def take_over(self, record: KeyRecord, previous: KeyRecord) -> bool:
        with self._lock:
            stored = self._keys.get(record.key_id)
            if stored is None or stored.target_job_id != previous.target_job_id:
                return False
            self._keys[record.key_id] = record
            return True

    def release(self, key_id: str) -> None:
        with self._lock:
            self._keys.pop(key_id, None)


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
    keys: IdempotencyKeys,
    jobs: JobStore,
    key: str,
    job_id: str,
    request_fingerprint: str,
    *,
    retention_days: int,
    lease_s: float,
    tenant: str = DEFAULT_TENANT,
) -> str | None:
    """Tie ``key`` to ``job_id``. None if it is ours now; else the job id it already names."""
    now = time.time()
    record = KeyRecord(
        key_id(key, tenant), job_id, request_fingerprint, expiry(retention_days), now + lease_s
    )
    existing = keys.reserve(record)
    if existing is None:
        return None
    if existing.fingerprint != request_fingerprint:
        raise KeyReused(
            "this Idempotency-Key was already used for a different request: "
            "use a new key for a new video"
        )
    if _abandoned(jobs, existing, now) and keys.take_over(record, existing):
        log.warning(
            "took over an Idempotency-Key whose request died before recording job %s",
            existing.target_job_id,
            extra={"job_id": job_id},
        )
        return None
    return existing.target_job_id


def _abandoned(jobs: JobStore, existing: KeyRecord, now: float) -> bool:
    """The reservation's lease is over and its job was never recorded."""
    lease_over = existing.reserved_until is None or existing.reserved_until < now
    return lease_over and jobs.find(existing.target_job_id) is None


def release(keys: IdempotencyKeys, key: str, tenant: str = DEFAULT_TENANT) -> None:
    """Forget the key (its request failed), so that a retry with it can go through."""
    keys.release(key_id(key, tenant))
