"""A worker killed with SIGKILL in the middle of a slice loses that slice only: the next one
resumes from the last checkpoint and never analyzes the frames before it again.

Real parts: moto_server, the real worker runner process (Lambda-shaped events and context), the
real models on a real clip, slices of 1 s (VIDEO_JOBS_SLICE_S).
"""

import json
import signal
import time

import pytest

from chalicelib.bootstrap import services
from chalicelib.jobs.record import COMPLETED
from chalicelib.results.pieces import read_document
from tests.support.runner import start_runner, wait_for
from tests.support.videos import shared_video

pytestmark = pytest.mark.slow


def slice_lines(log_path):
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if "slice" in line and "frames" in line]


def test_sigkill_mid_slice_resumes_from_the_last_checkpoint(emulator, tmp_path):
    env = {**emulator, "VIDEO_JOBS_SLICE_S": "1"}
    wired = services()
    data = shared_video("people_indoor.mp4").read_bytes()
    job = wired.submissions.submit(data, wired.submissions.parse_options(None))
    jobs = wired.jobs
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_runner(env, first_log)
    checkpointed = wait_for(lambda: jobs.get(job.job_id).slices >= 2 and jobs.get(job.job_id),
                            120, "two checkpoints")  # fmt: skip
    time.sleep(0.4)  # into the next slice
    first.send_signal(signal.SIGKILL)
    first.wait()
    stranded = jobs.get(job.job_id)
    assert stranded.status == "running" and stranded.slices == checkpointed.slices
    resumed_at = stranded.frames_done  # as stored with the last checkpoint
    assert resumed_at == slice_lines(first_log)[-1]["frames"][1] > 0

    second = start_runner(env, second_log)
    try:
        wait_for(lambda: jobs.get(job.job_id).status == COMPLETED, 180, "completion")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    resumed = slice_lines(second_log)
    assert resumed[0]["frames"][0] == resumed_at  # nothing before the checkpoint again
    assert resumed[0]["attempt"] == 2  # the killed slice's retry is an attempt
    assert all(a["frames"][1] == b["frames"][0] for a, b in zip(resumed, resumed[1:], strict=False))
    assert resumed[-1]["frames"][1] == 140
    analyzed = sum(end - start for start, end in (line["frames"] for line in resumed))
    assert analyzed == 140 - resumed_at
    assert len(read_document(wired.storage, jobs.get(job.job_id).output_path)["frames"]) == 140
