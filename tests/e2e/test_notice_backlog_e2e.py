"""A slow webhook receiver on the live local stack: while one job's receiver trickles its answer
a byte a second, another job's notice still arrives within seconds."""

from __future__ import annotations

import datetime
import json
import time
from urllib.parse import quote

import pytest
import requests

from tests.support.slow_receiver import SlowReceiver
from tests.support.stack import local_stack
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow
TRICKLED = b"HTTP/1.1 200 OK" + b" ." * 60 + b"\r\n\r\n"  # about 140 s at a byte a second
DEADLINE_S = 40  # longer than the test needs: the attempt's deadline is not what saves it here


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory):
    env = {"VIDEO_JOBS_WEBHOOK_DEADLINE_S": str(DEADLINE_S)}
    with local_stack(tmp_path_factory.mktemp("stack"), env) as running:
        yield running.base


def submit(base: str, video: bytes, callback_url: str) -> str:
    response = requests.post(
        f"{base}/video/submit?callback_url={quote(callback_url, safe='')}",
        data=video,
        headers={"Content-Type": "video/mp4"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def test_a_trickling_receiver_does_not_hold_up_another_jobs_notice(stack, tiny_mp4):
    video = tiny_mp4.read_bytes()
    with SlowReceiver(TRICKLED, every_s=1.0) as trickler, WebhookReceiver() as normal:
        submit(stack, video, trickler.url)
        trickling = trickler.wait_for_arrival(timeout_s=180)
        job_id = submit(stack, video, normal.url)
        (received,) = normal.wait_for(1, timeout_s=180)
        arrived = datetime.datetime.now(datetime.UTC)
        still_trickling = trickling.ended is None
        trickled_s = time.monotonic() - trickling.arrived
    event = json.loads(received.body)
    finished = datetime.datetime.fromisoformat(event["finished_at"].replace("Z", "+00:00"))
    waited_s = (arrived - finished).total_seconds()
    print(f"\nnotice arrived {waited_s:.2f} s after its job finished; "
          f"the trickler had been trickling for {trickled_s:.1f} s")  # fmt: skip
    assert event["job_id"] == job_id
    assert still_trickling and trickled_s < DEADLINE_S
    assert waited_s < 5
