"""Slices and checkpoints (chalicelib/analysis/slices.py) on local storage with a fake pipeline
that ends each slice after 3 frames: a checkpoint or a frame piece that is damaged or missing
between slices sends the job back to the last good checkpoint (or the start of the video), and
it ends ``completed`` with the very bytes of a clean run, with a WARNING naming the object."""

import hashlib
import json
import logging
from types import SimpleNamespace

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.slices import CHECKPOINT_VERSION, checkpoint_path
from chalicelib.analysis.worker import JobWorker
from chalicelib.jobs.ids import results_path
from chalicelib.jobs.record import COMPLETED
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results import pieces as result_pieces
from chalicelib.results.document import FrameResult
from tests.support.jobs import new_job
from tests.support.pipelines import FakePipelines

FRAMES = 10  # slices of 3 frames and pieces of 2: checkpoints 1-3, pieces 0-4


def frame(i: int) -> FrameResult:
    box = (0.1, 0.2, 0.3, 0.4)
    objects = [SimpleNamespace(label="person", class_id=0, confidence=0.9, box=box)]
    text = [SimpleNamespace(text=f"line {i // 4}", confidence=0.95,
                            polygon=((0, 0), (1, 0), (1, 1), (0, 1)), glyphs=())]  # fmt: skip
    return FrameResult(i * 1000, i * 25, objects, text)


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch):
    monkeypatch.setattr(result_pieces, "PIECE_MAX_FRAMES", 2)  # pieces fill during slices


def run_job(damage=None, *, after_slice=2, slice_frames=3, queue=True):
    """Run one job slice by slice; ``damage(storage, head_path)`` once ``after_slice`` slices
    are stored. The job, the stored head and pieces, the pipeline's calls."""
    jobs = InMemoryJobStore()
    with LocalStorage.temporary() as storage:
        job = new_job(jobs, storage=storage)
        frames = [frame(i) for i in range(FRAMES)]
        pipelines = FakePipelines(frames=frames, slice_frames=slice_frames)
        worker = JobWorker(storage=storage, jobs=jobs, pipelines=pipelines,
                           queue=InMemoryQueue() if queue else None)  # fmt: skip
        head = results_path(job.job_id)
        if damage is not None and after_slice == 0:
            damage(storage, head)
        worker.process(job.job_id)
        while worker.queue is not None and (message := worker.queue.dequeue()) is not None:
            if damage is not None and jobs.get(job.job_id).slices == after_slice:
                damage(storage, head)
                damage = None
            worker.handle_message(message.body)
        done = jobs.get(job.job_id)
        counts = json.loads(storage.load_file(head))["frame_pieces"]
        stored = [storage.load_file(head)]
        stored += [storage.load_file(result_pieces.piece_path(head, i)) for i in range(len(counts))]
        return done, stored, pipelines.calls


@pytest.fixture
def clean(small_pieces):
    done, stored, calls = run_job()
    assert done.status == COMPLETED and done.slices == 3 and len(calls) == 4
    assert len(stored) == 1 + 5
    return stored


def garbage(path):
    return lambda storage, head: storage.save_file(b"\x00garbage{", path(head))


def missing(path):
    return lambda storage, head: storage.delete_file(path(head))


def checkpoint(n):
    return lambda head: checkpoint_path(head, n)


def piece(i):
    return lambda head: result_pieces.piece_path(head, i)


