"""The results viewer: one self-contained HTML page (``viewer.html``) for one job.

The page carries the job's state and, for a completed job, a short-lived presigned GET of its
video; its script fetches the results (every page) from this same API and draws them over the
playing video. Nothing is fetched from anywhere else, and there is no build step.

Its headers hold it to that: a Content-Security-Policy that runs only the page's own script and
style (by their SHA-256, computed once from ``viewer.html``), fetches only from this API, plays
media only from the presigned URL, and lets no site frame the page; no MIME sniffing; no
Referer (the view token rides in the page's URL).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from chalicelib.adapters.storage import StorageService
from chalicelib.jobs.record import COMPLETED, FAILED
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.tenancy import PUBLIC, Caller

if TYPE_CHECKING:
    from chalicelib.access.authenticator import Authenticator

PAGE = Path(__file__).with_name("viewer.html")
CONFIG_SLOT = "/*CONFIG*/null"


# The inline blocks the browser runs; the config's <script type="application/json"> is data.
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@dataclass(frozen=True)
class ViewerPage:
    """The page and the headers it must be served with."""

    html: str
    headers: dict[str, str | list[str]]  # as a Chalice Response takes them: app.py passes them on


@dataclass(frozen=True)
class _Template:
    text: str
    script_hashes: str  # CSP sources: 'sha256-...' of each inline <script>
    style_hashes: str  # and of each <style>


def _hashes(blocks: list[str]) -> str:
    digests = (hashlib.sha256(block.encode("utf-8")).digest() for block in blocks)
    return " ".join(f"'sha256-{base64.b64encode(d).decode('ascii')}'" for d in digests)


@functools.cache
def template_of(path: Path) -> _Template:
    """A page of this package: its text (with one config slot) and its blocks' hashes."""
    page = path.read_text(encoding="utf-8")
    assert page.count(CONFIG_SLOT) == 1, f"{path} must hold {CONFIG_SLOT} exactly once"
    scripts, styles = _SCRIPT.findall(page), _STYLE.findall(page)
    assert scripts and not any(CONFIG_SLOT in s for s in scripts), "the config must stay data"
    return _Template(page, _hashes(scripts), _hashes(styles))


def _template() -> _Template:
    return template_of(PAGE)


def fill(template: _Template, config: dict[str, Any]) -> str:
    """The page with its config: inside <script>, "<" is escaped so no value can close it."""
    return template.text.replace(CONFIG_SLOT, json.dumps(config).replace("<", "\\u003c"))


def secure_headers(template: _Template, **sources: str) -> dict[str, str | list[str]]:
    """A page's type and security headers: it runs only its own script and style, fetches from
    this API only, loads what ``sources`` allow (``media_src="..."``) and nothing else."""
    policy = {
        "default-src": "'none'",
        "script-src": template.script_hashes,
        "style-src": template.style_hashes,
        "connect-src": "'self'",  # the page's fetches from this API
        **{name.replace("_", "-"): value for name, value in sources.items()},
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
        "object-src": "'none'",
    }
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "; ".join(f"{name} {value}" for name, value in policy.items()),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",  # it holds presigned URLs (and maybe a link's token)
    }


def media_source(video_url: str | None) -> str:
    """The CSP source of the presigned video: its origin and object path (a query is never
    matched), so the page plays that one object from the storage endpoint the URL names."""
    if video_url is None:
        return "'none'"
    parts = urlsplit(video_url)
    if not parts.netloc:  # LocalStorage's file:// URL (tests): no host to name
        return f"{parts.scheme}:"
    path = parts.path.replace(";", "%3B").replace(",", "%2C")  # CSP's own separators
    return f"{parts.scheme}://{parts.netloc}{path}"


def page_headers(video_url: str | None) -> dict[str, str | list[str]]:
    """The viewer's headers; ``video_url``: the one media it may play."""
    return secure_headers(_template(), media_src=media_source(video_url))


class JobViewer:
    """Builds the viewer page of one job (JobNotFound for an unknown one)."""

    def __init__(self, *, jobs: JobStore, storage: StorageService, url_expiry_s: int):
        self.jobs = jobs
        self.storage = storage
        self.url_expiry_s = url_expiry_s

    def page(self, job_id: str, caller: Caller = PUBLIC, token: str | None = None) -> ViewerPage:
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
        return ViewerPage(fill(_template(), config), page_headers(config["video_url"]))

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
