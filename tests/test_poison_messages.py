"""Queue bodies that break the decoder are logged once and dropped, never retried (issue 19.7)."""

import logging

import pytest
from chalice.test import Client

from app import app
from chalicelib import worker as worker_module
from chalicelib.pipelines import VideoFilePipelineService
from chalicelib.queue import decode_message
from chalicelib.worker import JobWorker

DEEP = "[" * 100_000  # json.loads raises RecursionError on it, not ValueError


def make_worker(aws) -> JobWorker:
    return JobWorker(
        storage=aws.storage, queue=aws.queue, pipelines=VideoFilePipelineService(aws.settings)
    )


def dropped_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "chalicelib.worker" and "dropping" in r.message]


def test_deeply_nested_body_is_a_bad_request_not_a_recursion_error():
    with pytest.raises(Exception) as raised:
        decode_message(DEEP)
    assert type(raised.value).__name__ == "BadRequest"


@pytest.mark.parametrize(
    "body", [DEEP, "{" * 50_000, '{"job_id": ' * 30_000], ids=["lists", "braces", "objects"]
)
def test_worker_drops_a_body_that_crashes_the_decoder_with_one_log_line(aws, caplog, body):
    caplog.set_level(logging.INFO)
    assert make_worker(aws).handle_message(body, receive_count=1) is False
    warnings = dropped_warnings(caplog)
    assert len(warnings) == 1 and len(warnings[0].getMessage()) < 200  # the body is not echoed
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_any_exception_from_decoding_means_drop(aws, caplog, monkeypatch):
    def broken(body):
        raise UnicodeError("a decoder bug")

    monkeypatch.setattr(worker_module, "decode_message", broken)
    assert make_worker(aws).handle_message('{"job_id": "x"}') is False
    assert len(dropped_warnings(caplog)) == 1


def test_sqs_handler_acknowledges_a_poison_body(aws, caplog):
    caplog.set_level(logging.INFO)
    with Client(app) as client:
        event = client.events.generate_sqs_event([DEEP], "video-jobs-queue")
        client.lambda_.invoke("analyze_video", event)  # raising here would mean redelivery
    assert len(dropped_warnings(caplog)) == 1
