"""StartLabelDetection / StartTextDetection / StartSegmentDetection: check the S3 object, copy it
in, create a normal job.

The caller's access key must grant the object's S3 location (and the ``NotificationChannel``
topic, if any) before anything is read. The video named by ``Video.S3Object`` is checked where
it lies (exists, size, MP4 box structure by
ranged reads), then copied server-side to the job's video key, so the job is an ordinary one:
same table, queue, worker and results, visible to the REST routes too. The request itself (less
its ClientRequestToken) is stored in the job's options under ``rekognition``; Get* and the
completion notice read it from there.
"""

from __future__ import annotations

import json

from chalicelib.adapters.queue import QueueService
from chalicelib.adapters.storage import SourceObject, StorageService
from chalicelib.analysis.mp4 import validate_mp4
from chalicelib.analysis.registry import PIPELINES
from chalicelib.errors import (
    AccessDenied,
    BadRequest,
    InvalidVideo,
    KeyReused,
    PayloadTooLarge,
    SourceUnreadable,
    TooManyJobs,
)
from chalicelib.intake import idempotency
from chalicelib.intake.body import source_name
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.options import JobOptions
from chalicelib.jobs.tenancy import Caller

# the pipeline each operation runs: the first one registered (objects only / text only, when
# the registry has them; else the nearest combined pipeline; segments need the shots pipeline)
PIPELINE_CHOICES = {
    "StartLabelDetection": ("yolo", "yolo_ocr_fast"),
    "StartTextDetection": ("ocr", "yolo_ocr"),
    "StartSegmentDetection": ("shots",),
}
# TechnicalCueFilter.BlackFrame -> the JobOptions the shots pipeline reads
BLACK_FRAME_OPTIONS = {
    "MaxPixelThreshold": "black_max_pixel_threshold",
    "MinCoveragePercentage": "black_min_coverage_percentage",
}


def pipeline_for(operation: str) -> str:
    return next(p for p in PIPELINE_CHOICES[operation] if p in PIPELINES)


def analyzer_filters(record: dict) -> dict:
    """The filters the analyzer must apply itself: a text job keeps lines down to its
    WordFilter's MinConfidence (not only the REST default of 0.8), a segment job finds black
    frames as its BlackFrame filter defines them; Get* applies the rest."""
    filters = record.get("Filters", {})
    if record["Operation"] == "StartSegmentDetection":
        black = filters.get("TechnicalCueFilter", {}).get("BlackFrame", {})
        return {option: float(black[name]) for name, option in BLACK_FRAME_OPTIONS.items()
                if name in black}  # fmt: skip
    word = filters.get("WordFilter", {})
    if record["Operation"] != "StartTextDetection" or "MinConfidence" not in word:
        return {}
    return {"text_min_confidence": word["MinConfidence"] / 100}


def start_job(
    operation: str,
    params: dict,
    caller: Caller,
    *,
    storage: StorageService,
    queue: QueueService,
    submissions: Submissions,
    max_video_bytes: int,
    max_queued_jobs: int,
) -> dict:
    """Answer ``{"JobId"}`` for a validated Start* request: a larger source than
    ``max_video_bytes``, or a backlog of ``max_queued_jobs``, is refused."""
    _check_semantics(params)
    s3_object = params["Video"]["S3Object"]
    source = SourceObject(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"))
    _check_grants(caller, source, params.get("NotificationChannel"))
    size = storage.source_size(source)
    if size > max_video_bytes:
        raise PayloadTooLarge(
            f"{source.where} is {size} bytes, above the {max_video_bytes}-byte limit"
        )
    try:
        validate_mp4(lambda start, length: storage.read_source(source, start, length), size)
    except InvalidVideo as error:
        raise SourceUnreadable(
            f"{source.where} is not a video we can analyze: {error.message}"
        ) from None
    if queue.backlog() >= max_queued_jobs:
        raise TooManyJobs(f"{max_queued_jobs} jobs are already waiting or running: retry later")
    record = {"Operation": operation, **params}
    token = record.pop("ClientRequestToken", None)
    options = JobOptions(pipeline_for(operation), rekognition=record, **analyzer_filters(record))
    try:
        job_id = submissions.submit_copied(
            lambda path: storage.copy_source(source, path),
            options,
            idempotency_key=None if token is None else f"rekognition:{token}",
            request_fingerprint=idempotency.fingerprint(json.dumps(record, sort_keys=True)),
            caller=caller,
            source_name=source_name(source.key),
        )
    except KeyReused:
        raise KeyReused(
            "this ClientRequestToken was already used for a different request: use a new "
            "token for a new job, or repeat the first request's parameters exactly"
        ) from None
    return {"JobId": job_id}


def _check_grants(caller: Caller, source: SourceObject, channel: dict | None) -> None:
    """The caller's access key must grant the source's S3 location and the notice's topic;
    nothing is read before both are checked."""
    if not caller.may_read(source.bucket, source.key):
        raise AccessDenied(
            f"{source.where} is not in an S3 location your access key may analyze "
            f"({_listed(caller.sources)}): ask the operator for a key that grants it "
            "(python -m infra.keys create --source s3://bucket/prefix/)"
        )
    topic = None if channel is None else channel["SNSTopicArn"]
    if topic is not None and not caller.may_notify(topic):
        raise AccessDenied(
            f"NotificationChannel.SNSTopicArn {topic[:120]!r} is not a topic your access key may "
            f"name ({_listed(caller.topics)}): ask the operator for a key that grants it "
            "(python -m infra.keys create --topic ARN)"
        )


def _listed(granted: tuple[str, ...] | None) -> str:
    return f"it grants {', '.join(granted)}" if granted else "it grants none"


def _check_semantics(params: dict) -> None:
    """What the model cannot say: the S3 object is required, each region is complete, and no
    segment type is asked for twice."""
    s3_object = params["Video"].get("S3Object")
    if not s3_object or "Bucket" not in s3_object or "Name" not in s3_object:
        raise BadRequest("Video.S3Object needs Bucket and Name (the video's S3 location)")
    types = params.get("SegmentTypes", [])
    if len(set(types)) != len(types):
        raise BadRequest(f"SegmentTypes lists a type twice ({', '.join(types)}): name each once")
    regions = params.get("Filters", {}).get("RegionsOfInterest", [])
    for index, region in enumerate(regions):
        where = f"Filters.RegionsOfInterest[{index}]"
        box, polygon = region.get("BoundingBox"), region.get("Polygon")
        if box is None and polygon is None:
            raise BadRequest(f"{where} needs a BoundingBox or a Polygon")
        if box is not None and set(box) != {"Width", "Height", "Left", "Top"}:
            raise BadRequest(f"{where}.BoundingBox needs Width, Height, Left and Top")
        if polygon is not None and (
            len(polygon) < 3 or any(set(point) != {"X", "Y"} for point in polygon)
        ):
            raise BadRequest(f"{where}.Polygon needs at least 3 points, each with X and Y")
