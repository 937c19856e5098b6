"""The viewer on a ``shots`` job, in headless Chromium against the real local stack.

The job is a clip with known boundaries (``scripts/cuts_clip.py``: cuts, a dissolve, a second
of black). Its document has no frames: the page must still load, play, and show the shots as
alternating bands and the black run as a cue; a real click on a band (DevTools' mouse events)
seeks the video to that shot's start. Set VIDEO_JOBS_VIEWER_SHOTS_SCREENSHOT=docs/viewer_shots.png
to keep a screenshot of the page at that shot's start (the README's).
"""

from __future__ import annotations

import json
import os
import re
import time
from urllib.parse import quote

import numpy as np
import pytest
import requests
from PIL import Image

from scripts import cuts_clip
from tests.support.browser import (
    CSP_VIOLATION,
    DevToolsPage,
    find_browser,
    headless,
    save_for_docs,
)
from tests.support.stack import local_stack
from tests.support.videos import shared_video

pytestmark = pytest.mark.slow
READY = "document.body?.dataset.ready === '1' && document.getElementById('video')?.readyState >= 2"
DRAWN = "JSON.parse(document.getElementById('drawn').textContent)"
SHOWN = "!video.seeking && video.readyState >= 3"  # seeked, and the frame there is painted


@pytest.fixture(scope="module")
def browser() -> str:
    return find_browser()


@pytest.fixture(scope="module")
def job(browser, tmp_path_factory):
    """(API base URL, job id, results) of the joined clip, analyzed by the shots pipeline."""
    shared_video("soccer_juggle.mp4")  # skips (fails under CI) without ../shared
    clip = tmp_path_factory.mktemp("cuts") / "cuts.mp4"
    cuts_clip.build(clip)
    with local_stack(tmp_path_factory.mktemp("stack")) as stack:
        api = stack.base
        submitted = requests.post(
            f"{api}/video/submit?pipeline_id=shots", data=clip.read_bytes(),
            headers={"Content-Type": "video/mp4"}, timeout=30,
        ).json()  # fmt: skip
        job_id, deadline = submitted["job_id"], time.monotonic() + 180
        while (status := requests.get(f"{api}/video/status/{job_id}", timeout=5).json())[
            "status"] not in ("completed", "failed"):  # fmt: skip
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.3)
        assert status["status"] == "completed", status
        results = requests.get(f"{api}/video/results/{job_id}", timeout=5).json()["results"]
        assert results["frames"] == [] and len(results["segments"]["shots"]) == 7
        yield api, job_id, results


def black_cue(results: dict) -> dict:
    (cue,) = [c for c in results["segments"]["technical_cues"] if c["type"] == "BlackFrames"]
    return cue


def test_the_timeline_has_a_band_per_shot_and_the_black_run_as_a_cue(browser, job, tmp_path):
    api, job_id, results = job
    shots, black = results["segments"]["shots"], black_cue(results)
    at = black["start_ms"] + 300
    url = f"{api}/video/view/{job_id}#t={at / 1000}"
    html, console = headless(browser, tmp_path, url, "--dump-dom")
    assert CSP_VIOLATION not in console, console
    assert 'data-ready="1"' in html and 'class="failed"' not in html, html[-3000:]
    state = f"shots: 7 shots, 1 run of black frames, {results['video']['duration_ms'] / 1000:.1f}"
    assert state in html
    bands = re.findall(r'<div class="span shot[^"]*"[^>]*>', html)
    assert [int(re.search(r'data-start-ms="(\d+)"', b)[1]) for b in bands] == [
        s["start_ms"] for s in shots
    ]
    colours = [re.search(r"background: ([^;]+);", b)[1] for b in bands]
    assert len(set(colours)) == 2 and all(
        a != b for a, b in zip(colours, colours[1:], strict=False)
    )
    cues = re.findall(r'<div class="span cue[^"]*"[^>]*>', html)
    assert len(cues) == len(results["segments"]["technical_cues"])
    (marked,) = [c for c in cues if "BlackFrames" in c]
    assert f'data-start-ms="{black["start_ms"]}"' in marked
    drawn = json.loads(re.search(r'<pre id="drawn"[^>]*>(.*?)</pre>', html, re.S).group(1))
    playing = next(s for s in shots if s["start_ms"] <= at < s["end_ms"])
    assert (drawn["t_ms"], drawn["shot"], drawn["cue"]) == (at, playing["index"], "BlackFrames")
    assert drawn["clock"] == "video" and drawn["frame_ms"] is None and drawn["objects"] == []


