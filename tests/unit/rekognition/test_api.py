"""RekognitionApi on fakes, with its ports handed in: a Start* reads the caller's object through
the storage port (a local directory of buckets), checks it, copies it in and queues an ordinary
job; Get* reads it back; refusals are the domain errors app.py's table renders."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.queue import InMemoryQueue
from chalicelib.adapters.storage import LocalStorage
from chalicelib.config import load_settings
from chalicelib.errors import (
    AccessDenied,
    JobNotFound,
    PayloadTooLarge,
    ResultsDamaged,
    SourceUnreadable,
    TooManyJobs,
    UnknownOperation,
)
from chalicelib.intake.idempotency import InMemoryIdempotencyKeys
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.ids import decode_message
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.rekognition.api import TARGET_PREFIX, RekognitionApi, StartLimits

SIGNED = "AWS4-HMAC-SHA256 Credential=..."  # with auth off any signature passes the API


@pytest.fixture
def api(tmp_path, tiny_mp4):
    buckets = tmp_path / "buckets"
    (buckets / "caller").mkdir(parents=True)
    (buckets / "caller" / "clip.mp4").write_bytes(tiny_mp4.read_bytes())
    (buckets / "caller" / "notes.txt").write_bytes(b"not a video")
    storage = LocalStorage(tmp_path / "media", sources=buckets)
    jobs, queue = InMemoryJobStore(), InMemoryQueue()
    submissions = Submissions(storage=storage, queue=queue, jobs=jobs,
                              keys=InMemoryIdempotencyKeys(), settings=load_settings())  # fmt: skip
    limits = StartLimits(max_video_bytes=10_000_000, max_queued_jobs=2)
    return RekognitionApi(jobs=jobs, storage=storage, queue=queue, submissions=submissions,
                          limits=limits, signing_key=b"k")  # fmt: skip


def call(api: RekognitionApi, operation: str, body: dict) -> dict:
    return api.call(TARGET_PREFIX + operation, SIGNED, json.dumps(body).encode())


def start(api: RekognitionApi, name: str = "clip.mp4", **more: object) -> dict:
    video = {"S3Object": {"Bucket": "caller", "Name": name}}
    return call(api, "StartLabelDetection", {"Video": video, **more})


def test_a_start_copies_the_object_in_and_queues_an_ordinary_job(api, tiny_mp4):
    job_id = start(api)["JobId"]
    job = api.jobs.get(job_id)
    assert api.storage.load_file(job.input_path) == tiny_mp4.read_bytes()
    assert decode_message(api.queue.dequeue().body) == job_id
    answer = call(api, "GetLabelDetection", {"JobId": job_id})
    assert answer["JobStatus"] == "IN_PROGRESS" and answer["Labels"] == []


def test_a_repeated_client_request_token_returns_the_same_job(api):
    first = start(api, ClientRequestToken="t-1")["JobId"]
    assert start(api, ClientRequestToken="t-1")["JobId"] == first
    assert api.queue.backlog() == 1


@pytest.mark.parametrize(
    ("name", "error", "says"),
    [
        ("missing.mp4", SourceUnreadable, "does not exist"),
        ("notes.txt", SourceUnreadable, "not a video we can analyze"),
        ("../../media/x.mp4", SourceUnreadable, "not a valid S3 location"),
    ],
)
def test_a_source_that_is_no_video_is_refused_and_nothing_is_queued(api, name, error, says):
    with pytest.raises(error, match=says):
        start(api, name)
    assert api.queue.backlog() == 0 and api.jobs.all() == []


def test_the_limits_are_the_ones_handed_in(api):
    start(api), start(api)
    with pytest.raises(TooManyJobs, match="2 jobs are already waiting"):
        start(api)
    small = RekognitionApi(jobs=api.jobs, storage=api.storage, queue=api.queue,
                           submissions=api.submissions, limits=StartLimits(10, 10),
                           signing_key=b"k")  # fmt: skip
    with pytest.raises(PayloadTooLarge, match="above the 10-byte limit"):
        start(small)


def test_what_the_protocol_refuses(api):
    with pytest.raises(UnknownOperation, match="offers only"):
        api.call("RekognitionService.DetectFaces", SIGNED, b"{}")
    with pytest.raises(AccessDenied, match="not signed"):
        api.call(TARGET_PREFIX + "GetLabelDetection", None, b"{}")
    with pytest.raises(JobNotFound):
        call(api, "GetTextDetection", {"JobId": start(api)["JobId"]})  # a label job


def test_damaged_results_are_an_internal_error_that_names_no_storage_key(api, caplog):
    job_id = start(api)["JobId"]
    head = f"video_jobs/{job_id}_results.json"
    api.storage.save_file(json.dumps({"results": {}, "frame_pieces": [3]}).encode(), head)
    api.jobs.claim(job_id, "w", 60)
    api.jobs.complete(job_id, owner="w", output_path=head)  # its one piece was never stored
    with pytest.raises(ResultsDamaged) as raised:
        call(api, "GetLabelDetection", {"JobId": job_id})
    assert (
        "video_jobs/" not in raised.value.message
        and "submit the video again" in raised.value.message
    )
    assert f"{job_id}_frames00000_results.json is missing" in caplog.text  # for the operator
