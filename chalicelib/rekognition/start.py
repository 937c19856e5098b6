"""StartLabelDetection / StartTextDetection: check the S3 object, copy it in, create a normal job.

The video named by ``Video.S3Object`` is checked where it lies (exists, size, MP4 box structure by
ranged reads), then copied server-side to the job's video key, so the job is an ordinary one:
same table, queue, worker and results, visible to the REST routes too. The request itself (less
its ClientRequestToken) is stored in the job's options under ``rekognition``; Get* and the
completion notice read it from there.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ParamValidationError

from chalicelib import idempotency
from chalicelib.errors import Conflict, InvalidVideo, TooManyJobs
from chalicelib.mp4 import validate_mp4
from chalicelib.pipelines import PIPELINES
from chalicelib.rekognition.errors import (
    IDEMPOTENT_MISMATCH,
    INVALID_S3_OBJECT,
    LIMIT_EXCEEDED,
    VIDEO_TOO_LARGE,
    RekognitionError,
    invalid,
)
from chalicelib.submissions import JobOptions
from chalicelib.tenancy import Caller

if TYPE_CHECKING:
    from chalicelib.rekognition import RekognitionApi

# the pipeline each operation runs: the first one registered (objects only / text only, when
# the registry has them; else the nearest combined pipeline)
PIPELINE_CHOICES = {
    "StartLabelDetection": ("yolo", "yolo_ocr_fast"),
    "StartTextDetection": ("ocr", "yolo_ocr"),
}


def pipeline_for(operation: str) -> str:
    return next(p for p in PIPELINE_CHOICES[operation] if p in PIPELINES)


def analyzer_filters(record: dict) -> dict:
    """What the analyzer must keep for Get* to filter: a text job keeps lines down to its
    WordFilter's MinConfidence (not only the REST default of 0.8); Get* applies the rest."""
    word = record.get("Filters", {}).get("WordFilter", {})
    if record["Operation"] != "StartTextDetection" or "MinConfidence" not in word:
        return {}
    return {"text_min_confidence": word["MinConfidence"] / 100}


S3_REFUSALS = {
    **dict.fromkeys(("404", "NoSuchKey", "NoSuchBucket", "NoSuchVersion"), "does not exist"),
    **dict.fromkeys(("403", "AccessDenied"), "access denied (this API may not read that bucket)"),
}


class S3Source:
    """The caller's video object in S3 (any bucket the API can read)."""

    def __init__(self, s3_client, s3_object: dict):
        self._s3 = s3_client
        self.bucket, self.key = s3_object["Bucket"], s3_object["Name"]
        self._version = {"VersionId": s3_object["Version"]} if "Version" in s3_object else {}
        self.where = f"s3://{self.bucket}/{self.key}"

    def size(self) -> int:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self.key, **self._version)
        except ParamValidationError:  # a name botocore's S3 client refuses to send
            raise RekognitionError(
                INVALID_S3_OBJECT, f"{self.where} is not a valid S3 location"
            ) from None
        except self._s3.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reason = S3_REFUSALS.get(code, f"S3 refused it ({code}): check Bucket, Name, Version")
            raise RekognitionError(
                INVALID_S3_OBJECT, f"cannot read the video {self.where}: {reason}"
            ) from None
        return int(head["ContentLength"])

    def read_range(self, offset: int, length: int) -> bytes:
        byte_range = f"bytes={offset}-{offset + length - 1}"
        answer = self._s3.get_object(
            Bucket=self.bucket, Key=self.key, Range=byte_range, **self._version
        )
        return answer["Body"].read()

    def copy_to(self, bucket: str, key: str) -> None:
        source = {"Bucket": self.bucket, "Key": self.key, **self._version}
        self._s3.copy(source, bucket, key)  # managed: multipart for large objects


def start_job(operation: str, params: dict, ctx: RekognitionApi, caller: Caller) -> dict:
    """Answer ``{"JobId"}`` for a validated Start* request."""
    _check_semantics(params)
    source = S3Source(ctx.storage.client, params["Video"]["S3Object"])
    if source.bucket == ctx.storage.bucket:  # other tenants' videos live there
        raise RekognitionError(
            INVALID_S3_OBJECT, f"{source.where}: videos cannot be read from video-jobs' own bucket"
        )
    size = source.size()
    limit = ctx.settings.max_upload_bytes
    if size > limit:
        raise RekognitionError(
            VIDEO_TOO_LARGE, f"{source.where} is {size} bytes, above the {limit}-byte limit"
        )
    try:
        validate_mp4(source.read_range, size)
    except InvalidVideo as error:
        raise RekognitionError(
            INVALID_S3_OBJECT, f"{source.where} is not a video we can analyze: {error.message}"
        ) from None
    if ctx.queue.backlog() >= ctx.settings.max_queued_jobs:
        raise RekognitionError(
            LIMIT_EXCEEDED,
            f"{ctx.settings.max_queued_jobs} jobs are already waiting or running: retry later",
        )
    record = {"Operation": operation, **params}
    token = record.pop("ClientRequestToken", None)
    options = JobOptions(pipeline_for(operation), rekognition=record, **analyzer_filters(record))
    try:
        job_id = ctx.submissions.submit_copied(
            lambda path: source.copy_to(ctx.storage.bucket, path),
            options,
            idempotency_key=None if token is None else f"rekognition:{token}",
            request_fingerprint=idempotency.fingerprint(json.dumps(record, sort_keys=True)),
            caller=caller,
        )
    except TooManyJobs as error:
        raise RekognitionError(LIMIT_EXCEEDED, error.message) from None
    except Conflict:
        raise RekognitionError(
            IDEMPOTENT_MISMATCH,
            "this ClientRequestToken was already used for a different request: use a new "
            "token for a new job, or repeat the first request's parameters exactly",
        ) from None
    return {"JobId": job_id}


def _check_semantics(params: dict) -> None:
    """What the model cannot say: the S3 object is required, and each region is complete."""
    s3_object = params["Video"].get("S3Object")
    if not s3_object or "Bucket" not in s3_object or "Name" not in s3_object:
        raise invalid("Video.S3Object needs Bucket and Name (the video's S3 location)")
    regions = params.get("Filters", {}).get("RegionsOfInterest", [])
    for index, region in enumerate(regions):
        where = f"Filters.RegionsOfInterest[{index}]"
        box, polygon = region.get("BoundingBox"), region.get("Polygon")
        if box is None and polygon is None:
            raise invalid(f"{where} needs a BoundingBox or a Polygon")
        if box is not None and set(box) != {"Width", "Height", "Left", "Top"}:
            raise invalid(f"{where}.BoundingBox needs Width, Height, Left and Top")
        if polygon is not None and (
            len(polygon) < 3 or any(set(point) != {"X", "Y"} for point in polygon)
        ):
            raise invalid(f"{where}.Polygon needs at least 3 points, each with X and Y")
