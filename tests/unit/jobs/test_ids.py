"""Queue bodies that break the decoder are logged once and dropped, never retried (issue 19.7).

A body of 100,000 ``[`` made ``json.loads`` raise ``RecursionError``, which escaped
``decode_message``: three deliveries with tracebacks, then the dead-letter queue. Every failure
to decode is now a ``MalformedMessage``. The SQS handler on moto: tests/integration/test_api.py.
"""

import json
import logging

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.worker import JobWorker
from chalicelib.errors import MalformedMessage
from chalicelib.jobs import ids as ids_module
from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.store import InMemoryJobStore
from tests.support.pipelines import FakePipelines

DEEP = "[" * 100_000  # json.loads raises RecursionError on it, not ValueError
POISON = [DEEP, "{" * 50_000, '{"job_id": ' * 30_000]


@pytest.fixture
def worker():
    with LocalStorage.temporary() as storage:
        yield JobWorker(storage=storage, jobs=InMemoryJobStore(), pipelines=FakePipelines())


def dropped(caplog) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "chalicelib.analysis.worker" and "dropping" in r.message
    ]


@pytest.mark.parametrize("body", POISON, ids=["lists", "braces", "objects"])
def test_a_body_that_crashes_the_json_decoder_is_a_malformed_message(body):
    with pytest.raises(MalformedMessage, match="not JSON"):
        decode_message(body)


def test_any_exception_while_decoding_is_a_malformed_message(monkeypatch):
    def broken(body):
        raise UnicodeError("a decoder bug")

    monkeypatch.setattr(ids_module, "json", type("Json", (), {"loads": staticmethod(broken)}))
    with pytest.raises(MalformedMessage, match=r"not JSON \(UnicodeError\)"):
        decode_message('{"job_id": "x"}')


@pytest.mark.parametrize("body", POISON, ids=["lists", "braces", "objects"])
def test_the_worker_drops_it_with_one_short_log_line(worker, caplog, body):
    caplog.set_level(logging.INFO)
    assert worker.handle_message(body, receive_count=1) is False  # returned: no redelivery
    (warning,) = dropped(caplog)
    assert len(warning.getMessage()) < 200  # the body is not echoed
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert worker.pipelines.calls == []


def test_a_well_formed_message_still_decodes():
    job_id = "0f0e0d0c-0b0a-4909-8807-060504030201"
    assert decode_message(json.dumps({"job_id": job_id})) == job_id
