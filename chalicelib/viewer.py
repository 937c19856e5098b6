"""The results viewer: one self-contained HTML page (``viewer.html``) for one job.

The page carries the job's state and, for a completed job, a short-lived presigned GET of its
video; its script fetches the results (every page) from this same API and draws them over the
playing video. Nothing is fetched from anywhere else, and there is no build step.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from chalicelib.config import Settings
from chalicelib.jobs import COMPLETED, FAILED, Job
from chalicelib.storage import StorageService

PAGE = Path(__file__).with_name("viewer.html")
CONFIG_SLOT = "/*CONFIG*/null"


@functools.cache
def _template() -> str:
    page = PAGE.read_text(encoding="utf-8")
    assert page.count(CONFIG_SLOT) == 1, f"{PAGE} must hold {CONFIG_SLOT} exactly once"
    return page


def view_page(job: Job, storage: StorageService, settings: Settings) -> str:
    """The page for ``job``. URLs are relative to ``.../video/view/{id}``, so a stage prefix
    (``/api`` on API Gateway) is kept."""
    config = {
        "job_id": job.job_id,
        "status": job.status,
        "error_message": job.error_message if job.status == FAILED else None,
        "results_url": f"../results/{job.job_id}",
        "status_url": f"../status/{job.job_id}",
        "video_url": None,
    }
    if job.status == COMPLETED:
        config["video_url"] = storage.presigned_get_url(job.input_path, settings.view_url_expiry_s)
    # Inside <script>, "<" is escaped so no value can close the element.
    data = json.dumps(config).replace("<", "\\u003c")
    return _template().replace(CONFIG_SLOT, data)
