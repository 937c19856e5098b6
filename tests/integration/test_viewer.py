"""GET /video/view/{job_id} through chalice.test.Client on moto: the HTML answer, the presigned
GET of the video (moto serves it), and the usual JSON 404s."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
import yaml

from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED

SPEC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())


def test_a_completed_job_gets_an_html_page_and_its_video_through_a_presigned_get(
    client, aws, tiny_mp4
):
    response = client.http.post(
        "/video/submit", body=tiny_mp4.read_bytes(), headers={"Content-Type": "video/mp4"}
    )
    job_id = response.json_body["job_id"]
    aws.jobs.claim(job_id, "worker-1", lease_s=60)
    aws.jobs.update_status(job_id, COMPLETED, output_path=f"video_jobs/{job_id}_results.json")
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "text/html" in SPEC["paths"]["/video/view/{job_id}"]["get"]["responses"]["200"][
        "content"]  # fmt: skip
    html = response.body.decode("utf-8")
    config = json.loads(re.search(r'id="config" type="application/json">(.*?)</script>', html)[1])
    url = config["video_url"]
    assert f"/video-jobs-media/video_jobs/{job_id}.mp4?" in url and "X-Amz-Expires=3600" in url
    assert requests.get(url, timeout=5).content == tiny_mp4.read_bytes()  # moto answers it


@pytest.mark.parametrize("job_id", ["not-a-uuid", new_job_id()])
def test_unknown_jobs_are_the_usual_json_404(client, job_id):
    response = client.http.get(f"/video/view/{job_id}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json_body["code"] == "JobNotFound"
    assert job_id in response.json_body["message"]
