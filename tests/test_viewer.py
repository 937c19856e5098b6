"""GET /video/view/{job_id}: the viewer page, through chalice.test.Client on moto."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
import yaml
from chalice.test import Client

from app import app
from chalicelib.ids import new_job_id
from chalicelib.jobs import FAILED, RUNNING, Job

SPEC = yaml.safe_load((Path(__file__).parents[1] / "docs" / "openapi.yaml").read_text())
HOSTILE = "bad </script><script>alert(1)</script> & <!-- video"


@pytest.fixture
def client(aws):
    with Client(app) as test_client:
        yield test_client


def page_config(body: bytes) -> dict:
    html = body.decode("utf-8")
    match = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no config"
    return json.loads(match.group(1))


def submitted(client, tiny_mp4) -> str:
    response = client.http.post(
        "/video/submit", body=tiny_mp4.read_bytes(), headers={"Content-Type": "video/mp4"}
    )
    return response.json_body["job_id"]


def test_a_completed_job_gets_its_video_through_a_presigned_get(client, aws, tiny_mp4):
    job_id = submitted(client, tiny_mp4)
    job = Job.get_by_id(job_id)
    job.update_status(RUNNING)
    job.update_status("completed", output_path=f"video_jobs/{job_id}_results.json")
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "text/html" in SPEC["paths"]["/video/view/{job_id}"]["get"]["responses"]["200"][
        "content"]  # fmt: skip
    config = page_config(response.body)
    assert config["status"] == "completed" and config["error_message"] is None
    assert config["results_url"] == f"../results/{job_id}"  # relative: keeps a stage prefix
    assert config["status_url"] == f"../status/{job_id}"
    url = config["video_url"]
    assert f"/video-jobs-media/video_jobs/{job_id}.mp4?" in url and "X-Amz-Expires=3600" in url
    assert requests.get(url, timeout=5).content == tiny_mp4.read_bytes()  # moto answers it


def test_a_pending_job_gets_no_video_url(client, tiny_mp4):
    config = page_config(client.http.get(f"/video/view/{submitted(client, tiny_mp4)}").body)
    assert (config["status"], config["video_url"]) == ("pending", None)


def test_a_failed_job_shows_its_reason_and_markup_cannot_escape(client, tiny_mp4):
    job_id = submitted(client, tiny_mp4)
    job = Job.get_by_id(job_id)
    job.update_status(RUNNING)
    job.update_status(FAILED, error_message=HOSTILE)
    response = client.http.get(f"/video/view/{job_id}")
    assert response.body.decode().count("</script>") == 2  # the page's own two scripts
    config = page_config(response.body)
    assert (config["status"], config["error_message"]) == ("failed", HOSTILE)


@pytest.mark.parametrize("job_id", ["not-a-uuid", new_job_id()])
def test_unknown_jobs_are_the_usual_json_404(client, job_id):
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body["code"] == "JobNotFound"
    assert job_id in response.json_body["message"]


def test_the_page_fetches_nothing_from_elsewhere():
    html = (Path(__file__).parents[1] / "chalicelib" / "viewer.html").read_text()
    assert not re.search(r"<[^>]*\s(src|href)=|https?://|@import|url\(", html), "an outside fetch"
    # Its script loads only what the API handed it: the results, the status, the video URL.
    assert html.count("fetch(") == 1  # inside fetchJson
    calls = re.findall(r"fetchJson\((.*?)\)", html)[1:]  # [0] is its definition
    assert len(calls) == 3
    assert all(re.match(r"`?(\$\{)?config\.(results|status)_url", call) for call in calls)
    assert re.findall(r"\.src = (.*);", html) == ["config.video_url"]
