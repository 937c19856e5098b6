"""A worker killed with SIGKILL mid-job does not strand the job: another one takes it over.

Real parts: moto_server (SQS visibility timeouts, DynamoDB conditions) and the real worker
runner process analyzing a real clip with the real models.
"""

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs.record import COMPLETED, RUNNING
from chalicelib.results.pieces import read_document
from tests.support.runner import start_runner, wait_for
from tests.support.videos import shared_video

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


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
