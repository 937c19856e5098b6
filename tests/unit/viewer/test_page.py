"""JobViewer on the in-memory job store and local storage: what the viewer page carries."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.errors import JobNotFound
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.viewer import page as viewer
from chalicelib.viewer.page import JobViewer, media_source
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
    config = page_config(pages.page(job.job_id).html)
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
    config = page_config(pages.page(new_job(jobs, storage=storage).job_id).html)
    assert (config["status"], config["video_url"]) == ("pending", None)


def test_a_failed_job_shows_its_reason_and_markup_cannot_escape(parts):
    jobs, _, pages = parts
    job = new_job(jobs)
    jobs.fail(job.job_id, HOSTILE)
    html = pages.page(job.job_id).html
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


def policy_of(headers: dict[str, str]) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    pairs = (d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    return {name: value for name, value in pairs}


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_policy_runs_only_the_pages_own_script_and_style(parts):
    jobs, storage, pages = parts
    served = pages.page(new_job(jobs, storage=storage).job_id)
    scripts = re.findall(r"<script>(.*?)</script>", served.html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", served.html, re.S)
    assert len(scripts) == len(styles) == 1
    policy = policy_of(served.headers)
    assert policy["script-src"] == sha256_source(scripts[0])  # no 'unsafe-inline', no host
    assert policy["style-src"] == sha256_source(styles[0])
    assert {name: policy[name] for name in ("default-src", "base-uri", "frame-ancestors",
            "object-src", "form-action", "connect-src", "media-src")} == {
        "default-src": "'none'", "base-uri": "'none'", "frame-ancestors": "'none'",
        "object-src": "'none'", "form-action": "'none'", "connect-src": "'self'",
        "media-src": "'none'",  # a pending job has no video
    }  # fmt: skip
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Referrer-Policy"] == "no-referrer"
    assert served.headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_completed_jobs_page_may_play_media_from_its_presigned_url_only(parts):
    jobs, storage, pages = parts
    job = new_job(jobs, storage=storage)
    jobs.claim(job.job_id, "w", 60)
    jobs.complete(job.job_id, owner="w", output_path=f"video_jobs/{job.job_id}_results.json")
    assert policy_of(pages.page(job.job_id).headers)["media-src"] == "file:"  # LocalStorage


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("http://127.0.0.1:5010/video-jobs-media/video_jobs/a.mp4?X-Amz-Signature=ab;cd",
         "http://127.0.0.1:5010/video-jobs-media/video_jobs/a.mp4"),
        ("https://s3.eu-west-1.amazonaws.com/media/video_jobs/a;b,c.mp4?X-Amz-Expires=3600",
         "https://s3.eu-west-1.amazonaws.com/media/video_jobs/a%3Bb%2Cc.mp4"),
        (None, "'none'"),
    ],
)  # fmt: skip
def test_the_media_source_is_the_presigned_objects_origin_and_path(url, source):
    assert media_source(url) == source
