"""Results stored in pieces: pages bounded in bytes, read without the whole document; damaged
results answer a clear error."""

import fnmatch
import json
import logging

import pytest

from app import answer_of
from chalicelib import errors
from chalicelib.adapters.storage import LocalStorage
from chalicelib.jobs.queries import JobQueries
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.results.document import encode
from chalicelib.results.pages import results_page
from chalicelib.results.pieces import PIECE_MAX_BYTES, piece_path, read_document
from tests.support.jobs import new_job
from tests.support.pieces import split_document as split
from tests.support.pieces import store_document


class CountingStorage(LocalStorage):
    """Local storage that remembers how many bytes each load returned."""

    def __init__(self, root):
        super().__init__(root)
        self.loads: list[tuple[str, int]] = []

    def load_file(self, path):
        data = super().load_file(path)
        self.loads.append((path, len(data)))
        return data


@pytest.fixture
def parts(tmp_path):
    storage, jobs = CountingStorage(tmp_path), InMemoryJobStore()
    return jobs, storage, JobQueries(jobs=jobs, storage=storage)


def dense_frame(index: int, lines: int = 120) -> dict:
    """A frame of a still image full of text: ~20 KB of OCR lines."""
    text = [
        {"text": f"line {n} of dense text " * 3, "confidence": 0.9,
         "polygon": [[0.1, 0.2], [0.3, 0.2], [0.3, 0.3], [0.1, 0.3]]}
        for n in range(lines)
    ]  # fmt: skip
    return {"timestamp_ms": index * 33, "frame_index": index, "objects": [], "text": text}


def document(frames: list) -> dict:
    return {"schema_version": 1, "pipeline_id": "yolo_ocr", "video": {"width": 16},
            "frames": frames, "summary": {"objects": {}, "text": []}}  # fmt: skip


def completed(jobs, storage, doc, *, old_layout=False):
    job = new_job(jobs)
    head = f"video_jobs/{job.job_id}_results.json"
    if old_layout:  # one file, as results were stored before pieces
        storage.save_file(encode(doc), head)
    else:
        store_document(storage, head, doc)
    jobs.claim(job.job_id, "w", 60)
    jobs.complete(job.job_id, owner="w", output_path=head)
    return job


def test_a_small_result_answers_byte_for_byte_as_a_single_file_did(parts):
    jobs, storage, queries = parts
    doc = document([dense_frame(i, lines=2) for i in range(5)])
    old, new = completed(jobs, storage, doc, old_layout=True), completed(jobs, storage, doc)
    assert len(split(doc)[1]) == 1  # one piece
    for params in [{}, {"max_frames": "2"}, {"max_frames": "2", "next_token": "4"}]:
        old_page = queries.results(old.job_id, results_page(params))
        new_page = queries.results(new.job_id, results_page(params))
        for name in ("job_id", "created_at", "updated_at"):  # the job's own fields differ
            new_page[name] = old_page[name]
        assert json.dumps(new_page) == json.dumps(old_page)


def test_pieces_are_bounded_and_hold_every_frame_once():
    frames = [dense_frame(i) for i in range(200)]
    head, pieces = split(document(frames))
    assert len(pieces) >= 3
    assert all(len(piece) <= PIECE_MAX_BYTES for piece in pieces)
    assert [f for piece in pieces for f in json.loads(piece)] == frames
    assert json.loads(head)["frame_pieces"] == [len(json.loads(p)) for p in pieces]
    assert "frames" not in json.loads(head)["results"]
    many_small = split(document([{"frame_index": i} for i in range(2500)]))[1]
    assert [len(json.loads(p)) for p in many_small] == [1000, 1000, 500]


def test_a_page_of_dense_text_is_bounded_and_reads_one_piece(parts):
    jobs, storage, queries = parts
    frames = [dense_frame(i) for i in range(200)]  # ~4 MB of frames
    job = completed(jobs, storage, document(frames))
    full = queries.results(job.job_id, results_page(None))
    assert len(json.dumps(full)) < 1.2 * PIECE_MAX_BYTES  # the old page held all 4 MB
    assert 0 < len(full["results"]["frames"]) < 200 and full["next_token"]
    storage.loads.clear()
    one = queries.results(job.job_id, results_page({"max_frames": "1", "next_token": "150"}))
    assert one["results"]["frames"] == [frames[150]] and one["next_token"] == "151"
    assert len(storage.loads) == 2 and sum(n for _, n in storage.loads) <= PIECE_MAX_BYTES + 1000


def test_paging_walks_every_frame_in_order_across_pieces(parts):
    jobs, storage, queries = parts
    frames = [dense_frame(i) for i in range(120)]
    job = completed(jobs, storage, document(frames))
    seen, token = [], "0"
    while token is not None:
        page = queries.results(job.job_id, results_page({"max_frames": "7", "next_token": token}))
        assert len(page["results"]["frames"]) <= 7
        seen += page["results"]["frames"]
        token = page.get("next_token")
    assert seen == frames
    assert read_document(storage, jobs.get(job.job_id).output_path)["frames"] == frames
    past = queries.results(job.job_id, results_page({"next_token": "5000"}))
    assert past["results"]["frames"] == [] and "next_token" not in past


def test_a_result_without_frames_is_one_head(parts):
    jobs, storage, queries = parts
    job = completed(jobs, storage, document([]))
    page = queries.results(job.job_id, results_page(None))
    assert page["results"]["frames"] == [] and "next_token" not in page


def test_pieces_are_files_the_analyzer_may_write():
    """The analyzer's IAM policy lets it write ``video_jobs/*_results.json`` only."""
    head = "video_jobs/0b6f1d4e-7c53-4d6e-9a4e-2f1c9d7b8a10_results.json"
    assert fnmatch.fnmatch(piece_path(head, 12), "video_jobs/*_results.json")
    assert piece_path(head, 12) != head


@pytest.mark.parametrize(
    "damage",
    ["head not json", "head truncated", "piece missing", "piece not json", "piece short"],
)
def test_damaged_results_answer_a_clear_error_naming_the_job(parts, damage, caplog):
    jobs, storage, queries = parts
    job = completed(jobs, storage, document([dense_frame(i, lines=2) for i in range(3)]))
    head = jobs.get(job.job_id).output_path
    piece = piece_path(head, 0)
    if damage == "head not json":
        storage.save_file(b"\xff\xfe garbage", head)
    elif damage == "head truncated":
        storage.save_file(storage.load_file(head)[:-5], head)
    elif damage == "piece missing":
        storage.delete_file(piece)
    elif damage == "piece not json":
        storage.save_file(b"[{", piece)
    else:
        storage.save_file(b"[{}]", piece)
    with (
        caplog.at_level(logging.ERROR, logger="chalicelib.jobs.queries"),
        pytest.raises(errors.ResultsDamaged) as raised,
    ):
        queries.results(job.job_id, results_page(None))
    assert job.job_id in raised.value.message and "submit the video again" in raised.value.message
    assert answer_of(raised.value).status == 500  # not the caller's fault; its own documented code
    errors_logged = [r.job_id for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors_logged == [job.job_id]  # (INFO lines of the setup show once app set levels)
