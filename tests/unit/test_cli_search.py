"""``video-jobs search``: what it asks the API, what it prints."""

from __future__ import annotations

import json

import responses
from click.testing import CliRunner
from responses import matchers

from video_jobs_cli.commands import cli
from video_jobs_cli.library import hits_lines

HIT = {
    "job_id": "fa68994d-cc4c-4cb3-8deb-57384dd81049",
    "pipeline_id": "yolo_ocr",
    "created_at": "2026-11-28T18:42:58.922Z",
    "score": 8.0,
    "ranges": [{"start_ms": 1000, "end_ms": 64500, "text": ["exit"], "labels": ["Car"]}],
}


def run(*args: str):
    return CliRunner().invoke(cli, ["--api", "http://api.test", *args])


@responses.activate
def test_search_sends_text_labels_and_options_and_prints_hits_and_ranges():
    query = {
        "text": "EXIT",
        "label": ["car", "person"],
        "within_ms": "500",
        "min_confidence": "0.5",
        "limit": "5",
    }
    responses.get(
        "http://api.test/video/search",
        json={"hits": [HIT], "next_token": "t2"},
        match=[matchers.query_param_matcher(query)],
    )
    result = run(
        "search",
        "EXIT",
        "--label",
        "car",
        "--label",
        "person",
        "--within-ms",
        "500",
        "--min-confidence",
        "0.5",
        "--limit",
        "5",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{HIT['job_id']}  score 8.0  yolo_ocr  2026-11-28T18:42:58.922Z",
        '  0:00:01.000-0:01:04.500  "exit", Car',
    ]
    assert "more: add --next-token t2" in result.stderr


@responses.activate
def test_search_json_prints_the_answer_and_labels_alone_are_a_search():
    responses.get(
        "http://api.test/video/search",
        json={"hits": []},
        match=[matchers.query_param_matcher({"label": "dog", "limit": "20"})],
    )
    result = run("search", "--label", "dog", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"hits": []}
    assert hits_lines([]) == ["no videos found"]


def test_bad_search_arguments_are_usage_errors_before_any_request():
    for args in (
        [],
        ["x", "--limit", "0"],
        ["x", "--within-ms", "-1"],
        ["x", "--min-confidence", "50"],
        ["x", "--min-confidence", "nan"],
    ):
        result = run("search", *args)
        assert result.exit_code == 2, (args, result.output)


@responses.activate
def test_an_unusable_answer_is_a_one_line_error():
    responses.get("http://api.test/video/search", json={"hits": [{"job_id": "x"}]})
    result = run("search", "exit")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
