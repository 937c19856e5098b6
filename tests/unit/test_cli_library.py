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
    "error_code": "InvalidVideo",
}  # fmt: skip
DONE = {
    "job_id": "fa68994d-cc4c-4cb3-8deb-57384dd81049", "status": "completed", "progress": 1.0,
    "pipeline_id": "shots", "created_at": "2026-11-28T18:42:58.922Z",
    "updated_at": "2026-11-28T18:43:09.094Z",
    "source_name": "harbour tour, the long\nversion from the drone.mp4", "duration_s": 75.4,
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
    header = ["job", "status", "progress", "pipeline", "created", "name", "duration", "error"]
    assert lines[0].split() == header
    assert lines[1].split()[:7] == [FAILED["job_id"], "failed", "100%", "yolo_ocr",
                                    FAILED["created_at"], "-", "-"]  # fmt: skip
    error = lines[1][lines[0].index("error") :]
    assert error.startswith("InvalidVideo: the file has no video track") and error.endswith("...")
    assert len(error) == 60 and len(lines) == 3 and lines[2].split()[1] == "completed"
    name = lines[2][lines[0].index("name") : lines[0].index("duration")].rstrip()
    assert name == "harbour tour, the long vers..."  # one line, 30 characters at most
    assert lines[2][lines[0].index("duration") :].strip() == "1:15"
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
def test_library_prints_a_link_with_a_library_token_when_a_key_is_used(monkeypatch):
    url = "/video/library?token=lt1.1780000600.acme." + "0" * 32
    responses.post("http://api.test/video/library/link",
                   json={"url": url, "expires_at": "2026-05-28T20:36:40Z"})  # fmt: skip
    monkeypatch.setenv("VIDEO_JOBS_TOKEN", "a-key")
    result = run("library")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"http://api.test{url}"
    assert responses.calls[0].request.headers["Authorization"] == "Bearer a-key"


def test_library_without_a_key_prints_the_plain_page(monkeypatch):
    monkeypatch.delenv("VIDEO_JOBS_TOKEN", raising=False)
    result = run("library")
    assert (result.exit_code, result.stdout.strip()) == (0, "http://api.test/video/library")


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
