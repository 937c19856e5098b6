"""The results viewer: one self-contained HTML page (``viewer.html``) for one job.

The page carries the job's state and, for a completed job, a short-lived presigned GET of its
video; its script fetches the results (every page) from this same API and draws them over the
playing video. Nothing is fetched from anywhere else, and there is no build step.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from chalicelib.jobs import COMPLETED, FAILED, JobStore
from chalicelib.storage import StorageService

PAGE = Path(__file__).with_name("viewer.html")
CONFIG_SLOT = "/*CONFIG*/null"


@functools.cache
def _template() -> str:
    page = PAGE.read_text(encoding="utf-8")
    assert page.count(CONFIG_SLOT) == 1, f"{PAGE} must hold {CONFIG_SLOT} exactly once"
    return page


class JobViewer:
    """Builds the viewer page of one job (JobNotFound for an unknown one)."""

    def __init__(self, *, jobs: JobStore, storage: StorageService, url_expiry_s: int):
        self.jobs = jobs
        self.storage = storage
        self.url_expiry_s = url_expiry_s

    def page(self, job_id: str) -> str:
        """URLs are relative to ``.../video/view/{id}``, so a stage prefix (``/api`` on API
        Gateway) is kept."""
        job = self.jobs.get(job_id)
        config: dict[str, Any] = {
            "job_id": job.job_id,
            "status": job.status,
            "error_message": job.error_message if job.status == FAILED else None,
            "results_url": f"../results/{job.job_id}",
            "status_url": f"../status/{job.job_id}",
            "video_url": None,
        }
        if job.status == COMPLETED:
            config["video_url"] = self.storage.presigned_get_url(job.input_path, self.url_expiry_s)
        # Inside <script>, "<" is escaped so no value can close the element.
        data = json.dumps(config).replace("<", "\\u003c")
        return _template().replace(CONFIG_SLOT, data)
