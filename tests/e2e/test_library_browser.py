"""The library page in headless Chromium against the real local stack, auth required, two
tenants: a tenant's link shows its jobs only, with their thumbnails (stored by the worker at
completion), names, durations and a failed job's error; the status filter asks the API again;
a search hit opens the viewer at the hit's time, which seeks there.

``GET /video/search`` is built on another branch: its answer (docs/endpoints.md's contract) is
stood in for at the page's level (DevTools' Fetch domain answers the page's request), so this
tests the page, not the search. Set VIDEO_JOBS_LIBRARY_SCREENSHOT=docs/library.png to keep a
screenshot of the page (the README's).
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.browser import CSP_VIOLATION, DevToolsPage, find_browser, save_for_docs
from tests.support.stack import bearer, keys_cli, local_stack

pytestmark = pytest.mark.slow
CARDS = "[...document.querySelectorAll('#jobs .job')].map(c => c.dataset.jobId)"
HIT_AT_MS = 1200


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """(stack, keys, {name: job id}) with acme's completed and failed jobs and globex's one."""
    env = {"VIDEO_JOBS_AUTH": "required", "VIDEO_JOBS_MAX_DURATION_S": "3"}
    clips = tmp_path_factory.mktemp("clips")
    short = make_mp4(clips / "short.mp4", seconds=2, fps=10, size=(480, 270)).read_bytes()
    long = make_mp4(clips / "long.mp4", seconds=4, fps=10).read_bytes()  # over the 3 s limit
    with local_stack(tmp_path_factory.mktemp("stack"), env) as stack:
        keys = {name: keys_cli(stack, "create", "--tenant", name)[0] for name in ("acme", "globex")}
        jobs = {
            "harbour": submit(stack, keys["acme"], "harbour walk.mp4", short),
            "long": submit(stack, keys["acme"], "long take.mp4", long),
            "theirs": submit(stack, keys["globex"], "their secret.mp4", short),
        }
        for job_id in jobs.values():
            wait_until_ended(stack, keys, job_id)
        yield stack, keys, jobs


def submit(stack, key: dict, name: str, data: bytes) -> str:
    answer = requests.post(f"{stack.base}/video/submit?pipeline_id=shots", headers=bearer(key),
                           files={"file": (name, data, "video/mp4")}, timeout=30)  # fmt: skip
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def wait_until_ended(stack, keys: dict, job_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        for key in keys.values():
            answer = requests.get(f"{stack.base}/video/status/{job_id}", headers=bearer(key),
                                  timeout=5)  # fmt: skip
            if answer.status_code == 200 and answer.json()["status"] in ("completed", "failed"):
                return
        assert time.monotonic() < deadline, f"job {job_id} did not end"
        time.sleep(0.3)


def search_answer(job_id: str) -> dict:
    """One hit, shaped as the search contract says."""
    ranges = [{"start_ms": HIT_AT_MS, "end_ms": 1800, "text": ["HELLO 2026"], "labels": ["Car"]}]
    hit = {"job_id": job_id, "pipeline_id": "shots", "created_at": "2026-12-07T08:30:00Z",
           "score": 3.5, "ranges": ranges}  # fmt: skip
    return {"hits": [hit]}


def test_the_page_shows_a_tenants_jobs_filters_and_opens_a_hit_at_its_time(library, tmp_path):
    stack, keys, jobs = library
    link = requests.post(f"{stack.base}/video/library/link", headers=bearer(keys["acme"]),
                         timeout=5).json()  # fmt: skip
    with DevToolsPage(find_browser(), tmp_path / "profile") as page:
        page.fake_json("/video/search", search_answer(jobs["harbour"]))
        page.open(f"{stack.base}{link['url']}")
        page.wait_for("document.body?.dataset.ready === '1'", "the page listed the jobs")
        assert page.evaluate(CARDS) == [jobs["long"], jobs["harbour"]]  # newest first, acme's
        picture = "document.querySelector('.job[data-status=completed] img')"
        assert page.wait_for(f"{picture}.complete && {picture}.naturalWidth", "thumbnail") == 320
        text = page.evaluate("document.getElementById('jobs').innerText")
        assert "harbour walk.mp4" in text and "0:02" in text and "long take.mp4" in text
        assert "TooManyFrames: the video is" in text and "their secret" not in text
        page.evaluate("document.getElementById('text').value = 'hello'")
        page.click("#search button[type=submit]")
        page.wait_for("document.body.dataset.hits === '1'", "the search hit")
        assert any("/video/search?text=hello" in url for url in page.faked)
        if os.environ.get("VIDEO_JOBS_LIBRARY_SCREENSHOT"):
            save_for_docs(page.screenshot(), os.environ["VIDEO_JOBS_LIBRARY_SCREENSHOT"])
        page.evaluate("(() => { const s = document.getElementById('status'); s.value = 'failed';"
                      " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
        page.wait_for(f"{CARDS}.length === 1", "the filtered list")
        assert page.evaluate(CARDS) == [jobs["long"]]
        page.click(".range")
        url = page.wait_for("location.pathname.includes('/view/') && location.href", "viewer")
        assert f"/video/view/{jobs['harbour']}?token=vt1." in url and url.endswith("#t=1.2")
        page.wait_for("document.body?.dataset.ready === '1' && video.readyState >= 2", "viewer")
        seeked = page.wait_for("!video.seeking && Math.round(video.currentTime * 1000)", "seek")
        assert abs(seeked - HIT_AT_MS) <= 100  # the frame nearest 1.2 s (10 fps)
        assert not [m for m in page.messages if CSP_VIOLATION in m], page.messages
