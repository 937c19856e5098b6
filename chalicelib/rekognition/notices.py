"""The completion notice of a job started over Rekognition's API, published to the SNS topic of
its ``NotificationChannel`` when the job ends (Rekognition's notice format)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from chalicelib.jobs.record import ANNOUNCED_STATES, COMPLETED, JobRecord
from chalicelib.notices.publisher import Publisher

log = logging.getLogger(__name__)
# "API" as AWS's notices name it: the developer guide's form for labels and text (kept as
# published); for segments the Start operation's name, which AWS sends
API_NAMES = {
    "StartLabelDetection": "LABEL_DETECTION",
    "StartTextDetection": "TEXT_DETECTION",
    "StartSegmentDetection": "StartSegmentDetection",
}


def notice(job: JobRecord, request: dict) -> dict:
    s3_object = request["Video"]["S3Object"]
    message = {
        "JobId": job.job_id,
        "Status": "SUCCEEDED" if job.status == COMPLETED else "FAILED",
        "API": API_NAMES[request["Operation"]],
        "Timestamp": int(time.time() * 1000),
        "Video": {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]},
    }
    if "JobTag" in request:
        message["JobTag"] = request["JobTag"]
    return message


def publish_notice(job: JobRecord, publisher: Callable[[], Publisher]) -> None:
    """Publish the notice if the job is final and asked for one; ``publisher()`` gives the
    publisher (built only when a notice is due). Never raises: the job's outcome is already
    durable, and a topic that refuses it must not make the worker retry the job."""
    request = job.options.get("rekognition") or {}
    channel = request.get("NotificationChannel")
    if channel is None or job.status not in ANNOUNCED_STATES:
        return
    try:
        publisher().publish(channel["SNSTopicArn"], json.dumps(notice(job, request)))
    except Exception:
        log.exception(
            "could not publish the notice of job %s to its SNS topic",
            job.job_id,
            extra={"job_id": job.job_id},
        )
