"""`make run` loses no job: each component SIGKILLed in turn is restarted while the others keep
running, and a full stop and start of the stack keeps every job, video and result.

One live stack (infra.local_stack) started by the test, real HTTP, the tiny generated clip on
the cheap pipeline; a short lease and visibility timeout so a job a killed worker held is taken
over within seconds.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.test_local_stack import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


class Stack:
    def __init__(self, state_dir: Path, log: Path):
        self.api_port, self.aws_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.state_dir, self.log = state_dir, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "VIDEO_JOBS_STATE_DIR": str(self.state_dir),
            "VIDEO_JOBS_JOB_LEASE_S": "3",
            "VIDEO_JOBS_VISIBILITY_TIMEOUT_S": "3",
        }
        self.log.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stack", "--api-port", str(self.api_port),
             "--aws-port", str(self.aws_port)],
            cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: "video-jobs is up" in self.output(), 90, "the stack to start", self)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def output(self) -> str:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self.log.read_text(errors="replace")

    def pid(self, component: str) -> int:
        return int(re.findall(rf"{component} started \(pid (\d+)\)", self.output())[-1])

    def get(self, path: str) -> requests.Response:
        """GET through whatever API process is up: one may be restarting."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return requests.get(f"{self.base}{path}", timeout=10)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def submit(self, clip: bytes) -> str:
        response = requests.post(
            f"{self.base}/video/submit?pipeline_id=yolo_ocr_fast",
            data=clip,
            headers={"Content-Type": "video/mp4"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return response.json()["job_id"]

    def results(self, job_id: str) -> dict:
        wait_for(
            lambda: self.get(f"/video/status/{job_id}").json()["status"] == "completed",
            60,
            f"job {job_id} to complete",
            self,
        )
        response = self.get(f"/video/results/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()["results"]


def wait_for(predicate, timeout_s: float, what: str, stack: Stack):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{stack.output()[-3000:]}")


def test_killed_components_restart_and_jobs_survive_a_full_restart(tiny_mp4, tmp_path, model_path):
    clip = tiny_mp4.read_bytes()
    stack = Stack(tmp_path / "state", tmp_path / "stack.log")
    stack.start()
    kept: dict[str, dict] = {}
    try:
        for component in ("worker", "emulator", "api"):
            job_id = stack.submit(clip)
            victim = stack.pid(component)
            os.kill(victim, signal.SIGKILL)  # right after the 202: the job is in flight
            restarted = lambda c=component, old=victim: stack.pid(c) != old  # noqa: E731
            wait_for(restarted, 30, f"a new {component}", stack)
            assert f"{component} exited with code -9; restarting in" in stack.output()
            kept[job_id] = stack.results(job_id)
            assert kept[job_id]["sampling"]["frames_sampled"] >= 1
        for job_id, results in kept.items():  # the earlier jobs are still all there
            assert stack.get(f"/video/results/{job_id}").json()["results"] == results
        unfinished = stack.submit(clip)  # the stack stops before it runs, or while it runs
    finally:
        assert stack.stop() == 0

    stack.start()
    try:
        for job_id, results in kept.items():
            assert stack.get(f"/video/status/{job_id}").json()["status"] == "completed"
            assert stack.get(f"/video/results/{job_id}").json()["results"] == results
        assert stack.results(unfinished)["video"]["width"] == 320
    finally:
        assert stack.stop() == 0
