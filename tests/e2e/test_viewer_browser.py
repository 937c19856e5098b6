"""The viewer in a real browser (headless Chromium) against the real local stack.

The page, opened at ``#t=SECONDS``, seeks there and draws the last sampled frame at or before
that time; it lists what it drew in ``<pre id="drawn">``. The tests compare that list with the
results document, find each box's colour on its edge in a screenshot, and check that the video
under the boxes is the video's own frame at that time (not a grey box). Every run logs the
page's console to stderr; none may hold a Content-Security-Policy violation. Set
VIDEO_JOBS_VIEWER_SCREENSHOT=docs/viewer.png to keep the screenshot (the README's), cropped to
the page and in a palette of 32 colours (~100 KB, not ~700 KB).

Chromium runs on a virtual clock (``--virtual-time-budget``): it waits for the page's load event
but not for media loads that start after it. The page sets the video's source while it loads, so
that event waits for the first frame at the seeked time.
"""

from __future__ import annotations

import json
import os
import re
import time
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

from tests.support.browser import CSP_VIOLATION, WINDOW, find_browser, headless, save_for_docs
from tests.support.stack import local_stack
from tests.support.videos import read_frame, shared_video

pytestmark = pytest.mark.slow
VIDEO = "dog_and_woman.mp4"


@pytest.fixture(scope="module")
def browser() -> str:
    return find_browser()


@pytest.fixture(scope="module")
def job(browser, model_path, tmp_path_factory):
    """(API base URL, job id, results) of dog_and_woman.mp4, analyzed by yolo_ocr_fast."""
    data = shared_video(VIDEO).read_bytes()
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


def viewer(browser, tmp_path, api, job_id, seconds: float, *args: str) -> tuple[str, str]:
    """Opens the page at ``seconds``; fails on any CSP violation its console shows."""
    out, console = headless(browser, tmp_path, f"{api}/video/view/{job_id}#t={seconds}", *args)
    assert CSP_VIOLATION not in console, console
    return out, console


def drawn_at(browser, tmp_path, api, job_id, seconds: float) -> dict:
    html, _ = viewer(browser, tmp_path, api, job_id, seconds, "--dump-dom")
    assert 'data-ready="1"' in html, html[-3000:]
    return json.loads(re.search(r'<pre id="drawn"[^>]*>(.*?)</pre>', html, re.S).group(1))


