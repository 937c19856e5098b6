"""``DynamoModelStore``: the ``ModelStore`` port in the jobs table, through pynamodb.

Two item kinds, under partition keys no job id can take: ``model#<id>`` (the record as one JSON
text, and its status as ``model_status``: never ``status``, so the reconcile sweep's scan of
active jobs passes models by) and ``models#<tenant>`` (the ledger: ids and bytes as JSON, and a
version every replace is conditional on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from chalicelib.adapters.dynamo import is_condition_failure, table_meta
from chalicelib.models.record import UNSETTLED_STATES, ModelRecord
from chalicelib.models.store import Ledger, ModelStore

MODEL_PREFIX = "model#"
LEDGER_PREFIX = "models#"


def _model_rows(meta: type) -> type[Model]:
    class ModelRow(Model):
        Meta = meta  # type: ignore[assignment]  # pynamodb reads it as a plain class
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")  # the table's one key
        model_status = UnicodeAttribute()
        record = UnicodeAttribute()

    return ModelRow


def _ledger_rows(meta: type) -> type[Model]:
    class LedgerRow(Model):
        Meta = meta  # type: ignore[assignment]
        item_id = UnicodeAttribute(hash_key=True, attr_name="job_id")
        models = UnicodeAttribute()  # {"model id": bytes}
        version = NumberAttribute()

    return LedgerRow


class DynamoModelStore(ModelStore):
    def __init__(self, table_name: str, *, region: str, host: str | None = None):
        meta = table_meta(table_name, region, host)
        self._models: Any = _model_rows(meta)
        self._ledgers: Any = _ledger_rows(meta)

    def read_ledger(self, tenant: str) -> Ledger:
        try:
            row = self._ledgers.get(LEDGER_PREFIX + tenant, consistent_read=True)
        except DoesNotExist:
            return Ledger()
        return Ledger(json.loads(row.models), int(row.version))

    def _replace_ledger(self, tenant: str, read: Ledger, models: dict[str, int]) -> bool:
        rows = self._ledgers
        row = rows(LEDGER_PREFIX + tenant, models=json.dumps(models, sort_keys=True),
                   version=read.version + 1)  # fmt: skip
        unchanged = (
            rows.item_id.does_not_exist() if read.version == 0 else (rows.version == read.version)
        )
        return self._save(row, unchanged)

    def _put(self, model: ModelRecord, from_statuses: tuple[str, ...] | None) -> bool:
        rows = self._models
        row = rows(MODEL_PREFIX + model.model_id, model_status=model.status,
                   record=json.dumps(model.to_json(), sort_keys=True))  # fmt: skip
        if from_statuses is None:
            return self._save(row, rows.item_id.does_not_exist())
        return self._save(row, rows.model_status.is_in(*from_statuses))

    @staticmethod
    def _save(row: Any, condition: Any) -> bool:
        try:
            row.save(condition=condition)
        except PutError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def find(self, model_id: str) -> ModelRecord | None:
        try:
            row = self._models.get(MODEL_PREFIX + model_id, consistent_read=True)
        except DoesNotExist:
            return None
        return ModelRecord.from_json(json.loads(row.record))

    def _delete(self, model_id: str) -> None:
        self._models(MODEL_PREFIX + model_id).delete()

    def unsettled(self) -> Iterator[ModelRecord]:
        condition = self._models.model_status.is_in(*UNSETTLED_STATES)  # job rows have none
        for row in self._models.scan(condition, consistent_read=True):
            yield ModelRecord.from_json(json.loads(row.record))