def test_clicking_a_shot_or_a_cue_seeks_the_video_to_its_start(browser, job, tmp_path):
    api, job_id, results = job
    shots, black = results["segments"]["shots"], black_cue(results)
    after_dissolve = shots[3]  # starts mid-dissolve: not a keyframe, not a round time
    with DevToolsPage(browser, tmp_path / "profile") as page:
        page.open(f"{api}/video/view/{job_id}")
        page.wait_for(READY, "the page and its video loaded")
        page.click(f'.span.shot[data-index="{after_dissolve["index"]}"]')
        drawn = page.wait_for(f"{SHOWN} && {DRAWN}.t_ms > 0 && {DRAWN}", "seeked")
        assert drawn["t_ms"] == after_dissolve["start_ms"] and drawn["clock"] == "video"
        assert drawn["shot"] == after_dissolve["index"]
        assert page.evaluate("Math.round(video.currentTime * 1000)") == after_dissolve["start_ms"]
        current = page.evaluate("[...document.querySelectorAll('.span.shot.current')]"
                                ".map(e => Number(e.dataset.index))")  # fmt: skip
        assert current == [after_dissolve["index"]]
        shot_image = page.screenshot()
        page.click(".span.cue.BlackFrames")
        drawn = page.wait_for(f"{SHOWN} && {DRAWN}.cue === 'BlackFrames' && {DRAWN}",
                              "seeked to the black run")  # fmt: skip
        assert drawn["t_ms"] == black["start_ms"]
        canvas = drawn["canvas"]
        left, top = round(canvas["left"]), round(canvas["top"])
        # below the labels drawn top left, above the player's controls
        box = (left, top + 60, left + round(canvas["width"]), top + round(canvas["height"] * 0.8))
        black_area = np.asarray(page.screenshot().crop(box).convert("L"), float)
        shot_area = np.asarray(shot_image.crop(box).convert("L"), float)
        assert black_area.mean() < 10 < shot_area.mean(), (black_area.mean(), shot_area.mean())
        assert not [m for m in page.messages if CSP_VIOLATION in m or "Error" in m], page.messages
    if os.environ.get("VIDEO_JOBS_VIEWER_SHOTS_SCREENSHOT"):  # the same moment, on the virtual
        # clock: the real clock's shot can catch the player's loading spinner fading out
        picture = tmp_path / "shot.png"
        url = f"{api}/video/view/{job_id}#t={after_dissolve['start_ms'] / 1000}"
        headless(browser, tmp_path, url, f"--screenshot={picture}")
        save_for_docs(Image.open(picture).convert("RGB"),
                      os.environ["VIDEO_JOBS_VIEWER_SHOTS_SCREENSHOT"])  # fmt: skip


def test_the_devtools_page_sees_csp_violations_and_script_errors(browser, tmp_path):
    """What the checks above rely on: a blocked inline script and a thrown error show."""
    policy = "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    with DevToolsPage(browser, tmp_path / "profile") as page:
        page.open(f"data:text/html,{quote(policy + '<script>1</script>')}")
        page.wait_for("document.readyState === 'complete'", "the page loaded")
        page.evaluate("setTimeout(() => { throw new Error('boom'); }, 0), 1")
        page.wait_for("new Promise(r => setTimeout(() => r(true), 50))", "a tick")
        page.evaluate("1")  # one more round trip: the events before it are in
        assert any(CSP_VIOLATION in m for m in page.messages), page.messages
        assert any("boom" in m for m in page.messages), page.messages
