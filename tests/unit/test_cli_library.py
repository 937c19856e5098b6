"""``video-jobs list`` and ``video-jobs delete``: what they ask the API, what they print."""

from __future__ import annotations

import json

import responses
from click.testing import CliRunner

from video_jobs_cli.commands import cli
from video_jobs_cli.library import jobs_lines

FAILED = {
    "job_id": "0791cd2d-b316-4f85-85f4-cdcb59441b41", "status": "failed", "progress": 1.0,
    "pipeline_id": "yolo_ocr", "created_at": "2026-11-28T18:43:39.679Z",
    "updated_at": "2026-11-28T18:43:54.857Z",
    "error_message": "the file has no video track (audio only?)\n" + "x" * 100,
}  # fmt: skip
DONE = {
    "job_id": "fa68994d-cc4c-4cb3-8deb-57384dd81049", "status": "completed", "progress": 1.0,
    "pipeline_id": "shots", "created_at": "2026-11-28T18:42:58.922Z",
    "updated_at": "2026-11-28T18:43:09.094Z",
}  # fmt: skip
JOB = DONE["job_id"]


def run(*args: str):
    return CliRunner().invoke(cli, ["--api", "http://api.test", *args])


@responses.activate
def test_list_asks_with_the_filters_and_prints_a_table_and_where_more_are():
    query = {"limit": "2", "status": "failed", "pipeline_id": "yolo_ocr", "next_token": "t1"}
    responses.get(
        "http://api.test/video/jobs", json={"jobs": [FAILED, DONE], "next_token": "t2"},
        match=[responses.matchers.query_param_matcher(query)],
    )  # fmt: skip
    result = CliRunner().invoke(cli, ["--api", "http://api.test", "list", "--limit", "2",
                                      "--status", "failed", "--pipeline", "yolo_ocr",
                                      "--next-token", "t1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["job", "status", "progress", "pipeline", "created", "error"]
    assert lines[1].split()[:5] == [FAILED["job_id"], "failed", "100%", "yolo_ocr",
                                    FAILED["created_at"]]  # fmt: skip
    assert lines[1].endswith("...") and len(lines) == 3 and lines[2].split()[1] == "completed"
    assert "more: video-jobs list --next-token t2" in result.stderr


@responses.activate
def test_list_json_prints_the_answer_and_the_default_page_is_twenty():
    responses.get("http://api.test/video/jobs", json={"jobs": [DONE]},
                  match=[responses.matchers.query_param_matcher({"limit": "20"})])  # fmt: skip
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"jobs": [DONE]}


def test_an_empty_list_says_so():
    assert jobs_lines([]) == ["no jobs"]


def test_bad_list_options_are_usage_errors_before_any_request():
    for args in (["--status", "done"], ["--limit", "0"], ["--limit", "101"], ["--limit", "x"]):
        result = run("list", *args)
        assert result.exit_code == 2, (args, result.output)


@responses.activate
def test_an_api_answer_without_jobs_is_one_line_error():
    responses.get("http://api.test/video/jobs", json={"items": []})
    result = run("list")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output


@responses.activate
def test_delete_says_what_was_done():
    responses.delete(f"http://api.test/video/{JOB}",
                     json={"job_id": JOB, "status": "cancelled", "deleted": False})  # fmt: skip
    responses.delete(f"http://api.test/video/{JOB}",
                     json={"job_id": JOB, "status": "cancelled", "deleted": True})  # fmt: skip
    first, second = run("delete", JOB), run("delete", JOB)
    assert first.stdout == f"{JOB}  cancelled (delete it again to remove it)\n"
    assert second.stdout == f"{JOB}  deleted (it was cancelled)\n"


@responses.activate
def test_a_delete_answer_whose_deleted_is_not_true_or_false_is_one_line_error():
    responses.delete(f"http://api.test/video/{JOB}",
                     json={"job_id": JOB, "status": "completed", "deleted": 1})  # fmt: skip
    result = run("delete", JOB)
    assert result.exit_code == 1
    assert result.stderr == "Error: unusable answer from the API: 'deleted' is not true or false\n"


@responses.activate
def test_deleting_an_unknown_job_is_one_line_error():
    missing = {"code": "JobNotFound", "message": f"no job with id '{JOB}'"}
    responses.delete(f"http://api.test/video/{JOB}", status=404, json=missing)
    result = run("delete", JOB)
    assert result.exit_code == 1
    assert result.stderr == f"Error: unknown job: no job with id '{JOB}'\n"


@responses.activate
def test_waiting_on_a_cancelled_job_ends_with_an_error():
    responses.get(f"http://api.test/video/status/{JOB}",
                  json={"job_id": JOB, "status": "cancelled", "progress": 1.0})  # fmt: skip
    result = run("wait", JOB, "--timeout", "5")
    assert result.exit_code == 1
    assert result.stderr.endswith(f"Error: job {JOB} was cancelled (deleted by its owner)\n")
