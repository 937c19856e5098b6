"""``DynamoJobStore`` and ``DynamoPlaceBook``: the ``JobStore`` and ``PlaceBook`` ports on a
DynamoDB table, through pynamodb.

The store builds its own pynamodb model classes (``chalicelib/adapters/dynamo.py``). A tenant's
places are one item, ``places#<tenant>``: the holders as a JSON object and a version number. The
table also holds idempotency keys (``chalicelib/intake/dynamo_idempotency.py``) and
access keys (``chalicelib/access/dynamo_keys.py``), under partition keys that can never be job
ids and without a ``status``, so the sweep's scan passes them by.

A job row also carries ``list_tenant`` (its tenant again), the partition key of the
``tenant-created`` index (sort key ``created_at``) that lists a tenant's jobs newest first. Only
job rows carry it, so key items (which have a ``tenant`` and a ``created_at``) stay out of it;
rows written before the index existed lack it and are not listed (they expire with their TTL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition as RowCondition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamo import is_condition_failure, table_meta
from chalicelib.errors import IllegalTransition
from chalicelib.jobs.places import Place, PlaceBook, Places
from chalicelib.jobs.record import ACTIVE_STATES, FINAL_STATES, RUNNING, JobRecord
from chalicelib.jobs.store import Changes, Condition, Cursor, JobStore, JobWindow
from chalicelib.jobs.tenancy import DEFAULT_TENANT

PLACES_PREFIX = "places#"  # + tenant: a tenant's places, never a job id
QUERY_PAGE = 100  # rows read per query call while a filter skips some
TENANT_INDEX = "tenant-created"  # infra/resources.py declares it (list_tenant, created_at)

_FIELDS = [name for name in JobRecord.__dataclass_fields__ if name != "options"]


def _tenant_index() -> GlobalSecondaryIndex:
    class TenantCreated(GlobalSecondaryIndex):
        class Meta:
            index_name = TENANT_INDEX
            projection = AllProjection()

        list_tenant = UnicodeAttribute(hash_key=True)
        created_at = UnicodeAttribute(range_key=True)

    return TenantCreated()


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
        upload_expires_at = NumberAttribute(null=True)  # an uploading job's URL expiry
        idempotency_key_id = UnicodeAttribute(null=True)
        source_name = UnicodeAttribute(null=True)
        duration_s = NumberAttribute(null=True)
        error_code = UnicodeAttribute(null=True)
        thumbnail_path = UnicodeAttribute(null=True)
        list_tenant = UnicodeAttribute(null=True)  # the tenant-created index's partition key
        by_tenant = _tenant_index()

    return JobRow


def _places_model(meta: type) -> type[Model]:
    class PlacesRow(Model):
        Meta = meta  # type: ignore[assignment]
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        jobs = UnicodeAttribute()  # {"job id": [since, until or null]}
        version = NumberAttribute()

    return PlacesRow


def _places_of(row: Any) -> Places:
    stored = json.loads(row.jobs)
    jobs = {job_id: Place(since, until) for job_id, (since, until) in stored.items()}
    return Places(jobs, int(row.version))


class DynamoJobStore(JobStore):
    def __init__(
        self,
        table_name: str,
        *,
        region: str,
        host: str | None = None,
        places: PlaceBook | None = None,
    ):
        self._rows: Any = _job_model(table_meta(table_name, region, host))
        self.places = places

    def _record(self, row: Any) -> JobRecord:
        values = {name: getattr(row, name) for name in _FIELDS}
        values["tenant"] = values["tenant"] or DEFAULT_TENANT
        return JobRecord(**values, options=json.loads(row.options) if row.options else {})

    def _row(self, job: JobRecord) -> Model:
        values: dict[str, Any] = {name: getattr(job, name) for name in _FIELDS}
        values["options"] = json.dumps(job.options, sort_keys=True) if job.options else None
        return self._rows(**values, list_tenant=job.tenant)

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

    def active(self) -> Iterator[JobRecord]:
        condition = self._rows.status.is_in(*sorted(ACTIVE_STATES))
        for row in self._rows.scan(condition, consistent_read=True):
            yield self._record(row)

    def newest(
        self, tenant: str, window: JobWindow, limit: int, after: Cursor | None = None
    ) -> list[JobRecord]:
        rows = self._rows
        low, high = window.created_after, window.created_before
        created = None
        if low is not None or high is not None:  # a key may not be "": no open-ended between
            created = (
                rows.created_at.between(low, high) if low is not None and high is not None
                else rows.created_at >= low if low is not None
                else rows.created_at <= high
            )  # fmt: skip
        wanted = None
        if window.status is not None:
            wanted = rows.status == window.status
        if window.pipeline_id is not None:
            same = rows.pipeline_id == window.pipeline_id
            wanted = same if wanted is None else wanted & same
        start = None
        if after is not None:
            created_at, job_id = after
            start = {"list_tenant": {"S": tenant}, "created_at": {"S": created_at},
                     "job_id": {"S": job_id}}  # fmt: skip
        found = rows.by_tenant.query(
            tenant, created, filter_condition=wanted,
            scan_index_forward=False, limit=limit, page_size=max(limit, QUERY_PAGE),
            last_evaluated_key=start,
        )  # fmt: skip
        return [self._record(row) for row in found]

    def remove(self, job_id: str) -> bool:
        try:
            self._rows(job_id).delete(condition=self._rows.status.is_in(*sorted(FINAL_STATES)))
        except DeleteError as error:
            if not is_condition_failure(error):
                raise
            current = self.find(job_id)
            if current is None:
                return False
            raise IllegalTransition(
                f"job {job_id} cannot be removed: it is {current.status}"
            ) from None
        return True

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


class DynamoPlaceBook(PlaceBook):
    """A tenant's places: one item, ``places#<tenant>``; every write a conditional ``PutItem``."""

    def __init__(self, table_name: str, *, limit: int, region: str, host: str | None = None):
        super().__init__(limit)
        self._rows: Any = _places_model(table_meta(table_name, region, host))

    def read(self, tenant: str) -> Places:
        try:
            return _places_of(self._rows.get(PLACES_PREFIX + tenant, consistent_read=True))
        except DoesNotExist:
            return Places()

    def _replace(self, tenant: str, read: Places, jobs: dict[str, Place]) -> bool:
        rows = self._rows
        stored = {job_id: [place.since, place.until] for job_id, place in sorted(jobs.items())}
        row = rows(PLACES_PREFIX + tenant, jobs=json.dumps(stored), version=read.version + 1)
        new = read.version == 0
        unchanged = rows.item_id.does_not_exist() if new else rows.version == read.version
        try:
            row.save(condition=unchanged)
        except PutError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def _every(self) -> Iterator[tuple[str, Places]]:
        rows = self._rows
        for row in rows.scan(rows.item_id.startswith(PLACES_PREFIX), consistent_read=True):
            yield row.item_id.removeprefix(PLACES_PREFIX), _places_of(row)
