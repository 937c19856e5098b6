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
    BadRequest,
    InvalidToken,
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
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.store import InMemoryJobStore
from chalicelib.rekognition import tokens
from chalicelib.rekognition.api import TARGET_PREFIX, RekognitionApi, StartLimits
from tests.support.pieces import store_document

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
    assert job.source_name == "clip.mp4"  # the key's last part, as the library lists it
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


# --- segments ------------------------------------------------------------------------------------

SHOT_STARTS = [0, 50, 90, 130, 160]  # at 25 frames/s, 200 frames


def start_segments(api: RekognitionApi, **more: object) -> str:
    video = {"S3Object": {"Bucket": "caller", "Name": "clip.mp4"}}
    body = {"Video": video, "SegmentTypes": ["SHOT", "TECHNICAL_CUE"], **more}
    return call(api, "StartSegmentDetection", body)["JobId"]


def complete_with_shots(api: RekognitionApi, job_id: str) -> None:
    """Finish the job as the shots pipeline would: five shots, one black cue."""
    ends = [*SHOT_STARTS[1:], 200]
    shots = [
        {"index": i, "start_frame": s, "end_frame": e - 1, "start_ms": s * 40, "end_ms": e * 40,
         "confidence": 1.0 if i == 0 else 0.5 + i / 10}
        for i, (s, e) in enumerate(zip(SHOT_STARTS, ends, strict=True))
    ]  # fmt: skip
    cues = [
        {"type": kind, "start_frame": s, "end_frame": e, "start_ms": s * 40,
         "end_ms": (e + 1) * 40, "confidence": 1.0}
        for kind, s, e in [("Content", 0, 119), ("BlackFrames", 120, 129), ("Content", 130, 199)]
    ]  # fmt: skip
    document = {
        "video": {"fps": 25.0, "width": 320, "height": 240, "duration_ms": 8000, "codec": "h264"},
        "models": {"shots": {"name": "PySceneDetect 0.6 AdaptiveDetector"}},
        "segments": {"shots": shots, "technical_cues": cues},
        "frames": [],
    }
    head = f"video_jobs/{job_id}_results.json"
    store_document(api.storage, head, document)
    api.jobs.claim(job_id, "w", 60)
    api.jobs.complete(job_id, owner="w", output_path=head)


def test_a_segment_start_runs_the_shots_pipeline_with_its_black_frame_filter(api):
    black = {"MaxPixelThreshold": 0.1, "MinCoveragePercentage": 95}
    job = api.jobs.get(start_segments(api, Filters={"TechnicalCueFilter": {"BlackFrame": black}}))
    options = JobOptions.from_record(job)
    assert job.pipeline_id == "shots"
    assert (options.black_max_pixel_threshold, options.black_min_coverage_percentage) == (0.1, 95)
    assert options.rekognition["SegmentTypes"] == ["SHOT", "TECHNICAL_CUE"]
    answer = call(api, "GetSegmentDetection", {"JobId": job.job_id})
    assert answer["JobStatus"] == "IN_PROGRESS" and answer["Segments"] == []


def test_a_segment_type_named_twice_is_refused_before_anything_is_read(api):
    with pytest.raises(BadRequest, match="a type twice"):
        start_segments(api, SegmentTypes=["SHOT", "SHOT"])
    assert api.jobs.all() == [] and api.queue.backlog() == 0


def test_segment_pages_add_up_to_the_whole_answer(api):
    job_id = start_segments(api, JobTag="cuts")
    complete_with_shots(api, job_id)
    whole = call(api, "GetSegmentDetection", {"JobId": job_id})
    assert whole["JobStatus"] == "SUCCEEDED" and whole["JobTag"] == "cuts"
    assert "NextToken" not in whole and len(whole["Segments"]) == 5 + 3
    shots = [s["StartFrameNumber"] for s in whole["Segments"] if s["Type"] == "SHOT"]
    assert shots == SHOT_STARTS and whole["Segments"][0]["Type"] == "SHOT"
    assert whole["VideoMetadata"] == [
        {"Codec": "h264", "DurationMillis": 8000, "Format": "QuickTime / MOV", "FrameRate": 25.0,
         "FrameHeight": 240, "FrameWidth": 320}
    ]  # fmt: skip
    assert whole["AudioMetadata"] == []
    assert [t["Type"] for t in whole["SelectedSegmentTypes"]] == ["SHOT", "TECHNICAL_CUE"]
    pages, token = [], ""
    while token is not None:
        page = call(
            api, "GetSegmentDetection", {"JobId": job_id, "MaxResults": 3, "NextToken": token}
        )
        assert len(page["Segments"]) <= 3 and page["VideoMetadata"] == whole["VideoMetadata"]
        pages.append(page["Segments"])
        token = page.get("NextToken")
    assert len(pages) == 3 and [s for p in pages for s in p] == whole["Segments"]


def test_segment_filters_apply_to_what_the_job_stored(api):
    filters = {"ShotFilter": {"MinSegmentConfidence": 75}}
    job_id = start_segments(api, SegmentTypes=["SHOT"], Filters=filters)
    complete_with_shots(api, job_id)
    segments = call(api, "GetSegmentDetection", {"JobId": job_id})["Segments"]
    # confidences 1.0, 0.6, 0.7, 0.8, 0.9: the floor keeps three
    assert [s["ShotSegment"]["Index"] for s in segments] == [0, 3, 4]


def test_segment_tokens_are_bound_to_their_job_and_operation(api):
    job_id, other = start_segments(api), start_segments(api, JobTag="other")
    complete_with_shots(api, job_id)
    complete_with_shots(api, other)
    token = call(api, "GetSegmentDetection", {"JobId": job_id, "MaxResults": 1})["NextToken"]
    assert call(api, "GetSegmentDetection", {"JobId": job_id, "NextToken": token})["Segments"]
    view = "GetSegmentDetection|TIMESTAMP|TIMESTAMPS"  # what get.py signs for this operation
    assert (
        tokens.issue(b"k", job_id, view, 1) == token
    )  # so the forgeries below differ by one thing
    for job, next_token in [
        (other, token),  # another job's
        (job_id, tokens.issue(b"another key", job_id, view, 1)),
        (job_id, tokens.issue(b"k", job_id, "GetLabelDetection|TIMESTAMP|TIMESTAMPS", 1)),
        (job_id, tokens.issue(b"k", job_id, view, 9)),  # past the last segment
        (job_id, "forged"),
        (job_id, "%%%"),
    ]:
        with pytest.raises(InvalidToken):
            call(api, "GetSegmentDetection", {"JobId": job, "NextToken": next_token})


def test_a_get_of_the_other_kind_of_job_is_not_found(api):
    segment_job, label_job = start_segments(api), start(api)["JobId"]
    with pytest.raises(JobNotFound, match="not started by StartSegmentDetection"):
        call(api, "GetSegmentDetection", {"JobId": label_job})
    with pytest.raises(JobNotFound, match="not started by StartLabelDetection"):
        call(api, "GetLabelDetection", {"JobId": segment_job})
    with pytest.raises(JobNotFound, match="not started by StartTextDetection"):
        call(api, "GetTextDetection", {"JobId": segment_job})
