"""``GET /video/jobs`` as a table (one row per job, newest first), and ``GET /video/search``'s
hits as lines (one per hit, then its time ranges)."""

from __future__ import annotations

from typing import Any

HEADER = ("job", "status", "progress", "pipeline", "created", "name", "duration", "error")
MAX_ERROR_CHARS = 60  # a row stays on one line; `video-jobs status JOB` has the whole message
MAX_NAME_CHARS = 30
UNKNOWN = "-"  # no name (a raw upload), no duration (not analyzed yet)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())  # no line breaks inside a row
    return text[: limit - 3] + "..." if len(text) > limit else text


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return UNKNOWN
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes}:{rest:02d}"


def _row(job: dict[str, Any]) -> list[str]:
    error = job.get("error_message") or ""
    if job.get("error_code"):
        error = f"{job['error_code']}: {error}"
    return [
        str(job["job_id"]),
        str(job["status"]),
        f"{round(float(job['progress']) * 100)}%",
        str(job.get("pipeline_id", "")),
        str(job.get("created_at", "")),
        _cut(str(job.get("source_name") or UNKNOWN), MAX_NAME_CHARS),
        _duration(job.get("duration_s")),
        _cut(error, MAX_ERROR_CHARS),
    ]


def jobs_lines(jobs: list[dict[str, Any]]) -> list[str]:
    if not jobs:
        return ["no jobs"]
    rows = [list(HEADER), *(_row(job) for job in jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{ms % 1000:03d}"


def hits_lines(hits: list[dict[str, Any]]) -> list[str]:
    """Each hit: its job, score, pipeline and creation time; then each range indented, with
    the text and labels seen in it."""
    if not hits:
        return ["no videos found"]
    lines = []
    for hit in hits:
        lines.append(
            f"{hit['job_id']}  score {hit['score']}  {hit.get('pipeline_id', '')}  "
            f"{hit.get('created_at', '')}".rstrip()
        )
        for found in hit["ranges"]:
            seen = [*(f'"{text}"' for text in found.get("text", [])), *found.get("labels", [])]
            span = f"{_clock(int(found['start_ms']))}-{_clock(int(found['end_ms']))}"
            lines.append(f"  {span}  {', '.join(seen)}")
    return lines
