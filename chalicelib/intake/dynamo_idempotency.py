"""``DynamoIdempotencyKeys``: the ``IdempotencyKeys`` port on the jobs table.

A key's item lives under a partition key that can never be a job id (``idempotency#`` + a
SHA-256, ``chalicelib/intake/idempotency.py``) and has no ``status``, so the sweep passes it by;
it expires with its job (the table's TTL on ``expires_at``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.adapters.dynamo import is_condition_failure, table_meta
from chalicelib.intake.idempotency import IdempotencyKeys, KeyRecord


def _key_model(meta: type) -> type[Model]:
    class IdempotencyRow(Model):
        Meta = meta  # type: ignore[assignment]  # pynamodb reads it as a plain class
        key_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        target_job_id = UnicodeAttribute()
        fingerprint = UnicodeAttribute()
        expires_at = NumberAttribute()
        reserved_until = NumberAttribute(null=True)  # absent on keys stored before the lease

    return IdempotencyRow


class DynamoIdempotencyKeys(IdempotencyKeys):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        self._keys: Any = _key_model(table_meta(table_name, region, host))

    def _save(self, record: KeyRecord, condition: Any) -> bool:
        row = self._keys(
            record.key_id,
            target_job_id=record.target_job_id,
            fingerprint=record.fingerprint,
            expires_at=record.expires_at,
            reserved_until=record.reserved_until,
        )
        try:
            row.save(condition=condition)
            return True
        except PutError as error:
            if not is_condition_failure(error):
                raise
        return False

    def reserve(self, record: KeyRecord) -> KeyRecord | None:
        if self._save(record, self._keys.key_id.does_not_exist()):
            return None
        existing = self._keys.get(record.key_id, consistent_read=True)
        return KeyRecord(
            existing.key_id,
            existing.target_job_id,
            existing.fingerprint,
            existing.expires_at,
            existing.reserved_until,
        )

    def take_over(self, record: KeyRecord, previous: KeyRecord) -> bool:
        return self._save(record, self._keys.target_job_id == previous.target_job_id)

    def release(self, key_id: str) -> None:
        self._keys(key_id).delete()
