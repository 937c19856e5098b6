"""The library's thumbnail: one small JPEG of the frame nearest 1 s, stored by the worker at
completion under the job's prefix, from the frame the analysis hands over or decoded (real
clips from tests/fixtures, the worker on fakes)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.thumbnail import NearestFrame, make_thumbnail, thumbnail_path
from chalicelib.analysis.worker import JobWorker
from chalicelib.errors import InvalidVideo
from chalicelib.jobs.ids import PREFIX, video_path
from chalicelib.jobs.record import COMPLETED, FAILED
from chalicelib.jobs.store import InMemoryJobStore
from tests.fixtures.make_tiny_mp4 import make_mp4, read_frame_code
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines


def decoded(jpeg: bytes) -> np.ndarray:
    assert jpeg[:3] == b"\xff\xd8\xff"  # a JPEG
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_the_frame_nearest_one_second_scaled_to_320_px_wide(tmp_path):
    clip = make_mp4(tmp_path / "a.mp4", seconds=3, fps=10, size=(640, 360))
    started = time.perf_counter()
    jpeg = make_thumbnail(clip, 3.0)
    spent = time.perf_counter() - started
    assert jpeg is not None and len(jpeg) < 40_000
    image = decoded(jpeg)
    assert image.shape == (180, 320, 3)
    big = cv2.resize(image, (640, 360), interpolation=cv2.INTER_LINEAR)
    assert read_frame_code(big) == 10  # the frame at 1.0 s
    assert spent < 2  # measured: about 10 ms for this clip


def test_a_short_video_gives_its_middle_and_a_small_one_keeps_its_size(tmp_path):
    clip = make_mp4(tmp_path / "s.mp4", seconds=0.6, fps=10, size=(160, 120))
    image = decoded(make_thumbnail(clip, 0.6) or b"")
    assert image.shape == (120, 160, 3) and read_frame_code(image) == 3


def test_what_opencv_cannot_decode_gives_none(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    assert make_thumbnail(junk, None) is None


@pytest.fixture
def parts(tmp_path):
    with LocalStorage.temporary() as storage:
        yield InMemoryJobStore(), storage


def test_a_completed_job_keeps_its_thumbnail_and_duration_under_its_prefix(parts, tmp_path):
    jobs, storage = parts
    job = new_job(jobs, storage=storage)
    clip = make_mp4(tmp_path / "v.mp4", seconds=2, fps=10, size=(480, 270))
    storage.save_file(clip.read_bytes(), video_path(job.job_id))
    JobWorker(storage=storage, jobs=jobs, pipelines=FakePipelines()).process(job.job_id)
    done = jobs.get(job.job_id)
    assert done.status == COMPLETED and done.duration_s == pytest.approx(2.0, abs=0.05)
    assert done.thumbnail_path == thumbnail_path(job.job_id)
    assert done.thumbnail_path.startswith(f"{PREFIX}/{job.job_id}")  # delete_under reaches it
    assert decoded(storage.load_file(done.thumbnail_path)).shape == (180, 320, 3)


def test_no_thumbnail_does_not_stop_a_job_and_a_failure_keeps_its_code(parts):
    jobs, storage = parts
    job = new_job(jobs, storage=storage)  # its "video" is b"video bytes": no frame decodes
    JobWorker(storage=storage, jobs=jobs, pipelines=FakePipelines()).process(job.job_id)
    done = jobs.get(job.job_id)
    assert (done.status, done.thumbnail_path, done.duration_s) == (COMPLETED, None, None)
    failing = new_job(jobs, storage=storage)
    pipelines = FakePipelines(InvalidVideo("the file has no video track (audio only?)"))
    JobWorker(storage=storage, jobs=jobs, pipelines=pipelines).process(failing.job_id)
    failed = jobs.get(failing.job_id)
    assert (failed.status, failed.error_code) == (FAILED, "InvalidVideo")


def test_the_sampled_frame_nearest_the_time_is_kept():
    frames = {ms: np.full((4, 4, 3), ms // 100, np.uint8) for ms in (0, 700, 1200, 1700)}
    nearest, short = NearestFrame(30.0), NearestFrame(1.0)  # 1 s; a 1 s video: its middle
    for ms, image in frames.items():
        nearest.offer(ms, image)
        short.offer(ms, image)
    assert nearest.image is frames[1200] and short.image is frames[700]


def test_the_worker_stores_the_frame_the_analysis_hands_over_without_decoding(parts):
    jobs, storage = parts
    job = new_job(jobs, storage=storage)  # its "video" is b"video bytes": nothing decodes
    red = np.zeros((360, 640, 3), np.uint8)
    red[..., 2] = 255
    JobWorker(storage=storage, jobs=jobs, pipelines=FakePipelines(picture=red)).process(job.job_id)
    done = jobs.get(job.job_id)
    image = decoded(storage.load_file(done.thumbnail_path))
    assert image.shape == (180, 320, 3) and image[90, 160, 2] > 240 and image[90, 160, 0] < 15


def test_the_real_pipeline_hands_over_the_frame_at_one_second(pipeline, tmp_path):
    clip = make_mp4(tmp_path / "p.mp4", seconds=3, fps=10, size=(320, 240))
    outcome = pipeline.analyze(clip, sample_fps=2.0, emit=lambda frame: None)
    assert read_frame_code(outcome.picture) == 10
    resumed = pipeline.analyze(clip, sample_fps=2.0, emit=lambda frame: None, state=outcome.state)
    assert resumed.picture is None  # a resumed pass leaves it to the worker
