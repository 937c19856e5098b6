"""The video-jobs command line, without a stack: reading results, options, errors, paging."""

from __future__ import annotations

import io
import json

import pytest
import responses
from click.testing import CliRunner

from tests.support.servers import free_port
from tests.support.stub_api import Exchange, stub_api
from video_jobs_cli.api import Api
from video_jobs_cli.commands import cli
from video_jobs_cli.report import CSV_HEADER, object_segments, summary_lines, text_spans, write_csv

# segments of the shots pipeline on scripts/cuts_clip.py's clip, cut to three shots
SHOTS = [
    {"index": 0, "start_frame": 0, "end_frame": 59, "start_ms": 0, "end_ms": 2400,
     "confidence": 1.0},
    {"index": 1, "start_frame": 60, "end_frame": 178, "start_ms": 2400, "end_ms": 7160,
     "confidence": 0.8089},
    {"index": 2, "start_frame": 179, "end_frame": 379, "start_ms": 7160, "end_ms": 15200,
     "confidence": 1.0},
]  # fmt: skip
CUES = [
    {"type": "Content", "start_frame": 0, "end_frame": 234, "start_ms": 0, "end_ms": 9400,
     "confidence": 1.0},
    {"type": "BlackFrames", "start_frame": 235, "end_frame": 259, "start_ms": 9400,
     "end_ms": 10400, "confidence": 1.0},
    {"type": "Content", "start_frame": 260, "end_frame": 379, "start_ms": 10400,
     "end_ms": 15200, "confidence": 1.0},
]  # fmt: skip
SHOTS_DOCUMENT = {
    "schema_version": 2, "pipeline_id": "shots", "video": {"duration_ms": 15200}, "frames": [],
    "segments": {"objects": [], "text": [], "shots": SHOTS, "technical_cues": CUES},
    "summary": {"objects": {}, "text": []},
}  # fmt: skip

POLYGON = [[0.1, 0.2], [0.3, 0.2], [0.3, 0.25], [0.1, 0.25]]
FRAMES = [
    {"timestamp_ms": 0, "frame_index": 0,
     "objects": [{"label": "dog", "class_id": 16, "confidence": 0.8,
                  "box": {"x": 0.4, "y": 0.5, "w": 0.2, "h": 0.3}}],
     "text": [{"text": "SAM", "confidence": 0.98, "polygon": POLYGON}]},
    {"timestamp_ms": 1001, "frame_index": 30, "objects": [], "text": []},
]  # fmt: skip
SCHEMA_1 = {
    "schema_version": 1, "video": {"duration_ms": 2000}, "frames": FRAMES,
    "summary": {"objects": {"dog": {"frames": 1, "max_confidence": 0.8, "first_ms": 0,
                                    "last_ms": 0}},
                "text": [{"text": "SAM", "frames": 1, "best_confidence": 0.98, "first_ms": 0,
                          "last_ms": 0}]},
}  # fmt: skip


def schema_2() -> dict:
    frames = json.loads(json.dumps(FRAMES))
    frames[0]["objects"][0]["track_id"] = 7
    segments = {
        "objects": [{"label": "dog", "start_ms": 0, "end_ms": 0, "frames": 1,
                     "max_confidence": 0.8},
                    {"label": "dog", "start_ms": 5000, "end_ms": 6000, "frames": 2,
                     "max_confidence": 0.7}],
        "text": [{"text": "SAM", "start_ms": 0, "end_ms": 0, "frames": 1,
                  "max_confidence": 0.98, "polygon": POLYGON}],
    }  # fmt: skip
    return {**SCHEMA_1, "schema_version": 2, "frames": frames, "segments": segments}


def test_schema_1_segments_come_from_the_summary():
    assert object_segments(SCHEMA_1) == [
        {"label": "dog", "start_ms": 0, "end_ms": 0, "frames": 1, "max_confidence": 0.8}
    ]
    assert text_spans(SCHEMA_1)[0]["max_confidence"] == 0.98


