"""The ``Publisher`` port: messages to a topic (SNS on AWS and in the emulator).

Two implementations honour one contract (tests/integration/test_publisher_contract.py runs
against both): ``SnsPublisher`` over a boto3 SNS client, and ``InMemoryPublisher``, which keeps
what it was given per topic (for unit tests). A topic that does not exist is refused with
``UnknownTopic``, so a caller's typo is not silently dropped.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import UnknownTopic

_MISSING_TOPIC = ("NotFound", "NotFoundException", "InvalidParameter")


@dataclass(frozen=True)
class Published:
    message: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Publisher(ABC):
    @abstractmethod
    def publish(
        self, topic_arn: str, message: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        """Publish ``message`` (with string ``attributes``) to the topic ``topic_arn``."""

    @abstractmethod
    def topic_arn(self, name: str) -> str:
        """The ARN of the topic called ``name``, created if it is not there yet."""


class SnsPublisher(Publisher):
    def __init__(self, sns_client: Any):
        self._sns = sns_client

    def publish(
        self, topic_arn: str, message: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        wire = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in (attributes or {}).items()
        }
        try:
            self._sns.publish(TopicArn=topic_arn, Message=message, MessageAttributes=wire)
        except self._sns.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_TOPIC:
                raise UnknownTopic(f"no SNS topic {topic_arn!r}") from None
            raise

    def topic_arn(self, name: str) -> str:
        return str(self._sns.create_topic(Name=name)["TopicArn"])  # a look-up if it exists


class InMemoryPublisher(Publisher):
    """Topics in a dict: ``topic_arn`` creates one, ``published`` reads back what it got."""

    ARN_PREFIX = "arn:aws:sns:local:000000000000:"

    def __init__(self, topics: Iterable[str] = ()) -> None:
        """``topics``: ARNs of topics that exist from the start."""
        self._topics: dict[str, list[Published]] = {arn: [] for arn in topics}
        self._lock = threading.Lock()

    def publish(
        self, topic_arn: str, message: str, attributes: Mapping[str, str] | None = None
    ) -> None:
        with self._lock:
            if topic_arn not in self._topics:
                raise UnknownTopic(f"no SNS topic {topic_arn!r}")
            self._topics[topic_arn].append(Published(message, dict(attributes or {})))

    def topic_arn(self, name: str) -> str:
        arn = self.ARN_PREFIX + name
        with self._lock:
            self._topics.setdefault(arn, [])
        return arn

    def published(self, topic_arn: str) -> list[Published]:
        with self._lock:
            return list(self._topics.get(topic_arn, []))
