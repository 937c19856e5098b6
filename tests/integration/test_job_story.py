"""A job's story in the logs: every line of one job, from the API and the analyzer alike,
names the job, its tenant, a stage and the request it was written in, and its metric lines
name the same request (the app through chalice's test client, moto in process)."""

import json
import logging

import pytest

from chalicelib.logs import JsonFormatter
from tests.support.pipelines import FakePipelines

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793"


class Lines(logging.Handler):
    """Formats each record as it is logged, as Lambda's handler and a stream handler do."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO)  # whatever an earlier test left the root logger at
    handler, root = Lines(), logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def test_every_line_of_a_job_names_it_its_tenant_stage_and_request(
    client, aws, mp4_bytes, lines, monkeypatch, capsys
):
    """The API's line and the analyzer's (claim, slice, completion) with their request ids;
    the API's carries the caller's X-Ray trace header too."""
    monkeypatch.setattr(aws.worker, "pipelines", FakePipelines())
    answer = client.http.post(
        "/video/submit", body=mp4_bytes,
        headers={"Content-Type": "video/mp4", "X-Amzn-Trace-Id": TRACE},
    )  # fmt: skip
    job_id = json.loads(answer.body)["job_id"]
    client.http.get(f"/video/status/{job_id}")  # logs nothing of its own
    event = client.events.generate_sqs_event([json.dumps({"job_id": job_id})], "video-jobs-queue")
    client.lambda_.invoke("analyze_video", event)

    story = [line for line in lines if line.get("job_id") == job_id]
    assert story, f"no line of the job: root logger at {logging.getLogger().level}, {lines}"
    for line in story:
        assert line["tenant"] == "default" and line["stage"] and line["request_id"], line
    api = [line for line in story if line["request_id"] == story[0]["request_id"]]
    # the analyzer's own lines (botocore may add one as the search index's first client starts)
    analyzer = [line for line in story[len(api) :] if line["logger"].startswith("chalicelib.")]
    assert [line["logger"] for line in api] == ["chalicelib.intake.submissions"]
    assert api[0]["trace_id"] == TRACE and api[0]["stage"] == "pending"  # the line's own stage
    assert len(analyzer) == 5 and len({line["request_id"] for line in analyzer}) == 1
    stages = ["running", "running", "analyze", "completed", "completed"]  # 3rd: search index
    assert [line["stage"] for line in analyzer] == stages
    assert analyzer[2]["logger"] == "chalicelib.search.service"
    metrics = [json.loads(text) for text in capsys.readouterr().out.splitlines() if "_aws" in text]
    submitted_metric = [m for m in metrics if "JobsSubmitted" in m]
    assert [m["request_id"] for m in submitted_metric] == [api[0]["request_id"]]
    completed_metric = [m for m in metrics if "JobsCompleted" in m]
    assert [m["request_id"] for m in completed_metric] == [analyzer[0]["request_id"]]


def test_a_route_naming_a_malformed_id_logs_it_as_no_job(client, aws, lines, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(aws.queries, "status", broken)
    for path in ("/video/status/not-a-job", "/video/status/" + "0" * 36):
        assert client.http.get(path).status_code == 500
    assert len(lines) == 2 and all(line["stage"] == "job_status" for line in lines)
    assert all("job_id" not in line and line["request_id"] for line in lines)
    client.http.get("/video/status/0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11")
    assert lines[-1]["job_id"] == "0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11"  # a well-formed id


def test_a_caller_s_trace_header_is_kept_short(client, aws, lines, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(aws.queries, "status", broken)
    headers = {"X-Amzn-Trace-Id": "Root=" + "x" * 5000}
    client.http.get("/video/status/0b4c6a59-8a43-4d4a-9f0e-2a5b9f8a0c11", headers=headers)
    (line,) = lines
    assert line["trace_id"] == ("Root=" + "x" * 5000)[:256]
