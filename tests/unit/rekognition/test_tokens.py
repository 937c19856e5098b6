"""Get*'s pagination tokens: signed, bound to one job and one view."""

from __future__ import annotations

import pytest

from app import answer_of
from chalicelib.errors import VideoJobsError
from chalicelib.rekognition import tokens

KEY = b"test-key"
JOB = "0b0e8f5e-3c59-4f3a-9d0b-5a1f6f3f0c11"


# --- pagination tokens ---------------------------------------------------------------------------


def test_a_token_reads_back_its_offset_and_nothing_else_passes():
    token = tokens.issue(KEY, JOB, "view", 30)
    assert tokens.read(KEY, JOB, "view", token) == 30
    assert tokens.read(KEY, JOB, "view", "") == 0 and tokens.read(KEY, JOB, "view", None) == 0
    other_job = "1b0e8f5e-3c59-4f3a-9d0b-5a1f6f3f0c11"
    forged = tokens.issue(b"another key", JOB, "view", 30)
    edited = tokens.issue(KEY, JOB, "view", 30).replace(token[:2], "MT")  # offset 1x
    for job_id, view, candidate in [
        (other_job, "view", token),  # another job's
        (JOB, "other view", token),  # another sort order's
        (JOB, "view", forged),
        (JOB, "view", edited),
        (JOB, "view", "not base64 !!"),
        (JOB, "view", "LTEuYWJj"),  # "-1.abc"
    ]:
        with pytest.raises(VideoJobsError) as caught:
            tokens.read(KEY, job_id, view, candidate)
        assert answer_of(caught.value).aws_type == "InvalidPaginationTokenException"
    assert len(tokens.issue(KEY, JOB, "view", 10**8)) <= 255
