"""Looking into emulated AWS from tests: what is in the table and the queue."""

from __future__ import annotations

from chalicelib.bootstrap import Services, aws_client


def queue_size(services: Services) -> int:
    """Messages waiting in the job queue."""
    attributes = aws_client("sqs", services.settings).get_queue_attributes(
        QueueUrl=services.queue.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def job_ids(services: Services) -> list[str]:
    """Ids of every job row in the table (idempotency keys have no status: left out)."""
    items = aws_client("dynamodb", services.settings).scan(
        TableName=services.settings.table_name,
        FilterExpression="attribute_exists(#s)",
        ExpressionAttributeNames={"#s": "status"},
        ConsistentRead=True,
    )["Items"]
    return sorted(item["job_id"]["S"] for item in items)


def key_items(services: Services) -> list[dict]:
    """The idempotency-key items in the table."""
    items = aws_client("dynamodb", services.settings).scan(
        TableName=services.settings.table_name,
        FilterExpression="attribute_exists(fingerprint)",
        ConsistentRead=True,
    )["Items"]
    return items
