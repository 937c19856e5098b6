"""``DynamoJobStore``: the ``JobStore`` port on a DynamoDB table, through pynamodb.

Each store builds its own pynamodb model classes for its table, region and endpoint, so two
stores (two tables, two emulators) never share configuration, and nothing is bound at class
level. Job rows and idempotency keys share the table: a key's item lives under a partition key
that can never be a job id (``idempotency#`` + a SHA-256), and has no ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.errors import IllegalTransition
from chalicelib.jobs import (
    ACTIVE_STATES,
    RUNNING,
    UNFINISHED_STATES,
    Changes,
    Condition,
    JobRecord,
    JobStore,
    KeyRecord,
)
from chalicelib.tenancy import DEFAULT_TENANT

_FIELDS = [name for name in JobRecord.__dataclass_fields__ if name != "options"]


def _is_condition_failure(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _meta(table_name: str, region: str, host: str | None) -> type:
    return type("Meta", (), {"table_name": table_name, "region": region, "host": host})


def _job_model(meta: type) -> type[Model]:
    class JobRow(Model):
        Meta = meta  # type: ignore[assignment]  # pynamodb reads it as a plain class
        job_id = UnicodeAttribute(hash_key=True)
        status = UnicodeAttribute()
        created_at = UnicodeAttribute()
        updated_at = UnicodeAttribute()
        input_path = UnicodeAttribute()
        input_etag = UnicodeAttribute(null=True)  # the upload's version that start validated
        output_path = UnicodeAttribute(null=True)
        error_message = UnicodeAttribute(null=True)
        pipeline_id = UnicodeAttribute()
        sample_fps = NumberAttribute(null=True)
        options = UnicodeAttribute(null=True)  # JSON object of per-job options; absent = {}
        attempts = NumberAttribute(default=0)
        slices = NumberAttribute(default=0)
        frames_done = NumberAttribute(null=True)
        frames_total = NumberAttribute(null=True)
        lease_owner = UnicodeAttribute(null=True)
        lease_expires_at = NumberAttribute(null=True)
        enqueued_at = NumberAttribute(null=True)
        expires_at = NumberAttribute(null=True)  # the table's TTL attribute
        tenant = UnicodeAttribute(null=True)  # absent on rows from before tenants: the default

    return JobRow


def _key_model(meta: type) -> type[Model]:
    class KeyRow(Model):
        Meta = meta  # type: ignore[assignment]
        key_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        target_job_id = UnicodeAttribute()
        fingerprint = UnicodeAttribute()
        expires_at = NumberAttribute()
        reserved_until = NumberAttribute(null=True)  # absent on keys stored before the lease

    return KeyRow


class DynamoJobStore(JobStore):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        meta = _meta(table_name, region, host)
        self._rows: Any = _job_model(meta)
        self._keys: Any = _key_model(meta)

    def _record(self, row: Any) -> JobRecord:
        values = {name: getattr(row, name) for name in _FIELDS}
        values["tenant"] = values["tenant"] or DEFAULT_TENANT
        return JobRecord(**values, options=json.loads(row.options) if row.options else {})

    def _row(self, job: JobRecord) -> Model:
        values: dict[str, Any] = {name: getattr(job, name) for name in _FIELDS}
        values["options"] = json.dumps(job.options, sort_keys=True) if job.options else None
        return self._rows(**values)

    def create(self, job: JobRecord) -> None:
        try:
            self._row(job).save(condition=self._rows.job_id.does_not_exist())
        except PutError as error:
            if _is_condition_failure(error):
                raise IllegalTransition(f"job {job.job_id} already exists") from None
            raise

    def find(self, job_id: str) -> JobRecord | None:
        try:
            return self._record(self._rows.get(job_id, consistent_read=True))
        except DoesNotExist:
            return None

    def unfinished(self) -> Iterator[JobRecord]:
        condition = self._rows.status.is_in(*sorted(UNFINISHED_STATES))
        for row in self._rows.scan(condition, consistent_read=True):
            yield self._record(row)

    def active_jobs(self, tenant: str) -> int:
        """A filtered scan of the whole table (fine while a table holds thousands of rows; a
        per-tenant index is the next step past that)."""
        rows = self._rows
        mine = rows.tenant == tenant
        if tenant == DEFAULT_TENANT:
            mine |= rows.tenant.does_not_exist()
        condition = mine & rows.status.is_in(*sorted(ACTIVE_STATES))
        scan = rows.scan(condition, consistent_read=True, attributes_to_get=["job_id"])
        return sum(1 for _ in scan)

    def _apply(self, job_id: str, condition: Condition, changes: Changes) -> JobRecord | None:
        rows = self._rows
        actions = [getattr(rows, name).set(value) for name, value in changes.set.items()]
        actions += [getattr(rows, name).remove() for name in changes.remove]
        if changes.add_attempt:
            actions.append(rows.attempts.add(1))
        row = rows(job_id)
        try:
            row.update(actions=actions, condition=self._condition(condition))
        except UpdateError as error:
            if _is_condition_failure(error):
                return None
            raise
        return self._record(row)

    def _condition(self, condition: Condition):
        rows = self._rows
        expression = rows.status.is_in(*sorted(condition.statuses))
        if condition.owner is not None:
            expression &= rows.lease_owner == condition.owner
        if condition.takeover_before is not None:
            expired = rows.lease_expires_at < condition.takeover_before
            expression |= (rows.status == RUNNING) & expired
        return expression  # a missing row has no status: the write fails, nothing is created

    def _key_row(self, record: KeyRecord) -> Model:
        return self._keys(
            record.key_id,
            target_job_id=record.target_job_id,
            fingerprint=record.fingerprint,
            expires_at=record.expires_at,
            reserved_until=record.reserved_until,
        )

    def _save_key(self, record: KeyRecord, condition: Any) -> bool:
        try:
            self._key_row(record).save(condition=condition)
            return True
        except PutError as error:
            if not _is_condition_failure(error):
                raise
        return False

    def reserve_key(self, record: KeyRecord) -> KeyRecord | None:
        if self._save_key(record, self._keys.key_id.does_not_exist()):
            return None
        existing = self._keys.get(record.key_id, consistent_read=True)
        return KeyRecord(
            existing.key_id,
            existing.target_job_id,
            existing.fingerprint,
            existing.expires_at,
            existing.reserved_until,
        )

    def take_over_key(self, record: KeyRecord, previous: KeyRecord) -> bool:
        return self._save_key(record, self._keys.target_job_id == previous.target_job_id)

    def release_key(self, key_id: str) -> None:
        self._keys(key_id).delete()
