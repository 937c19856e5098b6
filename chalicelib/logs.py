"""One log format for the API, the analyzer and the local runner: a JSON object per line.

``job_id``, ``tenant``, ``stage`` and ``attempt`` (and ``stage_seconds`` on a finished job's
line; ``slice``, ``frames`` [first, end) and ``checkpoint_s`` on a slice's line) are fields of
their own, passed as ``extra={...}``, so CloudWatch Logs Insights can filter and aggregate on
them (``filter job_id = "..."``, ``stats avg(stage_seconds.detect)``).

A handler opens a ``context`` with what it knows (the ``request_id`` of the invocation, the
``trace_id`` X-Ray gave it, the ``job_id``, the ``stage``: the route, or ``analyze``) and adds
to it as it learns more (``bind(tenant=...)`` once the caller is known): every line written
inside carries those fields unless the line names its own, and so does every metric line
(``ids``). Contexts are per thread and per asyncio task (``contextvars``) and end with the
handler, so a warm container never carries one request's fields into the next.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType

FIELDS = (
    "job_id", "tenant", "stage", "attempt", "request_id", "trace_id", "stage_seconds", "slice",
    "frames", "checkpoint_s",
)  # fmt: skip
# never changed in place: each context and bind sets a new mapping
_CONTEXT: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "video_jobs_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def context(**fields: object) -> Iterator[None]:
    """Every line (and metric line) written inside carries ``fields`` (None: left out)."""
    token = _CONTEXT.set({**_CONTEXT.get(), **_given(fields)})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**fields: object) -> None:
    """Add ``fields`` to the open context (they end with it)."""
    _CONTEXT.set({**_CONTEXT.get(), **_given(fields)})


def ids() -> dict[str, object]:
    """The request and trace ids of the open context, for a metric line."""
    found = _CONTEXT.get()
    return {name: found[name] for name in ("request_id", "trace_id") if name in found}


def _given(fields: dict[str, object]) -> dict[str, object]:
    return {name: value for name, value in fields.items() if value is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        bound = _CONTEXT.get()
        for name in FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
            elif name in bound:
                entry[name] = bound[name]
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
