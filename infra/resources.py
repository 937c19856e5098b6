"""The AWS resources video-jobs needs, defined once, and an idempotent bootstrap for them.

The local emulator (moto_server) is set up from these definitions; the cloud template is
generated from the same ones, so local and cloud cannot drift apart.

    python -m infra.resources --endpoint http://127.0.0.1:5010   # create or confirm, twice is fine
    python -m infra.resources --requeue    # and re-send unfinished jobs (the local stack, at start)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.bootstrap import aws_client
from chalicelib.config import DEFAULT_MAX_ATTEMPTS, Settings, load_settings
from chalicelib.jobs.ids import PREFIX
from chalicelib.jobs.record import RUNNING, UNFINISHED_STATES
from chalicelib.jobs.store import JobStore

ANALYZER_TIMEOUT_S = 600
# SQS must not redeliver a message while the function that holds it may still be running; AWS
# advises 6x the function timeout for Lambda triggers. The local runner extends visibility while
# it works, so the emulator uses a short one (Settings.visibility_timeout_s) and recovers
# crashed jobs quickly.
VISIBILITY_TIMEOUT_S = 6 * ANALYZER_TIMEOUT_S
MAX_RECEIVE_COUNT = DEFAULT_MAX_ATTEMPTS  # deliveries before the message is dead-lettered
# The notices queue: a failed webhook attempt is re-queued by its handler (never left for
# redelivery), so only a handler that keeps crashing reaches this count.
NOTICE_TIMEOUT_S = 30  # the deliver_notice function's timeout
NOTICE_VISIBILITY_TIMEOUT_S = 6 * NOTICE_TIMEOUT_S
NOTICE_MAX_RECEIVE_COUNT = 5
DLQ_RETENTION_S = 14 * 24 * 3600
MEDIA_PREFIX = f"{PREFIX}/"  # every key the app writes: videos and results documents
JOB_TTL_ATTRIBUTE = "expires_at"  # chalicelib.jobs.record.JobRecord.expires_at, epoch seconds
SSE_ALGORITHM = "AES256"  # SSE-S3: encrypted at rest with no KMS key to manage or grant
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def dlq_name(settings: Settings) -> str:
    return f"{settings.queue_name}-dlq"


def table_definition(settings: Settings) -> dict:
    return {
        "TableName": settings.table_name,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("job_id", "list_tenant", "created_at", "term_key")
        ],
        "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [tenant_index(), term_index()],
        "BillingMode": "PAY_PER_REQUEST",
    }


def tenant_index() -> dict:
    """A tenant's jobs newest first (chalicelib/jobs/dynamo.py, TENANT_INDEX): only job rows
    carry ``list_tenant``. Same shape for boto3 and CloudFormation."""
    return {
        "IndexName": "tenant-created",
        "KeySchema": [
            {"AttributeName": "list_tenant", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def term_index() -> dict:
    """A term's postings in a tenant's videos (chalicelib/search/dynamo.py, TERM_INDEX): only
    search postings carry ``term_key``. Same shape for boto3 and CloudFormation."""
    return {
        "IndexName": "tenant-term",
        "KeySchema": [{"AttributeName": "term_key", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }


def queue_attributes(
    dlq_arn: str, visibility_timeout_s: int, max_receive_count: int = MAX_RECEIVE_COUNT
) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(visibility_timeout_s),
        "ReceiveMessageWaitTimeSeconds": "20",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        ),
    }


def dlq_attributes() -> dict[str, str]:
    return {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}


def time_to_live() -> dict:
    """Old jobs vanish on their own (same shape for boto3 and CloudFormation)."""
    return {"AttributeName": JOB_TTL_ATTRIBUTE, "Enabled": True}


def point_in_time_recovery() -> dict:
    """A bad deploy or script that corrupts job rows can be undone (boto3 and CFN shape)."""
    return {"PointInTimeRecoveryEnabled": True}


def bucket_encryption() -> dict:
    """boto3's ServerSideEncryptionConfiguration (CloudFormation spells the keys differently)."""
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_ALGORITHM}}]}


def lifecycle_configuration(retention_days: int) -> dict:
    """boto3's LifecycleConfiguration: videos and results expire with their job rows. Tenants'
    models (``tenant_models/``, chalicelib/models/record.py) are outside the rule on purpose:
    a model is kept until its tenant deletes it, like its row (which has no TTL); the reconcile
    sweep deletes the files of models that failed or were never started."""
    return {
        "Rules": [
            {
                "ID": "expire-video-jobs",
                "Filter": {"Prefix": MEDIA_PREFIX},
                "Status": "Enabled",
                "Expiration": {"Days": retention_days},
            }
        ]
    }


@dataclass(frozen=True)
class Bootstrapped:
    table: str
    bucket: str
    queue_url: str
    dlq_url: str
    notices_url: str = ""
    notices_dlq_url: str = ""
    events_topic_arn: str = ""


def ensure_table(settings: Settings) -> None:
    dynamodb = aws_client("dynamodb", settings)
    if settings.table_name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(**table_definition(settings))
        dynamodb.get_waiter("table_exists").wait(TableName=settings.table_name)
    ensure_indexes(dynamodb, settings)
    ttl = dynamodb.describe_time_to_live(TableName=settings.table_name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):  # enabling twice is an error
        dynamodb.update_time_to_live(
            TableName=settings.table_name, TimeToLiveSpecification=time_to_live()
        )
    dynamodb.update_continuous_backups(
        TableName=settings.table_name, PointInTimeRecoverySpecification=point_in_time_recovery()
    )