def screenshot(browser, tmp_path, api, job_id, seconds: float) -> Image.Image:
    shot = tmp_path / "viewer.png"
    viewer(browser, tmp_path, api, job_id, seconds, f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    return image


def busiest_frame(results: dict) -> tuple[dict, dict]:
    """The frame with the most objects after the first (a second in, so its picture differs
    from the first frame's), and the one after it."""
    frames = results["frames"]
    index = max(range(1, len(frames) - 1), key=lambda i: len(frames[i]["objects"]))
    return frames[index], frames[index + 1]


def expected(frame: dict, results: dict) -> list[dict]:
    """What the page draws: each object under its track's label, as the timeline names it."""
    named = {track["track_id"]: track["label"] for track in results["tracks"]}
    return [{"label": named.get(o.get("track_id"), o["label"]), "track_id": o.get("track_id"),
             "box": o["box"]} for o in frame["objects"]]  # fmt: skip


def test_the_boxes_drawn_are_those_of_the_last_frame_at_or_before_the_time(browser, job, tmp_path):
    api, job_id, results = job
    frame, after = busiest_frame(results)
    assert len(frame["objects"]) >= 2  # dog_and_woman: a dog and a person at least
    for ms in (frame["timestamp_ms"] + 100, after["timestamp_ms"] - 1):
        drawn = drawn_at(browser, tmp_path, api, job_id, ms / 1000)
        assert drawn["t_ms"] == ms and drawn["frame_ms"] == frame["timestamp_ms"]
        assert drawn["clock"] == "video"  # the video's own clock: it loaded and seeked
        assert [{k: o[k] for k in ("label", "track_id", "box")} for o in drawn["objects"]] == (
            expected(frame, results))  # fmt: skip
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
    image = screenshot(browser, tmp_path, api, job_id, seconds)
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
        save_for_docs(image, os.environ["VIDEO_JOBS_VIEWER_SCREENSHOT"])


def grey_video_area(image: Image.Image, canvas: dict) -> np.ndarray:
    """The video's rectangle in grey levels, less its bottom fifth (the player's controls)."""
    left, top = round(canvas["left"]), round(canvas["top"])
    width, height = round(canvas["width"]), round(canvas["height"] * 0.8)
    return np.asarray(image.crop((left, top, left + width, top + height)).convert("L"), float)


def grey_frame(seconds: float, canvas: dict) -> np.ndarray:
    """The video's own frame at ``seconds``, scaled to the page's video rectangle."""
    frame = Image.fromarray(read_frame(VIDEO, seconds)[:, :, ::-1])  # BGR -> RGB
    width, height = round(canvas["width"]), round(canvas["height"])
    scaled = frame.resize((width, height), Image.Resampling.BOX)
    return grey_video_area(scaled, {"left": 0, "top": 0, "width": width, "height": height})


def test_the_video_under_the_boxes_shows_its_frame_at_the_seeked_time(browser, job, tmp_path):
    """Before the fix the rectangle was a flat grey box with a spinner (std-dev 15, from the
    boxes alone), or the video's first frame under boxes of 2 s later."""
    api, job_id, results = job
    frame, _ = busiest_frame(results)
    seconds = (frame["timestamp_ms"] + 100) / 1000
    assert seconds >= 1  # far enough from the first frame to tell the two apart
    drawn = drawn_at(browser, tmp_path, api, job_id, seconds)
    shown = grey_video_area(screenshot(browser, tmp_path, api, job_id, seconds), drawn["canvas"])
    assert shown.std() > 40, f"a flat video rectangle (std-dev {shown.std():.1f})"  # now ~69
    at_time = np.abs(shown - grey_frame(seconds, drawn["canvas"])).mean()  # now ~5 grey levels
    first = np.abs(shown - grey_frame(0, drawn["canvas"])).mean()  # now ~13
    assert at_time < 8 and at_time < 0.6 * first, (at_time, first)  # that frame, not the first
    assert drawn["video"]["ready_state"] >= 2 and drawn["video"]["width"] > 0, drawn["video"]


def test_the_page_plays_and_draws_under_its_content_security_policy(browser, job, tmp_path):
    api, job_id, results = job
    frame, _ = busiest_frame(results)
    page = requests.get(f"{api}/video/view/{job_id}", timeout=5)
    policy = page.headers["Content-Security-Policy"]
    video_url = urlsplit(re.search(r'"video_url": "([^"]+)"', page.text)[1])
    assert f"media-src {video_url.scheme}://{video_url.netloc}{video_url.path};" in policy
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert (page.headers["X-Content-Type-Options"], page.headers["Referrer-Policy"]) == (
        "nosniff", "no-referrer")  # fmt: skip
    drawn = drawn_at(browser, tmp_path, api, job_id, frame["timestamp_ms"] / 1000)  # no violation
    assert drawn["clock"] == "video" and drawn["objects"], drawn  # script, fetches, media all ran


def test_a_document_without_shots_has_no_shot_rows_and_draws_no_shot(browser, job, tmp_path):
    """yolo_ocr_fast's document has no segments.shots: the timeline is labels and text only."""
    api, job_id, results = job
    assert "shots" not in results["segments"]
    html, console = viewer(browser, tmp_path, api, job_id, 2.0, "--dump-dom")
    assert 'data-ready="1"' in html and 'class="failed"' not in html, html[-3000:]
    rows = re.findall(r'data-label="([^"]+)"', html)
    assert rows and "shots" not in rows and "technical cues" not in rows, rows
    assert 'class="span shot' not in html
    drawn = json.loads(re.search(r'<pre id="drawn"[^>]*>(.*?)</pre>', html, re.S).group(1))
    assert (drawn["shot"], drawn["cue"]) == (None, None) and drawn["objects"], drawn


def test_a_cancelled_job_says_so_and_stops_polling(browser, job, tmp_path):
    """A job deleted before it ended reads cancelled; the page says so instead of waiting. (An
    upload that was never started: no worker can finish it first.)"""
    api = job[0]
    job_id = requests.post(f"{api}/video/uploads", timeout=30).json()["job_id"]
    deleted = requests.delete(f"{api}/video/{job_id}", timeout=30)
    assert deleted.json() == {"job_id": job_id, "status": "cancelled", "deleted": False}
    html, _ = viewer(browser, tmp_path, api, job_id, 0.0, "--dump-dom")
    assert 'data-status="cancelled"' in html and 'data-ready="1"' in html, html[-3000:]
    assert "The job was cancelled by its owner" in html
    requests.delete(f"{api}/video/{job_id}", timeout=30)  # removed: the page is a 404 now
    assert requests.get(f"{api}/video/view/{job_id}", timeout=30).status_code == 404


def test_the_console_log_shows_csp_violations(browser, tmp_path):
    """What the checks above rely on: a blocked inline script shows in the console log."""
    policy = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    page = f"{policy}<script>1</script>"
    _, console = headless(browser, tmp_path, f"data:text/html,{quote(page)}", "--dump-dom")
    assert CSP_VIOLATION in console, console
