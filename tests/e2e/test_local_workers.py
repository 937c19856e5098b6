"""``make run WORKERS=2``: the local stack analyzes two jobs at the same time, in two processes."""

import time

import pytest
import requests

from chalicelib.jobs.record import FINAL_STATES
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.stack import local_stack, wait_for

pytestmark = pytest.mark.slow


def test_two_workers_run_two_jobs_at_once(model_path, tmp_path):
    # 40 sampled frames of changing text: a few seconds' work for one thread
    data = make_mp4(tmp_path / "clip.mp4", seconds=4.0, fps=10).read_bytes()
    (tmp_path / "stack").mkdir()
    with local_stack(tmp_path / "stack", args=["--workers", "2"]) as stack:
        assert "2 analyzer worker(s) x 1 thread(s)" in stack.output()
        wait_for(lambda: stack.polling_workers() == 2, 120, "two polling workers", stack)
        job_ids = [
            requests.post(
                f"{stack.base}/video/submit?sample_fps=10", data=data,
                headers={"Content-Type": "video/mp4"}, timeout=30,
            ).json()["job_id"]
            for _ in range(2)
        ]  # fmt: skip
        seen: list[tuple[str, ...]] = []
        deadline = time.monotonic() + 180
        while not seen or not set(seen[-1]) <= FINAL_STATES:
            assert time.monotonic() < deadline, seen
            seen.append(tuple(stack.get(f"/video/status/{j}").json()["status"] for j in job_ids))
            time.sleep(0.05)
        assert seen[-1] == ("completed", "completed"), seen
        assert ("running", "running") in seen, f"the jobs never ran at the same time: {seen}"
        pids = {stack.pid("worker"), stack.pid("worker-2")}
        assert len(pids) == 2  # two processes, not two threads of one
