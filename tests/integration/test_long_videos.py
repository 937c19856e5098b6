"""Long videos in slices: several slices give the very bytes of one run, each continuation is
not an attempt, progress shows frames, and building results holds one piece in memory."""

import json
import subprocess
import sys
import tracemalloc

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.slices import checkpoint_path
from chalicelib.analysis.worker import JobWorker, WorkerSettings
from chalicelib.jobs.ids import results_path, video_path
from chalicelib.jobs.queries import status_view
from chalicelib.jobs.record import COMPLETED, RUNNING
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results import pieces as result_pieces
from chalicelib.results.assembly import Assembler, build_document
from tests.support.jobs import new_job
from tests.support.long_video import make_long_mp4, synthetic_frame
from tests.support.pieces import split_document
from tests.support.pipelines import RealPipeline
from tests.support.videos import shared_video


def stored_objects(storage, job_id):
    head = results_path(job_id)
    counts = json.loads(storage.load_file(head))["frame_pieces"]
    pieces = [storage.load_file(result_pieces.piece_path(head, i)) for i in range(len(counts))]
    return storage.load_file(head), pieces


@pytest.mark.slow
def test_slices_of_a_few_seconds_give_the_bytes_of_one_run(pipeline, monkeypatch):
    monkeypatch.setattr(result_pieces, "PIECE_MAX_FRAMES", 25)  # pieces fill during slices
    clip = shared_video("people_indoor.mp4")
    once = split_document(pipeline.run(clip, sample_fps=1.0))
    jobs, queue = InMemoryJobStore(), InMemoryQueue()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs)
        storage.save_file(clip, video_path(job.job_id))
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=RealPipeline(pipeline),
                           queue=queue, settings=WorkerSettings(slice_s=1))  # fmt: skip
        worker.process(job.job_id)
        seen = []
        while (message := queue.dequeue()) is not None:
            row = jobs.get(job.job_id)
            assert row.status == RUNNING and row.attempts == 0  # a continuation is no retry
            seen.append(status_view(row))
            assert json.loads(message.body) == {"job_id": job.job_id, "slice": row.slices}
            worker.handle_message(message.body)
            assert jobs.get(job.job_id).attempts <= 1
        done = jobs.get(job.job_id)
        assert done.status == COMPLETED and done.slices >= 3
        assert stored_objects(storage, job.job_id) == once  # the head and every piece
        assert storage.stat(checkpoint_path(results_path(job.job_id), done.slices))
    assert [v["frames_total"] for v in seen] == [140] * len(seen)
    done_counts = [v["frames_done"] for v in seen]
    # a slice whose time ran out on the last frame leaves the document's assembly to the next
    # (slices end by time, so where they end depends on the machine)
    assert done_counts == sorted(done_counts) and done_counts[0] > 0 and done_counts[-1] <= 140
    assert all(v["progress"] == 0.5 for v in seen)


def build_in_pieces(n, fields):
    """Build ``n`` frames' results piece by piece, with a checkpoint and a new assembler
    halfway: the stored head and pieces, and the peak of traced memory meanwhile."""
    with LocalStorage.temporary() as storage:
        head_path = "video_jobs/x_results.json"

        def write(i, piece):
            storage.save_file(piece, result_pieces.piece_path(head_path, i))

        def read(i):
            return json.loads(storage.load_file(result_pieces.piece_path(head_path, i)))

        tracemalloc.start()
        assembler = Assembler(write)
        for i in range(n):
            if i == n // 2:
                assembler = Assembler(write, json.loads(json.dumps(assembler.state())))
            assembler.add(synthetic_frame(i))
        head = assembler.finish(fields, read)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        counts = json.loads(head)["frame_pieces"]
        return head, [storage.load_file(result_pieces.piece_path(head_path, i))
                      for i in range(len(counts))], peak  # fmt: skip


@pytest.mark.slow
def test_six_hours_of_frames_are_built_in_bounded_memory():
    """21,600 frames (6 h at 1 frame/s): tens of MB of results, built holding about one piece
    of frames, the same bytes as the whole-document build."""
    fields = dict(pipeline_id="yolo_ocr", options={}, models={}, video={}, sampling={})
    *_, short_peak = build_in_pieces(5_400, fields)
    head, pieces, peak = build_in_pieces(21_600, fields)
    size = len(head) + sum(map(len, pieces))
    assert size > 20e6 and len(pieces) >= 22
    # 4x the frames, well under 2x the memory: what grows is the head (a span and a summary
    # row per distinct caption: 4,320 here), not the frames
    assert peak < 2 * short_peak and peak < size, (short_peak, peak, size)
    whole = build_document(**fields, frames=[synthetic_frame(i) for i in range(21_600)])
    assert split_document(whole) == (head, pieces)


@pytest.mark.slow
def test_a_three_hour_video_completes_in_slices_with_flat_memory(tmp_path, model_path):
    """3 hours, one frame every 20 s (540 frames, built in seconds), sampled at 1 frame/s by
    the real yolo pipeline in 2 s slices, in a fresh process: memory after the first slice and
    at the end stay within 100 MB of each other. (Slices end by time: how many depends on the
    machine, so the test asks for several, not a count.)"""
    video = make_long_mp4(tmp_path / "long.mp4", hours=3, every_s=20)
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.long_video", str(video), "--slice-s", "2"],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(report)
    assert report["status"] == COMPLETED and report["frames"] == 540
    assert report["slices"] >= 2
    assert report["rss_peak_mb"] - report["rss_first_slice_mb"] < 100, report