def ensure_indexes(dynamodb: Any, settings: Settings) -> None:
    """A table from before the job listing or the search gets the indexes it lacks (a local
    stack's kept state), one at a time: DynamoDB creates one index per update."""
    definition = table_definition(settings)
    for index in definition["GlobalSecondaryIndexes"]:
        table = dynamodb.describe_table(TableName=settings.table_name)["Table"]
        if index["IndexName"] in {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}:
            continue
        dynamodb.update_table(
            TableName=settings.table_name,
            AttributeDefinitions=definition["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=settings.table_name)


def ensure_bucket(settings: Settings) -> None:
    s3 = aws_client("s3", settings)
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if settings.bucket not in existing:
        extra = {}
        if settings.region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
        s3.create_bucket(Bucket=settings.bucket, **extra)
    s3.put_public_access_block(
        Bucket=settings.bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
    )
    s3.put_bucket_encryption(
        Bucket=settings.bucket, ServerSideEncryptionConfiguration=bucket_encryption()
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=settings.bucket,
        LifecycleConfiguration=lifecycle_configuration(settings.job_retention_days),
    )


def ensure_queues(
    settings: Settings,
    visibility_timeout_s: int,
    names: tuple[str, str] | None = None,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> tuple[str, str]:
    """Create (or update in place) a queue and its dead-letter queue (by default the jobs
    queue); returns both URLs."""
    name, dead_letters = names or (settings.queue_name, dlq_name(settings))
    sqs = aws_client("sqs", settings)
    dlq_url = sqs.create_queue(QueueName=dead_letters, Attributes=dlq_attributes())["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = queue_attributes(dlq_arn, visibility_timeout_s, max_receive_count)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return queue_url, dlq_url


def ensure_topic(settings: Settings) -> str:
    """The events topic (CreateTopic returns the existing one); its ARN."""
    return aws_client("sns", settings).create_topic(Name=settings.notices.topic)["TopicArn"]


def ensure_keys_kms_key(settings: Settings) -> None:
    """The KMS key that encrypts access keys' secrets, under its alias (the local stack's; the
    cloud template creates its own and names it in VIDEO_JOBS_KEYS_KMS_KEY)."""
    if not settings.keys_kms_key.startswith("alias/"):
        return  # a key id or ARN: it exists already
    kms = aws_client("kms", settings)
    try:
        kms.describe_key(KeyId=settings.keys_kms_key)
        return
    except kms.exceptions.NotFoundException:
        pass
    key = kms.create_key(Description="video-jobs: encrypts access keys' secrets")["KeyMetadata"]
    kms.create_alias(AliasName=settings.keys_kms_key, TargetKeyId=key["KeyId"])


def bootstrap(
    settings: Settings | None = None, *, visibility_timeout_s: int | None = None
) -> Bootstrapped:
    """Create whatever is missing; running it again changes nothing."""
    settings = settings or load_settings()
    visibility_timeout_s = visibility_timeout_s or settings.visibility_timeout_s
    ensure_table(settings)
    ensure_bucket(settings)
    queue_url, dlq_url = ensure_queues(settings, visibility_timeout_s)
    notices = settings.notices
    notices_url, notices_dlq_url = ensure_queues(
        settings,
        min(visibility_timeout_s, NOTICE_VISIBILITY_TIMEOUT_S),
        (notices.queue_name, notices.dlq_name),
        NOTICE_MAX_RECEIVE_COUNT,
    )
    ensure_keys_kms_key(settings)
    return Bootstrapped(
        settings.table_name,
        settings.bucket,
        queue_url,
        dlq_url,
        notices_url,
        notices_dlq_url,
        ensure_topic(settings),
    )


def requeue_unfinished(jobs: JobStore, sqs: Any, queue_url: str, now: float | None = None) -> int:
    """Send the id of every pending or running job again: the emulator keeps no queue across a
    restart. A running job's message waits until its lease has run out (SQS DelaySeconds, at
    most 900), so the claim that receives it can take the job over; claims make extras harmless.
    """
    from chalicelib.adapters.queue import encode_message

    now = time.time() if now is None else now
    sent = 0
    for job in jobs.active():
        if job.status not in UNFINISHED_STATES:  # an upload is queued when it is started
            continue
        wait_s = (job.lease_expires_at or 0) - now + 1 if job.status == RUNNING else 0
        delay = min(900, max(0, math.ceil(wait_s)))
        sqs.send_message(
            QueueUrl=queue_url, MessageBody=encode_message(job.job_id), DelaySeconds=delay
        )
        sent += 1
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="emulator URL (default: from the environment)")
    parser.add_argument(
        "--requeue", action="store_true", help="then re-send the id of every unfinished job"
    )
    args = parser.parse_args()
    if args.endpoint:
        os.environ["VIDEO_JOBS_AWS_ENDPOINT"] = args.endpoint
    created = bootstrap()
    print(created)
    if args.requeue:
        from chalicelib.bootstrap import services

        wired = services()
        sqs = aws_client("sqs", wired.settings)
        sent = requeue_unfinished(wired.jobs, sqs, wired.queue.queue_url)
        print(f"re-queued {sent} unfinished jobs")


if __name__ == "__main__":
    main()
