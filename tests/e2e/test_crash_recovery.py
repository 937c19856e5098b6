"""A worker killed with SIGKILL mid-job does not strand the job: another one takes it over.

Real parts: moto_server (SQS visibility timeouts, DynamoDB conditions) and the real worker
runner process analyzing a real clip with the real models.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs.record import COMPLETED, RUNNING
from chalicelib.results.pieces import read_document
from infra.resources import bootstrap
from tests.support.servers import free_port
from tests.support.videos import shared_video

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


@pytest.fixture
def emulator(monkeypatch, tmp_path, model_path):
    port = free_port()
    env = {
        "VIDEO_JOBS_STAGE": "local",
        "VIDEO_JOBS_AWS_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VIDEO_JOBS_VISIBILITY_TIMEOUT_S": "3",  # a dead worker's message reappears quickly
        "VIDEO_JOBS_JOB_LEASE_S": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    moto = subprocess.Popen(
        [BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                services.cache_clear()
                bootstrap()
                break
            except Exception:
                time.sleep(0.1)
        yield {**os.environ, "PYTHONUNBUFFERED": "1"}
    finally:
        services.cache_clear()
        moto.kill()
        moto.wait()


def start_runner(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.worker_runner"], cwd=ROOT, env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_job_is_taken_over_and_completed(emulator, tmp_path):
    wired = services()
    data = shared_video("people_indoor.mp4").read_bytes()  # ~20 s of analysis: time to kill
    job = wired.submissions.submit(data, wired.submissions.parse_options(None))
    jobs = wired.jobs
    log = tmp_path / "runner.log"
    first = start_runner(emulator, log)
    wait_for(lambda: jobs.get(job.job_id).status == RUNNING, 60, "the job to start")
    time.sleep(1.5)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert jobs.get(job.job_id).status == RUNNING  # stranded, for now

    second = start_runner(emulator, log)
    try:
        wait_for(lambda: jobs.get(job.job_id).status == COMPLETED, 150, log.read_text())
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0  # a clean shutdown
    stored = jobs.get(job.job_id)
    assert stored.attempts == 2
    assert "person" in json.dumps(read_document(wired.storage, stored.output_path))
