"""infra/keys.py: before talking to a stage's emulator, ``reach`` knocks on the endpoint's port,
which defaults by scheme like any URL's."""

from dataclasses import replace

import pytest

from chalicelib.config import load_settings
from infra import keys


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ("http://127.0.0.1:5010", ("127.0.0.1", 5010)),
        ("http://emulator.internal", ("emulator.internal", 80)),
        ("https://emulator.internal", ("emulator.internal", 443)),
    ],
)
def test_reach_knocks_on_the_endpoint_s_port(monkeypatch, endpoint, address):
    knocked = []

    class Connection:
        def close(self):
            pass

    def create_connection(where, timeout):
        knocked.append(where)
        return Connection()

    monkeypatch.setattr(keys.socket, "create_connection", create_connection)
    keys.reach(replace(load_settings(), aws_endpoint=endpoint))
    assert knocked == [address]
