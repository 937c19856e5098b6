"""The viewer in a real browser (headless Chromium) against the real local stack.

The page, opened at ``#t=SECONDS``, seeks there and draws the last sampled frame at or before
that time; it lists what it drew in ``<pre id="drawn">``. The test compares that list with the
results document, then finds each box's colour on its edge in a screenshot. Set
VIDEO_JOBS_VIEWER_SCREENSHOT=docs/viewer.png to keep the screenshot (the README's).

Debian's Chromium plays H.264 MP4, but whether the video frame is painted by the time headless
Chromium takes its screenshot depends on timing (media loads outside its virtual time), so the
video pixels are not asserted: the overlay is drawn from the page's clock either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import requests
from PIL import Image

from tests.support.stack import local_stack
from tests.support.videos import shared_video

pytestmark = pytest.mark.slow
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 900)


@pytest.fixture(scope="module")
def browser() -> str:
    found = os.environ.get("VIDEO_JOBS_CHROMIUM") or next(
        (path for path in map(shutil.which, BROWSERS) if path), None
    )
    if found:
        return found
    message = "Chromium is not installed: apt-get install -y chromium (make test does it as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def job(browser, model_path, tmp_path_factory):
    """(API base URL, job id, results) of dog_and_woman.mp4, analyzed by yolo_ocr_fast."""
    data = shared_video("dog_and_woman.mp4").read_bytes()
    with local_stack(tmp_path_factory.mktemp("stack")) as stack:
        api = stack.base
        submitted = requests.post(
            f"{api}/video/submit?pipeline_id=yolo_ocr_fast", data=data,
            headers={"Content-Type": "video/mp4"}, timeout=30,
        ).json()  # fmt: skip
        job_id, deadline = submitted["job_id"], time.monotonic() + 180
        while requests.get(f"{api}/video/status/{job_id}", timeout=5).json()["status"] not in (
            "completed", "failed"):  # fmt: skip
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.3)
        results = requests.get(f"{api}/video/results/{job_id}", timeout=5).json()["results"]
        yield api, job_id, results


def headless(browser: str, tmp_path, url: str, *args: str) -> str:
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", *args, url],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def drawn_at(browser, tmp_path, api, job_id, seconds: float) -> dict:
    html = headless(browser, tmp_path, f"{api}/video/view/{job_id}#t={seconds}", "--dump-dom")
    assert 'data-ready="1"' in html, html[-3000:]
    return json.loads(re.search(r'<pre id="drawn"[^>]*>(.*?)</pre>', html, re.S).group(1))


def busiest_frame(results: dict) -> tuple[dict, dict]:
    """The frame with the most objects, and the one after it."""
    frames = results["frames"]
    index = max(range(len(frames) - 1), key=lambda i: len(frames[i]["objects"]))
    return frames[index], frames[index + 1]


def expected(frame: dict) -> list[dict]:
    return [{"label": o["label"], "track_id": o.get("track_id"), "box": o["box"]}
            for o in frame["objects"]]  # fmt: skip


def test_the_boxes_drawn_are_those_of_the_last_frame_at_or_before_the_time(browser, job, tmp_path):
    api, job_id, results = job
    frame, after = busiest_frame(results)
    assert len(frame["objects"]) >= 2  # dog_and_woman: a dog and a person at least
    for ms in (frame["timestamp_ms"] + 100, after["timestamp_ms"] - 1):
        drawn = drawn_at(browser, tmp_path, api, job_id, ms / 1000)
        assert drawn["t_ms"] == ms and drawn["frame_ms"] == frame["timestamp_ms"]
        assert [{k: o[k] for k in ("label", "track_id", "box")} for o in drawn["objects"]] == (
            expected(frame))  # fmt: skip
        assert [t["text"] for t in drawn["text"]] == [t["text"] for t in frame["text"]]
    drawn = drawn_at(browser, tmp_path, api, job_id, after["timestamp_ms"] / 1000)
    assert drawn["frame_ms"] == after["timestamp_ms"]


def near(pixel, colour: str, tolerance: int = 48) -> bool:
    want = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], want, strict=True))


def test_the_screenshot_shows_each_box_in_its_colour(browser, job, tmp_path):
    api, job_id, results = job
    frame, _ = busiest_frame(results)
    seconds = (frame["timestamp_ms"] + 100) / 1000
    drawn = drawn_at(browser, tmp_path, api, job_id, seconds)
    shot = tmp_path / "viewer.png"
    headless(browser, tmp_path, f"{api}/video/view/{job_id}#t={seconds}", f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    canvas, checked = drawn["canvas"], 0
    for obj in drawn["objects"]:
        box = obj["box"]
        x = round(canvas["left"] + box["x"] * canvas["width"])
        y = round(canvas["top"] + (box["y"] + box["h"] / 2) * canvas["height"])  # left edge, middle
        around = [image.getpixel((x + dx, y + dy)) for dx in (-1, 0, 1) for dy in (-2, 0, 2)]
        assert any(near(p, obj["colour"]) for p in around), (obj, around)
        checked += 1
    assert checked >= 2
    if os.environ.get("VIDEO_JOBS_VIEWER_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["VIDEO_JOBS_VIEWER_SCREENSHOT"])
