"""A worker killed with SIGKILL in the middle of a slice loses that slice only: the next one
resumes from the last checkpoint and never analyzes the frames before it again. A checkpoint
damaged in storage meanwhile sends the job back to the one before it, and the results are the
bytes of a clean run.

Real parts: moto_server, the real worker runner process (Lambda-shaped events and context), the
real models on a real clip, slices of 1 s (VIDEO_JOBS_SLICE_S).
"""

import json
import signal
import time

import pytest

from chalicelib.analysis.slices import checkpoint_path
from chalicelib.bootstrap import services
from chalicelib.jobs.ids import results_path
from chalicelib.jobs.record import COMPLETED
from chalicelib.results.pieces import piece_path, read_document
from tests.support.pieces import split_document
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


def test_a_checkpoint_damaged_between_slices_still_gives_the_results_of_a_clean_run(
    emulator, tmp_path, pipeline
):
    env = {**emulator, "VIDEO_JOBS_SLICE_S": "1"}
    wired = services()
    clip = shared_video("people_indoor.mp4")
    job = wired.submissions.submit(clip.read_bytes(), wired.submissions.parse_options(None))
    jobs, storage = wired.jobs, wired.storage
    first = start_runner(env, tmp_path / "first.log")
    wait_for(lambda: jobs.get(job.job_id).slices >= 2, 120, "two checkpoints")
    first.send_signal(signal.SIGKILL)
    first.wait()
    stranded = jobs.get(job.job_id)
    assert stranded.status == "running"
    damaged = checkpoint_path(results_path(job.job_id), stranded.slices)
    assert storage.stat(damaged) is not None
    storage.save_file(b'{"version": 2, "state": \x00garbage', damaged)  # in the emulated S3

    second_log = tmp_path / "second.log"
    second = start_runner(env, second_log)
    try:
        wait_for(lambda: jobs.get(job.job_id).status in (COMPLETED, "failed"), 240, "the end")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    done = jobs.get(job.job_id)
    assert done.status == COMPLETED, done.error_message
    lines = [json.loads(line) for line in second_log.read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    warnings = [line for line in lines if line.get("level") == "WARNING"]  # not metric lines
    (warning,) = [line for line in warnings if damaged in line["msg"]]
    assert warning["job_id"] == job.job_id
    assert f"going on from checkpoint {stranded.slices - 1}" in warning["msg"]
    head, pieces = split_document(pipeline.run(clip, sample_fps=1.0))  # a clean run, in one go
    assert storage.load_file(done.output_path) == head
    stored = [storage.load_file(piece_path(done.output_path, i)) for i in range(len(pieces))]
    assert stored == pieces
