"""Every metric of docs/operations.md, as EMF lines, from real jobs through the app (moto in
process, the real yolo pipeline, a real webhook receiver), read back from the metrics file the
local stack keeps, and summed by GET /video/stats."""

import json
import time
from dataclasses import replace

import pytest

from chalicelib.bootstrap import aws_client, services
from chalicelib.metrics import NAMESPACE, UNITS
from chalicelib.models.record import (
    FAILED,
    UPLOADING,
    VALIDATING,
    ModelRecord,
    encode_model_message,
    new_model_id,
)
from chalicelib.notices.delivery import Courier
from chalicelib.notices.events import Notice
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def metrics_file(aws_env, monkeypatch, tmp_path):
    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("VIDEO_JOBS_METRICS_FILE", str(path))
    return path


def require_auth(monkeypatch) -> None:
    monkeypatch.setenv("VIDEO_JOBS_AUTH", "required")
    monkeypatch.setenv("VIDEO_JOBS_PAGINATION_KEY", "a-test-key-nobody-publishes-0123456789")
    services.cache_clear()


def emf_lines(path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # each one is a CloudWatch EMF object
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE and ["Service"] in directive["Dimensions"]
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int | float)
        for dimensions in directive["Dimensions"]:
            assert all(isinstance(line[name], str) for name in dimensions)
    return lines


def named(lines: list[dict], name: str) -> list[dict]:
    return [line for line in lines if name in line]


def submit(client, data: bytes, query: str = "") -> str:
    response = client.http.post(
        f"/video/submit{query}", body=data, headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 202, response.body
    return json.loads(response.body)["job_id"]


def analyze(client, job_id: str) -> None:
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)


def deliver(aws, job_id: str, url: str, **settings) -> None:
    sqs = aws_client("sqs", aws.settings)
    notices = aws.settings.notices
    courier = Courier(
        sqs=sqs,
        queue_url=sqs.get_queue_url(QueueName=notices.queue_name)["QueueUrl"],
        dlq_url=sqs.get_queue_url(QueueName=notices.dlq_name)["QueueUrl"],
        settings=replace(notices, **settings),
        secret="test-webhook-secret",
        allow_loopback=True,
        metrics=aws.metrics,
    )
    event = {"event_id": f"{job_id}.completed", "job_id": job_id, "status": "completed"}
    courier.handle(Notice(event, url, first_attempt_at=None, due_at=time.time()).encode())


def test_jobs_notices_and_refusals_write_every_metric(
    metrics_file, client, aws, mp4_bytes, model_path, monkeypatch
):
    done = submit(client, mp4_bytes, "?pipeline_id=yolo&sample_fps=2")
    analyze(client, done)
    failed = submit(client, mp4_bytes)
    aws.storage.delete_file(f"video_jobs/{failed}.mp4")  # its video expired: InputMissing
    analyze(client, failed)
    with WebhookReceiver() as hook:
        deliver(aws, done, hook.url)
    with WebhookReceiver(statuses=[500]) as hook:
        deliver(aws, failed, hook.url, retry_window_s=0)  # one failure ends it
    dropped = json.loads(client.http.post("/video/uploads").body)["job_id"]
    client.http.delete(f"/video/{dropped}")  # its owner cancels it
    model = ModelRecord.new(new_model_id(), name="hats")
    aws.models.add(model, max_models=1)
    aws.models.move(model, (UPLOADING,), status=VALIDATING)  # started, then its file vanished
    client.lambda_.invoke("analyze_video", client.events.generate_sqs_event(
        [encode_model_message(model.model_id)], "video-jobs-queue"))  # fmt: skip
    assert aws.models.find(model.model_id).status == FAILED
    require_auth(monkeypatch)
    assert client.http.get(f"/video/status/{done}").status_code == 401

    lines = emf_lines(metrics_file)
    assert {name for name in UNITS if named(lines, name)} == set(UNITS)
    assert [line["Pipeline"] for line in named(lines, "JobsSubmitted")] == ["yolo", "yolo_ocr"]
    assert [line["job_id"] for line in named(lines, "JobsCancelled")] == [dropped]
    assert [line["job_id"] for line in named(lines, "JobsCompleted")] == [done]
    assert [(line["job_id"], line["ErrorCode"]) for line in named(lines, "JobsFailed")] == [
        (failed, "InputMissing")
    ]
    (frames,) = named(lines, "FramesAnalyzed")
    assert frames["FramesAnalyzed"] == 4 and frames["tenant"] == "default"  # 2 s at 2 frames/s
    (slices,) = named(lines, "SlicesPerJob")
    assert slices["SlicesPerJob"] == 1
    (seconds,) = named(lines, "AnalysisSeconds")
    (per_minute,) = named(lines, "SecondsPerVideoMinute")
    assert per_minute["SecondsPerVideoMinute"] == pytest.approx(
        seconds["AnalysisSeconds"] * 30, rel=0.01, abs=0.002
    )  # the 4 frames cover 2 s of video: a thirtieth of a minute
    assert len(named(lines, "QueueWaitSeconds")) == 2
    assert [line["Outcome"] for line in named(lines, "NoticeAttempts")] == ["delivered", "failed"]
    assert [line["job_id"] for line in named(lines, "NoticesDeadLettered")] == [failed]
    assert [line["Reason"] for line in named(lines, "AuthRefusals")] == ["MissingToken"]
    assert all("tenant" not in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][-1]
               for line in lines)  # fmt: skip


