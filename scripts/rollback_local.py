"""Roll back the local stack's AWS resources on a running moto_server, then prove nothing is left.

    python -m scripts.rollback_local --endpoint http://127.0.0.1:5010 [--dry-run]
    python -m scripts.rollback_local --endpoint http://127.0.0.1:5010 --reset

Deletes, in this order, what ``infra.resources.bootstrap`` creates: the job table, every object
(and object version) in the media bucket and then the bucket, the job queue and the notices
queue with their dead-letter queues, and the events topic. Names come from the same settings
the app reads (``VIDEO_JOBS_TABLE``, ...), so a stack started with other names is rolled back
by setting the same variables. ``--reset`` instead asks the emulator to forget everything
(``POST /moto-api/reset``), other apps' resources included.

Either way it then verifies: the table, bucket, queues and topic are absent from the emulator's
lists.
Prints one line per step; exits 0 only if nothing is left, 1 if something is (or the emulator
does not answer), 2 if refused. Running it twice is fine: what is already gone counts as
deleted. It talks to emulators only: an endpoint is required and an ``amazonaws.com`` host is
refused (docs/rollback.md covers real AWS).

``make run`` keeps its emulator's state on disk (``make clean-state`` forgets it); this script
is for a moto_server that outlives the stack, and for rehearsing the cloud rollback's order and
checks. Run against a live ``make run``, it works (the deletes are kept), and then the worker
runner exits because its queue is gone, and infra/local_stack.py restarts it with a growing
delay until the stack is stopped; the next start creates the resources again.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.bootstrap import aws_client
from chalicelib.config import Settings, load_settings
from infra.resources import dlq_name

RESET_PATH = "/moto-api/reset"


class RollbackError(Exception):
    """The rollback cannot run as asked (no endpoint, a real AWS endpoint, ...)."""


@dataclass
class Report:
    steps: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.steps.append(line)
        print(f"rollback: {line}", flush=True)


def emulator_settings(endpoint: str | None) -> Settings:
    """The app's settings aimed at ``endpoint`` (or $VIDEO_JOBS_AWS_ENDPOINT), emulators only."""
    endpoint = endpoint or os.environ.get("VIDEO_JOBS_AWS_ENDPOINT")
    if not endpoint:
        raise RollbackError("no endpoint: pass --endpoint http://127.0.0.1:5010 (the emulator)")
    host = urlsplit(endpoint).hostname or ""
    if host == "amazonaws.com" or host.endswith(".amazonaws.com"):
        raise RollbackError(f"{endpoint} is real AWS: follow docs/rollback.md instead")
    return replace(load_settings(), aws_endpoint=endpoint)


def queue_names(settings: Settings) -> tuple[str, ...]:
    notices = settings.notices
    return settings.queue_name, dlq_name(settings), notices.queue_name, notices.dlq_name


def topic_arn(settings: Settings) -> str | None:
    """The events topic's ARN, if the emulator lists it."""
    topics = aws_client("sns", settings).list_topics().get("Topics", [])
    suffix = f":{settings.notices.topic}"
    return next((t["TopicArn"] for t in topics if t["TopicArn"].endswith(suffix)), None)


def delete_topic(settings: Settings, report: Report, dry_run: bool) -> None:
    name, arn = settings.notices.topic, topic_arn(settings)
    if arn is None:
        report.say(f"topic {name}: already gone")
    elif dry_run:
        report.say(f"topic {name}: would delete")
    else:
        aws_client("sns", settings).delete_topic(TopicArn=arn)
        report.say(f"topic {name}: deleted")


