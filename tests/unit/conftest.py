"""Fixtures of the unit tests: the use cases on fakes (no moto)."""

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.config import load_settings
from chalicelib.intake.idempotency import InMemoryIdempotencyKeys
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.store import InMemoryJobStore


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        yield storage, InMemoryQueue(), InMemoryJobStore()


@pytest.fixture
def submissions(parts):
    storage, queue, jobs = parts
    return Submissions(storage=storage, queue=queue, jobs=jobs, keys=InMemoryIdempotencyKeys(),
                       settings=load_settings())  # fmt: skip
