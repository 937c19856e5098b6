"""GET /video/view/{job_id} through chalice.test.Client on moto: the HTML answer, the presigned
GET of the video (moto serves it), the page's security headers, and the usual JSON 404s."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED

SPEC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())


def completed_job(client, aws, data: bytes) -> str:
    response = client.http.post("/video/submit", body=data, headers={"Content-Type": "video/mp4"})
    job_id = response.json_body["job_id"]
    aws.jobs.claim(job_id, "worker-1", lease_s=60)
    aws.jobs.update_status(job_id, COMPLETED, output_path=f"video_jobs/{job_id}_results.json")
    return job_id


def video_url(html: str) -> str:
    return json.loads(re.search(r'id="config" type="application/json">(.*?)</script>', html)[1])[
        "video_url"]  # fmt: skip


def test_a_completed_job_gets_an_html_page_and_its_video_through_a_presigned_get(
    client, aws, tiny_mp4
):
    job_id = completed_job(client, aws, tiny_mp4.read_bytes())
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "text/html" in SPEC["paths"]["/video/view/{job_id}"]["get"]["responses"]["200"][
        "content"]  # fmt: skip
    url = video_url(response.body.decode("utf-8"))
    assert f"/video-jobs-media/video_jobs/{job_id}.mp4?" in url and "X-Amz-Expires=3600" in url
    assert requests.get(url, timeout=5).content == tiny_mp4.read_bytes()  # moto answers it


def test_the_page_is_served_with_its_security_headers(client, aws, tiny_mp4):
    job_id = completed_job(client, aws, tiny_mp4.read_bytes())
    response = client.http.get(f"/video/view/{job_id}")
    html = response.body.decode("utf-8")
    video = urlsplit(video_url(html))
    script = re.search(r"<script>(.*?)</script>", html, re.S)[1]  # the one executable script
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    directives = response.headers["Content-Security-Policy"].split(";")
    policy = dict(directive.strip().split(" ", 1) for directive in directives)
    assert policy["script-src"] == f"'sha256-{digest}'"
    assert policy["media-src"] == f"{video.scheme}://{video.netloc}{video.path}"  # moto's S3
    assert video.netloc and video.path.startswith("/video-jobs-media/")
    assert policy["connect-src"] == "'self'"
    for directive in ("default-src", "frame-ancestors", "base-uri", "object-src"):
        assert policy[directive] == "'none'", directive
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    head = client.http.request("HEAD", f"/video/view/{job_id}")
    assert head.status_code == 200 and head.body == b""
    assert {k: head.headers[k] for k in ("X-Content-Type-Options", "Referrer-Policy")} == {
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # fmt: skip
    assert "frame-ancestors 'none'" in head.headers["Content-Security-Policy"]


@pytest.mark.parametrize("job_id", ["not-a-uuid", new_job_id()])
def test_unknown_jobs_are_the_usual_json_404(client, job_id):
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body["code"] == "JobNotFound"
    assert job_id in response.json_body["message"]
