"""The composition root: the one place that builds adapters and use cases from settings.

Handlers call ``services()`` (cached per process, like a Lambda container) and then one use case
on it; tests call ``services.cache_clear()`` after changing the environment. Nothing here runs at
import time, so moto's in-process mocks catch every client.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from chalicelib.access.authenticator import Authenticator, view_key
from chalicelib.access.dynamo_keys import DynamoKeyStore
from chalicelib.access.keys import KeyStore
from chalicelib.access.secrets import KmsSecretBox
from chalicelib.adapters.queue import SqsQueue
from chalicelib.adapters.storage import S3Storage
from chalicelib.analysis.registry import Pipelines
from chalicelib.config import (
    AUTH_REQUIRED,
    LOCAL_SIGNING_KEY,
    LOCAL_STAGE,
    Settings,
    emulator_credentials,
    load_settings,
    model_settings,
)
from chalicelib.intake.dynamo_idempotency import DynamoIdempotencyKeys
from chalicelib.intake.submissions import Submissions
from chalicelib.jobs.dynamo import DynamoJobStore, DynamoPlaceBook
from chalicelib.jobs.library import JobLibrary
from chalicelib.jobs.queries import JobQueries
from chalicelib.jobs.reconcile import ReconcileReport, reconcile
from chalicelib.jobs.record import JobRecord
from chalicelib.jobs.stats import JobStats
from chalicelib.jobs.store import JobStore
from chalicelib.metrics import Metrics, MetricsLedger, printer
from chalicelib.models.catalog import ModelCatalog
from chalicelib.models.dynamo import DynamoModelStore
from chalicelib.models.reconcile import ModelSweep, reconcile_models
from chalicelib.models.store import ModelStore
from chalicelib.search.dynamo import DynamoSearchIndex
from chalicelib.search.service import VideoSearch

if TYPE_CHECKING:  # built on first use: a route's cold start imports only what it needs
    from chalicelib.analysis.worker import JobWorker
    from chalicelib.notices.delivery import Courier
    from chalicelib.notices.events import Notifier
    from chalicelib.notices.publisher import Publisher
    from chalicelib.rekognition.api import RekognitionApi
    from chalicelib.viewer.library import LibraryPages
    from chalicelib.viewer.page import JobViewer


@dataclass(frozen=True)
class Services:
    """The adapters, and the use cases built on them (each built on first use)."""

    settings: Settings
    storage: S3Storage
    queue: SqsQueue
    jobs: JobStore

    @functools.cached_property
    def submissions(self) -> Submissions:
        settings = self.settings
        return Submissions(
            storage=self.storage,
            queue=self.queue,
            jobs=self.jobs,
            keys=DynamoIdempotencyKeys(
                settings.table_name, region=settings.region, host=settings.aws_endpoint
            ),
            settings=settings,
            metrics=self.metrics,
            catalog=self.catalog,
        )

    @functools.cached_property
    def models(self) -> ModelStore:
        """Tenants' own detectors, in the jobs table."""
        settings = self.settings
        return DynamoModelStore(settings.table_name, region=settings.region,
                                host=settings.aws_endpoint)  # fmt: skip

    @functools.cached_property
    def catalog(self) -> ModelCatalog:
        """/video/models: register, start, list, get, delete."""
        return ModelCatalog(
            models=self.models, storage=self.storage, queue=self.queue,
            settings=model_settings(self.settings),
            url_expiry_s=self.settings.upload_url_expiry_s,
        )  # fmt: skip

    @functools.cached_property
    def metrics(self) -> Metrics:
        """EMF lines on stdout (CloudWatch on AWS), and into the local stack's metrics file."""
        return metrics_of(self.settings)

    @functools.cached_property
    def stats(self) -> JobStats:
        """The last minutes of the local stack's metrics (GET /video/stats)."""
        return JobStats(metrics_ledger(self.settings))

    @functools.cached_property
    def queries(self) -> JobQueries:
        return JobQueries(jobs=self.jobs, storage=self.storage)

    @functools.cached_property
    def library(self) -> JobLibrary:
        """A tenant's jobs: the listing and the delete."""
        return JobLibrary(
            jobs=self.jobs, storage=self.storage, signing_key=self.signing_key,
            forget_key=self.submissions.keys.release, forget_index=self.search.forget,
            metrics=self.metrics, url_expiry_s=self.settings.view_url_expiry_s,
        )  # fmt: skip

    @functools.cached_property
    def search(self) -> VideoSearch:
        """A tenant's videos by text and labels: the index the worker writes, the search."""
        settings = self.settings
        index = DynamoSearchIndex(
            settings.table_name, region=settings.region, host=settings.aws_endpoint
        )
        return VideoSearch(index=index, storage=self.storage, signing_key=self.signing_key)

    @functools.cached_property
    def viewer(self) -> JobViewer:
        from chalicelib.viewer.page import JobViewer

        return JobViewer(
            jobs=self.jobs, storage=self.storage, url_expiry_s=self.settings.view_url_expiry_s
        )

    @functools.cached_property
    def library_pages(self) -> LibraryPages:
        from chalicelib.viewer.library import LibraryPages

        return LibraryPages(storage=self.storage)

    @functools.cached_property
    def worker(self) -> JobWorker:
        """Only the analyzer builds this (its pipelines load ML code on first use)."""
        from chalicelib.analysis.model_cache import ModelCache
        from chalicelib.analysis.model_check import ModelValidator
        from chalicelib.analysis.worker import JobWorker, WorkerSettings

        limits = model_settings(self.settings)
        cache = ModelCache(self.storage, limits.cache_bytes, limits.max_bytes)
        return JobWorker(
            storage=self.storage,
            jobs=self.jobs,
            pipelines=Pipelines(self.settings, model_cache=cache),
            settings=WorkerSettings.of(self.settings),
            queue=self.queue,
            on_finish=self.announce,
            index=self.search.index_job,
            metrics=self.metrics,
            models=self.models,
            validator=ModelValidator(
                models=self.models, storage=self.storage, catalog=self.catalog,
                settings=limits, metrics=self.metrics,
            ),
        )  # fmt: skip

    def announce(self, job: JobRecord) -> None:
        """A final job's notices: the events topic and its webhook, and the Rekognition
        NotificationChannel of a Rekognition API job. Never raises."""
        self.notifier.announce(job)
        from chalicelib.rekognition.notices import publish_notice

        publish_notice(job, lambda: self.publisher)

    @functools.cached_property
    def notifier(self) -> Notifier:
        from chalicelib.notices.events import Notifier

        notices, sqs = self.settings.notices, aws_client("sqs", self.settings)

        @functools.cache  # the template passes the ARN; locally CreateTopic is a look-up
        def topic_arn() -> str:
            return notices.topic_arn or self.publisher.topic_arn(notices.topic)

        @functools.cache
        def notices_url() -> str:
            return str(sqs.get_queue_url(QueueName=notices.queue_name)["QueueUrl"])

        return Notifier(
            publisher=self.publisher,
            topic_arn=topic_arn,
            sqs=sqs,
            notices_url=notices_url,
            public_url=notices.public_url,
        )

    @functools.cached_property
    def rekognition(self) -> RekognitionApi:
        """The Rekognition Video-compatible API (POST /)."""
        from chalicelib.rekognition.api import RekognitionApi, StartLimits

        limits = StartLimits(self.settings.max_upload_bytes, self.settings.max_queued_jobs)
        return RekognitionApi(
            jobs=self.jobs,
            storage=self.storage,
            queue=self.queue,
            submissions=self.submissions,
            limits=limits,
            signing_key=self.signing_key,
        )

    @functools.cached_property
    def signing_key(self) -> bytes:
        """Signs NextTokens and viewer links: on AWS a generated secret read once per container,
        so nobody can mint a link from ids alone; the published local key is refused once auth
        is required anywhere but on the local stage."""
        settings = self.settings
        if settings.signing_key_arn:
            secrets = aws_client("secretsmanager", settings)
            return secrets.get_secret_value(SecretId=settings.signing_key_arn)[
                "SecretString"
            ].encode()
        published = settings.signing_key == LOCAL_SIGNING_KEY.encode()
        if settings.auth == AUTH_REQUIRED and settings.stage != LOCAL_STAGE and published:
            raise RuntimeError(
                "VIDEO_JOBS_AUTH is required but tokens would be signed with the published local "
                "key: set VIDEO_JOBS_SIGNING_KEY_ARN (the template does) or "
                "VIDEO_JOBS_PAGINATION_KEY"
            )
        return settings.signing_key

    @functools.cached_property
    def keys(self) -> KeyStore:
        """Tenants' access keys, in the jobs table."""
        return access_key_store(self.settings)

    @functools.cached_property
    def secrets(self) -> KmsSecretBox:
        """Encrypts and decrypts access keys' secrets (KMS; moto's locally)."""
        return secret_box(self.settings)

    @functools.cached_property
    def auth(self) -> Authenticator:
        """Who the caller is (chalicelib/access/authenticator.py); everyone is PUBLIC with auth
        off."""
        return Authenticator(
            required=self.settings.auth == AUTH_REQUIRED,
            keys=self.keys,
            secrets=lambda: self.secrets,
            view_key=view_key(self.signing_key),
            view_ttl_s=self.settings.view_url_expiry_s,
            region=self.settings.region,
            metrics=self.metrics,
        )

    @functools.cached_property
    def publisher(self) -> Publisher:
        """Publishes job events and Rekognition notices (built on first use)."""
        from chalicelib.notices.publisher import SnsPublisher

        return SnsPublisher(aws_client("sns", self.settings))

    def reconcile(self, now: float | None = None) -> ReconcileReport:
        """The sweep that re-queues stranded jobs (scheduled on AWS, every 30 s locally), then
        settles stranded models (``chalicelib/models/reconcile.py``)."""
        report = reconcile(
            self.jobs,
            self.queue,
            stale_after_s=self.settings.stale_after_s,
            redelivery_s=self.settings.visibility_timeout_s,
            now=now,
            on_final=self._upload_expired,
        )
        self.reconcile_models(now)
        return report

    def reconcile_models(self, now: float | None = None) -> ModelSweep:
        return reconcile_models(
            self.catalog, self.queue, stale_after_s=self.settings.stale_after_s,
            redelivery_s=self.settings.visibility_timeout_s,
            max_attempts=self.settings.max_attempts, now=now,
        )  # fmt: skip

    def _upload_expired(self, job: JobRecord) -> None:
        """The sweep failed an upload nobody started: count it, then announce it."""
        fields = {"Pipeline": job.pipeline_id, "ErrorCode": "UploadExpired"}
        self.metrics.put("JobsFailed", 1, fields, tenant=job.tenant, job_id=job.job_id)
        self.announce(job)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()  # one per process: creating sessions reloads service models


