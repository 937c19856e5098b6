"""The one JSON log format: a line per record, with job fields of their own."""

import json
import logging

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
