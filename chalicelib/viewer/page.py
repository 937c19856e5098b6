"""The results viewer: one self-contained HTML page (``viewer.html``) for one job.

The page carries the job's state and, for a completed job, a short-lived presigned GET of its
video; its script fetches the results (every page) from this same API and draws them over the
playing video. Nothing is fetched from anywhere else, and there is no build step.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chalicelib.adapters.storage import StorageService
from chalicelib.jobs.record import COMPLETED, FAILED
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import PUBLIC, Caller

if TYPE_CHECKING:
    from chalicelib.access.authenticator import Authenticator

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

    def page(self, job_id: str, caller: Caller = PUBLIC, token: str | None = None) -> str:
        """URLs are relative to ``.../video/view/{id}``, so a stage prefix (``/api`` on API
        Gateway) is kept. ``token``: the view token the page sends with its fetches."""
        job = self.jobs.get(job_id, caller)
        config: dict[str, Any] = {
            "job_id": job.job_id,
            "status": job.status,
            "error_message": job.error_message if job.status == FAILED else None,
            "results_url": f"../results/{job.job_id}",
            "status_url": f"../status/{job.job_id}",
            "video_url": None,
        }
        if token is not None:  # the page sends it with its fetches of status and results
            config["token"] = token
        if job.status == COMPLETED:
            config["video_url"] = self.storage.presigned_get_url(job.input_path, self.url_expiry_s)
        # Inside <script>, "<" is escaped so no value can close the element.
        data = json.dumps(config).replace("<", "\\u003c")
        return _template().replace(CONFIG_SLOT, data)

    def link(self, job_id: str, caller: Caller, auth: Authenticator) -> dict[str, Any]:
        """The viewer's path (relative to the API's root) for a job the caller may see; with
        auth required it carries a view token, and says when that expires."""
        job = self.jobs.get(job_id, caller)
        path = f"/video/view/{job.job_id}"
        if not auth.required:
            return {"url": path, "expires_at": None}
        token, expires = auth.view_token(caller, job.job_id)
        when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        return {"url": f"{path}?token={quote(token)}", "expires_at": when.replace("+00:00", "Z")}