def test_stats_sum_the_last_hour_for_the_local_operator(metrics_file, client, aws, mp4_bytes):
    job_id = submit(client, mp4_bytes)
    aws.storage.delete_file(f"video_jobs/{job_id}.mp4")
    analyze(client, job_id)
    response = client.http.get("/video/stats?minutes=60")
    assert response.status_code == 200, response.body
    stats = json.loads(response.body)
    assert stats["minutes"] == 60 and stats["tenant"] is None  # auth off: every tenant
    found = stats["metrics"]
    assert found["JobsSubmitted"]["sum"] == 1
    assert found["JobsSubmitted"]["by"] == {"Pipeline": {"yolo_ocr": 1}}
    assert found["JobsFailed"]["by"]["ErrorCode"] == {"InputMissing": 1}
    assert found["QueueWaitSeconds"]["count"] == 1 and "p95" in found["QueueWaitSeconds"]
    assert "JobsCompleted" not in found


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?minutes=0", "minutes must be a whole number from 1 to 1440"),
        ("?minutes=abc", "got 'abc'"),
        ("?minutes=" + "9" * 400, "(400 characters)"),
        ("?minutes=%EF%BC%91", "minutes must be"),  # a full-width digit one
        ("?minutes=1e3", "minutes must be"),
        ("?tenant=acme", "unknown query parameter(s) 'tenant'"),
    ],
)
def test_bad_stats_parameters_are_a_clear_400(metrics_file, client, aws, query, words):
    response = client.http.get(f"/video/stats{query}")
    assert response.status_code == 400
    body = json.loads(response.body)
    assert body["code"] == "BadRequest" and words in body["message"]


def test_without_a_metrics_file_stats_point_to_cloudwatch(client, aws):
    response = client.http.get("/video/stats")
    assert response.status_code == 404
    body = json.loads(response.body)
    assert body["code"] == "StatsUnavailable" and "docs/operations.md" in body["message"]


def test_with_auth_required_stats_need_a_token(metrics_file, client, aws, monkeypatch):
    require_auth(monkeypatch)
    response = client.http.get("/video/stats")
    assert response.status_code == 401
    assert json.loads(response.body)["code"] == "Unauthorized"


def test_an_upload_the_sweep_fails_counts_as_failed(metrics_file, client, aws):
    job_id = json.loads(client.http.post("/video/uploads").body)["job_id"]
    report = aws.reconcile(now=time.time() + aws.settings.upload_url_expiry_s + 1)
    assert report.expired == [job_id]
    (line,) = named(emf_lines(metrics_file), "JobsFailed")
    assert (line["job_id"], line["ErrorCode"], line["tenant"]) == (
        job_id,
        "UploadExpired",
        "default",
    )


def test_a_job_its_owner_deletes_before_it_ends_counts_as_cancelled(metrics_file, client, aws):
    job_id = json.loads(client.http.post("/video/uploads").body)["job_id"]
    assert json.loads(client.http.delete(f"/video/{job_id}").body)["status"] == "cancelled"
    (line,) = named(emf_lines(metrics_file), "JobsCancelled")
    assert (line["job_id"], line["tenant"], line["JobsCancelled"]) == (job_id, "default", 1)