def aws_client(name: str, settings: Settings) -> Any:
    """A boto3 client for ``name`` aimed at real AWS or the configured emulator (with the
    emulator's credentials: nothing local needs AWS_* variables)."""
    config = Config(retries={"max_attempts": 4, "mode": "standard"})
    if name == "s3":  # path-style URLs work against emulators; SigV4 for presigned URLs
        config = config.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    return _session().client(
        name,
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint,
        config=config,
        **emulator_credentials(settings.aws_endpoint),
    )


def job_store(settings: Settings) -> DynamoJobStore:
    """Job rows, with tenants' places when a limit on active jobs is set."""
    table, region, host = settings.table_name, settings.region, settings.aws_endpoint
    limit = settings.max_active_jobs_per_tenant
    places = DynamoPlaceBook(table, limit=limit, region=region, host=host) if limit > 0 else None
    return DynamoJobStore(table, region=region, host=host, places=places)


def access_key_store(settings: Settings) -> DynamoKeyStore:
    """Tenants' access keys (the API's authenticator, and ``infra.keys`` for operators)."""
    return DynamoKeyStore(settings.table_name, region=settings.region, host=settings.aws_endpoint)


def secret_box(settings: Settings) -> KmsSecretBox:
    """Encrypts access keys' secrets under the stage's KMS key."""
    return KmsSecretBox(aws_client("kms", settings), settings.keys_kms_key)


