"""Jobs and results segments for search tests and the search benchmark."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import JobRecord


def a_job(tenant: str = "acme", created_at: str = "2026-12-07T08:30:00.000Z") -> JobRecord:
    job = JobRecord.new(
        new_job_id(),
        input_path="video_jobs/x.mp4",
        pipeline_id="yolo_ocr",
        retention_days=30,
        tenant=tenant,
    )
    return replace(job, created_at=created_at, updated_at=created_at)


def text(line: str, start_ms: int, end_ms: int, confidence: float = 0.95) -> dict[str, Any]:
    return {
        "text": line,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "frames": 1,
        "max_confidence": confidence,
        "polygon": [],
    }


def label(name: str, start_ms: int, end_ms: int, confidence: float = 0.6) -> dict[str, Any]:
    return {
        "label": name,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "frames": 1,
        "max_confidence": confidence,
    }


def segments(texts: list[dict] | None = None, labels: list[dict] | None = None) -> dict:
    return {"text": texts or [], "objects": labels or []}
