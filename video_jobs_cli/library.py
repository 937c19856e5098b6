"""``GET /video/jobs`` as a table: one row per job, newest first."""

from __future__ import annotations

from typing import Any

HEADER = ("job", "status", "progress", "pipeline", "created", "error")
MAX_ERROR_CHARS = 60  # a row stays on one line; `video-jobs status JOB` has the whole message


def _row(job: dict[str, Any]) -> list[str]:
    error = job.get("error_message") or ""
    if len(error) > MAX_ERROR_CHARS:
        error = error[: MAX_ERROR_CHARS - 3] + "..."
    return [
        str(job["job_id"]),
        str(job["status"]),
        f"{round(float(job['progress']) * 100)}%",
        str(job.get("pipeline_id", "")),
        str(job.get("created_at", "")),
        " ".join(error.split()),  # no line breaks inside a row
    ]


def jobs_lines(jobs: list[dict[str, Any]]) -> list[str]:
    if not jobs:
        return ["no jobs"]
    rows = [list(HEADER), *(_row(job) for job in jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