def warnings_about(caplog, job_id):
    return [r for r in caplog.records if r.levelno == logging.WARNING and job_id in r.getMessage()
            and getattr(r, "job_id", None) == job_id]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "named", "goes_on_from"),
    [
        (garbage(checkpoint(2)), "_checkpoint00002_results.json", "checkpoint 1"),
        (missing(checkpoint(2)), "_checkpoint00002_results.json", "checkpoint 1"),
        (garbage(piece(1)), "_frames00001_results.json", "checkpoint 1"),
        (missing(piece(1)), "_frames00001_results.json", "checkpoint 1"),
        (missing(piece(0)), "_frames00000_results.json", "the start of the video"),
    ],
    ids=[
        "damaged checkpoint",
        "missing checkpoint",
        "damaged piece",
        "missing piece",
        "missing first piece",
    ],  # fmt: skip
)
def test_a_damaged_or_missing_checkpoint_or_piece_still_completes_with_the_same_bytes(
    clean, caplog, damage, named, goes_on_from
):
    caplog.set_level(logging.WARNING)
    done, stored, _ = run_job(damage)
    assert done.status == COMPLETED and done.attempts <= 1
    assert stored == clean  # the head and every piece, byte for byte
    warnings = [w.getMessage() for w in warnings_about(caplog, done.job_id)]
    assert warnings and all(named in w for w in warnings)  # (and a damaged piece replaced)
    assert f"going on from {goes_on_from}" in warnings[0]


def test_both_checkpoints_damaged_start_the_video_again(clean, caplog):
    def both(storage, head):
        storage.save_file(b"{}", checkpoint_path(head, 2))  # JSON, but no checkpoint
        storage.delete_file(checkpoint_path(head, 1))

    caplog.set_level(logging.WARNING)
    done, stored, calls = run_job(both)
    assert done.status == COMPLETED and stored == clean
    assert len(warnings_about(caplog, done.job_id)) == 2
    assert len(calls) == 2 + 4  # two slices, then all four again from the first frame


def rewritten(path, change):
    """Rewrite the stored object at ``path`` through ``change(parsed JSON)``."""

    def damage(storage, head):
        stored = json.loads(storage.load_file(path(head)))
        storage.save_file(json.dumps(change(stored)).encode(), path(head))

    return damage


def altered_frame(frames):
    frames[0]["timestamp_ms"] += 1  # still a JSON array of frames: only its digest tells
    return frames


def older_version(stored):
    return {**stored, "version": CHECKPOINT_VERSION - 1}


def wrong_shape(stored):
    stored["state"]["assembler"]["counts"] = "two"  # the digest no longer matches either
    return stored


@pytest.mark.parametrize(
    "damage",
    [
        rewritten(piece(1), altered_frame),
        rewritten(checkpoint(2), older_version),
        rewritten(checkpoint(2), wrong_shape),
    ],
    ids=["piece edited", "checkpoint of another version", "checkpoint of another shape"],
)
def test_a_checkpoint_or_piece_that_does_not_verify_is_not_used(clean, caplog, damage):
    caplog.set_level(logging.WARNING)
    done, stored, _ = run_job(damage)
    assert done.status == COMPLETED and stored == clean
    assert "going on from checkpoint 1" in warnings_about(caplog, done.job_id)[0].getMessage()


def test_a_damaged_piece_found_where_a_piece_is_written_is_replaced(clean, caplog):
    # e.g. a stalled worker's copy damaged: the same bytes would be kept, other bytes are not
    caplog.set_level(logging.WARNING)
    done, stored, calls = run_job(garbage(piece(3)), after_slice=0, slice_frames=None, queue=False)
    assert done.status == COMPLETED and stored == clean and len(calls) == 1
    (warning,) = warnings_about(caplog, done.job_id)
    assert "_frames00003_results.json held other bytes" in warning.getMessage()


def test_an_analysis_state_the_pipeline_cannot_take_is_not_used(clean, caplog):
    def resigned(stored):  # a checkpoint whose digest matches: only the pipeline can tell
        stored["state"]["analysis"] = {"position": "garbage"}
        state = json.dumps(stored["state"], sort_keys=True).encode()
        return {**stored, "sha256": hashlib.sha256(state).hexdigest()}

    caplog.set_level(logging.WARNING)
    done, stored, calls = run_job(rewritten(checkpoint(2), resigned))
    assert done.status == COMPLETED and stored == clean
    (warning,) = warnings_about(caplog, done.job_id)
    assert "analysis state" in warning.getMessage() and "checkpoint 1" in warning.getMessage()