def delete_table(settings: Settings, report: Report, dry_run: bool) -> None:
    dynamodb = aws_client("dynamodb", settings)
    if settings.table_name not in dynamodb.list_tables()["TableNames"]:
        report.say(f"table {settings.table_name}: already gone")
        return
    if dry_run:
        count = dynamodb.describe_table(TableName=settings.table_name)["Table"]["ItemCount"]
        report.say(f"table {settings.table_name}: would delete (about {count} jobs)")
        return
    dynamodb.delete_table(TableName=settings.table_name)
    dynamodb.get_waiter("table_not_exists").wait(
        TableName=settings.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    report.say(f"table {settings.table_name}: deleted")


def _object_versions(s3, bucket: str) -> list[dict]:
    """Every key and version (delete markers too), so even a versioned bucket can be removed."""
    found: list[dict] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    return found


def delete_bucket(settings: Settings, report: Report, dry_run: bool) -> None:
    s3 = aws_client("s3", settings)
    names = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if settings.bucket not in names:
        report.say(f"bucket {settings.bucket}: already gone")
        return
    objects = _object_versions(s3, settings.bucket)
    if dry_run:
        report.say(
            f"bucket {settings.bucket}: would delete it and {len(objects)} object version(s)"
        )
        return
    for start in range(0, len(objects), 1000):  # DeleteObjects takes at most 1000 keys
        batch = objects[start : start + 1000]
        s3.delete_objects(Bucket=settings.bucket, Delete={"Objects": batch, "Quiet": True})
    s3.delete_bucket(Bucket=settings.bucket)
    report.say(f"bucket {settings.bucket}: deleted it and {len(objects)} object version(s)")


def delete_queues(settings: Settings, report: Report, dry_run: bool) -> None:
    sqs = aws_client("sqs", settings)
    for name in queue_names(settings):
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if "NonExistentQueue" not in error.response["Error"]["Code"]:
                raise
            report.say(f"queue {name}: already gone")
            continue
        if dry_run:
            report.say(f"queue {name}: would delete")
            continue
        sqs.delete_queue(QueueUrl=url)
        report.say(f"queue {name}: deleted")


def reset_emulator(endpoint: str, report: Report) -> None:
    response = requests.post(endpoint.rstrip("/") + RESET_PATH, timeout=30)
    response.raise_for_status()
    report.say(f"emulator at {endpoint}: reset (every resource in it forgotten)")


def leftovers(settings: Settings) -> list[str]:
    """What of the stack's resources the emulator still lists; empty when the rollback is done."""
    left = []
    if settings.table_name in aws_client("dynamodb", settings).list_tables()["TableNames"]:
        left.append(f"table {settings.table_name}")
    buckets = aws_client("s3", settings).list_buckets().get("Buckets", [])
    if settings.bucket in {bucket["Name"] for bucket in buckets}:
        left.append(f"bucket {settings.bucket}")
    urls = aws_client("sqs", settings).list_queues().get("QueueUrls", [])
    listed = {url.rsplit("/", 1)[-1] for url in urls}
    left += [f"queue {name}" for name in queue_names(settings) if name in listed]
    if topic_arn(settings) is not None:
        left.append(f"topic {settings.notices.topic}")
    return left


def rollback(settings: Settings, *, reset: bool = False, dry_run: bool = False) -> Report:
    report = Report()
    if reset and not dry_run:
        reset_emulator(settings.aws_endpoint, report)
    else:
        delete_table(settings, report, dry_run)
        delete_bucket(settings, report, dry_run)
        delete_queues(settings, report, dry_run)
        delete_topic(settings, report, dry_run)
    if dry_run:
        report.say("dry run: nothing was deleted")
        return report
    report.leftovers = leftovers(settings)
    if report.leftovers:
        report.say(f"NOT DONE, still listed: {', '.join(report.leftovers)}")
    else:
        names = ", ".join(
            [settings.table_name, settings.bucket, *queue_names(settings), settings.notices.topic]
        )
        report.say(f"verified: the emulator lists none of {names}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="the emulator's URL (default: $VIDEO_JOBS_AWS_ENDPOINT)")
    parser.add_argument("--reset", action="store_true", help="POST /moto-api/reset instead")
    parser.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    args = parser.parse_args(argv)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")  # the emulator accepts any credentials
    try:
        settings = emulator_settings(args.endpoint)
        requests.get(settings.aws_endpoint, timeout=10)  # fail fast, before boto3's retries
        report = rollback(settings, reset=args.reset, dry_run=args.dry_run)
    except RollbackError as error:
        print(f"rollback: refused: {error}", file=sys.stderr)
        return 2
    except (EndpointConnectionError, requests.ConnectionError):
        print(f"rollback: FAILED: nothing answers at {settings.aws_endpoint}", file=sys.stderr)
        return 1
    return 1 if report.leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