def test_schema_2_segments_are_used_as_they_are():
    results = schema_2()
    assert object_segments(results) == results["segments"]["objects"]
    assert summary_lines(results) == [
        "objects (1 labels):",
        "  dog  0.0-0.0 s, 5.0-6.0 s",
        "text (1 spans):",
        "  0.0-0.0 s  'SAM'",
    ]


@pytest.mark.parametrize("results, track", [(SCHEMA_1, ""), (schema_2(), "7")])
def test_csv_has_one_row_per_object_and_line(results, track):
    out = io.StringIO()
    assert write_csv(results, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert lines[0] == (
        "timestamp_ms,kind,label,text,confidence,track_id,x,y,w,h,end_ms,start_frame,end_frame"
    )
    assert lines[1] == f"0,object,dog,,0.8,{track},0.4,0.5,0.2,0.3,,,"
    assert lines[2] == "0,text,,SAM,0.98,,0.1,0.2,0.2,0.05,,,"


def test_csv_has_one_row_per_shot_and_per_cue():
    out = io.StringIO()
    assert write_csv(SHOTS_DOCUMENT, out) == 6
    assert out.getvalue().splitlines()[1:] == [
        "0,shot,0,,1.0,,,,,,2400,0,59",
        "2400,shot,1,,0.8089,,,,,,7160,60,178",
        "7160,shot,2,,1.0,,,,,,15200,179,379",
        "0,cue,Content,,1.0,,,,,,9400,0,234",
        "9400,cue,BlackFrames,,1.0,,,,,,10400,235,259",
        "10400,cue,Content,,1.0,,,,,,15200,260,379",
    ]


def test_a_shots_document_is_summed_up_as_a_table_of_shots_and_one_of_cues():
    assert summary_lines(SHOTS_DOCUMENT) == [
        "shots (3):",
        "  #  time (s)    frames   confidence",
        "  0  0.00-2.40   0-59     1.00",
        "  1  2.40-7.16   60-178   0.81",
        "  2  7.16-15.20  179-379  1.00",
        "technical cues (3):",
        "  type         time (s)     frames",
        "  Content      0.00-9.40    0-234",
        "  BlackFrames  9.40-10.40   235-259",
        "  Content      10.40-15.20  260-379",
    ]
    empty = {**SHOTS_DOCUMENT, "segments": {"objects": [], "text": [], "shots": [],
                                           "technical_cues": []}}  # fmt: skip
    assert summary_lines(empty) == ["shots: none", "technical cues: none"]


def test_shots_follow_the_labels_when_a_document_has_both():
    results = schema_2()
    results["segments"] = {**results["segments"], "shots": SHOTS[:1], "technical_cues": []}
    lines = summary_lines(results)
    assert lines[:4] == summary_lines(schema_2())  # a document without shots: as before
    assert lines[4:] == ["shots (1):", "  #  time (s)   frames  confidence",
                         "  0  0.00-2.40  0-59    1.00", "technical cues: none"]  # fmt: skip


@responses.activate
def test_results_follow_next_token_and_send_the_token(monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_TOKEN", "s3cret")
    url = "http://api.test/video/results/j1"
    pages = [
        {"job_id": "j1", "results": {"frames": [{"timestamp_ms": 0}]}, "next_token": "1"},
        {"job_id": "j1", "results": {"frames": [{"timestamp_ms": 1}]}, "next_token": "2"},
        {"job_id": "j1", "results": {"frames": [{"timestamp_ms": 2}]}},
    ]
    for token, page in zip([None, "1", "2"], pages, strict=True):
        query = [] if token is None else [responses.matchers.query_param_matcher(
            {"next_token": token})]  # fmt: skip
        responses.get(url, json=page, match=query)
    body = Api.from_env("http://api.test/").results("j1")
    assert [f["timestamp_ms"] for f in body["results"]["frames"]] == [0, 1, 2]
    assert "next_token" not in body
    assert all(c.request.headers["Authorization"] == "Bearer s3cret" for c in responses.calls)


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_unreachable_api_is_one_line_and_exit_1():
    api = f"http://127.0.0.1:{free_port()}"
    result = run("--api", api, "status", "some-job")
    assert (result.exit_code, result.output) == (
        1,
        f"Error: the API is not reachable at {api} (is it running?)\n",
    )


@responses.activate
def test_job_options_become_query_parameters(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 10)
    responses.post(
        "http://api.test/video/submit",
        json={"job_id": "j1", "status": "pending"}, status=202,
        match=[responses.matchers.query_param_matcher(
            {"sample_fps": "2", "pipeline_id": "yolo_ocr_fast", "future_option": "a=b"})],
    )  # fmt: skip
    result = run("--api", "http://api.test", "submit", str(clip), "--sample-fps", "2",
                 "--pipeline", "yolo_ocr_fast", "--option", "future_option=a=b")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "j1\n"
    assert run("submit", str(clip), "--option", "novalue").exit_code == 2


@responses.activate
def test_black_frame_options_become_query_parameters(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 10)
    responses.post(
        "http://api.test/video/submit",
        json={"job_id": "j1", "status": "pending"}, status=202,
        match=[responses.matchers.query_param_matcher(
            {"pipeline_id": "shots", "black_max_pixel_threshold": "0.1234567",
             "black_min_coverage_percentage": "100.0"})],
    )  # fmt: skip
    result = run("--api", "http://api.test", "submit", str(clip), "--pipeline", "shots",
                 "--black-max-pixel-threshold", "0.1234567",
                 "--black-min-coverage-percentage", "100")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run("submit", str(tmp_path)).exit_code == 2  # a directory: refused before any request


@responses.activate
def test_detector_size_becomes_its_query_parameter_and_only_416_or_608_is_taken(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 10)
    responses.post(
        "http://api.test/video/submit",
        json={"job_id": "j1", "status": "pending"}, status=202,
        match=[responses.matchers.query_param_matcher({"detector_size": "608"})],
    )  # fmt: skip
    result = run("--api", "http://api.test", "submit", str(clip), "--detector-size", "608")
    assert (result.exit_code, result.output) == (0, "j1\n")
    for bad in ("500", "608.0", "abc"):
        refused = run("--api", "http://api.test", "submit", str(clip), "--detector-size", bad)
        assert refused.exit_code == 2 and "'416', '608'" in refused.output, refused.output
    assert len(responses.calls) == 1  # nothing sent for a refused value


@responses.activate
def test_api_errors_are_one_line(monkeypatch):
    monkeypatch.setenv("VIDEO_JOBS_API", "http://api.test")
    responses.get("http://api.test/video/status/j1", json={"job_id": "j1", "status": "failed",
                  "progress": 1.0, "error_message": "the file has no video track"})  # fmt: skip
    responses.get("http://api.test/video/results/j2", status=502, body="<html>bad gateway")
    failed = run("status", "j1")
    assert (failed.exit_code, failed.output) == (
        1,
        "Error: job j1 failed: the file has no video track\n",
    )
    broken = run("results", "j2")
    assert (broken.exit_code, broken.output) == (
        1,
        "Error: unexpected answer from the API: HTTP 502\n",
    )


def test_submit_wait_on_the_shots_pipeline_prints_its_shots_and_cues(tmp_path):
    """Over real HTTP: the query names the pipeline, the summary is the shots' tables."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 10)
    job = {"job_id": "j1", "status": "completed", "progress": 1.0}

    def respond(exchange: Exchange) -> None:
        if exchange.method == "POST":
            exchange.send(202, {**job, "status": "pending"})
        elif exchange.path.startswith("/video/status/j1"):
            exchange.send(200, job)
        else:
            exchange.send(200, {**job, "results": SHOTS_DOCUMENT})

    with stub_api(respond) as api:
        result = run("--api", api.url, "submit", str(clip), "--pipeline", "shots", "--wait",
                     "--black-min-coverage-percentage", "95")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["j1", *summary_lines(SHOTS_DOCUMENT)]
    assert "shots (3):" in result.stdout and "BlackFrames  9.40-10.40" in result.stdout
    method, path, _ = api.requests[0]
    assert (method, path) == (
        "POST", "/video/submit?pipeline_id=shots&black_min_coverage_percentage=95.0")  # fmt: skip
