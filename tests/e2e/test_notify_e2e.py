"""Completion notices on the real local stack: moto_server + chalice local + the worker runner,
a real HTTP receiver on 127.0.0.1 that fails the first attempt, and an SQS queue subscribed to
the events topic."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import quote

import boto3
import pytest
import requests

from tests.support.stack import local_stack
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "e2e-webhook-secret-0123456789abcdef"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory):
    env = {
        "VIDEO_JOBS_WEBHOOK_SECRET": SECRET,
        "VIDEO_JOBS_WEBHOOK_FIRST_RETRY_S": "1",  # a quick retry; the schedule has its own tests
    }
    with local_stack(tmp_path_factory.mktemp("stack"), env) as running:
        yield running.base, running.aws_base


def aws(endpoint: str, name: str):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip


def subscribe_a_queue(endpoint: str) -> str:
    sqs, sns = aws(endpoint, "sqs"), aws(endpoint, "sns")
    url = sqs.create_queue(QueueName="operator-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(
        ":video-jobs-events")]  # fmt: skip
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    return url


def signed(received) -> dict:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Video-Jobs-Signature"], expected)
    assert received.headers["Content-Type"] == "application/json"
    return json.loads(received.body)


def test_a_finished_job_is_posted_retried_once_and_published(stack, tiny_mp4):
    base, endpoint = stack
    events_queue = subscribe_a_queue(endpoint)
    with WebhookReceiver([500, 200]) as hook:
        response = requests.post(
            f"{base}/video/submit?callback_url={quote(hook.url, safe='')}",
            data=tiny_mp4.read_bytes(),
            headers={"Content-Type": "video/mp4"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        first, second = hook.wait_for(2, timeout_s=180)
        time.sleep(1.5)  # a third attempt after the 200 would be a bug
        assert len(hook.received) == 2
    one, two = signed(first), signed(second)
    assert one["event_id"] == two["event_id"] == first.headers["X-Video-Jobs-Event-Id"]
    assert second.headers["X-Video-Jobs-Event-Id"] == one["event_id"]
    assert one.pop("sent_at") < two.pop("sent_at") and one == two
    assert one["type"] == "job.completed" and one["job_id"] == job_id
    assert one["status_url"] == f"{base}/video/status/{job_id}"
    assert requests.get(one["results_url"], timeout=10).status_code == 200
    assert requests.get(one["status_url"], timeout=10).json()["status"] == "completed"

    sqs = aws(endpoint, "sqs")
    messages = sqs.receive_message(QueueUrl=events_queue, WaitTimeSeconds=5).get("Messages", [])
    (published,) = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert published["event_id"] == one["event_id"] and published["job_id"] == job_id


def test_a_bad_callback_is_refused_at_submit_on_the_live_stack(stack, tiny_mp4):
    base, _ = stack
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/", "http://0177.0.0.1/"):
        response = requests.post(
            f"{base}/video/submit?callback_url={quote(url, safe='')}",
            data=tiny_mp4.read_bytes(),
            headers={"Content-Type": "video/mp4"},
            timeout=30,
        )
        assert response.status_code == 400 and response.json()["code"] == "BadRequest"
