"""`make run` loses no job: each component SIGKILLed in turn is restarted while the others keep
running, and a full stop and start of the stack keeps every job, video and result.

One live stack (infra.local_stack) started by the test, real HTTP, the tiny generated clip on
the cheap pipeline; a short lease and visibility timeout so a job a killed worker held is taken
over within seconds.
"""

import os
import signal

import pytest
import requests

from tests.support.stack import LocalStack, wait_for

pytestmark = pytest.mark.slow
# A short lease and visibility timeout: a job a killed worker held is taken over within seconds.
FAST_TAKEOVER = {"VIDEO_JOBS_JOB_LEASE_S": "3", "VIDEO_JOBS_VISIBILITY_TIMEOUT_S": "3"}


def submit(stack: LocalStack, clip: bytes) -> str:
    response = requests.post(
        f"{stack.base}/video/submit?pipeline_id=yolo_ocr_fast",
        data=clip,
        headers={"Content-Type": "video/mp4"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def completed_results(stack: LocalStack, job_id: str) -> dict:
    wait_for(
        lambda: stack.get(f"/video/status/{job_id}").json()["status"] == "completed",
        60,
        f"job {job_id} to complete",
        stack,
    )
    response = stack.get(f"/video/results/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_killed_components_restart_and_jobs_survive_a_full_restart(tiny_mp4, tmp_path, model_path):
    clip = tiny_mp4.read_bytes()
    stack = LocalStack(tmp_path, FAST_TAKEOVER)
    stack.start()
    kept: dict[str, dict] = {}
    try:
        for component in ("worker", "emulator", "api"):
            job_id = submit(stack, clip)
            victim = stack.pid(component)
            os.kill(victim, signal.SIGKILL)  # right after the 202: the job is in flight
            restarted = lambda c=component, old=victim: stack.pid(c) != old  # noqa: E731
            wait_for(restarted, 30, f"a new {component}", stack)
            assert f"{component} exited with code -9; restarting in" in stack.output()
            kept[job_id] = completed_results(stack, job_id)
            assert kept[job_id]["sampling"]["frames_sampled"] >= 1
        for job_id, results in kept.items():  # the earlier jobs are still all there
            assert stack.get(f"/video/results/{job_id}").json()["results"] == results
        unfinished = submit(stack, clip)  # the stack stops before it runs, or while it runs
    finally:
        assert stack.stop() == 0

    stack.start()
    try:
        for job_id, results in kept.items():
            assert stack.get(f"/video/status/{job_id}").json()["status"] == "completed"
            assert stack.get(f"/video/results/{job_id}").json()["results"] == results
        assert completed_results(stack, unfinished)["video"]["width"] == 320
    finally:
        assert stack.stop() == 0