def metrics_ledger(settings: Settings) -> MetricsLedger | None:
    """The local stack's metrics file, when it keeps one (VIDEO_JOBS_METRICS_FILE)."""
    return MetricsLedger(settings.metrics_file) if settings.metrics_file else None


def metrics_of(settings: Settings) -> Metrics:
    return Metrics(printer(metrics_ledger(settings)), service=settings.metrics_service)


@functools.cache
def services() -> Services:
    settings = load_settings()
    sqs = aws_client("sqs", settings)
    queue_url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    return Services(
        settings,
        S3Storage(aws_client("s3", settings), settings.bucket),
        SqsQueue(sqs, queue_url),
        job_store(settings),
    )


def _webhook_secret(settings: Settings) -> str | None:
    """On AWS the key lives in Secrets Manager (named by ARN), never in a plain variable."""
    notices = settings.notices
    if notices.secret_arn:
        secrets = aws_client("secretsmanager", settings)
        return str(secrets.get_secret_value(SecretId=notices.secret_arn)["SecretString"])
    return notices.secret


@functools.cache
def courier() -> Courier:
    """What the deliver_notice function needs: the notices queues and the signing key."""
    settings = load_settings()
    sqs, notices = aws_client("sqs", settings), settings.notices
    from chalicelib.notices.delivery import Courier

    return Courier(
        sqs=sqs,
        queue_url=sqs.get_queue_url(QueueName=notices.queue_name)["QueueUrl"],
        dlq_url=sqs.get_queue_url(QueueName=notices.dlq_name)["QueueUrl"],
        settings=settings.notices,
        secret=_webhook_secret(settings),
        allow_loopback=settings.stage == LOCAL_STAGE,
        metrics=metrics_of(settings),
    )
