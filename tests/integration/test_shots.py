"""The shots pipeline on real footage: a clip joined from the sample clips with known cuts, a
dissolve and a second of black; every continuous sample clip (no false cut); the cuts seen by
eye in captions_vertical; and slices with checkpoints give the bytes of one run."""

import json

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis import shots as shots_module
from chalicelib.analysis.shots import ShotsPipeline
from chalicelib.analysis.worker import JobWorker, WorkerSettings
from chalicelib.jobs.ids import results_path, video_path
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.record import COMPLETED
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results.document import encode
from scripts import cuts_clip
from tests.support.jobs import new_job
from tests.support.pipelines import RealPipeline
from tests.support.videos import shared_video, shared_video_names

# captions_vertical's shot changes, counted by eye on a sheet of all 177 frames (first frame of
# each new picture; 24 and 129 and 142 open flash transitions)
CAPTIONS_CUTS_BY_EYE = [24, 29, 48, 52, 55, 57, 59, 62, 129, 132, 142, 145, 161]


@pytest.fixture(scope="module")
def pipeline():
    return ShotsPipeline(None)


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    shared_video("soccer_juggle.mp4")  # skips (fails under CI) without ../shared
    path = tmp_path_factory.mktemp("cuts") / "joined.mp4"
    return path, cuts_clip.build(path)


def test_the_joined_clip_has_every_boundary_at_its_frame(pipeline, joined):
    path, boundaries = joined
    document = pipeline.run(path)
    starts = [shot["start_frame"] for shot in document["segments"]["shots"]]
    expected = [0] + [b.frame for b in boundaries]
    assert len(starts) == len(expected)  # no false cut, none missed
    for found, boundary in zip(starts[1:], boundaries, strict=True):
        tolerance = {"cut": 0, "black": 0, "fade": 3}[boundary.kind]
        assert abs(found - boundary.frame) <= tolerance, (boundary, found)
    black = [c for c in document["segments"]["technical_cues"] if c["type"] == "BlackFrames"]
    first, after = (b.frame for b in boundaries if b.kind == "black")
    assert [(c["start_frame"], c["end_frame"]) for c in black] == [(first, after - 1)]
    assert black[0]["start_ms"] == first * 40 and black[0]["end_ms"] == after * 40
    assert document["frames"] == [] and document["pipeline_id"] == "shots"
    assert document["sampling"]["frames_decoded"] == 380
    assert document["options"]["black_min_coverage_percentage"] == 99.0


@pytest.mark.parametrize("name", [n for n in shared_video_names() if n != "captions_vertical.mp4"])
def test_a_continuous_clip_is_one_shot_of_content(pipeline, name):
    document = pipeline.run(shared_video(name))
    assert len(document["segments"]["shots"]) == 1
    assert [c["type"] for c in document["segments"]["technical_cues"]] == ["Content"]


def test_captions_vertical_cuts_seen_by_eye_are_found(pipeline):
    document = pipeline.run(shared_video("captions_vertical.mp4"))
    starts = [shot["start_frame"] for shot in document["segments"]["shots"]]
    missed = [cut for cut in CAPTIONS_CUTS_BY_EYE if all(abs(cut - s) > 1 for s in starts)]
    assert missed == []
    assert len(starts) <= len(CAPTIONS_CUTS_BY_EYE) + 3  # the extra: a white flash's frames


def test_a_stricter_black_filter_finds_less_black(pipeline, joined):
    path, _ = joined
    options = JobOptions("shots", black_max_pixel_threshold=0.0, black_min_coverage_percentage=100)
    cues = pipeline.run(path, options=options)["segments"]["technical_cues"]
    assert [c["type"] for c in cues] in (["Content"], ["Content", "BlackFrames", "Content"])


@pytest.mark.slow
def test_slices_with_checkpoints_give_the_bytes_of_one_run(pipeline, joined, monkeypatch):
    path, _ = joined
    once = encode(pipeline.run(path))
    monkeypatch.setattr(shots_module, "STOP_EVERY", 7)
    jobs, queue = InMemoryJobStore(), InMemoryQueue()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs, pipeline_id="shots")
        storage.save_file(path, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=RealPipeline(pipeline),
                           queue=queue, settings=WorkerSettings(slice_s=0.3))  # fmt: skip
        worker.process(job.job_id)
        while (message := queue.dequeue()) is not None:
            worker.handle_message(message.body)
        done = jobs.get(job.job_id)
        assert done.status == COMPLETED and done.slices >= 2
        stored = json.loads(storage.load_file(results_path(job.job_id)))
    whole = json.loads(once)
    assert whole.pop("frames") == [] and stored["frame_pieces"] == []
    assert stored["results"] == whole


@pytest.fixture(scope="module")
def yolo(model_path):
    from chalicelib.analysis.pipeline import YoloPipeline
    from chalicelib.config import load_settings

    return YoloPipeline(load_settings())


def test_a_frame_pipeline_with_shots_ends_every_track_at_a_cut(yolo):
    clip = shared_video("captions_vertical.mp4")
    plain = yolo.run(clip, sample_fps=5)
    with_shots = yolo.run(clip, sample_fps=5, options=JobOptions("yolo", shots=True))
    assert "shots" not in plain["segments"] and "shots" not in plain["options"]
    cuts = [s["start_ms"] for s in with_shots["segments"]["shots"][1:]]
    assert len(cuts) >= 13 and with_shots["options"]["shots"] is True
    assert "shots" in with_shots["models"] and "detector" in with_shots["models"]
    spans_a_cut = [
        t for t in plain["tracks"] if any(t["first_ms"] < c <= t["last_ms"] for c in cuts)
    ]
    assert spans_a_cut  # without shots a track does go on across cuts here
    for track in with_shots["tracks"]:
        assert not any(track["first_ms"] < cut <= track["last_ms"] for cut in cuts), track


@pytest.mark.slow
def test_a_frame_pipeline_with_shots_in_slices_gives_the_bytes_of_one_run(
    yolo, joined, monkeypatch
):
    path, _ = joined
    options = JobOptions("yolo", sample_fps=2.0, shots=True)
    once = yolo.run(path, sample_fps=2.0, options=options)
    monkeypatch.setattr(shots_module, "STOP_EVERY", 11)
    jobs, queue = InMemoryJobStore(), InMemoryQueue()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs, pipeline_id="yolo", sample_fps=2.0, options={"shots": True})
        storage.save_file(path, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=RealPipeline(yolo),
                           queue=queue, settings=WorkerSettings(slice_s=0.3))  # fmt: skip
        worker.process(job.job_id)
        while (message := queue.dequeue()) is not None:
            worker.handle_message(message.body)
        done = jobs.get(job.job_id)
        assert done.status == COMPLETED and done.slices >= 3
        stored = json.loads(storage.load_file(results_path(job.job_id)))["results"]
    frames = once.pop("frames")
    assert len(frames) == 31 and stored == once
