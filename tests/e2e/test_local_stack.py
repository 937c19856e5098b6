"""The real local stack over real HTTP: the emulator + chalice local + the worker runner."""

import time

import pytest
import requests

from chalicelib.jobs.record import FINAL_STATES
from tests.fixtures.make_tiny_mp4 import make_audio_only_mp4
from tests.support.stack import local_stack
from tests.support.videos import shared_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory):
    with local_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running.base


def wait_final(base: str, job_id: str, timeout_s: float = 180) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = requests.get(f"{base}/video/status/{job_id}", timeout=5).json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in FINAL_STATES:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {seen}")


def test_submit_over_http_runs_to_completion(stack):
    data = shared_video("highway_dashcam.mp4").read_bytes()
    response = requests.post(
        f"{stack}/video/submit", data=data, headers={"Content-Type": "video/mp4"}, timeout=30
    )
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.headers["Location"] == f"/video/status/{job_id}"
    seen = wait_final(stack, job_id)
    assert seen[-1] == "completed" and set(seen) <= {"pending", "running", "completed"}
    results = requests.get(f"{stack}/video/results/{job_id}", timeout=10).json()["results"]
    assert "car" in results["summary"]["objects"]
    assert results["video"]["width"] == 960 and results["frames"]


def test_presigned_upload_over_http_with_the_fast_pipeline(stack):
    query = "?pipeline_id=yolo_ocr_fast"
    ticket = requests.post(f"{stack}/video/uploads{query}", timeout=10).json()
    upload = ticket["upload"]
    data = shared_video("cars_parking_aerial.mp4").read_bytes()
    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200
    started = requests.post(f"{stack}{ticket['start_url']}", timeout=10)
    assert started.status_code == 202
    assert wait_final(stack, ticket["job_id"])[-1] == "completed"
    results = requests.get(f"{stack}/video/results/{ticket['job_id']}", timeout=10).json()
    assert results["results"]["pipeline_id"] == "yolo_ocr_fast"
    assert "car" in results["results"]["summary"]["objects"]


def test_a_video_without_pictures_fails_with_a_reason(stack, tmp_path):
    data = make_audio_only_mp4(tmp_path / "audio.mp4").read_bytes()
    response = requests.post(
        f"{stack}/video/submit", data=data, headers={"Content-Type": "video/mp4"}, timeout=30
    )
    if response.status_code == 400:  # refused at the door: also a clear answer
        assert "audio" in response.json()["message"]
        return
    job_id = response.json()["job_id"]
    assert wait_final(stack, job_id)[-1] == "failed"
    status = requests.get(f"{stack}/video/status/{job_id}", timeout=5).json()
    assert "no video track" in status["error_message"]


def test_garbage_gets_4xx_over_http(stack):
    for body, content_type in [
        (b"", "video/mp4"),
        (b"PK\x03\x04zip", "video/mp4"),
        (b"hello", "text/plain"),
    ]:
        response = requests.post(
            f"{stack}/video/submit", data=body, headers={"Content-Type": content_type}, timeout=10
        )
        assert 400 <= response.status_code < 500 and response.json()["message"]
    assert requests.get(f"{stack}/video/status/..%2F..%2Fetc", timeout=5).status_code == 404


def test_bounded_load_every_job_finishes_and_no_5xx(stack, tiny_mp4):
    from scripts.load_test import report, run

    tally = run(stack, tiny_mp4.read_bytes(), jobs=20, concurrency=6, timeout_s=240)
    assert report(tally, jobs=20, seconds=0)
    assert not any(code >= 500 for code in tally.codes)
    assert set(tally.final.values()) == {"completed"}


def test_presigned_url_is_scoped_to_one_key_with_an_expiry(stack):
    ticket = requests.post(f"{stack}/video/uploads", timeout=10).json()
    url = ticket["upload"]["url"]
    assert f"/video-jobs-media/video_jobs/{ticket['job_id']}.mp4?" in url
    assert "X-Amz-Expires=900" in url and "X-Amz-SignedHeaders=content-type%3Bhost" in url
