"""Fixtures of the integration tests (moto in process, real models and videos)."""

import pytest
from chalice.test import Client

from app import app


@pytest.fixture
def client(aws):
    with Client(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def mp4_bytes(tiny_mp4):
    return tiny_mp4.read_bytes()
