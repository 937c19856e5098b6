"""Fixtures of the unit tests: the use cases on fakes (no moto)."""

import pytest

from chalicelib.config import load_settings
from chalicelib.jobs import InMemoryJobStore
from chalicelib.queue import InMemoryQueue
from chalicelib.storage import LocalStorage
from chalicelib.submissions import Submissions


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        yield storage, InMemoryQueue(), InMemoryJobStore()


@pytest.fixture
def submissions(parts):
    storage, queue, jobs = parts
    return Submissions(storage=storage, queue=queue, jobs=jobs, settings=load_settings())
