"""The ``ModelStore`` port: a tenant's models, under its limits on count and bytes.

A tenant's models are listed in one ledger (``model id -> bytes`` and a version number); every
change to it is a replace conditional on the version read, retried while another writer wins,
so a burst of registrations can never hold more models or bytes than the limits (the same
shape as ``chalicelib/jobs/places.py``). Each model is a row of its own, and each status change
a write conditional on the status it leaves, so validation and a delete never both win.

Order of writes: ``add`` takes the ledger entry, then writes the row (undone if that fails);
``remove`` deletes the row, then the entry. A crash between leaves an entry without a row,
which ``list`` drops the next time it reads the ledger.

Two implementations honour one contract (tests/integration/test_model_store_contract.py):
``DynamoModelStore`` (``chalicelib/models/dynamo.py``) and ``InMemoryModelStore`` (here).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.errors import ServiceUnavailable, TooManyModels
from chalicelib.jobs.record import utc_now
from chalicelib.models.record import MAX_REASON_CHARS, UNSETTLED_STATES, ModelRecord

RACES = 100  # conditional replaces one change may lose before the caller gets a 503


@dataclass(frozen=True)
class Ledger:
    """A tenant's models as listed: id -> bytes of its file (0 until started); version 0: none."""

    models: dict[str, int] = field(default_factory=dict)
    version: int = 0


LedgerChange = Callable[[dict[str, int]], dict[str, int] | None]  # None: nothing to write


class ModelStore(ABC):
    # --- what an adapter implements -------------------------------------------------------

    @abstractmethod
    def read_ledger(self, tenant: str) -> Ledger:
        """The tenant's ledger as stored now (a consistent read)."""

    @abstractmethod
    def _replace_ledger(self, tenant: str, read: Ledger, models: dict[str, int]) -> bool:
        """Store ``models`` (version + 1) iff the stored version is still ``read.version``."""

    @abstractmethod
    def _put(self, model: ModelRecord, from_statuses: tuple[str, ...] | None) -> bool:
        """Write the row iff its stored status is one of ``from_statuses`` (None: iff there is
        no row yet); whether it was written."""

    @abstractmethod
    def find(self, model_id: str) -> ModelRecord | None:
        """The row (a consistent read), or None."""

    @abstractmethod
    def _delete(self, model_id: str) -> None:
        """Delete the row (idempotent)."""

    @abstractmethod
    def unsettled(self) -> Iterator[ModelRecord]:
        """Every tenant's models still ``uploading`` or ``validating`` (the reconcile sweep's
        scan: few rows, as models settle within minutes)."""

    # --- the rules, once for every adapter -------------------------------------------------

    def add(self, model: ModelRecord, max_models: int) -> None:
        """Record a new model: TooManyModels if its tenant already holds ``max_models``."""

        def take(models: dict[str, int]) -> dict[str, int] | None:
            if len(models) >= max_models:
                raise TooManyModels(
                    f"your tenant already has {len(models)} models (the limit is {max_models}): "
                    "delete one you no longer use (DELETE /video/models/{model_id})"
                )
            return {**models, model.model_id: 0}

        self._change(model.tenant, take)
        try:
            if not self._put(model, None):
                raise ServiceUnavailable(f"model id {model.model_id} is taken; register again")
        except Exception:
            self._change(model.tenant, _without(model.model_id))
            raise

    def reserve_bytes(self, model: ModelRecord, size: int, max_bytes: int) -> None:
        """Count the model's ``size`` against its tenant's ``max_bytes`` of model files:
        TooManyModels if they would no longer fit."""

        def grow(models: dict[str, int]) -> dict[str, int] | None:
            if size == 0 and model.model_id not in models:
                return None  # deleted meanwhile: nothing to free, and no entry to bring back
            others = sum(n for model_id, n in models.items() if model_id != model.model_id)
            if others + size > max_bytes:
                raise TooManyModels(
                    f"this file ({size} bytes) and your other models ({others} bytes) would be "
                    f"over your tenant's {max_bytes}-byte limit for model files: delete a model "
                    "first, or upload a smaller export"
                )
            return {**models, model.model_id: size}

        self._change(model.tenant, grow)

    def move(self, model: ModelRecord, from_statuses: tuple[str, ...], **changes: Any) -> bool:
        """Apply ``changes`` to the stored model iff its status is still one of
        ``from_statuses`` (the write's condition); whether they were written."""
        stored = self.find(model.model_id)
        if stored is None or stored.status not in from_statuses:
            return False
        reason = changes.get("error_message")
        if isinstance(reason, str):
            changes["error_message"] = reason[:MAX_REASON_CHARS]
        changes.setdefault("updated_at", utc_now())
        return self._put(replace(stored, **changes), (stored.status,))

    def list(self, tenant: str) -> list[ModelRecord]:
        """The tenant's models, newest first (entries whose row is gone are dropped)."""
        ledger = self.read_ledger(tenant)
        found = {model_id: self.find(model_id) for model_id in ledger.models}
        gone = {model_id for model_id, model in found.items() if model is None}
        for model_id in gone:
            self._change(tenant, _without(model_id))
        models = [model for model in found.values() if model is not None]
        return sorted(models, key=lambda m: (m.created_at, m.model_id), reverse=True)

    def remove(self, model: ModelRecord) -> None:
        """Delete the row, then free its place in the ledger."""
        self._delete(model.model_id)
        self._change(model.tenant, _without(model.model_id))

    def _change(self, tenant: str, change: LedgerChange) -> None:
        for race in range(RACES):
            read = self.read_ledger(tenant)
            models = change(dict(read.models))
            if models is None or self._replace_ledger(tenant, read, models):
                return
            time.sleep(random.uniform(0, 0.002 * min(race + 1, 10)))  # noqa: S311  spread retries
        raise ServiceUnavailable(f"too many requests for tenant {tenant!r} at once; retry shortly")


def _without(model_id: str) -> LedgerChange:
    def drop(models: dict[str, int]) -> dict[str, int] | None:
        if model_id not in models:
            return None
        return {key: n for key, n in models.items() if key != model_id}

    return drop


class InMemoryModelStore(ModelStore):
    """Rows and ledgers in dicts under one lock: the same rules as DynamoDB's conditions."""

    def __init__(self) -> None:
        self._rows: dict[str, ModelRecord] = {}
        self._ledgers: dict[str, Ledger] = {}
        self._lock = threading.Lock()

    def read_ledger(self, tenant: str) -> Ledger:
        with self._lock:
            return copy.deepcopy(self._ledgers.get(tenant, Ledger()))

    def _replace_ledger(self, tenant: str, read: Ledger, models: dict[str, int]) -> bool:
        with self._lock:
            if self._ledgers.get(tenant, Ledger()).version != read.version:
                return False
            self._ledgers[tenant] = Ledger(dict(models), read.version + 1)
            return True

    def _put(self, model: ModelRecord, from_statuses: tuple[str, ...] | None) -> bool:
        with self._lock:
            stored = self._rows.get(model.model_id)
            if from_statuses is None and stored is not None:
                return False
            if from_statuses is not None and (stored is None or stored.status not in from_statuses):
                return False
            self._rows[model.model_id] = model
            return True

    def find(self, model_id: str) -> ModelRecord | None:
        with self._lock:
            return self._rows.get(model_id)

    def _delete(self, model_id: str) -> None:
        with self._lock:
            self._rows.pop(model_id, None)

    def unsettled(self) -> Iterator[ModelRecord]:
        with self._lock:
            found = [model for model in self._rows.values() if model.status in UNSETTLED_STATES]
        yield from found
