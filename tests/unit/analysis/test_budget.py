"""The per-job frame limit: a job that would sample too many frames fails before analysis."""

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.budget import video_duration_s
from chalicelib.analysis.worker import JobWorker, WorkerSettings
from chalicelib.config import load_settings
from chalicelib.jobs.ids import video_path
from chalicelib.jobs.record import COMPLETED, FAILED
from chalicelib.jobs.store import InMemoryJobStore
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


@pytest.fixture(scope="module")
def long_tiny_clip(tmp_path_factory):
    """The attack: 81 KB, 16x16, 3000 frames (100 s at 30 fps)."""
    return make_mp4(tmp_path_factory.mktemp("budget") / "long.mp4", seconds=100, fps=30,
                    size=(16, 16), text="")  # fmt: skip


def run(clip, sample_fps, max_frames):
    jobs, pipelines = InMemoryJobStore(), FakePipelines()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs, sample_fps=sample_fps)
        storage.save_file(clip, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=pipelines,
                           settings=WorkerSettings(max_frames=max_frames))  # fmt: skip
        assert worker.process(job.job_id) is True
        return jobs.get(job.job_id), pipelines.calls


def test_the_duration_comes_from_the_index(long_tiny_clip):
    assert video_duration_s(long_tiny_clip) == pytest.approx(100, abs=0.1)


def test_a_job_over_the_frame_limit_fails_before_analysis(long_tiny_clip):
    job, calls = run(long_tiny_clip, sample_fps=30, max_frames=1000)
    assert job.status == FAILED and calls == []
    assert job.error_message == (
        "the video is 100.0 s long: at sample_fps=30 that is 3000 frames, above the limit of "
        "1000 frames per job; submit it with sample_fps=10 or less, or in shorter parts"
    )


def test_a_job_within_the_limit_runs(long_tiny_clip):
    job, calls = run(long_tiny_clip, sample_fps=10, max_frames=1000)
    assert job.status == COMPLETED and len(calls) == 1


def test_the_default_limits_are_six_hours_and_twice_one_frame_a_second(long_tiny_clip):
    settings = load_settings()
    assert settings.max_frames_per_job == 43_200 and settings.max_duration_s == 6 * 3600
    job, _ = run(long_tiny_clip, sample_fps=30, max_frames=settings.max_frames_per_job)
    assert job.status == COMPLETED  # 3000 frames: under 43,200


def test_a_video_over_the_duration_limit_fails_before_analysis(long_tiny_clip):
    jobs, pipelines = InMemoryJobStore(), FakePipelines()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs, sample_fps=1)
        storage.save_file(long_tiny_clip, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=pipelines,
                           settings=WorkerSettings(max_duration_s=60))  # fmt: skip
        worker.process(job.job_id)
        job = jobs.get(job.job_id)
    assert job.status == FAILED and pipelines.calls == []
    assert job.error_message == (
        "the video is 0.03 hours long (100 s), over the limit of 0.0166667 hours (60 s) per "
        "job; split it into shorter parts"
    )
