"""``start`` checks an upload in a bounded number of ranged reads (issue 19.4).

It used to issue one ranged GET per top-level box: 99,000 tiny boxes (an 802 KB file) took
428 s against the emulator, far past API Gateway's 30 s. Past the cap ``start`` raises
``InvalidVideo``, which the API answers with a 400 (tests/unit/test_app.py).
"""

import time

import pytest

from chalicelib.adapters.storage import LocalStorage
from chalicelib.analysis.mp4 import (
    MAX_TOP_LEVEL_BOXES,
    READ_AHEAD_BYTES,
    bytes_reader,
    iter_boxes,
    validate_mp4,
)
from chalicelib.errors import InvalidVideo
from chalicelib.jobs.record import UPLOADING
from tests.fixtures.make_tiny_mp4 import make_mp4
from tests.support.jobs import new_job

FREE = b"\0\0\0\x08free"  # the smallest box: an 8-byte header and nothing else


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    """A real faststart clip: ftyp, moov, free, mdat."""
    return make_mp4(
        tmp_path_factory.mktemp("boxes") / "c.mp4", seconds=1, size=(64, 48)
    ).read_bytes()


class SparseFile:
    """``clip`` followed by ``count`` empty 'free' boxes of ``size`` bytes each, never built in
    memory; calling it reads a range, as S3 would, and counts the reads."""

    def __init__(self, clip: bytes, count: int, size: int):
        self.clip, self.count, self.box_size = clip, count, size
        self.total = len(clip) + count * size
        self.reads = 0

    def __call__(self, offset: int, length: int) -> bytes:
        self.reads += 1
        end = min(offset + length, self.total)
        out = bytearray(self.clip[offset:end])
        at = max(offset, len(self.clip))
        while at < end:
            index, inside = divmod(at - len(self.clip), self.box_size)
            header = self.box_size.to_bytes(4, "big") + b"free"
            piece = (header + bytes(self.box_size - 8))[inside : inside + end - at]
            out += piece
            at += len(piece)
        return bytes(out)


def padding_to(total_boxes: int, clip: bytes) -> int:
    """How many 'free' boxes after ``clip`` make ``total_boxes`` top-level boxes."""
    return total_boxes - len(list(iter_boxes(bytes_reader(clip), 0, len(clip))))


def counting(data: bytes):
    calls = []

    def read(offset, length):
        calls.append(length)
        return data[offset : offset + length]

    return read, calls


def test_a_thousand_small_boxes_take_one_read(clip):
    data = clip + FREE * padding_to(MAX_TOP_LEVEL_BOXES, clip)
    read, calls = counting(data)
    validate_mp4(read, len(data))
    assert len(calls) == 1


def test_99000_small_boxes_are_refused_after_one_read(clip):
    data = clip + FREE * padding_to(99_000, clip)  # 795 KB, as in the issue
    read, calls = counting(data)
    with pytest.raises(InvalidVideo, match=f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes"):
        validate_mp4(read, len(data))
    assert len(calls) == 1


def test_sparse_boxes_cost_at_most_one_read_each_up_to_the_cap(clip):
    spaced = SparseFile(clip, padding_to(MAX_TOP_LEVEL_BOXES, clip), 3 * READ_AHEAD_BYTES)
    validate_mp4(spaced, spaced.total)  # 190 MB of 'free' boxes, each header its own read
    assert spaced.reads <= MAX_TOP_LEVEL_BOXES
    too_many = SparseFile(clip, padding_to(MAX_TOP_LEVEL_BOXES + 1, clip), 3 * READ_AHEAD_BYTES)
    with pytest.raises(InvalidVideo, match="re-mux it"):
        validate_mp4(too_many, too_many.total)
    assert too_many.reads <= MAX_TOP_LEVEL_BOXES + 1


def test_start_refuses_a_box_flood_quickly_with_one_read(clip, monkeypatch, parts, submissions):
    storage, _, jobs = parts
    job = new_job(jobs, status=UPLOADING)
    storage.save_file(clip + FREE * padding_to(99_000, clip), job.input_path)
    reads = []
    real = LocalStorage.read_range
    monkeypatch.setattr(
        LocalStorage, "read_range", lambda self, *a, **k: reads.append(a) or real(self, *a, **k)
    )
    started = time.perf_counter()
    with pytest.raises(InvalidVideo, match="top-level boxes"):
        submissions.start_upload(job.job_id)
    seconds = time.perf_counter() - started
    assert len(reads) == 1 and seconds < 5
    assert jobs.get(job.job_id).status == UPLOADING  # PUT a re-muxed file and start again
