"""ONE contract, run against every Publisher implementation (SNS on moto, and in memory): what is
published reaches the topic's subscribers with its attributes, a topic is found by name, and a
topic that does not exist is refused."""

import json

import pytest

from chalicelib.bootstrap import aws_client
from chalicelib.errors import UnknownTopic
from chalicelib.notices.publisher import InMemoryPublisher, SnsPublisher


def _sns_harness(aws):
    """SnsPublisher on moto, and what a queue subscribed to its topic received."""
    sns, sqs = aws_client("sns", aws.settings), aws_client("sqs", aws.settings)
    publisher = SnsPublisher(sns)
    arn = publisher.topic_arn("contract-topic")
    queue_url = sqs.create_queue(QueueName="contract-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    def received() -> list[tuple[str, dict]]:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        envelopes = [json.loads(message["Body"]) for message in answer.get("Messages", [])]
        return [
            (e["Message"], {n: a["Value"] for n, a in e.get("MessageAttributes", {}).items()})
            for e in envelopes
        ]

    return publisher, arn, received


@pytest.fixture(params=["sns", "memory"])
def harness(request):
    if request.param == "sns":
        return _sns_harness(request.getfixturevalue("aws"))
    publisher = InMemoryPublisher()
    arn = publisher.topic_arn("contract-topic")
    return (
        publisher,
        arn,
        lambda: [(p.message, dict(p.attributes)) for p in publisher.published(arn)],
    )


def test_a_message_reaches_the_topic_with_its_attributes(harness):
    publisher, arn, received = harness
    publisher.publish(arn, '{"job_id": "j"}', {"type": "job.completed", "job_id": "j"})
    publisher.publish(arn, "plain text")
    assert received() == [
        ('{"job_id": "j"}', {"type": "job.completed", "job_id": "j"}),
        ("plain text", {}),
    ]


def test_a_topic_is_found_again_by_its_name(harness):
    publisher, arn, _ = harness
    assert publisher.topic_arn("contract-topic") == arn
    assert publisher.topic_arn("another-topic") != arn


def test_a_topic_that_does_not_exist_is_refused(harness):
    publisher, arn, received = harness
    gone = arn.rsplit(":", 1)[0] + ":no-such-topic"
    with pytest.raises(UnknownTopic, match="no-such-topic"):
        publisher.publish(gone, "lost")
    assert received() == []
