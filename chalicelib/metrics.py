"""Operational metrics: one CloudWatch embedded-metric-format (EMF) line per measurement.

A Lambda function's stdout goes to CloudWatch Logs, and CloudWatch turns every JSON line with an
``_aws`` block into metric data: no API call per job, nothing to batch or flush. Each line names
the namespace ``VideoJobs``, the metric's dimension sets (always ``[Service]`` so the dashboard
has one headline series, and one set per bounded dimension: ``Pipeline``, ``ErrorCode``,
``Reason``, ``Outcome``), the value, and properties that are no dimension: ``tenant``,
``job_id``, ``request_id``. The tenant is a property, not a dimension, because tenants are
unbounded and every dimension value is a custom metric of its own (billed monthly); Logs Insights
still sums by it (``stats sum(JobsSubmitted) by tenant``). docs/operations.md lists every metric.

Locally the same lines go to the processes' stdout (``make run`` shows them) and, when
``VIDEO_JOBS_METRICS_FILE`` is set (``infra/local_stack.py`` sets it), into that file, which
``MetricsLedger.summary`` reads for ``GET /video/stats``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from chalicelib import logs
from chalicelib.config import DEFAULT_METRICS_SERVICE

NAMESPACE = "VideoJobs"
COUNT, SECONDS = "Count", "Seconds"
UNITS = {
    "JobsSubmitted": COUNT,  # accepted and queued (submit, upload start, Rekognition Start*)
    "JobsCompleted": COUNT,
    "JobsFailed": COUNT,  # dimension ErrorCode
    "JobsCancelled": COUNT,  # by their owners (DELETE /video/{job_id} before the job ended)
    "AnalysisSeconds": SECONDS,  # one invocation's download, analysis and store (a slice)
    "SecondsPerVideoMinute": SECONDS,  # that time per minute of video it covered
    "FramesAnalyzed": COUNT,  # frames sampled in that invocation
    "QueueWaitSeconds": SECONDS,  # from the message's send to the worker's claim
    "SlicesPerJob": COUNT,  # invocations a completed job took
    "NoticeAttempts": COUNT,  # webhook POSTs, dimension Outcome (delivered, failed)
    "NoticesDeadLettered": COUNT,  # webhooks given up on
    "AuthRefusals": COUNT,  # dimension Reason
    "ModelValidationSeconds": SECONDS,  # one tenant model's validation (download and checks)
}
DIMENSIONS = ("Pipeline", "ErrorCode", "Reason", "Outcome")


class Metrics:
    """Writes measurements as EMF lines through ``write`` (None: nowhere, for tests of other
    things). Safe to share between threads: each line is one call of ``write``."""

    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        service: str = DEFAULT_METRICS_SERVICE,
    ):
        """``service``: the Service dimension's value (the template passes the stack's name,
        so two stacks in one account keep apart)."""
        self._write, self._clock, self._service = write, clock, service

    def put(
        self,
        name: str,
        value: float,
        dimensions: Mapping[str, str] | None = None,
        **properties: Any,
    ) -> None:
        """One measurement; ``name`` is one of ``UNITS``, ``dimensions`` from ``DIMENSIONS``."""
        if self._write is None:
            return
        properties = {**logs.ids(), **properties}  # the request and trace this happened in
        entry = emf(name, value, dict(dimensions or {}), properties, self._clock(), self._service)
        self._write(json.dumps(entry))


def emf(
    name: str,
    value: float,
    dimensions: dict[str, str],
    properties: dict[str, Any],
    now: float,
    service: str = DEFAULT_METRICS_SERVICE,
) -> dict[str, Any]:
    """The EMF object of one measurement (properties that are None are left out)."""
    if name not in UNITS or not set(dimensions) <= set(DIMENSIONS):
        raise ValueError(f"unknown metric {name!r} or dimension in {sorted(dimensions)}")
    sets = [["Service"]] + [["Service", dimension] for dimension in dimensions]
    return {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": UNITS[name]}],
                }
            ],
        },
        "Service": service,
        **{key: str(val) for key, val in dimensions.items()},
        **{key: val for key, val in properties.items() if val is not None},
        name: value,
    }


class MetricsLedger:
    """The local stack's copy of the EMF lines: a file every process appends to (one ``write``
    per line, O_APPEND), rotated once past ``max_bytes`` (one older file is kept)."""

    def __init__(self, path: Path, max_bytes: int = 16 * 1024 * 1024):
        self.path, self._max_bytes = path, max_bytes
        self._lock = threading.Lock()

    @property
    def older(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def append(self, line: str) -> None:
        data = (line + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > self._max_bytes:
                os.replace(self.path, self.older)

    def lines(self, since: float) -> Iterator[dict[str, Any]]:
        """The measurements written at or after ``since`` (epoch s); unreadable lines skipped."""
        for path in (self.older, self.path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    stamp = entry["_aws"]["Timestamp"] / 1000
                except (ValueError, KeyError, TypeError):
                    continue
                if stamp >= since:
                    yield entry


def printer(ledger: MetricsLedger | None) -> Callable[[str], None]:
    """Where the deployed and the local processes write: stdout (CloudWatch Logs on Lambda,
    the terminal under ``make run``), and the local ledger when there is one."""

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if ledger is not None:
            ledger.append(line)

    return write


def summarize(entries: Iterable[Mapping[str, Any]], tenant: str | None = None) -> dict[str, Any]:
    """Per metric: how many measurements, their sum, and for seconds the median, p95 and
    maximum; counts broken down by their dimension (``by``). ``tenant``: only lines of that
    tenant (lines with no tenant, such as auth refusals, are then left out)."""
    values: dict[str, list[float]] = {}
    by: dict[str, dict[str, dict[str, float]]] = {}
    for entry in entries:
        if tenant is not None and entry.get("tenant") != tenant:
            continue
        for name in UNITS:
            value = entry.get(name)
            if isinstance(value, int | float) and math.isfinite(value):
                values.setdefault(name, []).append(float(value))
                for dimension in DIMENSIONS:
                    if dimension in entry:
                        split = by.setdefault(name, {}).setdefault(dimension, {})
                        key = str(entry[dimension])
                        split[key] = split.get(key, 0) + value
    return {name: _describe(name, values[name], by.get(name)) for name in UNITS if name in values}


def _describe(name: str, values: list[float], by: dict | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "unit": UNITS[name],
        "count": len(values),
        "sum": round(sum(values), 3),
    }
    if UNITS[name] == SECONDS:
        ordered = sorted(values)
        found |= {
            "p50": round(_percentile(ordered, 0.5), 3),
            "p95": round(_percentile(ordered, 0.95), 3),
            "max": round(ordered[-1], 3),
        }
    if by:
        found["by"] = by
    return found


def _percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile (the value at rank ceil(q * n))."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
