"""JobViewer on the in-memory job store and local storage: what the viewer page carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.errors import JobNotFound
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.viewer import page as viewer
from chalicelib.viewer.page import JobViewer
from tests.support.jobs import new_job

HOSTILE = "bad </script><script>alert(1)</script> & <!-- video"


@pytest.fixture
def parts():
    with LocalStorage.temporary() as storage:
        jobs = InMemoryJobStore()
        yield jobs, storage, JobViewer(jobs=jobs, storage=storage, url_expiry_s=60)


def page_config(html: str) -> dict:
    match = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no config"
    return json.loads(match.group(1))


def test_a_completed_job_carries_its_video_url_and_relative_api_urls(parts):
    jobs, storage, pages = parts
    job = new_job(jobs, storage=storage)
    jobs.claim(job.job_id, "w", 60)
    jobs.complete(job.job_id, owner="w", output_path=f"video_jobs/{job.job_id}_results.json")
    config = page_config(pages.page(job.job_id))
    assert config == {
        "job_id": job.job_id,
        "status": "completed",
        "error_message": None,
        "results_url": f"../results/{job.job_id}",  # relative: keeps a stage prefix
        "status_url": f"../status/{job.job_id}",
        "video_url": storage.presigned_get_url(job.input_path, 60),
    }
    assert config["video_url"].startswith("file:///")


def test_a_pending_job_gets_no_video_url(parts):
    jobs, storage, pages = parts
    config = page_config(pages.page(new_job(jobs, storage=storage).job_id))
    assert (config["status"], config["video_url"]) == ("pending", None)


def test_a_failed_job_shows_its_reason_and_markup_cannot_escape(parts):
    jobs, _, pages = parts
    job = new_job(jobs)
    jobs.fail(job.job_id, HOSTILE)
    html = pages.page(job.job_id)
    assert html.count("</script>") == 2  # the page's own two scripts
    config = page_config(html)
    assert (config["status"], config["error_message"], config["video_url"]) == (
        "failed", HOSTILE, None)  # fmt: skip


def test_an_unknown_job_is_job_not_found(parts):
    _, _, pages = parts
    job_id = new_job_id()
    with pytest.raises(JobNotFound, match=job_id):
        pages.page(job_id)


def test_the_page_fetches_nothing_from_elsewhere():
    html = Path(viewer.PAGE).read_text()
    assert not re.search(r"<[^>]*\s(src|href)=|https?://|@import|url\(", html), "an outside fetch"
    # Its script loads only what the API handed it: the results, the status, the video URL.
    assert html.count("fetch(") == 1  # inside fetchJson
    calls = re.findall(r"fetchJson\((.*?)\)", html)[1:]  # [0] is its definition
    assert len(calls) == 3
    assert all(re.match(r"`?(\$\{)?config\.(results|status)_url", call) for call in calls)
    assert re.findall(r"\.src = (.*);", html) == ["config.video_url"]
