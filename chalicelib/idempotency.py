"""Idempotency keys: a client that retries a submit (after a timeout or a 503) gets the job its
first attempt created, not a second one.

A key is kept as its own item in the jobs table, under a partition key that can never be a job
id (``idempotency#`` + the key's SHA-256), naming the job it created and a fingerprint of the
request. Reserving it is one conditional put, so two concurrent retries cannot both create a job;
reusing a key for a different request is a 409. Keys expire with their jobs (DynamoDB TTL).
"""

from __future__ import annotations

import hashlib
import re
import time

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.config import Settings
from chalicelib.errors import BadRequest, Conflict

HEADER = "idempotency-key"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class IdempotencyRecord(Model):
    class Meta:
        table_name = "video-jobs"
        region = "us-east-1"
        host: str | None = None

    key = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key attribute
    target_job_id = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    expires_at = NumberAttribute()

    @classmethod
    def bind(cls, settings: Settings) -> None:
        cls.Meta.table_name = settings.table_name
        cls.Meta.region = settings.region
        cls.Meta.host = settings.aws_endpoint
        cls._connection = None


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


def _item_key(key: str) -> str:
    return "idempotency#" + hashlib.sha256(key.encode()).hexdigest()


def reserve(key: str, job_id: str, request_fingerprint: str, retention_days: int) -> str | None:
    """Tie ``key`` to ``job_id``. None if it is ours now; else the job id it already names."""
    record = IdempotencyRecord(
        _item_key(key),
        target_job_id=job_id,
        fingerprint=request_fingerprint,
        expires_at=int(time.time()) + retention_days * 86400,
    )
    try:
        record.save(condition=IdempotencyRecord.key.does_not_exist())
        return None
    except PutError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
    existing = IdempotencyRecord.get(_item_key(key), consistent_read=True)
    if existing.fingerprint != request_fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request: "
            "use a new key for a new video"
        )
    return existing.target_job_id


def release(key: str) -> None:
    """Forget the key (its request failed), so that a retry with it can go through."""
    IdempotencyRecord(_item_key(key)).delete()
