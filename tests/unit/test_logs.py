"""The one JSON log format: a line per record, with job fields of their own."""

import json
import logging
import threading

from chalicelib import logs
from chalicelib.logs import JsonFormatter


def format_record(**extra):
    record = logging.LogRecord(
        "chalicelib.analysis.worker", logging.INFO, __file__, 1, "job %s", ("a",), None
    )
    record.__dict__.update(extra)
    return json.loads(JsonFormatter().format(record))


def test_job_fields_are_fields_not_text():
    line = format_record(job_id="a", stage="running", attempt=2, stage_seconds={"detect": 1.5})
    assert line["msg"] == "job a" and line["level"] == "INFO"
    assert (line["job_id"], line["stage"], line["attempt"]) == ("a", "running", 2)
    assert line["stage_seconds"] == {"detect": 1.5}


def test_a_plain_record_has_no_job_fields():
    assert set(format_record()) == {"ts", "level", "logger", "msg"}


def test_a_context_adds_its_fields_until_it_ends_and_a_line_keeps_its_own():
    with logs.context(job_id="j", request_id="r1", stage="submit", tenant=None):
        logs.bind(tenant="acme")
        inside = format_record(stage="running")
        assert logs.ids() == {"request_id": "r1"}
        with logs.context(request_id="r2"):
            assert format_record()["request_id"] == "r2"
        assert format_record()["request_id"] == "r1"
    assert (inside["job_id"], inside["tenant"], inside["request_id"]) == ("j", "acme", "r1")
    assert inside["stage"] == "running"  # the line's own stage wins
    assert set(format_record()) == {"ts", "level", "logger", "msg"} and logs.ids() == {}


def test_contexts_do_not_cross_threads():
    seen = []
    with logs.context(job_id="mine"):
        thread = threading.Thread(target=lambda: seen.append(format_record()))
        thread.start()
        thread.join()
    assert seen and "job_id" not in seen[0]
