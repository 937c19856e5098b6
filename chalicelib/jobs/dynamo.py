"""``DynamoJobStore``: the ``JobStore`` port on a DynamoDB table, through pynamodb.

The store builds its own pynamodb model classes (``chalicelib/adapters/dynamo.py``). The table
also holds idempotency keys (``chalicelib/intake/dynamo_idempotency.py``) and
access keys (``chalicelib/access/dynamo_keys.py``), under partition keys that can never be job
ids and without a ``status``, so the sweep's scan passes them by.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition as RowCondition
from pynamodb.models import Model

from chalicelib.adapters.dynamo import is_condition_failure, table_meta
from chalicelib.errors import IllegalTransition
from chalicelib.jobs.record import ACTIVE_STATES, RUNNING, UNFINISHED_STATES, JobRecord
from chalicelib.jobs.store import Changes, Condition, JobStore
from chalicelib.jobs.tenancy import DEFAULT_TENANT

_FIELDS = [name for name in JobRecord.__dataclass_fields__ if name != "options"]


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


class DynamoJobStore(JobStore):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        meta = table_meta(table_name, region, host)
        self._rows: Any = _job_model(meta)

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
            if is_condition_failure(error):
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
            if is_condition_failure(error):
                return None
            raise
        return self._record(row)

    def _condition(self, condition: Condition) -> RowCondition:
        rows = self._rows
        expression = rows.status.is_in(*sorted(condition.statuses))
        if condition.owner is not None:
            expression &= rows.lease_owner == condition.owner
        if condition.takeover_before is not None:
            expired = rows.lease_expires_at < condition.takeover_before
            expression |= (rows.status == RUNNING) & expired
        return expression  # a missing row has no status: the write fails, nothing is created
