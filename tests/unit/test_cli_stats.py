"""``video-jobs stats``: the window it asks for, the table it prints, its errors."""

from __future__ import annotations

import json

import responses
from click.testing import CliRunner

from video_jobs_cli.commands import cli
from video_jobs_cli.stats import stats_lines

STATS = {
    "minutes": 30,
    "tenant": None,
    "metrics": {
        "JobsFailed": {"unit": "Count", "count": 3, "sum": 3,
                       "by": {"ErrorCode": {"InputMissing": 2, "InternalError": 1}}},
        "QueueWaitSeconds": {"unit": "Seconds", "count": 2, "sum": 0.5, "p50": 0.2,
                             "p95": 0.3, "max": 0.3},
    },
}  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(cli, ["--api", "http://api.test", *args])


@responses.activate
def test_stats_asks_for_the_window_and_prints_one_row_per_metric_and_split():
    responses.get(
        "http://api.test/video/stats", json=STATS,
        match=[responses.matchers.query_param_matcher({"minutes": "30"})],
    )  # fmt: skip
    result = run("stats", "--minutes", "30")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "last 30 minutes (every tenant)",
        "metric                     count  sum  p50  p95  max",
        "JobsFailed                     3    3",
        "  ErrorCode=InputMissing            2",
        "  ErrorCode=InternalError           1",
        "QueueWaitSeconds (s)           2  0.5  0.2  0.3  0.3",
    ]
    as_json = run("stats", "--minutes", "30", "--json")
    assert json.loads(as_json.output) == STATS


def test_a_tenant_and_an_empty_window_are_said_so():
    assert stats_lines({"minutes": 60, "tenant": "acme", "metrics": {}}) == [
        "last 60 minutes (tenant acme)",
        "no measurements in this window",
    ]


@responses.activate
def test_bad_windows_are_usage_errors_and_api_errors_one_line():
    assert run("stats", "--minutes", "0").exit_code == 2
    assert run("stats", "--minutes", "x").exit_code == 2
    unavailable = {"code": "StatsUnavailable", "message": "this deployment keeps no stats"}
    responses.get("http://api.test/video/stats", status=404, json=unavailable)
    result = run("stats")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "keeps no stats" in result.output
    assert len(result.output.splitlines()) == 1
    assert len(responses.calls) == 1  # the usage errors sent nothing
