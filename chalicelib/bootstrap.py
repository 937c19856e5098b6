"""The composition root: the one place that builds adapters from settings.

Handlers call ``services()`` (cached per process, like a Lambda container); tests call
``services.cache_clear()`` after changing the environment. Nothing here runs at import time, so
moto's in-process mocks catch every client.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import boto3
from botocore.config import Config

from chalicelib.config import Settings, load_settings
from chalicelib.idempotency import IdempotencyRecord
from chalicelib.jobs import Job
from chalicelib.pipelines import VideoFilePipelineService
from chalicelib.queue import QueueService, SqsQueue
from chalicelib.storage import S3Storage
from chalicelib.worker import JobWorker


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: S3Storage
    queue: QueueService

    @functools.cached_property
    def worker(self) -> JobWorker:
        return JobWorker(
            storage=self.storage,
            queue=self.queue,
            pipelines=VideoFilePipelineService(self.settings),
            lease_s=self.settings.job_lease_s,
            max_attempts=self.settings.max_attempts,
            max_input_bytes=self.settings.max_upload_bytes,
        )


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()  # one per process: creating sessions reloads service models


def aws_client(name: str, settings: Settings):
    """A boto3 client for ``name`` aimed at real AWS or the configured emulator."""
    config = Config(retries={"max_attempts": 4, "mode": "standard"})
    if name == "s3":  # path-style URLs work against emulators; SigV4 for presigned URLs
        config = config.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    return _session().client(
        name, region_name=settings.region, endpoint_url=settings.aws_endpoint, config=config
    )


@functools.cache
def services() -> Services:
    settings = load_settings()
    Job.bind(settings)
    IdempotencyRecord.bind(settings)
    sqs = aws_client("sqs", settings)
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    return Services(
        settings, S3Storage(aws_client("s3", settings), settings.bucket), SqsQueue(sqs, queue_url)
    )
