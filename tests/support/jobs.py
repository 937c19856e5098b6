"""Job rows for tests, written through the store the code under test uses."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.jobs.ids import new_job_id, video_path
from chalicelib.jobs.record import PENDING, JobRecord
from chalicelib.jobs.store import JobStore


def new_job(
    jobs: JobStore,
    *,
    status: str = PENDING,
    sample_fps: float | None = None,
    options: dict | None = None,
    storage=None,
    pipeline_id: str = "yolo_ocr",
) -> JobRecord:
    """A stored job (and, given ``storage``, its input video), as submit would leave it."""
    job_id = new_job_id()
    if storage is not None:
        storage.save_file(b"video bytes", video_path(job_id))
    job = JobRecord.new(
        job_id,
        input_path=video_path(job_id),
        pipeline_id=pipeline_id,
        status=status,
        sample_fps=sample_fps,
        options=options,
        retention_days=30,
    )
    jobs.create(job)
    return job


def final_job(status: str, error_message: str | None = None) -> JobRecord:
    """A job row that ended with ``status`` (not stored anywhere)."""
    job = JobRecord.new(new_job_id(), input_path="x.mp4", pipeline_id="yolo_ocr", retention_days=30)
    return replace(
        job, status=status, error_message=error_message, updated_at="2026-12-01T10:00:05.000Z"
    )
