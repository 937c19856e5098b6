"""Fixtures of the end-to-end tests."""

import pytest

from tests.support.runner import emulated_stack


@pytest.fixture
def emulator(monkeypatch, model_path):
    """A moto_server this process and runner processes share (tests/support/runner.py)."""
    yield from emulated_stack(monkeypatch)
