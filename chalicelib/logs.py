"""One log format for the API, the analyzer and the local runner: a JSON object per line.

``job_id``, ``stage`` and ``attempt`` (and ``stage_seconds`` on a finished job's line; ``slice``,
``frames`` [first, end) and ``checkpoint_s`` on a slice's line) are
fields of their own, passed as ``extra={...}``, so CloudWatch Logs Insights can filter and
aggregate on them (``filter job_id = "..."``, ``stats avg(stage_seconds.detect)``).
"""

from __future__ import annotations

import json
import logging
import os

FIELDS = ("job_id", "stage", "attempt", "stage_seconds", "slice", "frames", "checkpoint_s")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: int = logging.INFO) -> None:
    """JSON lines on the root logger: on Lambda, through the runtime's own handler; elsewhere,
    on stderr, unless something (a test runner, an embedding program) configured logging
    already."""
    root = logging.getLogger()
    on_lambda = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
    if root.handlers and not on_lambda:
        return
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level)
    logging.getLogger("botocore").setLevel(logging.WARNING)
